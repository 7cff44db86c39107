#include "records/recorder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/record_text.h"
#include "records/spool.h"
#include "util/clock.h"

/* Records read from the spool per step; a sink's cursor is stored after
 * each, which bounds what a crash can make it see twice. */
#define BATCH 64
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 5000
#define REFUSED_BIT (1u << 31)
/* At close, a sink that is failing gets this long to come back before its
 * records are left in the spool for the next start. */
#define CLOSE_GRACE_MS 2000
/* Without a spool file nothing survives the process: a sink that is only
 * locked for a while (another writer, a backup) is waited for this long,
 * tried at least every CLOSE_RETRY_MS, before its records are lost. A
 * stop signal's give-up time still comes first. */
#define CLOSE_GRACE_MEMORY_MS 60000
#define CLOSE_RETRY_MS 500
/* A sink that has not come back this long after the close grace is
 * interrupted (every PostgreSQL statement is bounded below this anyway). */
#define CLOSE_HARD_MS 45000

_Static_assert(RP_RECORDER_MAX_SINKS < 31, "one bit per sink in a record's mask");

/* A record on its way into the spool. */
struct pending {
	struct pending *next;
	struct rp_board_record rec;
	bool ok; /* a direct delivery: every sink took it */
};

#define SPOOL_GROUP 256 /* records per spool commit at most */

struct slot {
	struct rp_sink *s;
	uint64_t cursor;   /* the last seq this sink has durably (or refused for good) */
	uint64_t stored;   /* cursor as the spool has it */
	bool open;
	bool failing;      /* in a failure episode, already reported */
	bool given_up;     /* interrupted at a stop (rp_recorder_give_up_at): no more tries */
	uint64_t retry_at; /* monotonic ms; 0: now */
	unsigned backoff_ms;
};

struct rp_recorder {
	struct slot slots[RP_RECORDER_MAX_SINKS];
	unsigned n_sinks;
	char station[RP_ORIGIN_STATION_MAX], run_id[RP_ORIGIN_RUN_ID_MAX];
	struct rp_record_origin origin;
	rp_recorder_error_fn on_error;
	rp_recorder_written_fn on_written;
	rp_recorder_durable_fn on_durable;
	void *ctx;
	bool simulated; /* stamp every record as a simulated board's */
	struct rp_spool *spool;
	bool spool_in_memory;
	struct rp_spool_item *batch; /* the writer's */

	/* Sinks and callbacks are used one call at a time: the writer thread
	 * holds this while it calls them, and so does anyone else who must. */
	pthread_mutex_t sink_lock;


	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* the writer: work, closing, or a retry is due */
	pthread_cond_t idle;  /* rp_recorder_flush: a pass ended */
	pthread_t thread;
	bool started, closing;
	/* The spooler thread: submitted records, committed in groups (one
	 * sync for every board that finished meanwhile). */
	pthread_t spooler;
	bool spooler_started, spooler_closing, spooling;
	pthread_cond_t spool_wake, spooled;
	struct pending *q_head, *q_tail;
	/* Records the spool could not keep (its disk full, its file at the
	 * size limit): handed straight to the sinks by the writer, once. */
	struct pending *direct_head, *direct_tail;
	bool spool_failing;
	uint64_t close_deadline; /* monotonic ms */
	uint64_t give_up_at;     /* monotonic ms; 0: never (rp_recorder_give_up_at) */
	bool abandoned;          /* given up: sinks that can wait long interrupted, and not tried again */
	bool writer_exited;
	uint64_t head;        /* highest seq spooled */
	uint64_t min_cursor;  /* the slowest sink's cursor */
	uint64_t run_first;   /* first seq of this run */
	uint32_t *owed;       /* per record of this run: sinks still owing it, REFUSED_BIT */
	size_t owed_cap;
	uint64_t pass_wanted, pass_done;
	struct rp_recorder_stats stats;
};

/* A sink's cursor in the spool: by resolved path, so the same file
 * through another path is the same sink. */
static const char *sink_key(const struct rp_sink *s)
{
	return s->key[0] ? s->key : s->name;
}

