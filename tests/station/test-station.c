/* A station run over simulated boards arriving at seeded random times,
 * some of them failing: every attempt appears exactly once in the JSON
 * Lines report and in the database, the counts match the runner's
 * summary, a second run continues the attempt numbering, and a stop in
 * the middle of a tray lets the boards in flight finish and records them. */
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/sink.h"
#include "sim/sim_source.h"
#include "station/station.h"
#include "testlib.h"

#define MAX_ATTEMPTS 256

/* main() works inside a fresh temporary directory: record paths are relative. */
#define TMP "."

struct observed {
	pthread_mutex_t lock;
	unsigned started, finished;
	unsigned by_result[8];
	unsigned with_meta;
	uint64_t ids[MAX_ATTEMPTS];
	struct rp_station *station;
	unsigned stop_after_started; /* 0: never */
	bool out_of_order;           /* an event for a board that had not started */
};

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct observed *o = ctx;

	pthread_mutex_lock(&o->lock);
	if (ev->type == RP_RUNNER_BOARD_STARTED) {
		o->started++;
		if (o->stop_after_started && o->started == o->stop_after_started)
			rp_station_stop(o->station);
	} else if (ev->type == RP_RUNNER_BOARD_FINISHED && ev->record) {
		if (o->finished < MAX_ATTEMPTS)
			o->ids[o->finished] = ev->record->attempt_id;
		o->finished++;
		if ((unsigned)ev->record->result < 8)
			o->by_result[ev->record->result]++;
		o->with_meta += ev->record->n_meta > 0;
		if (o->finished > o->started)
			o->out_of_order = true;
	}
	pthread_mutex_unlock(&o->lock);
}

