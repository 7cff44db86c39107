/* The device model on its own (driven by hand, as a host would), the
 * --sim-fault grammar, and the ep_write/ep_read wire helpers against a
 * recording transport. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "sim/sim_board.h"
#include "sim/sim_source.h"
#include "testlib.h"
#include "util/clock.h"
#include "util/endian.h"
#include "image/eeprom_image.h"

#include "session_helpers.h"

static void test_fault_specs(void)
{
	struct rp_sim_fault_spec s;
	struct rp_diag d;

	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave@image:3", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_LEAVE);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_IMAGE);
	CHECK_EQ_INT(s.board, 3);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("status_read_fails:2", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_STATUS_READ_FAILS);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_STAGE1);
	CHECK_EQ_INT(s.board, 2);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("empty-name-done", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_EMPTY_NAME_DONE);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_METADATA);
	CHECK_EQ_INT(s.board, 0);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave", &s, &d), RP_OK);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_REENUM);
	/* Outcomes no firmware has are gone (open question 3; no wrong hash). */
	CHECK_EQ_INT(rp_sim_fault_from_name("rom_error"), -1);
	CHECK_EQ_INT(rp_sim_fault_from_name("wrong_hash"), -1);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("silent@reenum", &s, &d), RP_OK);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_REENUM);

	CHECK_EQ_INT(rp_sim_fault_spec_parse("bogus", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "unknown fault \"bogus\"");
	CHECK_EQ_INT(rp_sim_fault_spec_parse("none", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave@nowhere", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "unknown step \"nowhere\"");
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave:0", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave:x", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave:2@image", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave:99999", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("", &s, &d), RP_ERR_INVALID_ARG);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave@", &s, &d), RP_ERR_INVALID_ARG);

	for (int f = 0; f < RP_SIM_FAULT_COUNT; f++)
		CHECK_EQ_INT(rp_sim_fault_from_name(rp_sim_fault_name((enum rp_sim_fault)f)), f);
	for (int st = 0; st < RP_SIM_STEP_COUNT; st++)
		CHECK_EQ_INT(rp_sim_step_from_name(rp_sim_step_name((enum rp_sim_step)st)), st);
	CHECK_EQ_INT(rp_sim_fault_from_name("nope"), -1);
	CHECK_CONTAINS(rp_sim_fault_help(), "leave@image:3");
}

/* ---- driving one board by hand ---- */

static int hdr(struct rp_sim_board *b, uint32_t len)
{
	unsigned ready;
	return rp_sim_board_control_out(b, 0, (uint16_t)len, (uint16_t)(len >> 16), NULL, 0, &ready);
}

static int bulk(struct rp_sim_board *b, const void *data, size_t len)
{
	unsigned ready;
	size_t acc;
	return rp_sim_board_bulk_out(b, data, len, &acc, &ready);
}

static int request(struct rp_sim_board *b, uint32_t *cmd, char name[257])
{
	uint8_t msg[260];
	unsigned ready;
	size_t got = 0;
	int r = rp_sim_board_control_in(b, 0, 260, 0, msg, 260, &got, &ready);
	if (r == RP_OK) {
		*cmd = rp_get_le32(msg);
		memcpy(name, msg + 4, 256);
		name[256] = '\0';
	}
	return r;
}

/* Stage 1 and re-enumeration with zero timing. */
static void boot_rom(struct rp_sim_board *b, const uint8_t *second, size_t len)
{
	uint8_t msg[24] = { 0 }, rc[4];
	unsigned ready;
	size_t got;
	uint64_t at;
	bool attach;

	CHECK_EQ_INT(rp_sim_board_stage(b), RP_STAGE_ROM);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 3); /* F2 */
	rp_put_le32(msg, (uint32_t)len);
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, (uint32_t)len), RP_OK);
	CHECK_EQ_INT(bulk(b, second, len), RP_OK);
	CHECK(!rp_sim_board_bus_change(b, &at, &attach));
	CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 4, 0, rc, 4, &got, &ready), RP_OK);
	CHECK_EQ_INT(got, 4);
	CHECK_EQ_INT(rp_get_le32(rc), 0);
	/* Drops off: due now, not yet applied; transfers already fail. */
	CHECK(rp_sim_board_bus_change(b, &at, &attach));
	CHECK(!attach);
	CHECK(at <= rp_now_ms());
	CHECK_EQ_INT(hdr(b, 0), RP_ERR_NO_DEVICE);
	rp_sim_board_apply_bus_change(b);
	CHECK(!rp_sim_board_attached(b));
	CHECK(rp_sim_board_bus_change(b, &at, &attach));
	CHECK(attach);
	rp_sim_board_apply_bus_change(b);
	CHECK(rp_sim_board_attached(b));
	CHECK_EQ_INT(rp_sim_board_stage(b), RP_STAGE_SECOND);
}

/* A host that serves `files` by name, answering as rpiboot does (F11):
 * GetFileSize gets the size or 0, ReadFile the bytes, metadata and the
 * empty name a zero-length reply. It logs every request as "S name",
 * "R name", "M *KEY*VALUE", "E" (empty name) or "D" (Done), one a line.
 * Returns how the board ended: RP_OK after Done or the empty name, or
 * the transfer error (RP_ERR_AGAIN: it went silent; NO_DEVICE: it left). */
struct hfile {
	const char *name;
	const void *data;
	size_t len;
};

static int serve(struct rp_sim_board *b, const struct hfile *files, size_t n, char *log,
		 size_t logsize)
{
	uint32_t cmd;
	char name[257];

	log[0] = '\0';
	for (int i = 0; i < 200; i++) {
		const struct hfile *f = NULL;
		size_t used = strlen(log);
		int r = request(b, &cmd, name);
		if (r != RP_OK)
			return r;
		if (cmd == 2) {
			snprintf(log + used, logsize - used, "D\n");
			return RP_OK;
		}
		if (!name[0]) {
			snprintf(log + used, logsize - used, "E\n");
			CHECK_EQ_INT(hdr(b, 0), RP_OK);
			return RP_OK;
		}
		if (name[0] == '*') {
			snprintf(log + used, logsize - used, "M %s\n", name);
			CHECK_EQ_INT(hdr(b, 0), RP_OK);
			continue;
		}
		snprintf(log + used, logsize - used, "%c %s\n", cmd == 0 ? 'S' : 'R', name);
		for (size_t k = 0; k < n; k++)
			if (!strcmp(files[k].name, name))
				f = &files[k];
		if (cmd == 0) {
			CHECK_EQ_INT(hdr(b, f ? (uint32_t)f->len : 0), RP_OK);
			continue;
		}
		CHECK(f != NULL); /* the model reads only what it was told exists */
		if (!f)
			return RP_ERR_PROTOCOL;
		CHECK_EQ_INT(hdr(b, (uint32_t)f->len), RP_OK);
		/* In two pieces, as a host with small chunks would. */
		CHECK_EQ_INT(bulk(b, f->data, f->len / 2), RP_OK);
		CHECK_EQ_INT(bulk(b, (const uint8_t *)f->data + f->len / 2, f->len - f->len / 2), RP_OK);
	}
	return RP_ERR_PROTOCOL;
}

