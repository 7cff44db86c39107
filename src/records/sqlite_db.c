#include "records/sqlite_db.h"

#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "records/metadata_json.h"
#include "records/sqlite_internal.h"
#include "util/clock.h"
#include "util/fileio.h"

#ifndef SQLITE_OPEN_EXRESCODE /* SQLite < 3.37: extended codes are masked anyway */
#define SQLITE_OPEN_EXRESCODE 0
#endif

/* Long enough for another station's transaction (milliseconds of work)
 * and a checkpoint; short enough that a stuck writer shows up. */
#define BUSY_TIMEOUT_MS 10000

/* "RPDB" in the header: an rpiprov database, whatever else is in it.
 * Files made before it existed have user_version >= 1 and our tables. */
#define APPLICATION_ID 0x52504442

/* migrations[v] takes a database from user_version v to v + 1. */
static const char *const migrations[RP_DB_SCHEMA_VERSION] = {
	"CREATE TABLE boards ("
	" serial TEXT PRIMARY KEY NOT NULL,"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" last_result TEXT NOT NULL,"
	" last_error TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" successes INTEGER NOT NULL DEFAULT 0,"
	" mac TEXT,"
	" soc TEXT,"
	" eeprom_hash TEXT,"
	" last_port TEXT,"
	" last_station TEXT);"
	"CREATE TABLE attempts ("
	" id INTEGER PRIMARY KEY,"
	" run_id TEXT NOT NULL,"
	" attempt_id INTEGER NOT NULL,"
	" station TEXT NOT NULL,"
	" serial TEXT NOT NULL,"
	" port TEXT NOT NULL,"
	" soc TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" start_ms INTEGER NOT NULL,"
	" end_ms INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL,"
	" stage1_ms INTEGER NOT NULL,"
	" reenum_ms INTEGER NOT NULL,"
	" serve_ms INTEGER NOT NULL,"
	" verify_ms INTEGER NOT NULL,"
	" result TEXT NOT NULL,"
	" error_code TEXT,"
	" error TEXT,"
	" served_sha256 TEXT,"
	" eeprom_hash TEXT,"
	" bytes_served INTEGER NOT NULL,"
	" files_served INTEGER NOT NULL,"
	" metadata TEXT NOT NULL,"
	" metadata_dropped INTEGER NOT NULL,"
	" UNIQUE (run_id, attempt_id));"
	"CREATE INDEX attempts_by_end ON attempts(end_ms);"
	"CREATE INDEX attempts_by_serial ON attempts(serial);",
	/* 2: a simulated board's attempt says so in a column of its own, so
	 * reports leave it out (every earlier attempt was a real board's, or
	 * labelled only by its "synthetic-" run id). */
	"ALTER TABLE attempts ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;"
	"UPDATE attempts SET simulated = 1 WHERE run_id LIKE 'synthetic-%';",
};

/* The phase columns, in enum order: adding a phase needs a migration. */
_Static_assert(RP_PHASE_COUNT == 4, "new phase: add a column and a schema migration");

static const char insert_attempt_sql[] =
	"INSERT OR IGNORE INTO attempts (run_id, attempt_id, station, serial, port, soc, pid,"
	" start_ms, end_ms, duration_ms, stage1_ms, reenum_ms, serve_ms, verify_ms, result,"
	" error_code, error, served_sha256, eeprom_hash, bytes_served, files_served, metadata,"
	" metadata_dropped, simulated)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	" ?19, ?20, ?21, ?22, ?23, ?24)";

/* Attempts may be added out of order (two stations): "last" fields follow
 * the attempt that ended last. */
static const char upsert_board_sql[] =
	"INSERT INTO boards (serial, first_seen_ms, last_seen_ms, last_result, last_error,"
	" attempts, successes, mac, soc, eeprom_hash, last_port, last_station)"
	" VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11)"
	" ON CONFLICT (serial) DO UPDATE SET"
	" first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
	" attempts = attempts + 1,"
	" successes = successes + excluded.successes,"
	" mac = coalesce(excluded.mac, mac),"
	" soc = coalesce(excluded.soc, soc),"
	" eeprom_hash = CASE WHEN excluded.last_seen_ms >= last_seen_ms"
	"   THEN coalesce(excluded.eeprom_hash, eeprom_hash) ELSE eeprom_hash END,"
	" last_result = CASE WHEN excluded.last_seen_ms >= last_seen_ms"
	"   THEN excluded.last_result ELSE last_result END,"
	" last_error = CASE WHEN excluded.last_seen_ms >= last_seen_ms"
	"   THEN excluded.last_error ELSE last_error END,"
	" last_port = CASE WHEN excluded.last_seen_ms >= last_seen_ms"
	"   THEN excluded.last_port ELSE last_port END,"
	" last_station = CASE WHEN excluded.last_seen_ms >= last_seen_ms"
	"   THEN excluded.last_station ELSE last_station END,"
	" last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)";

