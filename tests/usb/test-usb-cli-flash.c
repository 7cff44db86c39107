/* `rpiprov flash` and `rpiprov boot -d`, unmodified, against emulated
 * boards through the real libusb backend, with the real firmware
 * fixtures (recovery.bin, pieeprom.bin): end to end, eight at once, boards
 * arriving while others are in progress, pulled out, silent, permission
 * denied, port/serial filters. Each case checks the CLI's exit status and
 * output and the emulator's report of what every board went through. */
#include "emu_run.h"
#include "testlib.h"

struct fixture {
	char *prep;        /* directory made by `rpiprov prepare` */
	char *image_sha;   /* sha256 of prep/pieeprom.bin */
	char *second_sha;  /* sha256 of prep/bootcode4.bin */
	char *image_path;  /* prep/pieeprom.bin */
	char *fw_image, *fw_recovery;
};

static char *file_sha256(const char *path)
{
	char *data = NULL;
	gsize len = 0;
	char *hex;

	if (!g_file_get_contents(path, &data, &len, NULL))
		return g_strdup("");
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
	g_free(data);
	return hex;
}

static int fixture_init(struct ctx *c, struct fixture *f, const char *fw)
{
	char *argv[12];
	int status = 0;
	char *err = NULL;

	f->fw_image = g_build_filename(fw, "2711", "pieeprom-2022-04-26.bin", NULL);
	f->fw_recovery = g_build_filename(fw, "2711", "recovery.bin", NULL);
	f->prep = g_build_filename(c->tmpdir, "prep", NULL);
	argv[0] = (char *)c->rpiprov;
	argv[1] = "prepare";
	argv[2] = "--image";
	argv[3] = f->fw_image;
	argv[4] = "--recovery";
	argv[5] = f->fw_recovery;
	argv[6] = "--set";
	argv[7] = "BOOT_ORDER=0xf21";
	argv[8] = "-o";
	argv[9] = f->prep;
	argv[10] = NULL;
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
			  &status, NULL) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "rpiprov prepare failed: %s\n", err ? err : "");
		g_free(err);
		return -1;
	}
	g_free(err);
	f->image_path = g_build_filename(f->prep, "pieeprom.bin", NULL);
	f->image_sha = file_sha256(f->image_path);
	{
		char *ss = g_build_filename(f->prep, "bootcode4.bin", NULL);
		f->second_sha = file_sha256(ss);
		g_free(ss);
	}
	return 0;
}

static void fixture_free(struct fixture *f)
{
	g_free(f->prep);
	g_free(f->image_sha);
	g_free(f->second_sha);
	g_free(f->image_path);
	g_free(f->fw_image);
	g_free(f->fw_recovery);
}

/* --json records by port. */
static json_object *record_for(const char *out, const char *port)
{
	char **lines = g_strsplit(out ? out : "", "\n", -1);
	json_object *found = NULL;

	for (char **l = lines; *l && !found; l++) {
		json_object *o;
		if (**l != '{')
			continue;
		o = json_tokener_parse(*l);
		if (o && jstr(o, "port") && !strcmp(jstr(o, "port"), port))
			found = o;
		else if (o)
			json_object_put(o);
	}
	g_strfreev(lines);
	return found;
}

static void check_updated(struct fixture *f, struct result *r, int i)
{
	json_object *b = board(r, i);
	CHECK_STR_EQ(jstr(b, "outcome"), "updated");
	CHECK_STR_EQ(jstr(b, "eeprom_sha256"), f->image_sha);
	CHECK_STR_EQ(jstr(b, "second_stage_sha256"), f->second_sha);
	CHECK_EQ_INT(jint(b, "enumerations"), 2);
}

static void check_untouched(struct result *r, int i)
{
	json_object *b = board(r, i);
	CHECK_STR_EQ(jstr(b, "outcome"), "running");
	CHECK_EQ_INT(jint(b, "model_transfers"), 0);
	CHECK_EQ_INT(jint(b, "bulk_urbs"), 0);
	CHECK_EQ_INT(jint(b, "enumerations"), 1);
}

