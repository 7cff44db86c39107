#include "records/recorder.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
	struct pending *next;
	uint64_t seq;
	struct rp_board_record rec;
};

struct rp_recorder {
	struct rp_sink *sinks[RP_RECORDER_MAX_SINKS];
	unsigned n_sinks;
	char station[RP_ORIGIN_STATION_MAX], run_id[RP_ORIGIN_RUN_ID_MAX];
	struct rp_record_origin origin;
	rp_recorder_error_fn on_error;
	rp_recorder_written_fn on_written;
	void *ctx;

	/* Sinks and callbacks are used one call at a time: the writer thread
	 * holds this while it calls them, and so does anyone else who must
	 * (a record written in place when there was no memory to queue it). */
	pthread_mutex_t sink_lock;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* the writer: work, or closing */
	pthread_cond_t idle;  /* rp_recorder_flush: the writer caught up */
	pthread_t thread;
	bool started, closing, busy;
	struct pending *head, *tail;
	uint64_t seq;
	struct rp_recorder_stats stats;
};

static void count(struct rp_recorder *r, bool ok, unsigned sink_errors)
{
	pthread_mutex_lock(&r->lock);
	if (ok)
		r->stats.written++;
	else
		r->stats.failed++;
	r->stats.sink_errors += sink_errors;
	pthread_mutex_unlock(&r->lock);
}

/* One record to every sink: a refusal is reported and the next sink still
 * gets the record, so one full disk does not also cost the database row. */
static void write_one(struct rp_recorder *r, const struct rp_board_record *rec, uint64_t seq)
{
	struct rp_sink_entry e = { .origin = &r->origin, .rec = rec, .seq = seq };
	unsigned errors = 0;
	struct rp_diag d;

	pthread_mutex_lock(&r->sink_lock);
	for (unsigned i = 0; i < r->n_sinks; i++) {
		struct rp_sink *s = r->sinks[i];
		rp_diag_clear(&d);
		if (s->ops->append(s, &e, &d) < 0) {
			errors++;
			if (r->on_error)
				r->on_error(r->ctx, s, rec, &d);
		}
	}
	/* Counted before on_written, so whoever hears of the record and then
	 * asks for the figures finds it in them. */
	count(r, errors == 0, errors);
	if (r->on_written)
		r->on_written(r->ctx, rec, errors == 0);
	pthread_mutex_unlock(&r->sink_lock);
}

static void flush_sinks(struct rp_recorder *r)
{
	unsigned errors = 0;
	struct rp_diag d;

	pthread_mutex_lock(&r->sink_lock);
	for (unsigned i = 0; i < r->n_sinks; i++) {
		struct rp_sink *s = r->sinks[i];
		if (!s->ops->flush)
			continue;
		rp_diag_clear(&d);
		if (s->ops->flush(s, &d) < 0) {
			errors++;
			if (r->on_error)
				r->on_error(r->ctx, s, NULL, &d);
		}
	}
	pthread_mutex_unlock(&r->sink_lock);
	if (errors) {
		pthread_mutex_lock(&r->lock);
		r->stats.sink_errors += errors;
		pthread_mutex_unlock(&r->lock);
	}
}

