#include "station/finish_gate.h"

#include <pthread.h>
#include <stdlib.h>

struct held {
	struct held *next;
	struct rp_device_info info;
	struct rp_board_record rec;
};

struct rp_finish_gate {
	rp_runner_event_fn fn;
	void *ctx;
	pthread_mutex_t lock;
	struct held *held;
};

struct rp_finish_gate *rp_finish_gate_new(rp_runner_event_fn fn, void *ctx)
{
	struct rp_finish_gate *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->fn = fn;
	g->ctx = ctx;
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

static void emit(struct rp_finish_gate *g, struct held *h)
{
	struct rp_runner_event ev = {
		.type = RP_RUNNER_BOARD_FINISHED, .info = &h->info, .record = &h->rec,
	};
	if (g->fn)
		g->fn(g->ctx, &ev);
}

void rp_finish_gate_event(struct rp_finish_gate *g, const struct rp_runner_event *ev)
{
	struct held *h = NULL;

	if (ev->type == RP_RUNNER_BOARD_FINISHED && ev->record)
		h = malloc(sizeof(*h));
	pthread_mutex_lock(&g->lock);
	if (h) {
		h->info = ev->info ? *ev->info : (struct rp_device_info){ 0 };
		h->rec = *ev->record;
		h->next = g->held;
		g->held = h;
	} else if (g->fn) {
		/* Without memory to hold it, shown now: never lost. */
		g->fn(g->ctx, ev);
	}
	pthread_mutex_unlock(&g->lock);
}

void rp_finish_gate_release(struct rp_finish_gate *g, const struct rp_board_record *rec)
{
	struct held **pp, *h = NULL;

	pthread_mutex_lock(&g->lock);
	for (pp = &g->held; *pp; pp = &(*pp)->next)
		if ((*pp)->rec.attempt_id == rec->attempt_id) {
			h = *pp;
			*pp = h->next;
			break;
		}
	if (h)
		emit(g, h);
	pthread_mutex_unlock(&g->lock);
	free(h);
}

void rp_finish_gate_free(struct rp_finish_gate *g)
{
	if (!g)
		return;
	while (g->held) {
		struct held *h = g->held;
		g->held = h->next;
		emit(g, h);
		free(h);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}
