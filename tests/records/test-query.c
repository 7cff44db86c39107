/* The query interface (records/query.h) over the SQLite backend: each
 * query on its own, the report summary built from them, the attempts
 * read back field by field, and the ways opening can fail. */
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/query.h"
#include "records/report_summary.h"
#include "records/sqlite_db.h"
#include "record_fixtures.h"
#include "testlib.h"

static void test_summary(void)
{
	/* Attempts: port 1-1.1: OK 4000, OK 6000, FAILED 1000 (VERIFY)
	 *           port 1-1.2: OK 5000, TIMEOUT 120000, FAILED 2000 (VERIFY)
	 *           port 1-1.3: LEFT 500 (NO_DEVICE), one hour later
	 * plus one attempt long before, excluded by since. */
	struct {
		const char *port, *serial;
		enum rp_board_result res;
		int64_t start;
		uint32_t dur;
		int code;
	} rows[] = {
		{ "1-1.1", "s1", RP_RESULT_OK, 1714564800000LL, 4000, 0 },
		{ "1-1.1", "s2", RP_RESULT_OK, 1714564810000LL, 6000, 0 },
		{ "1-1.1", "s3", RP_RESULT_FAILED, 1714564820000LL, 1000, RP_ERR_VERIFY },
		{ "1-1.2", "s3", RP_RESULT_OK, 1714564830000LL, 5000, 0 },
		{ "1-1.2", "s4", RP_RESULT_TIMEOUT, 1714564840000LL, 120000, RP_ERR_TIMEOUT },
		{ "1-1.2", "s5", RP_RESULT_FAILED, 1714564850000LL, 2000, RP_ERR_VERIFY },
		{ "1-1.3", "", RP_RESULT_LEFT, 1714568400000LL, 500, RP_ERR_NO_DEVICE },
		{ "1-1.9", "old", RP_RESULT_OK, 1600000000000LL, 100, 0 },
	};
	struct rp_record_origin origin = { "sum", "runS" };
	struct rp_report_summary s;
	struct rp_query *q;
	struct rp_db *db;
	struct rp_diag d;
	const char *path = "summary.db";

	CHECK_EQ_INT(rp_db_open(path, RP_DB_READWRITE, &db, NULL), RP_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rp_board_record r;
		make_record(&r, i + 1, rows[i].port, rows[i].serial, rows[i].res, rows[i].start, rows[i].dur);
		r.error_code = rows[i].code;
		CHECK_EQ_INT(rp_db_add_attempt(db, &r, &origin, NULL), RP_OK);
	}
	rp_db_close(db);

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sqlite_query_open(path, &q, &d), RP_OK);
	if (!q)
		return;
	CHECK_STR_EQ(q->name, path);
	CHECK_EQ_INT(rp_report_summary_build(q, &(struct rp_query_window){ .since = 1714521600000LL, .until = INT64_MAX }, &s, &d), RP_OK);
	CHECK_EQ_INT(s.attempts, 7);
	CHECK_EQ_INT(s.ok, 3);
	CHECK_EQ_INT(s.failed, 4);
	CHECK_EQ_INT(s.boards, 5);
	CHECK_EQ_INT(s.boards_ok, 3);
	CHECK_EQ_INT(s.first_unix_ms, 1714564800000LL);
	CHECK_EQ_INT(s.last_unix_ms, 1714568400500LL);
	CHECK(s.mean_ms > 138500.0 / 7 - 0.01 && s.mean_ms < 138500.0 / 7 + 0.01);
	/* 3 OK over 3600.5 s */
	CHECK(s.boards_per_hour > 2.99 && s.boards_per_hour < 3.0);

	CHECK_EQ_INT(s.n_reasons, 3);
	if (s.n_reasons == 3) {
		CHECK_STR_EQ(s.reasons[0].result, "FAILED");
		CHECK_STR_EQ(s.reasons[0].error_code, "RP_ERR_VERIFY");
		CHECK_EQ_INT(s.reasons[0].count, 2);
		CHECK_CONTAINS(s.reasons[0].example, "s5"); /* the latest of the two */
		CHECK_EQ_INT(s.reasons[1].count, 1);
		CHECK_EQ_INT(s.reasons[2].count, 1);
	}
	CHECK_EQ_INT(s.n_ports, 3);
	if (s.n_ports == 3) {
		CHECK_STR_EQ(s.ports[0].port, "1-1.1");
		CHECK_EQ_INT(s.ports[0].attempts, 3);
		CHECK_EQ_INT(s.ports[0].ok, 2);
		CHECK_EQ_INT(s.ports[0].failed, 1);
		CHECK_EQ_INT((long)s.ports[0].mean_ms, (4000 + 6000 + 1000) / 3);
		CHECK_EQ_INT((long)s.ports[0].mean_ok_ms, 5000);
		CHECK_STR_EQ(s.ports[1].port, "1-1.2");
		CHECK_EQ_INT(s.ports[1].failed, 2);
		CHECK_STR_EQ(s.ports[2].port, "1-1.3");
		CHECK_EQ_INT((long)s.ports[2].mean_ok_ms, 0);
	}
	CHECK_EQ_INT(s.n_hours, 2);
	if (s.n_hours == 2) {
		CHECK_EQ_INT(s.hours[0].start_unix_ms, 1714564800000LL);
		CHECK_EQ_INT(s.hours[0].attempts, 6);
		CHECK_EQ_INT(s.hours[0].ok, 3);
		CHECK_EQ_INT(s.hours[1].attempts, 1);
		CHECK_EQ_INT(s.hours[1].failed, 1);
	}
	rp_report_summary_free(&s);

	CHECK_EQ_INT(rp_report_summary_build(q, &RP_QUERY_ALL, &s, &d), RP_OK);
	CHECK_EQ_INT(s.attempts, 8);
	CHECK_EQ_INT(s.n_ports, 4);
	rp_report_summary_free(&s);
	CHECK_EQ_INT(rp_report_summary_build(q, &(struct rp_query_window){ .since = 1800000000000LL, .until = INT64_MAX }, &s, &d), RP_OK);
	CHECK_EQ_INT(s.attempts, 0);
	CHECK_EQ_INT(s.n_ports, 0);
	CHECK(s.boards_per_hour == 0);
	rp_report_summary_free(&s);
	rp_query_close(q);
}


