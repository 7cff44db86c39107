#include "session/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "transport/devices.h"
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

static int64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	const struct rp_device_desc *dev = rp_device_lookup(info->vid, info->pid);
	memset(rec, 0, sizeof(*rec));
	rec->attempt_id = attempt_id;
	copy_printable(rec->port_path, sizeof(rec->port_path), info->port_path);
	copy_printable(rec->serial, sizeof(rec->serial), info->serial);
	copy_printable(rec->soc, sizeof(rec->soc), dev ? dev->soc : "");
	rec->pid = info->pid;
	rec->start_unix_ms = unix_ms();
	rec->result = RP_RESULT_PENDING;
	rec->error_code = RP_OK;
}

void rp_session_record_finish(struct rp_board_record *rec, enum rp_board_result result)
{
	rec->end_unix_ms = unix_ms();
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
	const struct rp_device_desc *dev = rp_device_lookup(t->info.vid, t->info.pid);
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

	r = rp_ep_read(t, ret, sizeof(ret), c.request_ms, o->deadline_ms, NULL);
	if (r == RP_ERR_NO_DEVICE) {
		/* Every byte of the second stage was accepted; a ROM that
		 * starts it before the status read completes drops off the
		 * bus first. Whether it worked shows when (and if) the second
		 * stage enumerates on this port. */
		r = RP_OK;
		goto out;
	}
	if (r == RP_ERR_SHORT) {
		r = rp_session_fail(rec, RP_ERR_PROTOCOL,
				    "boot ROM sent a short return code after %s", dev->second_stage);
		goto out;
	}
	if (r != RP_OK) {
		r = transfer_failed(&c, r, c.request_ms, "reading the boot ROM's return code");
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

static bool is_eeprom_image(const char *name)
{
	for (size_t i = 0; i < sizeof(eeprom_image_names) / sizeof(eeprom_image_names[0]); i++)
		if (!strcmp(name, eeprom_image_names[i]))
			return true;
	return false;
}

static bool meta_key_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* Record one "*KEY*VALUE" report (name is NUL-terminated, starts with
 * '*'). Malformed, oversize or non-printable reports are counted and
 * dropped; they never end the session, as metadata is the board talking
 * about itself, and the checks that matter look at specific keys. */
static void record_metadata(struct rp_board_record *rec, const char *name)
{
	const char *key = name + 1;
	const char *star = strchr(key, '*');
	size_t klen, vlen;
	unsigned i;

	if (!star) {
		rec->meta_dropped++;
		return;
	}
	klen = (size_t)(star - key);
	vlen = strlen(star + 1);
	if (!klen || klen >= RP_META_KEY_MAX || vlen >= RP_META_VALUE_MAX) {
		rec->meta_dropped++;
		return;
	}
	for (i = 0; i < klen; i++)
		if (!meta_key_char(key[i])) {
			rec->meta_dropped++;
			return;
		}
	for (i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)star[1 + i];
		if (ch < 0x20 || ch >= 0x7f) {
			rec->meta_dropped++;
			return;
		}
	}
	for (i = 0; i < rec->n_meta; i++)
		if (strlen(rec->meta[i].key) == klen && !memcmp(rec->meta[i].key, key, klen))
			break;
	if (i == rec->n_meta) {
		if (rec->n_meta >= RP_META_MAX) {
			rec->meta_dropped++;
			return;
		}
		rec->n_meta++;
	}
	memcpy(rec->meta[i].key, key, klen);
	rec->meta[i].key[klen] = '\0';
	memcpy(rec->meta[i].value, star + 1, vlen + 1);
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

/* What the board reported against what was served. */
static int verify_eeprom(struct rp_board_record *rec)
{
	const char *update = rp_board_record_meta(rec, "EEPROM_UPDATE");
	const char *hash = rp_board_record_meta(rec, "EEPROM_HASH");

	if (hash && hash[0]) {
		if (!is_sha256_hex(hash))
			return rp_session_fail(rec, RP_ERR_VERIFY,
					       "board reported a malformed EEPROM_HASH \"%.70s\"", hash);
		for (size_t i = 0; i < 65; i++)
			rec->reported_hash[i] = (char)(hash[i] >= 'A' && hash[i] <= 'F'
							       ? hash[i] - 'A' + 'a'
							       : hash[i]);
	}
	if (update && !update_succeeded(update))
		return rp_session_fail(rec, RP_ERR_BOARD, "EEPROM_UPDATE=%s: the board did not write the EEPROM",
				       update);
	if (!hash || !hash[0])
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "board did not report EEPROM_HASH: the write cannot be confirmed%s",
				       rec->n_meta ? "" : " (no metadata at all: recovery_metadata=0 or write-protect pin held?)");
	if (strcmp(rec->reported_hash, rec->served_sha256) != 0)
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "EEPROM_HASH %s does not match served image %s",
				       rec->reported_hash, rec->served_sha256);
	if (!update)
		return rp_session_fail(rec, RP_ERR_VERIFY,
				       "board did not report EEPROM_UPDATE: the write cannot be confirmed");
	return RP_OK;
}