/* Scenario 2: one board, built in memory from the real image, end to end. */
static void test_flash_one(struct ctx *c, struct fixture *f)
{
	char *meta = g_build_filename(c->tmpdir, "meta", NULL);
	char *meta_file = g_build_filename(meta, "5eed0001.json", NULL);
	const char *emu[] = { "-n", "1", "--expect-eeprom", f->image_path, NULL };
	const char *args[] = { "flash",   "--image",      f->fw_image, "--recovery", f->fw_recovery,
			       "--set",   "BOOT_ORDER=0xf21", "--count", "1",       "--timeout",
			       "30",      "--json",       "--metadata-dir", meta, NULL };
	struct result r;
	json_object *rec;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	rec = record_for(r.out, "1-1.1");
	CHECK(rec != NULL);
	CHECK_STR_EQ(jstr(rec, "result"), "OK");
	CHECK_STR_EQ(jstr(rec, "serial"), "5eed0001"); /* F3, F10 */
	CHECK_STR_EQ(jstr(rec, "served_sha256"), f->image_sha);
	CHECK_STR_EQ(jstr(rec, "eeprom_hash"), f->image_sha);
	check_updated(f, &r, 0);
	CHECK(json_object_get_boolean(json_object_object_get(board(&r, 0), "eeprom_matches")));
	CHECK(g_file_test(meta_file, G_FILE_TEST_IS_REGULAR));
	json_object_put(rec);
	result_free(&r);
	g_free(meta_file);
	g_free(meta);
}

/* Scenario 3: eight boards plugged at once. */
static void test_flash_eight(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "8", "--expect-eeprom", f->image_path, NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "8", "--timeout", "30", NULL };
	struct result r;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "8 boards: 8 OK");
	for (int i = 0; i < 8; i++)
		check_updated(f, &r, i);
	result_free(&r);
}

/* Scenario 3: boards arriving one by one while others are in progress
 * (realistic SPI timing: each board takes ~3 s, one arrives every 0.4 s). */
static void test_flash_one_by_one(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "4",
			      "-b", "1:timing=realistic",
			      "-b", "2:timing=realistic,delay=400",
			      "-b", "3:timing=realistic,delay=800",
			      "-b", "4:timing=realistic,delay=1200",
			      "--start-on", "waiting for boards",
			      "--expect-eeprom", f->image_path, NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "4", "--timeout", "30", "--json",
			       NULL };
	struct result r;
	json_object *first, *last;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	for (int i = 0; i < 4; i++)
		check_updated(f, &r, i);
	first = record_for(r.out, "1-1.1");
	last = record_for(r.out, "1-1.4");
	CHECK(first && last);
	if (first && last) {
		/* The last board started before the first had finished. */
		CHECK(jint(last, "start_unix_ms") < jint(first, "end_unix_ms"));
		CHECK_STR_EQ(jstr(first, "result"), "OK");
		CHECK_STR_EQ(jstr(last, "result"), "OK");
	}
	json_object_put(first);
	json_object_put(last);
	result_free(&r);
}

/* Scenario 4: board 2 is pulled out during the pieeprom.bin transfer. */
static void test_flash_pulled_out(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "3", "-b", "2:unplug-after-bytes=300000", NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "3", "--timeout", "30", "--json",
			       NULL };
	struct result r;
	json_object *rec;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 1);
	rec = record_for(r.out, "1-1.2");
	CHECK_STR_EQ(jstr(rec, "result"), "LEFT");
	CHECK_CONTAINS(jstr(rec, "error"), "left");
	json_object_put(rec);
	CHECK_STR_EQ(jstr(board(&r, 1), "outcome"), "gone");
	check_updated(f, &r, 0);
	check_updated(f, &r, 2);
	result_free(&r);
}

/* Scenario 5: a board that never answers: it times out, the other is
 * flashed, the exit status says so, nothing hangs. */
static void test_flash_silent(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "2", "-b", "1:fault=silent@config", "--timeout", "60", NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "2", "--board-timeout", "3",
			       "--timeout", "30", "--json", NULL };
	struct result r;
	json_object *rec;

	run(c, &r, emu, args);
	CHECK(r.status != 0 && r.status != 124);
	rec = record_for(r.out, "1-1.1");
	CHECK_STR_EQ(jstr(rec, "result"), "TIMEOUT");
	json_object_put(rec);
	check_updated(f, &r, 1);
	result_free(&r);
}

/* Scenario 6: the device node cannot be opened: the message names the
 * board and the fix; the other board is flashed. */
static void test_flash_permission(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "2", "-b", "1:deny", NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "2", "--timeout", "30", NULL };
	struct result r;
	char *all;

	run(c, &r, emu, args);
	CHECK(r.status != 0);
	all = g_strconcat(r.out ? r.out : "", r.err ? r.err : "", NULL);
	CHECK_CONTAINS(all, "1-1.1");
	CHECK_CONTAINS(all, "permission denied");
	CHECK_CONTAINS(all, "/dev/bus/usb/001/");
	CHECK_CONTAINS(all, "udev/60-rpiprov.rules");
	CHECK_CONTAINS(all, "plugdev");
	g_free(all);
	CHECK_EQ_INT(jint(board(&r, 0), "ioctls"), 0);
	check_untouched(&r, 0);
	check_updated(f, &r, 1);
	result_free(&r);
}

