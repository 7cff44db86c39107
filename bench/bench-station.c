/* A tray of simulated boards with realistic board-side timing (CM4 SPI
 * erase/write/verify, re-enumeration) through the whole station path:
 * runner, sessions, and every finished record written to the JSON Lines
 * report, the SQLite database and the metadata directory. Prints the wall
 * time of one board and of the tray, their ratio (target: tray within
 * 1.2x of one board) and boards per hour.
 *
 * Usage: bench-station [BOARDS [REPEATS]]   (default 64, 3)
 * Needs the firmware fixtures (RPIPROV_TEST_FIRMWARE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/prepare.h"
#include "records/sink.h"
#include "sim/sim_source.h"
#include "station/station.h"
#include "util/clock.h"

struct run_result {
	double wall_ms;
	unsigned ok, finished, records;
};

static int run_once(const struct rp_prepared *prep, const char *dir, unsigned n, bool records,
		    unsigned repeat, struct run_result *res)
{
	struct rp_station_config cfg;
	struct rp_station_opts so;
	struct rp_sim_source_opts sim;
	struct rp_sim_params params;
	struct rp_source *source = NULL;
	struct rp_sink *sinks[3];
	unsigned n_sinks = 0;
	struct rp_station_summary sum;
	struct rp_station *s;
	struct rp_diag d;
	char path[4096];
	uint64_t t0;
	int ret;

	rp_station_config_init(&cfg);
	if (records) {
		snprintf(path, sizeof(path), "%s/report-%u-%u.jsonl", dir, n, repeat);
		if (rp_sink_jsonl_new(path, &sinks[n_sinks], &d) == RP_OK)
			n_sinks++;
		snprintf(path, sizeof(path), "%s/boards-%u-%u.db", dir, n, repeat);
		if (rp_sink_sqlite_new(path, &sinks[n_sinks], &d) == RP_OK)
			n_sinks++;
		snprintf(path, sizeof(path), "%s/meta-%u-%u", dir, n, repeat);
		if (rp_sink_metadata_new(path, &sinks[n_sinks], &d) == RP_OK)
			n_sinks++;
	}
	rp_station_config_set(&cfg, RP_CONFIG_CLI, "station", "bench", &d);
	rp_sim_params_default(&params, 0);
	rp_sim_timing_realistic(&params.timing);
	memset(&sim, 0, sizeof(sim));
	sim.n_boards = n;
	sim.params = &params;
	memset(&so, 0, sizeof(so));
	so.config = &cfg;
	so.sinks = sinks;
	so.n_sinks = n_sinks;
	so.count = n;
	so.prepared = prep;

	/* Set-up (opening the database, creating the source) is not part of
	 * a board's time; the run, including flushing the records, is. */
	ret = rp_sim_source_new(&sim, &source, &d);
	so.source = source;
	if (ret == RP_OK)
		ret = rp_station_new(&so, &s, &d);
	else
		for (unsigned i = 0; i < n_sinks; i++)
			sinks[i]->ops->close(sinks[i]);
	if (ret < 0) {
		fprintf(stderr, "bench-station: %s\n", rp_diag_message(&d));
		if (source)
			source->ops->destroy(source);
		rp_station_config_free(&cfg);
		return ret;
	}
	t0 = rp_now_us();
	ret = rp_station_run(s, &sum, &d);
	res->wall_ms = (double)(rp_now_us() - t0) / 1000.0;
	rp_station_free(s);
	source->ops->destroy(source);
	rp_station_config_free(&cfg);
	if (ret < 0) {
		fprintf(stderr, "bench-station: %s\n", rp_diag_message(&d));
		return ret;
	}
	res->ok = sum.runner.ok;
	res->finished = sum.runner.finished;
	res->records = sum.records_written;
	return RP_OK;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int median_run(const struct rp_prepared *prep, const char *dir, unsigned n, bool records,
		      unsigned repeats, double *median, double *best, double *worst)
{
	double t[16];
	for (unsigned r = 0; r < repeats; r++) {
		struct run_result res;
		if (run_once(prep, dir, n, records, r, &res) < 0)
			return -1;
		if (res.ok != n || (records && res.records != n)) {
			fprintf(stderr, "bench-station: %u boards: %u OK, %u records\n", n, res.ok, res.records);
			return -1;
		}
		t[r] = res.wall_ms;
	}
	qsort(t, repeats, sizeof(t[0]), cmp_double);
	*median = t[repeats / 2];
	*best = t[0];
	*worst = t[repeats - 1];
	return 0;
}

