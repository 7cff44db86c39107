/* The recorder: takes finished attempts from any thread and hands each to
 * every configured sink (sink.h) from one writer thread, so neither a slow
 * disk nor a failing database ever holds up a board. A sink that refuses
 * a record is reported and counted; the other sinks still get it, and the
 * next record goes to every sink again. Used by `station`, `flash` and
 * `boot`.
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
/* Every sink has had rec; all_ok: none refused it. */
typedef void (*rp_recorder_written_fn)(void *ctx, const struct rp_board_record *rec, bool all_ok);

struct rp_recorder_opts {
	/* Stamped on every record; copied. NULL members: none. */
	struct rp_record_origin origin;
	/* Taken: the recorder opens, feeds and closes them, and closes them
	 * also when rp_recorder_new fails. May be none. */
	struct rp_sink **sinks;
	unsigned n_sinks;
	/* Both are called from the writer thread, one call at a time; may be NULL. */
	rp_recorder_error_fn on_error;
	rp_recorder_written_fn on_written;
	void *ctx;
};

struct rp_recorder_stats {
	unsigned submitted;   /* records handed to rp_recorder_submit */
	unsigned written;     /* records every sink kept */
	unsigned failed;      /* records at least one sink refused */
	unsigned sink_errors; /* refusals and failed flushes, over all sinks */
};

struct rp_recorder;

/* Open every sink, in order (the first that fails fails the call, with
 * its message), and start the writer thread. */
int rp_recorder_new(const struct rp_recorder_opts *opts, struct rp_recorder **out,
		    struct rp_diag *d);
/* Queue a copy of rec. Any thread; only copies and signals, so it may be
 * called under locks that boards wait for (the runner's event callback). */
void rp_recorder_submit(struct rp_recorder *r, const struct rp_board_record *rec);
/* The highest attempt_id any sink that can tell has for this station (0:
 * none), so a new run continues the numbering. Before the first submit. */
int rp_recorder_last_attempt_id(struct rp_recorder *r, const char *station, uint64_t *out,
				struct rp_diag *d);
/* Wait until everything submitted so far has been given to every sink,
 * then flush the sinks. */
void rp_recorder_flush(struct rp_recorder *r);
void rp_recorder_stats(struct rp_recorder *r, struct rp_recorder_stats *out);
unsigned rp_recorder_n_sinks(const struct rp_recorder *r);
const struct rp_sink *rp_recorder_sink(const struct rp_recorder *r, unsigned i);
/* Flush (everything submitted is written first), stop the writer, close
 * every sink and free. stats (may be NULL) gets the final counts. */
void rp_recorder_close(struct rp_recorder *r, struct rp_recorder_stats *stats);

#endif
