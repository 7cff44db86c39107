/* The query interface (query.h) over PostgreSQL: the rpiprov_* tables
 * that sink_pg.c writes, read by one SQL statement per question. The
 * statements mirror sqlite_query.c's, so a line's PostgreSQL database
 * and a station's SQLite file answer with the same figures for the same
 * attempts: same windows, same grouping, byte order (COLLATE "C"), the
 * same rounding (float8 averages). */
#include "records/json_fields.h"
#include "records/pg_conn.h"
#include "records/query.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/sink.h"

#define PG_SCHEMA_VERSION 2 /* the version sink_pg.c migrates to */

/* Parameter types, given so that a statement need not use every one:
 * $1 since, $2 until (NULL: no end), $3 OK, $4 SERVED, $5 FAILED,
 * $6 TIMEOUT, $7 LEFT, $8 UNVERIFIED, $9 simulated (query.h's window). */
#define N_PARAMS 9
static const Oid param_types[N_PARAMS] = { 20, 20, 25, 25, 25, 25, 25, 25, 16 }; /* int8, text, bool */

#define OK_EXPR "(result IN ($3, $4))"
#define FAIL_EXPR "(result IN ($5, $6, $7))"
#define UNVERIFIED_EXPR "(result = $8)"
#define WINDOW "start_ms >= $1 AND ($2::bigint IS NULL OR start_ms < $2) AND simulated = $9"

static const char totals_sql[] =
	"SELECT count(*), count(*) FILTER (WHERE " OK_EXPR "), count(*) FILTER (WHERE " FAIL_EXPR "),"
	" count(DISTINCT nullif(serial, '')),"
	" count(DISTINCT CASE WHEN " OK_EXPR " THEN nullif(serial, '') END),"
	" coalesce(min(start_ms), 0), coalesce(max(end_ms), 0), coalesce(sum(duration_ms)::float8 / nullif(count(*), 0), 0),"
	" count(*) FILTER (WHERE " UNVERIFIED_EXPR ")"
	" FROM rpiprov_attempts WHERE " WINDOW;

/* The example is the message of the attempt that ended last. */
static const char reasons_sql[] =
	"SELECT result, coalesce(error_code, ''), count(*),"
	" (array_agg(coalesce(error, '') ORDER BY end_ms DESC, uid COLLATE \"C\" DESC))[1]"
	" FROM rpiprov_attempts WHERE " WINDOW " AND " FAIL_EXPR
	" GROUP BY result, error_code"
	" ORDER BY count(*) DESC, result COLLATE \"C\", coalesce(error_code, '') COLLATE \"C\"";

static const char ports_sql[] =
	"SELECT station, port, count(*), count(*) FILTER (WHERE " OK_EXPR "),"
	" count(*) FILTER (WHERE " FAIL_EXPR "), sum(duration_ms)::float8 / count(*),"
	" coalesce((sum(duration_ms) FILTER (WHERE " OK_EXPR "))::float8 / nullif(count(*) FILTER (WHERE " OK_EXPR "), 0), 0),"
	" count(*) FILTER (WHERE " UNVERIFIED_EXPR ")"
	" FROM rpiprov_attempts WHERE " WINDOW " GROUP BY station, port"
	" ORDER BY station COLLATE \"C\", port COLLATE \"C\"";

static const char hours_sql[] =
	"SELECT (end_ms / 3600000) * 3600000 AS hour, count(*), count(*) FILTER (WHERE " OK_EXPR "),"
	" count(*) FILTER (WHERE " FAIL_EXPR "), count(*) FILTER (WHERE " UNVERIFIED_EXPR ")"
	" FROM rpiprov_attempts WHERE " WINDOW " GROUP BY hour ORDER BY hour";

static const char stations_sql[] =
	"SELECT station, count(*), count(*) FILTER (WHERE " OK_EXPR "),"
	" count(*) FILTER (WHERE " FAIL_EXPR "),"
	" count(DISTINCT nullif(serial, '')),"
	" count(DISTINCT CASE WHEN " OK_EXPR " THEN nullif(serial, '') END),"
	" min(start_ms), max(end_ms), sum(duration_ms)::float8 / count(*),"
	" count(*) FILTER (WHERE " UNVERIFIED_EXPR ")"
	" FROM rpiprov_attempts WHERE " WINDOW " GROUP BY station ORDER BY station COLLATE \"C\"";

static const char repeat_serials_sql[] =
	"SELECT serial, station, count(*), count(*) FILTER (WHERE " OK_EXPR ")"
	" FROM rpiprov_attempts WHERE " WINDOW " AND serial <> '' AND serial IN"
	" (SELECT serial FROM rpiprov_attempts WHERE " WINDOW " AND serial <> '' GROUP BY serial"
	"  HAVING count(DISTINCT station) > 1 OR count(*) FILTER (WHERE " OK_EXPR ") > 1)"
	" GROUP BY serial, station ORDER BY serial COLLATE \"C\", station COLLATE \"C\"";