static bool permanent(int err)
{
	/* Only what is wrong with the record itself; everything else (a
	 * locked database, a full disk, a lost connection) may pass. */
	return err == RP_ERR_REFUSED || err == RP_ERR_FORMAT || err == RP_ERR_INVALID_ARG ||
	       err == RP_ERR_TOO_LARGE;
}

static uint32_t all_sinks(const struct rp_recorder *r)
{
	return r->n_sinks ? (uint32_t)((1u << r->n_sinks) - 1) : 0;
}

/* Under r->lock (failing is the writer's, and so is every caller): a sink
 * not to try again, given up at a stop: one that can wait long on a
 * server, and any that is failing now. */
static bool slot_given_up(const struct rp_recorder *r, const struct slot *sl)
{
	return sl->given_up || (r->abandoned && sl->failing);
}

/* Sink i has (or has refused) the record at seq. The last sink to take a
 * record of this run counts it and tells on_written. Under sink_lock. */
static void settle(struct rp_recorder *r, unsigned i, const struct rp_spool_item *it, bool refused)
{
	bool done = false, ok = false;

	pthread_mutex_lock(&r->lock);
	if (it->seq >= r->run_first && it->seq - r->run_first < r->owed_cap) {
		uint32_t *m = &r->owed[it->seq - r->run_first];
		if (*m & (1u << i)) {
			*m &= ~(1u << i);
			if (refused)
				*m |= REFUSED_BIT;
			if (!(*m & all_sinks(r))) {
				done = true;
				ok = !(*m & REFUSED_BIT);
				if (ok)
					r->stats.written++;
				else
					r->stats.failed++;
			}
		}
	} else if (it->seq < r->run_first && i == 0) {
		r->stats.caught_up++;
	}
	pthread_mutex_unlock(&r->lock);
	if (done && r->on_written)
		r->on_written(r->ctx, &it->rec, ok);
}

/* A sink failed for a reason that may pass: report the first failure of
 * an episode, then wait longer before each try. */
static void stall(struct rp_recorder *r, struct slot *sl, const struct rp_board_record *rec,
		  const struct rp_diag *d)
{
	bool closing;

	pthread_mutex_lock(&r->lock);
	closing = r->closing;
	pthread_mutex_unlock(&r->lock);
	sl->backoff_ms = sl->backoff_ms ? sl->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (sl->backoff_ms > (closing ? CLOSE_RETRY_MS : BACKOFF_MAX_MS))
		sl->backoff_ms = closing ? CLOSE_RETRY_MS : BACKOFF_MAX_MS;
	sl->retry_at = rp_now_ms() + sl->backoff_ms;
	if (sl->failing)
		return;
	sl->failing = true;
	pthread_mutex_lock(&r->lock);
	r->stats.sink_errors++;
	pthread_mutex_unlock(&r->lock);
	if (r->on_error)
		r->on_error(r->ctx, sl->s, rec, d);
}

/* Damaged records the spool set aside: each told once, for every sink. */
static void report_set_aside(struct rp_recorder *r)
{
	struct rp_diag d;

	rp_diag_clear(&d);
	while (rp_spool_take_set_aside(r->spool, &d)) {
		pthread_mutex_lock(&r->lock);
		r->stats.sink_errors++;
		r->stats.failed++;
		pthread_mutex_unlock(&r->lock);
		if (r->on_error)
			r->on_error(r->ctx, NULL, NULL, &d);
		rp_diag_clear(&d);
	}
}

