/* Threads: the caller of rp_runner_run is the event thread; each board
 * gets its own worker thread that runs the whole session with blocking
 * transfers. One thread per board (rather than one event loop driving
 * asynchronous transfers) keeps the protocol code a straight line that
 * reads like the wire format, and makes isolation automatic: a board
 * that stalls or answers slowly only ever blocks its own thread, bounded
 * by its transfer timeouts and deadline. The cost is a small stack per
 * board in flight, which is nothing next to a tray of 64.
 *
 * A board re-enumerates after stage 1. Its worker keeps the board (the
 * record and the deadline) and waits on a condition variable for the
 * event thread to hand it the ARRIVED event of a second stage on the same
 * port path; no polling, no sleeps. Who may take which device when is one
 * state machine per attempt, port_fsm.h (its header has the table of
 * states x events): both threads only feed it events under r->lock and
 * carry out the actions it returns. An arrival no attempt claims, and a
 * second stage an attempt was handed but will not serve (ORPHAN), gets an
 * attempt of its own, so a board on the bus is never silently absorbed. */
#include "runner/runner.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runner/port_fsm.h"
#include "soc/soc.h"
#include "util/clock.h"

#define DEFAULT_BOARD_TIMEOUT_MS 120000u
#define DEFAULT_REENUM_TIMEOUT_MS 10000u
#define DEFAULT_STOP_GRACE_MS 30000u
/* Stage 1 per attempt: the first, and more for a board that came back as
 * its ROM (C16, C17) or stayed stuck in it (C13), within its deadline. */
#define STAGE1_TRIES 4
/* wait_second_stage: stage 1 is to run again (the state is STAGE1). */
#define WAIT_RESTART 1
#define WORKER_STACK (512u << 10) /* the session keeps its buffers small; ASan needs headroom */

struct board {
	struct board *next;
	struct rp_runner *r;
	pthread_t thread;
	bool thread_started;
	pthread_cond_t cond;            /* the worker waits in REENUM* */
	struct rp_device_info first;    /* the ROM the attempt runs stage 1 on: the arrival
					 * that started it, or the ROM it came back as
					 * (restart_stage1); written by the worker under
					 * r->lock, read by the event thread under it */

	/* under r->lock */
	enum port_state state;
	struct rp_device_info second;   /* claimed from the event thread (see holds_second) */

	/* the worker's own */
	struct rp_board_record rec;
	const struct rp_device_info *current;
};

struct rp_runner {
	struct rp_runner_opts o;
	pthread_mutex_t lock;           /* boards, counters */
	pthread_mutex_t event_lock;     /* serialises the callback */
	atomic_bool stop, abort;
	struct board *boards;
	unsigned started, in_flight;
	uint64_t next_attempt;
	uint64_t last_activity;
	struct rp_runner_summary sum;
	bool running;
};

static void emit(struct rp_runner *r, struct rp_runner_event *ev)
{
	if (!r->o.on_event)
		return;
	pthread_mutex_lock(&r->event_lock);
	r->o.on_event(r->o.event_ctx, ev);
	pthread_mutex_unlock(&r->event_lock);
}

/* Under r->lock: one step of the board's state machine. Waking the
 * worker is done here, under the lock it waits with; the caller carries
 * out the other actions. */
static struct port_step feed(struct board *b, enum port_event e)
{
	struct port_step st = port_fsm_step(b->state, e);

	b->state = (enum port_state)st.next;
	if (st.actions & PA_WAKE)
		pthread_cond_signal(&b->cond);
	return st;
}

/* Whether `second` holds a device claimed for this board (under r->lock). */
static bool holds_second(const struct board *b)
{
	switch (b->state) {
	case PS_STAGE1_HANDED:
	case PS_ORPHAN:
	case PS_ORPHAN_DONE:
	case PS_ROM_BACK:
		return true;
	case PS_SERVE:
		return b->first.stage == RP_STAGE_ROM;
	default:
		return false;
	}
}