int rp_db_sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return RP_ERR_BUSY;
	case SQLITE_NOMEM:
		return RP_ERR_NOMEM;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return RP_ERR_ACCESS;
	case SQLITE_CANTOPEN:
		return RP_ERR_NOT_FOUND;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return RP_ERR_FORMAT;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	default:
		return RP_ERR_IO;
	}
}

static int db_fail(struct rp_db *db, struct rp_diag *d, int rc, const char *what)
{
	return rp_diag_set(d, rp_db_sqlite_code(rc), "%s: %s: %s", db->path, what,
			   db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
}

static int exec_sql(struct rp_db *db, const char *sql, const char *what, struct rp_diag *d)
{
	char *err = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		rc = rp_diag_set(d, rp_db_sqlite_code(rc), "%s: %s: %s", db->path, what,
				 err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return rc;
	}
	return RP_OK;
}

static int user_version(struct rp_db *db, int *version, struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, d, rc, "cannot read the schema version");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(db, d, rc, "cannot read the schema version");
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return RP_OK;
}

/* BEGIN IMMEDIATE can fail with SQLITE_BUSY without waiting when another
 * connection is recovering the WAL: retry until the busy timeout. */
static int begin_immediate(struct rp_db *db, struct rp_diag *d)
{
	uint64_t deadline = rp_now_ms() + (db->busy_ms ? db->busy_ms : BUSY_TIMEOUT_MS);
	int rc;

	for (;;) {
		rc = db->begin ? sqlite3_step(db->begin) : sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (db->begin)
			sqlite3_reset(db->begin);
		if (rc == SQLITE_DONE || rc == SQLITE_OK)
			return RP_OK;
		if ((rc & 0xff) != SQLITE_BUSY || rp_now_ms() >= deadline)
			return db_fail(db, d, rc, "cannot start a transaction");
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

/* Switching a new database to WAL needs an exclusive lock, and SQLite
 * answers SQLITE_BUSY at once (without the busy handler) while another
 * process is creating or recovering the same file: retry until the busy
 * timeout, as for BEGIN IMMEDIATE. */
static int enable_wal(struct rp_db *db, struct rp_diag *d)
{
	uint64_t deadline = rp_now_ms() + BUSY_TIMEOUT_MS;

	for (;;) {
		char *err = NULL;
		int rc = sqlite3_exec(db->h, "PRAGMA journal_mode = WAL", NULL, NULL, &err);
		if (rc == SQLITE_OK)
			return RP_OK;
		if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
		    rp_now_ms() >= deadline) {
			rc = rp_diag_set(d, rp_db_sqlite_code(rc), "%s: cannot enable WAL mode: %s", db->path,
					 err ? err : sqlite3_errstr(rc));
			sqlite3_free(err);
			return rc;
		}
		sqlite3_free(err);
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

static int int_query(struct rp_db *db, const char *sql, int *out, struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? RP_OK : db_fail(db, d, rc, "cannot read the database");
}

/* Someone else's SQLite file: tables but not ours, or another
 * application's id. We neither add tables to it nor read it as ours. */
static int refuse_foreign(struct rp_db *db, int version, struct rp_diag *d)
{
	int app = 0, tables = 0, ours = 0, ret;

	ret = int_query(db, "PRAGMA application_id", &app, d);
	if (ret == RP_OK)
		ret = int_query(db, "SELECT count(*) FROM sqlite_master", &tables, d);
	if (ret == RP_OK)
		ret = int_query(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				    " AND name IN ('attempts', 'boards')", &ours, d);
	if (ret < 0)
		return ret;
	if (app != APPLICATION_ID &&
	    (app != 0 || (version == 0 && tables > 0) || (version > 0 && ours < 2)))
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: not an rpiprov database (an SQLite file of something "
				   "else): rpiprov neither reads it nor adds its tables to it",
				   db->path);
	return RP_OK;
}

static int migrate(struct rp_db *db, struct rp_diag *d)
{
	int version, ret;

	ret = user_version(db, &version, d);
	if (ret == RP_OK)
		ret = refuse_foreign(db, version, d);
	if (ret < 0)
		return ret;
	if (version == RP_DB_SCHEMA_VERSION)
		return RP_OK;
	if (version > RP_DB_SCHEMA_VERSION)
		return rp_diag_set(d, RP_ERR_UNSUPPORTED,
				   "%s: database schema version %d is newer than this rpiprov "
				   "understands (%d): use a newer rpiprov",
				   db->path, version, RP_DB_SCHEMA_VERSION);
	ret = begin_immediate(db, d);
	if (ret < 0)
		return ret;
	/* Another process may have migrated while we waited for the lock. */
	ret = user_version(db, &version, d);
	if (ret == RP_OK)
		ret = refuse_foreign(db, version, d);
	if (ret == RP_OK && version == 0) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", APPLICATION_ID);
		ret = exec_sql(db, sql, "cannot create the schema", d);
	}
	for (; ret == RP_OK && version < RP_DB_SCHEMA_VERSION; version++) {
		char sql[64];
		ret = exec_sql(db, migrations[version], "cannot create or migrate the schema", d);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
		if (ret == RP_OK)
			ret = exec_sql(db, sql, "cannot set the schema version", d);
	}
	if (ret == RP_OK)
		return exec_sql(db, "COMMIT", "cannot commit the schema", d);
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static int prepare(struct rp_db *db, const char *sql, sqlite3_stmt **st, struct rp_diag *d)
{
	int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? RP_OK : db_fail(db, d, rc, "cannot prepare a statement");
}


/* Why a file could not be opened, in the words every command uses for
 * it: a directory we may not write is RP_ERR_ACCESS whether the file is a
 * report, a database or a spool. */
static int open_fail(struct rp_db *db, int rc, struct rp_diag *d)
{
	int e = db->h ? sqlite3_system_errno(db->h) : 0;
	int code = (rc & 0xff) == SQLITE_CANTOPEN && e ? rp_errno_to_error(e) : rp_db_sqlite_code(rc);

	return rp_diag_set(d, code, "%s: cannot open database: %s%s%s", db->path,
			   db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc), e ? ": " : "",
			   e ? strerror(e) : "");
}

/* A URI for path with the characters URIs give meaning to escaped. */
static char *file_uri(const char *path, const char *query)
{
	size_t n = strlen(path);
	char *u = malloc(3 * n + strlen(query) + 16), *p;

	if (!u)
		return NULL;
	p = u + sprintf(u, "file:");
	for (const char *s = path; *s; s++) {
		if (*s == '%' || *s == '?' || *s == '#')
			p += sprintf(p, "%%%02X", (unsigned char)*s);
		else
			*p++ = *s;
	}
	sprintf(p, "?%s", query);
	return u;
}

static bool exists_with(const char *path, const char *suffix)
{
	char p[4096];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p))
		return false;
	return lstat(p, &st) == 0;
}