/* The metadata keys of a serve() log, in order, "KEY,KEY,...". */
static void meta_keys(const char *log, char *out, size_t size)
{
	out[0] = '\0';
	for (const char *l = log; (l = strstr(l, "M *")); l += 3) {
		const char *star = strchr(l + 3, '*');
		size_t used = strlen(out);
		if (!star)
			break;
		snprintf(out + used, size - used, "%s%.*s", used ? "," : "", (int)(star - l - 3), l + 3);
	}
}

/* The value of KEY in a serve() log, or "". */
static const char *meta_value(const char *log, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p;
	size_t n = 0;
	snprintf(pat, sizeof(pat), "M *%s*", key);
	out[0] = '\0';
	p = strstr(log, pat);
	if (!p)
		return out;
	p += strlen(pat);
	while (p[n] && p[n] != '\n' && n + 1 < size)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* rpiboot's FACTORY_UUID decoding (decode_duid.c, restated): words in
 * hex joined by '_', each the low then the high 16-bit half, each half
 * three C40 values (v-1 = c0*1600 + c1*40 + c2), 4-13 digits, 14-39
 * letters. Returns -1 on a value that is not a character. */
static int duid_decode(const char *raw, char *out, size_t size)
{
	size_t n = 0;
	const char *p = raw;

	out[0] = '\0';
	while (*p) {
		char *end;
		unsigned long w = strtoul(p, &end, 16);
		if (end == p || w == 0)
			break;
		for (int h = 0; h < 2; h++) {
			unsigned v = h ? (unsigned)(w >> 16) : (unsigned)(w & 0xffff);
			unsigned c[3];
			if (h && !v)
				break;
			c[0] = (v - 1) / 1600;
			c[1] = (v - 1 - c[0] * 1600) / 40;
			c[2] = v - 1 - c[0] * 1600 - c[1] * 40;
			for (int k = 0; k < 3; k++) {
				if (n + 1 >= size || c[k] < 4 || c[k] > 39)
					return -1;
				out[n++] = c[k] <= 13 ? (char)('0' + c[k] - 4) : (char)('A' + c[k] - 14);
			}
		}
		p = *end == '_' ? end + 1 : end;
	}
	out[n] = '\0';
	return 0;
}

/* A board of pid/date that went through stage 1. */
static struct rp_sim_board *booted(uint16_t pid, uint32_t date, enum rp_sim_fault f,
				   enum rp_sim_step step, unsigned n)
{
	static const uint8_t second[64] = { 1 };
	struct rp_sim_params p;
	struct rp_sim_board *b;

	rp_sim_params_default(&p, n);
	p.pid = pid;
	p.firmware_date = date;
	p.fault = f;
	p.fault_step = step;
	b = rp_sim_board_new(&p);
	CHECK(b != NULL);
	if (b)
		boot_rom(b, second, sizeof(second));
	return b;
}

/* Image + .sig (with ts) for a chip's EEPROM size; the image carries the
 * timestamp where recovery.bin writes it when it has no updatetime file:
 * the last 8 bytes (F20). */
struct img {
	uint8_t *data;
	size_t len;
	char sig[160];
	char sha[65];
};

static void img_make(struct img *im, size_t len, uint32_t seed, uint32_t ts, bool stamped)
{
	uint32_t x = seed;
	im->len = len;
	im->data = malloc(len);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		im->data[i] = (uint8_t)(x >> 16);
	}
	if (stamped) {
		rp_put_le32(im->data + len - 8, ~ts);
		rp_put_le32(im->data + len - 4, ts);
	}
	th_sha256_hex(im->data, len, im->sha);
	snprintf(im->sig, sizeof(im->sig), "%s\nts: %u\n", im->sha, ts);
}

static void files3(struct hfile f[3], const char *conf, const struct img *im)
{
	f[0] = (struct hfile){ "config.txt", conf, strlen(conf) };
	f[1] = (struct hfile){ "pieeprom.sig", im->sig, strlen(im->sig) };
	f[2] = (struct hfile){ "pieeprom.bin", im->data, im->len };
}

/* F12: a 2711 recovery.bin of mid-2024 on asks config.txt, the size of
 * pieeprom.bin twice (C7), pieeprom.sig, pieeprom.bin, each read right
 * after its size; then metadata and Done. */
