/* The device side of the rpiboot protocol: a BCM2711/2712 boot ROM and
 * recovery.bin (boot ROM takes the second stage by bulk transfer; the
 * second stage asks for files by GetFileSize/ReadFile and reports by
 * metadata and Done messages). It checks every
 * host message as strictly as a test oracle should (a wrong header, an
 * extra byte or a reply out of turn stalls and is kept in host_error). */
#include "sim/sim_board.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "soc/soc.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/hex.h"

#define BOOT_MESSAGE_SIZE 24
#define REQUEST_SIZE 260
#define SECOND_STAGE_MAX (4u << 20)  /* what the ROM loads into its SRAM/L2, with margin */
#define FILE_MAX (16u << 20)         /* largest file recovery.bin is made to accept */
#define CONFIG_MAX (64u << 10)
#define SERIAL_INDEX_ROM 0
#define SERIAL_INDEX_SECOND 5
#define FOREVER_MS (24u * 3600u * 1000u)
#define ROM_ERROR_CODE 0x8000001d     /* any non-zero value: the ROM's code for a bad image */

/* What recovery.bin asks for, in the order a CM4 log shows. */
enum script_step {
	Q_CONFIG_SIZE = 0,
	Q_CONFIG_READ,
	Q_IMAGE_SIZE,
	Q_SIG_SIZE,
	Q_SIG_READ,
	Q_IMAGE_READ,
	Q_METADATA,
	Q_DONE,
	Q_FINISHED,
};

/* Where a fault of a step fires: `first` marks the first request of the
 * step (bad command, odd names; and leave/stall/silence when `wire_faults`
 * says the step's trouble is at the request rather than in the bulk data:
 * "leave@image" leaves during the pieeprom.bin read). */
struct script_entry {
	uint32_t cmd;
	const char *name;
	enum rp_sim_step step;
	bool first;
	bool wire_faults;
};

static const struct script_entry script[] = {
	[Q_CONFIG_SIZE] = { 0, "config.txt", RP_SIM_STEP_CONFIG, true, true },
	[Q_CONFIG_READ] = { 1, "config.txt", RP_SIM_STEP_CONFIG, false, false },
	[Q_IMAGE_SIZE] = { 0, "pieeprom.bin", RP_SIM_STEP_IMAGE, true, false },
	[Q_SIG_SIZE] = { 0, "pieeprom.sig", RP_SIM_STEP_SIG, true, true },
	[Q_SIG_READ] = { 1, "pieeprom.sig", RP_SIM_STEP_SIG, false, false },
	[Q_IMAGE_READ] = { 1, "pieeprom.bin", RP_SIM_STEP_IMAGE, false, false },
	[Q_METADATA] = { 0, NULL, RP_SIM_STEP_METADATA, true, true },
	[Q_DONE] = { 2, "", RP_SIM_STEP_METADATA, false, false },
};

/* Metadata keys in the order recovery.bin reports them; the `extra`
 * ones only on chips whose SoC table row has extra_metadata (2712). */
enum meta_source {
	M_MAC, M_BOOT_ROM, M_ZERO, M_ERASE, M_UPDATE, M_HASH, M_BOARDREV, M_SERIAL,
	M_KEY_HASH, M_UUID, M_MAC_BT, M_MAC_WIFI,
};
struct meta_key {
	const char *key;
	enum meta_source src;
	bool extra;
};
static const struct meta_key meta_keys[] = {
	{ "MAC_ADDR", M_MAC, false },
	{ "BOOT_ROM", M_BOOT_ROM, false },
	{ "JTAG_LOCKED", M_ZERO, false },
	{ "EEPROM_ERASE", M_ERASE, false },
	{ "BOARD_ATTR", M_ZERO, false },
	{ "EEPROM_UPDATE", M_UPDATE, false },
	{ "EEPROM_HASH", M_HASH, false },
	{ "USER_BOARDREV", M_BOARDREV, false },
	{ "USER_SERIAL_NUM", M_SERIAL, false },
	{ "ADVANCED_BOOT", M_ZERO, false },
	{ "CUSTOMER_KEY_HASH", M_KEY_HASH, false },
	{ "SECURE_BOOT_PROVISION", M_ZERO, false },
	{ "FACTORY_UUID", M_UUID, true },
	{ "MAC_BT_ADDR", M_MAC_BT, true },
	{ "MAC_WIFI_ADDR", M_MAC_WIFI, true },
	{ "SIGNATURE_MODE", M_ZERO, true },
};
#define N_META_KEYS (sizeof(meta_keys) / sizeof(meta_keys[0]))

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

