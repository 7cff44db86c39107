/* The recorder (records/recorder.h): every record reaches every sink, a
 * failing sink is reported and counted without costing the others their
 * record, closing writes everything still queued, records submitted from
 * many threads all arrive (each thread's in its order), sinks are never
 * called two at a time, and a sink that cannot open fails the recorder
 * with every sink closed. Real sinks (JSON Lines, SQLite, metadata) sit
 * next to an in-memory one the test can make slow or failing. */
#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "records/recorder.h"
#include "records/sink.h"
#include "record_fixtures.h"
#include "testlib.h"

#define MAX_SEEN 8192

/* What an in-memory sink saw; owned by the test, so it outlives the sink. */
struct mem_state {
	uint64_t seq[MAX_SEEN];
	uint64_t attempt[MAX_SEEN];
	char run_id[32];
	unsigned appended, flushes, opened, closed;
	unsigned fail_every;     /* refuse attempts whose id is a multiple; 0: never */
	unsigned fail_times;     /* ... that many times each, then take them (0: always) */
	unsigned failed_on[MAX_SEEN];
	bool fail_open;
	unsigned delay_us;       /* per append: a slow disk */
	atomic_int inside;       /* sinks are called one at a time */
	bool overlapped;
};

struct mem_sink {
	struct rp_sink base;
	struct mem_state *st;
};

static void enter(struct mem_state *st)
{
	if (atomic_fetch_add(&st->inside, 1) != 0)
		st->overlapped = true;
}

static void leave(struct mem_state *st)
{
	atomic_fetch_sub(&st->inside, 1);
}

static int mem_open(struct rp_sink *s, struct rp_diag *d)
{
	struct mem_state *st = ((struct mem_sink *)s)->st;

	st->opened++;
	if (st->fail_open)
		return rp_diag_set(d, RP_ERR_ACCESS, "%s: cannot open: permission denied", s->name);
	return RP_OK;
}

static int mem_append(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d)
{
	struct mem_state *st = ((struct mem_sink *)s)->st;
	int ret = RP_OK;

	enter(st);
	if (st->delay_us)
		nanosleep(&(struct timespec){ .tv_nsec = (long)st->delay_us * 1000 }, NULL);
	if (st->fail_every && e->rec->attempt_id % st->fail_every == 0 &&
	    (!st->fail_times || st->failed_on[e->rec->attempt_id % MAX_SEEN]++ < st->fail_times)) {
		ret = rp_diag_set(d, RP_ERR_IO, "%s: disk full (attempt %llu)", s->name,
				  (unsigned long long)e->rec->attempt_id);
	} else if (st->appended < MAX_SEEN) {
		st->seq[st->appended] = e->seq;
		st->attempt[st->appended] = e->rec->attempt_id;
		snprintf(st->run_id, sizeof(st->run_id), "%s", e->origin->run_id ? e->origin->run_id : "");
		st->appended++;
	}
	leave(st);
	return ret;
}

static int mem_flush(struct rp_sink *s, struct rp_diag *d)
{
	struct mem_state *st = ((struct mem_sink *)s)->st;

	(void)d;
	enter(st);
	st->flushes++;
	leave(st);
	return RP_OK;
}

static void mem_close(struct rp_sink *s)
{
	struct mem_sink *m = (struct mem_sink *)s;

	m->st->closed++;
	free(m);
}

static const struct rp_sink_ops mem_ops = {
	.open = mem_open,
	.append = mem_append,
	.flush = mem_flush,
	.close = mem_close,
};

static struct rp_sink *mem_sink(struct mem_state *st, const char *name)
{
	struct mem_sink *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->base.ops = &mem_ops;
	m->st = st;
	rp_sink_set_name(&m->base, "memory", name);
	return &m->base;
}

/* What the callbacks heard. */
struct heard {
	pthread_mutex_t lock;
	unsigned written, written_ok, errors;
	uint64_t order[MAX_SEEN];
	const struct rp_sink *error_sink;
	char last_error[256];
};

