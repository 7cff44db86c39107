/* Records converge (#10): each attempt is durable in the spool first and
 * every sink catches up from it, so after a crash, a full disk or a
 * locked database each sink holds every attempt exactly once.
 *
 * - a database locked for longer than its busy timeout keeps the record
 *   queued, also across a restart, instead of losing it from the database;
 * - a line the disk could only take part of is cut off again, not left in
 *   the file (RLIMIT_FSIZE tears it in a child process);
 * - a crash after a sink kept records but before its cursor was stored
 *   replays them: JSON Lines and SQLite keep each once, and a torn last
 *   line is cut off on open;
 * - stale *.json.tmp.* files of a killed writer are removed;
 * - the backlog (records and age of the oldest) is what is queued. */
#include <dirent.h>
#include <json-c/json.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "records/recorder.h"
#include "records/sink.h"
#include "records/spool.h"
#include "record_fixtures.h"
#include "testlib.h"

static int db_count(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Lines of a JSON Lines file: all must parse and be distinct attempts. */
static int jsonl_attempts(const char *path, int *bad, int *dups)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	char seen[1024][64];
	int n = 0;

	*bad = *dups = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct json_object *o = json_tokener_parse(line), *run, *id;
		char key[64];
		if (!o || line[strlen(line) - 1] != '\n' ||
		    !json_object_object_get_ex(o, "run_id", &run) ||
		    !json_object_object_get_ex(o, "attempt_id", &id)) {
			(*bad)++;
			json_object_put(o);
			continue;
		}
		snprintf(key, sizeof(key), "%s/%lld", json_object_get_string(run),
			 (long long)json_object_get_int64(id));
		for (int i = 0; i < n && i < 1024; i++)
			if (!strcmp(seen[i], key))
				(*dups)++;
		if (n < 1024)
			snprintf(seen[n], sizeof(seen[n]), "%s", key);
		n++;
		json_object_put(o);
	}
	fclose(f);
	return n;
}

static struct rp_recorder *recorder(const char *spool, struct rp_sink **sinks, unsigned n,
				    const char *run_id)
{
	struct rp_recorder_opts o = {
		.origin = { "conv", run_id }, .sinks = sinks, .n_sinks = n, .spool_path = spool,
	};
	struct rp_recorder *r = NULL;
	struct rp_diag d;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_recorder_new(&o, &r, &d), RP_OK);
	if (!r)
		fprintf(stderr, "recorder: %s\n", d.msg);
	return r;
}

static void submit_n(struct rp_recorder *r, unsigned from, unsigned n)
{
	for (unsigned i = from; i < from + n; i++) {
		struct rp_board_record rec;
		char serial[32];
		snprintf(serial, sizeof(serial), "10000000c0%06u", i);
		make_record(&rec, i, "1-1.4", serial, RP_RESULT_OK, 1714566896000LL + i, 100);
		rp_recorder_submit(r, &rec);
	}
}

/* Before: a record that met a lock held past the busy timeout was
 * reported and never reached the database. */