static void test_f12_script_2711(void)
{
	struct img im;
	struct hfile files[3];
	struct rp_sim_board *b;
	char log[8192], keys[1024], v[128];
	const uint8_t *ee;
	size_t len;

	img_make(&im, 512 * 1024, 7, 1700000000, true);
	files3(files, "recovery_metadata=1\n", &im);
	b = booted(0x2711, 20260804, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 7);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 4); /* F9 */
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	CHECK(!strncmp(log,
		       "S config.txt\nR config.txt\nS pieeprom.bin\nS pieeprom.bin\n"
		       "S pieeprom.sig\nR pieeprom.sig\nS pieeprom.bin\nR pieeprom.bin\nM *",
		       strlen("S config.txt\nR config.txt\nS pieeprom.bin\nS pieeprom.bin\n"
			      "S pieeprom.sig\nR pieeprom.sig\nS pieeprom.bin\nR pieeprom.bin\nM *")));
	CHECK(strstr(log, "\nD\n") != NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK(len == im.len && !memcmp(ee, im.data, len));
	/* 2.3, >= 2025-11-27 on 2711 (order: the 2711 example, plus the keys
	 * the binary has in their 2712 places). EEPROM_ERASE and
	 * SECURE_BOOT_PROVISION only when config.txt asked for the action
	 * (the plain recovery example has neither). */
	meta_keys(log, keys, sizeof(keys));
	CHECK_STR_EQ(keys, "USER_SERIAL_NUM,MAC_ADDR,EEPROM_UPDATE,EEPROM_HASH,"
			   "CUSTOMER_KEY_HASH,BOOT_ROM,BOARD_ATTR,"
			   "USER_BOARDREV,JTAG_LOCKED,ADVANCED_BOOT");
	CHECK_STR_EQ(meta_value(log, "EEPROM_UPDATE", v, sizeof(v)), "success");
	CHECK_STR_EQ(meta_value(log, "EEPROM_HASH", v, sizeof(v)), im.sha);
	CHECK_STR_EQ(meta_value(log, "MAC_ADDR", v, sizeof(v)), "dc:a6:32:00:00:07");
	CHECK_STR_EQ(meta_value(log, "USER_SERIAL_NUM", v, sizeof(v)), "5eed0007");
	CHECK_STR_EQ(meta_value(log, "BOOT_ROM", v, sizeof(v)), "0000c8b0");
	CHECK_STR_EQ(meta_value(log, "BOARD_ATTR", v, sizeof(v)), "00000000");
	CHECK_STR_EQ(meta_value(log, "USER_BOARDREV", v, sizeof(v)), "c03141");
	CHECK_STR_EQ(meta_value(log, "JTAG_LOCKED", v, sizeof(v)), "0");
	CHECK_EQ_INT(strlen(meta_value(log, "CUSTOMER_KEY_HASH", v, sizeof(v))), 64);
	CHECK(strstr(log, "EEPROM_ERASE") == NULL);
	CHECK(strstr(log, "SECURE_BOOT_PROVISION") == NULL);
	CHECK(rp_sim_board_host_error(b) == NULL);
	/* Nothing after Done. */
	{
		uint32_t cmd;
		char name[257];
		CHECK_EQ_INT(request(b, &cmd, name), RP_ERR_PIPE);
		CHECK_CONTAINS(rp_sim_board_host_error(b), "after Done");
	}
	rp_sim_board_free(b);
	free(im.data);
}

/* F13 (C6): the 2024-04 .upd era. With only pieeprom.bin served, nothing
 * is flashed and the board falls through to the boot chain; with a .upd
 * it flashes and reboots off the bus. No metadata (2.3: none <= 2024-07). */
static void test_f13_upd_era(void)
{
	struct img im;
	struct hfile files[3];
	struct hfile upd[] = { { "pieeprom.sig", NULL, 0 }, { "pieeprom.upd", NULL, 0 } };
	struct rp_sim_board *b;
	char log[8192];

	img_make(&im, 512 * 1024, 9, 1713208019, true);
	files3(files, "", &im);
	b = booted(0x2711, 20240415, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, files + 1, 2, log, sizeof(log)), RP_OK);
	CHECK_STR_EQ(log, "S config.txt\nS vl805.sig\nS pieeprom.sig\nR pieeprom.sig\n"
			  "S pieeprom.upd\nS recover4.elf\nS fixup4rc.dat\nS recovery.elf\n"
			  "S fixup_rc.dat\nS start4.elf\nS fixup4.dat\nD\n");
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_NOT_UPDATED);
	rp_sim_board_free(b);

	upd[0].data = im.sig;
	upd[0].len = strlen(im.sig);
	upd[1].data = im.data;
	upd[1].len = im.len;
	b = booted(0x2711, 20240415, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, upd, 2, log, sizeof(log)), RP_ERR_NO_DEVICE);
	CHECK_STR_EQ(log, "S config.txt\nS vl805.sig\nS pieeprom.sig\nR pieeprom.sig\n"
			  "S pieeprom.upd\nR pieeprom.upd\n");
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	CHECK(rp_sim_board_host_error(b) == NULL);
	rp_sim_board_free(b);
	free(im.data);
}

/* F15/C19: a 2712 recovery.bin: flash part as on 2711 (one size query),
 * 2 MiB, metadata, then (builds >= 2026-04-14) mcb.bin, memsys*,
 * rp1c0fw* (no bootmain: no recovery.bin holds the string), hanging on
 * the first one missing (C19). Before 2026-04-14: metadata, Done. */
static void test_f15_script_2712(void)
{
	struct img im;
	struct hfile files[3];
	struct rp_sim_board *b;
	char log[8192], keys[1024], v[128];
	const char *tail;

	img_make(&im, 2 * 1024 * 1024, 11, 1765538232, false);
	files3(files, "", &im);
	b = booted(0x2712, 20260812, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 3);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 4); /* assumed: open question 4 */
	/* C19: mcb.bin missing: the board hangs, still on the bus. */
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_ERR_AGAIN);
	CHECK(rp_sim_board_attached(b));
	CHECK(!strncmp(log, "S config.txt\nS pieeprom.bin\nS pieeprom.sig\nR pieeprom.sig\n"
			    "S pieeprom.bin\nR pieeprom.bin\nM *", 86));
	tail = strstr(log, "S mcb.bin");
	CHECK(tail != NULL);
	if (tail)
		CHECK_STR_EQ(tail, "S mcb.bin\n");
	meta_keys(log, keys, sizeof(keys));
	CHECK_STR_EQ(keys, "USER_SERIAL_NUM,MAC_ADDR,EEPROM_UPDATE,EEPROM_HASH,"
			   "CUSTOMER_KEY_HASH,BOOT_ROM,BOARD_ATTR,"
			   "USER_BOARDREV,JTAG_LOCKED,SIGNATURE_MODE,MAC_WIFI_ADDR,MAC_BT_ADDR,"
			   "FACTORY_UUID");
	CHECK_STR_EQ(meta_value(log, "USER_BOARDREV", v, sizeof(v)), "c04180");
	CHECK_STR_EQ(meta_value(log, "BOOT_ROM", v, sizeof(v)), "0000000a");
	CHECK_STR_EQ(meta_value(log, "SIGNATURE_MODE", v, sizeof(v)), "0");
	/* The raw C40 words (2.3), decoding to the board's identity. */
	{
		char duid[64];
		CHECK_EQ_INT(duid_decode(meta_value(log, "FACTORY_UUID", v, sizeof(v)), duid,
					 sizeof(duid)), 0);
		CHECK_STR_EQ(duid, rp_sim_board_factory_uuid(b));
		CHECK_EQ_INT(strlen(duid), 18);
	}
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	{
		/* No updatetime file in this image: the last 8 bytes carry
		 * the .sig's ts (F20), and EEPROM_HASH covers the EEPROM. */
		size_t len;
		const uint8_t *ee = rp_sim_board_eeprom(b, &len);
		char hash[65];
		CHECK_EQ_INT(len, 2 * 1024 * 1024);
		CHECK_EQ_INT(rp_get_le32(ee + len - 4), 1765538232u);
		CHECK_EQ_INT(rp_get_le32(ee + len - 8), ~1765538232u);
		CHECK(!memcmp(ee, im.data, len - 8));
		th_sha256_hex(ee, len, hash);
		CHECK_STR_EQ(meta_value(log, "EEPROM_HASH", v, sizeof(v)), hash);
	}
	rp_sim_board_free(b);

	/* With every DDR file there: all asked, in bootfiles order, then Done. */
	{
		static const char blob[] = "x";
		const char *ddr[] = { "mcb.bin", "memsys00.bin", "memsys01.bin", "rp1c0fw1.bin",
				      "memsys02.bin", "rp1c0fw2.bin", "memsys03.bin" };
		struct hfile all[10];
		memcpy(all, files, sizeof(files));
		for (int k = 0; k < 7; k++)
			all[3 + k] = (struct hfile){ ddr[k], blob, 1 };
		b = booted(0x2712, 20260812, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 3);
		CHECK_EQ_INT(serve(b, all, 10, log, sizeof(log)), RP_OK);
		tail = strstr(log, "S mcb.bin");
		CHECK(tail != NULL);
		if (tail)
			CHECK_STR_EQ(tail, "S mcb.bin\nR mcb.bin\nS memsys00.bin\nR memsys00.bin\n"
					   "S memsys01.bin\nR memsys01.bin\nS rp1c0fw1.bin\nR rp1c0fw1.bin\n"
					   "S memsys02.bin\nR memsys02.bin\nS rp1c0fw2.bin\nR rp1c0fw2.bin\n"
					   "S memsys03.bin\nR memsys03.bin\nD\n");
		CHECK(strstr(log, "bootmain") == NULL);
		rp_sim_board_free(b);
	}

	b = booted(0x2712, 20251201, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 3);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	CHECK(strstr(log, "mcb.bin") == NULL);
	CHECK(strstr(log, "M *FACTORY_UUID*") != NULL);
	CHECK(!strcmp(log + strlen(log) - 2, "D\n"));
	rp_sim_board_free(b);
	free(im.data);
}