/* Three attempts, written by the backend the sinks use. */
static void fill(const char *path, struct rp_board_record r[3])
{
	struct rp_record_origin a = { "line-1", "runA" }, b = { "line-2", "runB" };
	struct rp_db *db = NULL;

	make_record(&r[0], 1, "1-1.1", "10000000cccc0001", RP_RESULT_OK, 1714566896000LL, 4000);
	make_record(&r[1], 2, "1-1.2", "10000000cccc0002", RP_RESULT_FAILED, 1714566897000LL, 1500);
	make_record(&r[2], 1, "1-1.3", "", RP_RESULT_LEFT, 1714570000000LL, 300);
	r[2].error_code = RP_ERR_NO_DEVICE;
	add_meta(&r[0], "FACTORY_UUID", "not-c40");
	CHECK_EQ_INT(rp_db_open(path, RP_DB_READWRITE, &db, NULL), RP_OK);
	if (!db)
		return;
	CHECK_EQ_INT(rp_db_add_attempt(db, &r[0], &a, NULL), RP_OK);
	CHECK_EQ_INT(rp_db_add_attempt(db, &r[1], &a, NULL), RP_OK);
	CHECK_EQ_INT(rp_db_add_attempt(db, &r[2], &b, NULL), RP_OK);
	rp_db_close(db);
}

