#include "sim/sim_source.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "soc/soc.h"
#include "util/clock.h"

/* One simulated board on its port. The board model is guarded by the
 * slot's lock (transfers of the board's transport and bus changes applied
 * by the event side); the bus view published to the consumer (arrived,
 * unplug pending) by the source's lock. Lock order: source, then slot;
 * a transport never takes the source lock while holding its slot's. */
struct slot {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* transports wait here for the model */
	struct rp_sim_board *b;
	uint64_t gen;               /* enumeration generation: bumps on every bus change */

	/* under the source lock */
	uint64_t arrive_at;
	bool plugged;
	bool published;             /* ARRIVED told and not LEFT since */
	bool unplug_pending;
	struct rp_device_info info; /* of the current/last enumeration */
};

struct sim_source {
	struct rp_source base;
	pthread_mutex_t lock;
	/* next_event waits on this eventfd: transports poke it when a board
	 * schedules a bus change, and wakeup() can write it from a signal
	 * handler, which a condition variable would not allow. */
	int efd;
	atomic_bool wake;
	uint8_t bus;
	uint8_t next_address;
	uint64_t next_id;
	unsigned n;
	unsigned scan_from;         /* round robin, so one busy board cannot starve the others */
	struct slot *slots;
};

struct sim_transport {
	struct rp_transport base;
	struct sim_source *src;
	struct slot *slot;
	uint64_t gen;
};

static const struct rp_source_ops sim_source_ops;

void rp_sim_source_port_path(uint8_t bus, unsigned i, char out[RP_PORT_PATH_MAX])
{
	snprintf(out, RP_PORT_PATH_MAX, "%u-1.%u", (unsigned)bus, i + 1);
}

static struct sim_source *from_base(struct rp_source *s)
{
	return (s && s->ops == &sim_source_ops) ? (struct sim_source *)s : NULL;
}

