/* The query interface (query.h) over the SQLite database: one SQL
 * statement per question, run on a read-only connection. */
#include "records/json_fields.h"
#include "records/query.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/sqlite_internal.h"

struct sqlite_query {
	struct rp_query base;
	struct rp_db *db;
};

/* Results as the records name them; bound into every query so SQL and C
 * agree on the words. ?1 w, ?2 until (NULL: no end), ?3 OK, ?4 SERVED,
 * ?5 FAILED, ?6 TIMEOUT, ?7 LEFT. The SQL mirrors pg_query.c's: the two
 * must give the same figures. Sorting is by bytes (SQLite's BINARY),
 * which pg_query.c asks for with COLLATE "C". */
#define OK_EXPR "(result IN (?3, ?4))"
#define FAIL_EXPR "(result IN (?5, ?6, ?7))"
#define UNVERIFIED_EXPR "(result = ?8)"
/* :simulated is bound last, by name, so it wins over whatever number
 * SQLite gives it in a statement that does not use ?8. */
#define WINDOW "start_ms >= ?1 AND (?2 IS NULL OR start_ms < ?2) AND simulated = :simulated"

static const char totals_sql[] =
	"SELECT count(*), total(" OK_EXPR "), total(" FAIL_EXPR "),"
	" count(DISTINCT nullif(serial, '')),"
	" count(DISTINCT CASE WHEN " OK_EXPR " THEN nullif(serial, '') END),"
	" coalesce(min(start_ms), 0), coalesce(max(end_ms), 0), coalesce(avg(duration_ms), 0),"
	" total(" UNVERIFIED_EXPR ")"
	" FROM attempts WHERE " WINDOW;

/* SQLite takes the bare columns (error) from the row holding max(end_ms). */
static const char reasons_sql[] =
	"SELECT result, coalesce(error_code, ''), count(*), coalesce(error, ''), max(end_ms)"
	" FROM attempts WHERE " WINDOW " AND " FAIL_EXPR
	" GROUP BY result, error_code ORDER BY count(*) DESC, result, coalesce(error_code, '')";

static const char ports_sql[] =
	"SELECT station, port, count(*), total(" OK_EXPR "), total(" FAIL_EXPR "), avg(duration_ms),"
	" coalesce(avg(CASE WHEN " OK_EXPR " THEN duration_ms END), 0), total(" UNVERIFIED_EXPR ")"
	" FROM attempts WHERE " WINDOW " GROUP BY station, port ORDER BY station, port";

static const char stations_sql[] =
	"SELECT station, count(*), total(" OK_EXPR "), total(" FAIL_EXPR "),"
	" count(DISTINCT nullif(serial, '')),"
	" count(DISTINCT CASE WHEN " OK_EXPR " THEN nullif(serial, '') END),"
	" min(start_ms), max(end_ms), avg(duration_ms), total(" UNVERIFIED_EXPR ")"
	" FROM attempts WHERE " WINDOW " GROUP BY station ORDER BY station";

static const char repeat_serials_sql[] =
	"SELECT serial, station, count(*), total(" OK_EXPR ")"
	" FROM attempts WHERE " WINDOW " AND serial <> '' AND serial IN"
	" (SELECT serial FROM attempts WHERE " WINDOW " AND serial <> '' GROUP BY serial"
	"  HAVING count(DISTINCT station) > 1 OR total(" OK_EXPR ") > 1)"
	" GROUP BY serial, station ORDER BY serial, station";

static const char hours_sql[] =
	"SELECT (end_ms / 3600000) * 3600000 AS hour, count(*), total(" OK_EXPR "),"
	" total(" FAIL_EXPR "), total(" UNVERIFIED_EXPR ")"
	" FROM attempts WHERE " WINDOW " GROUP BY hour ORDER BY hour";

static const char attempts_sql[] =
	"SELECT run_id, station, attempt_id, serial, port, soc, pid, start_ms, end_ms,"
	" stage1_ms, reenum_ms, serve_ms, verify_ms, result, error_code, error, served_sha256,"
	" eeprom_hash, bytes_served, files_served, metadata, metadata_dropped"
	" FROM attempts WHERE " WINDOW " ORDER BY start_ms, attempt_id, id";