static void test_locked_database(void)
{
	enum { N = 12 };
	struct rp_sink *sinks[2];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	uint64_t backlog = 0;
	int64_t age = -1;
	sqlite3 *lock;

	/* The database exists (a station made it) before someone locks it. */
	CHECK_EQ_INT(rp_sink_sqlite_new("locked/boards.db", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(sinks[0]->ops->open(sinks[0], NULL), RP_OK);
	sinks[0]->ops->close(sinks[0]);
	CHECK(sqlite3_open("locked/boards.db", &lock) == SQLITE_OK);
	CHECK(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);

	CHECK_EQ_INT(rp_sink_sqlite_new("locked/boards.db", &sinks[0], NULL), RP_OK);
	rp_sink_sqlite_set_busy_timeout(sinks[0], 50);
	CHECK_EQ_INT(rp_sink_jsonl_new("locked/report.jsonl", &sinks[1], NULL), RP_OK);
	r = recorder("locked/spool.db", sinks, 2, "run-locked-1");
	if (!r)
		return;
	submit_n(r, 1, N);
	rp_recorder_flush(r);
	rp_recorder_backlog(r, &backlog, &age);
	CHECK_EQ_INT(backlog, N);
	CHECK(age >= 0 && age < 60000);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.written, 0);
	CHECK_EQ_INT(st.backlog, N);
	CHECK_EQ_INT(db_count("locked/boards.db", "SELECT count(*) FROM attempts"), 0);

	/* The lock goes; the next start catches the database up. */
	sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(lock);
	CHECK_EQ_INT(rp_sink_sqlite_new("locked/boards.db", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_jsonl_new("locked/report.jsonl", &sinks[1], NULL), RP_OK);
	r = recorder("locked/spool.db", sinks, 2, "run-locked-2");
	if (!r)
		return;
	submit_n(r, 1, 3);
	rp_recorder_flush(r);
	rp_recorder_backlog(r, &backlog, &age);
	CHECK_EQ_INT(backlog, 0);
	CHECK_EQ_INT(age, 0);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.written, 3);
	CHECK_EQ_INT(st.caught_up, N);
	CHECK_EQ_INT(db_count("locked/boards.db", "SELECT count(*) FROM attempts"), N + 3);
	{
		int bad, dups;
		CHECK_EQ_INT(jsonl_attempts("locked/report.jsonl", &bad, &dups), N + 3);
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(dups, 0);
	}
}

/* While the lock is held in the same run: the record arrives once it
 * goes, without a restart. */
static void test_lock_released_while_running(void)
{
	struct rp_sink *sinks[1];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	sqlite3 *lock;

	CHECK_EQ_INT(rp_sink_sqlite_new("live/boards.db", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(sinks[0]->ops->open(sinks[0], NULL), RP_OK);
	sinks[0]->ops->close(sinks[0]);
	CHECK(sqlite3_open("live/boards.db", &lock) == SQLITE_OK);
	CHECK(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_EQ_INT(rp_sink_sqlite_new("live/boards.db", &sinks[0], NULL), RP_OK);
	rp_sink_sqlite_set_busy_timeout(sinks[0], 30);
	r = recorder("live/spool.db", sinks, 1, "run-live");
	if (!r)
		return;
	submit_n(r, 1, 5);
	rp_recorder_flush(r);
	CHECK_EQ_INT(db_count("live/boards.db", "SELECT count(*) FROM attempts"), 0);
	sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(lock);
	rp_recorder_close(r, &st); /* within the close grace */
	CHECK_EQ_INT(st.written, 5);
	CHECK_EQ_INT(st.backlog, 0);
	CHECK_EQ_INT(db_count("live/boards.db", "SELECT count(*) FROM attempts"), 5);
}

/* Before: a partial write was followed by "\n", leaving a garbage line
 * in the report for ever. */
static void test_disk_full_mid_line(void)
{
	struct rp_board_record rec;
	struct rp_record_origin origin = { "conv", "run-full" };
	struct rp_sink_entry e = { .origin = &origin, .rec = &rec, .seq = 1 };
	struct rp_sink *s;
	struct stat before, after;
	pid_t pid;
	int status = -1, bad, dups;

	make_record(&rec, 1, "1-1.1", "10000000f0000001", RP_RESULT_OK, 1714566896000LL, 100);
	CHECK_EQ_INT(rp_sink_jsonl_new("full.jsonl", &s, NULL), RP_OK);
	CHECK_EQ_INT(s->ops->open(s, NULL), RP_OK);
	CHECK_EQ_INT(s->ops->append(s, &e, NULL), RP_OK);
	s->ops->close(s);
	CHECK(stat("full.jsonl", &before) == 0);
	pid = fork();
	if (pid == 0) {
		/* Room for part of the next line only. */
		struct rlimit lim = { (rlim_t)before.st_size + 100, (rlim_t)before.st_size + 100 };
		struct rp_diag d;
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &lim);
		rec.attempt_id = 2;
		if (rp_sink_jsonl_new("full.jsonl", &s, NULL) < 0 || s->ops->open(s, NULL) < 0)
			_exit(2);
		_exit(s->ops->append(s, &e, &d) < 0 ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(stat("full.jsonl", &after) == 0);
	CHECK_EQ_INT(after.st_size, before.st_size);
	CHECK_EQ_INT(jsonl_attempts("full.jsonl", &bad, &dups), 1);
	CHECK_EQ_INT(bad, 0);
}

/* A crash after the sinks kept records 1..K but before their cursors
 * were stored, with record K+1 torn in the report: the next start hands
 * them 1..N again, and each keeps every attempt once. */
static void test_replay_after_crash(void)
{
	enum { N = 20, K = 9 };
	const char *names[2];
	const uint64_t zero[2] = { 0, 0 };
	struct rp_record_origin origin = { "conv", "run-replay" };
	struct rp_spool *sp;
	struct rp_sink *sinks[2];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct rp_diag d;
	int bad, dups;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_spool_open("replay/spool.db", &sp, &d), RP_OK);
	if (!sp)
		return;
	CHECK_EQ_INT(rp_sink_jsonl_new("replay/report.jsonl", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_sqlite_new("replay/boards.db", &sinks[1], NULL), RP_OK);
	/* Cursors are kept by the sink's key: kind and resolved path. */
	names[0] = sinks[0]->key;
	names[1] = sinks[1]->key;
	CHECK_EQ_INT(rp_spool_set_cursors(sp, names, zero, 2, 0, &d), RP_OK);
	CHECK_EQ_INT(sinks[0]->ops->open(sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(sinks[1]->ops->open(sinks[1], NULL), RP_OK);
	for (unsigned i = 1; i <= N; i++) {
		struct rp_board_record rec;
		uint64_t seq;
		char serial[32];
		snprintf(serial, sizeof(serial), "10000000d0%06u", i);
		make_record(&rec, i, "1-1.2", serial, RP_RESULT_OK, 1714566896000LL + i, 100);
		CHECK_EQ_INT(rp_spool_append(sp, &origin, &rec, &seq, &d), RP_OK);
		CHECK_EQ_INT(seq, i);
		if (i <= K) {
			struct rp_sink_entry e = { .origin = &origin, .rec = &rec, .seq = seq };
			CHECK_EQ_INT(sinks[0]->ops->append(sinks[0], &e, NULL), RP_OK);
			CHECK_EQ_INT(sinks[1]->ops->append(sinks[1], &e, NULL), RP_OK);
		}
	}
	sinks[0]->ops->close(sinks[0]);
	sinks[1]->ops->close(sinks[1]);
	rp_spool_close(sp);
	{
		FILE *f = fopen("replay/report.jsonl", "a");
		CHECK(f != NULL);
		if (f) {
			fputs("{\"station\":\"conv\",\"run_id\":\"run-replay\",\"attempt_id\":10,\"st", f);
			fclose(f);
		}
	}

	CHECK_EQ_INT(rp_sink_jsonl_new("replay/report.jsonl", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_sqlite_new("replay/boards.db", &sinks[1], NULL), RP_OK);
	r = recorder("replay/spool.db", sinks, 2, "run-replay-2");
	if (!r)
		return;
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.caught_up, N);
	CHECK_EQ_INT(st.backlog, 0);
	CHECK_EQ_INT(jsonl_attempts("replay/report.jsonl", &bad, &dups), N);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(dups, 0);
	CHECK_EQ_INT(db_count("replay/boards.db", "SELECT count(*) FROM attempts"), N);
	CHECK_EQ_INT(db_count("replay/boards.db", "SELECT sum(attempts) FROM boards"), N);
	/* Delivered everywhere: pruned from the spool. */
	CHECK_EQ_INT(db_count("replay/spool.db", "SELECT count(*) FROM records"), 0);
}

/* Before: a writer killed between creating its temporary file and
 * renaming it left the file there for ever. */
static void test_stale_tmp_removed(void)
{
	struct rp_sink *s;
	FILE *f;
	DIR *dir;
	struct dirent *e;
	int tmp = 0, other = 0;

	CHECK(mkdir("meta", 0755) == 0);
	f = fopen("meta/10000000aa000001.json.tmp.Ab12Cd", "w");
	if (f)
		fclose(f);
	f = fopen("meta/10000000aa000002.json", "w");
	if (f)
		fclose(f);
	CHECK_EQ_INT(rp_sink_metadata_new("meta", &s, NULL), RP_OK);
	CHECK_EQ_INT(s->ops->open(s, NULL), RP_OK);
	s->ops->close(s);
	dir = opendir("meta");
	while (dir && (e = readdir(dir))) {
		tmp += strstr(e->d_name, ".tmp.") != NULL;
		other += !strcmp(e->d_name, "10000000aa000002.json");
	}
	if (dir)
		closedir(dir);
	CHECK_EQ_INT(tmp, 0);
	CHECK_EQ_INT(other, 1);
}

/* Two processes must not share a spool; and an SQLite file of something
 * else is not taken for one. */
static void test_spool_guards(void)
{
	struct rp_spool *a = NULL, *b = NULL;
	struct rp_diag d;
	sqlite3 *h;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_spool_open("guard/spool.db", &a, &d), RP_OK);
	pid_t pid = fork();
	if (pid == 0)
		_exit(rp_spool_open("guard/spool.db", &b, NULL) == RP_ERR_BUSY ? 0 : 1);
	{
		int status = -1;
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	rp_spool_close(a);
	CHECK(sqlite3_open("guard/other.db", &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "CREATE TABLE t (x)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_spool_open("guard/other.db", &b, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "not an rpiprov spool");
	CHECK_EQ_INT(db_count("guard/other.db", "SELECT count(*) FROM sqlite_master"), 1);
}

int main(void)
{
	char buf[256];
	const char *tmpdir = test_scratch_enter("converge", buf, sizeof(buf));
	int rc;

	if (!tmpdir)
		return EXIT_FAILURE;
	RUN(test_locked_database());
	RUN(test_lock_released_while_running());
	RUN(test_disk_full_mid_line());
	RUN(test_replay_after_crash());
	RUN(test_stale_tmp_removed());
	RUN(test_spool_guards());
	rc = test_result();
	test_scratch_leave(tmpdir);
	return rc;
}
