#include "station/report_summary.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Results as the records name them; bound into every query so SQL and C
 * agree on the words. ?1 since, ?2 OK, ?3 SERVED, ?4 FAILED, ?5 TIMEOUT, ?6 LEFT. */
#define OK_EXPR "(result IN (?2, ?3))"
#define FAIL_EXPR "(result IN (?4, ?5, ?6))"

static const char totals_sql[] =
	"SELECT count(*), total(" OK_EXPR "), total(" FAIL_EXPR "),"
	" count(DISTINCT nullif(serial, '')),"
	" count(DISTINCT CASE WHEN " OK_EXPR " THEN nullif(serial, '') END),"
	" coalesce(min(start_ms), 0), coalesce(max(end_ms), 0), coalesce(avg(duration_ms), 0)"
	" FROM attempts WHERE start_ms >= ?1";

/* SQLite takes the bare columns (error) from the row holding max(end_ms). */
static const char reasons_sql[] =
	"SELECT result, coalesce(error_code, ''), count(*), coalesce(error, ''), max(end_ms)"
	" FROM attempts WHERE start_ms >= ?1 AND " FAIL_EXPR
	" GROUP BY result, error_code ORDER BY count(*) DESC, result, error_code";

static const char ports_sql[] =
	"SELECT port, count(*), total(" OK_EXPR "), total(" FAIL_EXPR "), avg(duration_ms),"
	" coalesce(avg(CASE WHEN " OK_EXPR " THEN duration_ms END), 0)"
	" FROM attempts WHERE start_ms >= ?1 GROUP BY port ORDER BY port";

static const char hours_sql[] =
	"SELECT (end_ms / 3600000) * 3600000 AS hour, count(*), total(" OK_EXPR "),"
	" total(" FAIL_EXPR ")"
	" FROM attempts WHERE start_ms >= ?1 GROUP BY hour ORDER BY hour";

static int query(struct rp_db *db, const char *sql, int64_t since, sqlite3_stmt **st,
		 struct rp_diag *d)
{
	static const enum rp_board_result results[] = {
		RP_RESULT_OK, RP_RESULT_SERVED, RP_RESULT_FAILED, RP_RESULT_TIMEOUT, RP_RESULT_LEFT,
	};
	sqlite3 *h = rp_db_handle(db);
	int rc = sqlite3_prepare_v2(h, sql, -1, st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*st, 1, since);
	for (int i = 0; rc == SQLITE_OK && i < 5; i++)
		rc = sqlite3_bind_text(*st, 2 + i, rp_board_result_name(results[i]), -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: cannot query: %s", rp_db_path(db),
				   sqlite3_errmsg(h));
	}
	return RP_OK;
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

static int step_error(struct rp_db *db, sqlite3_stmt *st, int rc, struct rp_diag *d)
{
	int ret = rp_diag_set(d, rc == SQLITE_NOMEM ? RP_ERR_NOMEM : RP_ERR_IO, "%s: query failed: %s",
			      rp_db_path(db), sqlite3_errmsg(rp_db_handle(db)));
	sqlite3_finalize(st);
	return ret;
}

int rp_report_summary_build(struct rp_db *db, int64_t since, struct rp_report_summary *out,
			    struct rp_diag *d)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret;

	memset(out, 0, sizeof(*out));
	out->since_unix_ms = since;

	ret = query(db, totals_sql, since, &st, d);
	if (ret < 0)
		return ret;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return step_error(db, st, rc, d);
	out->attempts = (uint64_t)sqlite3_column_int64(st, 0);
	out->ok = (uint64_t)sqlite3_column_double(st, 1);
	out->failed = (uint64_t)sqlite3_column_double(st, 2);
	out->boards = (uint64_t)sqlite3_column_int64(st, 3);
	out->boards_ok = (uint64_t)sqlite3_column_int64(st, 4);
	out->first_unix_ms = sqlite3_column_int64(st, 5);
	out->last_unix_ms = sqlite3_column_int64(st, 6);
	out->mean_ms = sqlite3_column_double(st, 7);
	sqlite3_finalize(st);
	if (out->last_unix_ms - out->first_unix_ms >= 1000)
		out->boards_per_hour = (double)out->ok * 3600000.0 /
				       (double)(out->last_unix_ms - out->first_unix_ms);

	ret = query(db, reasons_sql, since, &st, d);
	while (ret == RP_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_report_reason *r = push((void **)&out->reasons, &out->n_reasons, sizeof(*r));
		if (!r) {
			sqlite3_finalize(st);
			ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
			break;
		}
		copy_col(r->result, sizeof(r->result), st, 0);
		copy_col(r->error_code, sizeof(r->error_code), st, 1);
		r->count = (uint64_t)sqlite3_column_int64(st, 2);
		copy_col(r->example, sizeof(r->example), st, 3);
	}
	if (ret == RP_OK && rc != SQLITE_DONE)
		ret = step_error(db, st, rc, d);
	else if (ret == RP_OK)
		sqlite3_finalize(st);

	if (ret == RP_OK)
		ret = query(db, ports_sql, since, &st, d);
	while (ret == RP_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_report_port *p = push((void **)&out->ports, &out->n_ports, sizeof(*p));
		if (!p) {
			sqlite3_finalize(st);
			ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
			break;
		}
		copy_col(p->port, sizeof(p->port), st, 0);
		p->attempts = (uint64_t)sqlite3_column_int64(st, 1);
		p->ok = (uint64_t)sqlite3_column_double(st, 2);
		p->failed = (uint64_t)sqlite3_column_double(st, 3);
		p->mean_ms = sqlite3_column_double(st, 4);
		p->mean_ok_ms = sqlite3_column_double(st, 5);
	}
	if (ret == RP_OK && rc != SQLITE_DONE)
		ret = step_error(db, st, rc, d);
	else if (ret == RP_OK)
		sqlite3_finalize(st);

	if (ret == RP_OK)
		ret = query(db, hours_sql, since, &st, d);
	while (ret == RP_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_report_hour *h = push((void **)&out->hours, &out->n_hours, sizeof(*h));
		if (!h) {
			sqlite3_finalize(st);
			ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
			break;
		}
		h->start_unix_ms = sqlite3_column_int64(st, 0);
		h->attempts = (uint64_t)sqlite3_column_int64(st, 1);
		h->ok = (uint64_t)sqlite3_column_double(st, 2);
		h->failed = (uint64_t)sqlite3_column_double(st, 3);
	}
	if (ret == RP_OK && rc != SQLITE_DONE)
		ret = step_error(db, st, rc, d);
	else if (ret == RP_OK)
		sqlite3_finalize(st);

	if (ret < 0)
		rp_report_summary_free(out);
	return ret;
}

void rp_report_summary_free(struct rp_report_summary *s)
{
	free(s->reasons);
	free(s->ports);
	free(s->hours);
	s->reasons = NULL;
	s->ports = NULL;
	s->hours = NULL;
	s->n_reasons = s->n_ports = s->n_hours = 0;
}