/* 2.3: the keys by build date. <= 2024-07: none; 2024-08-14 ..
 * 2025-11-21: without EEPROM_* and SECURE_BOOT_PROVISION (and without
 * SIGNATURE_MODE on 2712); recovery_metadata=0 stops them all. */
static void test_metadata_by_date(void)
{
	struct img im;
	struct hfile files[3];
	struct hfile quiet[3];
	struct rp_sim_board *b;
	char log[8192], keys[1024];

	img_make(&im, 512 * 1024, 13, 1700000000, true);
	files3(files, "", &im);
	files3(quiet, "recovery_metadata=0\n", &im);
	b = booted(0x2711, 20240730, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	CHECK(strstr(log, "M *") == NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	rp_sim_board_free(b);

	b = booted(0x2711, 20250827, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	meta_keys(log, keys, sizeof(keys));
	CHECK_STR_EQ(keys, "USER_SERIAL_NUM,MAC_ADDR,CUSTOMER_KEY_HASH,BOOT_ROM,BOARD_ATTR,"
			   "USER_BOARDREV,JTAG_LOCKED,ADVANCED_BOOT");
	rp_sim_board_free(b);

	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, quiet, 3, log, sizeof(log)), RP_OK);
	CHECK(strstr(log, "M *") == NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	rp_sim_board_free(b);

	b = booted(0x2712, 20250601, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	free(im.data);
	img_make(&im, 2 * 1024 * 1024, 13, 1700000000, false);
	{
		struct hfile f2[3];
		files3(f2, "", &im);
		CHECK_EQ_INT(serve(b, f2, 3, log, sizeof(log)), RP_OK);
	}
	meta_keys(log, keys, sizeof(keys));
	CHECK_STR_EQ(keys, "USER_SERIAL_NUM,MAC_ADDR,CUSTOMER_KEY_HASH,BOOT_ROM,BOARD_ATTR,"
			   "USER_BOARDREV,JTAG_LOCKED,MAC_WIFI_ADDR,MAC_BT_ADDR,FACTORY_UUID");
	rp_sim_board_free(b);
	free(im.data);
}

/* F11: a missing file is answered size 0 and the board asks for the
 * next name; nothing is read. Without pieeprom.bin the board writes
 * nothing and reports it (EEPROM_UPDATE=fail). */
static void test_f11_missing_files(void)
{
	struct rp_sim_board *b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	char log[8192], v[128];

	CHECK_EQ_INT(serve(b, NULL, 0, log, sizeof(log)), RP_OK);
	CHECK(!strncmp(log, "S config.txt\nS pieeprom.bin\nS pieeprom.bin\nS pieeprom.sig\n"
			    "S pieeprom.bin\nM *", 74));
	CHECK(strstr(log, "R ") == NULL);
	CHECK_STR_EQ(meta_value(log, "EEPROM_UPDATE", v, sizeof(v)), "fail");
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_NOT_UPDATED);
	CHECK(rp_sim_board_host_error(b) == NULL);
	rp_sim_board_free(b);
}

/* A bad or missing pieeprom.sig, or a digest mismatch, is FATAL (C15):
 * no metadata, no further request (the board goes silent), EEPROM
 * untouched. No graceful report exists. */
static void test_fatal_sig(void)
{
	struct img im, other;
	struct hfile good[3];
	struct hfile nosig[] = { { "pieeprom.bin", NULL, 0 } };
	struct hfile mismatch[3];
	struct rp_sim_board *b;
	char log[8192];
	size_t len;
	const uint8_t *ee;

	img_make(&im, 512 * 1024, 17, 1700000000, true);
	files3(good, "", &im);
	files3(mismatch, "", &im);
	img_make(&other, 512 * 1024, 18, 1700000000, true);
	nosig[0].data = im.data;
	nosig[0].len = im.len;
	mismatch[1].data = other.sig;
	mismatch[1].len = strlen(other.sig);

	b = booted(0x2711, 0, RP_SIM_FAULT_BAD_SIG, RP_SIM_STEP_SIG, 1);
	CHECK_EQ_INT(serve(b, good, 3, log, sizeof(log)), RP_ERR_AGAIN);
	CHECK(strstr(log, "M *") == NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_REFUSED);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK(ee[0] == 0xff && ee[len - 1] == 0xff);
	rp_sim_board_free(b);

	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, nosig, 1, log, sizeof(log)), RP_ERR_AGAIN);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_REFUSED);
	rp_sim_board_free(b);

	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, mismatch, 3, log, sizeof(log)), RP_ERR_AGAIN);
	CHECK(strstr(log, "M *") == NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_REFUSED);
	CHECK(rp_sim_board_host_error(b) == NULL);
	rp_sim_board_free(b);
	free(im.data);
	free(other.data);
}

