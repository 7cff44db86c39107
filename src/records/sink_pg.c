/* PostgreSQL as a record sink (#12), through libpq. The logical schema is
 * SQLite's (sqlite_db.h): attempts, boards, metadata, runs, stations, in
 * tables named rpiprov_*. Each attempt has a globally unique id made on
 * the station, "<station>/<run_id>/<attempt_id>"; inserting it twice is
 * one row (ON CONFLICT DO NOTHING), and the board's counters move only
 * when the row is new, so the spool may replay freely.
 *
 * Appends go into one open transaction that flush commits: the recorder
 * flushes after every batch and advances its cursor only then. The batch
 * is sent in libpq's pipeline mode (one statement per attempt, covering
 * its board, station, run and metadata), so a batch costs one round trip
 * and one commit instead of a round trip per row; the results are read
 * at the commit, or every PIPELINE_DEPTH statements in a long batch.
 *
 * Credentials come from where libpq looks (PGPASSFILE, ~/.pgpass, the
 * environment, service files). A password inside the connection string
 * is refused, so it never sits in argv, the config, logs or records; the
 * sink's name shows the address without it. sslmode and the TLS options
 * pass through to libpq untouched.
 *
 * The schema version lives in rpiprov_schema; migrations run under a
 * transaction-scoped advisory lock, so stations that start together apply
 * each once. */
#include "records/pg_conn.h"
#include "records/sink.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "records/metadata_json.h"
#include "records/record_json.h"

#include <json-c/json.h>

#define PG_SCHEMA_VERSION 2
#define MIGRATION_LOCK 0x72706976 /* "rpiv": pg_advisory_xact_lock key */
#define BATCH_LOCK 0x72706977

/* Statements sent in one round trip at most: their results wait on the
 * server until read, and a full socket both ways would block both. */
#define PIPELINE_DEPTH 256

/* Attempts the server refused for good (a data error, SQLSTATE class 22)
 * remembered by uid: the failure comes at the batch's commit, after
 * every append returned, so the next try of the batch refuses that one
 * attempt at its append and keeps the rest. */
#define POISON_MAX 64
#define UID_MAX 256

/* A statement sent and not yet answered, for the message if it fails. */
struct pg_sent {
	const char *what;
	uint64_t attempt; /* 0: not an attempt's */
	char board[64];
	char uid[UID_MAX];
};

struct pg_sink {
	struct rp_sink base;
	char *conninfo;
	PGconn *c;
	bool in_tx;          /* a batch is open, in pipeline mode */
	bool lost;           /* appends of this batch were rolled back: flush fails */
	size_t n_appended;   /* attempts in the open batch */
	struct pg_sent *sent;
	size_t n_sent, cap_sent;
	char poison[POISON_MAX][UID_MAX];
	char poison_why[POISON_MAX][200];
	unsigned n_poison;
	/* rp_sink interrupt, from another thread: the socket to shut down
	 * (-1: none) and whether to give up on connecting. */
	pthread_mutex_t sock_lock;
	int sock;
	volatile int interrupted;
};

