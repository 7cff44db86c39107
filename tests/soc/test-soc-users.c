/* What the other areas do with each row of the SoC table, checked for
 * every row so a new chip is covered the day it is added: the image
 * parser accepts exactly the table's EEPROM sizes, .sig files name only
 * chips with an EEPROM, the payload finds a second stage in rpiboot's
 * folder for the chip, and the device model plays the chips with an
 * EEPROM at the table's size and timing. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/eeprom_image.h"
#include "image/sig.h"
#include "session/payload.h"
#include "sim/sim_board.h"
#include "soc/soc.h"
#include "testlib.h"
#include "util/fileio.h"

static void test_image_sizes(void)
{
	size_t n;
	const struct rp_soc *t = rp_soc_table(&n);
	static const uint8_t erased[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct rp_eeprom img;
	struct rp_diag d;

	/* The message lists the table's sizes, worded as it always was. */
	CHECK_EQ_INT(rp_eeprom_parse(&img, erased, sizeof(erased), "x.bin", &d), RP_ERR_FORMAT);
	CHECK_STR_EQ(d.msg, "x.bin: 8 bytes is not a bootloader image size "
			    "(512 KiB = 524288 for 2711, 2 MiB = 2097152 for 2712)");
	for (size_t i = 0; i < n; i++) {
		uint8_t *data;
		if (!rp_soc_has_eeprom(&t[i]))
			continue;
		/* Right size, erased: the size is accepted, the contents are not. */
		data = malloc(t[i].eeprom_size);
		CHECK(data != NULL);
		if (!data)
			continue;
		memset(data, 0xff, t[i].eeprom_size);
		CHECK_EQ_INT(rp_eeprom_parse(&img, data, t[i].eeprom_size, "e.bin", &d), RP_ERR_FORMAT);
		CHECK_CONTAINS(d.msg, "no bootcode section");
		free(data);
	}
}

static void test_sig_target(void)
{
	static const char hash[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	size_t n;
	const struct rp_soc *t = rp_soc_table(&n);
	char text[256];
	struct rp_sig sig;
	struct rp_diag d;

	for (size_t i = 0; i < n; i++) {
		int r;
		snprintf(text, sizeof(text), "%s\nts: 1\ntarget-soc: %s\n", hash, t[i].soc);
		r = rp_sig_parse((const uint8_t *)text, strlen(text), "p.sig", &sig, &d);
		if (rp_soc_has_eeprom(&t[i])) {
			CHECK_EQ_INT(r, RP_OK);
			CHECK_STR_EQ(sig.target_soc, t[i].soc);
		} else {
			CHECK_EQ_INT(r, RP_ERR_FORMAT);
			CHECK_CONTAINS(d.msg, "target-soc: must be 2711 or 2712");
		}
	}
	/* A NUL inside the value is not a shorter name. */
	memcpy(text, hash, 64);
	memcpy(text + 64, "\ntarget-soc: 2711\0\n", 19);
	CHECK_EQ_INT(rp_sig_parse((const uint8_t *)text, 64 + 19, "p.sig", &sig, &d), RP_ERR_FORMAT);
}

/* Each chip's second stage comes from rpiboot's folder for it, before
 * the top of the served directory. */
static void test_second_stage_folder(void)
{
	char root[] = "/tmp/test-soc-XXXXXX", path[512];
	size_t n;
	const struct rp_soc *t = rp_soc_table(&n);
	struct rp_payload_opts po = { .dir = root };
	struct rp_payload *p = NULL;
	struct rp_diag d;

	CHECK(mkdtemp(root) != NULL);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, t[i].rpiboot_dir);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%s/%s", root, t[i].rpiboot_dir, t[i].second_stage);
		CHECK_EQ_INT(rp_file_write_atomic(path, t[i].rpiboot_dir, strlen(t[i].rpiboot_dir),
						  0644, &d), RP_OK);
	}
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	for (size_t i = 0; p && i < n; i++) {
		struct rp_payload_file f;
		CHECK_EQ_INT(rp_payload_second_stage(p, &t[i], NULL, &f, &d), RP_OK);
		CHECK_EQ_INT(f.len, strlen(t[i].rpiboot_dir));
		CHECK(f.data && !memcmp(f.data, t[i].rpiboot_dir, f.len));
		rp_payload_file_release(p, &f);
	}
	rp_payload_free(p);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", root, t[i].rpiboot_dir, t[i].second_stage);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", root, t[i].rpiboot_dir);
		rmdir(path);
	}
	rmdir(root);
}

static void test_model(void)
{
	size_t n;
	const struct rp_soc *t = rp_soc_table(&n);
	const struct rp_soc *def = rp_soc_default();
	struct rp_sim_params p;
	struct rp_sim_timing tm;

	rp_sim_params_default(&p, 1);
	CHECK_EQ_INT(p.pid, def->pid);
	rp_sim_timing_realistic(&tm);
	CHECK_EQ_INT(tm.stage1_ms, def->model_timing.stage1_ms);
	CHECK_EQ_INT(tm.reenum_ms, def->model_timing.reenum_ms);
	CHECK_EQ_INT(tm.erase_ms, def->model_timing.erase_ms);
	CHECK_EQ_INT(tm.write_ms, def->model_timing.write_ms);
	CHECK_EQ_INT(tm.verify_ms, def->model_timing.verify_ms);
	for (size_t i = 0; i < n; i++) {
		struct rp_sim_board *b;
		p.pid = t[i].pid;
		b = rp_sim_board_new(&p);
		CHECK_EQ_INT(b != NULL, rp_soc_has_eeprom(&t[i]));
		if (b) {
			size_t len;
			rp_sim_board_eeprom(b, &len);
			CHECK_EQ_INT(len, t[i].eeprom_size);
			CHECK_EQ_INT(rp_sim_board_pid(b), t[i].pid);
		}
		rp_sim_board_free(b);
	}
}

int main(void)
{
	RUN(test_image_sizes());
	RUN(test_sig_target());
	RUN(test_second_stage_folder());
	RUN(test_model());
	return test_result();
}