static void test_queries(void)
{
	struct rp_board_record r[3];
	struct rp_query_totals t;
	struct rp_report_reason *reasons = NULL;
	struct rp_report_port *ports = NULL;
	struct rp_report_hour *hours = NULL;
	size_t n = 99;
	struct rp_query *q;

	fill("queries.db", r);
	CHECK_EQ_INT(rp_sqlite_query_open("queries.db", &q, NULL), RP_OK);
	if (!q)
		return;
	CHECK_EQ_INT(rp_query_totals(q, &RP_QUERY_ALL, &t, NULL), RP_OK);
	CHECK_EQ_INT(t.attempts, 3);
	CHECK_EQ_INT(t.ok, 1);
	CHECK_EQ_INT(t.failed, 2);
	CHECK_EQ_INT(t.boards, 2);
	CHECK_EQ_INT(t.boards_ok, 1);
	CHECK_EQ_INT(t.first_unix_ms, 1714566896000LL);
	CHECK_EQ_INT(t.last_unix_ms, 1714570000300LL);
	CHECK_EQ_INT(rp_query_totals(q, &(struct rp_query_window){ .since = 1714566897000LL, .until = INT64_MAX }, &t, NULL), RP_OK);
	CHECK_EQ_INT(t.attempts, 2);

	CHECK_EQ_INT(rp_query_failure_reasons(q, &RP_QUERY_ALL, &reasons, &n, NULL), RP_OK);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(reasons[0].result, "FAILED");
		CHECK_STR_EQ(reasons[0].error_code, "RP_ERR_VERIFY");
		CHECK_STR_EQ(reasons[1].result, "LEFT");
		CHECK_STR_EQ(reasons[1].error_code, "RP_ERR_NO_DEVICE");
	}
	free(reasons);
	CHECK_EQ_INT(rp_query_ports(q, &RP_QUERY_ALL, &ports, &n, NULL), RP_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_STR_EQ(ports[2].port, "1-1.3");
		CHECK_EQ_INT(ports[0].ok, 1);
		CHECK_EQ_INT((long)ports[0].mean_ok_ms, 4000);
	}
	free(ports);
	CHECK_EQ_INT(rp_query_hours(q, &RP_QUERY_ALL, &hours, &n, NULL), RP_OK);
	CHECK_EQ_INT(n, 2);
	free(hours);
	/* Nothing after: empty lists, not errors. */
	reasons = (void *)1;
	CHECK_EQ_INT(rp_query_failure_reasons(q, &(struct rp_query_window){ .since = 1800000000000LL, .until = INT64_MAX }, &reasons, &n, NULL), RP_OK);
	CHECK_EQ_INT(n, 0);
	CHECK(reasons == NULL);
	rp_query_close(q);
}

struct rows {
	unsigned n;
	struct rp_board_record rec[4];
	char run_id[4][16], station[4][16];
	unsigned stop_after; /* 0: never */
};

static int on_row(void *ctx, const struct rp_record_origin *o, const struct rp_board_record *r)
{
	struct rows *rows = ctx;

	if (rows->n < 4) {
		rows->rec[rows->n] = *r;
		snprintf(rows->run_id[rows->n], sizeof(rows->run_id[0]), "%s", o->run_id);
		snprintf(rows->station[rows->n], sizeof(rows->station[0]), "%s", o->station);
	}
	rows->n++;
	return rows->stop_after && rows->n == rows->stop_after ? RP_ERR_INTERRUPTED : RP_OK;
}