struct current_file {
	char name[RP_PAYLOAD_NAME_MAX];
	struct rp_payload_file f;
	int status; /* lookup result for name */
	bool valid;
};

static int lookup_cached(struct ctx *c, struct current_file *cur, const char *name)
{
	struct rp_diag d;
	if (cur->valid && !strcmp(cur->name, name))
		return cur->status;
	if (cur->valid)
		rp_payload_file_release(c->o->payload, &cur->f);
	rp_diag_clear(&d);
	cur->status = rp_payload_lookup(c->o->payload, c->rec->soc, c->t->info.port_path, name,
					&cur->f, &d);
	snprintf(cur->name, sizeof(cur->name), "%s", name);
	cur->valid = true;
	if (cur->status != RP_OK && cur->status != RP_ERR_NOT_FOUND)
		rp_session_fail(c->rec, cur->status, "cannot serve %s: %s", name,
				rp_diag_message(&d));
	return cur->status;
}

/* One request, already read into msg (got bytes). Returns RP_OK to go
 * on, 1 when the board said Done, or a failure. */
static int handle_request(struct ctx *c, struct current_file *cur, const uint8_t *msg, size_t got,
			  bool *served_image, char *last, size_t last_size)
{
	char name[RP_PAYLOAD_NAME_MAX], quoted[96];
	const char *raw = (const char *)msg + 4;
	uint32_t cmd = rp_get_le32(msg);
	size_t name_len = got - 4;
	struct rp_diag d;
	char what[RP_PAYLOAD_NAME_MAX + 64];
	int r;

	if (cmd > RP_CMD_DONE)
		return rp_session_fail(c->rec, RP_ERR_PROTOCOL,
				       "board sent unknown command %u (0x%08x) after %s; expected 0 "
				       "GetFileSize, 1 ReadFile or 2 Done",
				       cmd, cmd, last);
	if (cmd == RP_CMD_DONE)
		return 1;
	if (!memchr(raw, '\0', name_len)) {
		rp_payload_quote(raw, name_len, quoted, sizeof(quoted));
		return rp_session_fail(c->rec, RP_ERR_PROTOCOL,
				       "file name in the board's request is not NUL-terminated within "
				       "%zu bytes (\"%s\")",
				       name_len, quoted);
	}
	if (!raw[0])
		return 1;
	if (raw[0] == '*') {
		record_metadata(c->rec, raw);
		snprintf(last, last_size, "metadata");
		snprintf(what, sizeof(what), "acknowledging metadata");
		r = rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	rp_diag_clear(&d);
	r = rp_payload_check_name(raw, name_len, name, &d);
	if (r != RP_OK)
		return rp_session_fail(c->rec, r, "board asked for a file the host refuses to serve: %s",
				       rp_diag_message(&d));
	r = lookup_cached(c, cur, name);
	if (r != RP_OK && r != RP_ERR_NOT_FOUND)
		return r;
	if (cmd == RP_CMD_GET_FILE_SIZE) {
		uint32_t size = r == RP_OK ? (uint32_t)cur->f.len : 0;
		snprintf(last, last_size, "the size of %s", name);
		snprintf(what, sizeof(what), "answering the size of %s", name);
		r = rp_ep_write_header(c->t, size, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	snprintf(last, last_size, "%s", name);
	if (r == RP_ERR_NOT_FOUND) {
		snprintf(what, sizeof(what), "telling the board %s is missing", name);
		r = rp_ep_write_header(c->t, 0, c->transfer_ms, c->o->deadline_ms);
		return r == RP_OK ? RP_OK : transfer_failed(c, r, c->transfer_ms, what);
	}
	snprintf(what, sizeof(what), "sending %s (%zu bytes)", name, cur->f.len);
	r = send_bytes(c, name, cur->f.data, cur->f.len, what);
	if (r != RP_OK)
		return r;
	c->rec->files_served++;
	c->rec->bytes_served += cur->f.len;
	if (is_eeprom_image(name)) {
		*served_image = true;
		memcpy(c->rec->served_sha256, cur->f.sha256, sizeof(c->rec->served_sha256));
	}
	return RP_OK;
}

int rp_session_serve(struct rp_transport *t, const struct rp_session_opts *o,
		     struct rp_board_record *rec)
{
	uint8_t msg[RP_FILE_REQUEST_SIZE];
	struct current_file cur = { .valid = false };
	bool served_image = false;
	char last[RP_PAYLOAD_NAME_MAX + 16] = "the second stage started";
	char what[RP_PAYLOAD_NAME_MAX + 64];
	uint64_t t0 = rp_now_ms();
	unsigned n;
	struct ctx c;
	int r = RP_OK;

	ctx_init(&c, t, o, rec);
	phase(&c, RP_PHASE_SERVE);
	for (n = 0;; n++) {
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
		r = rp_ep_read(t, msg, sizeof(msg), c.request_ms, o->deadline_ms, &got);
		if (r == RP_ERR_SHORT && got >= 4 + 1)
			r = RP_OK; /* a shorter request still carries command + name; the name
				    * check below keeps to the bytes received */
		if (r == RP_ERR_SHORT) {
			r = rp_session_fail(rec, RP_ERR_PROTOCOL,
					    "board sent a %zu-byte request after %s (expected %d)",
					    got, last, RP_FILE_REQUEST_SIZE);
			break;
		}
		if (r != RP_OK) {
			snprintf(what, sizeof(what), "waiting for the next request (after %s)", last);
			transfer_failed(&c, r, c.request_ms, what);
			break;
		}
		r = handle_request(&c, &cur, msg, got, &served_image, last, sizeof(last));
		if (r == 1) {
			r = RP_OK;
			break;
		}
		if (r != RP_OK)
			break;
	}
	if (cur.valid)
		rp_payload_file_release(o->payload, &cur.f);
	add_phase_time(rec, RP_PHASE_SERVE, t0);
	if (r != RP_OK)
		return r;

	t0 = rp_now_ms();
	phase(&c, RP_PHASE_VERIFY);
	if (served_image)
		r = verify_eeprom(rec);
	else if (o->mode == RP_SESSION_FLASH)
		r = rp_session_fail(rec, RP_ERR_PROTOCOL,
				    "board said Done without reading pieeprom.bin: nothing was written");
	add_phase_time(rec, RP_PHASE_VERIFY, t0);
	if (r == RP_OK)
		rp_session_record_finish(rec, served_image ? RP_RESULT_OK : RP_RESULT_SERVED);
	return r;
}
