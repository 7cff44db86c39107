/* What each record looks like where it is kept: the JSON Lines sink and
 * the SQLite database, read back with json-c and sqlite directly;
 * concurrency with two processes and two threads; the time format the
 * records use. (The recorder and the query interface have their own
 * programs.) */
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "records/record_json.h"
#include "records/sink.h"
#include "records/sqlite_db.h"
#include "util/timefmt.h"
#include "record_fixtures.h"
#include "testlib.h"

/* main() works inside a fresh temporary directory: names are relative. */
static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s", name);
}

/* A JSON Lines sink, opened (NULL when it could not be; d says why). */
static struct rp_sink *jsonl_open(const char *path, struct rp_diag *d)
{
	struct rp_sink *s = NULL;

	if (rp_sink_jsonl_new(path, &s, d) < 0)
		return NULL;
	if (s->ops->open(s, d) < 0) {
		s->ops->close(s);
		return NULL;
	}
	return s;
}

static int jsonl_append(struct rp_sink *s, const struct rp_record_origin *origin,
			const struct rp_board_record *r, struct rp_diag *d)
{
	struct rp_sink_entry e = { .origin = origin, .rec = r, .seq = r->attempt_id };
	return s->ops->append(s, &e, d);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return -12345;
	return json_object_get_int64(v);
}

/* Read a JSONL file: every line must parse on its own. */
static int read_lines(const char *path, struct json_object **objs, int max)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0;

	CHECK(f != NULL);
	if (!f)
		return 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct json_object *o;
		CHECK(line[n - 1] == '\n');
		o = json_tokener_parse(line);
		CHECK(o != NULL && json_object_is_type(o, json_type_object));
		if (count < max)
			objs[count] = o;
		else
			json_object_put(o);
		count++;
	}
	free(line);
	fclose(f);
	return count;
}