int rp_runner_new(const struct rp_runner_opts *opts, struct rp_runner **out, struct rp_diag *d)
{
	struct rp_runner *r;
	*out = NULL;
	if (!opts || !opts->source || !opts->payload)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "runner needs a device source and a payload");
	if (opts->n_port_globs > RP_RUNNER_MAX_FILTERS || opts->n_serials > RP_RUNNER_MAX_FILTERS)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "at most %d port and %d serial filters",
				   RP_RUNNER_MAX_FILTERS, RP_RUNNER_MAX_FILTERS);
	r = calloc(1, sizeof(*r));
	if (!r)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	r->o = *opts;
	if (!r->o.board_timeout_ms)
		r->o.board_timeout_ms = DEFAULT_BOARD_TIMEOUT_MS;
	if (!r->o.reenum_timeout_ms)
		r->o.reenum_timeout_ms = DEFAULT_REENUM_TIMEOUT_MS;
	if (!r->o.stop_grace_ms)
		r->o.stop_grace_ms = DEFAULT_STOP_GRACE_MS;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->event_lock, NULL);
	atomic_init(&r->stop, false);
	atomic_init(&r->abort, false);
	*out = r;
	return RP_OK;
}

void rp_runner_stop(struct rp_runner *r)
{
	atomic_store(&r->stop, true);
	r->o.source->ops->wakeup(r->o.source);
}

void rp_runner_abort(struct rp_runner *r)
{
	atomic_store(&r->stop, true);
	atomic_store(&r->abort, true);
	r->o.source->ops->wakeup(r->o.source);
}

void rp_runner_free(struct rp_runner *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->event_lock);
	free(r);
}

/* ---- worker ---- */

static void hook_phase(void *ctx, enum rp_phase phase)
{
	struct board *b = ctx;
	struct rp_runner_event ev = { .type = RP_RUNNER_PHASE, .info = b->current,
				      .record = &b->rec, .phase = phase };
	emit(b->r, &ev);
}

static void hook_progress(void *ctx, const char *name, uint64_t done, uint64_t total)
{
	struct board *b = ctx;
	struct rp_runner_event ev = { .type = RP_RUNNER_PROGRESS, .info = b->current,
				      .record = &b->rec, .file = name, .done = done,
				      .total = total };
	emit(b->r, &ev);
}

static bool hook_cancelled(void *ctx)
{
	struct board *b = ctx;
	return atomic_load(&b->r->abort);
}

/* Errors an open can give while the device is still enumerating: udev
 * has not yet set its permissions, or the kernel not yet finished with
 * it. rpiboot meets them too ("Failed to open the requested device") and
 * tries again (F8). */
static const int open_retry_errors[] = { RP_ERR_NO_DEVICE, RP_ERR_ACCESS, RP_ERR_IO, RP_ERR_BUSY,
					 RP_ERR_USB };

static bool open_may_retry(int rc)
{
	for (size_t i = 0; i < sizeof(open_retry_errors) / sizeof(open_retry_errors[0]); i++)
		if (rc == open_retry_errors[i])
			return true;
	return false;
}

static int open_device(struct board *b, const struct rp_device_info *info,
		       struct rp_transport **t, uint64_t deadline)
{
	uint64_t until = rp_deadline_in(RP_RUNNER_OPEN_RETRY_MS);
	struct rp_diag d;
	int rc;

	if (deadline && deadline < until)
		until = deadline;
	for (;;) {
		rp_diag_clear(&d);
		rc = b->r->o.source->ops->open(b->r->o.source, info, t, &d);
		if (rc == RP_OK)
			return RP_OK;
		if (!open_may_retry(rc) || atomic_load(&b->r->abort) || rp_now_ms() >= until)
			break;
		b->rec.open_retries++;
		nanosleep(&(struct timespec){ .tv_nsec = RP_RUNNER_OPEN_RETRY_GAP_MS * 1000000L }, NULL);
	}
	if (rc == RP_ERR_NO_DEVICE)
		return rp_session_fail(&b->rec, rc, "board on %s left the bus before it could be opened",
				       info->port_path);
	/* The source's message already names the board and its port. */
	return rp_session_fail(&b->rec, rc, "%s", rp_diag_message(&d));
}

/* Under r->lock, once the wait is over: stage 1 again, on the ROM that
 * came back (claimed in ROM_BACK) or on the one that never left (C13),
 * while tries and the deadline allow. */
static bool restart_stage1(struct board *b, unsigned tries, uint64_t deadline)
{
	if (tries + 1 >= STAGE1_TRIES || rp_now_ms() >= deadline || atomic_load(&b->r->abort))
		return false;
	if (b->state != PS_ROM_BACK && b->state != PS_REENUM)
		return false;
	if (b->state == PS_ROM_BACK)
		b->first = b->second; /* the worker's current device from now on */
	feed(b, PE_RESTART);
	return b->state == PS_STAGE1;
}

