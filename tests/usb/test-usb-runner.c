/* Whole boards through the runner, the session and the real libusb
 * backend, against emulated boards (in-process: the emulator's threads
 * and the runner share this process). */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "session/payload.h"
#include "runner/runner.h"
#include "testlib.h"
#include "usb/usb_source.h"
#include "usb_emu.h"
#include "usb_payload.h"
#include "util/clock.h"
#include "util/endian.h"

#define IMAGE_SIZE USB_PAYLOAD_IMAGE_SIZE
#define SECOND_STAGE_SIZE USB_PAYLOAD_SECOND_STAGE_SIZE
#define MAX_BOARDS 16

/* What the runner reported, by the emulator's board index. */
struct run {
	struct usb_emu *emu;
	pthread_mutex_t lock;
	struct rp_board_record recs[MAX_BOARDS];
	bool have[MAX_BOARDS];
	unsigned started, finished, ignored, in_flight, max_in_flight;
	char second_ports[MAX_BOARDS][RP_PORT_PATH_MAX]; /* port of the second-stage device served */
	uint8_t rom_addr[MAX_BOARDS], second_addr[MAX_BOARDS];
};

static int board_of(struct run *run, const char *port)
{
	for (unsigned i = 0; i < usb_emu_count(run->emu) && i < MAX_BOARDS; i++)
		if (!strcmp(usb_emu_port_path(run->emu, i), port))
			return (int)i;
	return -1;
}

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct run *run = ctx;
	int i = ev->info ? board_of(run, ev->info->port_path) : -1;

	pthread_mutex_lock(&run->lock);
	switch (ev->type) {
	case RP_RUNNER_BOARD_STARTED:
		run->started++;
		if (++run->in_flight > run->max_in_flight)
			run->max_in_flight = run->in_flight;
		if (i >= 0)
			run->rom_addr[i] = ev->info->address;
		break;
	case RP_RUNNER_BOARD_FINISHED:
		run->finished++;
		run->in_flight--;
		if (i >= 0) {
			run->recs[i] = *ev->record;
			run->have[i] = true;
			snprintf(run->second_ports[i], RP_PORT_PATH_MAX, "%s", ev->info->port_path);
			run->second_addr[i] = ev->info->address;
		}
		break;
	case RP_RUNNER_DEVICE_IGNORED:
		run->ignored++;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&run->lock);
}

struct run_opts {
	unsigned count;
	enum rp_session_mode mode;
	const char *port_globs[4];
	unsigned n_port_globs;
	const char *serials[4];
	unsigned n_serials;
	unsigned idle_timeout_ms;
	unsigned request_timeout_ms;
	unsigned board_timeout_ms;
	bool polling; /* the source's list-polling fallback instead of hotplug */
};

static int run_boards(struct run *run, struct usb_payload *pl, const struct run_opts *ro,
		      struct rp_runner_summary *sum)
{
	struct rp_usb_source_options uo = { .enumerate_existing = 1, .force_polling = ro->polling,
					    .poll_interval_ms = 20 };
	struct rp_runner_opts opts;
	struct rp_source *src = NULL;
	struct rp_runner *r = NULL;
	struct rp_diag d;
	int rc;

