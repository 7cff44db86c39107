/* The JSON form of one attempt record, shared by the JSON Lines report
 * sink, `rpiprov station --json` events, `flash --json` and tests.
 *
 * Keys: station, run_id, attempt_id, start (ISO 8601 UTC), start_unix_ms,
 * end, end_unix_ms, duration_ms, port, serial, soc, pid (hex), result
 * ("OK", "FAILED", ...), error_code (rp_error name or null), error,
 * phase_ms {stage1, reenum, serve, verify}, served_sha256, eeprom_hash (as
 * reported), bytes_served, files_served, metadata {KEY: value} and
 * metadata_dropped. Absent values are null, not "". */
#ifndef RP_RECORDS_RECORD_JSON_H
#define RP_RECORDS_RECORD_JSON_H

#include <stddef.h>

#include "records/origin.h"
#include "session/record.h"

#include <stdint.h>

struct json_object;

/* end - start in milliseconds, as every record sink stores it: 0 when the
 * end is not after the start, INT64_MAX when the difference does not fit
 * (times come from a spool file or a clock: untrusted). */
int64_t rp_record_duration_ms(const struct rp_board_record *r);

/* Plain one-line JSON text of o plus '\n' (malloc'ed; *len without the
 * NUL when len is not NULL). Takes ownership of o. NULL on failure. */
char *rp_json_line_take(struct json_object *o, size_t *len);

/* A new object with every field of the record. NULL when out of memory. */
struct json_object *rp_record_json(const struct rp_board_record *r,
				   const struct rp_record_origin *origin);

/* The record as one line of JSON ending in '\n', malloc'ed; *len without
 * the terminating NUL. NULL when out of memory. */
char *rp_record_json_line(const struct rp_board_record *r, const struct rp_record_origin *origin,
			  size_t *len);

#endif