int main(int argc, char **argv)
{
	const char *fw = getenv("RPIPROV_TEST_FIRMWARE");
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 64;
	unsigned repeats = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 3;
	char image[4096], recovery[4096], tmpl[] = "/tmp/rpiprov-bench-station-XXXXXX", cmd[4200];
	struct rp_prepare_opts po;
	struct rp_prepared prep;
	struct rp_sim_timing timing;
	struct rp_diag d;
	double one, one_best, one_worst, tray, tray_best, tray_worst, bare, bare_best, bare_worst;
	unsigned board_ms;
	char *dir;

	if (!fw || !*fw) {
		fprintf(stderr, "bench-station: set RPIPROV_TEST_FIRMWARE to the firmware fixtures\n");
		return 77;
	}
	if (n == 0 || n > RP_SIM_MAX_BOARDS || repeats == 0 || repeats > 16) {
		fprintf(stderr, "usage: bench-station [BOARDS (1-%d) [REPEATS (1-16)]]\n", RP_SIM_MAX_BOARDS);
		return 64;
	}
	snprintf(image, sizeof(image), "%s/2711/pieeprom-2022-04-26.bin", fw);
	snprintf(recovery, sizeof(recovery), "%s/2711/recovery.bin", fw);
	memset(&po, 0, sizeof(po));
	po.image_path = image;
	po.recovery_path = recovery;
	po.sets[po.n_sets++] = "BOOT_ORDER=0xf21";
	po.timestamp = -1;
	if (rp_prepare_build(&po, &prep, &d) < 0) {
		fprintf(stderr, "bench-station: %s\n", rp_diag_message(&d));
		return 1;
	}
	dir = mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		return 1;
	}
	rp_sim_timing_realistic(&timing);
	board_ms = timing.stage1_ms + timing.reenum_ms + timing.erase_ms + timing.write_ms + timing.verify_ms;

	printf("station path, simulated CM4 boards with realistic timing (%u ms of board-side work each),\n"
	       "records to JSONL + SQLite + metadata dir in %s; median of %u runs\n\n",
	       board_ms, dir, repeats);
	if (median_run(&prep, dir, 1, true, repeats, &one, &one_best, &one_worst) < 0 ||
	    median_run(&prep, dir, n, true, repeats, &tray, &tray_best, &tray_worst) < 0 ||
	    median_run(&prep, dir, n, false, repeats, &bare, &bare_best, &bare_worst) < 0) {
		rp_prepared_free(&prep);
		return 1;
	}
	printf("  1 board,   records:    %8.1f ms  (best %.1f, worst %.1f)  host overhead %.1f ms\n", one,
	       one_best, one_worst, one - board_ms);
	printf("  %u boards, records:   %8.1f ms  (best %.1f, worst %.1f)\n", n, tray, tray_best, tray_worst);
	printf("  %u boards, no records:%8.1f ms  (best %.1f, worst %.1f)\n", n, bare, bare_best, bare_worst);
	printf("\n  tray / one board:     %.3fx   (target <= 1.2x: %s)\n", tray / one,
	       tray / one <= 1.2 ? "met" : "NOT MET");
	printf("  records cost on the tray: %.1f ms\n", tray - bare);
	printf("  throughput:           %.0f boards/hour with one tray of %u at a time\n",
	       (double)n * 3600000.0 / tray, n);
	printf("  (rpiboot, one board at a time with its >= 3 s of sleeps: <= %.0f boards/hour)\n",
	       3600000.0 / (board_ms + 3000.0));

	rp_prepared_free(&prep);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-station: could not remove %s\n", dir);
	return tray / one <= 1.2 ? 0 : 1;
}
