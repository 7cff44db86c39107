/* The station's JSON Lines report: one object per attempt, appended and
 * flushed to disk as each board finishes, so a crash or power cut loses
 * at most the board in flight. Several processes (or threads) may append
 * to the same file: each line goes out in one write() on an O_APPEND
 * descriptor, which the kernel never interleaves.
 *
 * Keys of each line: station, run_id, attempt_id, start (ISO 8601 UTC),
 * start_unix_ms, end, end_unix_ms, duration_ms, port, serial, soc, pid
 * (hex), result ("OK", "FAILED", ...), error_code (rp_error name or null),
 * error, phase_ms {stage1, reenum, serve, verify}, served_sha256,
 * eeprom_hash (as reported), bytes_served, files_served, metadata {KEY:
 * value} and metadata_dropped. */
#ifndef RP_STATION_REPORT_JSONL_H
#define RP_STATION_REPORT_JSONL_H

#include "session/record.h"
#include "station/record_json.h"
#include "util/error.h"

struct rp_jsonl_report;

/* Open (create) `path` for appending; its directory is created if needed.
 * origin is copied. */
int rp_jsonl_report_open(const char *path, const struct rp_record_origin *origin,
			 struct rp_jsonl_report **out, struct rp_diag *d);
/* Append one record and fdatasync. Safe to call from several threads. */
int rp_jsonl_report_append(struct rp_jsonl_report *j, const struct rp_board_record *r,
			   struct rp_diag *d);
void rp_jsonl_report_close(struct rp_jsonl_report *j);

#endif
