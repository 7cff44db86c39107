#include "station/dashboard.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpiprov-config.h"
#include "records/json_fields.h"
#include "records/record_json.h"
#include "station/event_json.h"
#include "station/rate.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/port_path.h"
#include "util/timefmt.h"

#define MAX_TILES 512          /* more ports than any hub tree a station would have */
#define RING 4096              /* events kept for SSE clients that fall behind */
#define ATTEMPTS_KEEP 16384    /* finished attempts /api/attempts can return */
#define FAILURES_KEEP 10
#define MAX_REASONS 64
/* A board sends progress for every chunk; browsers need a few a second. */
#define PROGRESS_GAP_MS 250
#define N_HIST (RP_PHASE_COUNT + 1) /* the phases, then the whole attempt */

static const double bucket_le[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300 };
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const event_names[] = {
	[RP_RUNNER_DEVICE_IGNORED] = "ignored",   [RP_RUNNER_BOARD_STARTED] = "started",
	[RP_RUNNER_PHASE] = "phase",              [RP_RUNNER_PROGRESS] = "progress",
	[RP_RUNNER_BOARD_FINISHED] = "finished",  [RP_RUNNER_IDLE_TIMEOUT] = "idle_timeout",
};

static const enum rp_board_result results[] = {
	RP_RESULT_OK, RP_RESULT_SERVED, RP_RESULT_FAILED, RP_RESULT_TIMEOUT, RP_RESULT_LEFT,
	RP_RESULT_UNVERIFIED,
};
#define N_RESULTS (sizeof(results) / sizeof(results[0]))

/* Immutable shared text: written once under the lock, read by any thread. */
struct rstr {
	atomic_uint ref;
	size_t len;
	char s[];
};

static struct rstr *rstr_new(const char *s, size_t len)
{
	struct rstr *r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return NULL;
	atomic_init(&r->ref, 1);
	r->len = len;
	memcpy(r->s, s, len);
	r->s[len] = '\0';
	return r;
}

static struct rstr *rstr_ref(struct rstr *r)
{
	if (r)
		atomic_fetch_add(&r->ref, 1);
	return r;
}

static void rstr_unref(struct rstr *r)
{
	if (r && atomic_fetch_sub(&r->ref, 1) == 1)
		free(r);
}

struct tile {
	char port[RP_PORT_PATH_MAX];
	char serial[RP_SERIAL_MAX];
	bool busy, has_phase, has_last;
	enum rp_phase phase;
	char file[32];
	uint64_t done, total;
	uint64_t started_ms, finished_ms, last_progress_ms;
	uint64_t attempt_id;
	struct rstr *last; /* the record of the last finished attempt, as JSON */
	char soc[8];       /* of the board last seen here */
	uint64_t attempts, ok; /* finished here, and of them OK: the port's yield */
};

/* /metrics counts per port and SoC (an alert on one bad hub port needs
 * them); the failure reasons index d->reasons. */
struct port_count {
	char port[RP_PORT_PATH_MAX];
	char soc[8];
	uint64_t by_result[N_RESULTS];
	uint64_t by_reason[MAX_REASONS];
};

struct hist {
	uint64_t bucket[N_BUCKETS]; /* not cumulative here; summed when rendered */
	double sum;
	uint64_t count;
};

struct attempt {
	int64_t start_unix_ms;
	struct rstr *json;
};

struct rp_dash {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char station[RP_ORIGIN_STATION_MAX], run_id[RP_ORIGIN_RUN_ID_MAX];
	struct rp_record_origin origin;
	char *fw[RP_DASH_MAX_FIRMWARE][3];
	unsigned n_fw;
	int64_t process_start_unix_ms;
	rp_dash_backlog_fn backlog;
	bool (*records_at_risk)(void *ctx);
	void *backlog_ctx;

	struct tile *tiles;
	unsigned n_tiles;
	unsigned ok, failed, ignored, finished;
	unsigned unverified; /* written, not confirmed: neither ok nor failed */
	uint64_t by_result[N_RESULTS];
	struct {
		const char *reason; /* static text (rp_error_name) */
		uint64_t count;
	} reasons[MAX_REASONS];
	unsigned n_reasons;
	struct hist hist[N_HIST];
	struct rp_rate rate;
	struct port_count *counts;
	size_t n_counts, cap_counts;

	uint64_t seq; /* of the newest event in ring */
	struct rstr *ring[RING];
	struct attempt *attempts; /* ring of ATTEMPTS_KEEP */
	uint64_t n_attempts;      /* ever added */
	struct rstr *failures[FAILURES_KEEP];
	uint64_t n_failures;      /* ever added */
	bool woken;
};