static const char attempts_sql[] =
	"SELECT run_id, station, attempt_id, serial, port, soc, pid, start_ms, end_ms,"
	" stage1_ms, reenum_ms, serve_ms, verify_ms, result, coalesce(error_code, ''),"
	" coalesce(error, ''), coalesce(served_sha256, ''), coalesce(eeprom_hash, ''),"
	" bytes_served, files_served, metadata, metadata_dropped"
	" FROM rpiprov_attempts WHERE " WINDOW " ORDER BY start_ms, attempt_id, uid COLLATE \"C\"";

static const enum rp_board_result bound_results[] = {
	RP_RESULT_OK, RP_RESULT_SERVED, RP_RESULT_FAILED, RP_RESULT_TIMEOUT, RP_RESULT_LEFT,
	RP_RESULT_UNVERIFIED,
};

struct pg_query {
	struct rp_query base;
	PGconn *c;
};

static int pg_error(struct pg_query *q, struct rp_diag *d, int code, const char *what)
{
	return rp_pg_fail(q->c, q->base.name, code, what, d);
}

static PGresult *run(struct pg_query *q, const char *sql, const struct rp_query_window *w,
		     int *ret, struct rp_diag *d)
{
	char since[24], until[24];
	const char *v[N_PARAMS];
	PGresult *res;

	snprintf(since, sizeof(since), "%lld", (long long)w->since);
	snprintf(until, sizeof(until), "%lld", (long long)w->until);
	v[0] = since;
	v[1] = w->until == INT64_MAX ? NULL : until;
	for (size_t i = 0; i < sizeof(bound_results) / sizeof(bound_results[0]); i++)
		v[2 + i] = rp_board_result_name(bound_results[i]);
	v[8] = w->simulated ? "true" : "false";
	res = PQexecParams(q->c, sql, N_PARAMS, param_types, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		*ret = pg_error(q, d, PQstatus(q->c) == CONNECTION_OK ? RP_ERR_FORMAT : RP_ERR_IO,
				"query failed");
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Numbers as the server printed them; a NULL (an empty group) is 0. A
 * value out of range (it cannot come from these columns) clamps. */
static int64_t get_i64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static uint64_t get_u64(PGresult *res, int row, int col)
{
	int64_t v = get_i64(res, row, col);
	return v < 0 ? 0 : (uint64_t)v;
}

static double get_f(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0.0 : strtod(PQgetvalue(res, row, col), NULL);
}

static void get_s(char *dst, size_t cap, PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

typedef void (*fill_fn)(void *elem, PGresult *res, int row);

static int collect(struct rp_query *base, const char *sql, const struct rp_query_window *w,
		   void **arr, size_t *n, size_t size, fill_fn fill, struct rp_diag *d)
{
	int ret = RP_OK, rows;
	PGresult *res = run((struct pg_query *)base, sql, w, &ret, d);

	*arr = NULL;
	*n = 0;
	if (!res)
		return ret;
	rows = PQntuples(res);
	if (rows > 0) {
		*arr = calloc((size_t)rows, size);
		if (!*arr) {
			PQclear(res);
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		}
	}
	for (int i = 0; i < rows; i++)
		fill((char *)*arr + (size_t)i * size, res, i);
	*n = (size_t)rows;
	PQclear(res);
	return RP_OK;
}

static void fill_totals(struct rp_query_totals *t, PGresult *res, int row, int col)
{
	t->attempts = get_u64(res, row, col);
	t->ok = get_u64(res, row, col + 1);
	t->failed = get_u64(res, row, col + 2);
	t->boards = get_u64(res, row, col + 3);
	t->boards_ok = get_u64(res, row, col + 4);
	t->first_unix_ms = get_i64(res, row, col + 5);
	t->last_unix_ms = get_i64(res, row, col + 6);
	t->mean_ms = get_f(res, row, col + 7);
	t->unverified = get_u64(res, row, col + 8);
}

static int q_totals(struct rp_query *base, const struct rp_query_window *w,
		    struct rp_query_totals *out, struct rp_diag *d)
{
	int ret = RP_OK;
	PGresult *res = run((struct pg_query *)base, totals_sql, w, &ret, d);

	memset(out, 0, sizeof(*out));
	if (!res)
		return ret;
	if (PQntuples(res) == 1)
		fill_totals(out, res, 0, 0);
	PQclear(res);
	return RP_OK;
}

static void fill_reason(void *elem, PGresult *res, int row)
{
	struct rp_report_reason *r = elem;

	get_s(r->result, sizeof(r->result), res, row, 0);
	get_s(r->error_code, sizeof(r->error_code), res, row, 1);
	r->count = get_u64(res, row, 2);
	get_s(r->example, sizeof(r->example), res, row, 3);
}

static int q_reasons(struct rp_query *q, const struct rp_query_window *w,
		     struct rp_report_reason **out, size_t *n, struct rp_diag *d)
{
	return collect(q, reasons_sql, w, (void **)out, n, sizeof(**out), fill_reason, d);
}

static void fill_port(void *elem, PGresult *res, int row)
{
	struct rp_report_port *p = elem;

	get_s(p->station, sizeof(p->station), res, row, 0);
	get_s(p->port, sizeof(p->port), res, row, 1);
	p->attempts = get_u64(res, row, 2);
	p->ok = get_u64(res, row, 3);
	p->failed = get_u64(res, row, 4);
	p->mean_ms = get_f(res, row, 5);
	p->mean_ok_ms = get_f(res, row, 6);
	p->unverified = get_u64(res, row, 7);
}

static int q_ports(struct rp_query *q, const struct rp_query_window *w, struct rp_report_port **out,
		   size_t *n, struct rp_diag *d)
{
	return collect(q, ports_sql, w, (void **)out, n, sizeof(**out), fill_port, d);
}

static void fill_hour(void *elem, PGresult *res, int row)
{
	struct rp_report_hour *h = elem;

	h->start_unix_ms = get_i64(res, row, 0);
	h->attempts = get_u64(res, row, 1);
	h->ok = get_u64(res, row, 2);
	h->failed = get_u64(res, row, 3);
	h->unverified = get_u64(res, row, 4);
}

static int q_hours(struct rp_query *q, const struct rp_query_window *w, struct rp_report_hour **out,
		   size_t *n, struct rp_diag *d)
{
	return collect(q, hours_sql, w, (void **)out, n, sizeof(**out), fill_hour, d);
}

static void fill_station(void *elem, PGresult *res, int row)
{
	struct rp_report_station *s = elem;

	get_s(s->station, sizeof(s->station), res, row, 0);
	fill_totals(&s->t, res, row, 1);
}

static int q_stations(struct rp_query *q, const struct rp_query_window *w,
		      struct rp_report_station **out, size_t *n, struct rp_diag *d)
{
	return collect(q, stations_sql, w, (void **)out, n, sizeof(**out), fill_station, d);
}

static void fill_serial(void *elem, PGresult *res, int row)
{
	struct rp_report_serial_station *s = elem;

	get_s(s->serial, sizeof(s->serial), res, row, 0);
	get_s(s->station, sizeof(s->station), res, row, 1);
	s->attempts = get_u64(res, row, 2);
	s->ok = get_u64(res, row, 3);
}

static int q_repeat_serials(struct rp_query *q, const struct rp_query_window *w,
			    struct rp_report_serial_station **out, size_t *n, struct rp_diag *d)
{
	return collect(q, repeat_serials_sql, w, (void **)out, n, sizeof(**out), fill_serial, d);
}

static void row_to_record(PGresult *res, int i, struct rp_board_record *r)
{
	char text[64];

	memset(r, 0, sizeof(*r));
	r->attempt_id = get_u64(res, i, 2);
	get_s(r->serial, sizeof(r->serial), res, i, 3);
	get_s(r->port_path, sizeof(r->port_path), res, i, 4);
	get_s(r->soc, sizeof(r->soc), res, i, 5);
	r->pid = (uint16_t)get_u64(res, i, 6);
	r->start_unix_ms = get_i64(res, i, 7);
	r->end_unix_ms = get_i64(res, i, 8);
	for (int p = 0; p < RP_PHASE_COUNT; p++) {
		uint64_t v = get_u64(res, i, 9 + p);
		r->phase_ms[p] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	}
	get_s(text, sizeof(text), res, i, 13);
	r->result = rp_board_result_from_name(text);
	get_s(text, sizeof(text), res, i, 14);
	if (!rp_error_from_name(text, &r->error_code))
		r->error_code = text[0] ? RP_ERR_IO : RP_OK;
	get_s(r->error, sizeof(r->error), res, i, 15);
	get_s(r->served_sha256, sizeof(r->served_sha256), res, i, 16);
	get_s(r->reported_hash, sizeof(r->reported_hash), res, i, 17);
	r->bytes_served = get_u64(res, i, 18);
	r->files_served = (unsigned)get_u64(res, i, 19);
	rp_json_meta_to_record(PQgetisnull(res, i, 20) ? NULL : PQgetvalue(res, i, 20), r);
	r->meta_dropped = (unsigned)get_u64(res, i, 21);
}

static int q_attempts(struct rp_query *base, const struct rp_query_window *w, rp_query_row_fn fn,
		      void *ctx, struct rp_diag *d)
{
	int ret = RP_OK;
	PGresult *res = run((struct pg_query *)base, attempts_sql, w, &ret, d);
	struct rp_board_record *rec = malloc(sizeof(*rec));
	char run_id[RP_ORIGIN_RUN_ID_MAX * 2], station[RP_ORIGIN_STATION_MAX * 2];
	struct rp_record_origin origin = { station, run_id };

	if (res && !rec)
		ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	for (int i = 0; ret == RP_OK && i < PQntuples(res); i++) {
		get_s(run_id, sizeof(run_id), res, i, 0);
		get_s(station, sizeof(station), res, i, 1);
		row_to_record(res, i, rec);
		rec->simulated = w->simulated; /* the window picked them by it */
		ret = fn(ctx, &origin, rec);
	}
	PQclear(res);
	free(rec);
	return ret;
}

static void q_close(struct rp_query *base)
{
	struct pg_query *q = (struct pg_query *)base;

	PQfinish(q->c);
	free(q);
}

static const struct rp_query_ops pg_query_ops = {
	.totals = q_totals,
	.failure_reasons = q_reasons,
	.ports = q_ports,
	.hours = q_hours,
	.stations = q_stations,
	.repeat_serials = q_repeat_serials,
	.attempts = q_attempts,
	.close = q_close,
};

/* The schema must be one we know: absent tables are "not a line
 * database", a newer version is refused rather than misread. */
static int check_schema(struct pg_query *q, int *version_out, struct rp_diag *d)
{
	PGresult *res = PQexec(q->c, "SELECT to_regclass('rpiprov_schema') IS NOT NULL");
	int version = 0, ret = RP_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		ret = pg_error(q, d, RP_ERR_IO, "cannot read the schema");
	else if (strcmp(PQgetvalue(res, 0, 0), "t"))
		ret = rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: no rpiprov records here (no rpiprov_schema table)",
				  q->base.name);
	PQclear(res);
	if (ret < 0)
		return ret;
	res = PQexec(q->c, "SELECT coalesce(max(version), 0) FROM rpiprov_schema");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		version = atoi(PQgetvalue(res, 0, 0));
	else
		ret = pg_error(q, d, RP_ERR_IO, "cannot read the schema version");
	PQclear(res);
	if (ret == RP_OK && version > PG_SCHEMA_VERSION)
		ret = rp_diag_set(d, RP_ERR_UNSUPPORTED,
				  "%s: schema version %d is newer than this rpiprov understands (%d)",
				  q->base.name, version, PG_SCHEMA_VERSION);
	else if (ret == RP_OK && version < 1)
		ret = rp_diag_set(d, RP_ERR_FORMAT, "%s: the rpiprov schema was never completed",
				  q->base.name);
	*version_out = version;
	return ret;
}

static int begin_read(struct pg_query *q, struct rp_diag *d)
{
	PGresult *res = PQexec(q->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	int ret = RP_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = pg_error(q, d, RP_ERR_IO, "cannot start a read-only transaction");
	PQclear(res);
	return ret;
}

int rp_pg_query_open(const char *conninfo, struct rp_query **out, struct rp_diag *d)
{
	struct pg_query *q;
	PGresult *res;
	int ret, version = 0;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	q->base.ops = &pg_query_ops;
	ret = rp_pg_conninfo_check(conninfo, q->base.name, sizeof(q->base.name), NULL, 0, d);
	if (ret < 0) {
		free(q);
		return ret;
	}
	ret = rp_pg_connect(conninfo, q->base.name, NULL, &q->c, d);
	if (ret == RP_ERR_IO || ret == RP_ERR_TIMEOUT) {
		/* Not reached (refused, no route, no socket, no answer): the
		 * service is unavailable (69), as the report's help says. */
		ret = RP_ERR_NETWORK;
		if (d)
			d->code = ret;
	}
	if (ret < 0) {
		q_close(&q->base);
		return ret;
	}
	ret = begin_read(q, d);
	if (ret == RP_OK)
		ret = check_schema(q, &version, d);
	/* Version 1 (no station has migrated it yet; a report never does):
	 * the simulated column as version 2 fills it, in a temporary view
	 * that shadows the table for this session (made outside the
	 * read-only transaction, which may create nothing). */
	if (ret == RP_OK && version == 1) {
		res = PQexec(q->c, "COMMIT");
		PQclear(res);
		res = PQexec(q->c, "CREATE TEMP VIEW rpiprov_attempts AS SELECT *,"
			     " run_id LIKE 'synthetic-%' AS simulated FROM rpiprov_attempts");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ret = pg_error(q, d, RP_ERR_IO, "cannot read a version 1 schema");
		PQclear(res);
		if (ret == RP_OK)
			ret = begin_read(q, d);
	}
	if (ret < 0) {
		q_close(&q->base);
		return ret;
	}
	*out = &q->base;
	return RP_OK;
}
