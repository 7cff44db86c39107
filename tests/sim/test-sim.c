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

#include "session_helpers.h"

static void test_fault_specs(void)
{
	struct rp_sim_fault_spec s;
	struct rp_diag d;

	CHECK_EQ_INT(rp_sim_fault_spec_parse("leave@image:3", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_LEAVE);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_IMAGE);
	CHECK_EQ_INT(s.board, 3);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("rom_error:2", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_ROM_ERROR);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_STAGE1);
	CHECK_EQ_INT(s.board, 2);
	CHECK_EQ_INT(rp_sim_fault_spec_parse("wrong-hash", &s, &d), RP_OK);
	CHECK_EQ_INT(s.fault, RP_SIM_FAULT_WRONG_HASH);
	CHECK_EQ_INT(s.step, RP_SIM_STEP_METADATA);
	CHECK_EQ_INT(s.board, 0);
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
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 0);
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
	CHECK_EQ_INT(rp_sim_board_serial_index(b), 5);
}

static void test_model_script(void)
{
	struct th_payload tp;
	struct rp_sim_params p;
	struct rp_sim_board *b;
	const char *conf = "recovery_metadata=1\n";
	const uint8_t *ee;
	size_t len;
	uint32_t cmd;
	char name[257];
	unsigned n_meta = 0;

	CHECK(th_payload_init(&tp, NULL) == 0);
	rp_sim_params_default(&p, 7);
	b = rp_sim_board_new(&p);
	CHECK(b != NULL);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK_EQ_INT(len, 512 * 1024);
	CHECK(ee[0] == 0xff && ee[len - 1] == 0xff);
	boot_rom(b, tp.second, TH_SECOND_STAGE_SIZE);

	/* recovery.bin's order: config.txt, pieeprom.bin (size), pieeprom.sig, pieeprom.bin. */
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 0 && !strcmp(name, "config.txt"));
	CHECK_EQ_INT(hdr(b, (uint32_t)strlen(conf)), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 1 && !strcmp(name, "config.txt"));
	CHECK_EQ_INT(hdr(b, (uint32_t)strlen(conf)), RP_OK);
	CHECK_EQ_INT(bulk(b, conf, strlen(conf)), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 0 && !strcmp(name, "pieeprom.bin"));
	CHECK_EQ_INT(hdr(b, TH_IMAGE_SIZE), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 0 && !strcmp(name, "pieeprom.sig"));
	CHECK_EQ_INT(hdr(b, (uint32_t)strlen(tp.sig)), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 1 && !strcmp(name, "pieeprom.sig"));
	CHECK_EQ_INT(hdr(b, (uint32_t)strlen(tp.sig)), RP_OK);
	CHECK_EQ_INT(bulk(b, tp.sig, strlen(tp.sig)), RP_OK);
	CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
	CHECK(cmd == 1 && !strcmp(name, "pieeprom.bin"));
	CHECK_EQ_INT(hdr(b, TH_IMAGE_SIZE), RP_OK);
	/* In two pieces, as a host with small chunks would. */
	CHECK_EQ_INT(bulk(b, tp.image, 4096), RP_OK);
	CHECK_EQ_INT(bulk(b, tp.image + 4096, TH_IMAGE_SIZE - 4096), RP_OK);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_UPDATED);
	for (;;) {
		CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
		if (cmd == 2)
			break;
		CHECK(cmd == 0 && name[0] == '*');
		if (!strncmp(name, "*EEPROM_HASH*", 13))
			CHECK_STR_EQ(name + 13, tp.sha);
		if (!strncmp(name, "*USER_SERIAL_NUM*", 17))
			CHECK_STR_EQ(name + 17, p.serial);
		CHECK_EQ_INT(hdr(b, 0), RP_OK);
		if (++n_meta > 20)
			break;
	}
	CHECK_EQ_INT(n_meta, 12);
	CHECK(rp_sim_board_host_error(b) == NULL);
	ee = rp_sim_board_eeprom(b, &len);
	CHECK(!memcmp(ee, tp.image, TH_IMAGE_SIZE));
	/* Nothing after Done. */
	CHECK_EQ_INT(request(b, &cmd, name), RP_ERR_PIPE);
	CHECK_CONTAINS(rp_sim_board_host_error(b), "after Done");
	rp_sim_board_free(b);
	th_payload_free(&tp);
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
		struct rp_sim_timing t;
		rp_sim_timing_realistic(&t);
		CHECK(t.reenum_ms > 0 && t.erase_ms > 0 && t.write_ms > 0 && t.verify_ms > 0);
	}
}

/* A 2712 board: 2 MiB EEPROM and the extra metadata keys. */
static void test_model_2712(void)
{
	struct rp_sim_params p;
	struct rp_sim_board *b;
	uint8_t second[64] = { 1 };
	uint32_t cmd;
	char name[257];
	bool uuid = false;
	size_t len;

	rp_sim_params_default(&p, 3);
	p.pid = 0x2712;
	b = rp_sim_board_new(&p);
	CHECK(b != NULL);
	rp_sim_board_eeprom(b, &len);
	CHECK_EQ_INT(len, 2 * 1024 * 1024);
	boot_rom(b, second, sizeof(second));
	/* No files at all: refused, still reports metadata. */
	for (int i = 0; i < 40; i++) {
		CHECK_EQ_INT(request(b, &cmd, name), RP_OK);
		if (cmd == 2)
			break;
		if (!strncmp(name, "*FACTORY_UUID*", 14))
			uuid = true;
		if (!strncmp(name, "*EEPROM_UPDATE*", 15))
			CHECK_STR_EQ(name + 15, "missing-image");
		CHECK_EQ_INT(hdr(b, 0), RP_OK);
	}
	CHECK(uuid);
	CHECK_EQ_INT(rp_sim_board_outcome(b), RP_SIM_REFUSED);
	CHECK(rp_sim_board_host_error(b) == NULL);
	rp_sim_board_free(b);

	p.pid = 0x2763; /* no EEPROM to model */
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

/* The simulated bus shows what hardware shows: a boot ROM enumerates with
 * iSerialNumber 0 and no serial string; the second stage with its serial. */
static void test_source_serials(void)
{
	static const bool second_stage[2] = { false, true };
	struct rp_sim_source_opts so = { .n_boards = 2, .second_stage = second_stage };
	struct rp_source *src = NULL;
	struct rp_source_event ev;
	struct rp_sim_params p;
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
		rp_sim_params_default(&p, (unsigned)i + 1);
		if (i == 0) {
			CHECK_EQ_INT(ev.info.stage, RP_STAGE_ROM);
			CHECK_EQ_INT(ev.info.serial_index, 0);
			CHECK_STR_EQ(ev.info.serial, "");
		} else {
			CHECK_EQ_INT(ev.info.stage, RP_STAGE_SECOND);
			CHECK_EQ_INT(ev.info.serial_index, 5);
			CHECK_STR_EQ(ev.info.serial, p.serial);
		}
	}
	CHECK(seen[0] && seen[1]);
	src->ops->destroy(src);
}

int main(void)
{
	RUN(test_fault_specs());
	RUN(test_model_script());
	RUN(test_model_oracle());
	RUN(test_model_timing());
	RUN(test_model_2712());
	RUN(test_wire());
	RUN(test_source_serials());
	return test_result();
}
