#include "records/sqlite_db.h"

#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

/* The phase columns, in enum order: adding a phase needs a migration. */
_Static_assert(RP_PHASE_COUNT == 4, "new phase: add a column and a schema migration");

static const char insert_attempt_sql[] =
	"INSERT OR IGNORE INTO attempts (run_id, attempt_id, station, serial, port, soc, pid,"
	" start_ms, end_ms, duration_ms, stage1_ms, reenum_ms, serve_ms, verify_ms, result,"
	" error_code, error, served_sha256, eeprom_hash, bytes_served, files_served, metadata,"
	" metadata_dropped)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
	" ?19, ?20, ?21, ?22, ?23)";

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
	uint64_t deadline = rp_now_ms() + BUSY_TIMEOUT_MS;
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

static int migrate(struct rp_db *db, struct rp_diag *d)
{
	int version, ret;

	ret = user_version(db, &version, d);
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
	flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
		(mode == RP_DB_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = rp_diag_set(d, rp_db_sqlite_code(rc), "%s: cannot open database: %s", path,
				  db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		rp_db_close(db);
		return ret;
	}
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);

	if (mode == RP_DB_READONLY) {
		ret = user_version(db, &version, d);
		if (ret == RP_OK && version != RP_DB_SCHEMA_VERSION)
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
	int64_t duration = r->end_unix_ms - r->start_unix_ms;
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