	memset(sum, 0, sizeof(*sum));
	rp_diag_clear(&d);
	rc = rp_usb_source_new(&uo, &src, &d);
	if (rc < 0) {
		fprintf(stderr, "source: %s\n", rp_diag_message(&d));
		return rc;
	}
	memset(&opts, 0, sizeof(opts));
	opts.source = src;
	opts.payload = pl->p;
	opts.mode = ro->mode;
	opts.count = ro->count;
	opts.idle_timeout_ms = ro->idle_timeout_ms ? ro->idle_timeout_ms : 0;
	opts.board_timeout_ms = ro->board_timeout_ms ? ro->board_timeout_ms : 20000;
	opts.reenum_timeout_ms = 5000;
	opts.transfer_timeout_ms = 2000;
	/* The emulated node always polls ready: a pending IN makes libusb
	 * spin, so keep waits short in tests. */
	opts.request_timeout_ms = ro->request_timeout_ms ? ro->request_timeout_ms : 5000;
	for (unsigned i = 0; i < ro->n_port_globs; i++)
		opts.port_globs[i] = ro->port_globs[i];
	opts.n_port_globs = ro->n_port_globs;
	for (unsigned i = 0; i < ro->n_serials; i++)
		opts.serials[i] = ro->serials[i];
	opts.n_serials = ro->n_serials;
	opts.on_event = on_event;
	opts.event_ctx = run;
	rc = rp_runner_new(&opts, &r, &d);
	if (rc == RP_OK)
		rc = rp_runner_run(r, sum, &d);
	if (rc < 0)
		fprintf(stderr, "runner: %s\n", rp_diag_message(&d));
	rp_runner_free(r);
	src->ops->destroy(src);
	return rc;
}

static void run_init(struct run *run, struct usb_emu *e)
{
	memset(run, 0, sizeof(*run));
	run->emu = e;
	pthread_mutex_init(&run->lock, NULL);
}

static struct usb_emu_board_opts board_opts(unsigned n)
{
	static const char *const ports[] = { "1-1.1", "1-1.2", "1-1.3", "1-1.4",
					     "1-1.5", "1-1.6", "1-1.7", "1-1.8" };
	struct usb_emu_board_opts o;
	memset(&o, 0, sizeof(o));
	rp_sim_params_default(&o.params, n);
	o.port_path = ports[(n - 1) % 8];
	return o;
}

static void check_flashed(struct run *run, struct usb_payload *pl, unsigned i)
{
	size_t len = 0;
	uint8_t *ee = usb_emu_eeprom(run->emu, i, &len);

	CHECK(run->have[i]);
	CHECK_EQ_INT(run->recs[i].result, RP_RESULT_OK);
	if (run->recs[i].result != RP_RESULT_OK)
		fprintf(stderr, "board %u: %s\n", i + 1, run->recs[i].error);
	CHECK_EQ_INT(usb_emu_outcome(run->emu, i), RP_SIM_UPDATED);
	CHECK_EQ_INT(len, IMAGE_SIZE);
	CHECK(ee && len == IMAGE_SIZE && memcmp(ee, pl->image, IMAGE_SIZE) == 0);
	free(ee);
	/* Followed across the re-enumeration: same port, new address. */
	CHECK_STR_EQ(run->second_ports[i], usb_emu_port_path(run->emu, i));
	CHECK(run->second_addr[i] != run->rom_addr[i]);
	CHECK_STR_EQ(run->recs[i].port_path, usb_emu_port_path(run->emu, i));
}

/* Scenario 2: one board, end to end, through the re-enumeration (found
 * by hotplug, or by the polling fallback). */
static void test_one_board(struct usb_payload *pl, bool polling)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o = board_opts(1);
	struct run_opts ro = { .count = 1, .polling = polling };
	struct rp_runner_summary sum;
	struct usb_emu_stats st;
	struct run run;
	size_t ss_len = 0;
	uint8_t *ss;

	run_init(&run, e);
	CHECK_EQ_INT(usb_emu_plug(e, &o), 0);
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 1);
	check_flashed(&run, pl, 0);
	CHECK_STR_EQ(run.recs[0].serial, "5eed0001"); /* F3, F10: 8 lowercase hex */
	ss = usb_emu_second_stage(e, 0, &ss_len);
	CHECK(ss && ss_len == SECOND_STAGE_SIZE && !memcmp(ss, pl->second, SECOND_STAGE_SIZE));
	free(ss);
	usb_emu_stats(e, 0, &st);
	CHECK_EQ_INT(st.enumerations, 2);
	CHECK(st.bulk_bytes >= IMAGE_SIZE + SECOND_STAGE_SIZE);
	usb_emu_free(e);
}

