/* End to end through the in-process transport: the session and runner
 * against the device model, which also checks every host message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/bootconf.h"
#include "image/eeprom_image.h"
#include "image/prepare.h"
#include "session/session.h"
#include "testlib.h"
#include "util/clock.h"

#include "session_helpers.h"

static void check_board_ok(struct th_run *run, unsigned i, const uint8_t *image, size_t image_len,
			   const uint8_t *second, size_t second_len, const char *sha)
{
	struct rp_sim_board *b = rp_sim_source_board(run->src, i);
	const struct rp_board_record *rec = &run->recs[i];
	const uint8_t *ee, *ss;
	size_t ee_len, ss_len;

	if (rec->result != RP_RESULT_OK)
		fprintf(stderr, "board %u: %s: %s\n", i + 1, rp_board_result_name(rec->result),
			rec->error);
	CHECK_EQ_INT(rec->result, RP_RESULT_OK);
	CHECK_EQ_INT(rec->error_code, RP_OK);
	CHECK_STR_EQ(rec->served_sha256, sha);
	CHECK_STR_EQ(rec->reported_hash, sha);
	CHECK_STR_EQ(rp_board_record_meta(rec, "EEPROM_UPDATE"), "success");
	CHECK_STR_EQ(rp_board_record_meta(rec, "USER_SERIAL_NUM"), rp_sim_board_serial(b));
	CHECK_STR_EQ(rec->serial, rp_sim_board_serial(b));
	CHECK(rp_board_record_meta(rec, "MAC_ADDR") != NULL);
	/* Table 2.3 for a 2711 of >= 2025-11-27; SECURE_BOOT_PROVISION and
	 * EEPROM_ERASE only when config.txt asked for the action. */
	CHECK(rp_board_record_meta(rec, "SECURE_BOOT_PROVISION") == NULL);
	CHECK_EQ_INT(rec->n_meta, 10);
	CHECK_EQ_INT(rec->meta_dropped, 0);
	CHECK_STR_EQ(rec->soc, "2711");
	CHECK(rec->end_unix_ms >= rec->start_unix_ms);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	CHECK(rp_sim_board_host_error(b) == NULL);
	if (rp_sim_board_host_error(b))
		fprintf(stderr, "host error: %s\n", rp_sim_board_host_error(b));
	ee = rp_sim_board_eeprom(b, &ee_len);
	CHECK_EQ_INT(ee_len, 512 * 1024);
	CHECK(ee_len >= image_len && memcmp(ee, image, image_len) == 0);
	ss = rp_sim_board_second_stage(b, &ss_len);
	CHECK_EQ_INT(ss_len, second_len);
	CHECK(ss && memcmp(ss, second, second_len) == 0);
}

static void test_one_board(void)
{
	struct th_payload tp;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 1 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000 };
	struct rp_runner_summary sum;

	CHECK(th_payload_init(&tp, "recovery_metadata=1\n") == 0);
	CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.finished, 1);
	CHECK_EQ_INT(sum.ok, 1);
	check_board_ok(&run, 0, tp.image, TH_IMAGE_SIZE, tp.second, TH_SECOND_STAGE_SIZE, tp.sha);
	CHECK_EQ_INT(run.phases[RP_PHASE_STAGE1], 1);
	CHECK_EQ_INT(run.phases[RP_PHASE_REENUM], 1);
	CHECK_EQ_INT(run.phases[RP_PHASE_SERVE], 1);
	CHECK_EQ_INT(run.phases[RP_PHASE_VERIFY], 1);
	/* bootcode4.bin, config.txt, pieeprom.sig, pieeprom.bin */
	CHECK_EQ_INT(run.recs[0].files_served, 4);
	th_run_free(&run);
	th_payload_free(&tp);
}

static void test_many_boards(unsigned n)
{
	struct th_payload tp;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = n };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 2000,
				     .request_timeout_ms = 2000, .board_timeout_ms = 20000 };
	struct rp_runner_summary sum;

	CHECK(th_payload_init(&tp, NULL) == 0);
	CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.finished, n);
	CHECK_EQ_INT(sum.ok, n);
	CHECK_EQ_INT(run.finished, n);
	for (unsigned i = 0; i < n; i++)
		check_board_ok(&run, i, tp.image, TH_IMAGE_SIZE, tp.second, TH_SECOND_STAGE_SIZE,
			       tp.sha);
	/* Distinct attempt ids. */
	for (unsigned i = 1; i < n; i++)
		CHECK(run.recs[i].attempt_id != run.recs[0].attempt_id);
	th_run_free(&run);
	th_payload_free(&tp);
}

