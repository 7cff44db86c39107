/* Fault matrix: every fault of the device model at every step where it
 * means something, injected into the middle board of three. The faulty
 * board must end FAILED/TIMEOUT/LEFT with a reason that says what went
 * wrong; its neighbours in the same run must be flashed as if nothing
 * happened; nothing may hang past the short timeouts used here. */
#include <stdio.h>
#include <string.h>

#include "session/session.h"
#include "testlib.h"
#include "util/clock.h"

#include "session_helpers.h"

#define TRANSFER_MS 300
#define BOARD_MS 3000

struct expect {
	const char *fault;
	const char *step;
	enum rp_board_result result;
	const char *reason;   /* substring of record.error */
	const char *reason2;  /* second substring, or NULL */
};

/* Hardware behaviour first (each row names its evidence in
 * doc/hardware.md), then the hostile device used to test the host's
 * input checks (not hardware behaviour). */
static const struct expect matrix[] = {
	/* C22, F22: the board never comes back; F17/F23/C18: it vanishes mid-session */
	{ "leave", "stage1", RP_RESULT_LEFT, "left the bus while sending bootcode4.bin", NULL },
	{ "leave", "reenum", RP_RESULT_LEFT, "did not come back as the second stage on 1-1.", "within 500 ms" },
	{ "leave", "config", RP_RESULT_LEFT, "left the bus while waiting for the next request",
	  "after the second stage started" },
	{ "leave", "sig", RP_RESULT_LEFT, "left the bus while waiting for the next request",
	  "after the size of pieeprom.bin" },
	{ "leave", "image", RP_RESULT_LEFT, "left the bus while sending pieeprom.bin", NULL },
	{ "leave", "metadata", RP_RESULT_LEFT, "left the bus while waiting for the next request",
	  "after pieeprom.bin" },
	/* C3: the board stops answering */
	{ "silent", "stage1", RP_RESULT_TIMEOUT, "did not answer within 300 ms while sending bootcode4.bin",
	  NULL },
	{ "silent", "reenum", RP_RESULT_TIMEOUT, "board deadline passed while waiting for the next request",
	  "after the second stage started" },
	{ "silent", "config", RP_RESULT_TIMEOUT, "board deadline passed while waiting for the next request",
	  "next request" },
	{ "silent", "sig", RP_RESULT_TIMEOUT, "board deadline passed while waiting for the next request",
	  "after the size of pieeprom.bin" },
	{ "silent", "image", RP_RESULT_TIMEOUT, "did not answer within 300 ms while sending pieeprom.bin",
	  NULL },
	{ "silent", "metadata", RP_RESULT_TIMEOUT, "board deadline passed while waiting for the next request",
	  "after pieeprom.bin" },
	/* C23, C11: fewer bytes accepted by one bulk call; the host sends the
	 * rest, as rpiboot's chunk loop does, and the board is written */
	{ "short", "stage1", RP_RESULT_OK, NULL, NULL },
	{ "short", "config", RP_RESULT_OK, NULL, NULL },
	{ "short", "sig", RP_RESULT_OK, NULL, NULL },
	{ "short", "image", RP_RESULT_OK, NULL, NULL },
	/* F7: the status read fails, the board comes up all the same */
	{ "status_read_fails", "stage1", RP_RESULT_OK, NULL, NULL },
	/* F8: the first open fails while the board enumerates; the runner
	 * opens it again, as rpiboot does */
	{ "open_fails_once", "reenum", RP_RESULT_OK, NULL, NULL },
	/* C9, C25, C26, C28: the write fails, the board gives up without metadata */
	{ "write_protected", "image", RP_RESULT_TIMEOUT, "after pieeprom.bin",
	  "not write-protected (WP jumper or eeprom_write_protect)" },
	/* C15: a rejected .sig is fatal: the board stops; the message names
	 * both causes, since the host cannot tell them apart */
	{ "bad_sig", "sig", RP_RESULT_TIMEOUT, "board deadline passed while waiting for the next request",
	  "that the board accepts the signature" },
	/* F19: a request more than a request timeout late is waited for */
	{ "slow_request", "image", RP_RESULT_OK, NULL, NULL },
	/* recovery_reboot=1 (F17): judged from the metadata it sent */
	{ "vanish_after_metadata", "metadata", RP_RESULT_OK, NULL, NULL },
	/* F17: the empty name ends the session like Done */
	{ "empty_name_done", "metadata", RP_RESULT_OK, NULL, NULL },

	/* hostile device (not hardware behaviour) */
	{ "stall", "stage1", RP_RESULT_FAILED, "endpoint stalled while sending bootcode4.bin", NULL },
	{ "stall", "reenum", RP_RESULT_FAILED, "endpoint stalled while waiting for the next request",
	  "after the second stage started" },
	{ "stall", "config", RP_RESULT_FAILED, "endpoint stalled while waiting for the next request",
	  "after the second stage started" },
	{ "stall", "sig", RP_RESULT_FAILED, "endpoint stalled", "after the size of pieeprom.bin" },
	{ "stall", "image", RP_RESULT_FAILED, "endpoint stalled while sending pieeprom.bin", NULL },
	{ "stall", "metadata", RP_RESULT_FAILED, "endpoint stalled", "after pieeprom.bin" },
	{ "bad_command", "config", RP_RESULT_FAILED, "unknown command 7", "expected 0 GetFileSize" },
	{ "bad_command", "sig", RP_RESULT_FAILED, "unknown command 7", "after the size of pieeprom.bin" },
	{ "bad_command", "image", RP_RESULT_FAILED, "unknown command 7", "after config.txt" },
	{ "bad_command", "metadata", RP_RESULT_FAILED, "unknown command 7", "after pieeprom.bin" },
	{ "unterminated_name", "config", RP_RESULT_FAILED, "not NUL-terminated within 256 bytes",
	  "AAAA" },
	{ "unterminated_name", "sig", RP_RESULT_FAILED, "not NUL-terminated", NULL },
	{ "unterminated_name", "image", RP_RESULT_FAILED, "not NUL-terminated", NULL },
	{ "unterminated_name", "metadata", RP_RESULT_FAILED, "not NUL-terminated", NULL },
	{ "hostile_name", "config", RP_RESULT_OK, NULL, NULL },
	{ "hostile_name", "sig", RP_RESULT_OK, NULL, NULL },
	{ "hostile_name", "image", RP_RESULT_OK, NULL, NULL },
	{ "hostile_name", "metadata", RP_RESULT_OK, NULL, NULL },
	{ "garbage_metadata", "metadata", RP_RESULT_OK, NULL, NULL },
};