static int copy_file(const char *from, const char *to, struct rp_diag *d)
{
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOCTTY), out = -1, ret = RP_OK;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot read: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		ret = rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot copy: %s", to, strerror(errno));
	while (ret == RP_OK && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t)n) != n)
			ret = rp_diag_set(d, RP_ERR_IO, "%s: cannot copy: %s", from, strerror(errno));
	}
	close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/* The database and its write-ahead log, copied into a private directory:
 * the log has content that is not in the main file yet, and SQLite cannot
 * read it without the -shm file it may not create beside them. */
static int open_snapshot(struct rp_db *db, int flags, struct rp_diag *d)
{
	const char *tmp = getenv("TMPDIR");
	char dir[1024], from[4096], to[1100];
	int ret, rc;

	snprintf(dir, sizeof(dir), "%s/rpiprov-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot make a temporary directory: %s",
				   dir, strerror(errno));
	db->snapshot_dir = strdup(dir);
	if (!db->snapshot_dir) {
		rmdir(dir);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	snprintf(to, sizeof(to), "%s/db", dir);
	ret = copy_file(db->path, to, d);
	snprintf(from, sizeof(from), "%s-wal", db->path);
	snprintf(to, sizeof(to), "%s/db-wal", dir);
	if (ret == RP_OK)
		ret = copy_file(from, to, d);
	if (ret < 0)
		return ret;
	snprintf(to, sizeof(to), "%s/db", dir);
	rc = sqlite3_open_v2(to, &db->h, flags, NULL);
	return rc == SQLITE_OK ? RP_OK : open_fail(db, rc, d);
}

/* Reports are read-only, and work for whoever may read the file, also
 * without write access to its directory; they never create a file beside
 * the database. With no write-ahead log (no writer has it open, every
 * change is in the main file) the file is opened as immutable; with a log
 * and its -shm (a writer is running, or was killed), as a normal reader;
 * with a log but no -shm, from a private copy of both. */
static int open_readonly(struct rp_db *db, struct rp_diag *d)
{
	const int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_READONLY;
	struct stat st;
	char *uri;
	int rc;

	if (stat(db->path, &st) < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open database: %s", db->path,
				   strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: not a database file", db->path);
	if (access(db->path, R_OK) < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open database: %s", db->path,
				   strerror(errno));
	if (exists_with(db->path, "-wal")) {
		if (!exists_with(db->path, "-shm"))
			return open_snapshot(db, flags, d);
		rc = sqlite3_open_v2(db->path, &db->h, flags, NULL);
	} else {
		uri = file_uri(db->path, "immutable=1");
		if (!uri)
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		rc = sqlite3_open_v2(uri, &db->h, flags | SQLITE_OPEN_URI, NULL);
		free(uri);
	}
	if (rc != SQLITE_OK)
		return open_fail(db, rc, d);
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	return RP_OK;
}

/* SQLite reports a directory we may not write as "unable to open" with
 * whatever errno its last fallback saw: ask the file system first, so the
 * cause reads (and exits) the same as for every other output. */
static int check_writable(const char *path, struct rp_diag *d)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (access(path, F_OK) == 0) {
		if (access(path, R_OK | W_OK) < 0)
			return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open database: %s", path,
					   strerror(errno));
	}
	/* The directory too: SQLite makes its -wal and -shm files there. */
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1,
		 slash ? path : ".");
	if (access(dir, W_OK | X_OK) < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot create database files in %s: %s",
				   path, dir, strerror(errno));
	return RP_OK;
}