/* Scenario 3: eight boards plugged at once. */
static void test_eight_at_once(struct usb_payload *pl)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 8 };
	struct rp_runner_summary sum;
	struct run run;

	run_init(&run, e);
	for (unsigned i = 1; i <= 8; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
	}
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 8);
	for (unsigned i = 0; i < 8; i++)
		check_flashed(&run, pl, i);
	CHECK(run.max_in_flight >= 2);
	usb_emu_free(e);
}

/* Scenario 3: boards arriving one by one while others are in progress
 * (each board takes ~150 ms of "SPI" time; one arrives every 40 ms). */
static void test_one_by_one(struct usb_payload *pl)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 6 };
	struct rp_runner_summary sum;
	struct run run;

	run_init(&run, e);
	for (unsigned i = 1; i <= 6; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		o.params.timing.erase_ms = 50;
		o.params.timing.write_ms = 50;
		o.params.timing.verify_ms = 50;
		o.params.timing.reenum_ms = 20;
		o.plug_delay_ms = 40 * i;
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
	}
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 6);
	for (unsigned i = 0; i < 6; i++)
		check_flashed(&run, pl, i);
	CHECK(run.max_in_flight >= 2);
	usb_emu_free(e);
}

/* Scenario 4: board 2 is pulled out while pieeprom.bin is being sent. */
static void test_pulled_out(struct usb_payload *pl)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 3 };
	struct rp_runner_summary sum;
	struct run run;
	struct usb_emu_stats st;

	run_init(&run, e);
	for (unsigned i = 1; i <= 3; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		if (i == 2)
			o.unplug_after_bulk_bytes = 24 + SECOND_STAGE_SIZE + 200000;
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
	}
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 2);
	CHECK_EQ_INT(sum.left, 1);
	check_flashed(&run, pl, 0);
	check_flashed(&run, pl, 2);
	CHECK(run.have[1]);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_LEFT);
	CHECK_EQ_INT(run.recs[1].error_code, RP_ERR_NO_DEVICE);
	CHECK_CONTAINS(run.recs[1].error, "left");
	CHECK_EQ_INT(usb_emu_outcome(e, 1), RP_SIM_GONE);
	usb_emu_stats(e, 1, &st);
	CHECK(!st.present);
	CHECK(st.bulk_bytes < 24 + SECOND_STAGE_SIZE + IMAGE_SIZE);
	usb_emu_free(e);
}

/* Scenario 5: a board that never answers, in the ROM and in the second
 * stage: a timeout for that board, the others finish, nothing hangs. */
static void test_silent(struct usb_payload *pl, enum rp_sim_step step)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 2, .request_timeout_ms = 400, .board_timeout_ms = 4000 };
	struct rp_runner_summary sum;
	struct run run;
	uint64_t t0;

	run_init(&run, e);
	for (unsigned i = 1; i <= 2; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		if (i == 1) {
			o.params.fault = RP_SIM_FAULT_SILENT;
			o.params.fault_step = step;
		}
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
	}
	t0 = rp_now_ms();
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK(rp_now_ms() - t0 < 15000);
	CHECK_EQ_INT(sum.timeout, 1);
	CHECK_EQ_INT(sum.ok, 1);
	CHECK(run.have[0]);
	CHECK_EQ_INT(run.recs[0].result, RP_RESULT_TIMEOUT);
	CHECK_EQ_INT(run.recs[0].error_code, RP_ERR_TIMEOUT);
	check_flashed(&run, pl, 1);
	usb_emu_free(e);
}

static void check_untouched(struct usb_emu *e, unsigned i, bool opened_for_serial)
{
	struct usb_emu_stats st;
	usb_emu_stats(e, i, &st);
	CHECK_EQ_INT(st.model_transfers, 0);
	CHECK_EQ_INT(st.bulk_urbs, 0);
	CHECK_EQ_INT(st.enumerations, 1);
	if (!opened_for_serial) {
		CHECK_EQ_INT(st.opens, 0);
		CHECK_EQ_INT(st.urbs, 0);
	}
	CHECK_EQ_INT(usb_emu_outcome(e, i), RP_SIM_RUNNING);
}