/* recovery_reboot=1: the board disconnects right after its metadata, no
 * Done (2.4, usbboot#224); the vanish_after_metadata fault the same.
 * erase_eeprom=1 erases instead of writing (EEPROM_ERASE=success). */
static void test_reboot_and_erase(void)
{
	struct img im;
	struct hfile reboot[3];
	struct hfile files[3];
	struct hfile erase[3];
	struct rp_sim_board *b;
	char log[8192], v[128];
	size_t sectors, len;
	unsigned reads;
	const uint8_t *ee;

	img_make(&im, 512 * 1024, 19, 1700000000, true);
	files3(reboot, "recovery_reboot=1\n", &im);
	files3(files, "", &im);
	files3(erase, "erase_eeprom=1\n", &im);
	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(serve(b, reboot, 3, log, sizeof(log)), RP_ERR_NO_DEVICE);
	CHECK(strstr(log, "M *ADVANCED_BOOT*") != NULL);
	CHECK(strstr(log, "D\n") == NULL);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	rp_sim_board_free(b);

	b = booted(0x2711, 0, RP_SIM_FAULT_VANISH_AFTER_METADATA, RP_SIM_STEP_METADATA, 1);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_ERR_NO_DEVICE);
	CHECK(strstr(log, "M *ADVANCED_BOOT*") != NULL);
	rp_sim_board_free(b);

	/* F17: the empty name instead of Done. */
	b = booted(0x2711, 0, RP_SIM_FAULT_EMPTY_NAME_DONE, RP_SIM_STEP_METADATA, 1);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	CHECK(!strcmp(log + strlen(log) - 2, "E\n"));
	CHECK(rp_sim_board_host_error(b) == NULL);
	rp_sim_board_free(b);

	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(rp_sim_board_set_eeprom(b, im.data, im.len), RP_OK);
	CHECK_EQ_INT(serve(b, erase, 3, log, sizeof(log)), RP_OK);
	CHECK_STR_EQ(meta_value(log, "EEPROM_ERASE", v, sizeof(v)), "success");
	CHECK_STR_EQ(meta_value(log, "EEPROM_UPDATE", v, sizeof(v)), "fail");
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_ERASED);
	rp_sim_board_flash_stats(b, &sectors, &reads);
	CHECK_EQ_INT(sectors, 128);
	ee = rp_sim_board_eeprom(b, &len);
	for (size_t i = 0; i < len; i += 4093)
		CHECK(ee[i] == 0xff);
	rp_sim_board_free(b);
	free(im.data);
}

/* F18: only the 4 KiB sectors that differ are rewritten, then read back.
 * F20: the .sig's ts goes to the last 8 bytes (no updatetime file). */
static void test_f18_sectors_f20_timestamp(void)
{
	struct img im;
	struct hfile files[3];
	struct rp_sim_board *b;
	char log[8192], v[128], hash[65];
	size_t sectors, len;
	unsigned reads;
	const uint8_t *ee;

	img_make(&im, 512 * 1024, 23, 1700000000, true);
	files3(files, "", &im);
	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(rp_sim_board_set_eeprom(b, im.data, im.len), RP_OK);
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	rp_sim_board_flash_stats(b, &sectors, &reads);
	CHECK_EQ_INT(sectors, 0); /* rerun: every block a '.' (rpi-eeprom#64) */
	CHECK_EQ_INT(reads, 2);   /* read, then verify (C26b) */
	rp_sim_board_free(b);

	/* Two sectors differ; the first and the one at 256 KiB. */
	b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	im.data[10] ^= 1;
	im.data[256 * 1024 + 5] ^= 1;
	CHECK_EQ_INT(rp_sim_board_set_eeprom(b, im.data, im.len), RP_OK);
	im.data[10] ^= 1;
	im.data[256 * 1024 + 5] ^= 1;
	CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
	rp_sim_board_flash_stats(b, &sectors, &reads);
	CHECK_EQ_INT(sectors, 2);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK(!memcmp(ee, im.data, len));
	rp_sim_board_free(b);

	/* An image without the timestamp: the board adds it (one sector). */
	free(im.data);
	img_make(&im, 512 * 1024, 29, 1234567890, false);
	{
		struct hfile f2[3];
		files3(f2, "", &im);
		b = booted(0x2711, 0, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
		CHECK_EQ_INT(rp_sim_board_set_eeprom(b, im.data, im.len), RP_OK);
		CHECK_EQ_INT(serve(b, f2, 3, log, sizeof(log)), RP_OK);
	}
	rp_sim_board_flash_stats(b, &sectors, &reads);
	CHECK_EQ_INT(sectors, 1);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK_EQ_INT(rp_get_le32(ee + len - 4), 1234567890u);
	CHECK_EQ_INT(rp_get_le32(ee + len - 8), ~1234567890u);
	/* EEPROM_HASH = sha256 of the EEPROM after the write (open question 1). */
	th_sha256_hex(ee, len, hash);
	CHECK_STR_EQ(meta_value(log, "EEPROM_HASH", v, sizeof(v)), hash);
	CHECK(strcmp(hash, im.sha) != 0);
	rp_sim_board_free(b);
	free(im.data);
}

/* F20 with a real image: the timestamp lands in the updatetime file,
 * where rpi-eeprom-config (and src/image) put it. */
static void test_f20_updatetime_fixture(void)
{
	const char *fw = getenv("RPIPROV_TEST_FIRMWARE");
	static const char *const images[] = { "2711/pieeprom-2026-08-04.bin",
					      "2712/pieeprom-2026-08-12.bin" };
	if (!fw || !*fw) {
		test_skip_case("firmware fixtures not found");
		return;
	}
	for (size_t k = 0; k < 2; k++) {
		char path[4096], log[8192];
		struct rp_eeprom img;
		struct rp_diag d;
		struct img im = { 0 };
		struct rp_sim_board *b;
		const uint8_t *ee;
		size_t len;
		uint32_t ts;
		bool set;

		snprintf(path, sizeof(path), "%s/%s", fw, images[k]);
		memset(&img, 0, sizeof(img));
		if (rp_eeprom_load(&img, path, &d) != RP_OK) {
			fprintf(stderr, "%s: %s\n", path, rp_diag_message(&d));
			CHECK(0);
			continue;
		}
		im.len = img.size;
		im.data = malloc(im.len);
		memcpy(im.data, img.data, im.len);
		th_sha256_hex(im.data, im.len, im.sha);
		snprintf(im.sig, sizeof(im.sig), "%s\nts: %u\n", im.sha, 1750000000u);
		{
			struct hfile files[3];
			files3(files, "", &im);
			/* A 2712 build before the DDR requests (C19 hangs without mcb.bin). */
			b = booted(k ? 0x2712 : 0x2711, k ? 20260301 : 0, RP_SIM_FAULT_NONE,
				   RP_SIM_STEP_STAGE1, 1);
			CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_OK);
		}
		/* The host's editor puts the same timestamp in the same place. */
		CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 1750000000u, &d), RP_OK);
		ee = rp_sim_board_eeprom(b, &len);
		CHECK(len == img.size && !memcmp(ee, img.data, len));
		rp_eeprom_get_timestamp(&img, &ts, &set);
		CHECK(set && ts == 1750000000u);
		rp_sim_board_free(b);
		rp_eeprom_free(&img);
		free(im.data);
	}
}