/* The netboot profile through rp_prepare_build, the virtual EEPROM
 * compared with the prepared image and its boot.conf parsed back. */
static void test_netboot_profile(void)
{
	const char *fw = test_firmware_dir();
	char image[4096], recovery[4096];
	struct rp_prepare_opts po = { 0 };
	struct rp_prepared prep;
	struct rp_payload *p = NULL;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 2 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000,
				     .soc = "2711" };
	struct rp_runner_summary sum;
	struct rp_diag d;
	struct rp_eeprom img;
	const uint8_t *conf, *ee;
	size_t conf_len, ee_len, vlen;
	const char *v;

	if (!fw)
		return;
	snprintf(image, sizeof(image), "%s/2711/pieeprom-2026-08-04.bin", fw);
	snprintf(recovery, sizeof(recovery), "%s/2711/recovery.bin", fw);
	po.image_path = image;
	po.recovery_path = recovery;
	po.profile = "netboot";
	po.timestamp = 1700000000;
	rp_diag_clear(&d);
	if (rp_prepare_build(&po, &prep, &d) != RP_OK) {
		fprintf(stderr, "prepare: %s\n", rp_diag_message(&d));
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(rp_payload_new(NULL, &p, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add_prepared(p, &prep, &d), RP_OK);
	CHECK_EQ_INT(th_run_boards(&run, p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 2);
	for (unsigned i = 0; i < 2; i++) {
		check_board_ok(&run, i, prep.image, prep.image_len, prep.second_stage,
			       prep.second_stage_len, prep.image_sha256);
		ee = rp_sim_board_eeprom(rp_sim_source_board(run.src, i), &ee_len);
		CHECK_EQ_INT(ee_len, prep.image_len);
		CHECK(memcmp(ee, prep.image, ee_len) == 0);
		memset(&img, 0, sizeof(img));
		CHECK_EQ_INT(rp_eeprom_parse(&img, ee, ee_len, "virtual EEPROM", &d), RP_OK);
		CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &conf, &conf_len, &d), RP_OK);
		v = rp_bootconf_get(conf, conf_len, "BOOT_ORDER", &vlen);
		CHECK(v && vlen == 5 && !memcmp(v, "0xf21", 5));
		rp_eeprom_free(&img);
	}
	th_run_free(&run);
	rp_payload_free(p);
	rp_prepared_free(&prep);
}

/* boot -d with a directory holding only the second stage (rpiboot -d DIR):
 * the board asks for pieeprom.bin, is told it is missing and reports
 * EEPROM_UPDATE=fail. The board did not get what it came for:
 * FAILED, not SERVED, in boot -d as in flash. */