/* After stage 1: wait for the event thread to hand over the second
 * stage (or to report the ROM back, or an abort), up to the re-enumeration
 * timeout and the board's deadline. WAIT_RESTART: stage 1 is to run again
 * (the `tries`-th was the last one). */
static int wait_second_stage(struct board *b, uint64_t deadline, unsigned tries)
{
	struct rp_runner *r = b->r;
	uint64_t t0 = rp_now_ms();
	uint64_t until = t0 + r->o.reenum_timeout_ms;
	enum port_state waited, ended;
	struct timespec ts;
	uint64_t ms;

	if (until > deadline)
		until = deadline;
	ts = rp_ms_to_timespec(until);
	pthread_mutex_lock(&r->lock);
	/* An abort the event thread fed while stage 1 ran left STAGE1 as it
	 * was: feed it again now that there is a wait to end. */
	if (port_fsm_waiting(b->state) && atomic_load(&r->abort))
		feed(b, PE_ABORT);
	while (port_fsm_waiting(b->state) && rp_now_ms() < until)
		pthread_cond_timedwait(&b->cond, &r->lock, &ts);
	/* Decided under the lock: a second stage arriving from here on is
	 * no longer ours and gets an attempt of its own. */
	waited = b->state;
	if ((waited == PS_ROM_BACK || waited == PS_REENUM) && restart_stage1(b, tries, deadline)) {
		pthread_mutex_unlock(&r->lock);
		ms = rp_now_ms() - t0;
		b->rec.phase_ms[RP_PHASE_REENUM] += ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
		return WAIT_RESTART;
	}
	if (port_fsm_waiting(waited))
		feed(b, PE_DEADLINE);
	ended = b->state;
	pthread_mutex_unlock(&r->lock);
	ms = rp_now_ms() - t0;
	b->rec.phase_ms[RP_PHASE_REENUM] += ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;

	switch (ended) {
	case PS_SERVE:
		return RP_OK;
	case PS_ROM_BACK:
		return rp_session_fail(&b->rec, RP_ERR_BOARD,
				       "board came back on %s as the boot ROM instead of the second "
				       "stage (it reset or rejected the second stage)",
				       b->first.port_path);
	case PS_ABORTED:
		return rp_session_fail(&b->rec, RP_ERR_INTERRUPTED,
				       "aborted while waiting for the second stage on %s",
				       b->first.port_path);
	default:
		break;
	}
	if (waited == PS_REENUM_GONE)
		return rp_session_fail(&b->rec, RP_ERR_NO_DEVICE,
				       "board left the bus after stage 1 and did not come back as the "
				       "second stage on %s within %llu ms",
				       b->first.port_path, (unsigned long long)(until > t0 ? until - t0 : 0));
	return rp_session_fail(&b->rec, RP_ERR_TIMEOUT,
			       "board did not re-enumerate as the second stage on %s within %llu ms "
			       "after stage 1",
			       b->first.port_path, (unsigned long long)(until > t0 ? until - t0 : 0));
}

/* Stage 1 ended: the table moves on to the wait, or (failed) takes no
 * hand-off any more; a second stage already handed over (the board did
 * start it) is served as a board of its own once this attempt is
 * reported (the wakeup at the worker's end lets the event thread adopt
 * it). */
/* A stage 1 that failed on a ROM still on the bus, with nothing handed
 * over (a header that timed out on a ROM stuck after a failed status read,
 * C13): worth another try within the board's deadline. */
static bool stage1_may_retry(struct board *b, int rc, unsigned tries, uint64_t deadline)
{
	bool again;

	if (rc != RP_ERR_TIMEOUT && rc != RP_ERR_PIPE && rc != RP_ERR_IO)
		return false;
	if (tries + 1 >= STAGE1_TRIES || rp_now_ms() >= deadline || atomic_load(&b->r->abort))
		return false;
	pthread_mutex_lock(&b->r->lock);
	again = b->state == PS_STAGE1;
	pthread_mutex_unlock(&b->r->lock);
	return again;
}

static void stage1_ended(struct board *b, bool ok)
{
	struct rp_runner *r = b->r;

	pthread_mutex_lock(&r->lock);
	feed(b, ok ? PE_STAGE1_OK : PE_STAGE1_FAILED);
	pthread_mutex_unlock(&r->lock);
}