static const char *const migrations[PG_SCHEMA_VERSION] = {
	"CREATE TABLE rpiprov_stations (station TEXT PRIMARY KEY,"
	" first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL);"
	"CREATE TABLE rpiprov_runs (run_id TEXT PRIMARY KEY, station TEXT NOT NULL,"
	" first_seen_ms BIGINT NOT NULL);"
	"CREATE TABLE rpiprov_attempts ("
	" uid TEXT PRIMARY KEY,"
	" run_id TEXT NOT NULL, attempt_id BIGINT NOT NULL, station TEXT NOT NULL,"
	" serial TEXT NOT NULL, port TEXT NOT NULL, soc TEXT NOT NULL, pid INTEGER NOT NULL,"
	" start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, duration_ms BIGINT NOT NULL,"
	" stage1_ms BIGINT NOT NULL, reenum_ms BIGINT NOT NULL, serve_ms BIGINT NOT NULL,"
	" verify_ms BIGINT NOT NULL, result TEXT NOT NULL, error_code TEXT, error TEXT,"
	" served_sha256 TEXT, eeprom_hash TEXT, bytes_served BIGINT NOT NULL,"
	" files_served BIGINT NOT NULL, metadata TEXT NOT NULL, metadata_dropped BIGINT NOT NULL,"
	" UNIQUE (run_id, attempt_id));"
	"CREATE INDEX rpiprov_attempts_by_end ON rpiprov_attempts(end_ms);"
	"CREATE INDEX rpiprov_attempts_by_serial ON rpiprov_attempts(serial);"
	"CREATE TABLE rpiprov_metadata (uid TEXT NOT NULL REFERENCES rpiprov_attempts(uid),"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (uid, key));"
	"CREATE TABLE rpiprov_boards (serial TEXT PRIMARY KEY,"
	" first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, last_result TEXT NOT NULL,"
	" last_error TEXT, attempts BIGINT NOT NULL DEFAULT 0, successes BIGINT NOT NULL DEFAULT 0,"
	" mac TEXT, soc TEXT, eeprom_hash TEXT, last_port TEXT, last_station TEXT);",
	/* 2: a simulated board's attempt says so in a column of its own (as
	 * the SQLite database's version 2), so reports leave it out. */
	"ALTER TABLE rpiprov_attempts ADD COLUMN simulated BOOLEAN NOT NULL DEFAULT false;"
	"UPDATE rpiprov_attempts SET simulated = true WHERE run_id LIKE 'synthetic-%';",
};

/* libpq's message, one line, without anything from the connection string. */
static int pg_fail(struct pg_sink *p, struct rp_diag *d, int code, const char *what)
{
	return rp_pg_fail(p->c, p->base.name, code, what, d);
}

static int exec_ok(struct pg_sink *p, const char *sql, struct rp_diag *d, const char *what)
{
	PGresult *res = PQexec(p->c, sql);
	ExecStatusType st = PQresultStatus(res);
	int ret = RP_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		ret = pg_fail(p, d, PQstatus(p->c) == CONNECTION_OK ? RP_ERR_FORMAT : RP_ERR_IO, what);
	PQclear(res);
	return ret;
}

static int migrate(struct pg_sink *p, struct rp_diag *d)
{
	char sql[128];
	PGresult *res;
	int version = 0, ret;

	bool exists = false;

	ret = exec_ok(p, "BEGIN", d, "cannot start a transaction");
	if (ret == RP_OK) {
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)", MIGRATION_LOCK);
		ret = exec_ok(p, sql, d, "cannot lock for the schema migration");
	}
	if (ret == RP_OK) {
		/* CREATE TABLE IF NOT EXISTS needs CREATE on the schema even
		 * when the table is there: a runtime role without it (README)
		 * only looks. */
		res = PQexec(p->c, "SELECT to_regclass('rpiprov_schema') IS NOT NULL");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			exists = PQgetvalue(res, 0, 0)[0] == 't';
		else
			ret = pg_fail(p, d, RP_ERR_IO, "cannot look for the schema table");
		PQclear(res);
	}
	if (ret == RP_OK && !exists)
		ret = exec_ok(p, "CREATE TABLE IF NOT EXISTS rpiprov_schema (version INTEGER NOT NULL)", d,
			      "cannot create the schema table");
	if (ret == RP_OK) {
		res = PQexec(p->c, "SELECT coalesce(max(version), 0) FROM rpiprov_schema");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			version = atoi(PQgetvalue(res, 0, 0));
		else
			ret = pg_fail(p, d, RP_ERR_IO, "cannot read the schema version");
		PQclear(res);
	}
	if (ret == RP_OK && version > PG_SCHEMA_VERSION)
		ret = rp_diag_set(d, RP_ERR_UNSUPPORTED,
				  "%s: schema version %d is newer than this rpiprov understands (%d)",
				  p->base.name, version, PG_SCHEMA_VERSION);
	for (; ret == RP_OK && version < PG_SCHEMA_VERSION; version++) {
		ret = exec_ok(p, migrations[version], d, "cannot migrate the schema");
		snprintf(sql, sizeof(sql), "DELETE FROM rpiprov_schema; INSERT INTO rpiprov_schema VALUES (%d)",
			 version + 1);
		if (ret == RP_OK)
			ret = exec_ok(p, sql, d, "cannot set the schema version");
	}
	if (ret == RP_OK)
		return exec_ok(p, "COMMIT", d, "cannot commit the schema");
	PQclear(PQexec(p->c, "ROLLBACK"));
	return ret;
}

