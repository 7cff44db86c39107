/* Records as a board would leave them, for the tests of records/: every
 * field set, metadata included, failures with a message that needs
 * quoting in CSV and JSON. */
#ifndef RP_TESTS_RECORD_FIXTURES_H
#define RP_TESTS_RECORD_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "session/record.h"
#include "util/error.h"

#define HASH_A "a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

static inline void add_meta(struct rp_board_record *r, const char *k, const char *v)
{
	snprintf(r->meta[r->n_meta].key, sizeof(r->meta[0].key), "%s", k);
	snprintf(r->meta[r->n_meta].value, sizeof(r->meta[0].value), "%s", v);
	r->n_meta++;
}

static inline void make_record(struct rp_board_record *r, uint64_t id, const char *port, const char *serial,
			enum rp_board_result res, int64_t start_ms, uint32_t dur_ms)
{
	memset(r, 0, sizeof(*r));
	r->attempt_id = id;
	snprintf(r->port_path, sizeof(r->port_path), "%s", port);
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	snprintf(r->soc, sizeof(r->soc), "2711");
	r->pid = 0x2711;
	r->start_unix_ms = start_ms;
	r->end_unix_ms = start_ms + dur_ms;
	r->phase_ms[RP_PHASE_STAGE1] = dur_ms / 10;
	r->phase_ms[RP_PHASE_REENUM] = dur_ms / 5;
	r->phase_ms[RP_PHASE_SERVE] = dur_ms / 2;
	r->phase_ms[RP_PHASE_VERIFY] = 3;
	r->result = res;
	if (res != RP_RESULT_OK) {
		r->error_code = res == RP_RESULT_TIMEOUT ? RP_ERR_TIMEOUT : RP_ERR_VERIFY;
		snprintf(r->error, sizeof(r->error), "board %s on %s: EEPROM_HASH \"bad\" != served, with a \"quote\", comma",
			 serial, port);
	}
	add_meta(r, "MAC_ADDR", "dc:a6:32:00:00:01");
	add_meta(r, "EEPROM_UPDATE", res == RP_RESULT_OK ? "success" : "failed");
	add_meta(r, "EEPROM_HASH", HASH_A);
	snprintf(r->served_sha256, sizeof(r->served_sha256), HASH_A);
	snprintf(r->reported_hash, sizeof(r->reported_hash), res == RP_RESULT_OK ? HASH_A : "");
	r->bytes_served = 524288 + 100000;
	r->files_served = 4;
	r->meta_dropped = 1;
}

#endif