static void test_serve_without_image(void)
{
	struct rp_payload *p = NULL;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 1 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_SERVE, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000 };
	struct rp_runner_summary sum;
	static const uint8_t second[4096] = { 1, 2, 3 };
	char dir[256], path[300];
	struct rp_payload_opts po = { .dir = dir };
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/rpiprov-session-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/bootcode4.bin", dir);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(second, 1, sizeof(second), f) == sizeof(second));
		fclose(f);
	}
	CHECK_EQ_INT(rp_payload_new(&po, &p, NULL), RP_OK);
	CHECK_EQ_INT(th_run_boards(&run, p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.served, 0);
	CHECK_EQ_INT(sum.failed, 1);
	CHECK_EQ_INT(run.recs[0].result, RP_RESULT_FAILED);
	CHECK_CONTAINS(run.recs[0].error, "asked for pieeprom.bin, which is not in the served files");
	CHECK_CONTAINS(run.recs[0].error, "EEPROM_UPDATE=fail");
	CHECK_STR_EQ(rp_board_record_meta(&run.recs[0], "EEPROM_UPDATE"), "fail");
	CHECK_EQ_INT(rp_sim_board_outcome(rp_sim_source_board(run.src, 0)), RP_SIM_NOT_UPDATED);
	CHECK(rp_sim_board_host_error(rp_sim_source_board(run.src, 0)) == NULL);
	th_run_free(&run);

	/* Flash mode with the same payload: the board never read an image. */
	memset(&run, 0, sizeof(run));
	ro.mode = RP_SESSION_FLASH;
	ro.count = 0;
	CHECK_EQ_INT(th_run_boards(&run, p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(run.recs[0].result, RP_RESULT_FAILED);
	CHECK_CONTAINS(run.recs[0].error, "without reading pieeprom.bin");
	th_run_free(&run);
	rp_payload_free(p);
	unlink(path);
	rmdir(dir);
}

/* recovery_metadata=0: the board reports nothing, so flash cannot
 * confirm the write: UNVERIFIED (the board wrote, as far as anyone can
 * tell), and FAILED only when verified results are required. */
static void test_no_metadata(void)
{
	for (int strict = 0; strict < 2; strict++) {
		struct th_payload tp;
		struct th_run run = { 0 };
		struct rp_sim_source_opts so = { .n_boards = 1 };
		struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
					     .request_timeout_ms = 1000, .board_timeout_ms = 5000,
					     .require_verified = strict };
		struct rp_runner_summary sum;

		CHECK(th_payload_init(&tp, "recovery_metadata=0\n") == 0);
		CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
		CHECK_EQ_INT(run.recs[0].result, strict ? RP_RESULT_FAILED : RP_RESULT_UNVERIFIED);
		CHECK_EQ_INT(sum.unverified, strict ? 0u : 1u);
		CHECK_EQ_INT(sum.failed, strict ? 1u : 0u);
		CHECK_CONTAINS(run.recs[0].error, "recovery_metadata=0");
		th_run_free(&run);
		th_payload_free(&tp);
	}
}

/* A second stage that reads as a 2711 recovery.bin built on `date` (its
 * banner, chip string and metadata formats; with_hash: the EEPROM_HASH
 * and EEPROM_UPDATE reports), padded like the fake one. */
static void fake_recovery(struct th_payload *tp, const char *date, bool with_hash)
{
	char text[512];
	int n = snprintf(text, sizeof(text),
			 "RPi: RECOVERY release DATE: %s vc_driver_sdram_init_2711 *MAC_ADDR*%%e%s",
			 date, with_hash ? " *EEPROM_UPDATE*%s *EEPROM_HASH*%32H" : "");
	struct rp_payload *p;
	struct rp_diag d;

	memcpy(tp->second, text, (size_t)n);
	/* A fresh payload: its entries are copies, made when added. */
	CHECK_EQ_INT(rp_payload_new(NULL, &p, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "bootcode4.bin", tp->second, TH_SECOND_STAGE_SIZE, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "pieeprom.bin", tp->image, TH_IMAGE_SIZE, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "pieeprom.sig", tp->sig, strlen(tp->sig), &d), RP_OK);
	rp_payload_free(tp->p);
	tp->p = p;
}

/* recovery.bin builds from 2024-08-14 to 2025-11-21 send metadata without
 * EEPROM_UPDATE or EEPROM_HASH, older ones none (2.3): written as far as
 * anyone can tell, UNVERIFIED, never FAILED; --require-verified makes it a
 * failure. A build whose bytes hold the reports and sends none fails. */
static void test_old_recovery_unverified(void)
{
	static const struct {
		uint32_t model_date;  /* what the model plays */
		const char *banner;   /* what the second stage's bytes say */
		bool with_hash;
		bool strict;
		enum rp_board_result want;
		const char *reason;
	} cases[] = {
		{ 20250101, "2025/01/01", false, false, RP_RESULT_UNVERIFIED, "cannot report EEPROM_HASH" },
		{ 20250101, "2025/01/01", false, true, RP_RESULT_FAILED, "verified results required" },
		{ 20240701, "2024/07/01", false, false, RP_RESULT_UNVERIFIED, "built 2024-07-01" },
		{ 20250101, "2026/08/04", true, false, RP_RESULT_FAILED, "did not report EEPROM_HASH" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct th_payload tp;
		struct th_run run = { 0 };
		struct rp_sim_params params;
		struct rp_sim_source_opts so = { .n_boards = 1, .params = &params };
		struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
					     .request_timeout_ms = 1000, .board_timeout_ms = 5000,
					     .require_verified = cases[i].strict };
		struct rp_runner_summary sum;

		rp_sim_params_default(&params, 0);
		params.firmware_date = cases[i].model_date;
		CHECK(th_payload_init(&tp, NULL) == 0);
		fake_recovery(&tp, cases[i].banner, cases[i].with_hash);
		CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
		CHECK_EQ_INT(run.recs[0].result, cases[i].want);
		CHECK_CONTAINS(run.recs[0].error, cases[i].reason);
		CHECK_EQ_INT(sum.unverified, cases[i].want == RP_RESULT_UNVERIFIED ? 1u : 0u);
		th_run_free(&run);
		th_payload_free(&tp);
	}
}

/* Filters: devices outside the port glob or serial list are never opened. */
static void test_filters(void)
{
	struct th_payload tp;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 4 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000,
				     .count = 2, .idle_timeout_ms = 2000 };
	struct rp_runner_summary sum;
	size_t len;

	CHECK(th_payload_init(&tp, NULL) == 0);
	ro.port_globs[0] = "1-1.[13]";
	ro.n_port_globs = 1;
	CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 2);
	CHECK_EQ_INT(run.recs[0].result, RP_RESULT_OK);
	CHECK_EQ_INT(run.recs[2].result, RP_RESULT_OK);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_PENDING);
	CHECK(sum.ignored >= 2);
	CHECK(rp_sim_board_second_stage(rp_sim_source_board(run.src, 1), &len) == NULL);
	CHECK(rp_sim_board_second_stage(rp_sim_source_board(run.src, 3), &len) == NULL);
	CHECK_CONTAINS(run.last_ignored, "--port");
	th_run_free(&run);

	/* Serial filter, against the USB serial string (8 hex digits at
	 * either stage, F3/F10): boards 1-3 run a second stage, board 4 is in
	 * the ROM. Board 2 only is taken. */
	memset(&run, 0, sizeof(run));
	ro.n_port_globs = 0;
	ro.count = 1;
	{
		static const bool second_stage[4] = { true, true, true, false };
		ro.serials[0] = "5eed0002";
		ro.n_serials = 1;
		so.second_stage = second_stage;
		CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
		so.second_stage = NULL;
	}
	CHECK_EQ_INT(sum.ok, 1);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_OK);
	CHECK_STR_EQ(run.recs[1].serial, rp_sim_board_serial(rp_sim_source_board(run.src, 1)));
	for (unsigned i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		CHECK_EQ_INT(run.recs[i].result, RP_RESULT_PENDING);
		CHECK_EQ_INT(rp_sim_board_outcome(rp_sim_source_board(run.src, i)), RP_SIM_RUNNING);
		CHECK(rp_sim_board_second_stage(rp_sim_source_board(run.src, i), &len) == NULL);
	}
	CHECK_EQ_INT(sum.ignored, 3);
	CHECK_CONTAINS(run.ignored_log, "serial 5eed0001 does not match the --serial filter");
	CHECK_CONTAINS(run.ignored_log, "serial 5eed0003 does not match the --serial filter");
	/* The ROM's serial is readable too (F2, F3). */
	CHECK_CONTAINS(run.ignored_log, "serial 5eed0004 does not match the --serial filter");
	th_run_free(&run);

	/* Every board in the ROM: --serial selects by the ROM's serial
	 * string (rpiboot -i does the same at either stage). */
	memset(&run, 0, sizeof(run));
	ro.idle_timeout_ms = 300;
	CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.finished, 1);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_OK);
	CHECK_EQ_INT(sum.ignored, 3);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ_INT(rp_sim_board_second_stage(rp_sim_source_board(run.src, i), &len) != NULL,
			     i == 1);
	th_run_free(&run);

	/* A 2712 board when the payload is for 2711: ignored, never opened. */
	memset(&run, 0, sizeof(run));
	ro.n_serials = 0;
	ro.soc = "2711";
	ro.count = 1;
	ro.idle_timeout_ms = 200;
	{
		struct rp_sim_params p;
		rp_sim_params_default(&p, 1);
		p.pid = 0x2712;
		so.params = &p;
		so.n_boards = 1;
		CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
		so.params = NULL;
	}
	CHECK_EQ_INT(sum.finished, 0);
	CHECK(sum.idle_timed_out);
	CHECK_CONTAINS(run.last_ignored, "BCM2712");
	th_run_free(&run);
	th_payload_free(&tp);
}