/* The connection goes: first out of reach of interrupt. */
static void pg_finish(struct pg_sink *p)
{
	pthread_mutex_lock(&p->sock_lock);
	p->sock = -1;
	pthread_mutex_unlock(&p->sock_lock);
	if (p->c)
		PQfinish(p->c);
	p->c = NULL;
}

static int pg_connect(struct pg_sink *p, struct rp_diag *d)
{
	int ret;

	if (p->c && PQstatus(p->c) == CONNECTION_OK && !p->interrupted)
		return RP_OK;
	pg_finish(p);
	p->in_tx = false;
	if (p->interrupted)
		return rp_diag_set(d, RP_ERR_IO, "%s: given up (stopping)", p->base.name);
	ret = rp_pg_connect(p->conninfo, p->base.name, &p->interrupted, &p->c, d);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&p->sock_lock);
	p->sock = PQsocket(p->c);
	if (p->interrupted)
		shutdown(p->sock, SHUT_RDWR);
	pthread_mutex_unlock(&p->sock_lock);
	PQclear(PQexec(p->c, "SET synchronous_commit = on"));
	return RP_OK;
}

static int pg_open(struct rp_sink *s, struct rp_diag *d)
{
	struct pg_sink *p = (struct pg_sink *)s;
	int ret = pg_connect(p, d);

	return ret < 0 ? ret : migrate(p, d);
}

static void bounded(char *dst, size_t cap, const char *src, size_t srccap)
{
	snprintf(dst, cap, "%.*s", (int)strnlen(src, srccap), src);
}

/* The connection is in an unknown state (lost mid-pipeline, or a result
 * that does not fit the protocol): dropped, so the next append connects
 * afresh. Whatever the open transaction held is gone with it. */
static void pg_drop(struct pg_sink *p)
{
	pg_finish(p);
	p->in_tx = false;
	p->n_sent = 0;
}

static void poison(struct pg_sink *p, const char *uid, const char *why)
{
	unsigned i = p->n_poison++ % POISON_MAX;

	snprintf(p->poison[i], sizeof(p->poison[i]), "%s", uid);
	snprintf(p->poison_why[i], sizeof(p->poison_why[i]), "%s", why);
}

static const char *poisoned(const struct pg_sink *p, const char *uid)
{
	unsigned n = p->n_poison < POISON_MAX ? p->n_poison : POISON_MAX;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(p->poison[i], uid))
			return p->poison_why[i];
	return NULL;
}

/* Sent statements, for messages. */
static int note_sent(struct pg_sink *p, const char *what, uint64_t attempt, const char *board,
		     const char *uid)
{
	if (p->n_sent == p->cap_sent) {
		size_t cap = p->cap_sent ? p->cap_sent * 2 : 64;
		struct pg_sent *n = realloc(p->sent, cap * sizeof(*n));
		if (!n)
			return RP_ERR_NOMEM;
		p->sent = n;
		p->cap_sent = cap;
	}
	p->sent[p->n_sent].what = what;
	p->sent[p->n_sent].attempt = attempt;
	snprintf(p->sent[p->n_sent].board, sizeof(p->sent[p->n_sent].board), "%s", board);
	snprintf(p->sent[p->n_sent].uid, sizeof(p->sent[p->n_sent].uid), "%s", uid);
	p->n_sent++;
	return RP_OK;
}

static int send_ctl(struct pg_sink *p, const char *sql, const char *what, struct rp_diag *d)
{
	if (!PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 0))
		return pg_fail(p, d, RP_ERR_IO, what);
	if (note_sent(p, what, 0, "", "") < 0)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", p->base.name);
	return RP_OK;
}

