/* The outcome of one provisioning attempt on one board: what the CLI
 * prints, the station writes to JSONL/SQLite, and `--metadata-dir` stores.
 * Everything in it that came from the device was bounded and sanitised
 * (printable ASCII) before being copied here. */
#ifndef RP_SESSION_RECORD_H
#define RP_SESSION_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/transport.h"

enum rp_board_result {
	RP_RESULT_PENDING = 0,  /* still in progress */
	RP_RESULT_OK,           /* written and confirmed (EEPROM_HASH matched, EEPROM_UPDATE success) */
	RP_RESULT_SERVED,       /* files served and Done received, nothing to confirm (boot -d) */
	RP_RESULT_FAILED,       /* protocol, verification or board-reported failure */
	RP_RESULT_TIMEOUT,      /* the board stopped answering within the per-board timeout */
	RP_RESULT_LEFT,         /* the board left the bus before finishing */
	/* The board read the image and said no failure, but its
	 * recovery.bin cannot report EEPROM_HASH (builds before 2025-11-27,
	 * or recovery_metadata=0): written as far as anyone can tell, not
	 * confirmed. Counted apart; --require-verified makes it a failure. */
	RP_RESULT_UNVERIFIED,
};

enum rp_phase {
	RP_PHASE_STAGE1 = 0,    /* boot message + second stage + return code */
	RP_PHASE_REENUM,        /* waiting for the second stage to come back on the same port */
	RP_PHASE_SERVE,         /* answering file requests */
	RP_PHASE_VERIFY,        /* checking what the board reported */
	RP_PHASE_COUNT
};

#define RP_META_MAX 32
#define RP_META_KEY_MAX 48
#define RP_META_VALUE_MAX 256

struct rp_metadata_entry {
	char key[RP_META_KEY_MAX];
	char value[RP_META_VALUE_MAX];
	/* The board's last report for this key was malformed (not printable,
	 * too long): value is "" rather than an earlier, superseded one. */
	bool invalid;
};

struct rp_board_record {
	uint64_t attempt_id;
	char port_path[RP_PORT_PATH_MAX];
	char serial[RP_SERIAL_MAX];
	char soc[8];                    /* "2711" */
	uint16_t pid;
	int64_t start_unix_ms, end_unix_ms;
	uint32_t phase_ms[RP_PHASE_COUNT];
	enum rp_board_result result;
	int error_code;                 /* rp_error, RP_OK on success */
	char error[512];                /* the reason, for FAILED/TIMEOUT/LEFT */
	struct rp_metadata_entry meta[RP_META_MAX];
	unsigned n_meta;
	unsigned meta_dropped;          /* reports refused (too many, too long, not printable) */
	char served_sha256[65];         /* sha256 hex of pieeprom.bin as served; "" if none */
	char reported_hash[65];         /* EEPROM_HASH the board reported; "" if none */
	char hash_matched[48];          /* what EEPROM_HASH matched: "served image", or the
					 * served image with the .sig's update time */
	uint64_t bytes_served;
	unsigned files_served;
	/* Names the host would not serve (absolute, "..", backslash, outside
	 * the served tree), answered as missing as rpiboot does; the first
	 * one, quoted, for the log. */
	unsigned open_retries;          /* opens that failed before one worked (F8) */
	unsigned names_refused;
	char first_refused[96];
	/* A simulated board (--simulate), never a real one: stamped by the
	 * recorder of a simulated run, kept in every record so no report
	 * counts it as production. */
	bool simulated;
};

const char *rp_board_result_name(enum rp_board_result r); /* "OK", "FAILED", ... */
/* The result named name (as stored by a record sink); PENDING if none. */
enum rp_board_result rp_board_result_from_name(const char *name);
const char *rp_phase_name(enum rp_phase p);               /* "stage1", ... */
/* Value of a metadata key, NULL when the board did not report it. */
const char *rp_board_record_meta(const struct rp_board_record *r, const char *key);

#endif