static void *writer_main(void *arg)
{
	struct rp_recorder *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct pending *p;
		while (!r->head && !r->closing)
			pthread_cond_wait(&r->wake, &r->lock);
		p = r->head;
		if (!p)
			break; /* closing, and drained */
		r->head = p->next;
		if (!r->head)
			r->tail = NULL;
		r->busy = true;
		pthread_mutex_unlock(&r->lock);
		write_one(r, &p->rec, p->seq);
		free(p);
		pthread_mutex_lock(&r->lock);
		/* Caught up: make the burst durable now rather than per record,
		 * so sinks that batch (a remote database) can. */
		if (!r->head) {
			pthread_mutex_unlock(&r->lock);
			flush_sinks(r);
			pthread_mutex_lock(&r->lock);
		}
		r->busy = false;
		if (!r->head)
			pthread_cond_broadcast(&r->idle);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void close_sinks(struct rp_sink **sinks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (sinks[i])
			sinks[i]->ops->close(sinks[i]);
}

int rp_recorder_new(const struct rp_recorder_opts *o, struct rp_recorder **out, struct rp_diag *d)
{
	struct rp_recorder *r;
	int ret = RP_OK, err;

	*out = NULL;
	if (o->n_sinks > RP_RECORDER_MAX_SINKS) {
		close_sinks(o->sinks, o->n_sinks);
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "at most %d record sinks",
				   RP_RECORDER_MAX_SINKS);
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		close_sinks(o->sinks, o->n_sinks);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	for (unsigned i = 0; i < o->n_sinks; i++)
		if (o->sinks[i])
			r->sinks[r->n_sinks++] = o->sinks[i];
	if (o->origin.station) {
		snprintf(r->station, sizeof(r->station), "%s", o->origin.station);
		r->origin.station = r->station;
	}
	if (o->origin.run_id) {
		snprintf(r->run_id, sizeof(r->run_id), "%s", o->origin.run_id);
		r->origin.run_id = r->run_id;
	}
	r->on_error = o->on_error;
	r->on_written = o->on_written;
	r->ctx = o->ctx;
	pthread_mutex_init(&r->sink_lock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->idle, NULL);

	for (unsigned i = 0; i < r->n_sinks && ret == RP_OK; i++)
		ret = r->sinks[i]->ops->open(r->sinks[i], d);
	if (ret == RP_OK) {
		err = pthread_create(&r->thread, NULL, writer_main, r);
		if (err)
			ret = rp_diag_set(d, RP_ERR_NOMEM, "cannot start the record writer: %s",
					  strerror(err));
		r->started = !err;
	}
	if (ret < 0) {
		rp_recorder_close(r, NULL);
		return ret;
	}
	*out = r;
	return RP_OK;
}

void rp_recorder_submit(struct rp_recorder *r, const struct rp_board_record *rec)
{
	struct pending *p = malloc(sizeof(*p));
	uint64_t seq;

	pthread_mutex_lock(&r->lock);
	seq = ++r->seq;
	r->stats.submitted++;
	if (p) {
		p->next = NULL;
		p->seq = seq;
		p->rec = *rec;
		if (r->tail)
			r->tail->next = p;
		else
			r->head = p;
		r->tail = p;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	/* No memory for a copy: write it here rather than lose it. */
	if (!p)
		write_one(r, rec, seq);
}

int rp_recorder_last_attempt_id(struct rp_recorder *r, const char *station, uint64_t *out,
				struct rp_diag *d)
{
	int ret = RP_OK;

	*out = 0;
	pthread_mutex_lock(&r->sink_lock);
	for (unsigned i = 0; i < r->n_sinks && ret == RP_OK; i++) {
		struct rp_sink *s = r->sinks[i];
		uint64_t id = 0;
		if (!s->ops->last_attempt_id)
			continue;
		ret = s->ops->last_attempt_id(s, station, &id, d);
		if (ret == RP_OK && id > *out)
			*out = id;
	}
	pthread_mutex_unlock(&r->sink_lock);
	return ret;
}

void rp_recorder_flush(struct rp_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	while (r->started && (r->head || r->busy))
		pthread_cond_wait(&r->idle, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

void rp_recorder_stats(struct rp_recorder *r, struct rp_recorder_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	pthread_mutex_unlock(&r->lock);
}

unsigned rp_recorder_n_sinks(const struct rp_recorder *r)
{
	return r->n_sinks;
}

const struct rp_sink *rp_recorder_sink(const struct rp_recorder *r, unsigned i)
{
	return i < r->n_sinks ? r->sinks[i] : NULL;
}

void rp_recorder_close(struct rp_recorder *r, struct rp_recorder_stats *stats)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->closing = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->started = false;
		/* Records written in place (no memory to queue them) were not
		 * followed by the writer's flush. */
		flush_sinks(r);
	}
	if (stats)
		*stats = r->stats;
	close_sinks(r->sinks, r->n_sinks);
	while (r->head) {
		struct pending *p = r->head;
		r->head = p->next;
		free(p);
	}
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->sink_lock);
	free(r);
}