/* Boards arriving over time, and a run without count ended by idle time. */
static void test_arrivals_and_idle(void)
{
	struct th_payload tp;
	struct th_run run = { 0 };
	static const uint64_t arrivals[3] = { 0, 40, 120 };
	struct rp_sim_source_opts so = { .n_boards = 3, .arrival_ms = arrivals };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000,
				     .count = 0, .idle_timeout_ms = 300 };
	struct rp_runner_summary sum;
	uint64_t t0;

	CHECK(th_payload_init(&tp, NULL) == 0);
	/* th_run_boards turns count 0 into n: use the runner directly for "forever". */
	run.n = 3;
	run.recs = calloc(3, sizeof(*run.recs));
	pthread_mutex_init(&run.lock, NULL);
	CHECK_EQ_INT(rp_sim_source_new(&so, &run.src, NULL), RP_OK);
	ro.source = run.src;
	ro.payload = tp.p;
	ro.on_event = th_on_event;
	ro.event_ctx = &run;
	{
		struct rp_runner *r = NULL;
		CHECK_EQ_INT(rp_runner_new(&ro, &r, NULL), RP_OK);
		t0 = rp_now_ms();
		CHECK_EQ_INT(rp_runner_run(r, &sum, NULL), RP_OK);
		rp_runner_free(r);
	}
	CHECK_EQ_INT(sum.ok, 3);
	CHECK(sum.idle_timed_out);
	/* Idle counted from the last board's end, not from the start. */
	CHECK(rp_now_ms() - t0 >= 120 + 300);
	th_run_free(&run);
	th_payload_free(&tp);
}

