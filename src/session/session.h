/* One board through the rpiboot protocol: stage 1 on the boot ROM
 * (boot message, second stage, return code), then, on the re-enumerated
 * device, the file server that answers the second stage's requests,
 * records its metadata and, when an EEPROM image was served, checks what
 * the board says it wrote.
 *
 * The functions block on transfers (each bounded by a timeout and by the
 * board's overall deadline) and never sleep. Every failure sets
 * record->result (FAILED, TIMEOUT or LEFT), record->error_code and a
 * specific sentence in record->error, and returns the rp_error code. */
#ifndef RP_SESSION_SESSION_H
#define RP_SESSION_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session/payload.h"
#include "session/record.h"
#include "transport/transport.h"

enum rp_session_mode {
	/* Flash: the run is about writing the EEPROM, so the board must
	 * confirm it (EEPROM_UPDATE success and EEPROM_HASH equal to the
	 * served image) to be OK. */
	RP_SESSION_FLASH = 0,
	/* Serve (rpiboot -d): SERVED when Done arrives and the board never
	 * went for an EEPROM image. Once it asked for one (pieeprom.bin or
	 * pieeprom.upd, in any folder), the image must have been served and
	 * is then verified as in flash mode: asked but missing, or sized but
	 * never read, fails. In both modes a reported EEPROM_UPDATE other
	 * than success, or a malformed or conflicting EEPROM_* report, fails
	 * the board. */
	RP_SESSION_SERVE,
};

/* Defaults used when a field is 0. */
#define RP_SESSION_DEFAULT_TRANSFER_MS 5000u   /* one control/bulk OUT transfer */
#define RP_SESSION_DEFAULT_REQUEST_MS 20000u   /* waiting for the board's next request */
/* Bulk OUT chunk: 1 MiB, so a 512 KiB image or a 100 KiB recovery.bin is
 * one bulk call (a 2 MiB 2712 image two): the fewest transfers and
 * wake-ups per board, which is what host CPU per board is made of. The
 * backend splits it into URBs itself. The per-chunk timeout stays
 * meaningful: 1 MiB takes ~30 ms at high speed and ~1 s even at USB 1.1
 * full speed, well inside the 5 s default. (rpiboot uses 16 KiB chunks.) */
#define RP_SESSION_DEFAULT_BULK_CHUNK (1u << 20)
/* Once the board has confirmed its write and then asked for a file nobody
 * has, how long to wait for anything more before calling it finished: a
 * CM5's recovery.bin can hang there (C19), and the verdict is known. */
#define RP_SESSION_CONFIRMED_LINGER_MS 3000u

struct rp_session_hooks {
	void *ctx;
	/* A new phase begins (stage1, reenum, serve, verify). */
	void (*phase)(void *ctx, enum rp_phase phase);
	/* Bytes of `name` sent so far out of `total`. */
	void (*progress)(void *ctx, const char *name, uint64_t done, uint64_t total);
	/* Polled between transfers: true ends the session with
	 * RP_ERR_INTERRUPTED (result FAILED, "aborted"). */
	bool (*cancelled)(void *ctx);
};

struct rp_session_opts {
	struct rp_payload *payload;
	enum rp_session_mode mode;
	unsigned transfer_timeout_ms; /* per OUT transfer (header, each bulk chunk) */
	unsigned request_timeout_ms;  /* per ep_read of the next request or return code: the
				       * board answers when it has something to say (after
				       * erasing and writing the EEPROM, seconds later) */
	size_t bulk_chunk;            /* bytes per bulk OUT call */
	uint64_t deadline_ms;         /* rp_now_ms() value after which the board is given up
				       * (TIMEOUT); 0: none beyond the per-transfer timeouts */
	/* A write the board's recovery.bin cannot confirm (no EEPROM_HASH)
	 * fails instead of ending UNVERIFIED. */
	bool require_verified;
	struct rp_session_hooks hooks;
};

/* Start a record for a board first seen as `info` (attempt_id, port,
 * serial, pid, soc, start time; result PENDING). */
void rp_session_record_init(struct rp_board_record *rec, const struct rp_device_info *info,
			    uint64_t attempt_id);
/* Finish the record: end time, and when still PENDING the given result. */
void rp_session_record_finish(struct rp_board_record *rec, enum rp_board_result result);
/* Mark the record failed with a reason (printf-style). The result is
 * derived from code: RP_ERR_TIMEOUT -> TIMEOUT, RP_ERR_NO_DEVICE -> LEFT,
 * anything else FAILED. Returns code. */
int rp_session_fail(struct rp_board_record *rec, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Take back a failure the caller recovers from (stage 1 tried again):
 * the record is PENDING again, with no reason. */
void rp_session_clear_failure(struct rp_board_record *rec);

/* Stage 1 on a boot ROM transport: send the second stage the payload has
 * for this board's SoC and read the ROM's return code. On success the
 * board is about to drop off the bus and come back as the second stage;
 * the caller closes t and waits for it (the runner follows it by port). */
int rp_session_stage1(struct rp_transport *t, const struct rp_session_opts *o,
		      struct rp_board_record *rec);

/* Stage 2 on a second-stage transport: serve requests until Done (or an
 * empty name), then verify according to the mode. Sets record->result to
 * OK/SERVED on success. Each name is looked up once per session and that
 * version is held until the session ends, so a size announced, the bytes
 * sent and the digest verified always belong to the same file contents. */
int rp_session_serve(struct rp_transport *t, const struct rp_session_opts *o,
		     struct rp_board_record *rec);

/* Wire helpers (rpiboot's ep_write/ep_read), exposed for the device-side
 * tests and the fuzzer. ep_write sends the control OUT header carrying len
 * (wValue = len & 0xffff, wIndex = len >> 16) then len bytes of bulk OUT
 * in chunks of `chunk` (0: default); data may be NULL when len is 0.
 * *sent (may be NULL) gets the bulk bytes accepted. */
int rp_ep_write(struct rp_transport *t, const void *data, size_t len, size_t chunk,
		unsigned timeout_ms, uint64_t deadline_ms, size_t *sent);
/* The control OUT header alone: the GetFileSize reply carrying `size`. */
int rp_ep_write_header(struct rp_transport *t, uint32_t size, unsigned timeout_ms,
		       uint64_t deadline_ms);
/* Control IN of exactly len bytes; fewer is RP_ERR_SHORT, *got says how many. */
int rp_ep_read(struct rp_transport *t, void *buf, size_t len, unsigned timeout_ms,
	       uint64_t deadline_ms, size_t *got);

/* The 24-byte boot message and 260-byte request layouts. */
#define RP_BOOT_MESSAGE_SIZE 24
#define RP_FILE_REQUEST_SIZE 260

enum rp_file_command {
	RP_CMD_GET_FILE_SIZE = 0,
	RP_CMD_READ_FILE = 1,
	RP_CMD_DONE = 2,
};

#endif