int rp_dash_new(const struct rp_dash_opts *opts, struct rp_dash **out)
{
	struct rp_dash *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return RP_ERR_NOMEM;
	d->tiles = calloc(MAX_TILES, sizeof(*d->tiles));
	d->attempts = calloc(ATTEMPTS_KEEP, sizeof(*d->attempts));
	if (!d->tiles || !d->attempts)
		goto nomem;
	snprintf(d->station, sizeof(d->station), "%s", opts->origin.station ? opts->origin.station : "");
	snprintf(d->run_id, sizeof(d->run_id), "%s", opts->origin.run_id ? opts->origin.run_id : "");
	d->origin.station = d->station;
	d->origin.run_id = d->run_id;
	for (unsigned i = 0; i < opts->n_firmware && i < RP_DASH_MAX_FIRMWARE; i++) {
		const struct rp_dash_firmware *f = &opts->firmware[i];
		d->fw[i][0] = strdup(f->soc ? f->soc : "");
		d->fw[i][1] = strdup(f->image ? f->image : "");
		d->fw[i][2] = strdup(f->sha256 ? f->sha256 : "");
		d->n_fw = i + 1;
		if (!d->fw[i][0] || !d->fw[i][1] || !d->fw[i][2])
			goto nomem;
	}
	d->process_start_unix_ms = opts->process_start_unix_ms;
	d->backlog = opts->backlog;
	d->records_at_risk = opts->records_at_risk;
	d->backlog_ctx = opts->backlog_ctx;
	pthread_mutex_init(&d->lock, NULL);
	rp_cond_init_monotonic(&d->cond);
	*out = d;
	return RP_OK;
nomem:
	free(d->tiles);
	free(d->attempts);
	for (unsigned i = 0; i < RP_DASH_MAX_FIRMWARE; i++)
		for (unsigned j = 0; j < 3; j++)
			free(d->fw[i][j]);
	free(d);
	return RP_ERR_NOMEM;
}

void rp_dash_free(struct rp_dash *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->n_tiles; i++)
		rstr_unref(d->tiles[i].last);
	for (unsigned i = 0; i < RING; i++)
		rstr_unref(d->ring[i]);
	for (unsigned i = 0; i < ATTEMPTS_KEEP; i++)
		rstr_unref(d->attempts[i].json);
	for (unsigned i = 0; i < FAILURES_KEEP; i++)
		rstr_unref(d->failures[i]);
	for (unsigned i = 0; i < RP_DASH_MAX_FIRMWARE; i++)
		for (unsigned j = 0; j < 3; j++)
			free(d->fw[i][j]);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d->counts);
	free(d->tiles);
	free(d->attempts);
	free(d);
}

static struct tile *tile_for(struct rp_dash *d, const char *port)
{
	unsigned i;

	for (i = 0; i < d->n_tiles; i++) {
		int c = rp_port_path_cmp(d->tiles[i].port, port);
		if (c == 0)
			return &d->tiles[i];
		if (c > 0)
			break;
	}
	if (d->n_tiles == MAX_TILES)
		return NULL;
	memmove(&d->tiles[i + 1], &d->tiles[i], (d->n_tiles - i) * sizeof(*d->tiles));
	memset(&d->tiles[i], 0, sizeof(*d->tiles));
	snprintf(d->tiles[i].port, sizeof(d->tiles[i].port), "%s", port);
	d->n_tiles++;
	return &d->tiles[i];
}

static void observe(struct hist *h, double seconds)
{
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= bucket_le[i]) {
			h->bucket[i]++;
			break;
		}
	h->sum += seconds;
	h->count++;
}

static bool result_ok(enum rp_board_result r)
{
	return r == RP_RESULT_OK || r == RP_RESULT_SERVED;
}

/* The counters of (port, soc); NULL without memory (the totals still count). */
static struct port_count *count_for(struct rp_dash *d, const char *port, const char *soc)
{
	for (size_t i = 0; i < d->n_counts; i++)
		if (!strncmp(d->counts[i].port, port, sizeof(d->counts[i].port)) &&
		    !strncmp(d->counts[i].soc, soc, sizeof(d->counts[i].soc)))
			return &d->counts[i];
	if (d->n_counts == d->cap_counts) {
		size_t cap = d->cap_counts ? d->cap_counts * 2 : 16;
		struct port_count *n = cap <= MAX_TILES * 8 ? realloc(d->counts, cap * sizeof(*n)) : NULL;
		if (!n)
			return NULL;
		d->counts = n;
		d->cap_counts = cap;
	}
	memset(&d->counts[d->n_counts], 0, sizeof(d->counts[0]));
	snprintf(d->counts[d->n_counts].port, sizeof(d->counts[0].port), "%s", port);
	snprintf(d->counts[d->n_counts].soc, sizeof(d->counts[0].soc), "%s", soc);
	return &d->counts[d->n_counts++];
}

