/* The manufacturing database (SQLite): one row per board (`boards`,
 * keyed by serial) and one per attempt (`attempts`). Several stations or
 * processes may write to one file at once: WAL mode, a busy timeout and
 * one IMMEDIATE transaction per attempt keep them from losing or
 * interleaving rows. The schema version lives in PRAGMA user_version;
 * opening an older database migrates it, a newer one is refused.
 *
 * Schema version 1:
 *   boards(serial PRIMARY KEY, first_seen_ms, last_seen_ms, last_result,
 *          last_error, attempts, successes, mac, soc, eeprom_hash,
 *          last_port, last_station)
 *   attempts(id PRIMARY KEY, run_id, attempt_id, station, serial, port,
 *          soc, pid, start_ms, end_ms, duration_ms, stage1_ms, reenum_ms,
 *          serve_ms, verify_ms, result, error_code, error, served_sha256,
 *          eeprom_hash, bytes_served, files_served, metadata (JSON text),
 *          metadata_dropped, UNIQUE(run_id, attempt_id))
 * Times are unix milliseconds.
 *
 * This is the SQLite backend of the record sink (sink_sqlite.c) and of the
 * query interface (query.h, sqlite_query.c); no sqlite3 type leaves these
 * files. */
#ifndef RP_RECORDS_SQLITE_DB_H
#define RP_RECORDS_SQLITE_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "session/record.h"
#include "records/record_json.h"
#include "util/error.h"

#define RP_DB_SCHEMA_VERSION 2

struct rp_db;

enum rp_db_mode {
	RP_DB_READWRITE = 0, /* create or migrate as needed */
	RP_DB_READONLY,      /* for reports: the file must exist and be current */
};

int rp_db_open(const char *path, enum rp_db_mode mode, struct rp_db **out, struct rp_diag *d);
void rp_db_close(struct rp_db *db);

/* Insert one attempt and update its board, in one transaction. Adding the
 * same (run_id, attempt_id) twice changes nothing. Thread-safe. */
int rp_db_add_attempt(struct rp_db *db, const struct rp_board_record *r,
		      const struct rp_record_origin *origin, struct rp_diag *d);

/* The highest attempt_id this station has recorded (0 when none), so a
 * new run can continue the numbering. */
int rp_db_last_attempt_id(struct rp_db *db, const char *station, uint64_t *out, struct rp_diag *d);

const char *rp_db_path(const struct rp_db *db);
/* Instead of the default 10 s. */
void rp_db_set_busy_timeout(struct rp_db *db, unsigned ms);

#endif
