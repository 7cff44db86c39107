/* Provisions boards from a device source as they come: one event thread
 * (the caller of rp_runner_run) takes arrivals and departures from the
 * source, and one worker thread per board runs the session, following the
 * board across its re-enumeration by USB port path. Used by `flash`,
 * `boot` and `station`. The runner never prints: everything it has to say
 * goes to the event callback. */
#ifndef RP_RUNNER_RUNNER_H
#define RP_RUNNER_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "session/payload.h"
#include "session/record.h"
#include "session/session.h"
#include "transport/source.h"

#define RP_RUNNER_MAX_FILTERS 64
/* A device that cannot be opened yet is tried again for this long, every
 * RP_RUNNER_OPEN_RETRY_GAP_MS, within the board's deadline (F8). */
#define RP_RUNNER_OPEN_RETRY_MS 3000u
#define RP_RUNNER_OPEN_RETRY_GAP_MS 100u

enum rp_runner_event_type {
	RP_RUNNER_DEVICE_IGNORED = 1, /* filtered out (port/serial/SoC) or not a boot device; never opened */
	RP_RUNNER_BOARD_STARTED,      /* a worker took the board */
	RP_RUNNER_PHASE,              /* the board entered `phase` */
	RP_RUNNER_PROGRESS,           /* bytes of `file` sent */
	RP_RUNNER_BOARD_FINISHED,     /* final record (result set) */
	RP_RUNNER_IDLE_TIMEOUT,       /* no board for idle_timeout_ms: the run ends */
};

struct rp_runner_event {
	enum rp_runner_event_type type;
	const struct rp_device_info *info;    /* the device concerned (all types but IDLE_TIMEOUT) */
	const struct rp_board_record *record; /* STARTED, PHASE, PROGRESS, FINISHED */
	enum rp_phase phase;                  /* PHASE */
	const char *file;                     /* PROGRESS: file name */
	uint64_t done, total;                 /* PROGRESS: bytes */
	const char *reason;                   /* IGNORED: why */
};

/* Called with the runner's event mutex held, so calls never overlap: keep
 * it short, and do not call back into the runner except rp_runner_stop /
 * rp_runner_abort. The pointers are valid during the call only. */
typedef void (*rp_runner_event_fn)(void *ctx, const struct rp_runner_event *ev);

struct rp_runner_opts {
	/* Everything pointed to (source, payload, filter strings) must stay
	 * valid until rp_runner_run returns. */
	struct rp_source *source;     /* not owned */
	struct rp_payload *payload;   /* not owned; shared by all boards */
	enum rp_session_mode mode;
	/* Boards of another SoC are ignored (flash: the image is for one SoC).
	 * NULL or "": any SoC the payload can serve. */
	const char *soc;
	/* Only devices whose port path matches one of these fnmatch globs
	 * ("1-1.*"), and whose serial is one of these, are touched. A
	 * BCM2711/2712 ROM reports the low 32 bits of the serial (8 hex
	 * digits), which a full 16-digit serial also matches; older ROMs
	 * report none and are selected by port only. */
	const char *port_globs[RP_RUNNER_MAX_FILTERS];
	unsigned n_port_globs;
	const char *serials[RP_RUNNER_MAX_FILTERS];
	unsigned n_serials;
	/* A serial matches only the device's string exactly, as rpiboot -i
	 * compares it (boot); otherwise case-blind, and a full 16-digit
	 * serial also matches the ROM's 8 digits. */
	bool serial_exact;
	/* Stop after this many boards finished (any result); 0: forever. */
	unsigned count;
	/* End the run when no board is in flight and none arrived for this
	 * long; 0: wait forever. 64 bits: a station may wait for days, and
	 * 32-bit milliseconds wrap after 49.7 days. */
	uint64_t idle_timeout_ms;
	/* Whole-board deadline from its first arrival; 0: 120 s. */
	uint64_t board_timeout_ms;
	/* How long a worker waits for its board to come back as the second
	 * stage after stage 1; 0: 10 s. */
	unsigned reenum_timeout_ms;
	/* Session tuning (0: session defaults). */
	unsigned transfer_timeout_ms;
	unsigned request_timeout_ms;
	size_t bulk_chunk;
	/* A write the board cannot confirm is FAILED, not UNVERIFIED. */
	bool require_verified;
	/* rp_runner_stop gives in-flight boards this long before aborting them; 0: 30 s. */
	unsigned stop_grace_ms;
	/* Records get attempt_id = attempt_id_base + 1, + 2, ... in start order
	 * (a station continuing a database passes its last id). */
	uint64_t attempt_id_base;
	/* Event callback (may be NULL). */
	rp_runner_event_fn on_event;
	void *event_ctx;
};

struct rp_runner_summary {
	unsigned finished;            /* boards that reached a final result */
	unsigned ok, served, failed, timeout, left;
	unsigned unverified;          /* written, not confirmed (RP_RESULT_UNVERIFIED) */
	unsigned ignored;             /* devices filtered out */
	bool idle_timed_out;          /* the run ended on idle_timeout_ms */
	bool stopped, aborted;        /* rp_runner_stop / rp_runner_abort were called */
};

struct rp_runner;

/* The port-glob and serial filters alone: whether they let this device
 * through, and if not, why (the reason the runner reports). Lets a caller
 * predict which known devices (simulated boards) a run will take. */
bool rp_runner_filters_accept(const char *const *port_globs, unsigned n_port_globs,
			      const char *const *serials, unsigned n_serials, bool serial_exact,
			      const struct rp_device_info *info, char *why, size_t why_size);

int rp_runner_new(const struct rp_runner_opts *opts, struct rp_runner **out, struct rp_diag *d);
/* Run until `count` boards finished, the idle timeout, rp_runner_stop
 * (then in-flight boards finish, bounded by stop_grace_ms) or
 * rp_runner_abort (in-flight boards end at their next transfer). Blocks
 * the calling thread, which becomes the event thread. Returns RP_OK when
 * the run ended by one of those conditions (inspect the summary for
 * results), or an error if the source failed. */
int rp_runner_run(struct rp_runner *r, struct rp_runner_summary *summary, struct rp_diag *d);
/* Both are async-signal-safe (an atomic flag and the source's wakeup) and
 * may be called from any thread or from the event callback. */
void rp_runner_stop(struct rp_runner *r);
void rp_runner_abort(struct rp_runner *r);
/* Only after rp_runner_run has returned (or was never called). */
void rp_runner_free(struct rp_runner *r);

#endif