static void count_finished(struct rp_dash *d, const struct rp_board_record *r, struct rstr *json,
			   uint64_t now_ms)
{
	bool ok = result_ok(r->result), unverified = r->result == RP_RESULT_UNVERIFIED;
	char port[sizeof(r->port_path)], soc[sizeof(r->soc)];
	struct port_count *pc;

	snprintf(port, sizeof(port), "%.*s", (int)sizeof(port) - 1, r->port_path);
	snprintf(soc, sizeof(soc), "%.*s", (int)sizeof(soc) - 1, r->soc);
	pc = count_for(d, port, soc);

	d->finished++;
	if (ok)
		d->ok++;
	else if (unverified)
		d->unverified++;
	else
		d->failed++;
	/* A board written but not confirmed still left the line. */
	rp_rate_finished(&d->rate, now_ms, ok || unverified);
	for (size_t i = 0; i < N_RESULTS; i++)
		if (results[i] == r->result) {
			d->by_result[i]++;
			if (pc)
				pc->by_result[i]++;
		}
	if (!ok && !unverified) {
		const char *reason = r->error_code ? rp_error_name(r->error_code) : "unknown";
		unsigned i;
		for (i = 0; i < d->n_reasons; i++)
			if (!strcmp(d->reasons[i].reason, reason))
				break;
		if (i == d->n_reasons && i < MAX_REASONS)
			d->reasons[d->n_reasons++].reason = reason;
		if (i < d->n_reasons) {
			d->reasons[i].count++;
			if (pc)
				pc->by_reason[i]++;
		}
		if (json) {
			unsigned slot = (unsigned)(d->n_failures++ % FAILURES_KEEP);
			rstr_unref(d->failures[slot]);
			d->failures[slot] = rstr_ref(json);
		}
	}
	{
		/* A phase took 0 ms or was never reached: the phases up to the
		 * last one that took time were all passed through. */
		int reached = -1;
		for (int p = 0; p < RP_PHASE_COUNT; p++)
			if (r->phase_ms[p])
				reached = p;
		if (result_ok(r->result))
			reached = RP_PHASE_COUNT - 1;
		for (int p = 0; p <= reached; p++)
			observe(&d->hist[p], r->phase_ms[p] / 1000.0);
	}
	if (r->end_unix_ms >= r->start_unix_ms)
		observe(&d->hist[RP_PHASE_COUNT], (double)(r->end_unix_ms - r->start_unix_ms) / 1000.0);
	if (json) {
		struct attempt *a = &d->attempts[d->n_attempts++ % ATTEMPTS_KEEP];
		rstr_unref(a->json);
		a->json = rstr_ref(json);
		a->start_unix_ms = r->start_unix_ms;
	}
}

