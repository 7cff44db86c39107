/* Session engine benchmark with the device model (in-process transport):
 *
 *  1. host CPU per board: 256 boards with zero device delays, so the run
 *     is all host work (plus the model's own, reported separately);
 *  2. wall time for 1, 8 and 64 boards with realistic device timing (the
 *     CM4 figures of the SoC table, from the hardware evidence): a tray
 *     should take about the time of one board;
 *  3. peak RSS of the 64-board run.
 *
 * Each scenario runs in a child process so that its CPU time and peak
 * RSS (wait4's rusage) are its own. Targets: < 5 ms host CPU per board;
 * 64 boards within 1.2x the wall time of one; < 64 MiB RSS for 64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "session/payload.h"
#include "sim/sim_source.h"
#include "soc/soc.h"
#include "runner/runner.h"
#include "util/clock.h"

#define IMAGE_SIZE (512u * 1024u)
#define SECOND_STAGE_SIZE 100140u /* the size of the 2711 recovery.bin */

struct scenario_result {
	double wall_s;
	unsigned ok, finished;
	uint64_t control, bulk;
};

struct counter {
	unsigned ok, finished;
};

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct counter *c = ctx;
	if (ev->type == RP_RUNNER_BOARD_FINISHED) {
		c->finished++;
		c->ok += ev->record->result == RP_RESULT_OK;
	}
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct rp_payload *make_payload(void)
{
	static uint8_t image[IMAGE_SIZE], second[SECOND_STAGE_SIZE];
	char sha[65], sig[128];
	struct rp_payload *p = NULL;
	struct rp_diag d;
	uint32_t x = 1;

	for (size_t i = 0; i < sizeof(image); i++) {
		x = x * 1664525u + 1013904223u;
		image[i] = (uint8_t)(x >> 24);
	}
	for (size_t i = 0; i < sizeof(second); i++)
		second[i] = (uint8_t)i;
	/* The .sig's timestamp in the last 8 bytes, as recovery.bin writes it (F20). */
	for (unsigned i = 0; i < 4; i++) {
		image[sizeof(image) - 8 + i] = (uint8_t)(~1700000000u >> (8 * i));
		image[sizeof(image) - 4 + i] = (uint8_t)(1700000000u >> (8 * i));
	}
	sha256_hex(image, sizeof(image), sha);
	snprintf(sig, sizeof(sig), "%s\nts: 1700000000\n", sha);
	if (rp_payload_new(NULL, &p, &d) != RP_OK ||
	    rp_payload_add(p, "bootcode4.bin", second, sizeof(second), &d) != RP_OK ||
	    rp_payload_add(p, "pieeprom.bin", image, sizeof(image), &d) != RP_OK ||
	    rp_payload_add(p, "pieeprom.sig", sig, strlen(sig), &d) != RP_OK ||
	    rp_payload_add(p, "config.txt", "recovery_metadata=1\n", 20, &d) != RP_OK) {
		fprintf(stderr, "payload: %s\n", rp_diag_message(&d));
		exit(1);
	}
	return p;
}

/* Runs in the child. */
static int scenario(unsigned n, bool realistic, struct scenario_result *res)
{
	struct rp_payload *p = make_payload();
	struct rp_sim_params tmpl;
	struct rp_sim_source_opts so = { .n_boards = n, .params = &tmpl };
	struct rp_source *src = NULL;
	struct rp_runner *r = NULL;
	struct rp_runner_opts ro;
	struct rp_runner_summary sum;
	struct counter c = { 0 };
	struct rp_diag d;
	uint64_t t0;

	rp_sim_params_default(&tmpl, 0);
	if (realistic)
		rp_sim_timing_realistic(&tmpl.timing);
	if (rp_sim_source_new(&so, &src, &d) != RP_OK) {
		fprintf(stderr, "%s\n", rp_diag_message(&d));
		return 1;
	}
	memset(&ro, 0, sizeof(ro));
	ro.source = src;
	ro.payload = p;
	ro.mode = RP_SESSION_FLASH;
	ro.count = n;
	ro.board_timeout_ms = 60000;
	ro.on_event = on_event;
	ro.event_ctx = &c;
	t0 = rp_now_us();
	if (rp_runner_new(&ro, &r, &d) != RP_OK || rp_runner_run(r, &sum, &d) != RP_OK) {
		fprintf(stderr, "%s\n", rp_diag_message(&d));
		return 1;
	}
	res->wall_s = (double)(rp_now_us() - t0) / 1e6;
	res->ok = c.ok;
	res->finished = c.finished;
	rp_runner_free(r);
	src->ops->destroy(src);
	rp_payload_free(p);
	return 0;
}