static void test_time(void)
{
	char iso[RP_TIME_ISO_MAX];
	int64_t t;
	struct rp_diag d;

	rp_time_format_iso(0, iso);
	CHECK_STR_EQ(iso, "1970-01-01T00:00:00.000Z");
	rp_time_format_iso(1714566896789LL, iso);
	CHECK_STR_EQ(iso, "2024-05-01T12:34:56.789Z");
	rp_time_format_iso(-1, iso);
	CHECK_STR_EQ(iso, "1969-12-31T23:59:59.999Z");

	CHECK_EQ_INT(rp_time_parse("1714566896", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566896000LL);
	CHECK_EQ_INT(rp_time_parse("@0", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 0);
	CHECK_EQ_INT(rp_time_parse("2024-05-01", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714521600000LL);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T12:34:56.789Z", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566896789LL);
	CHECK_EQ_INT(rp_time_parse("2024-05-01 12:34", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566840000LL);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T14:34:56+02:00", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566896000LL);
	CHECK_EQ_INT(rp_time_parse("2024-02-29", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1709164800000LL);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_time_parse("2023-02-29", &t, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "2023-02-29");
	CHECK_EQ_INT(rp_time_parse("yesterday", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-13-01", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T25:00", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05-01X", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("@2024-05-01", &t, NULL), RP_ERR_INVALID_ARG);
	/* strptime alone would take these. */
	CHECK_EQ_INT(rp_time_parse("2024-5-01", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05- 1", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T1:02", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-04-31", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T12:34:56.", &t, NULL), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T12:34+0", &t, NULL), RP_ERR_INVALID_ARG);
	/* UTC whatever the host's time zone. */
	setenv("TZ", "America/New_York", 1);
	tzset();
	CHECK_EQ_INT(rp_time_parse("2024-05-01T12:34:56-0130", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566896000LL + 90 * 60000LL);
	CHECK_EQ_INT(rp_time_parse("2024-05-01T12:34:56", &t, NULL), RP_OK);
	CHECK_EQ_INT(t, 1714566896000LL);
	unsetenv("TZ");
	tzset();
}

static void test_jsonl_round_trip(void)
{
	struct rp_record_origin origin = { "line-3", "run0001" };
	struct rp_sink *j;
	struct rp_board_record r[3];
	struct json_object *objs[8], *v, *p;
	char path[512];
	int n;

	path_in(path, sizeof(path), "sub/dir/report.jsonl");
	j = jsonl_open(path, NULL);
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_STR_EQ(j->name, "report sub/dir/report.jsonl");
	make_record(&r[0], 1, "1-1.1", "10000000aaaa0001", RP_RESULT_OK, 1714566896000LL, 4200);
	make_record(&r[1], 2, "1-1.2", "10000000aaaa0002", RP_RESULT_FAILED, 1714566897000LL, 1500);
	make_record(&r[2], 3, "1-1.3", "", RP_RESULT_TIMEOUT, 1714566898000LL, 120000);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(jsonl_append(j, &origin, &r[i], NULL), RP_OK);
	j->ops->close(j);

	n = read_lines(path, objs, 8);
	CHECK_EQ_INT(n, 3);
	if (n != 3)
		return;
	for (int i = 0; i < 3; i++) {
		CHECK_STR_EQ(jstr(objs[i], "station"), "line-3");
		CHECK_STR_EQ(jstr(objs[i], "run_id"), "run0001");
		CHECK_EQ_INT(jint(objs[i], "attempt_id"), r[i].attempt_id);
		CHECK_STR_EQ(jstr(objs[i], "port"), r[i].port_path);
		CHECK_EQ_INT(jint(objs[i], "start_unix_ms"), r[i].start_unix_ms);
		CHECK_EQ_INT(jint(objs[i], "end_unix_ms"), r[i].end_unix_ms);
		CHECK_EQ_INT(jint(objs[i], "duration_ms"), r[i].end_unix_ms - r[i].start_unix_ms);
		CHECK_STR_EQ(jstr(objs[i], "result"), rp_board_result_name(r[i].result));
		CHECK_STR_EQ(jstr(objs[i], "soc"), "2711");
		CHECK_STR_EQ(jstr(objs[i], "pid"), "2711");
		CHECK_STR_EQ(jstr(objs[i], "served_sha256"), HASH_A);
		CHECK_EQ_INT(jint(objs[i], "bytes_served"), 624288);
		CHECK_EQ_INT(jint(objs[i], "files_served"), 4);
		CHECK_EQ_INT(jint(objs[i], "metadata_dropped"), 1);
		CHECK(json_object_object_get_ex(objs[i], "phase_ms", &p));
		for (int ph = 0; ph < RP_PHASE_COUNT; ph++)
			CHECK_EQ_INT(jint(p, rp_phase_name((enum rp_phase)ph)), r[i].phase_ms[ph]);
		CHECK(json_object_object_get_ex(objs[i], "metadata", &v));
		CHECK_STR_EQ(jstr(v, "MAC_ADDR"), "dc:a6:32:00:00:01");
		CHECK_STR_EQ(jstr(v, "EEPROM_HASH"), HASH_A);
	}
	CHECK_STR_EQ(jstr(objs[0], "start"), "2024-05-01T12:34:56.000Z");
	CHECK_STR_EQ(jstr(objs[0], "end"), "2024-05-01T12:35:00.200Z");
	CHECK_STR_EQ(jstr(objs[0], "serial"), "10000000aaaa0001");
	CHECK_STR_EQ(jstr(objs[0], "eeprom_hash"), HASH_A);
	/* Absent values are JSON null, not empty strings. */
	CHECK(json_object_object_get_ex(objs[0], "error", &v) && v == NULL);
	CHECK(json_object_object_get_ex(objs[0], "error_code", &v) && v == NULL);
	CHECK(json_object_object_get_ex(objs[2], "serial", &v) && v == NULL);
	CHECK(json_object_object_get_ex(objs[1], "eeprom_hash", &v) && v == NULL);
	CHECK_STR_EQ(jstr(objs[1], "error"), r[1].error);
	CHECK_STR_EQ(jstr(objs[1], "error_code"), "RP_ERR_VERIFY");
	CHECK_STR_EQ(jstr(objs[2], "error_code"), "RP_ERR_TIMEOUT");
	for (int i = 0; i < 3; i++)
		json_object_put(objs[i]);

	/* A torn last line (a crash mid-write) is cut off before appending:
	 * it never stays in the file (its attempt is still in the spool). */
	{
		FILE *f = fopen(path, "a");
		CHECK(f != NULL);
		if (f) {
			fputs("{\"torn\": tru", f);
			fclose(f);
		}
		struct rp_board_record next = r[0];
		next.attempt_id = 99;
		j = jsonl_open(path, NULL);
		CHECK(j != NULL);
		if (j) {
			CHECK_EQ_INT(jsonl_append(j, &origin, &next, NULL), RP_OK);
			j->ops->close(j);
		}
		f = fopen(path, "r");
		if (f) {
			char line[8192];
			int lines = 0, parsed = 0;
			while (fgets(line, sizeof(line), f)) {
				struct json_object *o = json_tokener_parse(line);
				lines++;
				parsed += o != NULL;
				json_object_put(o);
			}
			fclose(f);
			CHECK_EQ_INT(lines, 4);
			CHECK_EQ_INT(parsed, 4);
		}
	}
	{
		struct rp_diag d;
		rp_diag_clear(&d);
		CHECK(jsonl_open("/proc/version/x.jsonl", &d) == NULL);
		CHECK_CONTAINS(d.msg, "/proc/version");
	}
}

static int count_rows(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_db_round_trip(void)
{
	struct rp_record_origin origin = { "line-3", "runA" };
	struct rp_board_record r;
	struct rp_db *db;
	struct rp_diag d;
	sqlite3 *h;
	sqlite3_stmt *st;
	char path[512];

	path_in(path, sizeof(path), "db/round.db");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_db_open(path, RP_DB_READWRITE, &db, &d), RP_OK);
	if (!db)
		return;
	make_record(&r, 1, "1-1.4", "10000000bbbb0001", RP_RESULT_FAILED, 1714566896000LL, 1500);
	CHECK_EQ_INT(rp_db_add_attempt(db, &r, &origin, NULL), RP_OK);
	make_record(&r, 2, "1-1.5", "10000000bbbb0001", RP_RESULT_OK, 1714566900000LL, 4000);
	CHECK_EQ_INT(rp_db_add_attempt(db, &r, &origin, NULL), RP_OK);
	/* The same attempt again (a replay) changes nothing. */
	CHECK_EQ_INT(rp_db_add_attempt(db, &r, &origin, NULL), RP_OK);
	/* A board that never told its serial: an attempt row, no board row. */
	make_record(&r, 3, "1-1.6", "", RP_RESULT_LEFT, 1714566901000LL, 300);
	CHECK_EQ_INT(rp_db_add_attempt(db, &r, &origin, NULL), RP_OK);
	rp_db_close(db);

	CHECK(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM attempts"), 3);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM boards"), 1);
	CHECK_EQ_INT(count_rows(h, "PRAGMA user_version"), RP_DB_SCHEMA_VERSION);
	CHECK_EQ_INT(count_rows(h, "SELECT attempts FROM boards WHERE serial = '10000000bbbb0001'"), 2);
	CHECK_EQ_INT(count_rows(h, "SELECT successes FROM boards WHERE serial = '10000000bbbb0001'"), 1);
	CHECK_EQ_INT(count_rows(h, "SELECT first_seen_ms = 1714566896000 AND last_seen_ms = 1714566904000"
				   " FROM boards"), 1);
	CHECK(sqlite3_prepare_v2(h, "SELECT last_result, last_port, mac, eeprom_hash, last_station FROM boards",
				 -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "OK");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 1), "1-1.5");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 2), "dc:a6:32:00:00:01");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 3), HASH_A);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 4), "line-3");
	sqlite3_finalize(st);

	CHECK(sqlite3_prepare_v2(h, "SELECT run_id, station, serial, port, soc, pid, start_ms, end_ms, duration_ms,"
				    " stage1_ms, reenum_ms, serve_ms, verify_ms, result, error_code, error,"
				    " served_sha256, eeprom_hash, bytes_served, files_served, metadata,"
				    " metadata_dropped FROM attempts WHERE attempt_id = 1", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	make_record(&r, 1, "1-1.4", "10000000bbbb0001", RP_RESULT_FAILED, 1714566896000LL, 1500);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "runA");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 1), "line-3");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 2), r.serial);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 3), r.port_path);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 4), "2711");
	CHECK_EQ_INT(sqlite3_column_int(st, 5), 0x2711);
	CHECK_EQ_INT(sqlite3_column_int64(st, 6), r.start_unix_ms);
	CHECK_EQ_INT(sqlite3_column_int64(st, 7), r.end_unix_ms);
	CHECK_EQ_INT(sqlite3_column_int64(st, 8), 1500);
	for (int p = 0; p < RP_PHASE_COUNT; p++)
		CHECK_EQ_INT(sqlite3_column_int64(st, 9 + p), r.phase_ms[p]);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 13), "FAILED");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 14), "RP_ERR_VERIFY");
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 15), r.error);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 16), HASH_A);
	CHECK(sqlite3_column_type(st, 17) == SQLITE_NULL);
	CHECK_EQ_INT(sqlite3_column_int64(st, 18), r.bytes_served);
	CHECK_EQ_INT(sqlite3_column_int64(st, 19), 4);
	{
		struct json_object *m = json_tokener_parse((const char *)sqlite3_column_text(st, 20));
		CHECK(m != NULL);
		CHECK_STR_EQ(m ? jstr(m, "EEPROM_UPDATE") : NULL, "failed");
		CHECK_EQ_INT(m ? json_object_object_length(m) : -1, 3);
		json_object_put(m);
	}
	CHECK_EQ_INT(sqlite3_column_int(st, 21), 1);
	sqlite3_finalize(st);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM attempts WHERE serial = '' AND result = 'LEFT'"), 1);
	sqlite3_close(h);

	/* WAL mode is on for the file. */
	CHECK(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(h);

	/* A database from a newer rpiprov is refused, with a reason. */
	CHECK(sqlite3_open(path, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_db_open(path, RP_DB_READWRITE, &db, &d), RP_ERR_UNSUPPORTED);
	CHECK_CONTAINS(d.msg, "99");
	CHECK_EQ_INT(rp_db_open(path, RP_DB_READONLY, &db, &d), RP_ERR_UNSUPPORTED);

	/* Read-only open of a missing file, and of something that is not a database. */
	path_in(path, sizeof(path), "db/missing.db");
	rp_diag_clear(&d);
	CHECK(rp_db_open(path, RP_DB_READONLY, &db, &d) < 0);
	CHECK_CONTAINS(d.msg, "missing.db");
	path_in(path, sizeof(path), "db/garbage.db");
	{
		FILE *f = fopen(path, "w");
		if (f) {
			for (int i = 0; i < 200; i++)
				fputs("this is not sqlite ", f);
			fclose(f);
		}
	}
	rp_diag_clear(&d);
	CHECK(rp_db_open(path, RP_DB_READWRITE, &db, &d) < 0);
	CHECK_CONTAINS(d.msg, "garbage.db");
}

/* Concurrent writers: processes and threads, each its own run id, all on
 * the same 37 serials so board rows are contended. */
#define WRITES 150
#define SERIALS 37

static void write_many(const char *db_path, const char *jsonl_path, const char *run_id, struct rp_db *shared)
{
	struct rp_record_origin origin = { "conc", run_id };
	struct rp_db *db = shared;
	struct rp_sink *j = NULL;
	struct rp_board_record r;
	struct rp_diag d;

	if (!db && rp_db_open(db_path, RP_DB_READWRITE, &db, &d) < 0) {
		fprintf(stderr, "open: %s\n", d.msg);
		return;
	}
	if (jsonl_path && !(j = jsonl_open(jsonl_path, &d)))
		fprintf(stderr, "open: %s\n", d.msg);
	for (int i = 0; i < WRITES; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "serial-%02d", i % SERIALS);
		make_record(&r, (uint64_t)i + 1, "1-1.1", serial, i % 7 ? RP_RESULT_OK : RP_RESULT_FAILED,
			    1714566896000LL + i, 100);
		rp_diag_clear(&d);
		if (rp_db_add_attempt(db, &r, &origin, &d) < 0)
			fprintf(stderr, "%s: add: %s\n", run_id, d.msg);
		if (j && jsonl_append(j, &origin, &r, &d) < 0)
			fprintf(stderr, "%s: append: %s\n", run_id, d.msg);
	}
	if (j)
		j->ops->close(j);
	if (!shared)
		rp_db_close(db);
}