static void on_error(void *ctx, const struct rp_sink *sink, const struct rp_board_record *r,
		     const struct rp_diag *d)
{
	struct heard *h = ctx;

	(void)r;
	pthread_mutex_lock(&h->lock);
	h->errors++;
	h->error_sink = sink;
	snprintf(h->last_error, sizeof(h->last_error), "%s", rp_diag_message(d));
	pthread_mutex_unlock(&h->lock);
}

static void on_written(void *ctx, const struct rp_board_record *r, bool all_ok)
{
	struct heard *h = ctx;

	pthread_mutex_lock(&h->lock);
	if (h->written < MAX_SEEN)
		h->order[h->written] = r->attempt_id;
	h->written++;
	h->written_ok += all_ok;
	pthread_mutex_unlock(&h->lock);
}

static void heard_init(struct heard *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

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

static struct rp_recorder *recorder(struct rp_sink **sinks, unsigned n, struct heard *h,
				    const char *run_id)
{
	struct rp_recorder_opts o = {
		.origin = { "test", run_id },
		.sinks = sinks,
		.n_sinks = n,
		.on_error = on_error,
		.on_written = on_written,
		.ctx = h,
	};
	struct rp_recorder *r = NULL;
	struct rp_diag d;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_recorder_new(&o, &r, &d), RP_OK);
	if (!r)
		fprintf(stderr, "recorder: %s\n", d.msg);
	return r;
}

/* JSON Lines, SQLite, metadata and memory: N records each, every
 * callback once per record and in submission order. */
