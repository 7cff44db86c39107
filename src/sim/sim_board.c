/* The device side of the rpiboot protocol: a BCM2711/2712 boot ROM and
 * recovery.bin (boot ROM takes the second stage by bulk transfer; the
 * second stage asks for files by GetFileSize/ReadFile and reports by
 * metadata and Done messages). What it asks for comes from the script of
 * its firmware generation (sim_script.c), what it reports from the
 * metadata table (sim_metadata.c), how it writes from sim_eeprom.c. It
 * checks every host message as strictly as a test oracle should (a wrong
 * header, an extra byte or a reply out of turn stalls and is kept in
 * host_error). */
#include "sim/sim_board.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sim/sim_eeprom.h"
#include "sim/sim_metadata.h"
#include "sim/sim_script.h"
#include "sim/sim_second_stage.h"
#include "soc/soc.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/hex.h"

#define BOOT_MESSAGE_SIZE 24
#define REQUEST_SIZE 260
#define SECOND_STAGE_MAX (4u << 20)  /* what the ROM loads into its SRAM/L2, with margin */
#define FILE_MAX (16u << 20)         /* largest file recovery.bin is made to accept */
#define CONFIG_MAX (64u << 10)
#define USB_SERIAL_DIGITS RP_SIM_USB_SERIAL_LEN
#define FOREVER_MS (24u * 3600u * 1000u)
/* After Done (or the acknowledged empty name) the board leaves the bus
 * (F14: the host sees the device leave; F17: sessions end with the device
 * vanishing). rpiboot acknowledges every empty-named message with a
 * zero-length control OUT; the board leaves as soon as that arrives, and
 * after DONE_LEAVE_MS without one. ASSUMPTION: no log times how long
 * the device stays after Done; 500 ms leaves a host ample time to send
 * the acknowledgement. */
#define DONE_LEAVE_MS 500u

/* Reports a board with GARBAGE_METADATA sends before the real ones: every
 * one must be dropped by the host without ending the session. */
static const char *const garbage_reports[] = {
	"*BAD\x01KEY*value",
	"*KEY_WITH_DEL*val\x7fue",
	"*NO_SECOND_STAR",
	"**empty-key",
	"*KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK*key-too-long",
	"*NEWLINE*a\nb",
};
#define N_GARBAGE (sizeof(garbage_reports) / sizeof(garbage_reports[0]))

static const char *const hostile_names[] = { "../../etc/passwd", "/etc/shadow" };

/* recovery.bin config.txt options the model acts on (doc/hardware.md 2.4). */
enum config_flag { C_NO_METADATA, C_REBOOT, C_ERASE, C_PUBKEY };
static const struct {
	const char *line;
	enum config_flag flag;
} config_options[] = {
	{ "recovery_metadata=0", C_NO_METADATA },
	{ "recovery_reboot=1", C_REBOOT },
	{ "erase_eeprom=1", C_ERASE },
	{ "program_pubkey=1", C_PUBKEY },
};

enum rom_state {
	ROM_MSG_HEADER = 0, /* expects the control OUT header of the boot message */
	ROM_MSG_DATA,
	ROM_SS_HEADER,
	ROM_SS_DATA,
	ROM_RETURN_CODE,    /* second stage received; status read pending */
	ROM_STUCK,          /* status_stuck: the status read failed; the next header times out */
	ROM_JUMPED,         /* off to the second stage */
};

enum reply_kind {
	REPLY_NONE = 0,
	REPLY_SIZE,      /* GetFileSize: header only, size in wValue/wIndex */
	REPLY_FILE,      /* ReadFile: header with the length, then the bytes */
	REPLY_ACK,       /* metadata or the empty name: header with 0 */
	REPLY_HOSTILE,   /* a hostile name: the host must not serve it */
	REPLY_INVALID,   /* a malformed request: the host must give up, not answer */
};

struct rp_sim_board {
	struct rp_sim_params p;
	const struct rp_soc *soc;
	const struct rp_sim_script *script;   /* of the second stage running */
	const struct rp_sim_script *recovery; /* this chip's recovery.bin of the firmware date */
	size_t eeprom_size;
	uint32_t date;
	char usb_serial[USB_SERIAL_DIGITS + 1];

	enum rp_stage stage;
	bool attached;
	bool leaving;          /* decided to drop off: transfers fail until the host applies it */
	bool gone;             /* will never come back */
	bool change_pending;
	bool change_attach;
	uint64_t change_at;
	uint64_t ready_at;     /* busy until then (rp_now_ms) */
	bool stalled;
	bool silent;
	bool open_fail_pending;
	enum rp_sim_outcome outcome;
	char host_error[256];

	/* ROM */
	enum rom_state rom;
	uint8_t boot_msg[BOOT_MESSAGE_SIZE];
	size_t boot_msg_got;
	uint8_t *ss;
	size_t ss_len, ss_got;
	enum rp_sim_second_stage_kind ss_kind;
	bool ss_ran;           /* the ROM ran it (false: another chip's) */
	bool rom_again;        /* comes back as the ROM at the next attach */
	bool rom_again_fired;
	bool stuck_fired, stuck_header_seen;
	unsigned claim_failures;
	char duid[RP_SIM_DUID_LEN + 1];

	/* second stage */
	size_t step;           /* in script->steps */
	bool reading;          /* the FILE step's ReadFile comes next / is being answered */
	bool finished;         /* said Done */
	bool done_ack_open;    /* Done sent: a zero-length acknowledgement may come */
	bool step_seen[RP_SIM_STEP_COUNT]; /* a request of the step was sent */
	bool fault_fired;      /* one-shot faults (short transfer, bad command, odd name) */
	unsigned hostile_sent, garbage_sent;
	unsigned meta_next;    /* metadata table cursor */
	int meta_pending;      /* key being acknowledged, -1 for garbage */
	enum reply_kind awaiting;
	bool await_data;
	uint8_t *rx;
	size_t rx_len, rx_got;
	uint32_t announced;    /* the size the host gave for the current FILE step */
	bool config[sizeof(config_options) / sizeof(config_options[0])];
	bool sig_seen, sig_valid, sig_has_ts;
	char sig_hash[65];
	uint32_t sig_ts;
	uint8_t *image;
	size_t image_len;
	bool updated, erased;
	char hash_value[65];
	size_t sectors;
	unsigned reads;
	uint8_t *eeprom;       /* NULL until written or inspected: an erased EEPROM */
};