/* A version 1 database read by `report` (which never migrates): the
 * simulated column as version 2 fills it, in a temporary view that
 * shadows the table (unqualified names look in temp first). */
static int view_v1(struct rp_db *db, struct rp_diag *d)
{
	int rc = sqlite3_exec(db->h, "CREATE TEMP VIEW attempts AS SELECT *,"
			      " run_id LIKE 'synthetic-%' AS simulated FROM main.attempts",
			      NULL, NULL, NULL);
	return rc == SQLITE_OK ? RP_OK : db_fail(db, d, rc, "cannot read a version 1 database");
}

int rp_db_open(const char *path, enum rp_db_mode mode, struct rp_db **out, struct rp_diag *d)
{
	struct rp_db *db;
	int rc, ret, flags, version;

	*out = NULL;
	if (!path || !*path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "database file name is empty");
	if (mode == RP_DB_READWRITE) {
		ret = rp_mkdir_parent(path, 0755, d);
		if (ret < 0)
			return ret;
	}
	db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	pthread_mutex_init(&db->lock, NULL);
	if (mode == RP_DB_READONLY) {
		ret = open_readonly(db, d);
		if (ret == RP_OK)
			ret = user_version(db, &version, d);
		if (ret == RP_OK)
			ret = refuse_foreign(db, version, d);
		if (ret == RP_OK && version == 1)
			ret = view_v1(db, d);
		else if (ret == RP_OK && version != RP_DB_SCHEMA_VERSION)
			ret = rp_diag_set(d, version == 0 ? RP_ERR_FORMAT : RP_ERR_UNSUPPORTED,
					  version == 0 ? "%s: not an rpiprov database (schema version %d)"
						       : "%s: database schema version %d, this rpiprov reads %d",
					  path, version, RP_DB_SCHEMA_VERSION);
		if (ret < 0) {
			rp_db_close(db);
			return ret;
		}
		*out = db;
		return RP_OK;
	}
	ret = check_writable(path, d);
	if (ret < 0) {
		rp_db_close(db);
		return ret;
	}
	flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = open_fail(db, rc, d);
		rp_db_close(db);
		return ret;
	}
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);

	/* WAL lets readers (reports) run while stations write; FULL sync makes
	 * a committed attempt survive a power cut. */
	ret = enable_wal(db, d);
	if (ret == RP_OK)
		ret = exec_sql(db, "PRAGMA synchronous = FULL", "cannot set synchronous mode", d);
	if (ret == RP_OK)
		ret = migrate(db, d);
	if (ret == RP_OK)
		ret = prepare(db, "BEGIN IMMEDIATE", &db->begin, d);
	if (ret == RP_OK)
		ret = prepare(db, "COMMIT", &db->commit, d);
	if (ret == RP_OK)
		ret = prepare(db, "ROLLBACK", &db->rollback, d);
	if (ret == RP_OK)
		ret = prepare(db, insert_attempt_sql, &db->insert_attempt, d);
	if (ret == RP_OK)
		ret = prepare(db, upsert_board_sql, &db->upsert_board, d);
	if (ret < 0) {
		rp_db_close(db);
		return ret;
	}
	*out = db;
	return RP_OK;
}