static void on_record_error(void *ctx, const struct rp_board_record *r, const struct rp_diag *d)
{
	(void)ctx;
	fprintf(stderr, "record error for attempt %llu: %s\n", (unsigned long long)r->attempt_id, d->msg);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void make_config(struct rp_station_config *c, const char *name)
{
	char path[1024];
	struct rp_diag d;

	rp_station_config_init(c);
#define SET(k, v) CHECK_EQ_INT(rp_station_config_set(c, RP_CONFIG_CLI, (k), (v), &d), RP_OK)
	snprintf(path, sizeof(path), "%s/2711/pieeprom-2022-04-26.bin", test_firmware_dir());
	SET("image", path);
	snprintf(path, sizeof(path), "%s/2711/recovery.bin", test_firmware_dir());
	SET("recovery", path);
	SET("set", "BOOT_ORDER=0xf21");
	SET("station", name);
	SET("board_timeout", "2s");
#undef SET
}

struct jsonl_check {
	unsigned lines;
	unsigned in_run;
	unsigned by_result[8];
	uint64_t ids[MAX_ATTEMPTS];
};

static int result_index(const char *name)
{
	for (int r = 0; r < 8; r++)
		if (!strcmp(rp_board_result_name((enum rp_board_result)r), name))
			return r;
	return 7;
}

static void read_jsonl(const char *run_id, struct jsonl_check *j)
{
	char path[1024], *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(j, 0, sizeof(*j));
	snprintf(path, sizeof(path), "%s/report.jsonl", TMP);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *v;
		j->lines++;
		CHECK(o != NULL);
		if (!o)
			continue;
		if (json_object_object_get_ex(o, "run_id", &v) && !strcmp(json_object_get_string(v), run_id)) {
			if (j->in_run < MAX_ATTEMPTS && json_object_object_get_ex(o, "attempt_id", &v))
				j->ids[j->in_run] = (uint64_t)json_object_get_int64(v);
			if (json_object_object_get_ex(o, "result", &v))
				j->by_result[result_index(json_object_get_string(v))]++;
			j->in_run++;
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
}

static int db_int(const char *sql, const char *arg)
{
	char path[1024];
	sqlite3 *h;
	sqlite3_stmt *st;
	int v = -1;

	snprintf(path, sizeof(path), "%s/boards.db", TMP);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (arg)
			sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

static unsigned count_files(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	unsigned n = 0;
	if (!dp)
		return 0;
	while ((e = readdir(dp)))
		n += strstr(e->d_name, ".json") != NULL;
	closedir(dp);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Ids base+1 .. base+n, each once. */
static void check_ids(uint64_t *ids, unsigned n, uint64_t base)
{
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (unsigned i = 0; i < n; i++)
		if (ids[i] != base + 1 + i) {
			fprintf(stderr, "attempt id %u is %llu, want %llu\n", i, (unsigned long long)ids[i],
				(unsigned long long)(base + 1 + i));
			CHECK(0);
			return;
		}
}

/* The three sinks the station CLI makes from --report, --db and
 * --metadata-dir; the station takes them. */
static unsigned make_sinks(struct rp_sink **sinks)
{
	unsigned n = 0;

	CHECK_EQ_INT(rp_sink_jsonl_new(TMP "/report.jsonl", &sinks[n++], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_sqlite_new(TMP "/boards.db", &sinks[n++], NULL), RP_OK);
	CHECK_EQ_INT(rp_sink_metadata_new(TMP "/meta", &sinks[n++], NULL), RP_OK);
	return n;
}

static void run_tray(unsigned n, const struct rp_sim_fault_spec *faults, unsigned n_faults,
		     uint64_t seed, unsigned spread_ms, uint64_t id_base, const struct rp_sim_timing *timing,
		     unsigned stop_after, struct rp_station_summary *sum, struct observed *o,
		     char run_id[40])
{
	struct rp_station_config cfg;
	struct rp_station_opts so;
	struct rp_sim_source_opts sim;
	struct rp_sim_params params;
	struct rp_source *source = NULL;
	struct rp_sink *sinks[3];
	uint64_t arrival[MAX_ATTEMPTS], state = seed;
	struct rp_station *s = NULL;
	struct rp_diag d;
	struct jsonl_check j;

	make_config(&cfg, "test-station");
	for (unsigned i = 0; i < n; i++)
		arrival[i] = spread_ms ? splitmix64(&state) % spread_ms : 0;
	rp_sim_params_default(&params, 0);
	if (timing)
		params.timing = *timing;
	memset(&sim, 0, sizeof(sim));
	sim.n_boards = n;
	sim.params = &params;
	sim.faults = faults;
	sim.n_faults = n_faults;
	sim.arrival_ms = arrival;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sim_source_new(&sim, &source, &d), RP_OK);
	if (!source) {
		rp_station_config_free(&cfg);
		return;
	}
	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	o->stop_after_started = stop_after;
	memset(&so, 0, sizeof(so));
	so.config = &cfg;
	so.source = source;
	so.sinks = sinks;
	so.n_sinks = make_sinks(sinks);
	so.count = n; /* one attempt per simulated board */
	so.on_event = on_event;
	so.event_ctx = o;
	so.on_record_error = on_record_error;
	so.stop_grace_ms = 20000;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_station_new(&so, &s, &d), RP_OK);
	if (!s) {
		fprintf(stderr, "station: %s\n", d.msg);
		source->ops->destroy(source);
		rp_station_config_free(&cfg);
		return;
	}
	o->station = s;
	snprintf(run_id, 40, "%s", rp_station_run_id(s));
	CHECK(strlen(run_id) == 16);
	CHECK_EQ_INT(rp_station_run(s, sum, &d), RP_OK);
	CHECK_STR_EQ(sum->run_id, run_id);
	rp_station_free(s);
	source->ops->destroy(source);

	/* The runner's summary, the events and the records agree. */
	CHECK(!o->out_of_order);
	CHECK_EQ_INT(o->finished, sum->runner.finished);
	CHECK_EQ_INT(o->started, sum->runner.finished);
	CHECK_EQ_INT(o->by_result[RP_RESULT_OK], sum->runner.ok);
	CHECK_EQ_INT(o->by_result[RP_RESULT_FAILED], sum->runner.failed);
	CHECK_EQ_INT(o->by_result[RP_RESULT_TIMEOUT], sum->runner.timeout);
	CHECK_EQ_INT(o->by_result[RP_RESULT_LEFT], sum->runner.left);
	CHECK_EQ_INT(sum->records_written, sum->runner.finished);
	CHECK_EQ_INT(sum->record_errors, 0);

	read_jsonl(run_id, &j);
	CHECK_EQ_INT(j.in_run, sum->runner.finished);
	for (int r = 0; r < 8; r++)
		CHECK_EQ_INT(j.by_result[r], o->by_result[r]);
	check_ids(j.ids, j.in_run < MAX_ATTEMPTS ? j.in_run : MAX_ATTEMPTS, id_base);
	check_ids(o->ids, o->finished < MAX_ATTEMPTS ? o->finished : MAX_ATTEMPTS, id_base);

	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts WHERE run_id = ?1", run_id), sum->runner.finished);
	CHECK_EQ_INT(db_int("SELECT count(DISTINCT attempt_id) FROM attempts WHERE run_id = ?1", run_id),
		     sum->runner.finished);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts WHERE run_id = ?1 AND result = 'OK'", run_id),
		     sum->runner.ok);
	CHECK_EQ_INT(db_int("SELECT min(attempt_id) FROM attempts WHERE run_id = ?1", run_id), id_base + 1);
	rp_station_config_free(&cfg);
	pthread_mutex_destroy(&o->lock);
}

static void test_tray_with_failures(void)
{
	static const struct rp_sim_fault_spec faults[] = {
		{ RP_SIM_FAULT_BAD_SIG, RP_SIM_STEP_SIG, 3 },
		{ RP_SIM_FAULT_LEAVE, RP_SIM_STEP_IMAGE, 5 },
		{ RP_SIM_FAULT_STALL, RP_SIM_STEP_STAGE1, 7 },
		{ RP_SIM_FAULT_SILENT, RP_SIM_STEP_SIG, 9 },
		{ RP_SIM_FAULT_WRITE_PROTECTED, RP_SIM_STEP_IMAGE, 11 },
	};
	struct rp_station_summary sum;
	struct observed o;
	char run_id[40], meta[1024];
	unsigned n = 24;

	run_tray(n, faults, sizeof(faults) / sizeof(faults[0]), 42, 400, 0, NULL, 0, &sum, &o, run_id);
	CHECK_EQ_INT(sum.runner.finished, n);
	CHECK_EQ_INT(sum.runner.ok, n - 5);
	/* bad_sig and write_protected are fatal on the board: it stops
	 * talking (C15, C9/C28), so they end as timeouts, like silent. */
	CHECK_EQ_INT(sum.runner.timeout, 3);
	CHECK_EQ_INT(sum.runner.left, 1);
	CHECK_EQ_INT(sum.runner.failed, 1);
	CHECK(rp_station_summary_failed(&sum));
	CHECK(!sum.runner.stopped && !sum.runner.aborted);
	/* rpiboot -j: one file per board that reported metadata. */
	snprintf(meta, sizeof(meta), "%s/meta", TMP);
	CHECK_EQ_INT(count_files(meta), o.with_meta);
	CHECK(o.with_meta >= n - 5);
	/* Board 7 failed in the boot ROM, whose serial string is readable
	 * (F2, F3): its attempt is recorded under that serial. */
	CHECK_EQ_INT(db_int("SELECT count(*) FROM boards", NULL), n);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts WHERE serial = '5eed0007' AND port = '1-1.7'"
			    " AND result = 'FAILED'", NULL), 1);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM boards WHERE last_result = 'OK'", NULL), n - 5);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts WHERE result = 'TIMEOUT' AND port = '1-1.9'", NULL), 1);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts WHERE result = 'LEFT' AND port = '1-1.5'", NULL), 1);

	/* The same tray again (re-plugged): numbering continues, each board
	 * now has two attempts, the one that failed is OK this time. */
	run_tray(n, NULL, 0, 43, 200, n, NULL, 0, &sum, &o, run_id);
	CHECK_EQ_INT(sum.runner.ok, n);
	CHECK(!rp_station_summary_failed(&sum));
	CHECK_EQ_INT(db_int("SELECT count(*) FROM attempts", NULL), 2 * n);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM boards", NULL), n);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM boards WHERE attempts = 2", NULL), n);
	CHECK_EQ_INT(db_int("SELECT attempts FROM boards WHERE serial = ?1", "5eed0007"), 2);
	CHECK_EQ_INT(db_int("SELECT count(*) FROM boards WHERE last_result = 'OK'", NULL), n);
	CHECK_EQ_INT(db_int("SELECT sum(successes) FROM boards", NULL), 2 * n - 5);
}