/* One batch of the spool to sink i. True: it has more to do now. */
static bool deliver(struct rp_recorder *r, unsigned i, bool force)
{
	struct slot *sl = &r->slots[i];
	struct rp_sink *s = sl->s;
	struct rp_diag d;
	uint64_t head;

	bool given_up;

	pthread_mutex_lock(&r->lock);
	head = r->head;
	given_up = slot_given_up(r, sl);
	pthread_mutex_unlock(&r->lock);
	if (given_up || (!force && sl->retry_at > rp_now_ms()))
		return false;
	if (!sl->open) {
		rp_diag_clear(&d);
		if (s->ops->open(s, &d) < 0) {
			stall(r, sl, NULL, &d);
			return false;
		}
		sl->open = true;
	}
	if (sl->cursor < head) {
		bool refused[BATCH] = { false };
		size_t n = 0, kept = 0;
		bool stalled = false;

		rp_diag_clear(&d);
		if (rp_spool_read(r->spool, sl->cursor, r->batch, BATCH, &n, &d) < 0) {
			stall(r, sl, NULL, &d);
			return false;
		}
		report_set_aside(r);
		while (n && r->batch[n - 1].seq > head)
			n--; /* being submitted: not tracked yet */
		if (n == 0)
			return false;
		for (; kept < n; kept++) {
			const struct rp_spool_item *it = &r->batch[kept];
			struct rp_sink_entry e = { .origin = &it->origin, .rec = &it->rec, .seq = it->seq };
			int ret;
			rp_diag_clear(&d);
			ret = s->ops->append(s, &e, &d);
			if (ret == RP_OK)
				continue;
			if (!permanent(ret)) {
				stall(r, sl, &it->rec, &d);
				stalled = true;
				break;
			}
			refused[kept] = true;
			pthread_mutex_lock(&r->lock);
			r->stats.sink_errors++;
			pthread_mutex_unlock(&r->lock);
			if (r->on_error)
				r->on_error(r->ctx, s, &it->rec, &d);
		}
		if (kept && s->ops->flush) {
			rp_diag_clear(&d);
			if (s->ops->flush(s, &d) < 0) {
				/* Nothing since the last flush is known to be kept. */
				stall(r, sl, NULL, &d);
				return false;
			}
		}
		if (kept)
			sl->backoff_ms = 0; /* progress: the next failure is a new one */
		for (size_t k = 0; k < kept; k++) {
			sl->cursor = r->batch[k].seq;
			settle(r, i, &r->batch[k], refused[k]);
		}
		if (stalled)
			return false;
	}
	if (sl->cursor >= head) {
		sl->failing = false;
		sl->backoff_ms = 0;
		sl->retry_at = 0;
		return false;
	}
	return true;
}

/* After a pass: what every sink has leaves the spool. */
static void after_pass(struct rp_recorder *r)
{
	uint64_t min = UINT64_MAX;
	struct rp_diag d;

	for (unsigned i = 0; i < r->n_sinks; i++)
		if (r->slots[i].cursor < min)
			min = r->slots[i].cursor;
	bool advanced;

	pthread_mutex_lock(&r->lock);
	if (min == UINT64_MAX)
		min = r->head;
	advanced = min > r->min_cursor;
	r->min_cursor = min;
	pthread_mutex_unlock(&r->lock);
	{
		const char *names[RP_RECORDER_MAX_SINKS];
		uint64_t seqs[RP_RECORDER_MAX_SINKS];
		size_t n = 0;
		for (unsigned i = 0; i < r->n_sinks; i++)
			if (r->slots[i].cursor != r->slots[i].stored) {
				names[n] = sink_key(r->slots[i].s);
				seqs[n++] = r->slots[i].cursor;
			}
		if (!n && !advanced)
			return;
		rp_diag_clear(&d);
		/* One synced transaction per round for every sink's cursor and
		 * the pruning. Not stored: the sinks see these records again
		 * after a crash, and take them once. */
		if (rp_spool_set_cursors(r->spool, names, seqs, n, advanced ? min : 0, &d) == RP_OK)
			for (unsigned i = 0; i < r->n_sinks; i++)
				r->slots[i].stored = r->slots[i].cursor;
	}
}

/* Under r->lock: a sink is behind and may be tried now; else *wait_until
 * is when the next one may (0: none is waiting). */
static bool work_due(struct rp_recorder *r, uint64_t *wait_until)
{
	uint64_t now = rp_now_ms();

	*wait_until = 0;
	if (r->direct_head)
		return true;
	for (unsigned i = 0; i < r->n_sinks; i++) {
		const struct slot *sl = &r->slots[i];
		if ((sl->cursor >= r->head && sl->open) || slot_given_up(r, sl))
			continue;
		if (sl->retry_at <= now)
			return true;
		if (!*wait_until || sl->retry_at < *wait_until)
			*wait_until = sl->retry_at;
	}
	return false;
}

