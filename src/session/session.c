#include "session/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "soc/soc.h"
#include "image/eeprom_image.h"
#include "image/recovery_config.h"
#include "image/second_stage.h"
#include "image/sig.h"
#include "util/clock.h"
#include "util/endian.h"

/* A board that keeps asking for files without ever saying Done is broken
 * or hostile; recovery.bin asks for fewer than 20 names plus metadata. */
#define MAX_REQUESTS 4096

/* Values of EEPROM_UPDATE taken as success. The public sources show
 * "success"; case is not guaranteed across firmware releases and some
 * report a boolean, so "1" is accepted too. Anything else is a failure. */
static const char *const update_success_values[] = { "success", "1" };

/* Names whose service means the EEPROM is being written (.upd: update
 * then reboot; .bin: update then stop). */
static const char *const eeprom_image_names[] = { "pieeprom.bin", "pieeprom.upd" };

static void copy_printable(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

void rp_session_record_init(struct rp_board_record *rec, const struct rp_device_info *info,
			    uint64_t attempt_id)
{
	const struct rp_soc *dev = rp_soc_by_usb_id(info->vid, info->pid);
	memset(rec, 0, sizeof(*rec));
	rec->attempt_id = attempt_id;
	copy_printable(rec->port_path, sizeof(rec->port_path), info->port_path);
	copy_printable(rec->serial, sizeof(rec->serial), info->serial);
	copy_printable(rec->soc, sizeof(rec->soc), dev ? dev->soc : "");
	rec->pid = info->pid;
	rec->start_unix_ms = rp_wall_now_ms();
	rec->result = RP_RESULT_PENDING;
	rec->error_code = RP_OK;
}

void rp_session_record_finish(struct rp_board_record *rec, enum rp_board_result result)
{
	rec->end_unix_ms = rp_wall_now_ms();
	if (rec->result == RP_RESULT_PENDING)
		rec->result = result;
}

static enum rp_board_result result_for(int code)
{
	switch (code) {
	case RP_ERR_TIMEOUT:
		return RP_RESULT_TIMEOUT;
	case RP_ERR_NO_DEVICE:
		return RP_RESULT_LEFT;
	default:
		return RP_RESULT_FAILED;
	}
}

void rp_session_clear_failure(struct rp_board_record *rec)
{
	rec->result = RP_RESULT_PENDING;
	rec->error_code = RP_OK;
	rec->error[0] = '\0';
}

int rp_session_fail(struct rp_board_record *rec, int code, const char *fmt, ...)
{
	va_list ap;
	/* The first failure is the cause; later ones are consequences. */
	if (rec->result != RP_RESULT_PENDING)
		return code;
	rec->result = result_for(code);
	rec->error_code = code;
	va_start(ap, fmt);
	vsnprintf(rec->error, sizeof(rec->error), fmt, ap);
	va_end(ap);
	return code;
}

struct ctx {
	struct rp_transport *t;
	const struct rp_session_opts *o;
	struct rp_board_record *rec;
	unsigned transfer_ms, request_ms;
	size_t chunk;
};

static void ctx_init(struct ctx *c, struct rp_transport *t, const struct rp_session_opts *o,
		     struct rp_board_record *rec)
{
	c->t = t;
	c->o = o;
	c->rec = rec;
	c->transfer_ms = o->transfer_timeout_ms ? o->transfer_timeout_ms
						: RP_SESSION_DEFAULT_TRANSFER_MS;
	c->request_ms = o->request_timeout_ms ? o->request_timeout_ms
					      : RP_SESSION_DEFAULT_REQUEST_MS;
	c->chunk = o->bulk_chunk ? o->bulk_chunk : RP_SESSION_DEFAULT_BULK_CHUNK;
}

static void phase(struct ctx *c, enum rp_phase p)
{
	if (c->o->hooks.phase)
		c->o->hooks.phase(c->o->hooks.ctx, p);
}

static void progress(struct ctx *c, const char *name, uint64_t done, uint64_t total)
{
	if (c->o->hooks.progress)
		c->o->hooks.progress(c->o->hooks.ctx, name, done, total);
}

static bool cancelled(struct ctx *c)
{
	return c->o->hooks.cancelled && c->o->hooks.cancelled(c->o->hooks.ctx);
}

/* Turn a transfer error into the record's reason. */
static int transfer_failed(struct ctx *c, int r, unsigned timeout_ms, const char *what)
{
	switch (r) {
	case RP_ERR_TIMEOUT:
		if (c->o->deadline_ms && rp_now_ms() >= c->o->deadline_ms)
			return rp_session_fail(c->rec, r, "board deadline passed while %s", what);
		return rp_session_fail(c->rec, r, "board did not answer within %u ms while %s",
				       timeout_ms, what);
	case RP_ERR_NO_DEVICE:
		return rp_session_fail(c->rec, r, "board left the bus while %s", what);
	case RP_ERR_PIPE:
		return rp_session_fail(c->rec, r, "endpoint stalled while %s", what);
	case RP_ERR_INTERRUPTED:
		return rp_session_fail(c->rec, r, "aborted while %s", what);
	default:
		return rp_session_fail(c->rec, r, "%s while %s", rp_strerror(r), what);
	}
}

/* ep_write of a whole file with the chunk size of the session. */
static int send_bytes(struct ctx *c, const char *name, const uint8_t *data, size_t len,
		      const char *what)
{
	size_t sent = 0;
	int r;

	progress(c, name, 0, len);
	r = rp_ep_write(c->t, data, len, c->chunk, c->transfer_ms, c->o->deadline_ms, &sent);
	if (r == RP_ERR_SHORT)
		return rp_session_fail(c->rec, r,
				       "short transfer while %s: board accepted %zu of %zu bytes",
				       what, sent, len);
	if (r != RP_OK)
		return transfer_failed(c, r, c->transfer_ms, what);
	progress(c, name, len, len);
	return RP_OK;
}

static void add_phase_time(struct rp_board_record *rec, enum rp_phase p, uint64_t since)
{
	uint64_t ms = rp_now_ms() - since;
	rec->phase_ms[p] += ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

int rp_session_stage1(struct rp_transport *t, const struct rp_session_opts *o,
		      struct rp_board_record *rec)
{
	const struct rp_soc *dev = rp_soc_by_usb_id(t->info.vid, t->info.pid);
	uint8_t msg[RP_BOOT_MESSAGE_SIZE] = { 0 };
	uint8_t ret[4];
	struct rp_payload_file f;
	struct rp_diag d;
	char what[160];
	uint64_t t0 = rp_now_ms();
	struct ctx c;
	int32_t code;
	int r;

	ctx_init(&c, t, o, rec);
	phase(&c, RP_PHASE_STAGE1);
	if (!dev)
		return rp_session_fail(rec, RP_ERR_UNSUPPORTED,
				       "device %04x:%04x is not a known Raspberry Pi boot ROM",
				       t->info.vid, t->info.pid);
	rp_diag_clear(&d);
	r = rp_payload_second_stage(o->payload, dev, t->info.port_path, &f, &d);
	if (r != RP_OK)
		return rp_session_fail(rec, r, "%s", rp_diag_message(&d));
	if (f.len == 0 || f.len > INT32_MAX) {
		rp_payload_file_release(o->payload, &f);
		return rp_session_fail(rec, RP_ERR_FORMAT, "second stage %s has an unusable size (%zu bytes)",
				       f.origin, f.len);
	}
	/* Another chip's second stage: the ROM would not run it (or worse),
	 * whatever the file is called (a flat folder, a copied recovery/). */
	{
		struct rp_second_stage_info info;
		char kind[96];
		rp_second_stage_identify(f.data, f.len, &info);
		if (info.soc && !rp_soc_same_family(info.soc, dev)) {
			rp_second_stage_describe(&info, kind, sizeof(kind));
			r = rp_session_fail(rec, RP_ERR_NOT_FOUND,
					    "%s is a %s, which a %s board cannot run; get the %s files "
					    "with 'rpiprov firmware fetch --soc %s'",
					    f.origin, kind, dev->chip, dev->soc, dev->soc);
			rp_payload_file_release(o->payload, &f);
			return r;
		}
	}

	/* The signature bytes stay zero: only signed boot on 2835/6/7 uses them. */
	rp_put_le32(msg, (uint32_t)f.len);
	r = send_bytes(&c, "boot message", msg, sizeof(msg), "sending the boot message");
	if (r == RP_OK && cancelled(&c))
		r = rp_session_fail(rec, RP_ERR_INTERRUPTED, "aborted during stage 1");
	if (r == RP_OK) {
		snprintf(what, sizeof(what), "sending %s (%zu bytes)", dev->second_stage, f.len);
		r = send_bytes(&c, dev->second_stage, f.data, f.len, what);
		if (r == RP_OK) {
			rec->bytes_served += f.len;
			rec->files_served++;
		}
	}
	rp_payload_file_release(o->payload, &f);
	if (r != RP_OK)
		goto out;

	/* The ROM answers within about a second when it answers at all (F6),
	 * so the status read waits one transfer timeout, not a request's. */
	r = rp_ep_read(t, ret, sizeof(ret), c.transfer_ms, o->deadline_ms, NULL);
	if (r == RP_ERR_INTERRUPTED || (r == RP_ERR_TIMEOUT && o->deadline_ms &&
					 rp_now_ms() >= o->deadline_ms)) {
		r = transfer_failed(&c, r, c.transfer_ms, "reading the boot ROM's return code");
		goto out;
	}
	if (r != RP_OK) {
		/* Every byte of the second stage was accepted. A ROM that
		 * starts it resets before the status read completes, so the
		 * read fails or times out on real boards (F7; rpiboot prints
		 * "Failed : 0x0" and goes on). Whether stage 1 worked shows
		 * when, and if, the second stage enumerates on this port. */
		r = RP_OK;
		goto out;
	}
	code = (int32_t)rp_get_le32(ret);
	if (code != 0)
		r = rp_session_fail(rec, RP_ERR_BOARD,
				    "boot ROM returned error code %d (0x%08x) after receiving %s",
				    code, (uint32_t)code, dev->second_stage);
out:
	add_phase_time(rec, RP_PHASE_STAGE1, t0);
	return r;
}

/* The board asks for its image under the names recovery.bin uses, but a
 * directory may hold it under a SoC or port folder ("2711/pieeprom.bin"):
 * what matters is the last component. */
static bool is_eeprom_image(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	for (size_t i = 0; i < sizeof(eeprom_image_names) / sizeof(eeprom_image_names[0]); i++)
		if (!strcmp(base, eeprom_image_names[i]))
			return true;
	return false;
}

static bool meta_key_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* Every file this board looked up, kept until the session ends: the size
 * GetFileSize announced, the bytes ReadFile sends and the digest checked
 * against EEPROM_HASH then all come from one version of the file, even
 * when the file changes on disk in between (a CM4 asks the size of
 * pieeprom.bin, then reads pieeprom.sig, then reads pieeprom.bin). */
struct looked_up {
	char name[RP_PAYLOAD_NAME_MAX];
	int status;               /* RP_OK or RP_ERR_NOT_FOUND */
	struct rp_payload_file f; /* when RP_OK */
};

/* recovery.bin asks for fewer than 20 names; a full OS boot over boot -d
 * a few dozen. Beyond this the board is broken or hostile, and each entry
 * pins a file version in memory. */
#define MAX_FILES 512

struct serve_state {
	struct looked_up *files;
	size_t n_files, cap;
	bool asked_image;         /* GetFileSize or ReadFile of an EEPROM image name */
	bool image_missing;       /* ... which the payload does not have */
	bool served_image;        /* ... whose bytes were sent */
	size_t image_index;       /* files[] entry of the image served */
	bool served_file;         /* any file's bytes were sent in this stage */
	bool got_metadata;        /* the board sent at least one metadata report */
	/* The metadata said EEPROM_UPDATE=success with an EEPROM_HASH of what
	 * was served: the board is OK whatever it does afterwards (asks for
	 * files nobody has, hangs, leaves; C19). */
	bool confirmed;
	/* A file was missing after the confirmation: the board may hang now
	 * (C19), so the wait for its next request is short. */
	bool linger;
	bool know_second_stage;   /* second_stage below has been looked at */
	struct rp_second_stage_info second_stage;
	char image_name[RP_PAYLOAD_NAME_MAX];
	char meta_error[400];     /* first malformed or conflicting EEPROM_* report */
	char last[RP_PAYLOAD_NAME_MAX + 16];
};

static void serve_state_free(struct rp_payload *p, struct serve_state *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (s->files[i].status == RP_OK)
			rp_payload_file_release(p, &s->files[i].f);
	free(s->files);
	s->files = NULL;
	s->n_files = s->cap = 0;
}

static void meta_error(struct serve_state *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void meta_error(struct serve_state *s, const char *fmt, ...)
{
	va_list ap;
	if (s->meta_error[0])
		return; /* the first one is the cause */
	va_start(ap, fmt);
	vsnprintf(s->meta_error, sizeof(s->meta_error), fmt, ap);
	va_end(ap);
}

/* Record one "*KEY*VALUE" report (name is NUL-terminated, starts with
 * '*'). Metadata is the board talking about itself, so a malformed,
 * oversize or non-printable report never ends the session: it is counted
 * and dropped. But a later report must never leave an earlier value
 * standing as if it were still the board's word: for EEPROM_* keys (what
 * the verdict rests on) a malformed or conflicting report fails the board
 * once it says Done; for other keys an earlier value is marked invalid. */
static void record_metadata(struct rp_board_record *rec, struct serve_state *s, const char *name)
{
	const char *key = name + 1;
	const char *star = strchr(key, '*');
	size_t klen = star ? (size_t)(star - key) : strlen(key);
	bool eeprom = klen >= 7 && !memcmp(key, "EEPROM_", 7);
	const char *value = star ? star + 1 : "";
	size_t vlen = strlen(value);
	bool bad_key = !star || !klen || klen >= RP_META_KEY_MAX;
	bool bad_value = vlen >= RP_META_VALUE_MAX;
	char quoted[96];
	unsigned i;

	for (i = 0; i < klen && !bad_key; i++)
		bad_key = !meta_key_char(key[i]);
	for (i = 0; i < vlen && !bad_value; i++)
		bad_value = (unsigned char)value[i] < 0x20 || (unsigned char)value[i] >= 0x7f;
	if (bad_key || bad_value)
		rec->meta_dropped++;
	if (bad_key) {
		if (eeprom) {
			rp_payload_quote(name, strlen(name), quoted, sizeof(quoted));
			meta_error(s, "board sent a malformed EEPROM report \"%s\"", quoted);
		}
		return;
	}
	for (i = 0; i < rec->n_meta; i++)
		if (strlen(rec->meta[i].key) == klen && !memcmp(rec->meta[i].key, key, klen))
			break;
	if (bad_value) {
		if (eeprom) {
			rp_payload_quote(value, vlen, quoted, sizeof(quoted));
			meta_error(s, "board sent a malformed %.*s report (\"%s\", %zu bytes)",
				   (int)klen, key, quoted, vlen);
		}
		if (i < rec->n_meta) {
			rec->meta[i].value[0] = '\0';
			rec->meta[i].invalid = true;
		}
		return;
	}
	if (i == rec->n_meta) {
		if (rec->n_meta >= RP_META_MAX) {
			rec->meta_dropped++;
			if (eeprom)
				meta_error(s, "board sent more than %d metadata reports; %.*s was dropped",
					   RP_META_MAX, (int)klen, key);
			return;
		}
		rec->n_meta++;
	} else if (eeprom && (rec->meta[i].invalid || strcmp(rec->meta[i].value, value) != 0)) {
		meta_error(s, "board reported %.*s twice with different values (\"%s\", then \"%s\")",
			   (int)klen, key, rec->meta[i].invalid ? "<malformed>" : rec->meta[i].value,
			   value);
	}
	memcpy(rec->meta[i].key, key, klen);
	rec->meta[i].key[klen] = '\0';
	memcpy(rec->meta[i].value, value, vlen + 1);
	rec->meta[i].invalid = false;
}

static bool is_sha256_hex(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		      (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return n == 64;
}

static bool update_succeeded(const char *v)
{
	for (size_t i = 0; i < sizeof(update_success_values) / sizeof(update_success_values[0]); i++)
		if (!strcasecmp(v, update_success_values[i]))
			return true;
	return false;
}

/* Where a recovery.bin may write the update time: where rpi-eeprom-config
 * puts it today, or (older tools, a 2711's updatetime file) where it
 * used to. Nobody has measured which one recovery.bin uses. */
static int (*const stamp_places[])(struct rp_eeprom *, uint32_t, struct rp_diag *) = {
	rp_eeprom_set_timestamp,
	rp_eeprom_set_timestamp_in_files,
};

/* The image as recovery.bin may leave it in the EEPROM: the served bytes
 * with the ts: of the .sig served beside it written as the update time
 * (F20), at place `which` of stamp_places. Empty when there is no such
 * .sig, no ts, or nothing changes. */
static void flashed_sha256(const struct serve_state *s, size_t which, char out[65])
{
	const struct looked_up *img = &s->files[s->image_index];
	const char *dot = strrchr(img->name, '.');
	char sig_name[RP_PAYLOAD_NAME_MAX];
	struct rp_eeprom ee;
	struct rp_sig sig;

	out[0] = '\0';
	if (!dot || (size_t)(dot - img->name) + 5 > sizeof(sig_name))
		return;
	snprintf(sig_name, sizeof(sig_name), "%.*s.sig", (int)(dot - img->name), img->name);
	for (size_t i = 0; i < s->n_files; i++) {
		const struct looked_up *f = &s->files[i];
		if (f->status != RP_OK || strcmp(f->name, sig_name) != 0)
			continue;
		if (rp_sig_parse(f->f.data, f->f.len, sig_name, &sig, NULL) != RP_OK || !sig.has_ts ||
		    sig.ts < 0 || sig.ts >= (int64_t)UINT32_MAX)
			return;
		if (rp_eeprom_parse(&ee, img->f.data, img->f.len, img->name, NULL) != RP_OK)
			return;
		if (stamp_places[which](&ee, (uint32_t)sig.ts, NULL) == RP_OK &&
		    memcmp(ee.data, img->f.data, img->f.len) != 0)
			rp_sha256_hex(ee.data, ee.size, out);
		rp_eeprom_free(&ee);
		return;
	}
}

/* Whether the reported hash (lower-cased into rec->reported_hash) is the
 * served image's, or the served image's with the .sig's update time.
 * What EEPROM_HASH covers is not documented: a board that flashed
 * correctly reports one of the two, and hash_matched says which. first
 * gets the first alternative tried, for the message. */
static bool hash_matches(struct rp_board_record *rec, const struct serve_state *s, char first[65])
{
	char flashed[65];

	first[0] = '\0';
	if (!strcmp(rec->reported_hash, rec->served_sha256)) {
		snprintf(rec->hash_matched, sizeof(rec->hash_matched), "served image");
		return true;
	}
	for (size_t i = 0; i < sizeof(stamp_places) / sizeof(stamp_places[0]); i++) {
		flashed_sha256(s, i, flashed);
		if (i == 0)
			memcpy(first, flashed, 65);
		if (flashed[0] && !strcmp(rec->reported_hash, flashed)) {
			snprintf(rec->hash_matched, sizeof(rec->hash_matched),
				 "served image with the .sig's update time");
			return true;
		}
	}
	return false;
}

/* The reported EEPROM_HASH, checked and lower-cased into the record;
 * false when absent or malformed. */
static bool take_reported_hash(struct rp_board_record *rec)
{
	const char *hash = rp_board_record_meta(rec, "EEPROM_HASH");
	if (!hash || !is_sha256_hex(hash))
		return false;
	for (size_t i = 0; i < 65; i++)
		rec->reported_hash[i] =
			(char)(hash[i] >= 'A' && hash[i] <= 'F' ? hash[i] - 'A' + 'a' : hash[i]);
	return true;
}

/* What the second stage this board was sent is (looked up once, from the
 * payload, as stage 1 looked it up). */
static const struct rp_second_stage_info *second_stage_of(struct ctx *c, struct serve_state *s)
{
	const struct rp_soc *soc = rp_soc_by_name(c->rec->soc);
	struct rp_payload_file f;

	if (!s->know_second_stage) {
		s->know_second_stage = true;
		memset(&s->second_stage, 0, sizeof(s->second_stage));
		if (soc && rp_payload_second_stage(c->o->payload, soc, c->t->info.port_path, &f,
						   NULL) == RP_OK) {
			rp_second_stage_identify(f.data, f.len, &s->second_stage);
			rp_payload_file_release(c->o->payload, &f);
		}
	}
	return &s->second_stage;
}

/* config.txt as served to this board sets recovery_metadata=0. */
static bool metadata_switched_off(const struct serve_state *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (s->files[i].status == RP_OK && !strcmp(s->files[i].name, "config.txt"))
			return rp_recovery_config_is_zero(s->files[i].f.data, s->files[i].f.len,
							  "recovery_metadata");
	return false;
}

/* Whether this board must report EEPROM_HASH: unless its recovery.bin is
 * known not to have the report, or config.txt switched metadata off. A
 * second stage rpiprov does not recognise is held to the full standard:
 * only what is known to be unable to confirm is excused. */
static bool hash_expected(struct ctx *c, struct serve_state *s)
{
	const struct rp_second_stage_info *i = second_stage_of(c, s);
	if (metadata_switched_off(s))
		return false;
	return !(i->kind == RP_SECOND_STAGE_RECOVERY && !i->reports_hash);
}

static int unverified(struct ctx *c, struct rp_board_record *rec, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int unverified(struct ctx *c, struct rp_board_record *rec, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->o->require_verified)
		return rp_session_fail(rec, RP_ERR_VERIFY, "not confirmed (verified results required): %s",
				       why);
	if (rec->result == RP_RESULT_PENDING) {
		rec->result = RP_RESULT_UNVERIFIED;
		rec->error_code = RP_OK;
		snprintf(rec->error, sizeof(rec->error), "%s", why);
	}
	return RP_OK;
}

/* No EEPROM_HASH: a recovery.bin that cannot report one leaves the write
 * unconfirmed (UNVERIFIED); one that can and did not has failed. */
static int no_hash_reported(struct ctx *c, struct rp_board_record *rec, struct serve_state *s)
{
	const struct rp_second_stage_info *i = second_stage_of(c, s);
	char what[96];

	rp_second_stage_describe(i, what, sizeof(what));
	if (hash_expected(c, s))
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "board did not report EEPROM_HASH: the write cannot be confirmed "
				       "(%s%s)",
				       i->kind == RP_SECOND_STAGE_UNKNOWN ? "second stage not recognised"
									 : what,
				       rec->n_meta ? "" : "; no metadata at all: write-protect pin held?");
	if (metadata_switched_off(s))
		return unverified(c, rec,
				  "written, not confirmed: config.txt sets recovery_metadata=0, so the "
				  "board reports no EEPROM_HASH");
	if (i->kind == RP_SECOND_STAGE_RECOVERY)
		return unverified(c, rec,
				  "written, not confirmed: this %s cannot report EEPROM_HASH (builds "
				  "from 2025-11-27 can; 'rpiprov firmware fetch' gets one)",
				  what);
	return unverified(c, rec, "written, not confirmed: the board reported no EEPROM_HASH");
}

/* What the board reported against what was served. */
static int verify_eeprom(struct ctx *c, struct rp_board_record *rec, struct serve_state *s)
{
	const char *update = rp_board_record_meta(rec, "EEPROM_UPDATE");
	const char *hash = rp_board_record_meta(rec, "EEPROM_HASH");
	char first[65];
	bool matched;

	if (hash && hash[0] && !take_reported_hash(rec))
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "board reported a malformed EEPROM_HASH \"%.70s\"", hash);
	if (!hash || !hash[0]) {
		if (update && !update_succeeded(update))
			return rp_session_fail(rec, RP_ERR_BOARD,
					       "EEPROM_UPDATE=%s: the board did not write the EEPROM",
					       update);
		return no_hash_reported(c, rec, s);
	}
	matched = hash_matches(rec, s, first);
	if (update && !update_succeeded(update)) {
		/* recovery.bin reports only "success" or "fail". An EEPROM
		 * that already held this image may say either ("Bootloader
		 * EEPROM is up to date"); its hash then still names the
		 * served image. Not a failure, not a confirmation. */
		if (matched)
			return unverified(c, rec,
					  "EEPROM_UPDATE=%s but EEPROM_HASH is the served image's: the "
					  "EEPROM probably already held it",
					  update);
		return rp_session_fail(rec, RP_ERR_BOARD,
				       "EEPROM_UPDATE=%s: the board did not write the EEPROM", update);
	}
	if (!matched)
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "EEPROM_HASH %s does not match served image %s%s%s",
				       rec->reported_hash, rec->served_sha256,
				       first[0] ? " nor the image with its update time " : "", first);
	if (!update)
		return unverified(c, rec,
				  "EEPROM_HASH is the served image's but the board did not report "
				  "EEPROM_UPDATE");
	return RP_OK;
}

/* After each metadata report: has the board now confirmed the write? */
static void check_confirmed(struct rp_board_record *rec, struct serve_state *s)
{
	const char *update = rp_board_record_meta(rec, "EEPROM_UPDATE");
	char first[65];

	if (s->confirmed || !s->served_image || s->meta_error[0] || !update ||
	    !update_succeeded(update) || !take_reported_hash(rec))
		return;
	s->confirmed = hash_matches(rec, s, first);
}

/* The verdict once the board said Done. In either mode a board that says
 * its EEPROM update failed has failed. Flash needs the image read and
 * confirmed. Serve (boot -d) is SERVED when the board never went for an
 * image; once it asked for one, the image must have been there and read,
 * and is then confirmed as in flash mode. */
static int verdict(struct ctx *c, struct rp_board_record *rec, struct serve_state *s,
		   enum rp_session_mode mode)
{
	const char *update = rp_board_record_meta(rec, "EEPROM_UPDATE");
	char said[RP_META_VALUE_MAX + 48] = "";

	if (s->meta_error[0])
		return rp_session_fail(rec, RP_ERR_VERIFY, "%s", s->meta_error);
	if (s->served_image)
		return verify_eeprom(c, rec, s);
	if (update)
		snprintf(said, sizeof(said), " (board reported EEPROM_UPDATE=%s)", update);
	if (mode == RP_SESSION_FLASH)
		return rp_session_fail(rec, RP_ERR_PROTOCOL,
				       "board said Done without reading pieeprom.bin: nothing was "
				       "written%s",
				       said);
	if (s->image_missing)
		return rp_session_fail(rec, RP_ERR_NOT_FOUND,
				       "board asked for %s, which is not in the served files: the "
				       "EEPROM was not updated%s",
				       s->image_name, said);
	if (s->asked_image)
		return rp_session_fail(rec, RP_ERR_BOARD,
				       "board asked for the size of %s but never read it: the EEPROM "
				       "was not updated (pieeprom.sig missing or not matching?)%s",
				       s->image_name, said);
	if (update && !update_succeeded(update))
		return rp_session_fail(rec, RP_ERR_BOARD,
				       "EEPROM_UPDATE=%s: the board did not write the EEPROM", update);
	return RP_OK;
}

/* The session's version of `name`: looked up once, the first time the
 * board mentions it. RP_OK or RP_ERR_NOT_FOUND with *out set, or a
 * failure (recorded). */
static int lookup(struct ctx *c, struct serve_state *s, const char *name,
		  const struct looked_up **out)
{
	/* rpiboot's folder for this board's chip ("2710" for a 2835). */
	const struct rp_soc *soc = rp_soc_by_name(c->rec->soc);
	struct looked_up *e;
	struct rp_diag d;

	for (size_t i = 0; i < s->n_files; i++)
		if (!strcmp(s->files[i].name, name)) {
			*out = &s->files[i];
			return s->files[i].status;
		}
	if (s->n_files == MAX_FILES)
		return rp_session_fail(c->rec, RP_ERR_PROTOCOL,
				       "board asked for more than %d different files (the last %s)",
				       MAX_FILES, name);
	if (s->n_files == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct looked_up *grown = realloc(s->files, cap * sizeof(*grown));
		if (!grown)
			return rp_session_fail(c->rec, RP_ERR_NOMEM, "out of memory serving %s", name);
		s->files = grown;
		s->cap = cap;
	}
	e = &s->files[s->n_files];
	memset(e, 0, sizeof(*e));
	rp_diag_clear(&d);
	e->status = rp_payload_lookup(c->o->payload, soc ? soc->rpiboot_dir : NULL,
				      c->t->info.port_path, name, &e->f, &d);
	if (e->status != RP_OK && e->status != RP_ERR_NOT_FOUND)
		return rp_session_fail(c->rec, e->status, "cannot serve %s: %s", name,
				       rp_diag_message(&d));
	/* The wire length is 32 bits: a larger file cannot be announced. */
	if (e->status == RP_OK && e->f.len > UINT32_MAX) {
		rp_payload_file_release(c->o->payload, &e->f);
		return rp_session_fail(c->rec, RP_ERR_TOO_LARGE,
				       "cannot serve %s: more than 4 GiB", name);
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	s->n_files++;
	*out = e;
	return e->status;
}

/* One request, already read into msg (got bytes). Returns RP_OK to go
 * on, 1 when the board said Done, or a failure. */
static int handle_request(struct ctx *c, struct serve_state *s, const uint8_t *msg, size_t got)
{
	char name[RP_PAYLOAD_NAME_MAX], quoted[96];
	const char *raw = (const char *)msg + 4;
	uint32_t cmd = rp_get_le32(msg);
	size_t name_len = got - 4;
	const struct looked_up *e = NULL;
	struct rp_diag d;
	char what[RP_PAYLOAD_NAME_MAX + 64];
	bool image;
	int r;

	/* rpiboot looks at the name before the command: an empty name (Done
	 * sends one) is answered with a zero-length write and ends the
	 * session (F17). A board already gone by then has finished all the
	 * same, so the answer's fate does not matter. */
	if (name_len && !raw[0]) {
		rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return 1;
	}
	if (cmd > RP_CMD_DONE)
		return rp_session_fail(c->rec, RP_ERR_PROTOCOL,
				       "board sent unknown command %u (0x%08x) after %s; expected 0 "
				       "GetFileSize, 1 ReadFile or 2 Done",
				       cmd, cmd, s->last);
	if (cmd == RP_CMD_DONE)
		return 1;
	if (!memchr(raw, '\0', name_len)) {
		rp_payload_quote(raw, name_len, quoted, sizeof(quoted));
		return rp_session_fail(c->rec, RP_ERR_PROTOCOL,
				       "file name in the board's request is not NUL-terminated within "
				       "%zu bytes (\"%s\")",
				       name_len, quoted);
	}
	if (raw[0] == '*') {
		s->got_metadata = true;
		record_metadata(c->rec, s, raw);
		check_confirmed(c->rec, s);
		snprintf(s->last, sizeof(s->last), "metadata");
		snprintf(what, sizeof(what), "acknowledging metadata");
		r = rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	rp_diag_clear(&d);
	r = rp_payload_check_name(raw, name_len, name, &d);
	if (r != RP_OK) {
		/* Answered as a missing file, as rpiboot answers any name it
		 * cannot open: the board goes on to its next request. */
		if (!c->rec->names_refused++)
			rp_payload_quote(raw, strnlen(raw, name_len), c->rec->first_refused,
					 sizeof(c->rec->first_refused));
		snprintf(s->last, sizeof(s->last), "a refused name");
		r = rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK
				  : transfer_failed(c, r, c->transfer_ms, "answering a refused name");
	}
	r = lookup(c, s, name, &e);
	if (r != RP_OK && r != RP_ERR_NOT_FOUND)
		return r;
	if (r == RP_ERR_NOT_FOUND && s->confirmed)
		s->linger = true;
	image = is_eeprom_image(name);
	if (image) {
		s->asked_image = true;
		snprintf(s->image_name, sizeof(s->image_name), "%s", name);
		if (r == RP_ERR_NOT_FOUND)
			s->image_missing = true;
	}
	if (cmd == RP_CMD_GET_FILE_SIZE) {
		uint32_t size = r == RP_OK ? (uint32_t)e->f.len : 0;
		snprintf(s->last, sizeof(s->last), "the size of %s", name);
		snprintf(what, sizeof(what), "answering the size of %s", name);
		r = rp_ep_write_header(c->t, size, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	snprintf(s->last, sizeof(s->last), "%s", name);
	if (r == RP_ERR_NOT_FOUND) {
		snprintf(what, sizeof(what), "telling the board %s is missing", name);
		r = rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	snprintf(what, sizeof(what), "sending %s (%zu bytes)", name, e->f.len);
	r = send_bytes(c, name, e->f.data, e->f.len, what);
	if (r != RP_OK)
		return r;
	c->rec->files_served++;
	c->rec->bytes_served += e->f.len;
	s->served_file = true;
	if (image) {
		s->served_image = true;
		s->image_index = (size_t)(e - s->files);
		memcpy(c->rec->served_sha256, e->f.sha256, sizeof(c->rec->served_sha256));
	}
	return RP_OK;
}

/* Boards often reboot instead of sending Done (F17; recovery_reboot=1
 * makes recovery.bin disconnect right after its metadata). Leaving once
 * the board has reported its metadata, or in serve mode once it was sent
 * files, is the end of the session: the verdict comes from what it said.
 * So is leaving after the image was read by a board that reports nothing
 * (no metadata expected from its recovery.bin): UNVERIFIED, not LEFT. */
static bool finished_by_leaving(struct ctx *c, struct serve_state *s, int r)
{
	if (r != RP_ERR_NO_DEVICE && r != RP_ERR_IO)
		return false;
	if (s->got_metadata || (c->o->mode == RP_SESSION_SERVE && s->served_file))
		return true;
	return s->served_image && !hash_expected(c, s);
}

/* What to check when a board stops at this point, in the words of the
 * causes real boards show: after reading the image recovery.bin checks the
 * .sig and writes; a rejected signature stops it with a blink code (C15),
 * a write-protected EEPROM makes it give up without metadata (C9, C26,
 * C28); a board that goes before the image often lacks power (C21, C22). */
static const char *stop_hint(const struct serve_state *s, int r)
{
	if (r != RP_ERR_TIMEOUT && r != RP_ERR_NO_DEVICE)
		return "";
	if (s->served_image && !s->got_metadata)
		return "; it read the image and said nothing more: check that the EEPROM is not "
		       "write-protected (WP jumper or eeprom_write_protect), that the board accepts the "
		       "signature (pieeprom.sig, a signed boot.conf), and its power supply";
	if (!s->served_file && !s->got_metadata)
		return "; it stopped before asking for anything: check the power supply, the USB cable "
		       "and hub, and that the second stage is one this board runs";
	return "";
}

/* Once the write is confirmed, nothing the board does can undo it: a
 * transfer that times out, stalls or finds the board gone ends the session
 * instead of failing it. */
static bool ends_confirmed(const struct serve_state *s, int r)
{
	return s->confirmed && (r == RP_ERR_TIMEOUT || r == RP_ERR_NO_DEVICE || r == RP_ERR_IO ||
				r == RP_ERR_PIPE);
}


int rp_session_serve(struct rp_transport *t, const struct rp_session_opts *o,
		     struct rp_board_record *rec)
{
	uint8_t msg[RP_FILE_REQUEST_SIZE];
	struct serve_state *s;
	char what[RP_PAYLOAD_NAME_MAX + 320]; /* the request, and what to check */
	uint64_t t0 = rp_now_ms();
	unsigned n;
	struct ctx c;
	int r = RP_OK;

	ctx_init(&c, t, o, rec);
	phase(&c, RP_PHASE_SERVE);
	/* On the heap: the worker threads keep small stacks. */
	s = calloc(1, sizeof(*s));
	if (!s)
		return rp_session_fail(rec, RP_ERR_NOMEM, "out of memory starting the file server");
	snprintf(s->last, sizeof(s->last), "the second stage started");
	for (n = 0;;) {
		size_t got = 0;
		if (cancelled(&c)) {
			r = rp_session_fail(rec, RP_ERR_INTERRUPTED, "aborted while serving files");
			break;
		}
		if (n == MAX_REQUESTS) {
			r = rp_session_fail(rec, RP_ERR_PROTOCOL,
					    "board sent %u requests without Done", n);
			break;
		}
		memset(msg, 0, sizeof(msg));
		r = rp_ep_read(t, msg, sizeof(msg),
			       s->linger && c.request_ms > RP_SESSION_CONFIRMED_LINGER_MS
				       ? RP_SESSION_CONFIRMED_LINGER_MS
				       : c.request_ms,
			       o->deadline_ms, &got);
		if (ends_confirmed(s, r)) {
			r = RP_OK;
			break;
		}
		/* A board erasing and writing its EEPROM can be silent for
		 * longer than one request timeout (a Pi 5 over 10 s, F19): only
		 * the board's own deadline gives up on it. */
		if (r == RP_ERR_TIMEOUT && o->deadline_ms && rp_now_ms() < o->deadline_ms)
			continue;
		if (finished_by_leaving(&c, s, r)) {
			r = RP_OK;
			break;
		}
		if (r == RP_ERR_SHORT && got >= 4 + 1)
			r = RP_OK; /* a shorter request still carries command + name; the name
				    * check below keeps to the bytes received */
		if (r == RP_ERR_SHORT) {
			r = rp_session_fail(rec, RP_ERR_PROTOCOL,
					    "board sent a %zu-byte request after %s (expected %d)",
					    got, s->last, RP_FILE_REQUEST_SIZE);
			break;
		}
		if (r != RP_OK) {
			snprintf(what, sizeof(what), "waiting for the next request (after %s)%s", s->last,
				 stop_hint(s, r));
			transfer_failed(&c, r, c.request_ms, what);
			break;
		}
		n++;
		r = handle_request(&c, s, msg, got);
		if (r == 1) {
			r = RP_OK;
			break;
		}
		if (ends_confirmed(s, r)) {
			rp_session_clear_failure(rec);
			r = RP_OK;
			break;
		}
		if (r != RP_OK)
			break;
	}
	add_phase_time(rec, RP_PHASE_SERVE, t0);
	if (r == RP_OK) {
		t0 = rp_now_ms();
		phase(&c, RP_PHASE_VERIFY);
		r = verdict(&c, rec, s, o->mode);
		add_phase_time(rec, RP_PHASE_VERIFY, t0);
		if (r == RP_OK)
			rp_session_record_finish(rec, s->served_image ? RP_RESULT_OK
								      : RP_RESULT_SERVED);
	}
	serve_state_free(o->payload, s);
	free(s);
	return r;
}