void rp_db_close(struct rp_db *db)
{
	if (!db)
		return;
	sqlite3_finalize(db->begin);
	sqlite3_finalize(db->commit);
	sqlite3_finalize(db->rollback);
	sqlite3_finalize(db->insert_attempt);
	sqlite3_finalize(db->upsert_board);
	if (db->h)
		sqlite3_close_v2(db->h);
	if (db->snapshot_dir) {
		char p[4096];
		static const char *const names[] = { "db", "db-wal", "db-shm", "db-journal" };
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", db->snapshot_dir, names[i]);
			unlink(p);
		}
		rmdir(db->snapshot_dir);
		free(db->snapshot_dir);
	}
	pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}

int rp_db_last_attempt_id(struct rp_db *db, const char *station, uint64_t *out, struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc, ret = RP_OK;

	*out = 0;
	pthread_mutex_lock(&db->lock);
	rc = sqlite3_prepare_v2(db->h, "SELECT coalesce(max(attempt_id), 0) FROM attempts WHERE station = ?1",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, station ? station : "", -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else
		ret = db_fail(db, d, rc, "cannot read the last attempt id");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

void rp_db_set_busy_timeout(struct rp_db *db, unsigned ms)
{
	db->busy_ms = ms;
	sqlite3_busy_timeout(db->h, (int)ms);
}

const char *rp_db_path(const struct rp_db *db)
{
	return db->path;
}

/* Bind a device-sourced fixed-size field, bounded, NULL when empty. */
static int bind_text(sqlite3_stmt *st, int i, const char *s, size_t cap, bool null_if_empty)
{
	size_t n = strnlen(s, cap);
	if (n == 0 && null_if_empty)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

#define BIND_FIELD(st, i, f, null_if_empty) bind_text((st), (i), (f), sizeof(f), (null_if_empty))

/* Chain binds: the first failure sticks in rc. */
#define B(x)                                 \
	do {                                 \
		if (rc == SQLITE_OK)         \
			rc = (x);            \
	} while (0)

static int bind_attempt(sqlite3_stmt *st, const struct rp_board_record *r,
			const struct rp_record_origin *o, const char *meta_json)
{
	int64_t duration = rp_record_duration_ms(r);
	int rc = SQLITE_OK;

	B(sqlite3_bind_text(st, 1, o && o->run_id ? o->run_id : "", -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_int64(st, 2, (sqlite3_int64)r->attempt_id));
	B(sqlite3_bind_text(st, 3, o && o->station ? o->station : "", -1, SQLITE_TRANSIENT));
	B(BIND_FIELD(st, 4, r->serial, false));
	B(BIND_FIELD(st, 5, r->port_path, false));
	B(BIND_FIELD(st, 6, r->soc, false));
	B(sqlite3_bind_int(st, 7, r->pid));
	B(sqlite3_bind_int64(st, 8, r->start_unix_ms));
	B(sqlite3_bind_int64(st, 9, r->end_unix_ms));
	B(sqlite3_bind_int64(st, 10, duration > 0 ? duration : 0));
	for (int p = 0; p < RP_PHASE_COUNT; p++)
		B(sqlite3_bind_int64(st, 11 + p, r->phase_ms[p]));
	B(sqlite3_bind_text(st, 15, rp_board_result_name(r->result), -1, SQLITE_STATIC));
	if (r->error_code)
		B(sqlite3_bind_text(st, 16, rp_error_name(r->error_code), -1, SQLITE_STATIC));
	else
		B(sqlite3_bind_null(st, 16));
	B(BIND_FIELD(st, 17, r->error, true));
	B(BIND_FIELD(st, 18, r->served_sha256, true));
	B(BIND_FIELD(st, 19, r->reported_hash, true));
	B(sqlite3_bind_int64(st, 20, (sqlite3_int64)r->bytes_served));
	B(sqlite3_bind_int64(st, 21, r->files_served));
	B(sqlite3_bind_text(st, 22, meta_json, -1, SQLITE_TRANSIENT));
	B(sqlite3_bind_int64(st, 23, r->meta_dropped));
	B(sqlite3_bind_int(st, 24, r->simulated));
	return rc;
}

static int bind_board(sqlite3_stmt *st, const struct rp_board_record *r,
		      const struct rp_record_origin *o)
{
	const char *mac = rp_board_record_meta(r, "MAC_ADDR");
	int rc = SQLITE_OK;

	B(BIND_FIELD(st, 1, r->serial, false));
	B(sqlite3_bind_int64(st, 2, r->start_unix_ms));
	B(sqlite3_bind_int64(st, 3, r->end_unix_ms));
	B(sqlite3_bind_text(st, 4, rp_board_result_name(r->result), -1, SQLITE_STATIC));
	B(BIND_FIELD(st, 5, r->error, true));
	B(sqlite3_bind_int(st, 6, r->result == RP_RESULT_OK));
	if (mac && *mac)
		B(bind_text(st, 7, mac, RP_META_VALUE_MAX, true));
	else
		B(sqlite3_bind_null(st, 7));
	B(BIND_FIELD(st, 8, r->soc, true));
	B(BIND_FIELD(st, 9, r->reported_hash, true));
	B(BIND_FIELD(st, 10, r->port_path, true));
	B(sqlite3_bind_text(st, 11, o && o->station ? o->station : "", -1, SQLITE_TRANSIENT));
	return rc;
}
#undef B

static int add_locked(struct rp_db *db, const struct rp_board_record *r,
		      const struct rp_record_origin *o, const char *meta_json, struct rp_diag *d)
{
	int rc, ret;

	ret = begin_immediate(db, d);
	if (ret < 0)
		return ret;
	rc = bind_attempt(db->insert_attempt, r, o, meta_json);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(db->insert_attempt);
	sqlite3_reset(db->insert_attempt);
	sqlite3_clear_bindings(db->insert_attempt);
	if (rc != SQLITE_DONE) {
		ret = db_fail(db, d, rc, "cannot insert the attempt");
		goto rollback;
	}
	/* Already recorded (a replay): leave the board's counters alone. A
	 * board that never told us its serial has no row in `boards`. */
	if (sqlite3_changes(db->h) == 1 && strnlen(r->serial, sizeof(r->serial)) > 0) {
		rc = bind_board(db->upsert_board, r, o);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(db->upsert_board);
		sqlite3_reset(db->upsert_board);
		sqlite3_clear_bindings(db->upsert_board);
		if (rc != SQLITE_DONE) {
			ret = db_fail(db, d, rc, "cannot update the board");
			goto rollback;
		}
	}
	rc = sqlite3_step(db->commit);
	sqlite3_reset(db->commit);
	if (rc != SQLITE_DONE) {
		ret = db_fail(db, d, rc, "cannot commit the attempt");
		goto rollback;
	}
	return RP_OK;
rollback:
	sqlite3_step(db->rollback);
	sqlite3_reset(db->rollback);
	return ret;
}

int rp_db_add_attempt(struct rp_db *db, const struct rp_board_record *r,
		      const struct rp_record_origin *origin, struct rp_diag *d)
{
	struct json_object *meta = rp_metadata_json_object(r);
	const char *meta_json;
	int ret;

	if (!meta)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", db->path);
	meta_json = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&db->lock);
	ret = meta_json ? add_locked(db, r, origin, meta_json, d)
			: rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", db->path);
	pthread_mutex_unlock(&db->lock);
	json_object_put(meta);
	if (ret < 0)
		rp_diag_prefix(d, "attempt %llu (board %s)", (unsigned long long)r->attempt_id,
			       r->serial[0] ? r->serial : r->port_path);
	return ret;
}