struct thread_arg {
	const char *db_path, *jsonl_path, *run_id;
	struct rp_db *shared;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	write_many(a->db_path, a->jsonl_path, a->run_id, a->shared);
	return NULL;
}

static void test_db_concurrency(void)
{
	char db_path[512], jsonl_path[512];
	pid_t kids[2];
	sqlite3 *h;
	int ok_per_writer = 0;

	for (int i = 0; i < WRITES; i++)
		ok_per_writer += (i % 7) != 0;
	path_in(db_path, sizeof(db_path), "conc/boards.db");
	path_in(jsonl_path, sizeof(jsonl_path), "conc/report.jsonl");

	/* Two processes, both creating the schema on a fresh file at once. */
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		CHECK(kids[k] >= 0);
		if (kids[k] == 0) {
			write_many(db_path, jsonl_path, k ? "proc-b" : "proc-a", NULL);
			_exit(0);
		}
	}
	/* Meanwhile two threads of this process: one handle each, and then
	 * one handle shared by two threads. */
	{
		pthread_t t[2];
		struct thread_arg a[2] = { { db_path, NULL, "thr-a", NULL }, { db_path, NULL, "thr-b", NULL } };
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, thread_main, &a[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
	{
		pthread_t t[2];
		struct rp_db *shared = NULL;
		struct rp_diag d;
		CHECK_EQ_INT(rp_db_open(db_path, RP_DB_READWRITE, &shared, &d), RP_OK);
		struct thread_arg a[2] = { { db_path, NULL, "shr-a", shared }, { db_path, NULL, "shr-b", shared } };
		for (int i = 0; i < 2 && shared; i++)
			pthread_create(&t[i], NULL, thread_main, &a[i]);
		for (int i = 0; i < 2 && shared; i++)
			pthread_join(t[i], NULL);
		rp_db_close(shared);
	}
	for (int k = 0; k < 2; k++) {
		int status = -1;
		CHECK(waitpid(kids[k], &status, 0) == kids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	CHECK(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM attempts"), 6 * WRITES);
	CHECK_EQ_INT(count_rows(h, "SELECT count(DISTINCT run_id) FROM attempts"), 6);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM boards"), SERIALS);
	CHECK_EQ_INT(count_rows(h, "SELECT sum(attempts) FROM boards"), 6 * WRITES);
	CHECK_EQ_INT(count_rows(h, "SELECT sum(successes) FROM boards"), 6 * ok_per_writer);
	CHECK_EQ_INT(count_rows(h, "SELECT count(*) FROM attempts a JOIN boards b USING (serial)"), 6 * WRITES);
	sqlite3_close(h);

	{
		/* Both processes' JSONL lines are whole. */
		struct json_object *dummy[1];
		int n = read_lines(jsonl_path, dummy, 0);
		CHECK_EQ_INT(n, 2 * WRITES);
	}
}

int main(void)
{
	char buf[256];
	const char *tmpdir = test_scratch_enter("records", buf, sizeof(buf));
	int rc;

	if (!tmpdir)
		return EXIT_FAILURE;
	RUN(test_time());
	RUN(test_jsonl_round_trip());
	RUN(test_db_round_trip());
	RUN(test_db_concurrency());
	rc = test_result();
	test_scratch_leave(tmpdir);
	return rc;
}