/* Everything sent since the last sync: one round trip. The explicit
 * transaction stays open across a sync; only COMMIT ends it. The first
 * failure is the message (libpq skips the rest of the pipeline after
 * it). */
static int sync_results(struct pg_sink *p, struct rp_diag *d)
{
	int ret = RP_OK;
	PGresult *res;

	if (!PQpipelineSync(p->c)) {
		ret = pg_fail(p, d, RP_ERR_IO, "cannot send the batch");
		pg_drop(p);
		return ret;
	}
	for (size_t i = 0; i < p->n_sent; i++) {
		const struct pg_sent *s = &p->sent[i];
		ExecStatusType st;

		res = PQgetResult(p->c);
		if (!res) {
			if (ret == RP_OK)
				ret = pg_fail(p, d, RP_ERR_IO, s->what);
			pg_drop(p);
			return ret;
		}
		st = PQresultStatus(res);
		if (ret == RP_OK && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			const char *m = PQresultErrorMessage(res);
			int len = (int)strcspn(m && *m ? m : "aborted", "\n");
			ret = rp_diag_set(d, RP_ERR_IO, "%s: %s: %.*s", p->base.name, s->what, len,
					  m && *m ? m : "aborted");
			if (s->attempt)
				rp_diag_prefix(d, "attempt %llu (board %s)", (unsigned long long)s->attempt,
					       s->board);
			if (s->attempt && rp_pg_result_error(res) == RP_ERR_FORMAT)
				poison(p, s->uid, rp_diag_message(d));
		}
		PQclear(res);
		res = PQgetResult(p->c); /* the end of this statement's results */
		if (res) {
			PQclear(res);
			if (ret == RP_OK)
				ret = rp_diag_set(d, RP_ERR_IO, "%s: %s: unexpected result", p->base.name,
						  s->what);
			pg_drop(p);
			return ret;
		}
	}
	p->n_sent = 0;
	res = PQgetResult(p->c);
	if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		PQclear(res);
		if (ret == RP_OK)
			ret = pg_fail(p, d, RP_ERR_IO, "cannot finish the batch");
		pg_drop(p);
		return ret;
	}
	PQclear(res);
	return ret;
}

/* The open transaction is lost: out of pipeline mode and rolled back (or
 * the connection dropped). Records appended in it were not kept. */
static void abandon(struct pg_sink *p)
{
	if (p->c && PQstatus(p->c) == CONNECTION_OK && PQexitPipelineMode(p->c)) {
		PQclear(PQexec(p->c, "ROLLBACK"));
		p->in_tx = false;
		p->n_sent = 0;
	} else {
		pg_drop(p);
	}
	if (p->n_appended)
		p->lost = true;
	p->n_appended = 0;
}

static int begin_batch(struct pg_sink *p, struct rp_diag *d)
{
	char sql[64];
	int ret = pg_connect(p, d);

	if (ret < 0)
		return ret;
	if (!PQenterPipelineMode(p->c))
		return pg_fail(p, d, RP_ERR_IO, "cannot enter pipeline mode");
	p->in_tx = true;
	p->n_sent = 0;
	p->n_appended = 0;
	ret = send_ctl(p, "BEGIN", "cannot start a transaction", d);
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)", BATCH_LOCK);
	/* Stations update the same boards rows (a board moved to another
	 * station) in their own order: one batch at a time across the line
	 * instead of deadlocks. A batch is one round trip to the server, so
	 * the lock is held about as long as the server takes to run it. */
	if (ret == RP_OK)
		ret = send_ctl(p, sql, "cannot start a transaction", d);
	if (ret < 0)
		abandon(p);
	return ret;
}

/* One statement per attempt: the attempt row, and only when it is new
 * (a replay inserts nothing) the station, the run, the metadata and the
 * board's counters, all fed from the attempt INSERT's RETURNING. */