/* Records the spool could not keep, straight to every sink that is
 * open and not given up: each gets one try (no spool to retry from), and
 * what a sink cannot take is lost for it, said by on_error. Under
 * sink_lock. */
static void deliver_direct(struct rp_recorder *r)
{
	struct pending *list;
	bool took[RP_RECORDER_MAX_SINKS] = { false };
	struct rp_diag d;

	pthread_mutex_lock(&r->lock);
	list = r->direct_head;
	r->direct_head = r->direct_tail = NULL;
	pthread_mutex_unlock(&r->lock);
	for (struct pending *p = list; p; p = p->next) {
		struct rp_sink_entry e = { .origin = &r->origin, .rec = &p->rec, .seq = 0 };
		bool ok = true;
		for (unsigned i = 0; i < r->n_sinks; i++) {
			struct slot *sl = &r->slots[i];
			int ret = RP_ERR_IO;
			rp_diag_clear(&d);
			if (sl->open && !sl->given_up)
				ret = sl->s->ops->append(sl->s, &e, &d);
			else
				rp_diag_set(&d, RP_ERR_IO, "%s is not reachable now", sl->s->name);
			if (ret == RP_OK) {
				took[i] = true;
				continue;
			}
			ok = false;
			rp_diag_prefix(&d, "attempt %llu (board %s) is not in the spool and is lost for %s",
				       (unsigned long long)p->rec.attempt_id,
				       p->rec.serial[0] ? p->rec.serial : p->rec.port_path, sl->s->name);
			if (r->on_error)
				r->on_error(r->ctx, sl->s, &p->rec, &d);
		}
		pthread_mutex_lock(&r->lock);
		if (ok)
			r->stats.written++;
		else
			r->stats.failed++;
		pthread_mutex_unlock(&r->lock);
		p->ok = ok; /* on_written after the flush below */
	}
	for (unsigned i = 0; i < r->n_sinks; i++) {
		struct slot *sl = &r->slots[i];
		rp_diag_clear(&d);
		if (took[i] && sl->s->ops->flush && sl->s->ops->flush(sl->s, &d) < 0) {
			rp_diag_prefix(&d, "records not in the spool may be lost for %s", sl->s->name);
			if (r->on_error)
				r->on_error(r->ctx, sl->s, NULL, &d);
		}
	}
	while (list) {
		struct pending *next = list->next;
		if (r->on_written)
			r->on_written(r->ctx, &list->rec, list->ok);
		free(list);
		list = next;
	}
}

/* Under r->lock: every sink is open and has everything spooled. */
static bool caught_up(const struct rp_recorder *r)
{
	for (unsigned i = 0; i < r->n_sinks; i++)
		if (!slot_given_up(r, &r->slots[i]) && (!r->slots[i].open || r->slots[i].cursor < r->head))
			return false;
	return true;
}

static void *writer_main(void *arg)
{
	struct rp_recorder *r = arg;
	bool last = false;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		uint64_t want, until;
		bool force;

		while (!(r->closing && !last) && r->pass_wanted <= r->pass_done &&
		       !work_due(r, &until)) {
			if (r->closing && rp_now_ms() >= r->close_deadline)
				break;
			if (r->closing && (!until || until > r->close_deadline))
				until = r->close_deadline;
			if (until) {
				struct timespec ts = rp_ms_to_timespec(until);
				pthread_cond_timedwait(&r->wake, &r->lock, &ts);
			} else {
				pthread_cond_wait(&r->wake, &r->lock);
			}
		}
		want = r->pass_wanted;
		/* A flush, and the first pass of a close, try every sink at
		 * once; later passes of a close honour the backoff. */
		force = want > r->pass_done || (r->closing && !last);
		last = r->closing;
		pthread_mutex_unlock(&r->lock);

		/* Rounds of one batch per sink, each ending with the cursors
		 * stored, which bounds what a crash replays. */
		pthread_mutex_lock(&r->sink_lock);
		deliver_direct(r);
		for (bool more = true; more;) {
			more = false;
			for (unsigned i = 0; i < r->n_sinks; i++)
				more |= deliver(r, i, force);
			after_pass(r);
		}
		pthread_mutex_unlock(&r->sink_lock);

		pthread_mutex_lock(&r->lock);
		if (want > r->pass_done)
			r->pass_done = want;
		pthread_cond_broadcast(&r->idle);
		if (r->closing && (caught_up(r) || rp_now_ms() >= r->close_deadline))
			break;
	}
	r->writer_exited = true;
	pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void *spooler_main(void *arg);