/* Scenario 7: --port filter: the other boards are never even opened. */
static void test_port_filter(struct usb_payload *pl)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 2, .port_globs = { "1-1.2", "1-1.[4]" }, .n_port_globs = 2 };
	struct rp_runner_summary sum;
	struct run run;

	run_init(&run, e);
	for (unsigned i = 1; i <= 4; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
	}
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 2);
	CHECK_EQ_INT(sum.ignored, 2);
	check_flashed(&run, pl, 1);
	check_flashed(&run, pl, 3);
	check_untouched(e, 0, false);
	check_untouched(e, 2, false);
	usb_emu_free(e);
}

/* Scenario 7: --serial filter on boards already in the second stage
 * (the libusb source reads serials from second stages only): only the
 * matching board is served; the source reads every board's serial
 * descriptor, nothing else reaches the others. The serial is the 8-hex
 * USB string (F10). */
static void test_serial_filter(struct usb_payload *pl)
{
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = 1, .n_serials = 1 };
	struct rp_runner_summary sum;
	struct run run;

	run_init(&run, e);
	ro.serials[0] = "5eed0002";
	for (unsigned i = 1; i <= 3; i++) {
		struct usb_emu_board_opts o = board_opts(i);
		o.second_stage = true;
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i - 1);
		CHECK_EQ_INT(usb_emu_stage(e, i - 1), RP_STAGE_SECOND);
	}
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, 1);
	CHECK_EQ_INT(sum.ignored, 2);
	CHECK(run.have[1]);
	CHECK_EQ_INT(run.recs[1].result, RP_RESULT_OK);
	CHECK_STR_EQ(run.recs[1].serial, "5eed0002");
	CHECK_EQ_INT(usb_emu_outcome(e, 1), RP_SIM_UPDATED);
	check_untouched(e, 0, true);
	check_untouched(e, 2, true);
	usb_emu_free(e);
}


/* ---- trays of each chip, and hardware faults, through libusb ---- */

struct chip_files {
	uint16_t pid;
	const char *dir, *second_name;
	size_t image_size;
	uint8_t *image;
	char sha[65];
	unsigned meta_keys; /* 2.3: the model's default build, no EEPROM_ERASE or SECURE_BOOT_PROVISION unasked */
};

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(data, 1, len, f) == len);
		fclose(f);
	}
}

/* A directory payload as rpiboot reads it: DIR/2711/..., DIR/2712/...
 * (each chip's second stage, image with the .sig's timestamp in its last
 * 8 bytes (F20), .sig), DIR/config.txt. */
static struct rp_payload *tray_payload(char *root, size_t rsize, struct chip_files *c, size_t n)
{
	static const uint8_t second[4096] = { 0x5a };
	const char *tmp = getenv("TMPDIR");
	struct rp_payload_opts po = { .dir = root };
	struct rp_payload *p = NULL;
	struct rp_diag d;