static void attempt_sql(char *sql, size_t cap, unsigned n_meta)
{
	size_t len;

	len = (size_t)snprintf(sql, cap,
		"WITH a AS (INSERT INTO rpiprov_attempts (uid, run_id, attempt_id, station, serial, port, soc,"
		" pid, start_ms, end_ms, duration_ms, stage1_ms, reenum_ms, serve_ms, verify_ms, result,"
		" error_code, error, served_sha256, eeprom_hash, bytes_served, files_served, metadata,"
		" metadata_dropped, simulated) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,"
		"$16,$17,$18,$19,$20,$21,$22,$23,$24,$27) ON CONFLICT DO NOTHING RETURNING uid),"
		" s AS (INSERT INTO rpiprov_stations SELECT $4::text, $9::bigint, $10::bigint FROM a"
		"  ON CONFLICT (station) DO UPDATE SET"
		"  last_seen_ms = greatest(rpiprov_stations.last_seen_ms, excluded.last_seen_ms)),"
		" rn AS (INSERT INTO rpiprov_runs SELECT $2::text, $4::text, $9::bigint FROM a"
		"  ON CONFLICT DO NOTHING)");
	if (n_meta) {
		len += (size_t)snprintf(sql + len, cap - len, ", m AS (INSERT INTO rpiprov_metadata"
					" SELECT a.uid, v.k, v.v FROM a, (VALUES ");
		for (unsigned i = 0; i < n_meta; i++)
			len += (size_t)snprintf(sql + len, cap - len, "%s($%u::text,$%u::text)", i ? "," : "",
						28 + 2 * i, 29 + 2 * i);
		len += (size_t)snprintf(sql + len, cap - len, ") v(k, v) ON CONFLICT DO NOTHING)");
	}
	snprintf(sql + len, cap - len,
		" INSERT INTO rpiprov_boards (serial, first_seen_ms, last_seen_ms, last_result, last_error,"
		" attempts, successes, mac, soc, eeprom_hash, last_port, last_station)"
		" SELECT $5::text, $9::bigint, $10::bigint, $16::text, $18::text, 1, $26::int, $25::text,"
		" nullif($7::text, ''), $20::text, $6::text, $4::text FROM a WHERE $5::text <> ''"
		" ON CONFLICT (serial) DO UPDATE SET"
		" first_seen_ms = least(rpiprov_boards.first_seen_ms, excluded.first_seen_ms),"
		" attempts = rpiprov_boards.attempts + 1,"
		" successes = rpiprov_boards.successes + excluded.successes,"
		" mac = coalesce(excluded.mac, rpiprov_boards.mac),"
		" soc = coalesce(excluded.soc, rpiprov_boards.soc),"
		" last_result = CASE WHEN excluded.last_seen_ms >= rpiprov_boards.last_seen_ms"
		"  THEN excluded.last_result ELSE rpiprov_boards.last_result END,"
		" last_error = CASE WHEN excluded.last_seen_ms >= rpiprov_boards.last_seen_ms"
		"  THEN excluded.last_error ELSE rpiprov_boards.last_error END,"
		" last_port = CASE WHEN excluded.last_seen_ms >= rpiprov_boards.last_seen_ms"
		"  THEN excluded.last_port ELSE rpiprov_boards.last_port END,"
		" last_station = CASE WHEN excluded.last_seen_ms >= rpiprov_boards.last_seen_ms"
		"  THEN excluded.last_station ELSE rpiprov_boards.last_station END,"
		" last_seen_ms = greatest(rpiprov_boards.last_seen_ms, excluded.last_seen_ms)");
}