static void close_sinks(struct rp_sink **sinks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (sinks[i])
			sinks[i]->ops->close(sinks[i]);
}

static int open_sinks(struct rp_recorder *r, bool open_later, struct rp_diag *d)
{
	for (unsigned i = 0; i < r->n_sinks; i++) {
		struct slot *sl = &r->slots[i];
		struct rp_diag e;
		/* A spool written when this sink's cursor went by its name (or
		 * by another spelling of the same server, which the key no
		 * longer tells apart): what it was owed is still owed. */
		const char *from = sink_key(sl->s);
		if (!rp_spool_has_cursor(r->spool, from) && rp_spool_has_cursor(r->spool, sl->s->name))
			from = sl->s->name;
		int ret = rp_spool_cursor(r->spool, from, &sl->cursor, d);
		if (ret < 0)
			return ret;
		/* Stored at once: a new sink starts here, also after a crash
		 * before it had anything. */
		{
			const char *name = sink_key(sl->s);
			ret = rp_spool_set_cursors(r->spool, &name, &sl->cursor, 1, 0, d);
			if (ret < 0)
				return ret;
			sl->stored = sl->cursor;
		}
		rp_diag_clear(&e);
		ret = sl->s->ops->open(sl->s, &e);
		if (ret == RP_OK) {
			sl->open = true;
			continue;
		}
		if (!open_later) {
			*d = e;
			return ret;
		}
		stall(r, sl, NULL, &e);
	}
	return RP_OK;
}