static void test_stop_mid_tray(void)
{
	/* Boards that take ~0.6 s arriving over ~2 s; stop when the fifth
	 * has started: those in flight finish OK, later ones are not taken. */
	struct rp_sim_timing timing = { .stage1_ms = 5, .reenum_ms = 50, .erase_ms = 200,
					.write_ms = 300, .verify_ms = 50 };
	struct rp_station_summary sum;
	struct observed o;
	char run_id[40];
	uint64_t base = (uint64_t)db_int("SELECT max(attempt_id) FROM attempts", NULL);

	run_tray(16, NULL, 0, 7, 2000, base, &timing, 5, &sum, &o, run_id);
	CHECK(sum.runner.stopped);
	CHECK(!sum.runner.aborted);
	CHECK(sum.runner.finished >= 5 && sum.runner.finished < 16);
	CHECK_EQ_INT(sum.runner.ok, sum.runner.finished);
	/* Arrivals during the grace period are turned away; later ones are
	 * never seen (the run is over). */
	CHECK(sum.runner.finished + sum.runner.ignored <= 16);
}

int main(void)
{
	const char *tmpdir;
	char buf[256];
	int rc;

	if (!test_firmware_dir())
		return test_skip_all("RPIPROV_TEST_FIRMWARE not set: the station runs need real firmware");
	tmpdir = test_scratch_enter("test-station", buf, sizeof(buf));
	if (!tmpdir)
		return EXIT_FAILURE;
	RUN(test_tray_with_failures());
	RUN(test_stop_mid_tray());
	rc = test_result();
	test_scratch_leave(tmpdir);
	return rc;
}