/* F7: the ROM resets before the status read, which fails; the board
 * still comes up as its second stage. */
static void test_f7_status_read_fails(void)
{
	struct rp_sim_params p;
	struct rp_sim_board *b;
	uint8_t second[64] = { 1 }, msg[24] = { 0 }, rc[4];
	unsigned ready;
	size_t got;
	uint64_t at;
	bool attach;

	rp_sim_params_default(&p, 1);
	p.fault = RP_SIM_FAULT_STATUS_READ_FAILS;
	b = rp_sim_board_new(&p);
	rp_put_le32(msg, sizeof(second));
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, 64), RP_OK);
	CHECK_EQ_INT(bulk(b, second, 64), RP_OK);
	CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 4, 0, rc, 4, &got, &ready), RP_ERR_NO_DEVICE);
	rp_sim_board_apply_bus_change(b);
	CHECK(rp_sim_board_bus_change(b, &at, &attach) && attach);
	rp_sim_board_apply_bus_change(b);
	CHECK_EQ_INT(rp_sim_board_stage(b), RP_STAGE_SECOND);
	rp_sim_board_free(b);
}

/* F8: the first open of the re-enumerated board fails, once. */
static void test_f8_open_fails_once(void)
{
	struct rp_sim_board *b = booted(0x2711, 0, RP_SIM_FAULT_OPEN_FAILS_ONCE,
					 RP_SIM_STEP_REENUM, 1);
	CHECK(rp_sim_board_take_open_failure(b));
	CHECK(!rp_sim_board_take_open_failure(b));
	rp_sim_board_free(b);
}

/* F2, F3, F4, F9: descriptors at each stage and firmware date. */
static void test_f2_f3_f9_descriptors(void)
{
	struct rp_sim_params p;
	struct rp_sim_board *b;

	rp_sim_params_default(&p, 0x1234);
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 3);
	CHECK_STR_EQ(rp_sim_board_serial(b), "5eed1234");
	CHECK(rp_sim_board_short_config(b));
	rp_sim_board_free(b);
	snprintf(p.serial, sizeof(p.serial), "10000000AF04B2DA");
	p.pid = 0x2712;
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 3);
	CHECK_STR_EQ(rp_sim_board_serial(b), "af04b2da");
	CHECK(!rp_sim_board_short_config(b));
	rp_sim_board_free(b);
	/* 2711 second stage: 4 since 2022, 1 on a 2021 build. The pre-2022
	 * build is of the .upd era (F13). */
	b = booted(0x2711, 20210307, RP_SIM_FAULT_NONE, RP_SIM_STEP_STAGE1, 1);
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 1);
	CHECK_STR_EQ(rp_sim_board_serial(b), "5eed0001");
	CHECK(!rp_sim_board_short_config(b));
	rp_sim_board_free(b);
}

/* The model as an oracle: protocol mistakes of a host are caught. */

static void test_model_oracle(void)
{
	struct rp_sim_params p;
	struct rp_sim_board *b;
	uint8_t second[64] = { 1 }, msg[24] = { 0 }, rc[4];
	uint32_t cmd;
	char name[257];
	unsigned ready;
	size_t got;

	rp_sim_params_default(&p, 1);
	/* A header with a data stage. */
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(rp_sim_board_control_out(b, 0, 24, 0, msg, 24, &ready), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "data stage");
	rp_sim_board_free(b);
	/* A boot message of the wrong size. */
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(hdr(b, 20), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "24-byte boot message");
	rp_sim_board_free(b);
	/* Second stage header not matching the boot message; too much data. */
	b = rp_sim_board_new(&p);
	rp_put_le32(msg, sizeof(second));
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, 65), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "boot message said 64");
	rp_sim_board_free(b);
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, 64), RP_OK);
	CHECK_EQ_INT(bulk(b, second, 32), RP_OK);
	CHECK_EQ_INT(bulk(b, second, 64), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "only 32 outstanding");
	rp_sim_board_free(b);
	/* Return code read with a wValue that does not match the buffer. */
	b = rp_sim_board_new(&p);
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, 64), RP_OK);
	CHECK_EQ_INT(bulk(b, second, 64), RP_OK);
	CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 8, 0, rc, 4, &got, &ready), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "buffer is 4");
	rp_sim_board_free(b);

	/* Second stage: ReadFile length differing from the announced size,
	 * and reading a new request before answering. */
	b = rp_sim_board_new(&p);
	boot_rom(b, second, sizeof(second));
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "before answering");
	rp_sim_board_free(b);
	b = rp_sim_board_new(&p);
	boot_rom(b, second, sizeof(second));
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK_EQ_INT(hdr(b, 10), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK_EQ_INT(hdr(b, 11), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "GetFileSize said 10");
	rp_sim_board_free(b);

	/* Serving a hostile name is a host error. */
	p.fault = RP_SIM_FAULT_HOSTILE_NAME;
	p.fault_step = RP_SIM_STEP_CONFIG;
	b = rp_sim_board_new(&p);
	boot_rom(b, second, sizeof(second));
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK_STR_EQ(name, "../../etc/passwd");
	CHECK_EQ_INT(hdr(b, 0), RP_OK);
	CHECK(rp_sim_board_host_error(b) == NULL);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK_STR_EQ(name, "/etc/shadow");
	CHECK_EQ_INT(hdr(b, 100), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "hostile");
	rp_sim_board_free(b);
}