static void test_several_sinks(void)
{
	enum { N = 40 };
	struct mem_state mem = { .fail_every = 0 };
	struct rp_sink *sinks[4];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct heard h;

	heard_init(&h);
	CHECK_EQ_INT(rp_sink_jsonl_new("several/report.jsonl", &sinks[0], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_sqlite_new("several/boards.db", &sinks[1], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_metadata_new("several/meta", &sinks[2], NULL), RP_OK);
	sinks[3] = mem_sink(&mem, "several");
	r = recorder(sinks, 4, &h, "run-several");
	if (!r)
		return;
	CHECK_EQ_INT(rp_recorder_n_sinks(r), 4);
	CHECK_STR_EQ(rp_recorder_sink(r, 0)->name, "report several/report.jsonl");
	CHECK_STR_EQ(rp_recorder_sink(r, 1)->name, "database several/boards.db");
	CHECK_STR_EQ(rp_recorder_sink(r, 2)->name, "metadata several/meta");
	CHECK(rp_recorder_sink(r, 4) == NULL);
	for (unsigned i = 1; i <= N; i++) {
		struct rp_board_record rec;
		char serial[32];
		snprintf(serial, sizeof(serial), "10000000dddd%04u", i);
		make_record(&rec, i, "1-1.1", serial, i % 5 ? RP_RESULT_OK : RP_RESULT_FAILED,
			    1714566896000LL + i * 1000, 900);
		rp_recorder_submit(r, &rec);
	}
	rp_recorder_flush(r);
	rp_recorder_stats(r, &st);
	CHECK_EQ_INT(st.submitted, N);
	CHECK_EQ_INT(st.written, N);
	CHECK_EQ_INT(st.failed, 0);
	CHECK_EQ_INT(st.sink_errors, 0);
	/* After a flush, everything is where it belongs, before close. */
	CHECK_EQ_INT(count_lines("several/report.jsonl"), N);
	CHECK_EQ_INT(db_count("several/boards.db", "SELECT count(*) FROM attempts WHERE run_id = 'run-several'"
			      " AND station = 'test'"), N);
	CHECK_EQ_INT(count_files("several/meta"), N);
	CHECK_EQ_INT(mem.appended, N);
	CHECK(mem.flushes >= 1);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(mem.closed, 1);
	CHECK_EQ_INT(st.written, N);
	CHECK_EQ_INT(h.written, N);
	CHECK_EQ_INT(h.written_ok, N);
	CHECK_EQ_INT(h.errors, 0);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ_INT(h.order[i], i + 1);
		CHECK_EQ_INT(mem.seq[i], i + 1);
	}
	CHECK_STR_EQ(mem.run_id, "run-several");
	CHECK(!mem.overlapped);
}

/* A sink that fails now and then for a reason that may pass (a full
 * disk) gets every record all the same, in order, once each: the failed
 * ones stay in the spool and are tried again. A sink that refuses a
 * record for good (a serial that is no safe file name) is reported and
 * counted, and goes on with the next; the other sinks get every record. */
static void test_failing_sink(void)
{
	enum { N = 30 };
	struct mem_state bad = { .fail_every = 3, .fail_times = 2 }, good = { .fail_every = 0 };
	struct rp_sink *sinks[4];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct heard h;

	heard_init(&h);
	sinks[0] = mem_sink(&bad, "bad");
	CHECK_EQ_INT(rp_sink_jsonl_new("failing/report.jsonl", &sinks[1], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_metadata_new("failing/meta", &sinks[2], NULL), RP_OK);
	sinks[3] = mem_sink(&good, "good");
	r = recorder(sinks, 4, &h, "run-failing");
	if (!r)
		return;
	for (unsigned i = 1; i <= N; i++) {
		struct rp_board_record rec;
		char serial[32];
		/* Board 7's serial is not a safe file name: no metadata file. */
		snprintf(serial, sizeof(serial), i == 7 ? "../evil%u" : "10000000eeee%04u", i);
		make_record(&rec, i, "1-1.2", serial, RP_RESULT_OK, 1714566896000LL + i, 100);
		rp_recorder_submit(r, &rec);
	}
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.submitted, N);
	CHECK_EQ_INT(st.failed, 1);
	CHECK_EQ_INT(st.written, N - 1);
	CHECK_EQ_INT(st.backlog, 0);
	/* The refusal, and at least one failure episode of the bad sink. */
	CHECK(st.sink_errors >= 2);
	CHECK_EQ_INT(h.errors, st.sink_errors);
	CHECK_EQ_INT(h.written, N);
	CHECK_EQ_INT(h.written_ok, N - 1);
	CHECK_EQ_INT(bad.appended, N);
	for (unsigned i = 0; i < N && i < bad.appended; i++)
		CHECK_EQ_INT(bad.attempt[i], i + 1);
	CHECK_EQ_INT(good.appended, N);
	CHECK_EQ_INT(count_lines("failing/report.jsonl"), N);
	CHECK_EQ_INT(count_files("failing/meta"), N - 1);
	CHECK_EQ_INT(bad.closed + good.closed, 2);
}

/* A slow sink and a close right after the last submit: close waits for
 * every queued record, and flushes after it. */
static void test_flush_on_close(void)
{
	enum { N = 200 };
	struct mem_state slow = { .delay_us = 2000 };
	struct rp_sink *sinks[2];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct heard h;
	struct timespec t0, t1;

	heard_init(&h);
	sinks[0] = mem_sink(&slow, "slow");
	CHECK_EQ_INT(rp_sink_sqlite_new("close/boards.db", &sinks[1], NULL), RP_OK);
	r = recorder(sinks, 2, &h, "run-close");
	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1; i <= N; i++) {
		struct rp_board_record rec;
		make_record(&rec, i, "1-1.3", "10000000ffff0001", RP_RESULT_OK, 1714566896000LL + i, 100);
		rp_recorder_submit(r, &rec);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Submitting never waits for the sinks: 200 slow appends take 400 ms. */
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(slow.appended, N);
	CHECK(slow.flushes >= 1);
	CHECK_EQ_INT(st.written, N);
	CHECK_EQ_INT(h.written, N);
	CHECK_EQ_INT(db_count("close/boards.db", "SELECT count(*) FROM attempts"), N);
	CHECK_EQ_INT(db_count("close/boards.db", "SELECT attempts FROM boards"), N);
	CHECK(!slow.overlapped);
}

/* With nothing submitted: open, close, no callbacks; and no sinks at all. */
static void test_empty(void)
{
	struct mem_state mem = { .fail_every = 0 };
	struct rp_sink *sinks[1] = { mem_sink(&mem, "empty") };
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct heard h;
	struct rp_board_record rec;

	heard_init(&h);
	r = recorder(sinks, 1, &h, NULL);
	rp_recorder_flush(r);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(mem.opened, 1);
	CHECK_EQ_INT(mem.closed, 1);
	CHECK_EQ_INT(st.submitted, 0);
	CHECK_EQ_INT(h.written, 0);

	/* No sinks: records are only counted (and heard of). */
	r = recorder(NULL, 0, &h, NULL);
	make_record(&rec, 1, "1-1.1", "x", RP_RESULT_OK, 0, 1);
	rp_recorder_submit(r, &rec);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.written, 1);
	CHECK_EQ_INT(h.written, 1);
}