/* The slow request of F19 scaled to the test's timeouts: longer than a
 * request timeout, well inside the board deadline. */
#define SLOW_REQUEST_MS 1000

static void run_case(const struct expect *e, struct th_payload *tp)
{
	struct rp_sim_fault_spec spec;
	struct th_run run = { 0 };
	struct rp_sim_params tmpl;
	struct rp_sim_source_opts so = { .n_boards = 3, .faults = &spec, .n_faults = 1,
					 .params = &tmpl };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = TRANSFER_MS,
				     .request_timeout_ms = TRANSFER_MS, .reenum_timeout_ms = 500,
				     .board_timeout_ms = BOARD_MS };
	struct rp_runner_summary sum;
	char text[64];
	uint64_t t0 = rp_now_ms(), took;
	const struct rp_board_record *bad;
	struct rp_diag d;

	rp_sim_params_default(&tmpl, 0);
	tmpl.slow_request_ms = SLOW_REQUEST_MS;
	snprintf(text, sizeof(text), "%s@%s:2", e->fault, e->step);
	if (rp_sim_fault_spec_parse(text, &spec, &d) != RP_OK) {
		fprintf(stderr, "%s: %s\n", text, rp_diag_message(&d));
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(th_run_boards(&run, tp->p, &so, &ro, &sum), RP_OK);
	took = rp_now_ms() - t0;
	bad = &run.recs[1];
	if (bad->result != e->result || (e->reason && !strstr(bad->error, e->reason)) ||
	    (e->reason2 && !strstr(bad->error, e->reason2)))
		fprintf(stderr, "case %s: got %s \"%s\"\n", text, rp_board_result_name(bad->result),
			bad->error);
	CHECK_EQ_INT(bad->result, e->result);
	if (e->reason)
		CHECK_CONTAINS(bad->error, e->reason);
	if (e->reason2)
		CHECK_CONTAINS(bad->error, e->reason2);
	if (e->result != RP_RESULT_OK)
		CHECK(bad->error_code != RP_OK);
	/* An unsafe name is answered as missing, as rpiboot does, and noted;
	 * the board goes on and flashes. */
	if (!strcmp(e->fault, "hostile_name")) {
		CHECK(bad->names_refused >= 1);
		CHECK_CONTAINS(bad->first_refused, "..");
	}
	/* The port is named in every reason that concerns the bus. */
	CHECK_STR_EQ(bad->port_path, "1-1.2");
	for (unsigned i = 0; i < 3; i += 2) {
		const uint8_t *ee;
		size_t len;
		struct rp_sim_board *b = rp_sim_source_board(run.src, i);
		if (run.recs[i].result != RP_RESULT_OK)
			fprintf(stderr, "case %s: neighbour %u: %s\n", text, i + 1, run.recs[i].error);
		CHECK_EQ_INT(run.recs[i].result, RP_RESULT_OK);
		CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
		ee = rp_sim_board_eeprom(b, &len);
		CHECK(ee && len == TH_IMAGE_SIZE && !memcmp(ee, tp->image, len));
	}
	/* The model checked every host message of every board. */
	for (unsigned i = 0; i < 3; i++) {
		const char *he = rp_sim_board_host_error(rp_sim_source_board(run.src, i));
		if (he)
			fprintf(stderr, "case %s: board %u saw a host error: %s\n", text, i + 1, he);
		CHECK(he == NULL);
	}
	CHECK_EQ_INT(sum.finished, 3);
	/* Bounded by the timeouts: a transfer timeout, a re-enumeration wait
	 * or the board deadline, never more. */
	CHECK(took < BOARD_MS + 1000);
	th_run_free(&run);
}