/* rp_runner_stop from the event callback: the run ends once the board in
 * flight is done. */
struct stop_ctx {
	struct th_run run;
	struct rp_runner *r;
};

static void stop_on_first(void *ctx, const struct rp_runner_event *ev)
{
	struct stop_ctx *sc = ctx;
	th_on_event(&sc->run, ev);
	if (ev->type == RP_RUNNER_BOARD_FINISHED)
		rp_runner_stop(sc->r);
}

static void test_stop(void)
{
	struct th_payload tp;
	struct stop_ctx sc = { 0 };
	static const uint64_t arrivals[2] = { 0, 100000 };
	struct rp_sim_source_opts so = { .n_boards = 2, .arrival_ms = arrivals };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000 };
	struct rp_runner_summary sum;

	CHECK(th_payload_init(&tp, NULL) == 0);
	sc.run.n = 2;
	sc.run.recs = calloc(2, sizeof(*sc.run.recs));
	pthread_mutex_init(&sc.run.lock, NULL);
	CHECK_EQ_INT(rp_sim_source_new(&so, &sc.run.src, NULL), RP_OK);
	ro.source = sc.run.src;
	ro.payload = tp.p;
	ro.on_event = stop_on_first;
	ro.event_ctx = &sc;
	CHECK_EQ_INT(rp_runner_new(&ro, &sc.r, NULL), RP_OK);
	CHECK_EQ_INT(rp_runner_run(sc.r, &sum, NULL), RP_OK);
	rp_runner_free(sc.r);
	CHECK(sum.stopped);
	CHECK(!sum.aborted);
	CHECK_EQ_INT(sum.ok, 1);
	CHECK_EQ_INT(sum.finished, 1);
	th_run_free(&sc.run);
	th_payload_free(&tp);
}

/* A board pulled out while its files are being served. */
static void test_unplug(void)
{
	struct th_payload tp;
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 3 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 5000 };
	struct rp_runner_summary sum;
	struct rp_sim_params p;

	/* Board 2 is slow to write, so the unplug lands mid-session. */
	rp_sim_params_default(&p, 1);
	p.timing.erase_ms = 200;
	so.params = &p;
	CHECK(th_payload_init(&tp, NULL) == 0);
	run.unplug_board = 2;
	run.unplug_phase = RP_PHASE_SERVE;
	CHECK_EQ_INT(th_run_boards(&run, tp.p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 2);
	CHECK_EQ_INT(sum.left, 1);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_LEFT);
	CHECK_CONTAINS(run.recs[1].error, "left the bus");
	CHECK_EQ_INT(rp_sim_board_outcome(rp_sim_source_board(run.src, 1)), RP_SIM_GONE);
	th_run_free(&run);
	th_payload_free(&tp);
}