/* Rows since T come back as the records that went in. */
static void test_rows_since(void)
{
	struct rp_board_record r[3];
	struct rows rows;
	struct rp_query *q;

	fill("rows.db", r);
	CHECK_EQ_INT(rp_sqlite_query_open("rows.db", &q, NULL), RP_OK);
	if (!q)
		return;
	memset(&rows, 0, sizeof(rows));
	CHECK_EQ_INT(rp_query_attempts(q, &RP_QUERY_ALL, on_row, &rows, NULL), RP_OK);
	CHECK_EQ_INT(rows.n, 3);
	for (unsigned i = 0; i < 3 && rows.n == 3; i++) {
		const struct rp_board_record *a = &r[i], *b = &rows.rec[i];
		CHECK_EQ_INT(b->attempt_id, a->attempt_id);
		CHECK_STR_EQ(b->serial, a->serial);
		CHECK_STR_EQ(b->port_path, a->port_path);
		CHECK_STR_EQ(b->soc, a->soc);
		CHECK_EQ_INT(b->pid, a->pid);
		CHECK_EQ_INT(b->start_unix_ms, a->start_unix_ms);
		CHECK_EQ_INT(b->end_unix_ms, a->end_unix_ms);
		for (int p = 0; p < RP_PHASE_COUNT; p++)
			CHECK_EQ_INT(b->phase_ms[p], a->phase_ms[p]);
		CHECK_EQ_INT(b->result, a->result);
		CHECK_EQ_INT(b->error_code, a->error_code);
		CHECK_STR_EQ(b->error, a->error);
		CHECK_STR_EQ(b->served_sha256, a->served_sha256);
		CHECK_STR_EQ(b->reported_hash, a->reported_hash);
		CHECK_EQ_INT(b->bytes_served, a->bytes_served);
		CHECK_EQ_INT(b->files_served, a->files_served);
		CHECK_EQ_INT(b->meta_dropped, a->meta_dropped);
		CHECK_EQ_INT(b->n_meta, a->n_meta);
		for (unsigned m = 0; m < a->n_meta && m < b->n_meta; m++) {
			CHECK_STR_EQ(b->meta[m].key, a->meta[m].key);
			CHECK_STR_EQ(b->meta[m].value, a->meta[m].value);
		}
	}
	CHECK_STR_EQ(rows.run_id[0], "runA");
	CHECK_STR_EQ(rows.station[0], "line-1");
	CHECK_STR_EQ(rows.run_id[2], "runB");

	/* Since T: the later ones only, in start order. */
	memset(&rows, 0, sizeof(rows));
	CHECK_EQ_INT(rp_query_attempts(q, &(struct rp_query_window){ .since = 1714566897000LL, .until = INT64_MAX }, on_row, &rows, NULL), RP_OK);
	CHECK_EQ_INT(rows.n, 2);
	CHECK_STR_EQ(rows.rec[0].port_path, "1-1.2");
	/* The callback can stop the walk; its code comes back. */
	memset(&rows, 0, sizeof(rows));
	rows.stop_after = 1;
	CHECK_EQ_INT(rp_query_attempts(q, &RP_QUERY_ALL, on_row, &rows, NULL), RP_ERR_INTERRUPTED);
	CHECK_EQ_INT(rows.n, 1);
	rp_query_close(q);
}

static void test_open_errors(void)
{
	struct rp_query *q = (void *)1;
	struct rp_diag d;
	sqlite3 *h;
	FILE *f;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sqlite_query_open("missing.db", &q, &d), RP_ERR_NOT_FOUND);
	CHECK(q == NULL);
	CHECK_CONTAINS(d.msg, "missing.db");
	/* Opening to read never creates the file. */
	CHECK(access("missing.db", F_OK) != 0);

	f = fopen("garbage.db", "w");
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not sqlite ", f);
		fclose(f);
	}
	rp_diag_clear(&d);
	CHECK(rp_sqlite_query_open("garbage.db", &q, &d) < 0);
	CHECK_CONTAINS(d.msg, "garbage.db");

	/* An SQLite file that is not ours, and one from a newer rpiprov. */
	CHECK(sqlite3_open("other.db", &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "CREATE TABLE t (x)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sqlite_query_open("other.db", &q, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "not an rpiprov database");
	CHECK(sqlite3_open("other.db", &h) == SQLITE_OK);
	/* A newer rpiprov's: our id in the header, a schema we do not know. */
	CHECK(sqlite3_exec(h, "PRAGMA application_id = 1380992066; PRAGMA user_version = 99",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	CHECK_EQ_INT(rp_sqlite_query_open("other.db", &q, &d), RP_ERR_UNSUPPORTED);
}

int main(void)
{
	char buf[256];
	const char *tmpdir = test_scratch_enter("query", buf, sizeof(buf));
	int rc;

	if (!tmpdir)
		return EXIT_FAILURE;
	RUN(test_summary());
	RUN(test_queries());
	RUN(test_rows_since());
	RUN(test_open_errors());
	rc = test_result();
	test_scratch_leave(tmpdir);
	return rc;
}