static void *worker(void *arg)
{
	struct board *b = arg;
	struct rp_runner *r = b->r;
	struct rp_session_opts so = {
		.payload = r->o.payload,
		.mode = r->o.mode,
		.transfer_timeout_ms = r->o.transfer_timeout_ms,
		.request_timeout_ms = r->o.request_timeout_ms,
		.bulk_chunk = r->o.bulk_chunk,
		.deadline_ms = rp_deadline_in(r->o.board_timeout_ms),
		.require_verified = r->o.require_verified,
		.hooks = { .ctx = b, .phase = hook_phase, .progress = hook_progress,
			   .cancelled = hook_cancelled },
	};
	struct rp_runner_event ev = { .type = RP_RUNNER_BOARD_STARTED, .info = &b->first,
				      .record = &b->rec };
	struct rp_transport *t = NULL;
	/* The first stage-1 failure: the cause, if the retries fail too. */
	char first_error[sizeof(b->rec.error)] = "";
	int first_code = RP_OK;
	int rc = RP_OK;

	b->current = &b->first;
	emit(r, &ev);
	for (unsigned tries = 0; b->first.stage == RP_STAGE_ROM; tries++) {
		rc = open_device(b, &b->first, &t, so.deadline_ms);
		if (rc == RP_OK) {
			rc = rp_session_stage1(t, &so, &b->rec);
			rp_transport_close(t);
			t = NULL;
		}
		if (rc != RP_OK && stage1_may_retry(b, rc, tries, so.deadline_ms)) {
			if (first_code == RP_OK) {
				first_code = b->rec.error_code;
				memcpy(first_error, b->rec.error, sizeof(first_error));
			}
			rp_session_clear_failure(&b->rec);
			continue;
		}
		if (rc != RP_OK && first_code != RP_OK) {
			/* Say the first cause; later tries only repeat it. */
			rp_session_clear_failure(&b->rec);
			rp_session_fail(&b->rec, first_code, "%s (stage 1 sent %u times)", first_error,
					tries + 1);
		}
		stage1_ended(b, rc == RP_OK);
		if (rc == RP_OK) {
			hook_phase(b, RP_PHASE_REENUM);
			rc = wait_second_stage(b, so.deadline_ms, tries);
			if (rc == WAIT_RESTART) {
				rc = RP_OK;
				continue;
			}
		}
		if (rc == RP_OK) {
			b->current = &b->second;
			/* The ROM may not expose the serial; the second stage does. */
			if (!b->rec.serial[0])
				snprintf(b->rec.serial, sizeof(b->rec.serial), "%s", b->second.serial);
		}
		break;
	}
	if (rc == RP_OK) {
		rc = open_device(b, b->current, &t, so.deadline_ms);
		if (rc == RP_OK) {
			rp_session_serve(t, &so, &b->rec);
			rp_transport_close(t);
		}
	}
	if (b->rec.result == RP_RESULT_PENDING)
		rp_session_fail(&b->rec, RP_ERR_PROTOCOL, "session ended without a result");
	rp_session_record_finish(&b->rec, b->rec.result);

	pthread_mutex_lock(&r->lock);
	r->sum.finished++;
	switch (b->rec.result) {
	case RP_RESULT_OK: r->sum.ok++; break;
	case RP_RESULT_SERVED: r->sum.served++; break;
	case RP_RESULT_TIMEOUT: r->sum.timeout++; break;
	case RP_RESULT_LEFT: r->sum.left++; break;
	case RP_RESULT_UNVERIFIED: r->sum.unverified++; break;
	default: r->sum.failed++; break;
	}
	pthread_mutex_unlock(&r->lock);

	ev.type = RP_RUNNER_BOARD_FINISHED;
	ev.info = b->current;
	emit(r, &ev);

	pthread_mutex_lock(&r->lock);
	feed(b, PE_WORKER_DONE);
	r->last_activity = rp_now_ms();
	pthread_mutex_unlock(&r->lock);
	/* The event thread joins finished workers and re-checks its stop
	 * conditions; tell it there is something to look at. */
	r->o.source->ops->wakeup(r->o.source);
	return NULL;
}

/* ---- event thread ---- */