static const enum rp_board_result bound_results[] = {
	RP_RESULT_OK, RP_RESULT_SERVED, RP_RESULT_FAILED, RP_RESULT_TIMEOUT, RP_RESULT_LEFT,
	RP_RESULT_UNVERIFIED,
};
#define N_BOUND_RESULTS (int)(sizeof(bound_results) / sizeof(bound_results[0]))

static int prepare(struct rp_db *db, const char *sql, const struct rp_query_window *w,
		   sqlite3_stmt **st, struct rp_diag *d)
{
	int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
	int n_params = rc == SQLITE_OK ? sqlite3_bind_parameter_count(*st) : 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, 1, w->since);
	if (rc == SQLITE_OK && w->until != INT64_MAX)
		rc = sqlite3_bind_int64(*st, 2, w->until);
	for (int i = 0; rc == SQLITE_OK && i < N_BOUND_RESULTS && 3 + i <= n_params; i++)
		rc = sqlite3_bind_text(*st, 3 + i, rp_board_result_name(bound_results[i]), -1,
				       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(*st, sqlite3_bind_parameter_index(*st, ":simulated"), w->simulated);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: cannot query: %s", db->path,
				   sqlite3_errmsg(db->h));
	}
	return RP_OK;
}

static int step_error(struct rp_db *db, int rc, struct rp_diag *d)
{
	return rp_diag_set(d, rc == SQLITE_NOMEM ? RP_ERR_NOMEM : RP_ERR_IO, "%s: query failed: %s",
			   db->path, sqlite3_errmsg(db->h));
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Grow *arr by one element of `size` bytes, zeroed. */
static void *push(void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);
	if (!p)
		return NULL;
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

/* Run sql and hand each row to fill, which fills one element of *arr. */
typedef void (*fill_fn)(void *elem, sqlite3_stmt *st);

static int collect(struct sqlite_query *q, const char *sql, const struct rp_query_window *w, void **arr, size_t *n,
		   size_t size, fill_fn fill, struct rp_diag *d)
{
	struct rp_db *db = q->db;
	sqlite3_stmt *st;
	int rc, ret;

	*arr = NULL;
	*n = 0;
	pthread_mutex_lock(&db->lock);
	ret = prepare(db, sql, w, &st, d);
	while (ret == RP_OK && (rc = sqlite3_step(st)) != SQLITE_DONE) {
		void *e = rc == SQLITE_ROW ? push(arr, n, size) : NULL;
		if (rc != SQLITE_ROW)
			ret = step_error(db, rc, d);
		else if (!e)
			ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		else
			fill(e, st);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	if (ret < 0) {
		free(*arr);
		*arr = NULL;
		*n = 0;
	}
	return ret;
}

static int q_totals(struct rp_query *base, const struct rp_query_window *w, struct rp_query_totals *out,
		    struct rp_diag *d)
{
	struct rp_db *db = ((struct sqlite_query *)base)->db;
	sqlite3_stmt *st;
	int rc, ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&db->lock);
	ret = prepare(db, totals_sql, w, &st, d);
	if (ret == RP_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out->attempts = (uint64_t)sqlite3_column_int64(st, 0);
			out->ok = (uint64_t)sqlite3_column_double(st, 1);
			out->failed = (uint64_t)sqlite3_column_double(st, 2);
			out->boards = (uint64_t)sqlite3_column_int64(st, 3);
			out->boards_ok = (uint64_t)sqlite3_column_int64(st, 4);
			out->first_unix_ms = sqlite3_column_int64(st, 5);
			out->last_unix_ms = sqlite3_column_int64(st, 6);
			out->mean_ms = sqlite3_column_double(st, 7);
			out->unverified = (uint64_t)sqlite3_column_double(st, 8);
		} else {
			ret = step_error(db, rc, d);
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return ret;
}

static void fill_reason(void *elem, sqlite3_stmt *st)
{
	struct rp_report_reason *r = elem;

	copy_col(r->result, sizeof(r->result), st, 0);
	copy_col(r->error_code, sizeof(r->error_code), st, 1);
	r->count = (uint64_t)sqlite3_column_int64(st, 2);
	copy_col(r->example, sizeof(r->example), st, 3);
}

static int q_reasons(struct rp_query *base, const struct rp_query_window *w, struct rp_report_reason **out,
		     size_t *n, struct rp_diag *d)
{
	return collect((struct sqlite_query *)base, reasons_sql, w, (void **)out, n,
		       sizeof(**out), fill_reason, d);
}

static void fill_port(void *elem, sqlite3_stmt *st)
{
	struct rp_report_port *p = elem;

	copy_col(p->station, sizeof(p->station), st, 0);
	copy_col(p->port, sizeof(p->port), st, 1);
	p->attempts = (uint64_t)sqlite3_column_int64(st, 2);
	p->ok = (uint64_t)sqlite3_column_double(st, 3);
	p->failed = (uint64_t)sqlite3_column_double(st, 4);
	p->mean_ms = sqlite3_column_double(st, 5);
	p->mean_ok_ms = sqlite3_column_double(st, 6);
	p->unverified = (uint64_t)sqlite3_column_double(st, 7);
}

static int q_ports(struct rp_query *base, const struct rp_query_window *w, struct rp_report_port **out, size_t *n,
		   struct rp_diag *d)
{
	return collect((struct sqlite_query *)base, ports_sql, w, (void **)out, n, sizeof(**out),
		       fill_port, d);
}

static void fill_hour(void *elem, sqlite3_stmt *st)
{
	struct rp_report_hour *h = elem;

	h->start_unix_ms = sqlite3_column_int64(st, 0);
	h->attempts = (uint64_t)sqlite3_column_int64(st, 1);
	h->ok = (uint64_t)sqlite3_column_double(st, 2);
	h->failed = (uint64_t)sqlite3_column_double(st, 3);
	h->unverified = (uint64_t)sqlite3_column_double(st, 4);
}

static int q_hours(struct rp_query *base, const struct rp_query_window *w, struct rp_report_hour **out, size_t *n,
		   struct rp_diag *d)
{
	return collect((struct sqlite_query *)base, hours_sql, w, (void **)out, n, sizeof(**out),
		       fill_hour, d);
}

static void fill_station(void *elem, sqlite3_stmt *st)
{
	struct rp_report_station *s = elem;

	copy_col(s->station, sizeof(s->station), st, 0);
	s->t.attempts = (uint64_t)sqlite3_column_int64(st, 1);
	s->t.ok = (uint64_t)sqlite3_column_double(st, 2);
	s->t.failed = (uint64_t)sqlite3_column_double(st, 3);
	s->t.boards = (uint64_t)sqlite3_column_int64(st, 4);
	s->t.boards_ok = (uint64_t)sqlite3_column_int64(st, 5);
	s->t.first_unix_ms = sqlite3_column_int64(st, 6);
	s->t.last_unix_ms = sqlite3_column_int64(st, 7);
	s->t.mean_ms = sqlite3_column_double(st, 8);
	s->t.unverified = (uint64_t)sqlite3_column_double(st, 9);
}

static int q_stations(struct rp_query *base, const struct rp_query_window *w,
		      struct rp_report_station **out, size_t *n, struct rp_diag *d)
{
	return collect((struct sqlite_query *)base, stations_sql, w, (void **)out, n, sizeof(**out),
		       fill_station, d);
}

static void fill_serial(void *elem, sqlite3_stmt *st)
{
	struct rp_report_serial_station *s = elem;

	copy_col(s->serial, sizeof(s->serial), st, 0);
	copy_col(s->station, sizeof(s->station), st, 1);
	s->attempts = (uint64_t)sqlite3_column_int64(st, 2);
	s->ok = (uint64_t)sqlite3_column_double(st, 3);
}

static int q_repeat_serials(struct rp_query *base, const struct rp_query_window *w,
			    struct rp_report_serial_station **out, size_t *n, struct rp_diag *d)
{
	return collect((struct sqlite_query *)base, repeat_serials_sql, w, (void **)out, n,
		       sizeof(**out), fill_serial, d);
}

static void row_to_record(sqlite3_stmt *st, struct rp_board_record *r)
{
	char text[64];

	memset(r, 0, sizeof(*r));
	r->attempt_id = (uint64_t)sqlite3_column_int64(st, 2);
	copy_col(r->serial, sizeof(r->serial), st, 3);
	copy_col(r->port_path, sizeof(r->port_path), st, 4);
	copy_col(r->soc, sizeof(r->soc), st, 5);
	r->pid = (uint16_t)sqlite3_column_int(st, 6);
	r->start_unix_ms = sqlite3_column_int64(st, 7);
	r->end_unix_ms = sqlite3_column_int64(st, 8);
	for (int p = 0; p < RP_PHASE_COUNT; p++)
		r->phase_ms[p] = (uint32_t)sqlite3_column_int64(st, 9 + p);
	copy_col(text, sizeof(text), st, 13);
	r->result = rp_board_result_from_name(text);
	copy_col(text, sizeof(text), st, 14);
	if (!rp_error_from_name(text, &r->error_code))
		r->error_code = text[0] ? RP_ERR_IO : RP_OK;
	copy_col(r->error, sizeof(r->error), st, 15);
	copy_col(r->served_sha256, sizeof(r->served_sha256), st, 16);
	copy_col(r->reported_hash, sizeof(r->reported_hash), st, 17);
	r->bytes_served = (uint64_t)sqlite3_column_int64(st, 18);
	r->files_served = (unsigned)sqlite3_column_int64(st, 19);
	rp_json_meta_to_record((const char *)sqlite3_column_text(st, 20), r);
	r->meta_dropped = (unsigned)sqlite3_column_int64(st, 21);
}

static int q_attempts(struct rp_query *base, const struct rp_query_window *w, rp_query_row_fn fn, void *ctx,
		      struct rp_diag *d)
{
	struct rp_db *db = ((struct sqlite_query *)base)->db;
	struct rp_board_record *rec = malloc(sizeof(*rec));
	char run_id[RP_ORIGIN_RUN_ID_MAX * 2], station[RP_ORIGIN_STATION_MAX * 2];
	struct rp_record_origin origin = { station, run_id };
	sqlite3_stmt *st;
	int rc, ret;

	if (!rec)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	/* The lock is held across the callbacks: they must not query again. */
	pthread_mutex_lock(&db->lock);
	ret = prepare(db, attempts_sql, w, &st, d);
	while (ret == RP_OK && (rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW) {
			ret = step_error(db, rc, d);
			break;
		}
		copy_col(run_id, sizeof(run_id), st, 0);
		copy_col(station, sizeof(station), st, 1);
		row_to_record(st, rec);
		rec->simulated = w->simulated; /* the window picked them by it */
		ret = fn(ctx, &origin, rec);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	free(rec);
	return ret;
}

static void q_close(struct rp_query *base)
{
	struct sqlite_query *q = (struct sqlite_query *)base;

	rp_db_close(q->db);
	free(q);
}

static const struct rp_query_ops sqlite_query_ops = {
	.totals = q_totals,
	.failure_reasons = q_reasons,
	.ports = q_ports,
	.hours = q_hours,
	.stations = q_stations,
	.repeat_serials = q_repeat_serials,
	.attempts = q_attempts,
	.close = q_close,
};

int rp_sqlite_query_open(const char *path, struct rp_query **out, struct rp_diag *d)
{
	struct sqlite_query *q;
	int ret;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	ret = rp_db_open(path, RP_DB_READONLY, &q->db, d);
	if (ret < 0) {
		free(q);
		return ret;
	}
	q->base.ops = &sqlite_query_ops;
	snprintf(q->base.name, sizeof(q->base.name), "%s", path);
	*out = &q->base;
	return RP_OK;
}
