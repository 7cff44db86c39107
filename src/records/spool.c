#include "records/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "records/record_codec.h"
#include "records/record_text.h"
#include "records/sqlite_internal.h"
#include "util/clock.h"
#include "util/fileio.h"

#define SPOOL_APP_ID 0x52505350 /* "RPSP": tells a spool from any other SQLite file */
#define SPOOL_VERSION 1
#define ASIDE_MSG_MAX 600

struct rp_spool {
	sqlite3 *h;
	char *path; /* ":memory:" for none */
	int lock_fd;
	pthread_mutex_t lock; /* one statement at a time on h */
	sqlite3_stmt *append, *read, *created, *get_cursor, *put_cursor;
	uint64_t head;
	/* Records set aside since rp_spool_take_set_aside last looked. */
	char aside_msg[8][ASIDE_MSG_MAX];
	unsigned n_aside, aside_more;
};

/* A record whose body no longer decodes (a damaged file, an edit) is
 * moved here, kept for whoever wants to look, out of every sink's way. */
static const char set_aside_sql[] =
	"CREATE TABLE IF NOT EXISTS set_aside (seq INTEGER PRIMARY KEY, created_ms INTEGER,"
	" station TEXT, run_id TEXT, attempt_id INTEGER, body BLOB, why TEXT NOT NULL,"
	" set_aside_ms INTEGER NOT NULL)";

static const char schema_sql[] =
	"CREATE TABLE records ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" created_ms INTEGER NOT NULL,"
	" station TEXT NOT NULL,"
	" run_id TEXT NOT NULL,"
	" attempt_id INTEGER NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX records_by_station ON records(station, attempt_id);"
	"CREATE TABLE cursors (sink TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL);"
	"CREATE TABLE last_ids (station TEXT PRIMARY KEY NOT NULL, attempt_id INTEGER NOT NULL);";

static int fail(struct rp_spool *sp, struct rp_diag *d, int rc, const char *what)
{
	return rp_diag_set(d, rp_db_sqlite_code(rc), "spool %s: %s: %s", sp->path, what,
			   sp->h ? sqlite3_errmsg(sp->h) : sqlite3_errstr(rc));
}