static int pg_append(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d)
{
	struct pg_sink *p = (struct pg_sink *)s;
	const struct rp_board_record *r = e->rec;
	const char *station = e->origin && e->origin->station ? e->origin->station : "";
	const char *run = e->origin && e->origin->run_id ? e->origin->run_id : "";
	char uid[UID_MAX], num[12][24], serial[64], port[64], soc[16], err[520], sha[72], hash[72];
	char key[RP_META_MAX][RP_META_KEY_MAX + 1], val[RP_META_MAX][RP_META_VALUE_MAX + 1];
	char sql[4096];
	struct json_object *meta = rp_metadata_json_object(r);
	const char *meta_text, *mac = rp_board_record_meta(r, "MAC_ADDR");
	const char *v[27 + 2 * RP_META_MAX];
	unsigned n_meta = r->n_meta < RP_META_MAX ? r->n_meta : RP_META_MAX;
	int ret = RP_OK;

	const char *why;

	snprintf(uid, sizeof(uid), "%s/%s/%llu", station, run, (unsigned long long)r->attempt_id);
	why = poisoned(p, uid);
	if (why) {
		json_object_put(meta);
		return rp_diag_set(d, RP_ERR_FORMAT, "%s (refused for good: not retried)", why);
	}
	if (!meta)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", s->name);
	if (!p->in_tx)
		ret = begin_batch(p, d);
	if (ret < 0) {
		json_object_put(meta);
		return ret != RP_ERR_ACCESS && ret != RP_ERR_NOT_FOUND ? RP_ERR_IO : ret;
	}
	meta_text = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	bounded(serial, sizeof(serial), r->serial, sizeof(r->serial));
	bounded(port, sizeof(port), r->port_path, sizeof(r->port_path));
	bounded(soc, sizeof(soc), r->soc, sizeof(r->soc));
	bounded(err, sizeof(err), r->error, sizeof(r->error));
	bounded(sha, sizeof(sha), r->served_sha256, sizeof(r->served_sha256));
	bounded(hash, sizeof(hash), r->reported_hash, sizeof(r->reported_hash));
	snprintf(num[0], 24, "%llu", (unsigned long long)r->attempt_id);
	snprintf(num[1], 24, "%u", r->pid);
	snprintf(num[2], 24, "%lld", (long long)r->start_unix_ms);
	snprintf(num[3], 24, "%lld", (long long)r->end_unix_ms);
	snprintf(num[4], 24, "%lld", (long long)rp_record_duration_ms(r));
	for (int i = 0; i < RP_PHASE_COUNT; i++)
		snprintf(num[5 + i], 24, "%u", r->phase_ms[i]);
	snprintf(num[9], 24, "%llu", (unsigned long long)r->bytes_served);
	snprintf(num[10], 24, "%u", r->files_served);
	snprintf(num[11], 24, "%u", r->meta_dropped);
	v[0] = uid; v[1] = run; v[2] = num[0]; v[3] = station; v[4] = serial; v[5] = port;
	v[6] = soc; v[7] = num[1]; v[8] = num[2]; v[9] = num[3]; v[10] = num[4];
	v[11] = num[5]; v[12] = num[6]; v[13] = num[7]; v[14] = num[8];
	v[15] = rp_board_result_name(r->result);
	v[16] = r->error_code ? rp_error_name(r->error_code) : NULL;
	v[17] = err[0] ? err : NULL; v[18] = sha[0] ? sha : NULL; v[19] = hash[0] ? hash : NULL;
	v[20] = num[9]; v[21] = num[10]; v[22] = meta_text ? meta_text : "{}"; v[23] = num[11];
	v[24] = mac && *mac ? mac : NULL;
	v[25] = r->result == RP_RESULT_OK ? "1" : "0";
	v[26] = r->simulated ? "true" : "false";
	for (unsigned i = 0; i < n_meta; i++) {
		bounded(key[i], sizeof(key[i]), r->meta[i].key, sizeof(r->meta[i].key));
		bounded(val[i], sizeof(val[i]), r->meta[i].value, sizeof(r->meta[i].value));
		v[27 + 2 * i] = key[i];
		v[28 + 2 * i] = val[i];
	}
	attempt_sql(sql, sizeof(sql), n_meta);
	if (!PQsendQueryParams(p->c, sql, (int)(27 + 2 * n_meta), NULL, v, NULL, NULL, 0))
		ret = pg_fail(p, d, RP_ERR_IO, "cannot insert the attempt");
	else if (note_sent(p, "cannot insert the attempt", r->attempt_id, serial[0] ? serial : port,
			   uid) < 0)
		ret = rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", s->name);
	json_object_put(meta);
	if (ret < 0)
		rp_diag_prefix(d, "attempt %llu (board %s)", (unsigned long long)r->attempt_id,
			       serial[0] ? serial : port);
	if (ret == RP_OK) {
		p->n_appended++;
		/* Results wait on the server until read; read them now and then
		 * so neither side blocks on a full socket in a long batch. The
		 * failure names its own attempt. */
		if (p->n_sent >= PIPELINE_DEPTH)
			ret = sync_results(p, d);
	}
	if (ret < 0) {
		/* The cursor has not moved past anything in this
		 * transaction, so it all comes again. */
		abandon(p);
		return ret == RP_ERR_NOMEM ? ret : RP_ERR_IO;
	}
	return RP_OK;
}