static void ignore(struct rp_runner *r, const struct rp_device_info *info, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void ignore(struct rp_runner *r, const struct rp_device_info *info, const char *fmt, ...)
{
	char reason[256];
	va_list ap;
	struct rp_runner_event ev = { .type = RP_RUNNER_DEVICE_IGNORED, .info = info,
				      .reason = reason };
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->lock);
	r->sum.ignored++;
	pthread_mutex_unlock(&r->lock);
	emit(r, &ev);
}

/* A --serial value against a device's serial string. The BCM2711/2712
 * ROM, and the second stage after it, report only the low 32 bits of the
 * board serial as 8 hex digits (F3, F10), while records, labels and the
 * metadata's USER_SERIAL_NUM may carry all 16: the two forms select the
 * same board, as rpiboot -i with the 8-digit string does. */
static bool serial_matches(const char *want, const struct rp_device_info *info, bool exact)
{
	size_t wl = strlen(want), dl = strlen(info->serial);

	if (!dl)
		return false;
	if (exact)
		return strcmp(want, info->serial) == 0;
	if (wl == dl)
		return strcasecmp(want, info->serial) == 0;
	if (wl == 16 && dl == 8)
		return strcasecmp(want + 8, info->serial) == 0;
	if (wl == 8 && dl == 16)
		return strcasecmp(want, info->serial + 8) == 0;
	return false;
}

bool rp_runner_filters_accept(const char *const *port_globs, unsigned n_port_globs,
			      const char *const *serials, unsigned n_serials, bool serial_exact,
			      const struct rp_device_info *info, char *why, size_t why_size)
{
	bool ok;

	if (n_port_globs) {
		ok = false;
		for (unsigned i = 0; i < n_port_globs && !ok; i++)
			ok = fnmatch(port_globs[i], info->port_path, 0) == 0;
		if (!ok) {
			snprintf(why, why_size, "port %s does not match the --port filter",
				 info->port_path);
			return false;
		}
	}
	if (n_serials) {
		ok = false;
		for (unsigned i = 0; i < n_serials && !ok; i++)
			ok = serial_matches(serials[i], info, serial_exact);
		if (!ok) {
			if (!info->serial[0] && info->stage == RP_STAGE_ROM)
				snprintf(why, why_size,
					 "this boot ROM reports no serial number (BCM2835/2837 ROMs "
					 "have none): select it with --port");
			else if (!info->serial[0])
				snprintf(why, why_size,
					 "serial number unreadable, cannot match the --serial filter");
			else
				snprintf(why, why_size, "serial %s does not match the --serial filter",
					 info->serial);
			return false;
		}
	}
	return true;
}

/* Why a device must not be touched, or NULL. */
static bool filtered_out(struct rp_runner *r, const struct rp_device_info *info,
			 const struct rp_soc *dev)
{
	if (!dev) {
		ignore(r, info, "%04x:%04x is not a Raspberry Pi boot device", info->vid, info->pid);
		return true;
	}
	{
		char why[256];
		if (!rp_runner_filters_accept(r->o.port_globs, r->o.n_port_globs, r->o.serials,
					      r->o.n_serials, r->o.serial_exact, info, why, sizeof(why))) {
			ignore(r, info, "%s", why);
			return true;
		}
	}
	if (r->o.soc && r->o.soc[0] && strcmp(r->o.soc, dev->soc) != 0) {
		ignore(r, info, "%s board, but the payload is for BCM%s", dev->chip, r->o.soc);
		return true;
	}
	if (r->o.mode == RP_SESSION_FLASH && !rp_soc_has_eeprom(dev)) {
		ignore(r, info, "%s boards have no bootloader EEPROM to flash", dev->chip);
		return true;
	}
	return false;
}

/* Whether `next` can be the same board as `first` after stage 1: same
 * vendor and product, except that the bootcode.bin family (0x2763 and
 * 0x2764, which rpiboot treats alike) may come back under the other id.
 * A 0x2712 second stage on the port of a 0x2711 ROM is another board. */
static bool same_board_kind(const struct rp_device_info *first, const struct rp_device_info *next)
{
	if (first->vid != next->vid)
		return false;
	if (first->pid == next->pid)
		return true;
	return rp_soc_same_family(rp_soc_by_usb_id(first->vid, first->pid),
				  rp_soc_by_usb_id(next->vid, next->pid));
}

/* Feed an arrival to every attempt on its port (under r->lock); true
 * when one claimed it as its second stage. */