static int exec(struct rp_spool *sp, const char *sql, const char *what, struct rp_diag *d)
{
	int rc = sqlite3_exec(sp->h, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? RP_OK : fail(sp, d, rc, what);
}

static int pragma_int(struct rp_spool *sp, const char *sql, int *out, struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(sp->h, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? RP_OK : fail(sp, d, rc, "cannot read the spool's header");
}

/* Create the tables in a new file; refuse a file that is something else. */
static int setup(struct rp_spool *sp, struct rp_diag *d)
{
	int app = 0, version = 0, tables = 0, ret;

	ret = exec(sp, "BEGIN IMMEDIATE", "cannot lock", d);
	if (ret < 0)
		return ret;
	ret = pragma_int(sp, "PRAGMA application_id", &app, d);
	if (ret == RP_OK)
		ret = pragma_int(sp, "PRAGMA user_version", &version, d);
	if (ret == RP_OK)
		ret = pragma_int(sp, "SELECT count(*) FROM sqlite_master", &tables, d);
	if (ret == RP_OK && tables == 0) {
		char sql[128];
		ret = exec(sp, schema_sql, "cannot create the spool", d);
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 SPOOL_APP_ID, SPOOL_VERSION);
		if (ret == RP_OK)
			ret = exec(sp, sql, "cannot create the spool", d);
	} else if (ret == RP_OK && app != SPOOL_APP_ID) {
		ret = rp_diag_set(d, RP_ERR_FORMAT,
				  "%s: not an rpiprov spool (an SQLite database of something else); "
				  "give the spool a file of its own",
				  sp->path);
	} else if (ret == RP_OK && version != SPOOL_VERSION) {
		ret = rp_diag_set(d, RP_ERR_UNSUPPORTED,
				  "%s: spool version %d, this rpiprov reads %d: deliver it with the "
				  "rpiprov that wrote it",
				  sp->path, version, SPOOL_VERSION);
	}
	if (ret == RP_OK)
		ret = exec(sp, set_aside_sql, "cannot create the spool", d);
	if (ret == RP_OK)
		return exec(sp, "COMMIT", "cannot create the spool", d);
	sqlite3_exec(sp->h, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static int prepare(struct rp_spool *sp, const char *sql, sqlite3_stmt **st, struct rp_diag *d)
{
	int rc = sqlite3_prepare_v3(sp->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? RP_OK : fail(sp, d, rc, "cannot prepare a statement");
}

/* The file is ours alone while it is open; the lock goes with the
 * descriptor, so a killed station frees it at once. */
static int take_lock(struct rp_spool *sp, struct rp_diag *d)
{
	int ret = rp_mkdir_parent(sp->path, 0755, d);

	if (ret < 0)
		return ret;
	sp->lock_fd = open(sp->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
	if (sp->lock_fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "spool %s: cannot open: %s", sp->path,
				   strerror(errno));
	if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return rp_diag_set(d, errno == EWOULDBLOCK ? RP_ERR_BUSY : rp_errno_to_error(errno),
				   "spool %s: in use by another rpiprov process; give each station "
				   "its own spool (--spool, or a different --name)",
				   sp->path);
	return RP_OK;
}

int rp_spool_open(const char *path, struct rp_spool **out, struct rp_diag *d)
{
	struct rp_spool *sp;
	bool memory = !path;
	int rc, ret;

	*out = NULL;
	if (path && !*path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "spool file name is empty");
	sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->path = strdup(memory ? ":memory:" : path))) {
		free(sp);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	sp->lock_fd = -1;
	pthread_mutex_init(&sp->lock, NULL);
	ret = memory ? RP_OK : take_lock(sp, d);
	if (ret == RP_OK) {
		rc = sqlite3_open_v2(sp->path, &sp->h,
				     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
		if (rc != SQLITE_OK)
			ret = fail(sp, d, rc, "cannot open");
	}
	if (ret == RP_OK) {
		sqlite3_busy_timeout(sp->h, 5000);
		/* The point of the spool: committed means on the disk. */
		if (!memory)
			ret = exec(sp, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL",
				   "cannot set up WAL mode", d);
	}
	if (ret == RP_OK)
		ret = setup(sp, d);
	if (ret == RP_OK)
		ret = prepare(sp, "INSERT INTO records (created_ms, station, run_id, attempt_id, body)"
				  " VALUES (?1, ?2, ?3, ?4, ?5)", &sp->append, d);
	if (ret == RP_OK)
		ret = prepare(sp, "SELECT seq, created_ms, station, run_id, body FROM records"
				  " WHERE seq > ?1 ORDER BY seq LIMIT ?2", &sp->read, d);
	if (ret == RP_OK)
		ret = prepare(sp, "SELECT created_ms FROM records WHERE seq > ?1 ORDER BY seq LIMIT 1",
			      &sp->created, d);
	if (ret == RP_OK)
		ret = prepare(sp, "SELECT seq FROM cursors WHERE sink = ?1", &sp->get_cursor, d);
	if (ret == RP_OK)
		ret = prepare(sp, "INSERT INTO cursors (sink, seq) VALUES (?1, ?2)"
				  " ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq", &sp->put_cursor, d);
	if (ret == RP_OK) {
		/* AUTOINCREMENT remembers the highest seq even once it is pruned. */
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(sp->h, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence"
					" WHERE name = 'records'", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			sp->head = (uint64_t)sqlite3_column_int64(st, 0);
		else
			ret = fail(sp, d, rc, "cannot read the spool");
		sqlite3_finalize(st);
	}
	if (ret < 0) {
		rp_spool_close(sp);
		return ret;
	}
	*out = sp;
	return RP_OK;
}

void rp_spool_close(struct rp_spool *sp)
{
	if (!sp)
		return;
	sqlite3_finalize(sp->append);
	sqlite3_finalize(sp->read);
	sqlite3_finalize(sp->created);
	sqlite3_finalize(sp->get_cursor);
	sqlite3_finalize(sp->put_cursor);
	if (sp->h)
		sqlite3_close_v2(sp->h);
	/* After SQLite let go of the file: closing any descriptor of it
	 * would drop SQLite's own POSIX locks. */
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	pthread_mutex_destroy(&sp->lock);
	free(sp->path);
	free(sp);
}

const char *rp_spool_path(const struct rp_spool *sp)
{
	return sp->path;
}

int rp_spool_append_many(struct rp_spool *sp, const struct rp_record_origin *o,
			 const struct rp_board_record *const *recs, size_t n, uint64_t *seqs,
			 struct rp_diag *d)
{
	const char *station = o && o->station ? o->station : "";
	uint64_t max_id = 0;
	int rc = SQLITE_OK, ret;

	pthread_mutex_lock(&sp->lock);
	/* The records and the station's numbering in one commit: one sync
	 * for every board that finished meanwhile. */
	ret = exec(sp, "BEGIN IMMEDIATE", "cannot start a transaction", d);
	for (size_t i = 0; ret == RP_OK && i < n; i++) {
		char *body = rp_record_encode(recs[i]);
		if (!body) {
			ret = rp_diag_set(d, RP_ERR_NOMEM, "spool: out of memory");
			break;
		}
		sqlite3_bind_int64(sp->append, 1, rp_wall_now_ms());
		sqlite3_bind_text(sp->append, 2, station, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp->append, 3, o && o->run_id ? o->run_id : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(sp->append, 4, (sqlite3_int64)recs[i]->attempt_id);
		sqlite3_bind_text(sp->append, 5, body, -1, SQLITE_STATIC);
		rc = sqlite3_step(sp->append);
		sqlite3_reset(sp->append);
		sqlite3_clear_bindings(sp->append);
		free(body);
		if (rc != SQLITE_DONE)
			ret = fail(sp, d, rc, "cannot keep an attempt");
		else
			seqs[i] = (uint64_t)sqlite3_last_insert_rowid(sp->h);
		if (recs[i]->attempt_id > max_id)
			max_id = recs[i]->attempt_id;
	}
	if (ret == RP_OK && n) {
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(sp->h, "INSERT INTO last_ids (station, attempt_id) VALUES (?1, ?2)"
					" ON CONFLICT (station) DO UPDATE SET attempt_id ="
					" max(attempt_id, excluded.attempt_id)", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, station, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)max_id);
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(sp->h);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_OK)
			ret = fail(sp, d, rc, "cannot keep the attempts");
	}
	if (ret == RP_OK)
		ret = exec(sp, "COMMIT", "cannot commit the attempts", d);
	if (ret < 0) {
		sqlite3_exec(sp->h, "ROLLBACK", NULL, NULL, NULL);
		memset(seqs, 0, n * sizeof(*seqs));
	} else if (n && seqs[n - 1] > sp->head) {
		sp->head = seqs[n - 1];
	}
	pthread_mutex_unlock(&sp->lock);
	return ret;
}

int rp_spool_append(struct rp_spool *sp, const struct rp_record_origin *o,
		    const struct rp_board_record *rec, uint64_t *seq, struct rp_diag *d)
{
	int ret = rp_spool_append_many(sp, o, &rec, 1, seq, d);

	if (ret < 0)
		rp_diag_prefix(d, "attempt %llu (board %s)", (unsigned long long)rec->attempt_id,
			       rec->serial[0] ? rec->serial : rec->port_path);
	return ret;
}

uint64_t rp_spool_head(struct rp_spool *sp)
{
	uint64_t h;

	pthread_mutex_lock(&sp->lock);
	h = sp->head;
	pthread_mutex_unlock(&sp->lock);
	return h;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Under sp->lock: move record seq to set_aside, with why. */
static int set_aside(struct rp_spool *sp, uint64_t seq, const char *why, struct rp_diag *d)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = exec(sp, "BEGIN IMMEDIATE", "cannot start a transaction", d);

	if (ret == RP_OK) {
		rc = sqlite3_prepare_v2(sp->h, "INSERT OR REPLACE INTO set_aside SELECT seq, created_ms,"
					" station, run_id, attempt_id, CAST(body AS BLOB), ?2, ?3"
					" FROM records WHERE seq = ?1", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
			sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, rp_wall_now_ms());
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			ret = fail(sp, d, rc, "cannot set a damaged record aside");
	}
	if (ret == RP_OK) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM records WHERE seq = %llu", (unsigned long long)seq);
		ret = exec(sp, sql, "cannot set a damaged record aside", d);
	}
	if (ret == RP_OK)
		return exec(sp, "COMMIT", "cannot set a damaged record aside", d);
	sqlite3_exec(sp->h, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

bool rp_spool_take_set_aside(struct rp_spool *sp, struct rp_diag *d)
{
	bool any = false;

	pthread_mutex_lock(&sp->lock);
	if (sp->n_aside) {
		rp_diag_set(d, RP_ERR_FORMAT, "%s", sp->aside_msg[0]);
		memmove(sp->aside_msg[0], sp->aside_msg[1], (sp->n_aside - 1) * sizeof(sp->aside_msg[0]));
		sp->n_aside--;
		any = true;
	} else if (sp->aside_more) {
		rp_diag_set(d, RP_ERR_FORMAT, "spool %s: %u more damaged records set aside", sp->path,
			    sp->aside_more);
		sp->aside_more = 0;
		any = true;
	}
	pthread_mutex_unlock(&sp->lock);
	return any;
}

int rp_spool_read(struct rp_spool *sp, uint64_t after, struct rp_spool_item *items, size_t max,
		  size_t *n, struct rp_diag *d)
{
	int rc, ret;

	pthread_mutex_lock(&sp->lock);
again:
	ret = RP_OK;
	*n = 0;
	sqlite3_bind_int64(sp->read, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(sp->read, 2, (sqlite3_int64)max);
	while (*n < max && (rc = sqlite3_step(sp->read)) == SQLITE_ROW) {
		struct rp_spool_item *it = &items[*n];
		const char *body = (const char *)sqlite3_column_text(sp->read, 4);
		it->seq = (uint64_t)sqlite3_column_int64(sp->read, 0);
		it->created_ms = sqlite3_column_int64(sp->read, 1);
		copy_col(it->station, sizeof(it->station), sp->read, 2);
		copy_col(it->run_id, sizeof(it->run_id), sp->read, 3);
		it->origin.station = it->station;
		it->origin.run_id = it->run_id;
		ret = rp_record_decode(body ? body : "", body ? (size_t)sqlite3_column_bytes(sp->read, 4) : 0,
				       &it->rec, d);
		if (ret < 0) {
			rp_diag_prefix(d, "spool %s: record %llu", sp->path, (unsigned long long)it->seq);
			break;
		}
		/* A body from disk is untrusted like any other input. */
		rp_record_make_utf8(&it->rec);
		(*n)++;
	}
	if (ret == RP_OK && *n < max && rc != SQLITE_DONE)
		ret = fail(sp, d, rc, "cannot read");
	sqlite3_reset(sp->read);
	if (ret == RP_ERR_FORMAT && rc == SQLITE_ROW) {
		/* A body that does not decode would stop every sink at it for
		 * good: it is set aside (kept, told once) and the read starts
		 * again after it. */
		uint64_t bad = items[*n].seq;
		char why[ASIDE_MSG_MAX];
		snprintf(why, sizeof(why), "%s; set aside in its table set_aside", rp_diag_message(d));
		ret = set_aside(sp, bad, why, d);
		if (ret == RP_OK) {
			if (sp->n_aside < sizeof(sp->aside_msg) / sizeof(sp->aside_msg[0]))
				snprintf(sp->aside_msg[sp->n_aside++], sizeof(sp->aside_msg[0]), "%s", why);
			else
				sp->aside_more++;
			goto again;
		}
	}
	pthread_mutex_unlock(&sp->lock);
	return ret;
}

int64_t rp_spool_created_after(struct rp_spool *sp, uint64_t after)
{
	int64_t t = 0;

	pthread_mutex_lock(&sp->lock);
	sqlite3_bind_int64(sp->created, 1, (sqlite3_int64)after);
	if (sqlite3_step(sp->created) == SQLITE_ROW)
		t = sqlite3_column_int64(sp->created, 0);
	sqlite3_reset(sp->created);
	pthread_mutex_unlock(&sp->lock);
	return t;
}

int rp_spool_cursor(struct rp_spool *sp, const char *sink, uint64_t *out, struct rp_diag *d)
{
	int rc, ret = RP_OK;
	bool found = false;
	uint64_t first = 0;

	pthread_mutex_lock(&sp->lock);
	*out = sp->head;
	sqlite3_bind_text(sp->get_cursor, 1, sink, -1, SQLITE_STATIC);
	rc = sqlite3_step(sp->get_cursor);
	if (rc == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(sp->get_cursor, 0);
		found = true;
	} else if (rc != SQLITE_DONE) {
		ret = fail(sp, d, rc, "cannot read a cursor");
	}
	sqlite3_reset(sp->get_cursor);
	if (ret == RP_OK && found && *out < sp->head) {
		/* Records it never had may be gone: then it starts afresh. */
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(sp->h, "SELECT coalesce(min(seq), 0) FROM records", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			first = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (first == 0 || *out + 1 < first)
			*out = sp->head;
	}
	if (ret == RP_OK && *out > sp->head)
		*out = sp->head; /* a cursor past the end: the file was edited */
	pthread_mutex_unlock(&sp->lock);
	return ret;
}

bool rp_spool_has_cursor(struct rp_spool *sp, const char *sink)
{
	bool found;

	pthread_mutex_lock(&sp->lock);
	sqlite3_bind_text(sp->get_cursor, 1, sink, -1, SQLITE_STATIC);
	found = sqlite3_step(sp->get_cursor) == SQLITE_ROW;
	sqlite3_reset(sp->get_cursor);
	pthread_mutex_unlock(&sp->lock);
	return found;
}

int rp_spool_set_cursors(struct rp_spool *sp, const char *const *sinks, const uint64_t *seqs,
			 size_t n, uint64_t prune_upto, struct rp_diag *d)
{
	int ret;

	pthread_mutex_lock(&sp->lock);
	ret = exec(sp, "BEGIN IMMEDIATE", "cannot start a transaction", d);
	for (size_t i = 0; ret == RP_OK && i < n; i++) {
		int rc;
		sqlite3_bind_text(sp->put_cursor, 1, sinks[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(sp->put_cursor, 2, (sqlite3_int64)seqs[i]);
		rc = sqlite3_step(sp->put_cursor);
		sqlite3_reset(sp->put_cursor);
		if (rc != SQLITE_DONE)
			ret = fail(sp, d, rc, "cannot store a cursor");
	}
	if (ret == RP_OK && prune_upto) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM records WHERE seq <= %llu",
			 (unsigned long long)prune_upto);
		ret = exec(sp, sql, "cannot prune", d);
	}
	if (ret == RP_OK)
		ret = exec(sp, "COMMIT", "cannot store the cursors", d);
	else
		sqlite3_exec(sp->h, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&sp->lock);
	return ret;
}

int rp_spool_prune(struct rp_spool *sp, uint64_t seq, struct rp_diag *d)
{
	char sql[96];
	int ret;

	snprintf(sql, sizeof(sql), "DELETE FROM records WHERE seq <= %llu", (unsigned long long)seq);
	pthread_mutex_lock(&sp->lock);
	ret = exec(sp, sql, "cannot prune", d);
	pthread_mutex_unlock(&sp->lock);
	return ret;
}

int rp_spool_last_attempt_id(struct rp_spool *sp, const char *station, uint64_t *out,
			     struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc, ret = RP_OK;

	*out = 0;
	pthread_mutex_lock(&sp->lock);
	rc = sqlite3_prepare_v2(sp->h, "SELECT attempt_id FROM last_ids WHERE station = ?1", -1, &st,
				NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, station ? station : "", -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*out = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fail(sp, d, rc, "cannot read the last attempt id");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&sp->lock);
	return ret;
}