/* Fork, run, collect the child's figures and rusage. */
static int run_child(unsigned n, bool realistic, struct scenario_result *res, struct rusage *ru)
{
	int fds[2], status = 0;
	pid_t pid;
	ssize_t got;

	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct scenario_result r = { 0 };
		int rc;
		close(fds[0]);
		rc = scenario(n, realistic, &r);
		if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			rc = 1;
		_exit(rc);
	}
	close(fds[1]);
	got = read(fds[0], res, sizeof(*res));
	close(fds[0]);
	if (pid < 0 || wait4(pid, &status, 0, ru) < 0)
		return -1;
	return (got == (ssize_t)sizeof(*res) && WIFEXITED(status) && !WEXITSTATUS(status)) ? 0 : -1;
}

static double cpu_ms(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

/* What the device model itself spends per board that a real host would
 * not: hashing the received image (once) and copying it. */
static double model_ms_per_board(void)
{
	static uint8_t buf[IMAGE_SIZE], copy[IMAGE_SIZE];
	char hex[65];
	const unsigned reps = 64;
	uint64_t t0 = rp_now_us();
	for (unsigned i = 0; i < reps; i++) {
		buf[i] = (uint8_t)i;
		memcpy(copy, buf, sizeof(buf));
		sha256_hex(copy, sizeof(copy), hex);
	}
	return (double)(rp_now_us() - t0) / 1e3 / reps;
}

int main(int argc, char **argv)
{
	struct scenario_result res, one = { 0 };
	struct rusage ru;
	const unsigned cpu_boards = 256;
	static const unsigned trays[] = { 1, 8, 64 };
	double model_ms, per_board, rss_mib = 0;
	bool ok = true;

	(void)argc;
	(void)argv;
	printf("rpiprov session benchmark (device model, in-process transport)\n");
	printf("payload: %u KiB pieeprom.bin, %u KiB second stage\n\n", IMAGE_SIZE / 1024,
	       SECOND_STAGE_SIZE / 1024);

	if (run_child(cpu_boards, false, &res, &ru) != 0 || res.ok != cpu_boards) {
		fprintf(stderr, "CPU run failed (%u of %u OK)\n", res.ok, cpu_boards);
		return 1;
	}
	model_ms = model_ms_per_board();
	per_board = cpu_ms(&ru) / cpu_boards;
	printf("CPU, %u boards, zero device delays: %.1f ms wall, %.3f ms CPU per board\n",
	       cpu_boards, res.wall_s * 1e3, per_board);
	printf("  of which the device model (hash + copy of the image) ~ %.3f ms per board\n",
	       model_ms);
	printf("  host side ~ %.3f ms per board (target < 5 ms)\n\n",
	       per_board > model_ms ? per_board - model_ms : 0.0);
	ok = ok && per_board - model_ms < 5.0;

	{
		const struct rp_soc_timing *t = &rp_soc_default()->model_timing;
		printf("wall time with realistic device timing (BCM2711: ROM %u ms, re-enumeration "
		       "%u ms,\nerase %u ms, write %u ms, read %u ms for a whole EEPROM):\n",
		       t->stage1_ms, t->reenum_ms, t->erase_ms, t->write_ms, t->verify_ms);
	}
	for (size_t i = 0; i < sizeof(trays) / sizeof(trays[0]); i++) {
		unsigned n = trays[i];
		if (run_child(n, true, &res, &ru) != 0 || res.ok != n) {
			fprintf(stderr, "%u-board run failed (%u OK)\n", n, res.ok);
			return 1;
		}
		if (n == 1)
			one = res;
		printf("  %2u board%s %.3f s  (%.3fx one board), CPU %.1f ms, peak RSS %.1f MiB\n", n,
		       n == 1 ? ": " : "s:", res.wall_s, res.wall_s / one.wall_s, cpu_ms(&ru),
		       (double)ru.ru_maxrss / 1024.0);
		if (n == 64) {
			rss_mib = (double)ru.ru_maxrss / 1024.0;
			ok = ok && res.wall_s <= 1.2 * one.wall_s;
		}
	}
	printf("\npeak RSS for 64 boards: %.1f MiB (target < 64 MiB; includes the 64 virtual\n"
	       "EEPROMs and second stages the device model keeps, ~%.1f MiB)\n",
	       rss_mib, 64.0 * (IMAGE_SIZE + SECOND_STAGE_SIZE) / (1024.0 * 1024.0));
	ok = ok && rss_mib < 64.0;
	printf("\n%s\n", ok ? "all targets met" : "TARGETS MISSED");
	return ok ? 0 : 1;
}