	snprintf(root, rsize, "%s/rpiprov-usb-tray-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(root) != NULL);
	put_file(root, "config.txt", "uart_2ndstage=0\n", 16);
	for (size_t k = 0; k < n; k++) {
		char sub[1024], sig[160];
		uint32_t x = c[k].pid;
		snprintf(sub, sizeof(sub), "%s/%s", root, c[k].dir);
		CHECK(mkdir(sub, 0755) == 0);
		c[k].image = malloc(c[k].image_size);
		for (size_t i = 0; i < c[k].image_size; i++) {
			x = x * 1664525u + 1013904223u;
			c[k].image[i] = (uint8_t)(x >> 24);
		}
		rp_put_le32(c[k].image + c[k].image_size - 8, ~1700000000u);
		rp_put_le32(c[k].image + c[k].image_size - 4, 1700000000u);
		{
			unsigned char md[32];
			unsigned int mdn = 0;
			EVP_Digest(c[k].image, c[k].image_size, md, &mdn, EVP_sha256(), NULL);
			for (unsigned i = 0; i < 32; i++)
				snprintf(c[k].sha + 2 * i, 3, "%02x", md[i]);
		}
		snprintf(sig, sizeof(sig), "%s\nts: 1700000000\n", c[k].sha);
		put_file(sub, c[k].second_name, second, sizeof(second));
		put_file(sub, "pieeprom.bin", c[k].image, c[k].image_size);
		put_file(sub, "pieeprom.sig", sig, strlen(sig));
	}
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	return p;
}

static void tray_cleanup(const char *root, struct chip_files *c, size_t n)
{
	char cmd[1200];
	for (size_t k = 0; k < n; k++)
		free(c[k].image);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

/* A tray of boards of the given chips (pids[i] for board i), flashed in
 * one run from one directory payload. Each board must end OK with its
 * chip's image in its EEPROM, its 8-hex serial (F3, F10) and its chip's
 * metadata keys (2.3). */
static void test_tray(const uint16_t *pids, unsigned n)
{
	struct chip_files c[2] = {
		{ 0x2711, "2711", "bootcode4.bin", 512u * 1024u, NULL, "", 10 },
		{ 0x2712, "2712", "bootcode5.bin", 2u * 1024u * 1024u, NULL, "", 13 },
	};
	char root[512];
	struct usb_payload pl = { 0 };
	struct usb_emu *e = usb_emu_new();
	struct run_opts ro = { .count = n };
	struct rp_runner_summary sum;
	struct run run;

	pl.p = tray_payload(root, sizeof(root), c, 2);
	run_init(&run, e);
	for (unsigned i = 0; i < n; i++) {
		struct usb_emu_board_opts o = board_opts(i + 1);
		o.params.pid = pids[i];
		CHECK_EQ_INT(usb_emu_plug(e, &o), (int)i);
	}
	CHECK_EQ_INT(run_boards(&run, &pl, &ro, &sum), RP_OK);
	CHECK_EQ_INT(sum.ok, n);
	for (unsigned i = 0; i < n; i++) {
		const struct chip_files *cf = &c[pids[i] == 0x2712];
		size_t len = 0;
		uint8_t *ee = usb_emu_eeprom(e, i, &len);
		char serial[16];
		if (run.recs[i].result != RP_RESULT_OK)
			fprintf(stderr, "board %u: %s\n", i + 1, run.recs[i].error);
		CHECK_EQ_INT(run.recs[i].result, RP_RESULT_OK);
		CHECK_EQ_INT(len, cf->image_size);
		CHECK(ee && len == cf->image_size && !memcmp(ee, cf->image, len));
		CHECK_STR_EQ(run.recs[i].reported_hash, cf->sha);
		CHECK_EQ_INT(run.recs[i].n_meta, cf->meta_keys);
		snprintf(serial, sizeof(serial), "5eed%04x", i + 1);
		CHECK_STR_EQ(run.recs[i].serial, serial);
		CHECK_STR_EQ(run.recs[i].soc, cf->dir);
		free(ee);
	}
	usb_emu_free(e);
	rp_payload_free(pl.p);
	tray_cleanup(root, c, 2);
}

/* One 2711 board with a hardware fault, through libusb and umockdev; the
 * result the host reaches (the same faults run in-process in
 * tests/sim/test-faults.c). */
static void test_fault(struct usb_payload *pl, enum rp_sim_fault f, enum rp_sim_step step,
		       enum rp_board_result expect, const char *reason)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o = board_opts(1);
	struct run_opts ro = { .count = 1, .board_timeout_ms = 3000, .request_timeout_ms = 500 };
	struct rp_runner_summary sum;
	struct run run;

	run_init(&run, e);
	o.params.fault = f;
	o.params.fault_step = step;
	o.params.slow_request_ms = 1000; /* F19, scaled: > a request timeout */
	CHECK_EQ_INT(usb_emu_plug(e, &o), 0);
	CHECK_EQ_INT(run_boards(&run, pl, &ro, &sum), RP_OK);
	CHECK(run.have[0]);
	if (run.recs[0].result != expect)
		fprintf(stderr, "%s: %s\n", rp_sim_fault_name(f), run.recs[0].error);
	CHECK_EQ_INT(run.recs[0].result, expect);
	if (reason)
		CHECK_CONTAINS(run.recs[0].error, reason);
	if (expect == RP_RESULT_OK)
		CHECK_EQ_INT(usb_emu_outcome(e, 0), RP_SIM_UPDATED);
	usb_emu_free(e);
}

int main(void)
{
	struct usb_payload pl;

	if (usb_payload_init(&pl) < 0)
		return EXIT_FAILURE;
	RUN(test_one_board(&pl, false));
	RUN(test_one_board(&pl, true));
	RUN(test_eight_at_once(&pl));
	RUN(test_one_by_one(&pl));
	RUN(test_pulled_out(&pl));
	RUN(test_silent(&pl, RP_SIM_STEP_STAGE1));
	RUN(test_silent(&pl, RP_SIM_STEP_CONFIG));
	RUN(test_port_filter(&pl));
	RUN(test_serial_filter(&pl));
	{
		static const uint16_t t2711[] = { 0x2711, 0x2711, 0x2711, 0x2711 };
		static const uint16_t t2712[] = { 0x2712, 0x2712, 0x2712 };
		static const uint16_t mixed[] = { 0x2711, 0x2712, 0x2711, 0x2712 };
		RUN_NAMED("tray of 2711 (F2 F3 F12 2.3)", test_tray(t2711, 4));
		RUN_NAMED("tray of 2712 (F2 F3 F15 2.3)", test_tray(t2712, 3));
		RUN_NAMED("mixed tray 2711+2712 from one directory", test_tray(mixed, 4));
	}
	RUN_NAMED("F7 status_read_fails",
		  test_fault(&pl, RP_SIM_FAULT_STATUS_READ_FAILS, RP_SIM_STEP_STAGE1, RP_RESULT_OK, NULL));
	/* The emulator hides the node of the re-enumerated board for a
	 * while: the first open fails with ENOENT and libusb drops the device
	 * for good; the source finds it again by its port and opens it. */
	RUN_NAMED("F8 open_fails_once: the runner opens it again",
		  test_fault(&pl, RP_SIM_FAULT_OPEN_FAILS_ONCE, RP_SIM_STEP_REENUM, RP_RESULT_OK, NULL));
	RUN_NAMED("F17 empty_name_done",
		  test_fault(&pl, RP_SIM_FAULT_EMPTY_NAME_DONE, RP_SIM_STEP_METADATA, RP_RESULT_OK, NULL));
	RUN_NAMED("F17 vanish_after_metadata (recovery_reboot)",
		  test_fault(&pl, RP_SIM_FAULT_VANISH_AFTER_METADATA, RP_SIM_STEP_METADATA,
			     RP_RESULT_OK, NULL));
	RUN_NAMED("F19 slow_request",
		  test_fault(&pl, RP_SIM_FAULT_SLOW_REQUEST, RP_SIM_STEP_IMAGE, RP_RESULT_OK, NULL));
	RUN_NAMED("C15 bad_sig is fatal",
		  test_fault(&pl, RP_SIM_FAULT_BAD_SIG, RP_SIM_STEP_SIG, RP_RESULT_TIMEOUT,
			     "board deadline passed"));
	RUN_NAMED("C9 C28 write_protected gives up",
		  test_fault(&pl, RP_SIM_FAULT_WRITE_PROTECTED, RP_SIM_STEP_IMAGE, RP_RESULT_TIMEOUT,
			     "board deadline passed"));
	RUN_NAMED("C22 F22 leave at reenum",
		  test_fault(&pl, RP_SIM_FAULT_LEAVE, RP_SIM_STEP_REENUM, RP_RESULT_LEFT,
			     "did not come back"));
	usb_payload_free(&pl);
	return test_result();
}