/* Device delays are RP_ERR_AGAIN with the time left, never a sleep. */
static void test_model_timing(void)
{
	struct rp_sim_params p;
	struct rp_sim_board *b;
	uint8_t second[64] = { 1 }, msg[24] = { 0 }, rc[4];
	unsigned ready = 0;
	size_t got;
	uint64_t t0 = rp_now_ms();

	rp_sim_params_default(&p, 1);
	p.timing.stage1_ms = 60000;
	b = rp_sim_board_new(&p);
	rp_put_le32(msg, sizeof(second));
	CHECK_EQ_INT(hdr(b, 24), RP_OK);
	CHECK_EQ_INT(bulk(b, msg, 24), RP_OK);
	CHECK_EQ_INT(hdr(b, 64), RP_OK);
	CHECK_EQ_INT(bulk(b, second, 64), RP_OK);
	CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 4, 0, rc, 4, &got, &ready), RP_ERR_AGAIN);
	CHECK(ready > 59000 && ready <= 60000);
	CHECK(rp_now_ms() - t0 < 1000);
	rp_sim_board_unplug(b);
	CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 4, 0, rc, 4, &got, &ready), RP_ERR_NO_DEVICE);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_GONE);
	rp_sim_board_free(b);

	{
		/* Realistic: each board plays its own chip's figures (F19). */
		struct img im;
		struct hfile files[3];
		char log[8192];
		img_make(&im, 2 * 1024 * 1024, 31, 1700000000, false);
		files3(files, "", &im);
		rp_sim_params_default(&p, 1);
		p.pid = 0x2712;
		rp_sim_timing_realistic(&p.timing);
		CHECK(p.timing.reenum_ms > 0 && p.timing.erase_ms > 0 && p.timing.write_ms > 0 &&
		      p.timing.verify_ms > 0);
		p.timing.stage1_ms = 0;
		p.timing.reenum_ms = 0;
		p.second_stage = true;
		b = rp_sim_board_new(&p);
		/* A full 2 MiB rewrite: the next request comes > 10 s later. */
		CHECK_EQ_INT(serve(b, files, 3, log, sizeof(log)), RP_ERR_AGAIN);
		{
			uint8_t m[260];
			CHECK_EQ_INT(rp_sim_board_control_in(b, 0, 260, 0, m, 260, &got, &ready),
				     RP_ERR_AGAIN);
			CHECK(ready > 10000 && ready < 20000);
		}
		rp_sim_board_free(b);
		free(im.data);
	}
}

/* Chips without an EEPROM are not modelled. */
static void test_model_chips(void)
{
	struct rp_sim_params p;
	size_t len;
	struct rp_sim_board *b;

	rp_sim_params_default(&p, 3);
	p.pid = 0x2712;
	b = rp_sim_board_new(&p);
	rp_sim_board_eeprom(b, &len);
	CHECK_EQ_INT(len, 2 * 1024 * 1024);
	rp_sim_board_free(b);
	p.pid = 0x2763;
	CHECK(rp_sim_board_new(&p) == NULL);
}

/* ---- wire helpers against a recording transport ---- */

struct rec_transport {
	struct rp_transport base;
	uint16_t value, index;
	size_t chunks[16];
	unsigned n_chunks;
	size_t accept_limit; /* bulk accepts at most this in total */
	size_t accepted;
	unsigned ctrl_in_len;
};

static int rec_control_out(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			   const void *data, size_t len, unsigned timeout_ms)
{
	struct rec_transport *r = (struct rec_transport *)t;
	r->value = value;
	r->index = index;
	return (request == 0 && !data && !len && timeout_ms) ? RP_OK : RP_ERR_INVALID_ARG;
}

static int rec_control_in(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			  void *data, size_t len, size_t *actual, unsigned timeout_ms)
{
	struct rec_transport *r = (struct rec_transport *)t;
	r->value = value;
	r->index = index;
	memset(data, 0xab, len);
	*actual = len > r->ctrl_in_len ? r->ctrl_in_len : len;
	return RP_OK;
}

static int rec_bulk_out(struct rp_transport *t, const void *data, size_t len, size_t *actual,
			unsigned timeout_ms)
{
	struct rec_transport *r = (struct rec_transport *)t;
	size_t room = r->accept_limit - r->accepted;
	if (r->n_chunks < 16)
		r->chunks[r->n_chunks++] = len;
	*actual = len < room ? len : room;
	r->accepted += *actual;
	return *actual < len ? RP_ERR_SHORT : RP_OK;
}

static void rec_close(struct rp_transport *t)
{
	(void)t;
}

static const struct rp_transport_ops rec_ops = { rec_control_out, rec_control_in, rec_bulk_out,
						 rec_close };