#define THREADS 8
#define PER_THREAD 500

struct submitter {
	struct rp_recorder *r;
	unsigned t;
};

static void *submit_main(void *p)
{
	struct submitter *s = p;

	for (unsigned i = 0; i < PER_THREAD; i++) {
		struct rp_board_record rec;
		char port[16];
		snprintf(port, sizeof(port), "1-%u.1", s->t + 1);
		/* Attempt ids say which thread and in which order. */
		make_record(&rec, (uint64_t)s->t * 100000 + i + 1, port, "10000000abab0001",
			    RP_RESULT_OK, 1714566896000LL + i, 10);
		rec.n_meta = 0; /* keep the copies small */
		rp_recorder_submit(s->r, &rec);
	}
	return NULL;
}

/* Many threads at once: every record arrives once, each thread's in the
 * order it submitted them, with sequence numbers 1..total. */
static void test_many_threads(void)
{
	struct mem_state *mem = calloc(1, sizeof(*mem));
	struct rp_sink *sinks[2];
	struct rp_recorder_stats st;
	struct rp_recorder *r;
	struct heard *h = calloc(1, sizeof(*h));
	pthread_t th[THREADS];
	struct submitter sub[THREADS];
	uint64_t next[THREADS];
	bool *seen;
	unsigned total = THREADS * PER_THREAD;

	if (!mem || !h)
		abort();
	heard_init(h);
	sinks[0] = mem_sink(mem, "threads");
	CHECK_EQ_INT(rp_sink_sqlite_new("threads/boards.db", &sinks[1], NULL), RP_OK);
	r = recorder(sinks, 2, h, "run-threads");
	if (!r)
		return;
	for (unsigned t = 0; t < THREADS; t++) {
		sub[t].r = r;
		sub[t].t = t;
		pthread_create(&th[t], NULL, submit_main, &sub[t]);
	}
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	rp_recorder_close(r, &st);
	CHECK_EQ_INT(st.submitted, total);
	CHECK_EQ_INT(st.written, total);
	CHECK_EQ_INT(mem->appended, total);
	CHECK_EQ_INT(h->written, total);
	CHECK(!mem->overlapped);
	seen = calloc(total + 1, sizeof(*seen));
	for (unsigned t = 0; t < THREADS; t++)
		next[t] = 1;
	for (unsigned i = 0; i < mem->appended && seen; i++) {
		uint64_t a = mem->attempt[i], t = a / 100000;
		CHECK(mem->seq[i] >= 1 && mem->seq[i] <= total);
		if (mem->seq[i] >= 1 && mem->seq[i] <= total) {
			CHECK(!seen[mem->seq[i]]);
			seen[mem->seq[i]] = true;
		}
		/* In order of arrival, each thread's records in its own order. */
		CHECK_EQ_INT(mem->seq[i], i + 1);
		CHECK(t < THREADS);
		if (t < THREADS) {
			CHECK_EQ_INT(a % 100000, next[t]);
			next[t] = a % 100000 + 1;
		}
	}
	CHECK_EQ_INT(db_count("threads/boards.db", "SELECT count(*) FROM attempts"), (int)total);
	free(seen);
	free(mem);
	free(h);
}