static bool dispatch_arrival(struct rp_runner *r, const struct rp_device_info *info)
{
	for (struct board *b = r->boards; b; b = b->next) {
		enum port_event e;

		if (strcmp(b->first.port_path, info->port_path))
			continue;
		if (!same_board_kind(&b->first, info))
			e = PE_OTHER_ARRIVED;
		else
			e = info->stage == RP_STAGE_SECOND ? PE_SECOND_ARRIVED : PE_ROM_ARRIVED;
		if (feed(b, e).actions & PA_CLAIM) {
			b->second = *info;
			return true;
		}
	}
	return false;
}

static void start_board(struct rp_runner *r, const struct rp_device_info *info)
{
	pthread_attr_t attr;
	struct board *b = calloc(1, sizeof(*b));
	int rc;

	if (!b) {
		ignore(r, info, "out of memory: board not started");
		return;
	}
	b->r = r;
	b->first = *info;
	/* A second stage that arrives on its own has nothing to wait for. */
	b->state = info->stage == RP_STAGE_ROM ? PS_STAGE1 : PS_SERVE;
	rp_cond_init_monotonic(&b->cond);
	pthread_mutex_lock(&r->lock);
	rp_session_record_init(&b->rec, info, r->o.attempt_id_base + ++r->next_attempt);
	b->next = r->boards;
	r->boards = b;
	r->started++;
	r->in_flight++;
	pthread_mutex_unlock(&r->lock);

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	rc = pthread_create(&b->thread, &attr, worker, b);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		struct rp_runner_event ev = { .type = RP_RUNNER_BOARD_FINISHED, .info = info,
					      .record = &b->rec };
		rp_session_fail(&b->rec, RP_ERR_NOMEM, "cannot start a thread for the board");
		rp_session_record_finish(&b->rec, RP_RESULT_FAILED);
		pthread_mutex_lock(&r->lock);
		feed(b, PE_WORKER_DONE);
		r->sum.finished++;
		r->sum.failed++;
		pthread_mutex_unlock(&r->lock);
		emit(r, &ev);
		return;
	}
	b->thread_started = true;
}

static bool accepting(struct rp_runner *r)
{
	return !atomic_load(&r->stop) && (!r->o.count || r->started < r->o.count);
}

static void on_arrived(struct rp_runner *r, const struct rp_device_info *info)
{
	const struct rp_soc *dev = rp_soc_by_usb_id(info->vid, info->pid);
	bool claimed;

	if (filtered_out(r, info, dev))
		return;
	pthread_mutex_lock(&r->lock);
	r->last_activity = rp_now_ms();
	claimed = dispatch_arrival(r, info);
	pthread_mutex_unlock(&r->lock);
	if (claimed)
		return;
	if (!accepting(r)) {
		ignore(r, info, "%s", atomic_load(&r->stop) ? "the run is stopping"
							   : "the requested number of boards was reached");
		return;
	}
	start_board(r, info);
}