/* F20: with no ts in the .sig, recovery.bin writes the bootloader's own
 * build timestamp: the BUILD_TIMESTAMP=N of the image being written (every
 * pieeprom-*.bin carries one). ASSUMPTION: an image without one gets 0. */
static uint32_t image_build_timestamp(const uint8_t *img, size_t len)
{
	static const char key[] = "BUILD_TIMESTAMP=";
	const size_t n = sizeof(key) - 1;

	for (size_t i = 0; i + n < len; i++) {
		uint64_t v = 0;
		size_t k = i + n;
		if (img[i] != 'B' || memcmp(img + i, key, n) != 0)
			continue;
		while (k < len && img[k] >= '0' && img[k] <= '9' && v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(img[k++] - '0');
		if (k > i + n && v <= UINT32_MAX)
			return (uint32_t)v;
	}
	return 0;
}

void rp_sim_timing_realistic(struct rp_sim_timing *t)
{
	/* The default chip's figures; a board replaces them with its own
	 * chip's when it is created (see soc.c). */
	const struct rp_soc_timing *f = &rp_soc_default()->model_timing;

	t->stage1_ms = f->stage1_ms;
	t->reenum_ms = f->reenum_ms;
	t->erase_ms = f->erase_ms;
	t->write_ms = f->write_ms;
	t->verify_ms = f->verify_ms;
	t->realistic = true;
}

void rp_sim_params_default(struct rp_sim_params *p, unsigned n)
{
	memset(p, 0, sizeof(*p));
	p->pid = rp_soc_default()->pid;
	snprintf(p->serial, sizeof(p->serial), "10000000%08x", 0x5eed0000u + n);
	p->mac[0] = 0xdc;
	p->mac[1] = 0xa6;
	p->mac[2] = 0x32;
	p->mac[3] = (uint8_t)(n >> 16);
	p->mac[4] = (uint8_t)(n >> 8);
	p->mac[5] = (uint8_t)n;
	p->fault = RP_SIM_FAULT_NONE;
	p->fault_step = RP_SIM_STEP_STAGE1;
}

/* The USB serial string: the last 8 characters of the board serial, in
 * lowercase (F3: 8 lowercase hex digits, the low 32 bits). */
void rp_sim_usb_serial(const char *serial, char out[RP_SIM_USB_SERIAL_LEN + 1])
{
	size_t n = strlen(serial);
	const char *s = n > USB_SERIAL_DIGITS ? serial + n - USB_SERIAL_DIGITS : serial;
	size_t i = 0;
	for (; s[i]; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[i] = '\0';
}

struct rp_sim_board *rp_sim_board_new(const struct rp_sim_params *p)
{
	struct rp_sim_board *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->p = *p;
	b->p.serial[sizeof(b->p.serial) - 1] = '\0';
	if (!b->p.pid)
		b->p.pid = rp_soc_default()->pid;
	b->date = b->p.firmware_date ? b->p.firmware_date : RP_SIM_FIRMWARE_DEFAULT;
	b->soc = rp_soc_by_usb_id(RP_USB_VID_BROADCOM, b->p.pid);
	b->recovery = rp_sim_script_for(b->p.pid, b->date);
	b->script = b->recovery;
	if (!b->soc || !rp_soc_has_eeprom(b->soc) || !b->script) {
		free(b);
		return NULL;
	}
	if (b->p.timing.realistic) {
		const struct rp_soc_timing *f = &b->soc->model_timing;
		b->p.timing.stage1_ms = f->stage1_ms;
		b->p.timing.reenum_ms = f->reenum_ms;
		b->p.timing.erase_ms = f->erase_ms;
		b->p.timing.write_ms = f->write_ms;
		b->p.timing.verify_ms = f->verify_ms;
	}
	if (!b->p.slow_request_ms)
		b->p.slow_request_ms = RP_SIM_SLOW_REQUEST_MS;
	rp_sim_usb_serial(b->p.serial, b->usb_serial);
	rp_sim_factory_uuid((uint32_t)strtoul(b->usb_serial, NULL, 16), b->duid);
	b->ss_ran = p->second_stage;
	b->eeprom_size = b->soc->eeprom_size;
	b->stage = p->second_stage ? RP_STAGE_SECOND : RP_STAGE_ROM;
	b->attached = true;
	b->rom = p->second_stage ? ROM_JUMPED : ROM_MSG_HEADER;
	b->outcome = RP_SIM_RUNNING;
	return b;
}

void rp_sim_board_free(struct rp_sim_board *b)
{
	if (!b)
		return;
	free(b->ss);
	free(b->rx);
	free(b->image);
	free(b->eeprom);
	free(b);
}

enum rp_stage rp_sim_board_stage(const struct rp_sim_board *b)
{
	return b->stage;
}

uint16_t rp_sim_board_pid(const struct rp_sim_board *b)
{
	return b->p.pid;
}

uint8_t rp_sim_board_serial_index(const struct rp_sim_board *b)
{
	if (b->stage == RP_STAGE_ROM)
		return b->soc->rom_serial_index;
	return rp_soc_second_serial_index(b->soc, b->date);
}

const char *rp_sim_board_serial(const struct rp_sim_board *b)
{
	return b->usb_serial;
}

bool rp_sim_board_short_config(const struct rp_sim_board *b)
{
	return b->stage == RP_STAGE_ROM && b->soc->rom_short_config;
}

bool rp_sim_board_take_open_failure(struct rp_sim_board *b)
{
	bool f = b->open_fail_pending;
	b->open_fail_pending = false;
	return f;
}

uint32_t rp_sim_board_firmware_date(const struct rp_sim_board *b)
{
	return b->date;
}

bool rp_sim_board_attached(const struct rp_sim_board *b)
{
	return b->attached;
}

bool rp_sim_board_bus_change(const struct rp_sim_board *b, uint64_t *at_ms, bool *attach)
{
	if (!b->change_pending)
		return false;
	*at_ms = b->change_at;
	*attach = b->change_attach;
	return true;
}

static bool fault_at(const struct rp_sim_board *b, enum rp_sim_fault f, enum rp_sim_step s)
{
	return b->p.fault == f && b->p.fault_step == s;
}

void rp_sim_board_apply_bus_change(struct rp_sim_board *b)
{
	if (!b->change_pending)
		return;
	b->change_pending = false;
	if (!b->change_attach) {
		b->attached = false;
		b->leaving = false;
		if (b->gone) {
			if (b->outcome == RP_SIM_RUNNING)
				b->outcome = RP_SIM_GONE;
			return;
		}
		/* Off the bus: the second stage comes up reenum_ms later (C4: 2.6 s). */
		b->change_pending = true;
		b->change_attach = true;
		b->change_at = rp_now_ms() + b->p.timing.reenum_ms;
		return;
	}
	b->attached = true;
	if (b->rom_again) {
		/* Back as the boot ROM (rom_again; another chip's second stage,
		 * F22): it takes a whole new stage 1. */
		b->rom_again = false;
		b->stage = RP_STAGE_ROM;
		b->rom = ROM_MSG_HEADER;
		b->boot_msg_got = 0;
		return;
	}
	b->stage = RP_STAGE_SECOND;
	b->step = 0;
	b->reading = false;
	b->awaiting = REPLY_NONE;
	b->open_fail_pending = fault_at(b, RP_SIM_FAULT_OPEN_FAILS_ONCE, RP_SIM_STEP_REENUM);
	if (fault_at(b, RP_SIM_FAULT_SILENT, RP_SIM_STEP_REENUM))
		b->silent = true;
	if (fault_at(b, RP_SIM_FAULT_STALL, RP_SIM_STEP_REENUM))
		b->stalled = true;
}

void rp_sim_board_unplug(struct rp_sim_board *b)
{
	b->attached = false;
	b->leaving = false;
	b->gone = true;
	b->change_pending = false;
	if (b->outcome == RP_SIM_RUNNING)
		b->outcome = RP_SIM_GONE;
}

enum rp_sim_outcome rp_sim_board_outcome(const struct rp_sim_board *b)
{
	return b->outcome;
}

static uint8_t *materialise_eeprom(struct rp_sim_board *b)
{
	if (!b->eeprom) {
		b->eeprom = malloc(b->eeprom_size);
		if (b->eeprom)
			memset(b->eeprom, 0xff, b->eeprom_size);
	}
	return b->eeprom;
}

const uint8_t *rp_sim_board_eeprom(const struct rp_sim_board *b, size_t *len)
{
	/* Erased contents are materialised on first inspection only, so a
	 * tray of boards that are never looked at costs no EEPROM memory.
	 * The board is not shared across threads (see the header), so the
	 * lazy fill is safe. */
	struct rp_sim_board *mb = (struct rp_sim_board *)b;
	if (!materialise_eeprom(mb)) {
		*len = 0;
		return NULL;
	}
	*len = mb->eeprom_size;
	return mb->eeprom;
}

int rp_sim_board_set_eeprom(struct rp_sim_board *b, const uint8_t *data, size_t len)
{
	if (len > b->eeprom_size)
		return RP_ERR_TOO_LARGE;
	if (!materialise_eeprom(b))
		return RP_ERR_NOMEM;
	memcpy(b->eeprom, data, len);
	memset(b->eeprom + len, 0xff, b->eeprom_size - len);
	return RP_OK;
}

void rp_sim_board_flash_stats(const struct rp_sim_board *b, size_t *sectors, unsigned *reads)
{
	*sectors = b->sectors;
	*reads = b->reads;
}

const uint8_t *rp_sim_board_second_stage(const struct rp_sim_board *b, size_t *len)
{
	*len = b->ss ? b->ss_got : 0;
	return b->ss;
}

int rp_sim_board_second_stage_kind(const struct rp_sim_board *b, bool *ran)
{
	if (ran)
		*ran = b->ss_ran;
	return (int)b->ss_kind;
}

const char *rp_sim_board_factory_uuid(const struct rp_sim_board *b)
{
	return b->duid;
}

bool rp_sim_board_take_claim_failure(struct rp_sim_board *b)
{
	if (b->p.fault != RP_SIM_FAULT_CLAIM_FAILS || b->claim_failures >= 2)
		return false;
	b->claim_failures++;
	return true;
}

const char *rp_sim_board_host_error(const struct rp_sim_board *b)
{
	return b->host_error[0] ? b->host_error : NULL;
}

/* The host broke the protocol: remember the first violation and stall. */
static int host_violation(struct rp_sim_board *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int host_violation(struct rp_sim_board *b, const char *fmt, ...)
{
	if (!b->host_error[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->host_error, sizeof(b->host_error), fmt, ap);
		va_end(ap);
	}
	return RP_ERR_PIPE;
}

/* Leave the bus for good: the host sees NO_DEVICE now and LEFT when it
 * applies the change. */
static int leave(struct rp_sim_board *b)
{
	b->leaving = true;
	b->gone = true;
	b->change_pending = true;
	b->change_attach = false;
	b->change_at = rp_now_ms();
	return RP_ERR_NO_DEVICE;
}

/* Leave the bus for good in `ms` (0: as soon as the host looks). */
static void leave_after(struct rp_sim_board *b, unsigned ms)
{
	b->gone = true;
	b->change_pending = true;
	b->change_attach = false;
	b->change_at = rp_now_ms() + ms;
}

/* Reboot off the bus once busy work is done (a .upd flash, C6/C27): no
 * further request before that, then gone. */
static void leave_when_ready(struct rp_sim_board *b)
{
	uint64_t now = rp_now_ms();
	if (b->ready_at <= now) {
		leave(b);
		return;
	}
	b->gone = true;
	b->silent = true;
	b->change_pending = true;
	b->change_attach = false;
	b->change_at = b->ready_at;
}

/* Common gate for every transfer: presence, stall, silence, busy time. */
static int gate(struct rp_sim_board *b, unsigned *ready_in_ms)
{
	uint64_t now;
	*ready_in_ms = 0;
	if (!b->attached || b->leaving)
		return RP_ERR_NO_DEVICE;
	if (b->change_pending && !b->change_attach && b->change_at <= rp_now_ms())
		return RP_ERR_NO_DEVICE; /* gone; the host has not applied it yet */
	if (b->stalled)
		return RP_ERR_PIPE;
	if (b->silent) {
		*ready_in_ms = FOREVER_MS;
		return RP_ERR_AGAIN;
	}
	now = rp_now_ms();
	if (b->ready_at > now) {
		uint64_t wait = b->ready_at - now;
		*ready_in_ms = wait > FOREVER_MS ? FOREVER_MS : (unsigned)wait;
		return RP_ERR_AGAIN;
	}
	return RP_OK;
}

/* A step-based fault that stops the transfer here (leave, stall,
 * silence), or RP_OK. */
static int step_fault(struct rp_sim_board *b, enum rp_sim_step s, unsigned *ready_in_ms)
{
	if (b->p.fault_step != s)
		return RP_OK;
	switch (b->p.fault) {
	case RP_SIM_FAULT_LEAVE:
		return leave(b);
	case RP_SIM_FAULT_STALL:
		b->stalled = true;
		return RP_ERR_PIPE;
	case RP_SIM_FAULT_SILENT:
		b->silent = true;
		*ready_in_ms = FOREVER_MS;
		return RP_ERR_AGAIN;
	default:
		return RP_OK;
	}
}

/* The model hashes with EVP itself rather than the image library's
 * rp_sha256_hex: as a test oracle of the host it must not share the code
 * whose result it checks. */
static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	out[0] = '\0';
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return;
	rp_hex_encode(md, sizeof(md), out);
}

/* ---- boot ROM ---- */

/* The ROM jumps to the second stage and drops off the bus (F8); with
 * leave@reenum it never comes back (C22, F22). */
static void jump(struct rp_sim_board *b)
{
	b->rom = ROM_JUMPED;
	b->leaving = true;
	b->change_pending = true;
	b->change_attach = false;
	b->change_at = rp_now_ms();
	if (fault_at(b, RP_SIM_FAULT_LEAVE, RP_SIM_STEP_REENUM))
		b->gone = true;
}

/* What the ROM does with the second stage it received: its own chip's
 * recovery.bin (or bytes that are recognisably nothing else: the stand-ins
 * tests send) runs the flash script of the firmware date; usbboot's
 * bootsys/bootcode runs its own request chain (F14, F15); another chip's
 * second stage does not run. F22 (a 2712 ROM silently rejecting a
 * bootcode it will not run: the status still reads 0, no second stage
 * appears, the device is found again as the ROM, C17) is the nearest
 * evidence; the model then comes back as the ROM, which takes a new stage
 * 1 (ASSUMPTION: C17's ROM timed out every later header, but that board
 * kept being sent the same rejected image). */
static void choose_script(struct rp_sim_board *b)
{
	const char *soc = NULL;
	const struct rp_sim_script *chain = NULL;

	b->ss_kind = rp_sim_second_stage_kind(b->ss, b->ss_len, &soc);
	b->ss_ran = !soc || !strcmp(soc, b->soc->soc);
	if (b->ss_ran && (b->ss_kind == RP_SIM_SS_BOOTSYS || b->ss_kind == RP_SIM_SS_BOOTCODE)) {
		chain = rp_sim_script_chain((int)b->ss_kind, b->p.pid);
		b->ss_ran = chain != NULL;
	}
	b->script = chain ? chain : b->recovery;
	if (!b->ss_ran)
		b->rom_again = true;
}

static int rom_control_out(struct rp_sim_board *b, uint32_t len, unsigned *ready_in_ms)
{
	if (b->rom == ROM_STUCK) {
		/* status_stuck (C13): the first header after the failed status
		 * read is never answered (the host times out, "Failed control
		 * transfer (-7,24)"); the one after that starts a new stage 1.
		 * ASSUMPTION: one timeout, then the ROM listens again. */
		if (!b->stuck_header_seen) {
			b->stuck_header_seen = true;
			*ready_in_ms = FOREVER_MS;
			return RP_ERR_AGAIN;
		}
		b->rom = ROM_MSG_HEADER;
	}
	switch (b->rom) {
	case ROM_MSG_HEADER:
		if (len != BOOT_MESSAGE_SIZE)
			return host_violation(b, "boot ROM expected a %d-byte boot message, header says %u",
					      BOOT_MESSAGE_SIZE, len);
		b->rom = ROM_MSG_DATA;
		b->boot_msg_got = 0;
		return RP_OK;
	case ROM_SS_HEADER:
		if (len != b->ss_len)
			return host_violation(b, "second stage header says %u bytes, boot message said %zu",
					      len, b->ss_len);
		free(b->ss);
		b->ss = malloc(b->ss_len);
		if (!b->ss)
			return RP_ERR_NOMEM;
		b->ss_got = 0;
		b->rom = ROM_SS_DATA;
		return RP_OK;
	default:
		return host_violation(b, "unexpected control OUT (length %u) in boot ROM state %d", len,
				      (int)b->rom);
	}
}

static int rom_bulk_out(struct rp_sim_board *b, const uint8_t *data, size_t len, size_t *accepted,
			unsigned *ready_in_ms)
{
	int r;
	if (b->rom == ROM_MSG_DATA) {
		if (len > BOOT_MESSAGE_SIZE - b->boot_msg_got)
			return host_violation(b, "boot message longer than %d bytes", BOOT_MESSAGE_SIZE);
		memcpy(b->boot_msg + b->boot_msg_got, data, len);
		b->boot_msg_got += len;
		*accepted = len;
		if (b->boot_msg_got == BOOT_MESSAGE_SIZE) {
			uint32_t ss_len = rp_get_le32(b->boot_msg);
			for (unsigned i = 4; i < BOOT_MESSAGE_SIZE; i++)
				if (b->boot_msg[i])
					return host_violation(b, "boot message signature not zero (unsigned boot)");
			if (ss_len == 0 || ss_len > SECOND_STAGE_MAX)
				return host_violation(b, "boot message announces a %u-byte second stage", ss_len);
			b->ss_len = ss_len;
			b->rom = ROM_SS_HEADER;
		}
		return RP_OK;
	}
	if (b->rom != ROM_SS_DATA)
		return host_violation(b, "unexpected bulk OUT of %zu bytes in boot ROM state %d", len,
				      (int)b->rom);
	r = step_fault(b, RP_SIM_STEP_STAGE1, ready_in_ms);
	if (r != RP_OK)
		return r;
	if (len > b->ss_len - b->ss_got)
		return host_violation(b, "host sent %zu bytes of second stage, only %zu outstanding", len,
				      b->ss_len - b->ss_got);
	if (fault_at(b, RP_SIM_FAULT_SHORT, RP_SIM_STEP_STAGE1) && !b->fault_fired && len > 1) {
		b->fault_fired = true;
		len /= 2;
		memcpy(b->ss + b->ss_got, data, len);
		b->ss_got += len;
		*accepted = len;
		return RP_ERR_SHORT;
	}
	memcpy(b->ss + b->ss_got, data, len);
	b->ss_got += len;
	*accepted = len;
	if (b->ss_got == b->ss_len) {
		b->rom = ROM_RETURN_CODE;
		b->ready_at = rp_now_ms() + b->p.timing.stage1_ms;
		choose_script(b);
		if (fault_at(b, RP_SIM_FAULT_STATUS_READ_FAILS, RP_SIM_STEP_STAGE1))
			jump(b); /* F7: already reset when the host reads the status */
	}
	return RP_OK;
}

static int rom_control_in(struct rp_sim_board *b, uint8_t *buf, size_t len, size_t *actual)
{
	if (b->rom == ROM_RETURN_CODE && len == 4 &&
	    fault_at(b, RP_SIM_FAULT_STATUS_STUCK, RP_SIM_STEP_STAGE1) && !b->stuck_fired) {
		/* C13 "Failed : 0x0": the status read fails and the ROM does
		 * not jump; it stays on the bus, stuck (see rom_control_out). */
		b->stuck_fired = true;
		b->rom = ROM_STUCK;
		return RP_ERR_IO;
	}
	if (b->rom != ROM_RETURN_CODE)
		return host_violation(b, "control IN of %zu bytes in boot ROM state %d", len,
				      (int)b->rom);
	if (len != 4)
		return host_violation(b, "return code read of %zu bytes, expected 4", len);
	/* Only 0 is evidenced; no log shows a non-zero ROM status (F7,
	 * open question 3), so the model has none. */
	rp_put_le32(buf, 0);
	*actual = 4;
	if (fault_at(b, RP_SIM_FAULT_ROM_AGAIN, RP_SIM_STEP_STAGE1) && !b->rom_again_fired) {
		b->rom_again_fired = true; /* C16, C17: found again as the ROM */
		b->rom_again = true;
	}
	jump(b);
	return RP_OK;
}

/* ---- second stage (recovery.bin) ---- */

static const struct rp_sim_script_step *cur(const struct rp_sim_board *b)
{
	return &b->script->steps[b->step];
}

static bool config_set(const struct rp_sim_board *b, enum config_flag f)
{
	for (size_t i = 0; i < sizeof(config_options) / sizeof(config_options[0]); i++)
		if (config_options[i].flag == f && b->config[i])
			return true;
	return false;
}

static void parse_config(struct rp_sim_board *b, const uint8_t *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		for (size_t k = 0; k < sizeof(config_options) / sizeof(config_options[0]); k++) {
			size_t n = strlen(config_options[k].line);
			if (e - i >= n && !memcmp(text + i, config_options[k].line, n))
				b->config[k] = true;
		}
		i = e + 1;
	}
}

/* pieeprom.sig: the sha256 on the first line, "ts: N" on another (the rpi-eeprom-digest format). */
static void parse_sig(struct rp_sim_board *b, const uint8_t *t, size_t len)
{
	size_t n = 0, i;

	b->sig_seen = true;
	while (n < len && t[n] != '\n' && t[n] != '\r')
		n++;
	b->sig_valid = n == 64;
	for (i = 0; i < 64 && b->sig_valid; i++) {
		char ch = (char)t[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		b->sig_valid = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
		b->sig_hash[i] = ch;
	}
	b->sig_hash[64] = '\0';
	for (i = 0; i + 4 < len; i++) {
		if ((i == 0 || t[i - 1] == '\n') && !memcmp(t + i, "ts: ", 4)) {
			uint64_t v = 0;
			size_t k = i + 4;
			while (k < len && t[k] >= '0' && t[k] <= '9' && v <= UINT32_MAX)
				v = v * 10 + (uint64_t)(t[k++] - '0');
			if (k > i + 4 && v <= UINT32_MAX) {
				b->sig_ts = (uint32_t)v;
				b->sig_has_ts = true;
			}
		}
	}
	if (fault_at(b, RP_SIM_FAULT_BAD_SIG, RP_SIM_STEP_SIG))
		b->sig_valid = false;
}

/* FATAL (C15: an empty .sig aborted with an error code and a blink code,
 * never reached the next stage): no metadata, no further request. */
static void fatal(struct rp_sim_board *b, enum rp_sim_outcome o)
{
	b->outcome = o;
	b->silent = true;
}

static unsigned share(unsigned total_ms, size_t sectors, size_t all)
{
	return all ? (unsigned)((uint64_t)total_ms * sectors / all) : 0;
}

/* The flash point of the script: check, then write or erase. The SPI time
 * is paid before the board speaks again (its next request). */
static void flash(struct rp_sim_board *b, bool reboot)
{
	const struct rp_sim_timing *t = &b->p.timing;
	size_t all = b->eeprom_size / RP_SIM_SECTOR_SIZE;
	uint64_t now = rp_now_ms();
	char digest[65] = "";
	uint32_t ts;

	if (!materialise_eeprom(b)) {
		fatal(b, RP_SIM_WRITE_FAILED);
		return;
	}
	if (config_set(b, C_ERASE)) {
		/* erase_eeprom=1 erases instead of writing. */
		b->reads = 1;
		b->sectors = rp_sim_eeprom_erase(b->eeprom, b->eeprom_size);
		b->erased = true;
		b->outcome = RP_SIM_ERASED;
		b->ready_at = now + t->verify_ms + share(t->erase_ms, b->sectors, all);
		sha256_hex(b->eeprom, b->eeprom_size, b->hash_value);
		return;
	}
	if (!b->image) {
		/* Nothing to write (pieeprom.bin missing, or no .upd: C6). */
		b->outcome = RP_SIM_NOT_UPDATED;
		sha256_hex(b->eeprom, b->eeprom_size, b->hash_value);
		return;
	}
	/* A bad or missing pieeprom.sig or a digest mismatch is fatal
	 * (C15; timg236 rpi-eeprom#636); so is an image larger than the
	 * EEPROM (no graceful report exists for either). */
	sha256_hex(b->image, b->image_len, digest);
	if (!b->sig_seen || !b->sig_valid || strcmp(digest, b->sig_hash) != 0 ||
	    b->image_len > b->eeprom_size) {
		fatal(b, RP_SIM_REFUSED);
		return;
	}
	if (fault_at(b, RP_SIM_FAULT_WRITE_PROTECTED, RP_SIM_STEP_IMAGE)) {
		/* C25/C26/C28: read, first sector erase fails, retry with a
		 * chip erase, which fails too; gives up without metadata (C9:
		 * the metadata file stayed empty). The EEPROM is unchanged. */
		b->reads = 1;
		b->ready_at = now + t->verify_ms + share(t->erase_ms, 1, all);
		fatal(b, RP_SIM_WRITE_FAILED);
		return;
	}
	/* F20: the update timestamp from the .sig (else the bootloader
	 * image's own BUILD_TIMESTAMP) goes into the image where
	 * rpi-eeprom-config keeps it, before the sectors are compared. */
	ts = b->sig_has_ts ? b->sig_ts : image_build_timestamp(b->image, b->image_len);
	rp_sim_eeprom_stamp(b->image, b->image_len, b->soc->ab_ro_size, b->soc->ab_part_size, ts);
	/* F18: read, rewrite only the sectors that differ, read back to
	 * verify. With none differing recovery.bin prints "Bootloader
	 * EEPROM is up to date" instead of "BOOT-EEPROM: UPDATED" (both
	 * strings are in the 2711 and 2712 binaries; rpi-eeprom#64: a rerun
	 * shows only '.'); EEPROM_UPDATE is then "success" all the same:
	 * the binaries hold no other value for it than the success/fail
	 * pair, and being up to date is not a failure (ASSUMPTION: no log
	 * shows the metadata of such a run). */
	b->reads = 2;
	b->sectors = rp_sim_eeprom_write(b->eeprom, b->eeprom_size, b->image, b->image_len);
	b->updated = true;
	b->outcome = RP_SIM_UPDATED;
	b->ready_at = now + 2ull * t->verify_ms + share(t->erase_ms, b->sectors, all) +
		      share(t->write_ms, b->sectors, all);
	if (fault_at(b, RP_SIM_FAULT_SLOW_REQUEST, RP_SIM_STEP_IMAGE) &&
	    b->ready_at < now + b->p.slow_request_ms)
		b->ready_at = now + b->p.slow_request_ms;
	/* EEPROM_HASH: sha256 of the whole EEPROM after the write. What the
	 * real value covers is open question 1 (file, read-back flash with
	 * the timestamp, or only the rewritten part). */
	sha256_hex(b->eeprom, b->eeprom_size, b->hash_value);
	free(b->image);
	b->image = NULL;
	if (reboot)
		leave_when_ready(b); /* .upd: update then reboot */
}

/* Move past steps that need no request: the flash, metadata when none is
 * due. Stops at a step that asks something, or when the board stopped. */
static void settle(struct rp_sim_board *b)
{
	for (;;) {
		const struct rp_sim_script_step *s = cur(b);
		if (s->ask == RP_SIM_ASK_FLASH || s->ask == RP_SIM_ASK_FLASH_REBOOT) {
			flash(b, s->ask == RP_SIM_ASK_FLASH_REBOOT);
			b->step++;
			if (b->silent || b->gone)
				return;
			continue;
		}
		return;
	}
}

static void advance(struct rp_sim_board *b)
{
	b->reading = false;
	b->step++;
	settle(b);
}

/* The next metadata report, or false when all were sent. */
static bool next_metadata(struct rp_sim_board *b, char *name, size_t size)
{
	struct rp_sim_meta_values v = {
		.mac = b->p.mac,
		.boot_rom = b->soc->model_boot_rom,
		.board_rev = b->soc->model_board_rev,
		.user_serial = (uint32_t)strtoul(b->usb_serial, NULL, 16),
		.factory_uuid = b->duid,
		.updated = b->updated,
		.erased = b->erased,
		.provisioned = config_set(b, C_PUBKEY),
		.erase_asked = config_set(b, C_ERASE),
		.provision_asked = config_set(b, C_PUBKEY),
		.eeprom_hash = b->hash_value,
	};
	int k;
	if (b->p.fault == RP_SIM_FAULT_GARBAGE_METADATA && b->garbage_sent < N_GARBAGE) {
		snprintf(name, size, "%s", garbage_reports[b->garbage_sent]);
		b->meta_pending = -1;
		return true;
	}
	if (config_set(b, C_NO_METADATA))
		return false; /* recovery_metadata=0 (2.3) */
	k = rp_sim_metadata_next(b->p.pid, b->date, b->meta_next, &v);
	if (k < 0)
		return false;
	rp_sim_metadata_format(b->p.pid, (unsigned)k, &v, name, size);
	b->meta_pending = k;
	return true;
}

/* A fault of the hostile kind at the first request of a step: the
 * request to send instead, or false. */
static bool hostile_request(struct rp_sim_board *b, uint8_t *buf, uint32_t cmd)
{
	switch (b->p.fault) {
	case RP_SIM_FAULT_HOSTILE_NAME:
		if (b->hostile_sent >= 2)
			return false;
		rp_put_le32(buf, 0);
		memcpy(buf + 4, hostile_names[b->hostile_sent], strlen(hostile_names[b->hostile_sent]));
		b->hostile_sent++;
		b->awaiting = REPLY_HOSTILE;
		return true;
	case RP_SIM_FAULT_BAD_COMMAND:
		b->fault_fired = true;
		rp_put_le32(buf, 7);
		memcpy(buf + 4, "config.txt", 10);
		b->awaiting = REPLY_INVALID;
		return true;
	case RP_SIM_FAULT_UNTERMINATED_NAME:
		b->fault_fired = true;
		rp_put_le32(buf, cmd);
		memset(buf + 4, 'A', REQUEST_SIZE - 4);
		b->awaiting = REPLY_INVALID;
		return true;
	default:
		return false;
	}
}

static int s2_control_in(struct rp_sim_board *b, uint8_t *buf, size_t len, size_t *actual,
			 unsigned *ready_in_ms)
{
	const struct rp_sim_script_step *s;
	char name[REQUEST_SIZE] = "";
	uint32_t cmd = 0;
	size_t nlen;
	int r;

	if (len != REQUEST_SIZE)
		return host_violation(b, "request read of %zu bytes, expected %d", len, REQUEST_SIZE);
	if (b->awaiting == REPLY_INVALID)
		return host_violation(b, "host went on after a malformed request");
	if (b->awaiting != REPLY_NONE || b->await_data)
		return host_violation(b, "host read a new request before answering the last one");
	if (b->finished)
		return host_violation(b, "host read a request after Done");
	s = cur(b);

	/* The first request of a step: where step faults fire. The image's
	 * wire trouble (leave, stall, silence) is in its bulk data instead. */
	if (s->fault_step < RP_SIM_STEP_COUNT && !b->step_seen[s->fault_step]) {
		enum rp_sim_step fs = s->fault_step;
		b->step_seen[fs] = true;
		if (fs == b->p.fault_step && fs != RP_SIM_STEP_IMAGE) {
			r = step_fault(b, fs, ready_in_ms);
			if (r != RP_OK)
				return r;
		}
		if (fs == b->p.fault_step && !b->fault_fired) {
			memset(buf, 0, REQUEST_SIZE);
			*actual = REQUEST_SIZE;
			if (hostile_request(b, buf, s->ask == RP_SIM_ASK_FILE && b->reading ? 1 : 0)) {
				if (b->awaiting == REPLY_HOSTILE)
					b->step_seen[fs] = false; /* both hostile names at this step */
				return RP_OK;
			}
		}
	}

	switch (s->ask) {
	case RP_SIM_ASK_FILE:
	case RP_SIM_ASK_FILE_OR_HANG:
		cmd = b->reading ? 1 : 0;
		snprintf(name, sizeof(name), "%s", s->name);
		b->awaiting = b->reading ? REPLY_FILE : REPLY_SIZE;
		break;
	case RP_SIM_ASK_SIZE:
		snprintf(name, sizeof(name), "%s", s->name);
		b->awaiting = REPLY_SIZE;
		break;
	case RP_SIM_ASK_METADATA:
		if (next_metadata(b, name, sizeof(name))) {
			b->awaiting = REPLY_ACK;
			break;
		}
		/* All reported. recovery_reboot=1 disconnects right here,
		 * without Done (2.4; usbboot#224). */
		if (config_set(b, C_REBOOT) ||
		    fault_at(b, RP_SIM_FAULT_VANISH_AFTER_METADATA, RP_SIM_STEP_METADATA))
			return leave(b);
		advance(b);
		return s2_control_in(b, buf, len, actual, ready_in_ms);
	case RP_SIM_ASK_DONE:
		if (fault_at(b, RP_SIM_FAULT_EMPTY_NAME_DONE, RP_SIM_STEP_METADATA)) {
			/* F17: an empty name also means done; rpiboot acks it. */
			b->awaiting = REPLY_ACK;
			b->meta_pending = -2;
			break;
		}
		cmd = 2;
		b->finished = true;
		b->done_ack_open = true;
		leave_after(b, DONE_LEAVE_MS);
		break;
	case RP_SIM_ASK_LEAVE:
		/* Boots what it loaded: gone without Done (F14, C20). */
		if (b->outcome == RP_SIM_RUNNING)
			b->outcome = RP_SIM_BOOTED;
		return leave(b);
	default:
		return host_violation(b, "model script error at step %zu", b->step);
	}
	memset(buf, 0, REQUEST_SIZE);
	*actual = REQUEST_SIZE;
	rp_put_le32(buf, cmd);
	nlen = strlen(name);
	memcpy(buf + 4, name, nlen < REQUEST_SIZE - 5 ? nlen : REQUEST_SIZE - 5);
	return RP_OK;
}

/* A file's bytes arrived: what the board does with them. */
static void file_received(struct rp_sim_board *b)
{
	switch (cur(b)->role) {
	case RP_SIM_ROLE_CONFIG:
		parse_config(b, b->rx, b->rx_len);
		break;
	case RP_SIM_ROLE_SIG:
		parse_sig(b, b->rx, b->rx_len);
		break;
	case RP_SIM_ROLE_IMAGE:
		free(b->image);
		b->image = b->rx;
		b->image_len = b->rx_len;
		b->rx = NULL;
		break;
	default:
		break;
	}
	free(b->rx);
	b->rx = NULL;
}

static int s2_control_out(struct rp_sim_board *b, uint32_t size)
{
	const struct rp_sim_script_step *s = cur(b);

	if (b->await_data)
		return host_violation(b, "control OUT while %s data was still expected", s->name);
	if (b->finished && b->awaiting == REPLY_NONE) {
		/* rpiboot answers Done like every empty-named message, with a
		 * zero-length write (F17): the board takes it and
		 * leaves at once. */
		if (!b->done_ack_open)
			return host_violation(b, "control OUT (size %u) after Done", size);
		b->done_ack_open = false;
		if (size)
			return host_violation(b, "Done answered with size %u, expected 0", size);
		leave_after(b, 0);
		return RP_OK;
	}
	switch (b->awaiting) {
	case REPLY_NONE:
		return host_violation(b, "control OUT (size %u) with no request outstanding", size);
	case REPLY_INVALID:
		return host_violation(b, "host answered a malformed request");
	case REPLY_HOSTILE:
		b->awaiting = REPLY_NONE;
		if (size)
			return host_violation(b, "host answered %u bytes for a hostile file name", size);
		return RP_OK;
	case REPLY_ACK:
		b->awaiting = REPLY_NONE;
		if (b->meta_pending == -2) {
			b->finished = true; /* the empty name, acknowledged: gone */
			leave_after(b, 0);
		}
		else if (b->meta_pending == -1)
			b->garbage_sent++;
		else
			b->meta_next = (unsigned)b->meta_pending + 1;
		if (size)
			return host_violation(b, "metadata acknowledged with size %u, expected 0", size);
		return RP_OK;
	case REPLY_SIZE:
		b->awaiting = REPLY_NONE;
		if ((s->ask == RP_SIM_ASK_FILE || s->ask == RP_SIM_ASK_FILE_OR_HANG) && size) {
			/* ReadFile of the same name comes next (F11). */
			b->reading = true;
			b->announced = size;
			return RP_OK;
		}
		if (s->ask == RP_SIM_ASK_FILE_OR_HANG) {
			/* C19: "Cannot open file mcb.bin", then nothing more. */
			b->silent = true;
			return RP_OK;
		}
		advance(b); /* missing (size 0), or a size query only */
		return RP_OK;
	case REPLY_FILE:
		break;
	}
	if (size == 0) {
		/* The file went missing between size and read. */
		b->awaiting = REPLY_NONE;
		advance(b);
		return RP_OK;
	}
	if (size != b->announced)
		return host_violation(b, "ReadFile %s: %u bytes sent, GetFileSize said %u", s->name,
				      size, b->announced);
	if ((s->role == RP_SIM_ROLE_CONFIG && size > CONFIG_MAX) || size > FILE_MAX)
		return host_violation(b, "%s of %u bytes is more than recovery.bin accepts", s->name,
				      size);
	free(b->rx);
	b->rx = malloc(size);
	if (!b->rx)
		return RP_ERR_NOMEM;
	b->rx_len = size;
	b->rx_got = 0;
	b->await_data = true;
	return RP_OK;
}

static int s2_bulk_out(struct rp_sim_board *b, const uint8_t *data, size_t len, size_t *accepted,
		       unsigned *ready_in_ms)
{
	const struct rp_sim_script_step *s = cur(b);
	int r;

	if (!b->await_data)
		return host_violation(b, "unexpected bulk OUT of %zu bytes", len);
	if (s->fault_step == RP_SIM_STEP_IMAGE && s->role == RP_SIM_ROLE_IMAGE) {
		r = step_fault(b, RP_SIM_STEP_IMAGE, ready_in_ms);
		if (r != RP_OK)
			return r;
	}
	if (len > b->rx_len - b->rx_got)
		return host_violation(b, "host sent %zu bytes of %s, only %zu outstanding", len, s->name,
				      b->rx_len - b->rx_got);
	if (s->fault_step < RP_SIM_STEP_COUNT && fault_at(b, RP_SIM_FAULT_SHORT, s->fault_step) &&
	    !b->fault_fired && len > 1) {
		b->fault_fired = true;
		len /= 2;
		memcpy(b->rx + b->rx_got, data, len);
		b->rx_got += len;
		*accepted = len;
		return RP_ERR_SHORT;
	}
	memcpy(b->rx + b->rx_got, data, len);
	b->rx_got += len;
	*accepted = len;
	if (b->rx_got == b->rx_len) {
		b->await_data = false;
		b->awaiting = REPLY_NONE;
		file_received(b);
		advance(b);
	}
	return RP_OK;
}

/* ---- entry points ---- */

int rp_sim_board_control_out(struct rp_sim_board *b, uint8_t request, uint16_t value,
			     uint16_t index, const void *data, size_t len, unsigned *ready_in_ms)
{
	uint32_t size = (uint32_t)value | ((uint32_t)index << 16);
	int r = gate(b, ready_in_ms);
	if (r != RP_OK)
		return r;
	if (request != 0)
		return host_violation(b, "control OUT with bRequest %u, expected 0", request);
	if (len || data)
		return host_violation(b, "control OUT with a %zu-byte data stage: rpiboot headers have none",
				      len);
	if (b->stage == RP_STAGE_ROM)
		return rom_control_out(b, size, ready_in_ms);
	return s2_control_out(b, size);
}

int rp_sim_board_control_in(struct rp_sim_board *b, uint8_t request, uint16_t value,
			    uint16_t index, void *buf, size_t len, size_t *actual,
			    unsigned *ready_in_ms)
{
	uint32_t size = (uint32_t)value | ((uint32_t)index << 16);
	int r;
	*actual = 0;
	r = gate(b, ready_in_ms);
	if (r != RP_OK)
		return r;
	if (request != 0)
		return host_violation(b, "control IN with bRequest %u, expected 0", request);
	if (size != len)
		return host_violation(b, "control IN: wValue/wIndex say %u bytes, buffer is %zu", size,
				      len);
	if (b->stage == RP_STAGE_ROM)
		return rom_control_in(b, buf, len, actual);
	return s2_control_in(b, buf, len, actual, ready_in_ms);
}

int rp_sim_board_bulk_out(struct rp_sim_board *b, const void *data, size_t len, size_t *accepted,
			  unsigned *ready_in_ms)
{
	int r;
	*accepted = 0;
	r = gate(b, ready_in_ms);
	if (r != RP_OK)
		return r;
	if (!len)
		return RP_OK;
	if (!data)
		return host_violation(b, "bulk OUT of %zu bytes without data", len);
	if (b->stage == RP_STAGE_ROM)
		return rom_bulk_out(b, data, len, accepted, ready_in_ms);
	return s2_bulk_out(b, data, len, accepted, ready_in_ms);
}