/* Wake next_event so it looks at the boards again (async-signal-safe). */
static void poke(struct sim_source *s)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(s->efd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

static void drain(struct sim_source *s)
{
	uint64_t v;
	while (read(s->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* ---- transport ---- */

enum op_kind { OP_CONTROL_OUT, OP_CONTROL_IN, OP_BULK_OUT };

struct op {
	enum op_kind kind;
	uint8_t request;
	uint16_t value, index;
	const void *out;
	void *in;
	size_t len;
	size_t *actual;
};

/* Run one transfer against the model, waiting on the slot's condition
 * variable for as long as the model says it is busy, up to timeout_ms. */
static int run_op(struct sim_transport *t, struct op *op, unsigned timeout_ms)
{
	struct slot *sl = t->slot;
	uint64_t deadline = rp_deadline_in(timeout_ms);
	uint64_t at;
	bool attach, change;
	size_t dummy = 0;
	int r;

	if (!op->actual)
		op->actual = &dummy;
	*op->actual = 0;
	pthread_mutex_lock(&sl->lock);
	for (;;) {
		unsigned ready_in = 0;
		uint64_t now, until;
		struct timespec ts;

		if (sl->gen != t->gen) {
			r = RP_ERR_NO_DEVICE;
			break;
		}
		switch (op->kind) {
		case OP_CONTROL_OUT:
			r = rp_sim_board_control_out(sl->b, op->request, op->value, op->index, op->out,
						     op->len, &ready_in);
			break;
		case OP_CONTROL_IN:
			r = rp_sim_board_control_in(sl->b, op->request, op->value, op->index, op->in,
						    op->len, op->actual, &ready_in);
			break;
		default:
			r = rp_sim_board_bulk_out(sl->b, op->out, op->len, op->actual, &ready_in);
			break;
		}
		if (r != RP_ERR_AGAIN)
			break;
		now = rp_now_ms();
		if (now >= deadline) {
			r = RP_ERR_TIMEOUT;
			break;
		}
		until = now + ready_in;
		if (until > deadline)
			until = deadline;
		ts = rp_ms_to_timespec(until);
		pthread_cond_timedwait(&sl->cond, &sl->lock, &ts);
	}
	change = rp_sim_board_bus_change(sl->b, &at, &attach);
	pthread_mutex_unlock(&sl->lock);
	if (change)
		poke(t->src);
	return r;
}

static int sim_control_out(struct rp_transport *tr, uint8_t request, uint16_t value,
			   uint16_t index, const void *data, size_t len, unsigned timeout_ms)
{
	struct op op = { .kind = OP_CONTROL_OUT, .request = request, .value = value,
			 .index = index, .out = data, .len = len };
	return run_op((struct sim_transport *)tr, &op, timeout_ms);
}

static int sim_control_in(struct rp_transport *tr, uint8_t request, uint16_t value,
			  uint16_t index, void *data, size_t len, size_t *actual, unsigned timeout_ms)
{
	struct op op = { .kind = OP_CONTROL_IN, .request = request, .value = value,
			 .index = index, .in = data, .len = len, .actual = actual };
	return run_op((struct sim_transport *)tr, &op, timeout_ms);
}

static int sim_bulk_out(struct rp_transport *tr, const void *data, size_t len, size_t *actual,
			unsigned timeout_ms)
{
	struct op op = { .kind = OP_BULK_OUT, .out = data, .len = len, .actual = actual };
	return run_op((struct sim_transport *)tr, &op, timeout_ms);
}

static void sim_close(struct rp_transport *tr)
{
	free(tr);
}

static const struct rp_transport_ops sim_transport_ops = {
	.control_out = sim_control_out,
	.control_in = sim_control_in,
	.bulk_out = sim_bulk_out,
	.close = sim_close,
};

/* ---- source ---- */

/* New enumeration identity for slot i (source and slot locks held). */
static void enumerate(struct sim_source *s, unsigned i)
{
	struct slot *sl = &s->slots[i];
	struct rp_device_info *info = &sl->info;
	const struct rp_sim_board *b = sl->b;

	memset(info, 0, sizeof(*info));
	info->vid = RP_USB_VID_BROADCOM;
	info->pid = rp_sim_board_pid(b);
	info->bus = s->bus;
	/* Addresses 2..127 like a real hub hands them out, never reused back to back. */
	s->next_address = (uint8_t)(s->next_address >= 127 ? 2 : s->next_address + 1);
	info->address = s->next_address;
	info->serial_index = rp_sim_board_serial_index(b);
	info->stage = rp_soc_serial_index_is_rom(info->serial_index) ? RP_STAGE_ROM
								     : RP_STAGE_SECOND;
	info->num_interfaces = info->stage == RP_STAGE_ROM ? 2 : 1;
	rp_sim_source_port_path(s->bus, i, info->port_path);
	/* The string at iSerialNumber, as a host reading the descriptor gets
	 * it at either stage (8 hex digits at the 2711/2712 ROM: F2, F3). */
	snprintf(info->serial, sizeof(info->serial), "%s", rp_sim_board_serial(b));
	info->id = ++s->next_id;
}

static int sim_next_event(struct rp_source *base, struct rp_source_event *ev, int timeout_ms)
{
	struct sim_source *s = from_base(base);
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : rp_deadline_in((uint64_t)timeout_ms);

	memset(ev, 0, sizeof(*ev));
	for (;;) {
		uint64_t now, next_due = UINT64_MAX;
		bool found = false;
		struct pollfd pfd;
		int wait_ms;

		/* Drained before looking, so a poke that comes after the look
		 * stays pending and the poll below returns at once. */
		drain(s);
		if (atomic_exchange(&s->wake, false))
			return RP_ERR_INTERRUPTED;
		pthread_mutex_lock(&s->lock);
		now = rp_now_ms();
		for (unsigned k = 0; k < s->n && !found; k++) {
			unsigned i = (s->scan_from + k) % s->n;
			struct slot *sl = &s->slots[i];
			uint64_t at;
			bool attach;

			if (sl->unplug_pending) {
				sl->unplug_pending = false;
				if (sl->published) {
					sl->published = false;
					ev->type = RP_SOURCE_LEFT;
					ev->info = sl->info;
					found = true;
				}
			} else if (!sl->plugged) {
				if (now < sl->arrive_at) {
					if (sl->arrive_at < next_due)
						next_due = sl->arrive_at;
					continue;
				}
				sl->plugged = true;
				pthread_mutex_lock(&sl->lock);
				sl->gen++;
				enumerate(s, i);
				pthread_mutex_unlock(&sl->lock);
				sl->published = true;
				ev->type = RP_SOURCE_ARRIVED;
				ev->info = sl->info;
				found = true;
			} else {
				pthread_mutex_lock(&sl->lock);
				if (rp_sim_board_bus_change(sl->b, &at, &attach)) {
					if (at <= now) {
						rp_sim_board_apply_bus_change(sl->b);
						sl->gen++;
						/* Transfers waiting on the old enumeration end now. */
						pthread_cond_broadcast(&sl->cond);
						if (attach) {
							enumerate(s, i);
							sl->published = true;
							ev->type = RP_SOURCE_ARRIVED;
							ev->info = sl->info;
							found = true;
						} else if (sl->published) {
							sl->published = false;
							ev->type = RP_SOURCE_LEFT;
							ev->info = sl->info;
							found = true;
						}
						/* Applying a change may schedule the next one. */
						if (rp_sim_board_bus_change(sl->b, &at, &attach) &&
						    at < next_due)
							next_due = at;
					} else if (at < next_due) {
						next_due = at;
					}
				}
				pthread_mutex_unlock(&sl->lock);
			}
			if (found)
				s->scan_from = (i + 1) % s->n;
		}
		pthread_mutex_unlock(&s->lock);
		if (found)
			return RP_OK;
		if (now >= deadline)
			return RP_ERR_TIMEOUT;
		if (next_due > deadline)
			next_due = deadline;
		if (next_due == UINT64_MAX)
			wait_ms = -1;
		else
			wait_ms = next_due - now > INT32_MAX ? INT32_MAX : (int)(next_due - now);
		pfd.fd = s->efd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		poll(&pfd, 1, wait_ms);
	}
}

static int sim_open(struct rp_source *base, const struct rp_device_info *info,
		    struct rp_transport **out, struct rp_diag *d)
{
	struct sim_source *s = from_base(base);
	struct sim_transport *t;
	struct slot *sl = NULL;

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->n; i++)
		if (s->slots[i].published && s->slots[i].info.id == info->id) {
			sl = &s->slots[i];
			break;
		}
	if (!sl) {
		pthread_mutex_unlock(&s->lock);
		return rp_diag_set(d, RP_ERR_NO_DEVICE, "simulated board on %s is gone",
				   info->port_path);
	}
	pthread_mutex_lock(&sl->lock);
	if (rp_sim_board_take_open_failure(sl->b)) {
		/* F8: the re-enumerated board is not ready to be opened yet
		 * (rpiboot: "Failed to open the requested device"). */
		pthread_mutex_unlock(&sl->lock);
		pthread_mutex_unlock(&s->lock);
		return rp_diag_set(d, RP_ERR_IO,
				   "cannot open the board on %s: failed to open the device", info->port_path);
	}
	if (rp_sim_board_take_claim_failure(sl->b)) {
		/* claim_fails (C13): opening includes claiming the interface,
		 * which fails as libusb's EBUSY does. */
		pthread_mutex_unlock(&sl->lock);
		pthread_mutex_unlock(&s->lock);
		return rp_diag_set(d, RP_ERR_BUSY,
				   "cannot claim the interface of the board on %s: device or interface busy",
				   info->port_path);
	}
	pthread_mutex_unlock(&sl->lock);
	t = calloc(1, sizeof(*t));
	if (!t) {
		pthread_mutex_unlock(&s->lock);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	t->base.ops = &sim_transport_ops;
	t->base.info = sl->info;
	t->src = s;
	t->slot = sl;
	pthread_mutex_lock(&sl->lock);
	t->gen = sl->gen;
	pthread_mutex_unlock(&sl->lock);
	pthread_mutex_unlock(&s->lock);
	*out = &t->base;
	return RP_OK;
}

static void sim_wakeup(struct rp_source *base)
{
	struct sim_source *s = from_base(base);
	atomic_store(&s->wake, true);
	poke(s);
}

static void sim_destroy(struct rp_source *base)
{
	struct sim_source *s = from_base(base);
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		rp_sim_board_free(s->slots[i].b);
		pthread_mutex_destroy(&s->slots[i].lock);
		pthread_cond_destroy(&s->slots[i].cond);
	}
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	if (s->efd >= 0)
		close(s->efd);
	free(s);
}

static const struct rp_source_ops sim_source_ops = {
	.next_event = sim_next_event,
	.open = sim_open,
	.wakeup = sim_wakeup,
	.destroy = sim_destroy,
};

int rp_sim_source_new(const struct rp_sim_source_opts *o, struct rp_source **out,
		      struct rp_diag *d)
{
	struct sim_source *s;
	uint64_t t0 = rp_now_ms();

	*out = NULL;
	if (!o || o->n_boards == 0 || o->n_boards > RP_SIM_MAX_BOARDS)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "number of simulated boards must be 1 to %u",
				   RP_SIM_MAX_BOARDS);
	for (unsigned f = 0; f < o->n_faults; f++)
		if (o->faults[f].board > o->n_boards)
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "fault %s for board %u, but only %u boards are simulated",
					   rp_sim_fault_name(o->faults[f].fault), o->faults[f].board,
					   o->n_boards);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->slots = calloc(o->n_boards, sizeof(*s->slots)))) {
		free(s);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	s->base.ops = &sim_source_ops;
	s->base.name = "sim";
	s->bus = o->bus ? o->bus : 1;
	s->next_address = 1;
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->wake, false);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		int e = errno;
		pthread_mutex_destroy(&s->lock);
		free(s->slots);
		free(s);
		return rp_diag_set(d, RP_ERR_IO, "eventfd: %s", strerror(e));
	}
	for (unsigned i = 0; i < o->n_boards; i++) {
		struct slot *sl = &s->slots[i];
		struct rp_sim_params p;
		rp_sim_params_default(&p, i + 1);
		if (o->params) {
			p.pid = o->params->pid ? o->params->pid : p.pid;
			p.timing = o->params->timing;
			p.fault = o->params->fault;
			p.fault_step = o->params->fault_step;
			p.firmware_date = o->params->firmware_date;
			p.slow_request_ms = o->params->slow_request_ms;
		}
		if (o->pids && o->pids[i])
			p.pid = o->pids[i];
		p.second_stage = o->second_stage && o->second_stage[i];
		/* Later specs override earlier ones for the same board. */
		for (unsigned f = 0; f < o->n_faults; f++)
			if (o->faults[f].board == 0 || o->faults[f].board == i + 1) {
				p.fault = o->faults[f].fault;
				p.fault_step = o->faults[f].step;
			}
		pthread_mutex_init(&sl->lock, NULL);
		rp_cond_init_monotonic(&sl->cond);
		sl->arrive_at = t0 + (o->arrival_ms ? o->arrival_ms[i] : 0);
		sl->b = rp_sim_board_new(&p);
		s->n = i + 1;
		if (!sl->b) {
			sim_destroy(&s->base);
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "cannot simulate a board with USB id 0a5c:%04x (no EEPROM)",
					   p.pid);
		}
	}
	*out = &s->base;
	return RP_OK;
}

struct rp_sim_board *rp_sim_source_board(struct rp_source *src, unsigned i)
{
	struct sim_source *s = from_base(src);
	return (s && i < s->n) ? s->slots[i].b : NULL;
}

void rp_sim_source_unplug(struct rp_source *src, unsigned i)
{
	struct sim_source *s = from_base(src);
	struct slot *sl;
	if (!s || i >= s->n)
		return;
	sl = &s->slots[i];
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&sl->lock);
	rp_sim_board_unplug(sl->b);
	sl->gen++;
	pthread_cond_broadcast(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
	sl->unplug_pending = true;
	pthread_mutex_unlock(&s->lock);
	poke(s);
}