/* The event as one SSE message into the ring. */
static void ring_push(struct rp_dash *d, const struct rp_runner_event *ev, int64_t wall_ms)
{
	size_t len = 0;
	char *line = rp_event_json_line(ev, &d->origin, wall_ms, &len);
	const char *name = (unsigned)ev->type < sizeof(event_names) / sizeof(event_names[0]) &&
				   event_names[ev->type] ? event_names[ev->type] : "unknown";
	char head[96];
	int hl;
	struct rstr *msg;
	uint64_t seq = d->seq + 1;

	if (!line)
		return;
	if (len && line[len - 1] == '\n')
		len--;
	hl = snprintf(head, sizeof(head), "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, name);
	msg = malloc(sizeof(*msg) + (size_t)hl + len + 3);
	if (msg) {
		atomic_init(&msg->ref, 1);
		memcpy(msg->s, head, (size_t)hl);
		memcpy(msg->s + hl, line, len);
		memcpy(msg->s + hl + len, "\n\n", 3);
		msg->len = (size_t)hl + len + 2;
		rstr_unref(d->ring[seq % RING]);
		d->ring[seq % RING] = msg;
		d->seq = seq;
		pthread_cond_broadcast(&d->cond);
	}
	free(line);
}

void rp_dash_event(struct rp_dash *d, const struct rp_runner_event *ev, uint64_t now_ms, int64_t wall_ms)
{
	const struct rp_board_record *r = ev->record;
	struct tile *t = NULL;
	struct rstr *json = NULL;
	bool push = true;

	/* The record's JSON is made before taking the lock: readers wait less. */
	if (ev->type == RP_RUNNER_BOARD_FINISHED && r) {
		size_t len = 0;
		char *text = rp_record_json_line(r, &d->origin, &len);
		if (text) {
			json = rstr_new(text, len && text[len - 1] == '\n' ? len - 1 : len);
			free(text);
		}
	}
	pthread_mutex_lock(&d->lock);
	if (ev->type == RP_RUNNER_DEVICE_IGNORED)
		d->ignored++;
	if ((ev->info || r) && ev->type != RP_RUNNER_DEVICE_IGNORED && ev->type != RP_RUNNER_IDLE_TIMEOUT) {
		const char *port = r && r->port_path[0] ? r->port_path : ev->info ? ev->info->port_path : "";
		const char *serial = r && r->serial[0] ? r->serial : ev->info ? ev->info->serial : "";
		t = tile_for(d, port);
		if (t && serial[0])
			snprintf(t->serial, sizeof(t->serial), "%s", serial);
		if (t && r && r->soc[0])
			snprintf(t->soc, sizeof(t->soc), "%.*s", (int)sizeof(t->soc) - 1, r->soc);
	}
	switch (ev->type) {
	case RP_RUNNER_BOARD_STARTED:
		rp_rate_started(&d->rate, now_ms);
		if (t) {
			t->busy = true;
			t->has_phase = false;
			t->file[0] = '\0';
			t->done = t->total = 0;
			t->started_ms = now_ms;
			t->last_progress_ms = 0;
			t->attempt_id = r ? r->attempt_id : 0;
		}
		break;
	case RP_RUNNER_PHASE:
		if (t) {
			t->has_phase = true;
			t->phase = ev->phase;
		}
		break;
	case RP_RUNNER_PROGRESS:
		if (t) {
			snprintf(t->file, sizeof(t->file), "%s", ev->file ? ev->file : "");
			t->done = ev->done;
			t->total = ev->total;
			push = now_ms - t->last_progress_ms >= PROGRESS_GAP_MS || ev->done >= ev->total;
			if (push)
				t->last_progress_ms = now_ms;
		}
		break;
	case RP_RUNNER_BOARD_FINISHED:
		if (r)
			count_finished(d, r, json, now_ms);
		if (t) {
			t->busy = false;
			t->finished_ms = now_ms;
			t->has_last = true;
			t->attempts++;
			t->ok += r && result_ok(r->result);
			rstr_unref(t->last);
			t->last = rstr_ref(json);
		}
		break;
	default:
		break;
	}
	if (push)
		ring_push(d, ev, wall_ms);
	pthread_mutex_unlock(&d->lock);
	rstr_unref(json);
}

uint64_t rp_dash_seq(struct rp_dash *d)
{
	uint64_t s;
	pthread_mutex_lock(&d->lock);
	s = d->seq;
	pthread_mutex_unlock(&d->lock);
	return s;
}

bool rp_dash_wait(struct rp_dash *d, uint64_t seq, unsigned timeout_ms)
{
	uint64_t deadline = rp_deadline_in(timeout_ms);
	bool news;

	pthread_mutex_lock(&d->lock);
	while (d->seq <= seq && !d->woken) {
		struct timespec ts = rp_ms_to_timespec(deadline);
		if (rp_now_ms() >= deadline || pthread_cond_timedwait(&d->cond, &d->lock, &ts) != 0)
			break;
	}
	news = d->seq > seq;
	pthread_mutex_unlock(&d->lock);
	return news;
}

void rp_dash_wake(struct rp_dash *d)
{
	pthread_mutex_lock(&d->lock);
	d->woken = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

size_t rp_dash_sse_after(struct rp_dash *d, uint64_t *seq, char *buf, size_t cap)
{
	size_t n = 0;

	pthread_mutex_lock(&d->lock);
	if (*seq < d->seq) {
		uint64_t oldest = d->seq >= RING ? d->seq - RING + 1 : 1;
		if (*seq + 1 < oldest) {
			static const char resync[] = "event: resync\ndata: {}\n\n";
			if (cap >= sizeof(resync) - 1) {
				memcpy(buf, resync, sizeof(resync) - 1);
				n = sizeof(resync) - 1;
				*seq = d->seq;
			}
		} else {
			while (*seq < d->seq) {
				const struct rstr *m = d->ring[(*seq + 1) % RING];
				if (m && m->len > cap - n && n)
					break;
				/* A message larger than any buffer is dropped, not waited for. */
				if (m && m->len <= cap - n) {
					memcpy(buf + n, m->s, m->len);
					n += m->len;
				}
				(*seq)++;
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* ---- rendering, outside the lock, from copies ---- */

struct snap_tile {
	struct tile t; /* t.last holds a reference */
};

static struct json_object *parse_or_null(const struct rstr *s)
{
	struct json_object *o = s ? json_tokener_parse(s->s) : NULL;
	return o ? o : json_object_new_null();
}

static struct json_object *totals_json(unsigned ok, unsigned unverified, unsigned failed,
				       unsigned in_progress,
				       unsigned ignored, unsigned finished, const struct rp_rate *rate,
				       uint64_t now_ms)
{
	struct json_object *o = json_object_new_object();
	double per_hour;
	unsigned count;

	if (!o)
		return NULL;
	rp_json_add(o, "ok", json_object_new_uint64(ok));
	rp_json_add(o, "unverified", json_object_new_uint64(unverified));
	rp_json_add(o, "failed", json_object_new_uint64(failed));
	rp_json_add(o, "in_progress", json_object_new_uint64(in_progress));
	rp_json_add(o, "ignored", json_object_new_uint64(ignored));
	rp_json_add(o, "finished", json_object_new_uint64(finished));
	if (rp_rate_per_hour(rate, now_ms, &per_hour, &count)) {
		rp_json_add(o, "boards_per_hour", json_object_new_double(per_hour));
		rp_json_add(o, "boards_in_window", json_object_new_uint64(count));
	} else {
		rp_json_add_null(o, "boards_per_hour");
		rp_json_add_null(o, "boards_in_window");
	}
	return o;
}

char *rp_dash_status_json(struct rp_dash *d, uint64_t now_ms, int64_t wall_ms, uint64_t *seq_out,
			  size_t *len)
{
	struct snap_tile *tiles;
	struct rstr *fails[FAILURES_KEEP];
	unsigned n_tiles, n_fails = 0, ok, unverified, failed, ignored, finished, busy = 0;
	uint64_t seq;
	struct rp_rate rate;
	struct json_object *o, *arr;
	char iso[RP_TIME_ISO_MAX];
	char *text;

	tiles = calloc(MAX_TILES, sizeof(*tiles));
	if (!tiles)
		return NULL;
	pthread_mutex_lock(&d->lock);
	n_tiles = d->n_tiles;
	for (unsigned i = 0; i < n_tiles; i++) {
		tiles[i].t = d->tiles[i];
		rstr_ref(tiles[i].t.last);
	}
	for (uint64_t i = 0; i < FAILURES_KEEP && i < d->n_failures; i++)
		fails[n_fails++] = rstr_ref(d->failures[(d->n_failures - 1 - i) % FAILURES_KEEP]);
	ok = d->ok;
	unverified = d->unverified;
	failed = d->failed;
	ignored = d->ignored;
	finished = d->finished;
	rate = d->rate;
	seq = d->seq;
	pthread_mutex_unlock(&d->lock);
	if (seq_out)
		*seq_out = seq;

	o = json_object_new_object();
	if (o) {
		rp_json_add_string_or_null(o, "station", d->station);
		rp_json_add_string_or_null(o, "run_id", d->run_id);
		rp_time_format_iso(wall_ms, iso);
		rp_json_add(o, "time", json_object_new_string(iso));
		rp_json_add(o, "unix_ms", json_object_new_int64(wall_ms));
		rp_time_format_iso(d->process_start_unix_ms, iso);
		rp_json_add(o, "started", json_object_new_string(iso));
		rp_json_add(o, "seq", json_object_new_uint64(seq));
		rp_json_add(o, "records_at_risk",
			    json_object_new_boolean(d->records_at_risk &&
						    d->records_at_risk(d->backlog_ctx)));
		arr = json_object_new_array();
		for (unsigned i = 0; arr && i < d->n_fw; i++) {
			struct json_object *f = json_object_new_object();
			rp_json_add(f, "soc", json_object_new_string(d->fw[i][0]));
			rp_json_add_string_or_null(f, "image", d->fw[i][1]);
			rp_json_add(f, "sha256", json_object_new_string(d->fw[i][2]));
			json_object_array_add(arr, f);
		}
		rp_json_add(o, "firmware", arr);
		arr = json_object_new_array();
		for (unsigned i = 0; arr && i < n_tiles; i++) {
			const struct tile *t = &tiles[i].t;
			struct json_object *p = json_object_new_object();
			uint64_t end = t->busy ? now_ms : t->finished_ms;
			rp_json_add_string_n(p, "port", t->port, sizeof(t->port));
			rp_json_add_string_or_null(p, "serial", t->serial);
			rp_json_add(p, "busy", json_object_new_boolean(t->busy));
			if (t->busy && t->has_phase)
				rp_json_add(p, "phase", json_object_new_string(rp_phase_name(t->phase)));
			else
				rp_json_add_null(p, "phase");
			if (t->busy)
				rp_json_add(p, "attempt_id", json_object_new_uint64(t->attempt_id));
			else
				rp_json_add_null(p, "attempt_id");
			rp_json_add_string_or_null(p, "file", t->busy ? t->file : NULL);
			rp_json_add(p, "done", json_object_new_uint64(t->busy ? t->done : 0));
			rp_json_add(p, "total", json_object_new_uint64(t->busy ? t->total : 0));
			/* An idle port has no running time: its last attempt's
			 * duration is in "last". */
			if (t->busy)
				rp_json_add(p, "elapsed_ms",
					    json_object_new_uint64(end > t->started_ms ? end - t->started_ms : 0));
			else
				rp_json_add_null(p, "elapsed_ms");
			rp_json_add_string_or_null(p, "soc", t->soc);
			rp_json_add(p, "attempts", json_object_new_uint64(t->attempts));
			rp_json_add(p, "ok", json_object_new_uint64(t->ok));
			rp_json_add(p, "last", parse_or_null(t->last));
			json_object_array_add(arr, p);
		}
		rp_json_add(o, "ports", arr);
		for (unsigned i = 0; i < n_tiles; i++)
			busy += tiles[i].t.busy;
		rp_json_add(o, "totals", totals_json(ok, unverified, failed, busy, ignored, finished, &rate, now_ms));
		arr = json_object_new_array();
		for (unsigned i = 0; arr && i < n_fails; i++)
			json_object_array_add(arr, parse_or_null(fails[i]));
		rp_json_add(o, "last_failures", arr);
	}
	for (unsigned i = 0; i < n_tiles; i++)
		rstr_unref(tiles[i].t.last);
	for (unsigned i = 0; i < n_fails; i++)
		rstr_unref(fails[i]);
	free(tiles);
	if (!o)
		return NULL;
	text = rp_json_line_take(o, len);
	return text;
}

/* A growing buffer; a failed allocation sticks. */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true;
		return;
	}
	buf_add(b, tmp, (size_t)n);
}

static char *buf_take(struct buf *b, size_t *len)
{
	if (b->failed || !b->p) {
		free(b->p);
		return NULL;
	}
	if (len)
		*len = b->len;
	return b->p;
}

/* A reader of /api/attempts: references to the records chosen when it
 * opened (shared with the ring, not copied) and where it is; the
 * document is made a block at a time as the client takes it, so a slow
 * client costs a pointer per record, not the whole document. */
struct rp_dash_attempts {
	char *head; /* "{...header" without its closing "}\n" */
	size_t head_len;
	struct rstr **sel;
	size_t n;
	size_t piece; /* 0 head, 1 opening, 2 + 2i separator, 3 + 2i record, then the end */
	size_t off;
};

struct rp_dash_attempts *rp_dash_attempts_open(struct rp_dash *d, int64_t since_unix_ms)
{
	struct rp_dash_attempts *a = calloc(1, sizeof(*a));
	struct json_object *head;
	char iso[RP_TIME_ISO_MAX];
	size_t hl = 0, n = 0;

	if (!a)
		return NULL;
	pthread_mutex_lock(&d->lock);
	{
		uint64_t first = d->n_attempts > ATTEMPTS_KEEP ? d->n_attempts - ATTEMPTS_KEEP : 0;
		for (uint64_t i = first; i < d->n_attempts; i++) {
			const struct attempt *t = &d->attempts[i % ATTEMPTS_KEEP];
			if (t->json && t->start_unix_ms >= since_unix_ms)
				n++;
		}
		a->sel = calloc(n ? n : 1, sizeof(*a->sel));
		for (uint64_t i = first; a->sel && i < d->n_attempts; i++) {
			const struct attempt *t = &d->attempts[i % ATTEMPTS_KEEP];
			if (t->json && t->start_unix_ms >= since_unix_ms)
				a->sel[a->n++] = rstr_ref(t->json);
		}
	}
	pthread_mutex_unlock(&d->lock);
	head = a->sel ? json_object_new_object() : NULL;
	if (head) {
		rp_json_add_string_or_null(head, "station", d->station);
		rp_json_add_string_or_null(head, "run_id", d->run_id);
		if (since_unix_ms != INT64_MIN) {
			rp_time_format_iso(since_unix_ms, iso);
			rp_json_add(head, "since", json_object_new_string(iso));
		} else {
			rp_json_add_null(head, "since");
		}
		rp_json_add(head, "count", json_object_new_uint64(a->n));
		a->head = rp_json_line_take(head, &hl);
	}
	if (!a->head || hl < 3) {
		rp_dash_attempts_close(a);
		return NULL;
	}
	a->head_len = hl - 2; /* "{...}\n" continues as "{...,"attempts":[...]}\n" */
	return a;
}

size_t rp_dash_attempts_read(struct rp_dash_attempts *a, char *buf, size_t max)
{
	static const char open[] = ",\"attempts\":[", sep[] = ",", end[] = "]}\n";
	size_t done = 0;

	while (done < max) {
		const char *p;
		size_t len, take;
		if (a->piece == 0) {
			p = a->head;
			len = a->head_len;
		} else if (a->piece == 1) {
			p = open;
			len = sizeof(open) - 1;
		} else if (a->piece < 2 + 2 * a->n) {
			size_t i = (a->piece - 2) / 2;
			bool rec = (a->piece - 2) % 2;
			p = rec ? a->sel[i]->s : sep;
			len = rec ? a->sel[i]->len : (i ? 1 : 0);
		} else if (a->piece == 2 + 2 * a->n) {
			p = end;
			len = sizeof(end) - 1;
		} else {
			break;
		}
		take = len - a->off < max - done ? len - a->off : max - done;
		memcpy(buf + done, p + a->off, take);
		done += take;
		a->off += take;
		if (a->off == len) {
			a->piece++;
			a->off = 0;
		}
	}
	return done;
}

void rp_dash_attempts_close(struct rp_dash_attempts *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		rstr_unref(a->sel[i]);
	free(a->sel);
	free(a->head);
	free(a);
}

/* A label value as the exposition format wants it. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_add(b, "\\\\", 2);
		else if (*s == '"')
			buf_add(b, "\\\"", 2);
		else if (*s == '\n')
			buf_add(b, "\\n", 2);
		else
			buf_add(b, s, 1);
	}
}

/* A failure reason as Prometheus users write label values: RP_ERR_TIMEOUT
 * is "timeout", RP_ERR_NO_DEVICE "no_device". */
static void reason_label(struct buf *b, const char *reason)
{
	char v[64];
	size_t n = 0;

	if (!strncmp(reason, "RP_ERR_", 7))
		reason += 7;
	for (; *reason && n + 1 < sizeof(v); reason++)
		v[n++] = (*reason >= 'A' && *reason <= 'Z') ? (char)(*reason - 'A' + 'a') : *reason;
	v[n] = '\0';
	label_value(b, v);
}

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *rp_dash_metrics(struct rp_dash *d, uint64_t now_ms, size_t *len)
{
	struct {
		uint64_t by_result[N_RESULTS];
		struct {
			const char *reason;
			uint64_t count;
		} reasons[MAX_REASONS];
		unsigned n_reasons, busy, ignored;
		struct hist hist[N_HIST];
	} s;
	uint64_t backlog = 0;
	int64_t oldest = -1;
	struct buf b = { 0 };
	struct port_count *pc;
	size_t n_pc;

	(void)now_ms;
	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&d->lock);
	n_pc = d->n_counts;
	pc = n_pc ? malloc(n_pc * sizeof(*pc)) : NULL;
	if (pc)
		memcpy(pc, d->counts, n_pc * sizeof(*pc));
	else
		n_pc = 0;
	memcpy(s.by_result, d->by_result, sizeof(s.by_result));
	memcpy(s.reasons, d->reasons, sizeof(s.reasons));
	s.n_reasons = d->n_reasons;
	memcpy(s.hist, d->hist, sizeof(s.hist));
	for (unsigned i = 0; i < d->n_tiles; i++)
		s.busy += d->tiles[i].busy;
	s.ignored = d->ignored;
	pthread_mutex_unlock(&d->lock);
	if (d->backlog)
		d->backlog(d->backlog_ctx, &backlog, &oldest);

	metric_head(&b, "rpiprov_build_info", "gauge", "The rpiprov that serves this station.");
	buf_add(&b, "rpiprov_build_info{version=\"", 28);
	label_value(&b, RPIPROV_VERSION);
	buf_add(&b, "\"} 1\n", 5);
	/* Per USB port and SoC, so an alert can name a bad hub port; sum()
	 * without them for the station. */
	metric_head(&b, "rpiprov_attempts_total", "counter",
		    "Finished provisioning attempts, by USB port, SoC and result.");
	for (size_t k = 0; k < n_pc; k++)
		for (size_t i = 0; i < N_RESULTS; i++) {
			buf_add(&b, "rpiprov_attempts_total{port=\"", 29);
			label_value(&b, pc[k].port);
			buf_add(&b, "\",soc=\"", 7);
			label_value(&b, pc[k].soc);
			buf_printf(&b, "\",result=\"%s\"} %llu\n", rp_board_result_name(results[i]),
				   (unsigned long long)pc[k].by_result[i]);
		}
	metric_head(&b, "rpiprov_attempt_failures_total", "counter",
		    "Attempts that did not end OK, by USB port, SoC and reason (the record's error_code "
		    "in lower case: timeout, no_device, ...).");
	for (size_t k = 0; k < n_pc; k++)
		for (unsigned i = 0; i < s.n_reasons; i++) {
			if (!pc[k].by_reason[i])
				continue;
			buf_add(&b, "rpiprov_attempt_failures_total{port=\"", 37);
			label_value(&b, pc[k].port);
			buf_add(&b, "\",soc=\"", 7);
			label_value(&b, pc[k].soc);
			buf_add(&b, "\",reason=\"", 10);
			reason_label(&b, s.reasons[i].reason);
			buf_printf(&b, "\"} %llu\n", (unsigned long long)pc[k].by_reason[i]);
		}
	free(pc);
	metric_head(&b, "rpiprov_devices_ignored_total", "counter",
		    "USB devices not touched (filtered out or not a boot device).");
	buf_printf(&b, "rpiprov_devices_ignored_total %u\n", s.ignored);
	metric_head(&b, "rpiprov_phase_duration_seconds", "histogram",
		    "Time per phase of finished attempts (the board writes its EEPROM during serve), and in total.");
	for (int p = 0; p < N_HIST; p++) {
		const char *phase = p < RP_PHASE_COUNT ? rp_phase_name((enum rp_phase)p) : "total";
		uint64_t cum = 0;
		for (size_t i = 0; i < N_BUCKETS; i++) {
			cum += s.hist[p].bucket[i];
			buf_printf(&b, "rpiprov_phase_duration_seconds_bucket{phase=\"%s\",le=\"%g\"} %llu\n", phase,
				   bucket_le[i], (unsigned long long)cum);
		}
		buf_printf(&b, "rpiprov_phase_duration_seconds_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n", phase,
			   (unsigned long long)s.hist[p].count);
		buf_printf(&b, "rpiprov_phase_duration_seconds_sum{phase=\"%s\"} %.3f\n", phase, s.hist[p].sum);
		buf_printf(&b, "rpiprov_phase_duration_seconds_count{phase=\"%s\"} %llu\n", phase,
			   (unsigned long long)s.hist[p].count);
	}
	metric_head(&b, "rpiprov_boards_in_flight", "gauge", "Boards being provisioned now.");
	buf_printf(&b, "rpiprov_boards_in_flight %u\n", s.busy);
	metric_head(&b, "rpiprov_records_pending", "gauge",
		    "Finished attempts not yet written to every record sink.");
	buf_printf(&b, "rpiprov_records_pending %llu\n", (unsigned long long)backlog);
	metric_head(&b, "rpiprov_records_at_risk", "gauge",
		    "1 while finished attempts may be lost: the spool cannot be written and no new board is taken.");
	buf_printf(&b, "rpiprov_records_at_risk %d\n",
		   d->records_at_risk && d->records_at_risk(d->backlog_ctx) ? 1 : 0);
	if (oldest >= 0) {
		metric_head(&b, "rpiprov_records_oldest_pending_age_seconds", "gauge",
			    "Age of the oldest record not yet written.");
		buf_printf(&b, "rpiprov_records_oldest_pending_age_seconds %.3f\n", (double)oldest / 1000.0);
	}
	metric_head(&b, "rpiprov_firmware_info", "gauge", "The bootloader image being served, per SoC.");
	for (unsigned i = 0; i < d->n_fw; i++) {
		buf_add(&b, "rpiprov_firmware_info{soc=\"", 27);
		label_value(&b, d->fw[i][0]);
		buf_add(&b, "\",image=\"", 9);
		label_value(&b, d->fw[i][1]);
		buf_add(&b, "\",sha256=\"", 10);
		label_value(&b, d->fw[i][2]);
		buf_add(&b, "\"} 1\n", 5);
	}
	metric_head(&b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
	buf_printf(&b, "process_start_time_seconds %.3f\n", (double)d->process_start_unix_ms / 1000.0);
	return buf_take(&b, len);
}