/* The second of three sinks cannot open: the recorder fails with its
 * message, and all three are closed. */
static void test_open_failure(void)
{
	struct mem_state a = { .fail_every = 0 }, b = { .fail_open = true }, c = { .fail_every = 0 };
	struct rp_sink *sinks[3] = { mem_sink(&a, "a"), mem_sink(&b, "b"), mem_sink(&c, "c") };
	struct rp_recorder_opts o = { .sinks = sinks, .n_sinks = 3 };
	struct rp_recorder *r = (void *)1;
	struct rp_sink *real = NULL;
	struct rp_diag d;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_recorder_new(&o, &r, &d), RP_ERR_ACCESS);
	CHECK(r == NULL);
	CHECK_CONTAINS(d.msg, "memory b: cannot open");
	CHECK_EQ_INT(a.opened, 1);
	CHECK_EQ_INT(c.opened, 0);
	CHECK_EQ_INT(a.closed + b.closed + c.closed, 3);

	/* A real one: a report under a file. */
	CHECK_EQ_INT(rp_sink_jsonl_new("/proc/version/x.jsonl", &real, NULL), RP_OK);
	o.sinks = &real;
	o.n_sinks = 1;
	rp_diag_clear(&d);
	CHECK(rp_recorder_new(&o, &r, &d) < 0);
	CHECK_CONTAINS(d.msg, "/proc/version");
}

/* A new run continues the attempt numbering of the database. */
static void test_last_attempt_id(void)
{
	struct rp_sink *sinks[2];
	struct mem_state mem = { .fail_every = 0 };
	struct rp_recorder *r;
	struct heard h;
	uint64_t id = 99;

	heard_init(&h);
	CHECK_EQ_INT(rp_sink_sqlite_new("ids/boards.db", &sinks[0], NULL), RP_OK);
	sinks[1] = mem_sink(&mem, "ids");
	r = recorder(sinks, 2, &h, "run-ids-1");
	if (!r)
		return;
	CHECK_EQ_INT(rp_recorder_last_attempt_id(r, "test", &id, NULL), RP_OK);
	CHECK_EQ_INT(id, 0);
	for (unsigned i = 1; i <= 5; i++) {
		struct rp_board_record rec;
		make_record(&rec, i, "1-1.4", "10000000aaaa0004", RP_RESULT_OK, 1714566896000LL + i, 10);
		rp_recorder_submit(r, &rec);
	}
	rp_recorder_close(r, NULL);
	CHECK_EQ_INT(rp_sink_sqlite_new("ids/boards.db", &sinks[0], NULL), RP_OK);
	r = recorder(sinks, 1, &h, "run-ids-2");
	if (!r)
		return;
	CHECK_EQ_INT(rp_recorder_last_attempt_id(r, "test", &id, NULL), RP_OK);
	CHECK_EQ_INT(id, 5);
	CHECK_EQ_INT(rp_recorder_last_attempt_id(r, "another-station", &id, NULL), RP_OK);
	CHECK_EQ_INT(id, 0);
	rp_recorder_close(r, NULL);
}

int main(void)
{
	char buf[256];
	const char *tmpdir = test_scratch_enter("recorder", buf, sizeof(buf));
	int rc;

	if (!tmpdir)
		return EXIT_FAILURE;
	RUN(test_several_sinks());
	RUN(test_failing_sink());
	RUN(test_flush_on_close());
	RUN(test_empty());
	RUN(test_many_threads());
	RUN(test_open_failure());
	RUN(test_last_attempt_id());
	rc = test_result();
	test_scratch_leave(tmpdir);
	return rc;
}