static void on_left(struct rp_runner *r, const struct rp_device_info *info)
{
	pthread_mutex_lock(&r->lock);
	for (struct board *b = r->boards; b; b = b->next) {
		if (b->first.id == info->id)
			feed(b, PE_FIRST_LEFT);
		if (holds_second(b) && b->second.id == info->id)
			feed(b, PE_SECOND_LEFT);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Second stages released by attempts that failed and are reported: each
 * is an arrival again (filters, count and stop apply as to any other), so it
 * gets its own attempt or an IGNORED event saying why not. */
static void adopt_orphans(struct rp_runner *r)
{
	for (;;) {
		struct rp_device_info info;
		bool found = false;

		pthread_mutex_lock(&r->lock);
		for (struct board *b = r->boards; b && !found; b = b->next)
			if (b->state == PS_ORPHAN_DONE) {
				info = b->second;
				feed(b, PE_ADOPTED);
				found = true;
			}
		pthread_mutex_unlock(&r->lock);
		if (!found)
			return;
		on_arrived(r, &info);
	}
}

/* Join finished workers (after adopt_orphans took their second stages). */
static void reap(struct rp_runner *r)
{
	for (;;) {
		struct board **pp, *done = NULL;

		pthread_mutex_lock(&r->lock);
		for (pp = &r->boards; *pp; pp = &(*pp)->next)
			if ((*pp)->state == PS_DONE) {
				done = *pp;
				*pp = done->next;
				r->in_flight--;
				break;
			}
		pthread_mutex_unlock(&r->lock);
		if (!done)
			return;
		if (done->thread_started)
			pthread_join(done->thread, NULL);
		pthread_cond_destroy(&done->cond);
		free(done);
	}
}

/* The abort reaches attempts waiting for their second stage through the
 * table; those still talking to a board see it through the session's
 * cancel hook. */
static void wake_waiters(struct rp_runner *r)
{
	pthread_mutex_lock(&r->lock);
	for (struct board *b = r->boards; b; b = b->next)
		feed(b, PE_ABORT);
	pthread_mutex_unlock(&r->lock);
}

static unsigned remaining_ms(uint64_t until, uint64_t now)
{
	return until > now ? (until - now > INT32_MAX ? INT32_MAX : (unsigned)(until - now)) : 0;
}

int rp_runner_run(struct rp_runner *r, struct rp_runner_summary *summary, struct rp_diag *d)
{
	struct rp_source *src = r->o.source;
	uint64_t stop_deadline = 0;
	bool aborted_seen = false;
	int result = RP_OK;

	r->running = true;
	r->last_activity = rp_now_ms();
	for (;;) {
		struct rp_source_event ev;
		uint64_t now, wait_until = UINT64_MAX;
		unsigned in_flight;
		int timeout, rc;

		adopt_orphans(r);
		reap(r);
		now = rp_now_ms();
		pthread_mutex_lock(&r->lock);
		in_flight = r->in_flight;
		pthread_mutex_unlock(&r->lock);

		if (atomic_load(&r->stop) && !stop_deadline)
			stop_deadline = now + r->o.stop_grace_ms;
		if (stop_deadline && now >= stop_deadline)
			atomic_store(&r->abort, true);
		if (atomic_load(&r->abort) && !aborted_seen) {
			aborted_seen = true;
			wake_waiters(r);
		}
		if (!in_flight) {
			if (atomic_load(&r->stop))
				break;
			if (r->o.count && r->started >= r->o.count)
				break;
			if (r->o.idle_timeout_ms) {
				uint64_t idle_end;
				pthread_mutex_lock(&r->lock);
				idle_end = r->last_activity + r->o.idle_timeout_ms;
				pthread_mutex_unlock(&r->lock);
				if (now >= idle_end) {
					struct rp_runner_event iev = { .type = RP_RUNNER_IDLE_TIMEOUT };
					r->sum.idle_timed_out = true;
					emit(r, &iev);
					break;
				}
				wait_until = idle_end;
			}
		}
		if (stop_deadline && !aborted_seen && stop_deadline < wait_until)
			wait_until = stop_deadline;
		timeout = wait_until == UINT64_MAX ? -1 : (int)remaining_ms(wait_until, now);
		rc = src->ops->next_event(src, &ev, timeout);
		if (rc == RP_ERR_TIMEOUT || rc == RP_ERR_INTERRUPTED)
			continue;
		if (rc != RP_OK) {
			result = rp_diag_set(d, rc, "device source \"%s\" failed: %s", src->name,
					     rp_strerror(rc));
			atomic_store(&r->stop, true);
			atomic_store(&r->abort, true);
			wake_waiters(r);
			break;
		}
		if (ev.type == RP_SOURCE_ARRIVED)
			on_arrived(r, &ev.info);
		else if (ev.type == RP_SOURCE_LEFT)
			on_left(r, &ev.info);
	}
	/* Only reached with nothing in flight, or after an abort: workers end
	 * at their next transfer or timeout. */
	reap(r);
	pthread_mutex_lock(&r->lock);
	while (r->boards) {
		struct board *b = r->boards;
		r->boards = b->next;
		r->in_flight--;
		pthread_mutex_unlock(&r->lock);
		if (b->thread_started)
			pthread_join(b->thread, NULL);
		if (b->state == PS_ORPHAN || b->state == PS_ORPHAN_DONE)
			ignore(r, &b->second, "the run ended before this second stage could be served");
		pthread_cond_destroy(&b->cond);
		free(b);
		pthread_mutex_lock(&r->lock);
	}
	r->sum.stopped = atomic_load(&r->stop);
	r->sum.aborted = atomic_load(&r->abort);
	if (summary)
		*summary = r->sum;
	pthread_mutex_unlock(&r->lock);
	r->running = false;
	return result;
}