/* Scenario 7: --port: the other boards are never opened. */
static void test_flash_port_filter(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "4", NULL };
	const char *args[] = { "flash", "-d", f->prep, "--port", "1-1.3", "--count", "1",
			       "--timeout", "30", NULL };
	struct result r;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	check_updated(f, &r, 2);
	for (int i = 0; i < 4; i++)
		if (i != 2) {
			check_untouched(&r, i);
			CHECK_EQ_INT(jint(board(&r, i), "opens"), 0);
		}
	result_free(&r);
}

/* Scenario 7 and 8: `boot -d DIR -i SERIAL` on boards already in the
 * second stage: only the matching one is served. */
static void test_boot_serial_filter(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "3", "-b", "1:second-stage,serial=cafe0001", "-b",
			      "2:second-stage,serial=cafe0002", "-b", "3:second-stage,serial=cafe0003",
			      NULL };
	const char *args[] = { "boot", "-d", f->prep, "-i", "cafe0002", "--timeout", "30", NULL };
	struct result r;
	json_object *b;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	b = board(&r, 1);
	CHECK_STR_EQ(jstr(b, "outcome"), "updated");
	CHECK_STR_EQ(jstr(b, "eeprom_sha256"), f->image_sha);
	for (int i = 0; i < 3; i += 2) {
		CHECK_EQ_INT(jint(board(&r, i), "model_transfers"), 0);
		CHECK_STR_EQ(jstr(board(&r, i), "outcome"), "running");
	}
	result_free(&r);
}

/* Issue #9: `-i` selects a board still in its boot ROM by the ROM's
 * index-3 string, the low 32 bits of the serial as 8 hex digits (F2,
 * F3), as rpiboot -i does; the full serial selects it too. The others
 * are opened only to read that string, and sent nothing. */
static void test_serial_filter_at_rom(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "3", "-b", "1:serial=10000000cafe0001", "-b",
			      "2:serial=10000000cafe0002", "-b", "3:serial=10000000cafe0003", NULL };
	const char *boot[] = { "boot", "-d", f->prep, "-i", "cafe0002", "--timeout", "30", NULL };
	const char *flash[] = { "flash", "-d", f->prep, "--serial", "10000000CAFE0003", "--timeout",
				"30", NULL };
	struct result r;

	run(c, &r, emu, boot);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR_EQ(jstr(board(&r, 1), "outcome"), "updated");
	for (int i = 0; i < 3; i += 2) {
		CHECK_EQ_INT(jint(board(&r, i), "model_transfers"), 0);
		CHECK_STR_EQ(jstr(board(&r, i), "outcome"), "running");
	}
	result_free(&r);
	run(c, &r, emu, flash);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR_EQ(jstr(board(&r, 2), "outcome"), "updated");
	CHECK_EQ_INT(jint(board(&r, 0), "model_transfers"), 0);
	CHECK_EQ_INT(jint(board(&r, 1), "model_transfers"), 0);
	result_free(&r);
}

/* F13 (C6) through the real USB path: a recovery.bin of the .upd era
 * asks for pieeprom.upd, never pieeprom.bin, so a directory made for
 * today's firmware does not update it. Both commands say so, loudly,
 * instead of reporting the board OK. */
static void test_upd_era_board(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "1", "-b", "1:firmware=20240415", NULL };
	const char *boot[] = { "boot", "-d", f->prep, "--timeout", "30", NULL };
	const char *flash[] = { "flash", "-d", f->prep, "--timeout", "30", NULL };
	struct result r;

	run(c, &r, emu, boot);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "pieeprom.upd");
	CHECK_STR_EQ(jstr(board(&r, 0), "outcome"), "not_updated");
	result_free(&r);
	run(c, &r, emu, flash);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "without reading pieeprom.bin");
	result_free(&r);
}

/* Scenario 8: `rpiprov boot -d DIR` like rpiboot, several boards. */
static void test_boot_dir(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "3", "--expect-eeprom", f->image_path, NULL };
	const char *args_l[] = { "boot", "-d", f->prep, "-l", "--timeout", "2", NULL };
	const char *emu1[] = { "-n", "1", NULL };
	const char *args1[] = { "boot", "-d", f->prep, NULL };
	struct result r;

	run(c, &r, emu, args_l);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "3 verified OK");
	for (int i = 0; i < 3; i++)
		check_updated(f, &r, i);
	result_free(&r);

	/* Without -l: one board, then exit. */
	run(c, &r, emu1, args1);
	CHECK_EQ_INT(r.status, 0);
	check_updated(f, &r, 0);
	result_free(&r);
}

/* The OTP guard at the moment of serving (issue #10): a config.txt
 * rewritten to burn OTP while `boot -l` runs is refused for the next
 * board, which fails loudly; the board before it was served the harmless
 * one. A per-port overlay (-o) that burns OTP stops the run at start. */