enum rom_state {
	ROM_MSG_HEADER = 0, /* expects the control OUT header of the boot message */
	ROM_MSG_DATA,
	ROM_SS_HEADER,
	ROM_SS_DATA,
	ROM_RETURN_CODE,    /* second stage received; status read pending */
	ROM_JUMPED,         /* status read: off to the second stage */
};

enum reply_kind {
	REPLY_NONE = 0,
	REPLY_SIZE,      /* GetFileSize: header only, size in wValue/wIndex */
	REPLY_FILE,      /* ReadFile: header with the length, then the bytes */
	REPLY_ACK,       /* metadata: header with 0 */
	REPLY_HOSTILE,   /* a hostile name: the host must not serve it */
	REPLY_INVALID,   /* a malformed request: the host must give up, not answer */
};

struct rp_sim_board {
	struct rp_sim_params p;
	const struct rp_soc *soc;
	size_t eeprom_size;

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
	enum rp_sim_outcome outcome;
	char host_error[256];

	/* ROM */
	enum rom_state rom;
	uint8_t boot_msg[BOOT_MESSAGE_SIZE];
	size_t boot_msg_got;
	uint8_t *ss;
	size_t ss_len, ss_got;

	/* second stage */
	enum script_step q;
	unsigned hostile_sent;
	unsigned meta_sent, garbage_sent;
	bool last_was_garbage;
	bool fault_fired;      /* one-shot faults (short transfer, bad command, odd name) */
	bool processed;        /* the update decision was taken */
	enum reply_kind awaiting;
	bool await_data;
	uint8_t *rx;
	size_t rx_len, rx_got;
	uint32_t config_size, sig_size, image_size;
	bool metadata_enabled;
	bool erase_requested;
	char sig_hash[65];
	uint8_t *image;
	size_t image_len;
	char update_value[24];
	char hash_value[65];
	uint8_t *eeprom;       /* NULL until written or inspected: an erased EEPROM */
};