static int pg_flush(struct rp_sink *s, struct rp_diag *d)
{
	struct pg_sink *p = (struct pg_sink *)s;
	bool lost = p->lost;
	int ret = RP_OK;

	p->lost = false;
	if (p->in_tx) {
		ret = send_ctl(p, "COMMIT", "cannot commit", d);
		if (ret == RP_OK)
			ret = sync_results(p, d);
		if (ret == RP_OK && !PQexitPipelineMode(p->c))
			ret = pg_fail(p, d, RP_ERR_IO, "cannot leave pipeline mode");
		if (ret < 0) {
			abandon(p);
			p->lost = false;
			return RP_ERR_IO;
		}
		p->in_tx = false;
		p->n_appended = 0;
	}
	/* An append failed after others of its batch: they were rolled back
	 * with it and must not count as kept. */
	if (lost)
		return rp_diag_set(d, RP_ERR_IO, "%s: a failed append rolled back its batch", s->name);
	return RP_OK;
}

static int pg_last_attempt_id(struct rp_sink *s, const char *station, uint64_t *out,
			      struct rp_diag *d)
{
	struct pg_sink *p = (struct pg_sink *)s;
	const char *v[1] = { station ? station : "" };
	PGresult *res;
	int ret = RP_OK;

	*out = 0;
	if (!p->c || PQstatus(p->c) != CONNECTION_OK)
		return RP_OK;
	if (p->in_tx) /* the recorder asks only between batches */
		return rp_diag_set(d, RP_ERR_BUSY, "%s: a batch is open", s->name);
	res = PQexecParams(p->c, "SELECT coalesce(max(attempt_id), 0) FROM rpiprov_attempts"
			   " WHERE station = $1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		*out = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	else
		ret = pg_fail(p, d, RP_ERR_IO, "cannot read the last attempt id");
	PQclear(res);
	return ret;
}

static void pg_close(struct rp_sink *s)
{
	struct pg_sink *p = (struct pg_sink *)s;

	pg_finish(p);
	pthread_mutex_destroy(&p->sock_lock);
	free(p->conninfo);
	free(p->sent);
	free(p);
}

/* Any thread, while the writer may be blocked in libpq: the socket is
 * shut down (the blocked call returns with a lost connection) and no new
 * connection is made; the records stay in the spool. */
static void pg_interrupt(struct rp_sink *s)
{
	struct pg_sink *p = (struct pg_sink *)s;

	pthread_mutex_lock(&p->sock_lock);
	p->interrupted = 1;
	if (p->sock >= 0)
		shutdown(p->sock, SHUT_RDWR);
	pthread_mutex_unlock(&p->sock_lock);
}

static const struct rp_sink_ops pg_ops = {
	.interrupt = pg_interrupt,
	.open = pg_open,
	.append = pg_append,
	.flush = pg_flush,
	.close = pg_close,
	.last_attempt_id = pg_last_attempt_id,
};

int rp_sink_pg_new(const char *conninfo, struct rp_sink **out, struct rp_diag *d)
{
	char name[RP_SINK_NAME_MAX - 16], key[RP_SINK_NAME_MAX - 16];
	struct pg_sink *p;
	int r;

	*out = NULL;
	r = rp_pg_conninfo_check(conninfo, name, sizeof(name), key, sizeof(key), d);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->conninfo = strdup(conninfo))) {
		free(p);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	p->base.ops = &pg_ops;
	p->sock = -1;
	pthread_mutex_init(&p->sock_lock, NULL);
	snprintf(p->base.name, sizeof(p->base.name), "database %s", name);
	snprintf(p->base.key, sizeof(p->base.key), "database %s", key);
	*out = &p->base;
	return RP_OK;
}