static void test_boot_otp_guard(struct ctx *c, struct fixture *f)
{
	char *dir = g_build_filename(c->tmpdir, "otp-dir", NULL);
	char *cmd = g_strdup_printf("rm -rf '%s' && cp -r '%s' '%s' && mkdir '%s/1-1.2'", dir,
				    f->prep, dir, dir);
	char *edit = g_strdup_printf("printf 'program_pubkey=1\\n' > '%s/config.txt'", dir);
	const char *emu[] = { "-n", "2", "-b", "2:delay=1", "--start-on", "1-1.1        OK",
			      "--on-trigger", edit, NULL };
	const char *boot_l[] = { "boot", "-d", dir, "-l", "--timeout", "3", NULL };
	const char *emu1[] = { "-n", "2", NULL };
	const char *boot_o[] = { "boot", "-d", dir, "-o", "--timeout", "3", NULL };
	char *overlay = g_build_filename(dir, "1-1.2", "config.txt", NULL);
	char *top = g_build_filename(dir, "config.txt", NULL);
	struct result r;

	CHECK(system(cmd) == 0);
	run(c, &r, emu, boot_l);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "program_pubkey=1");
	CHECK_CONTAINS(r.out, "--allow-otp-permanent");
	check_updated(f, &r, 0);
	CHECK(g_strcmp0(jstr(board(&r, 1), "outcome"), "updated") != 0);
	result_free(&r);

	/* An overlay for one port: refused before any board is touched. */
	CHECK(g_file_set_contents(top, "", 0, NULL));
	CHECK(g_file_set_contents(overlay, "revoke_devkey=1\n", -1, NULL));
	run(c, &r, emu1, boot_o);
	CHECK_EQ_INT(r.status, 65);
	CHECK_CONTAINS(r.err, "revoke_devkey=1");
	CHECK_EQ_INT(jint(board(&r, 0), "model_transfers"), 0);
	CHECK_EQ_INT(jint(board(&r, 1), "model_transfers"), 0);
	result_free(&r);
	g_free(overlay);
	g_free(top);
	g_free(edit);
	g_free(cmd);
	g_free(dir);
}

/* Sixteen boards arrive while rpiprov cannot read its uevents (stopped
 * for 1.5 s). umockdev aborts the emulator when a listener's datagram
 * queue is full (net.unix.max_dgram_qlen, often 10), which once killed
 * a CI run; the emulator now waits for room, and every board is served
 * once rpiprov runs again. */
static void test_uevent_burst(struct ctx *c, struct fixture *f)
{
	const char *emu[] = { "-n", "16", "-b", "1:delay=1", "-b", "2:delay=1", "-b", "3:delay=1",
			      "-b", "4:delay=1", "-b", "5:delay=1", "-b", "6:delay=1", "-b", "7:delay=1",
			      "-b", "8:delay=1", "-b", "9:delay=1", "-b", "10:delay=1", "-b",
			      "11:delay=1", "-b", "12:delay=1", "-b", "13:delay=1", "-b", "14:delay=1",
			      "-b", "15:delay=1", "-b", "16:delay=1", "--start-on", "waiting for boards",
			      "--pause-child", "1500", NULL };
	const char *args[] = { "flash", "-d", f->prep, "--count", "16", "--timeout", "60", NULL };
	struct result r;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "16 boards: 16 OK");
	CHECK(r.err == NULL || !strstr(r.err, "sendmsg failed"));
	result_free(&r);
}

int main(int argc, char **argv)
{
	const char *fw = test_firmware_dir();
	struct fixture f = { 0 };
	struct ctx c;

	if (!fw) {
		return test_skip_all("RPIPROV_TEST_FIRMWARE is not set (needs recovery.bin and a pieeprom image)");
	}
	/* prepare and every flash stamp the same update time into the image
	 * (the .sig's ts), so the image the fixture prepared is byte for byte
	 * the one flash builds. */
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	if (ctx_init(&c, argc, argv) < 0)
		return EXIT_FAILURE;
	if (fixture_init(&c, &f, fw) < 0) {
		ctx_cleanup(&c);
		return EXIT_FAILURE;
	}
	RUN(test_flash_one(&c, &f));
	RUN(test_flash_eight(&c, &f));
	RUN(test_flash_one_by_one(&c, &f));
	RUN(test_flash_pulled_out(&c, &f));
	RUN(test_flash_silent(&c, &f));
	RUN(test_flash_permission(&c, &f));
	RUN(test_flash_port_filter(&c, &f));
	RUN(test_boot_serial_filter(&c, &f));
	RUN(test_serial_filter_at_rom(&c, &f));
	RUN(test_upd_era_board(&c, &f));
	RUN(test_boot_dir(&c, &f));
	RUN(test_boot_otp_guard(&c, &f));
	RUN(test_uevent_burst(&c, &f));
	fixture_free(&f);
	ctx_cleanup(&c);
	return test_result();
}