static void test_wire(void)
{
	static uint8_t data[0x12345];
	struct rec_transport t = { .base.ops = &rec_ops, .accept_limit = SIZE_MAX };
	uint8_t buf[260];
	size_t n;

	CHECK_EQ_INT(rp_ep_write(&t.base, data, sizeof(data), 0x10000, 1000, 0, &n), RP_OK);
	CHECK_EQ_INT(t.value, 0x2345);
	CHECK_EQ_INT(t.index, 0x1);
	CHECK_EQ_INT(t.n_chunks, 2);
	CHECK_EQ_INT(t.chunks[0], 0x10000);
	CHECK_EQ_INT(t.chunks[1], 0x2345);
	CHECK_EQ_INT(n, sizeof(data));
	CHECK_EQ_INT(t.base.n_control, 1);
	CHECK_EQ_INT(t.base.n_bulk, 2);

	/* The GetFileSize reply: header only. */
	t.n_chunks = 0;
	CHECK_EQ_INT(rp_ep_write_header(&t.base, 0x00030201, 1000, 0), RP_OK);
	CHECK_EQ_INT(t.value, 0x0201);
	CHECK_EQ_INT(t.index, 0x0003);
	CHECK_EQ_INT(t.n_chunks, 0);
	/* ep_write(NULL, 0): header with 0, no bulk. */
	CHECK_EQ_INT(rp_ep_write(&t.base, NULL, 0, 0, 1000, 0, &n), RP_OK);
	CHECK_EQ_INT(t.value, 0);
	CHECK_EQ_INT(t.n_chunks, 0);

	/* A board that accepts less. */
	t.accept_limit = 100;
	t.accepted = 0;
	CHECK_EQ_INT(rp_ep_write(&t.base, data, 1000, 0, 1000, 0, &n), RP_ERR_SHORT);
	CHECK_EQ_INT(n, 100);

	/* ep_read: wValue carries the length; a short answer is reported. */
	t.ctrl_in_len = 260;
	CHECK_EQ_INT(rp_ep_read(&t.base, buf, sizeof(buf), 1000, 0, &n), RP_OK);
	CHECK_EQ_INT(t.value, 260);
	CHECK_EQ_INT(t.index, 0);
	t.ctrl_in_len = 7;
	CHECK_EQ_INT(rp_ep_read(&t.base, buf, sizeof(buf), 1000, 0, &n), RP_ERR_SHORT);
	CHECK_EQ_INT(n, 7);

	/* A deadline already passed: no transfer at all. */
	t.base.n_control = 0;
	CHECK_EQ_INT(rp_ep_read(&t.base, buf, 4, 1000, 1, &n), RP_ERR_TIMEOUT);
	CHECK_EQ_INT(rp_ep_write(&t.base, data, 4, 0, 1000, 1, &n), RP_ERR_TIMEOUT);
	CHECK_EQ_INT(t.base.n_control, 0);
}

/* The simulated bus shows what hardware shows: a boot ROM enumerates
 * with iSerialNumber 3 and its 8-hex serial (F2, F3), the second stage
 * with index 4 and the same string (F9, F10). */
static void test_source_serials(void)
{
	static const bool second_stage[2] = { false, true };
	struct rp_sim_source_opts so = { .n_boards = 2, .second_stage = second_stage };
	struct rp_source *src = NULL;
	struct rp_source_event ev;
	bool seen[2] = { false, false };

	CHECK_EQ_INT(rp_sim_source_new(&so, &src, NULL), RP_OK);
	if (!src)
		return;
	for (int n = 0; n < 2; n++) {
		int i;
		CHECK_EQ_INT(src->ops->next_event(src, &ev, 1000), RP_OK);
		CHECK_EQ_INT(ev.type, RP_SOURCE_ARRIVED);
		i = th_board_index(ev.info.port_path);
		CHECK(i == 0 || i == 1);
		if (i != 0 && i != 1)
			continue;
		seen[i] = true;
		CHECK_EQ_INT(ev.info.stage, i == 0 ? RP_STAGE_ROM : RP_STAGE_SECOND);
		CHECK_EQ_INT(ev.info.serial_index, i == 0 ? 3 : 4);
		CHECK_STR_EQ(ev.info.serial, i == 0 ? "5eed0001" : "5eed0002");
	}
	CHECK(seen[0] && seen[1]);
	src->ops->destroy(src);
}

/* The --sim-fault help and the README list exactly the hardware faults;
 * the hostile device's are in neither. Each hardware fault has its ids in
 * doc/hardware.md, and the help (read by users, who have no such page
 * open) says what the board does in words, citing no id. */
static void test_fault_table(void)
{
	const char *help = rp_sim_fault_help();
	const char *srcdir = getenv("RPIPROV_SRCDIR");
	char path[4096], *readme = NULL;
	FILE *f;

	if (srcdir && *srcdir) {
		snprintf(path, sizeof(path), "%s/README.md", srcdir);
		f = fopen(path, "r");
		if (f) {
			readme = calloc(1, 1 << 20);
			if (readme)
				CHECK(fread(readme, 1, (1 << 20) - 1, f) > 0);
			fclose(f);
		}
	}
	for (int i = 1; i < RP_SIM_FAULT_COUNT; i++) {
		enum rp_sim_fault fl = (enum rp_sim_fault)i;
		char row[128];
		const char *ev = rp_sim_fault_evidence(fl);
		snprintf(row, sizeof(row), "  %s ", rp_sim_fault_name(fl));
		CHECK_EQ_INT(rp_sim_fault_is_hardware(fl), i < RP_SIM_FAULT_FIRST_HOSTILE);
		CHECK_EQ_INT(strstr(help, row) != NULL, rp_sim_fault_is_hardware(fl));
		CHECK_EQ_INT(ev != NULL, rp_sim_fault_is_hardware(fl));
		if (readme) {
			snprintf(row, sizeof(row), "| `%s` |", rp_sim_fault_name(fl));
			CHECK_EQ_INT(strstr(readme, row) != NULL, rp_sim_fault_is_hardware(fl));
		}
	}
	for (const char *p = help; *p; p++) {
		bool id = (*p == 'C' || *p == 'F') && p[1] >= '0' && p[1] <= '9' &&
			  (p == help || p[-1] == ' ' || p[-1] == '(' || p[-1] == ',');
		CHECK(!id);
	}
	free(readme);
}

int main(void)
{
	RUN(test_fault_specs());
	RUN(test_fault_table());
	RUN_NAMED("F2 F3 F4 F9 descriptors and serials", test_f2_f3_f9_descriptors());
	RUN_NAMED("F12 2711 script (C7 double size query)", test_f12_script_2711());
	RUN_NAMED("F13 2711 .upd era script (C6)", test_f13_upd_era());
	RUN_NAMED("F15 2712 scripts (C19)", test_f15_script_2712());
	RUN_NAMED("F11 missing files answered size 0", test_f11_missing_files());
	RUN_NAMED("2.3 metadata keys by firmware date", test_metadata_by_date());
	RUN_NAMED("C15 bad or missing sig is fatal", test_fatal_sig());
	RUN_NAMED("recovery_reboot, F17 empty name, erase_eeprom", test_reboot_and_erase());
	RUN_NAMED("F18 sector writes, F20 timestamp", test_f18_sectors_f20_timestamp());
	RUN_NAMED("F20 updatetime in real images", test_f20_updatetime_fixture());
	RUN_NAMED("F7 status read fails", test_f7_status_read_fails());
	RUN_NAMED("F8 first open fails", test_f8_open_fails_once());
	RUN(test_model_oracle());
	RUN_NAMED("F19 timing", test_model_timing());
	RUN(test_model_chips());
	RUN(test_wire());
	RUN_NAMED("F2 F3 source serials", test_source_serials());
	return test_result();
}