/* Abort while a board waits for its second stage: the waiter is woken at
 * once. A later runner on the same source then gets the second stage with
 * no stage 1 of its own and serves it directly. */
struct abort_ctx {
	struct th_run run;
	struct rp_runner *r;
	bool stop_only;
};

static void abort_on_reenum(void *ctx, const struct rp_runner_event *ev)
{
	struct abort_ctx *ac = ctx;
	th_on_event(&ac->run, ev);
	if (ev->type == RP_RUNNER_PHASE && ev->phase == RP_PHASE_REENUM) {
		if (ac->stop_only)
			rp_runner_stop(ac->r);
		else
			rp_runner_abort(ac->r);
	}
}

static void test_abort_and_direct_second_stage(bool stop_only)
{
	struct th_payload tp;
	struct abort_ctx ac = { .stop_only = stop_only };
	struct rp_sim_params p;
	struct rp_sim_source_opts so = { .n_boards = 1, .params = &p };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .board_timeout_ms = 20000,
				     .reenum_timeout_ms = 10000, .stop_grace_ms = 100 };
	struct rp_runner_summary sum;
	uint64_t t0;

	rp_sim_params_default(&p, 1);
	p.timing.reenum_ms = 400;
	CHECK(th_payload_init(&tp, NULL) == 0);
	ac.run.n = 1;
	ac.run.recs = calloc(1, sizeof(*ac.run.recs));
	pthread_mutex_init(&ac.run.lock, NULL);
	CHECK_EQ_INT(rp_sim_source_new(&so, &ac.run.src, NULL), RP_OK);
	ro.source = ac.run.src;
	ro.payload = tp.p;
	ro.on_event = abort_on_reenum;
	ro.event_ctx = &ac;
	ro.count = 1;
	CHECK_EQ_INT(rp_runner_new(&ro, &ac.r, NULL), RP_OK);
	t0 = rp_now_ms();
	CHECK_EQ_INT(rp_runner_run(ac.r, &sum, NULL), RP_OK);
	rp_runner_free(ac.r);
	/* stop: bounded by the 100 ms grace, then aborted; abort: at once. */
	CHECK(rp_now_ms() - t0 < 380);
	CHECK(sum.aborted);
	CHECK_EQ_INT(sum.failed, 1);
	CHECK_EQ_INT(ac.run.recs[0].result, RP_RESULT_FAILED);
	CHECK_CONTAINS(ac.run.recs[0].error, "aborted while waiting for the second stage on 1-1.1");

	/* The board comes back as the second stage: a new runner serves it. */
	memset(ac.run.recs, 0, sizeof(*ac.run.recs));
	ro.on_event = th_on_event;
	ro.event_ctx = &ac.run;
	CHECK_EQ_INT(rp_runner_new(&ro, &ac.r, NULL), RP_OK);
	CHECK_EQ_INT(rp_runner_run(ac.r, &sum, NULL), RP_OK);
	rp_runner_free(ac.r);
	CHECK_EQ_INT(sum.ok, 1);
	CHECK_EQ_INT(ac.run.recs[0].result, RP_RESULT_OK);
	/* Served without a stage 1 of its own. */
	CHECK_EQ_INT(ac.run.recs[0].files_served, 2); /* pieeprom.sig, pieeprom.bin */
	CHECK_EQ_INT(rp_sim_board_outcome(rp_sim_source_board(ac.run.src, 0)), RP_SIM_UPDATED);
	th_run_free(&ac.run);
	th_payload_free(&tp);
}

int main(int argc, char **argv)
{
	/* "netboot": only the part that needs the real firmware fixtures. */
	if (argc > 1 && !strcmp(argv[1], "netboot")) {
		if (!test_firmware_dir()) {
			return test_skip_all("RPIPROV_TEST_FIRMWARE not set: netboot profile test skipped");
		}
		RUN(test_netboot_profile());
		return test_result();
	}
	RUN(test_one_board());
	RUN(test_many_boards(64));
	RUN(test_serve_without_image());
	RUN(test_no_metadata());
	RUN(test_old_recovery_unverified());
	RUN(test_filters());
	RUN(test_arrivals_and_idle());
	RUN(test_stop());
	RUN(test_unplug());
	RUN(test_abort_and_direct_second_stage(false));
	RUN(test_abort_and_direct_second_stage(true));
	return test_result();
}
