/* The spool: the one place a finished attempt is made durable first, and
 * from which every record sink catches up (recorder.h). A local SQLite
 * file in WAL mode with synchronous=FULL, so an attempt appended here has
 * reached the disk before the board's result is shown to anyone; each
 * sink's position (the last seq it has durably kept, its cursor) lives in
 * the same file, so a restart after SIGKILL or power loss resumes every
 * sink where it was. Sinks are idempotent for the few records a crash can
 * make them see twice (sink.h).
 *
 * One process owns a spool file at a time (an exclusive flock held while
 * it is open): two stations sharing one would take each other's records.
 *
 * Tables: records(seq INTEGER PRIMARY KEY AUTOINCREMENT, created_ms,
 * station, run_id, attempt_id, body = record_codec.h text),
 * cursors(sink TEXT PRIMARY KEY, seq). Records every current sink has are
 * pruned. The spool is internal state, not an interface: its schema may
 * change between versions (PRAGMA user_version says which). */
#ifndef RP_RECORDS_SPOOL_H
#define RP_RECORDS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/origin.h"
#include "session/record.h"
#include "util/error.h"

struct rp_spool;

struct rp_spool_item {
	uint64_t seq;
	int64_t created_ms; /* wall clock when it was spooled */
	char station[RP_ORIGIN_STATION_MAX];
	char run_id[RP_ORIGIN_RUN_ID_MAX];
	struct rp_record_origin origin; /* points into the two above */
	struct rp_board_record rec;
};

/* path NULL: an in-memory spool, for one-shot commands without a state
 * directory (nothing survives the process). The parent directory is
 * created. RP_ERR_BUSY: another process has it; RP_ERR_FORMAT: the file is
 * not an rpiprov spool. */
int rp_spool_open(const char *path, struct rp_spool **out, struct rp_diag *d);
void rp_spool_close(struct rp_spool *sp);
const char *rp_spool_path(const struct rp_spool *sp);

/* Append one attempt and commit it to disk; *seq is its position. */
int rp_spool_append(struct rp_spool *sp, const struct rp_record_origin *origin,
		    const struct rp_board_record *rec, uint64_t *seq, struct rp_diag *d);
/* n attempts in one transaction (one sync); seqs[i] is recs[i]'s. */
int rp_spool_append_many(struct rp_spool *sp, const struct rp_record_origin *origin,
			 const struct rp_board_record *const *recs, size_t n, uint64_t *seqs,
			 struct rp_diag *d);
/* The highest seq ever appended (0: none). */
uint64_t rp_spool_head(struct rp_spool *sp);
/* Up to max records with seq > after, in order, into items. */
int rp_spool_read(struct rp_spool *sp, uint64_t after, struct rp_spool_item *items, size_t max,
		  size_t *n, struct rp_diag *d);
/* A record whose body does not decode is moved to the table set_aside
 * (kept, with why) and the read goes on past it; this gives the message
 * for each such record once (false: none waiting). */
bool rp_spool_take_set_aside(struct rp_spool *sp, struct rp_diag *d);
/* When the first record after `after` was spooled (0 when there is none). */
int64_t rp_spool_created_after(struct rp_spool *sp, uint64_t after);

/* A sink's cursor. A sink the spool has not seen, or whose cursor points
 * before records since pruned, starts at the head: it gets what comes
 * from now on. */
int rp_spool_cursor(struct rp_spool *sp, const char *sink, uint64_t *out, struct rp_diag *d);
/* The spool has a cursor for this sink. */
bool rp_spool_has_cursor(struct rp_spool *sp, const char *sink);
/* Store n cursors, and forget records up to prune_upto (0: none; every
 * sink has them), in one transaction. */
int rp_spool_set_cursors(struct rp_spool *sp, const char *const *sinks, const uint64_t *seqs,
			 size_t n, uint64_t prune_upto, struct rp_diag *d);
/* Forget records up to and including seq (every sink has them). */
int rp_spool_prune(struct rp_spool *sp, uint64_t seq, struct rp_diag *d);
/* The highest attempt_id spooled for this station (0: none). */
int rp_spool_last_attempt_id(struct rp_spool *sp, const char *station, uint64_t *out,
			     struct rp_diag *d);

#endif
