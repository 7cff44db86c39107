/* The recorder: takes finished attempts from any thread, makes each
 * durable in one place first (the spool, spool.h: committed to disk by
 * the spooler thread within one group commit of the board finishing),
 * then hands it to every configured sink (sink.h) from one writer
 * thread, so neither a slow disk nor a failing database ever holds up a
 * board. Used by `station`, `flash` and `boot`.
 *
 * Each sink has a cursor in the spool: the last record it has durably
 * kept. It catches up from there when it opens (after a crash: the
 * records it missed, and the few it may already have, which sinks take
 * once), and whenever it falls behind. A sink that fails for a reason that
 * can pass (a locked database, a full disk, a server that is down) keeps
 * its records queued in the spool and is tried again, with backoff, in
 * order; a sink that refuses one record for good (a serial that is no safe
 * file name) is reported and moves on to the next.
 *
 * The recorder never prints: what goes wrong goes to on_error. */
#ifndef RP_RECORDS_RECORDER_H
#define RP_RECORDS_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "records/origin.h"
#include "records/sink.h"
#include "session/record.h"
#include "util/error.h"

#define RP_RECORDER_MAX_SINKS 16

/* A sink refused a record (rec) or could not flush (rec NULL). */
typedef void (*rp_recorder_error_fn)(void *ctx, const struct rp_sink *sink,
				     const struct rp_board_record *rec, const struct rp_diag *d);
/* rec is committed to the spool (durable true: synced to disk), or the
 * spool could not keep it (durable false; on_error has said why). */
typedef void (*rp_recorder_durable_fn)(void *ctx, const struct rp_board_record *rec, bool durable);
/* Every sink has had rec; all_ok: none refused it. */
typedef void (*rp_recorder_written_fn)(void *ctx, const struct rp_board_record *rec, bool all_ok);

struct rp_recorder_opts {
	/* Stamped on every record; copied. NULL members: none. */
	struct rp_record_origin origin;
	/* Taken: the recorder opens, feeds and closes them, and closes them
	 * also when rp_recorder_new fails. May be none. */
	struct rp_sink **sinks;
	unsigned n_sinks;
	/* The spool file (spool.h); NULL: one in memory, which survives
	 * nothing (one-shot commands without a state directory). */
	const char *spool_path;
	/* A sink that cannot open at start for a reason that may pass is
	 * reported (on_error) and tried again later, its records kept in the
	 * spool, instead of failing rp_recorder_new. */
	bool open_later;
	/* The boards are simulated: every record says so (rec->simulated). */
	bool simulated;
	/* Both are called from the writer thread, one call at a time; may be NULL. */
	rp_recorder_error_fn on_error;
	rp_recorder_written_fn on_written;
	/* Once per submitted record, when its group commit to the spool has
	 * returned: the moment a board's result may be shown (nothing shown
	 * can then be lost to a crash). From the spooler thread (or, without
	 * memory to queue, the submitting one), one call at a time; no lock
	 * of the recorder is held. May be NULL. */
	rp_recorder_durable_fn on_durable;
	void *ctx;
};

struct rp_recorder_stats {
	unsigned submitted;   /* records handed to rp_recorder_submit */
	unsigned written;     /* records every sink kept */
	unsigned failed;      /* records a sink refused, or not yet in every sink at close */
	unsigned sink_errors; /* refusals, and failure episodes of a sink (each reported once) */
	unsigned caught_up;   /* records of earlier runs delivered from the spool */
	uint64_t backlog;     /* records not yet in every sink (kept in the spool) */
};

struct rp_recorder;

/* Open the spool and every sink, in order (the first that fails fails
 * the call, with its message, unless open_later), and start the writer
 * thread, which first catches every sink up with the spool. */
int rp_recorder_new(const struct rp_recorder_opts *opts, struct rp_recorder **out,
		    struct rp_diag *d);
/* Queue a copy of rec for the spooler thread, which commits whatever has
 * queued in one synced SQLite transaction (group commit) and then wakes
 * the writer. Any thread; only copies and signals, so it may be called
 * under locks that boards wait for (the runner's event callback): a sync
 * per board there stalled every other board's events. A record the spool
 * cannot keep (its disk is full) is reported through on_error with sink
 * NULL and handed straight to every sink that can take it now (counted
 * as failed for each that cannot). rp_recorder_flush waits for the
 * spool. */
void rp_recorder_submit(struct rp_recorder *r, const struct rp_board_record *rec);
/* The highest attempt_id any sink that can tell has for this station (0:
 * none), so a new run continues the numbering. Before the first submit. */
int rp_recorder_last_attempt_id(struct rp_recorder *r, const char *station, uint64_t *out,
				struct rp_diag *d);
/* Wait until every sink has been offered everything submitted so far:
 * each has it, or has failed and keeps it queued. */
void rp_recorder_flush(struct rp_recorder *r);
/* From monotonic time deadline_ms on (rp_now_ms; 0: now), a flush or
 * close that still waits for a sink gives up on it: every sink is
 * interrupted (sink.h), nothing more is delivered, and what sinks lack
 * stays in the spool for the next start. Any thread (a stop signal: the
 * stop grace; a second one: now). */
void rp_recorder_give_up_at(struct rp_recorder *r, uint64_t deadline_ms);
/* Records not yet delivered to every sink, and how long ago the oldest of
 * them was spooled (0 when none). Any thread. */
void rp_recorder_backlog(struct rp_recorder *r, uint64_t *records, int64_t *oldest_age_ms);
void rp_recorder_stats(struct rp_recorder *r, struct rp_recorder_stats *out);
/* The last commit to the spool failed (records since go straight to the
 * sinks, with no second chance). Any thread. */
bool rp_recorder_spool_failing(struct rp_recorder *r);
unsigned rp_recorder_n_sinks(const struct rp_recorder *r);
const struct rp_sink *rp_recorder_sink(const struct rp_recorder *r, unsigned i);
/* Flush (one last try for every sink; a failing sink is tried again for
 * 2 s, or 60 s when the spool is in memory and its records would be
 * lost, unless rp_recorder_give_up_at says otherwise), stop the writer,
 * close every sink and the spool, and free. Records some sink still lacks stay in a
 * spool file for the next start (counted in failed and backlog; their
 * on_written comes now, all_ok false). stats (may be NULL) gets the final
 * counts. */
void rp_recorder_close(struct rp_recorder *r, struct rp_recorder_stats *stats);

#endif