/* Garbage metadata is dropped and counted, the rest still verified. */
static void check_garbage(struct th_payload *tp)
{
	struct rp_sim_fault_spec spec = { RP_SIM_FAULT_GARBAGE_METADATA, RP_SIM_STEP_METADATA, 1 };
	struct th_run run = { 0 };
	struct rp_sim_source_opts so = { .n_boards = 1, .faults = &spec, .n_faults = 1 };
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = TRANSFER_MS,
				     .request_timeout_ms = TRANSFER_MS, .board_timeout_ms = BOARD_MS };
	struct rp_runner_summary sum;

	CHECK_EQ_INT(th_run_boards(&run, tp->p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(run.recs[0].result, RP_RESULT_OK);
	CHECK_EQ_INT(run.recs[0].meta_dropped, 6);
	/* 2.3: a 2711 of >= 2025-11-27, without EEPROM_ERASE and
	 * SECURE_BOOT_PROVISION (sent only when config.txt asks for them). */
	CHECK_EQ_INT(run.recs[0].n_meta, 10);
	for (unsigned i = 0; i < run.recs[0].n_meta; i++)
		for (const char *c = run.recs[0].meta[i].value; *c; c++)
			CHECK(*c >= 0x20 && *c < 0x7f);
	th_run_free(&run);
}

/* Every fault on every board at once, plus healthy boards: the run still
 * ends, every board with its own result. */
static void check_all_at_once(struct th_payload *tp)
{
	size_t n = sizeof(matrix) / sizeof(matrix[0]);
	struct rp_sim_fault_spec specs[sizeof(matrix) / sizeof(matrix[0])];
	struct th_run run = { 0 };
	struct rp_sim_params tmpl;
	struct rp_sim_source_opts so = { .n_boards = (unsigned)(2 * n), .faults = specs,
					 .n_faults = (unsigned)n, .params = &tmpl };
	/* Every fault at once: dozens of boards re-enumerate together, so
	 * the hand-off gets more time than one board needs; a loaded CI
	 * machine (ASan, parallel tests) took over 500 ms. */
	struct rp_runner_opts ro = { .mode = RP_SESSION_FLASH, .transfer_timeout_ms = TRANSFER_MS,
				     .request_timeout_ms = TRANSFER_MS, .reenum_timeout_ms = 2000,
				     .board_timeout_ms = BOARD_MS };
	struct rp_runner_summary sum;

	rp_sim_params_default(&tmpl, 0);
	tmpl.slow_request_ms = SLOW_REQUEST_MS;
	for (size_t i = 0; i < n; i++) {
		char text[64];
		snprintf(text, sizeof(text), "%s@%s:%zu", matrix[i].fault, matrix[i].step, 2 * i + 1);
		CHECK_EQ_INT(rp_sim_fault_spec_parse(text, &specs[i], NULL), RP_OK);
	}
	CHECK_EQ_INT(th_run_boards(&run, tp->p, &so, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.finished, 2 * n);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(run.recs[2 * i].result, matrix[i].result);
		if (matrix[i].reason)
			CHECK_CONTAINS(run.recs[2 * i].error, matrix[i].reason);
		CHECK_EQ_INT(run.recs[2 * i + 1].result, RP_RESULT_OK);
	}
	th_run_free(&run);
}

int main(void)
{
	struct th_payload tp;
	if (th_payload_init(&tp, "recovery_metadata=1\n") != 0)
		return 1;
	for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
		char name[128];
		int f = rp_sim_fault_from_name(matrix[i].fault);
		const char *ev = f > 0 ? rp_sim_fault_evidence((enum rp_sim_fault)f) : NULL;
		snprintf(name, sizeof(name), "%s at %s (%s)", matrix[i].fault, matrix[i].step,
			 ev ? ev : "hostile device, not hardware");
		RUN_NAMED(name, run_case(&matrix[i], &tp));
	}
	RUN(check_garbage(&tp));
	RUN(check_all_at_once(&tp));
	th_payload_free(&tp);
	return test_result();
}