int rp_recorder_new(const struct rp_recorder_opts *o, struct rp_recorder **out, struct rp_diag *d)
{
	struct rp_recorder *r;
	int ret, err;

	*out = NULL;
	if (o->n_sinks > RP_RECORDER_MAX_SINKS) {
		close_sinks(o->sinks, o->n_sinks);
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "at most %d record sinks",
				   RP_RECORDER_MAX_SINKS);
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->batch = calloc(BATCH, sizeof(*r->batch));
	if (!r || !r->batch) {
		free(r);
		close_sinks(o->sinks, o->n_sinks);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	for (unsigned i = 0; i < o->n_sinks; i++)
		if (o->sinks[i])
			r->slots[r->n_sinks++].s = o->sinks[i];
	if (o->origin.station) {
		snprintf(r->station, sizeof(r->station), "%s", o->origin.station);
		r->origin.station = r->station;
	}
	if (o->origin.run_id) {
		snprintf(r->run_id, sizeof(r->run_id), "%s", o->origin.run_id);
		r->origin.run_id = r->run_id;
	}
	r->simulated = o->simulated;
	r->on_error = o->on_error;
	r->on_written = o->on_written;
	r->on_durable = o->on_durable;
	r->ctx = o->ctx;
	pthread_mutex_init(&r->sink_lock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	rp_cond_init_monotonic(&r->wake);
	pthread_cond_init(&r->idle, NULL);
	pthread_cond_init(&r->spool_wake, NULL);
	pthread_cond_init(&r->spooled, NULL);

	r->spool_in_memory = !o->spool_path;
	ret = rp_spool_open(o->spool_path, &r->spool, d);
	if (ret == RP_OK) {
		r->head = rp_spool_head(r->spool);
		r->run_first = r->head + 1;
		ret = open_sinks(r, o->open_later, d);
	}
	if (ret == RP_OK) {
		r->min_cursor = r->head;
		for (unsigned i = 0; i < r->n_sinks; i++)
			if (r->slots[i].cursor < r->min_cursor)
				r->min_cursor = r->slots[i].cursor;
		err = pthread_create(&r->thread, NULL, writer_main, r);
		if (err)
			ret = rp_diag_set(d, RP_ERR_NOMEM, "cannot start the record writer: %s",
					  strerror(err));
		r->started = !err;
	}
	if (ret == RP_OK) {
		err = pthread_create(&r->spooler, NULL, spooler_main, r);
		if (err)
			ret = rp_diag_set(d, RP_ERR_NOMEM, "cannot start the record spooler: %s",
					  strerror(err));
		r->spooler_started = !err;
	}
	if (ret < 0) {
		rp_recorder_close(r, NULL);
		return ret;
	}
	*out = r;
	return RP_OK;
}

/* Room for the mask of seq; under r->lock. */
static bool owe(struct rp_recorder *r, uint64_t seq)
{
	size_t idx = (size_t)(seq - r->run_first);

	if (idx >= r->owed_cap) {
		size_t cap = r->owed_cap ? r->owed_cap * 2 : 256;
		uint32_t *n;
		while (cap <= idx)
			cap *= 2;
		n = realloc(r->owed, cap * sizeof(*n));
		if (!n)
			return false;
		memset(n + r->owed_cap, 0, (cap - r->owed_cap) * sizeof(*n));
		r->owed = n;
		r->owed_cap = cap;
	}
	r->owed[idx] = all_sinks(r);
	return true;
}

/* Commit a group to the spool, then let the writer see it. */
static void spool_group(struct rp_recorder *r, struct pending *list)
{
	const struct rp_board_record *recs[SPOOL_GROUP];
	uint64_t seqs[SPOOL_GROUP];
	size_t n = 0;
	struct rp_diag d;
	int ret;

	for (struct pending *p = list; p && n < SPOOL_GROUP; p = p->next)
		recs[n++] = &p->rec;
	rp_diag_clear(&d);
	ret = rp_spool_append_many(r->spool, &r->origin, recs, n, seqs, &d);
	if (ret < 0 && r->on_error) {
		rp_diag_prefix(&d, "the spool cannot keep records (%zu now); they go straight to the "
			       "sinks, and are lost for any sink that cannot take them now", n);
		pthread_mutex_lock(&r->sink_lock);
		r->on_error(r->ctx, NULL, NULL, &d);
		pthread_mutex_unlock(&r->sink_lock);
	}
	/* Before the writer may see them: a board is shown once durable,
	 * and only then recorded by the sinks (on_written). */
	for (size_t i = 0; r->on_durable && i < n; i++)
		r->on_durable(r->ctx, recs[i], ret == RP_OK);
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < n; i++) {
		if (ret == RP_OK) {
			if (seqs[i] > r->head)
				r->head = seqs[i];
			/* Without memory to track it the record is still
			 * delivered; it only goes uncounted. */
			(void)owe(r, seqs[i]);
			if (r->n_sinks == 0)
				r->stats.written++;
		} else {
			/* Not durable anywhere yet: straight to the sinks. */
			struct pending *p = malloc(sizeof(*p));
			r->stats.sink_errors++;
			if (!p) {
				r->stats.failed++;
				continue;
			}
			p->next = NULL;
			p->rec = *recs[i];
			p->ok = false;
			if (r->direct_tail)
				r->direct_tail->next = p;
			else
				r->direct_head = p;
			r->direct_tail = p;
		}
	}
	r->spool_failing = ret < 0;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	if (ret == RP_OK && r->n_sinks == 0) {
		pthread_mutex_lock(&r->sink_lock);
		for (size_t i = 0; i < n; i++) {
			if (r->on_written)
				r->on_written(r->ctx, recs[i], ret == RP_OK);
		}
		pthread_mutex_unlock(&r->sink_lock);
	}
}

static void *spooler_main(void *arg)
{
	struct rp_recorder *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct pending *list, *cut;
		size_t n = 1;
		while (!r->q_head && !r->spooler_closing)
			pthread_cond_wait(&r->spool_wake, &r->lock);
		if (!r->q_head)
			break;
		list = cut = r->q_head;
		while (cut->next && n < SPOOL_GROUP) {
			cut = cut->next;
			n++;
		}
		r->q_head = cut->next;
		if (!r->q_head)
			r->q_tail = NULL;
		cut->next = NULL;
		r->spooling = true;
		pthread_mutex_unlock(&r->lock);
		spool_group(r, list);
		while (list) {
			struct pending *next = list->next;
			free(list);
			list = next;
		}
		pthread_mutex_lock(&r->lock);
		r->spooling = false;
		pthread_cond_broadcast(&r->spooled);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void rp_recorder_submit(struct rp_recorder *r, const struct rp_board_record *rec)
{
	struct pending *p = malloc(sizeof(*p));

	if (!p) {
		/* No memory to queue it: into the spool from here. */
		struct pending self = { .next = NULL, .rec = *rec };
		self.rec.simulated = self.rec.simulated || r->simulated;
		rp_record_make_utf8(&self.rec);
		pthread_mutex_lock(&r->lock);
		r->stats.submitted++;
		pthread_mutex_unlock(&r->lock);
		spool_group(r, &self);
		return;
	}
	p->next = NULL;
	p->rec = *rec;
	p->rec.simulated = p->rec.simulated || r->simulated;
	rp_record_make_utf8(&p->rec);
	pthread_mutex_lock(&r->lock);
	r->stats.submitted++;
	if (r->q_tail)
		r->q_tail->next = p;
	else
		r->q_head = p;
	r->q_tail = p;
	pthread_cond_signal(&r->spool_wake);
	pthread_mutex_unlock(&r->lock);
}

/* Until everything submitted so far is in the spool. */
static void wait_spooled(struct rp_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->spooler_started && (r->q_head || r->spooling))
		pthread_cond_wait(&r->spooled, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

int rp_recorder_last_attempt_id(struct rp_recorder *r, const char *station, uint64_t *out,
				struct rp_diag *d)
{
	int ret;

	*out = 0;
	pthread_mutex_lock(&r->sink_lock);
	ret = rp_spool_last_attempt_id(r->spool, station, out, d);
	for (unsigned i = 0; i < r->n_sinks && ret == RP_OK; i++) {
		struct rp_sink *s = r->slots[i].s;
		uint64_t id = 0;
		if (!s->ops->last_attempt_id || !r->slots[i].open)
			continue;
		ret = s->ops->last_attempt_id(s, station, &id, d);
		if (ret == RP_OK && id > *out)
			*out = id;
	}
	pthread_mutex_unlock(&r->sink_lock);
	return ret;
}

/* Under r->lock, released around the calls: every sink that can wait
 * long (it has interrupt) is told to give up and not tried again, so the
 * writer, wherever it waits, comes back. Local sinks go on: they never
 * wait long, and what they take now is not owed later. */
static void abandon_locked(struct rp_recorder *r)
{
	if (r->abandoned)
		return;
	r->abandoned = true;
	for (unsigned i = 0; i < r->n_sinks; i++)
		if (r->slots[i].s->ops->interrupt)
			r->slots[i].given_up = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->n_sinks; i++)
		if (r->slots[i].s->ops->interrupt)
			r->slots[i].s->ops->interrupt(r->slots[i].s);
	pthread_mutex_lock(&r->lock);
}

/* Under r->lock: wait on idle until woken or the give-up time (or
 * `until`, when earlier and non-zero), giving up when it has come. */
static void wait_idle(struct rp_recorder *r, uint64_t until)
{
	uint64_t dl = r->give_up_at;

	if (!r->abandoned && until && (!dl || until < dl))
		dl = until;
	if (r->abandoned || !dl) {
		pthread_cond_wait(&r->idle, &r->lock);
		return;
	}
	if (rp_now_ms() >= dl) {
		abandon_locked(r);
		return;
	}
	struct timespec ts = rp_ms_to_timespec(dl);
	pthread_cond_timedwait(&r->idle, &r->lock, &ts);
}

void rp_recorder_give_up_at(struct rp_recorder *r, uint64_t deadline_ms)
{
	pthread_mutex_lock(&r->lock);
	if (!r->give_up_at || deadline_ms < r->give_up_at)
		r->give_up_at = deadline_ms ? deadline_ms : 1;
	/* Whoever waits in flush or close looks at the new time. */
	pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
}

void rp_recorder_flush(struct rp_recorder *r)
{
	uint64_t target;

	wait_spooled(r);
	pthread_mutex_lock(&r->lock);
	target = ++r->pass_wanted;
	pthread_cond_signal(&r->wake);
	while (r->started && r->pass_done < target && !r->writer_exited)
		wait_idle(r, 0);
	pthread_mutex_unlock(&r->lock);
}

void rp_recorder_backlog(struct rp_recorder *r, uint64_t *records, int64_t *oldest_age_ms)
{
	uint64_t min, head;
	int64_t created;

	pthread_mutex_lock(&r->lock);
	min = r->min_cursor;
	head = r->head;
	pthread_mutex_unlock(&r->lock);
	*records = head > min ? head - min : 0;
	*oldest_age_ms = 0;
	if (*records) {
		created = rp_spool_created_after(r->spool, min);
		if (created > 0) {
			int64_t age = rp_wall_now_ms() - created;
			*oldest_age_ms = age > 0 ? age : 0;
		}
	}
}

void rp_recorder_stats(struct rp_recorder *r, struct rp_recorder_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	out->backlog = r->head > r->min_cursor ? r->head - r->min_cursor : 0;
	pthread_mutex_unlock(&r->lock);
}

bool rp_recorder_spool_failing(struct rp_recorder *r)
{
	bool f;

	pthread_mutex_lock(&r->lock);
	f = r->spool_failing;
	pthread_mutex_unlock(&r->lock);
	return f;
}

unsigned rp_recorder_n_sinks(const struct rp_recorder *r)
{
	return r->n_sinks;
}

const struct rp_sink *rp_recorder_sink(const struct rp_recorder *r, unsigned i)
{
	return i < r->n_sinks ? r->slots[i].s : NULL;
}

/* At close: the records of this run some sink still lacks are counted
 * and told (all_ok false); they stay in the spool for the next start. */
static void settle_leftovers(struct rp_recorder *r)
{
	for (uint64_t seq = r->run_first; seq <= r->head; seq++) {
		size_t n = 0;
		struct rp_diag d;
		if (seq - r->run_first >= r->owed_cap || !(r->owed[seq - r->run_first] & all_sinks(r)))
			continue;
		r->stats.failed++;
		if (!r->on_written)
			continue;
		rp_diag_clear(&d);
		if (rp_spool_read(r->spool, seq - 1, r->batch, 1, &n, &d) == RP_OK && n == 1 &&
		    r->batch[0].seq == seq)
			r->on_written(r->ctx, &r->batch[0].rec, false);
	}
}

void rp_recorder_close(struct rp_recorder *r, struct rp_recorder_stats *stats)
{
	uint64_t hard;

	if (!r)
		return;
	if (r->spooler_started) {
		pthread_mutex_lock(&r->lock);
		r->spooler_closing = true;
		pthread_cond_signal(&r->spool_wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->spooler, NULL);
		r->spooler_started = false;
	}
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->closing = true;
		r->close_deadline = rp_now_ms() +
				    (r->spool_in_memory && r->n_sinks ? CLOSE_GRACE_MEMORY_MS : CLOSE_GRACE_MS);
		if (r->give_up_at && r->give_up_at < r->close_deadline)
			r->close_deadline = r->give_up_at;
		pthread_cond_signal(&r->wake);
		/* A sink still busy at the deadline finishes its pass (it may be
		 * catching up a long backlog); one blocked on its server well
		 * past it is interrupted, its records kept in the spool for the
		 * next start. A stop signal's give-up time comes first. */
		hard = r->close_deadline + CLOSE_HARD_MS;
		while (!r->writer_exited)
			wait_idle(r, hard);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	if (r->spool)
		settle_leftovers(r);
	rp_recorder_stats(r, &r->stats);
	if (stats)
		*stats = r->stats;
	for (unsigned i = 0; i < r->n_sinks; i++)
		r->slots[i].s->ops->close(r->slots[i].s);
	rp_spool_close(r->spool);
	free(r->owed);
	free(r->batch);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->spool_wake);
	pthread_cond_destroy(&r->spooled);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->sink_lock);
	free(r);
}
