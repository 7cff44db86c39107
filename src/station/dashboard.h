/* The model behind the web dashboard (`station --http`): what every port
 * is doing, totals, the last failures, the finished attempts of this run,
 * counters and phase-time histograms for /metrics, and a ring of recent
 * events (the `--json` lines) for Server-Sent Events.
 *
 * rp_dash_event is called from the runner's event callback, with the lock
 * every board's worker takes between transfers held: it only updates
 * small structures and formats the event's JSON line (as `--json` does).
 * Readers (the HTTP threads) take the model's own lock for a copy and
 * render outside it, so a slow browser never holds up a board. Text is
 * shared between them as immutable reference-counted strings. */
#ifndef RP_STATION_DASHBOARD_H
#define RP_STATION_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/origin.h"
#include "runner/runner.h"

#define RP_DASH_MAX_FIRMWARE 4

struct rp_dash_firmware {
	const char *soc, *image, *sha256; /* copied */
};

/* Records handed to the recorder but not yet in every sink, and the age
 * of the oldest (-1: unknown). */
typedef void (*rp_dash_backlog_fn)(void *ctx, uint64_t *records, int64_t *oldest_age_ms);

struct rp_dash_opts {
	struct rp_record_origin origin; /* copied */
	struct rp_dash_firmware firmware[RP_DASH_MAX_FIRMWARE];
	unsigned n_firmware;
	int64_t process_start_unix_ms;
	rp_dash_backlog_fn backlog; /* may be NULL */
	/* True while records may be lost (the spool cannot be written): the
	 * status says so ("records_at_risk") and /metrics too. May be NULL;
	 * called with backlog_ctx. */
	bool (*records_at_risk)(void *ctx);
	void *backlog_ctx;
};

struct rp_dash;

int rp_dash_new(const struct rp_dash_opts *opts, struct rp_dash **out);
void rp_dash_free(struct rp_dash *d);

/* now_ms: rp_now_ms(); wall_ms: rp_wall_now_ms(). */
void rp_dash_event(struct rp_dash *d, const struct rp_runner_event *ev, uint64_t now_ms, int64_t wall_ms);

/* Rendered documents (malloc'ed, NUL-terminated; NULL when out of memory). */
/* seq_out (may be NULL): the newest event the document includes. */
char *rp_dash_status_json(struct rp_dash *d, uint64_t now_ms, int64_t wall_ms, uint64_t *seq_out,
			  size_t *len);
/* The attempts of this run that started at or after since_unix_ms
 * (INT64_MIN: all that are kept), as one document, streamed: open takes
 * references to the attempts
 * chosen now; read gives the next up to max bytes (0: the end); close
 * lets go. NULL from open: out of memory. */
struct rp_dash_attempts;
struct rp_dash_attempts *rp_dash_attempts_open(struct rp_dash *d, int64_t since_unix_ms);
size_t rp_dash_attempts_read(struct rp_dash_attempts *a, char *buf, size_t max);
void rp_dash_attempts_close(struct rp_dash_attempts *a);
char *rp_dash_metrics(struct rp_dash *d, uint64_t now_ms, size_t *len);

/* Server-Sent Events. Up to cap bytes of complete messages for the events
 * after *seq (each "id: N\nevent: NAME\ndata: JSON\n\n"), *seq advanced
 * past them. When *seq is older than the ring keeps, one "resync" message
 * is written instead and *seq jumps to the newest. Returns the bytes
 * written, 0 when nothing is new. */
size_t rp_dash_sse_after(struct rp_dash *d, uint64_t *seq, char *buf, size_t cap);
/* The newest event's sequence number (0: none yet). */
uint64_t rp_dash_seq(struct rp_dash *d);
/* Wait until an event newer than seq arrives, rp_dash_wake, or timeout.
 * Returns true when there is something new. */
bool rp_dash_wait(struct rp_dash *d, uint64_t seq, unsigned timeout_ms);
/* Wake every waiter for good (the server is stopping). */
void rp_dash_wake(struct rp_dash *d);

#endif