void rp_sim_timing_realistic(struct rp_sim_timing *t)
{
	/* The default chip's figures (a CM4 recovering 512 KiB; see soc.c). */
	const struct rp_soc_timing *f = &rp_soc_default()->model_timing;

	t->stage1_ms = f->stage1_ms;
	t->reenum_ms = f->reenum_ms;
	t->erase_ms = f->erase_ms;
	t->write_ms = f->write_ms;
	t->verify_ms = f->verify_ms;
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

struct rp_sim_board *rp_sim_board_new(const struct rp_sim_params *p)
{
	struct rp_sim_board *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->p = *p;
	b->p.serial[sizeof(b->p.serial) - 1] = '\0';
	if (!b->p.pid)
		b->p.pid = rp_soc_default()->pid;
	b->soc = rp_soc_by_usb_id(RP_USB_VID_BROADCOM, b->p.pid);
	if (!b->soc || !rp_soc_has_eeprom(b->soc)) {
		free(b);
		return NULL;
	}
	b->eeprom_size = b->soc->eeprom_size;
	b->stage = p->second_stage ? RP_STAGE_SECOND : RP_STAGE_ROM;
	b->attached = true;
	b->rom = p->second_stage ? ROM_JUMPED : ROM_MSG_HEADER;
	b->q = Q_CONFIG_SIZE;
	b->metadata_enabled = true;
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
	return b->stage == RP_STAGE_ROM ? SERIAL_INDEX_ROM : SERIAL_INDEX_SECOND;
}

const char *rp_sim_board_serial(const struct rp_sim_board *b)
{
	return b->p.serial;
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
		/* Off the bus: the second stage comes up reenum_ms later. */
		b->change_pending = true;
		b->change_attach = true;
		b->change_at = rp_now_ms() + b->p.timing.reenum_ms;
		return;
	}
	b->attached = true;
	b->stage = RP_STAGE_SECOND;
	b->q = Q_CONFIG_SIZE;
	b->awaiting = REPLY_NONE;
	if (b->p.fault == RP_SIM_FAULT_SILENT && b->p.fault_step == RP_SIM_STEP_REENUM)
		b->silent = true;
	if (b->p.fault == RP_SIM_FAULT_STALL && b->p.fault_step == RP_SIM_STEP_REENUM)
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

const uint8_t *rp_sim_board_eeprom(const struct rp_sim_board *b, size_t *len)
{
	/* Erased contents are materialised on first inspection only, so a
	 * tray of boards that are never looked at costs no EEPROM memory.
	 * The board is not shared across threads (see the header), so the
	 * lazy fill is safe. */
	struct rp_sim_board *mb = (struct rp_sim_board *)b;
	if (!mb->eeprom) {
		mb->eeprom = malloc(mb->eeprom_size);
		if (!mb->eeprom) {
			*len = 0;
			return NULL;
		}
		memset(mb->eeprom, 0xff, mb->eeprom_size);
	}
	*len = mb->eeprom_size;
	return mb->eeprom;
}

const uint8_t *rp_sim_board_second_stage(const struct rp_sim_board *b, size_t *len)
{
	*len = b->ss ? b->ss_got : 0;
	return b->ss;
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

static bool fault_at(const struct rp_sim_board *b, enum rp_sim_fault f, enum rp_sim_step s)
{
	return b->p.fault == f && b->p.fault_step == s;
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

/* Common gate for every transfer: presence, stall, silence, busy time. */
static int gate(struct rp_sim_board *b, unsigned *ready_in_ms)
{
	uint64_t now;
	*ready_in_ms = 0;
	if (!b->attached || b->leaving)
		return RP_ERR_NO_DEVICE;
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

static int rom_control_out(struct rp_sim_board *b, uint32_t len)
{
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
	}
	return RP_OK;
}

static int rom_control_in(struct rp_sim_board *b, uint8_t *buf, size_t len, size_t *actual)
{
	if (b->rom != ROM_RETURN_CODE)
		return host_violation(b, "control IN of %zu bytes in boot ROM state %d", len,
				      (int)b->rom);
	if (len != 4)
		return host_violation(b, "return code read of %zu bytes, expected 4", len);
	if (b->p.fault == RP_SIM_FAULT_ROM_ERROR) {
		rp_put_le32(buf, ROM_ERROR_CODE);
		*actual = 4;
		/* A ROM that rejected the second stage keeps waiting for another. */
		b->rom = ROM_MSG_HEADER;
		return RP_OK;
	}
	rp_put_le32(buf, 0);
	*actual = 4;
	b->rom = ROM_JUMPED;
	/* The ROM jumps to the second stage and drops off the bus. */
	b->leaving = true;
	b->change_pending = true;
	b->change_attach = false;
	b->change_at = rp_now_ms();
	if (fault_at(b, RP_SIM_FAULT_LEAVE, RP_SIM_STEP_REENUM))
		b->gone = true;
	return RP_OK;
}

/* ---- second stage (recovery.bin) ---- */

static bool script_skips(const struct rp_sim_board *b, enum script_step q)
{
	switch (q) {
	case Q_CONFIG_READ:
		return b->config_size == 0;
	case Q_SIG_READ:
		return b->sig_size == 0;
	case Q_IMAGE_READ:
		return b->image_size == 0;
	case Q_METADATA:
		return !b->metadata_enabled;
	default:
		return false;
	}
}

static void fill_meta_value(const struct rp_sim_board *b, enum meta_source src, char *v,
			    size_t size)
{
	const uint8_t *m = b->p.mac;
	switch (src) {
	case M_MAC:
		snprintf(v, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		break;
	case M_MAC_BT:
		snprintf(v, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 (uint8_t)(m[5] + 1));
		break;
	case M_MAC_WIFI:
		snprintf(v, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 (uint8_t)(m[5] + 2));
		break;
	case M_BOOT_ROM:
		snprintf(v, size, "%s", b->soc->model_boot_rom);
		break;
	case M_ERASE:
		snprintf(v, size, "%d", b->erase_requested ? 1 : 0);
		break;
	case M_UPDATE:
		snprintf(v, size, "%s", b->update_value);
		break;
	case M_HASH:
		snprintf(v, size, "%s", b->hash_value);
		break;
	case M_BOARDREV:
		snprintf(v, size, "%s", b->soc->model_board_rev);
		break;
	case M_SERIAL:
		snprintf(v, size, "%s", b->p.serial);
		break;
	case M_KEY_HASH:
		snprintf(v, size, "%064d", 0);
		break;
	case M_UUID:
		snprintf(v, size, "%s", "7Z7Y2A3B4C5D6E");
		break;
	case M_ZERO:
	default:
		snprintf(v, size, "0");
		break;
	}
}

/* The next metadata report into name, or false when all were sent. */
static bool next_metadata(struct rp_sim_board *b, char *name, size_t size)
{
	char value[RP_SERIAL_MAX + 80];
	b->last_was_garbage = false;
	if (b->p.fault == RP_SIM_FAULT_GARBAGE_METADATA && b->garbage_sent < N_GARBAGE) {
		snprintf(name, size, "%s", garbage_reports[b->garbage_sent]);
		b->last_was_garbage = true;
		return true;
	}
	while (b->meta_sent < N_META_KEYS) {
		const struct meta_key *k = &meta_keys[b->meta_sent];
		if (k->extra && !b->soc->extra_metadata) {
			b->meta_sent++;
			continue;
		}
		fill_meta_value(b, k->src, value, sizeof(value));
		snprintf(name, size, "*%s*%s", k->key, value);
		return true;
	}
	return false;
}

/* Check the image against the signature and "write" it. The SPI timing
 * is paid before the board speaks again (its next request). */
static void process_update(struct rp_sim_board *b)
{
	char digest[65] = "";
	const struct rp_sim_timing *t = &b->p.timing;

	if (b->image)
		sha256_hex(b->image, b->image_len, digest);
	if (!b->image) {
		b->outcome = RP_SIM_REFUSED;
		snprintf(b->update_value, sizeof(b->update_value), "missing-image");
	} else if (!b->sig_hash[0] || strcmp(digest, b->sig_hash) != 0) {
		b->outcome = RP_SIM_REFUSED;
		snprintf(b->update_value, sizeof(b->update_value), "digest-mismatch");
	} else if (b->image_len > b->eeprom_size) {
		b->outcome = RP_SIM_REFUSED;
		snprintf(b->update_value, sizeof(b->update_value), "too-large");
	} else if (b->p.fault == RP_SIM_FAULT_WRITE_PROTECTED) {
		b->outcome = RP_SIM_WRITE_FAILED;
		snprintf(b->update_value, sizeof(b->update_value), "failed");
		b->ready_at = rp_now_ms() + t->erase_ms;
	} else {
		/* The receive buffer was sized for the EEPROM: the tail past
		 * the image is erased flash, and the buffer becomes the EEPROM
		 * (the "verify" re-reads it against the image). */
		memset(b->image + b->image_len, 0xff, b->eeprom_size - b->image_len);
		free(b->eeprom);
		b->eeprom = b->image;
		b->image = NULL;
		b->outcome = RP_SIM_UPDATED;
		snprintf(b->update_value, sizeof(b->update_value), "success");
		memcpy(b->hash_value, digest, sizeof(b->hash_value));
		if (b->p.fault == RP_SIM_FAULT_WRONG_HASH)
			b->hash_value[0] = b->hash_value[0] == '0' ? '1' : '0';
		b->ready_at = rp_now_ms() + t->erase_ms + t->write_ms + t->verify_ms;
	}
	free(b->image);
	b->image = NULL;
}

static void parse_config(struct rp_sim_board *b, const uint8_t *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		if (e - i >= 19 && !memcmp(text + i, "recovery_metadata=0", 19))
			b->metadata_enabled = false;
		if (e - i >= 14 && !memcmp(text + i, "erase_eeprom=1", 14))
			b->erase_requested = true;
		i = e + 1;
	}
}

static void file_received(struct rp_sim_board *b)
{
	if (b->q == Q_CONFIG_READ) {
		parse_config(b, b->rx, b->rx_len);
	} else if (b->q == Q_SIG_READ) {
		/* recovery.bin compares the first line of the .sig. */
		size_t n = 0;
		while (n < b->rx_len && b->rx[n] != '\n' && b->rx[n] != '\r')
			n++;
		if (n == 64) {
			for (size_t i = 0; i < 64; i++) {
				char ch = (char)b->rx[i];
				b->sig_hash[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
			}
			b->sig_hash[64] = '\0';
		}
	} else if (b->q == Q_IMAGE_READ) {
		b->image = b->rx;
		b->image_len = b->rx_len;
		b->rx = NULL;
	}
	free(b->rx);
	b->rx = NULL;
}

static void advance(struct rp_sim_board *b)
{
	b->q++;
	while (b->q < Q_FINISHED && script_skips(b, b->q))
		b->q++;
	if (b->q >= Q_METADATA && !b->processed) {
		b->processed = true;
		process_update(b);
	}
}

static int s2_control_in(struct rp_sim_board *b, uint8_t *buf, size_t len, size_t *actual,
			 unsigned *ready_in_ms)
{
	static const char *const hostile[] = { "../../etc/passwd", "/etc/shadow" };
	const struct script_entry *e;
	char name[REQUEST_SIZE];
	size_t nlen;
	int r;

	if (len != REQUEST_SIZE)
		return host_violation(b, "request read of %zu bytes, expected %d", len, REQUEST_SIZE);
	if (b->awaiting == REPLY_INVALID)
		return host_violation(b, "host went on after a malformed request");
	if (b->awaiting != REPLY_NONE || b->await_data)
		return host_violation(b, "host read a new request before answering the last one");
	if (b->q >= Q_FINISHED)
		return host_violation(b, "host read a request after Done");
	e = &script[b->q];
	if (e->first && e->wire_faults && (b->q != Q_METADATA || b->meta_sent + b->garbage_sent == 0)) {
		r = step_fault(b, e->step, ready_in_ms);
		if (r != RP_OK)
			return r;
	}

	memset(buf, 0, REQUEST_SIZE);
	*actual = REQUEST_SIZE;
	if (e->first && !b->fault_fired && b->p.fault_step == e->step &&
	    (b->q != Q_METADATA || b->meta_sent + b->garbage_sent == 0)) {
		switch (b->p.fault) {
		case RP_SIM_FAULT_HOSTILE_NAME:
			if (b->hostile_sent < 2) {
				rp_put_le32(buf, 0);
				memcpy(buf + 4, hostile[b->hostile_sent], strlen(hostile[b->hostile_sent]));
				b->hostile_sent++;
				b->awaiting = REPLY_HOSTILE;
				return RP_OK;
			}
			break;
		case RP_SIM_FAULT_BAD_COMMAND:
			b->fault_fired = true;
			rp_put_le32(buf, 7);
			memcpy(buf + 4, "config.txt", 10);
			b->awaiting = REPLY_INVALID;
			return RP_OK;
		case RP_SIM_FAULT_UNTERMINATED_NAME:
			b->fault_fired = true;
			rp_put_le32(buf, e->cmd);
			memset(buf + 4, 'A', REQUEST_SIZE - 4);
			b->awaiting = REPLY_INVALID;
			return RP_OK;
		default:
			break;
		}
	}

	if (b->q == Q_METADATA && !next_metadata(b, name, sizeof(name)))
		b->q = Q_DONE;
	e = &script[b->q];
	if (b->q != Q_METADATA)
		snprintf(name, sizeof(name), "%s", e->name);
	rp_put_le32(buf, e->cmd);
	nlen = strlen(name);
	memcpy(buf + 4, name, nlen < REQUEST_SIZE - 5 ? nlen : REQUEST_SIZE - 5);
	if (b->q == Q_DONE) {
		b->q = Q_FINISHED;
		return RP_OK;
	}
	if (b->q == Q_METADATA)
		b->awaiting = REPLY_ACK;
	else
		b->awaiting = e->cmd == 0 ? REPLY_SIZE : REPLY_FILE;
	return RP_OK;
}

static int s2_control_out(struct rp_sim_board *b, uint32_t size)
{
	uint32_t announced;
	size_t cap;

	if (b->await_data)
		return host_violation(b, "control OUT while %s data was still expected",
				      script[b->q].name);
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
		if (b->last_was_garbage)
			b->garbage_sent++;
		else
			b->meta_sent++;
		if (size)
			return host_violation(b, "metadata acknowledged with size %u, expected 0", size);
		return RP_OK;
	case REPLY_SIZE:
		b->awaiting = REPLY_NONE;
		if (b->q == Q_CONFIG_SIZE)
			b->config_size = size;
		else if (b->q == Q_SIG_SIZE)
			b->sig_size = size;
		else if (b->q == Q_IMAGE_SIZE)
			b->image_size = size;
		advance(b);
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
	announced = b->q == Q_CONFIG_READ ? b->config_size
		  : b->q == Q_SIG_READ    ? b->sig_size
					  : b->image_size;
	if (size != announced)
		return host_violation(b, "ReadFile %s: %u bytes sent, GetFileSize said %u",
				      script[b->q].name, size, announced);
	if ((b->q == Q_CONFIG_READ && size > CONFIG_MAX) || size > FILE_MAX)
		return host_violation(b, "%s of %u bytes is more than recovery.bin accepts",
				      script[b->q].name, size);
	cap = size;
	if (b->q == Q_IMAGE_READ && cap < b->eeprom_size)
		cap = b->eeprom_size; /* becomes the EEPROM if it is written */
	free(b->rx);
	b->rx = malloc(cap);
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
	enum rp_sim_step step;
	int r;

	if (!b->await_data)
		return host_violation(b, "unexpected bulk OUT of %zu bytes", len);
	step = script[b->q].step;
	if (step == RP_SIM_STEP_IMAGE) {
		r = step_fault(b, step, ready_in_ms);
		if (r != RP_OK)
			return r;
	}
	if (len > b->rx_len - b->rx_got)
		return host_violation(b, "host sent %zu bytes of %s, only %zu outstanding", len,
				      script[b->q].name, b->rx_len - b->rx_got);
	if (fault_at(b, RP_SIM_FAULT_SHORT, step) && !b->fault_fired && len > 1) {
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
		return rom_control_out(b, size);
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
