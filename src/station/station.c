#include "station/station.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "session/payload.h"
#include "station/db.h"
#include "util/hex.h"
#include "station/metadata_json.h"
#include "station/report_jsonl.h"
#include "usb/usb_source.h"
#include "util/clock.h"
#include "util/fileio.h"

struct pending {
	struct pending *next;
	struct rp_board_record rec;
};

/* Finished records travel from the runner's event callback to the writer
 * thread through this queue, so a slow disk never holds up a board. */
struct writer {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pending *head, *tail;
	bool closing;
	unsigned written, errors;
};

struct rp_station {
	struct rp_station_opts opts;
	const struct rp_station_config *cfg;
	struct rp_prepared prepared;
	bool own_prepared;
	struct rp_payload *payload;
	struct rp_source *source;
	struct rp_runner *runner;
	struct rp_jsonl_report *report;
	struct rp_db *db;
	char run_id[40];
	char name[64];
	struct rp_record_origin origin;
	struct writer w;
	atomic_bool stop_requested, abort_requested;
};

static void make_run_id(char out[40])
{
	uint8_t b[8];
	ssize_t n = getrandom(b, sizeof(b), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(b)) {
		/* Early boot without entropy: still unique enough per station. */
		uint64_t v = rp_now_us() ^ ((uint64_t)getpid() << 40);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)(v >> (8 * i));
	}
	rp_hex_encode(b, sizeof(b), out);
}

static void write_record(struct rp_station *s, const struct rp_board_record *r)
{
	struct rp_diag d;
	bool failed = false;

	if (s->report) {
		rp_diag_clear(&d);
		if (rp_jsonl_report_append(s->report, r, &d) < 0) {
			failed = true;
			if (s->opts.on_record_error)
				s->opts.on_record_error(s->opts.event_ctx, r, &d);
		}
	}
	if (s->db) {
		rp_diag_clear(&d);
		if (rp_db_add_attempt(s->db, r, &s->origin, &d) < 0) {
			failed = true;
			if (s->opts.on_record_error)
				s->opts.on_record_error(s->opts.event_ctx, r, &d);
		}
	}
	/* rpiboot -j writes a file only for boards that told it something. */
	if (s->cfg && s->cfg->metadata_dir && r->n_meta > 0) {
		rp_diag_clear(&d);
		if (rp_metadata_json_write(s->cfg->metadata_dir, r, &d) < 0) {
			failed = true;
			if (s->opts.on_record_error)
				s->opts.on_record_error(s->opts.event_ctx, r, &d);
		}
	}
	pthread_mutex_lock(&s->w.lock);
	if (failed)
		s->w.errors++;
	else
		s->w.written++;
	pthread_mutex_unlock(&s->w.lock);
}

static void *writer_main(void *arg)
{
	struct rp_station *s = arg;

	pthread_mutex_lock(&s->w.lock);
	for (;;) {
		struct pending *p;
		while (!s->w.head && !s->w.closing)
			pthread_cond_wait(&s->w.cond, &s->w.lock);
		p = s->w.head;
		if (!p)
			break; /* closing and drained */
		s->w.head = p->next;
		if (!s->w.head)
			s->w.tail = NULL;
		pthread_mutex_unlock(&s->w.lock);
		write_record(s, &p->rec);
		free(p);
		pthread_mutex_lock(&s->w.lock);
	}
	pthread_mutex_unlock(&s->w.lock);
	return NULL;
}

static void enqueue(struct rp_station *s, const struct rp_board_record *r)
{
	struct pending *p = malloc(sizeof(*p));

	if (!p) {
		/* No memory for a copy: write it here rather than lose it. */
		write_record(s, r);
		return;
	}
	p->next = NULL;
	p->rec = *r;
	pthread_mutex_lock(&s->w.lock);
	if (s->w.tail)
		s->w.tail->next = p;
	else
		s->w.head = p;
	s->w.tail = p;
	pthread_cond_signal(&s->w.cond);
	pthread_mutex_unlock(&s->w.lock);
}

static void on_runner_event(void *ctx, const struct rp_runner_event *ev)
{
	struct rp_station *s = ctx;

	if (ev->type == RP_RUNNER_BOARD_FINISHED && ev->record)
		enqueue(s, ev->record);
	if (s->opts.on_event)
		s->opts.on_event(s->opts.event_ctx, ev);
}

static int open_records(struct rp_station *s, struct rp_diag *d)
{
	const struct rp_station_config *c = s->cfg;
	int ret = RP_OK;

	if (c && c->report)
		ret = rp_jsonl_report_open(c->report, &s->origin, &s->report, d);
	if (ret == RP_OK && c && c->database)
		ret = rp_db_open(c->database, RP_DB_READWRITE, &s->db, d);
	if (ret == RP_OK && c && c->metadata_dir)
		ret = rp_mkdir_p(c->metadata_dir, 0755, d);
	return ret;
}

static int make_source(struct rp_station *s, struct rp_diag *d)
{
	const struct rp_station_sim *sim = s->opts.sim;

	if (sim && sim->n_boards) {
		struct rp_sim_source_opts so = {
			.n_boards = sim->n_boards,
			.params = sim->params,
			.faults = sim->faults,
			.n_faults = sim->n_faults,
			.arrival_ms = sim->arrival_ms,
		};
		return rp_sim_source_new(&so, &s->source, d);
	}
	{
		/* A board already waiting when the station starts is provisioned too. */
		struct rp_usb_source_options uo = { .enumerate_existing = 1 };
		return rp_usb_source_new(&uo, &s->source, d);
	}
}

static int make_runner(struct rp_station *s, struct rp_diag *d)
{
	const struct rp_station_config *c = s->cfg;
	struct rp_runner_opts ro;

	memset(&ro, 0, sizeof(ro));
	ro.source = s->source;
	ro.payload = s->payload;
	ro.mode = RP_SESSION_FLASH;
	ro.soc = s->opts.prepared ? s->opts.prepared->soc : s->prepared.soc;
	if (c) {
		for (unsigned i = 0; i < c->n_ports && i < RP_RUNNER_MAX_FILTERS; i++)
			ro.port_globs[ro.n_port_globs++] = c->ports[i];
		for (unsigned i = 0; i < c->n_serials && i < RP_RUNNER_MAX_FILTERS; i++)
			ro.serials[ro.n_serials++] = c->serials[i];
		ro.board_timeout_ms = c->board_timeout_ms;
	}
	ro.count = s->opts.count;
	if (!ro.count && s->opts.sim && s->opts.sim->n_boards)
		ro.count = s->opts.sim->n_boards;
	ro.idle_timeout_ms = s->opts.idle_timeout_ms;
	ro.stop_grace_ms = s->opts.stop_grace_ms;
	if (s->db) {
		int ret = rp_db_last_attempt_id(s->db, s->name, &ro.attempt_id_base, d);
		if (ret < 0)
			return ret;
	}
	ro.on_event = on_runner_event;
	ro.event_ctx = s;
	return rp_runner_new(&ro, &s->runner, d);
}

int rp_station_new(const struct rp_station_opts *opts, struct rp_station **out, struct rp_diag *d)
{
	struct rp_station *s;
	const struct rp_prepared *prep;
	struct rp_payload_opts po = { 0 };
	int ret;

	*out = NULL;
	if (opts->config) {
		ret = rp_station_config_check(opts->config, d);
		if (ret < 0)
			return ret;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	s->opts = *opts;
	s->cfg = opts->config;
	pthread_mutex_init(&s->w.lock, NULL);
	pthread_cond_init(&s->w.cond, NULL);
	if (opts->run_id && *opts->run_id)
		snprintf(s->run_id, sizeof(s->run_id), "%s", opts->run_id);
	else
		make_run_id(s->run_id);
	if (s->cfg && s->cfg->station)
		snprintf(s->name, sizeof(s->name), "%s", s->cfg->station);
	else if (gethostname(s->name, sizeof(s->name) - 1) < 0 || !s->name[0])
		snprintf(s->name, sizeof(s->name), "station");
	s->origin.station = s->name;
	s->origin.run_id = s->run_id;

	if (opts->prepared) {
		prep = opts->prepared;
	} else {
		struct rp_prepare_opts pr;
		if (s->cfg)
			rp_station_config_prepare_opts(s->cfg, &pr);
		else {
			memset(&pr, 0, sizeof(pr));
			pr.timestamp = -1;
		}
		ret = rp_prepare_build(&pr, &s->prepared, d);
		if (ret < 0)
			goto fail;
		s->own_prepared = true;
		prep = &s->prepared;
	}
	ret = rp_payload_new(&po, &s->payload, d);
	if (ret == RP_OK)
		ret = rp_payload_add_prepared(s->payload, prep, d);
	if (ret == RP_OK)
		ret = open_records(s, d);
	if (ret == RP_OK)
		ret = make_source(s, d);
	if (ret == RP_OK)
		ret = make_runner(s, d);
	if (ret < 0)
		goto fail;
	*out = s;
	return RP_OK;
fail:
	rp_station_free(s);
	return ret;
}

const struct rp_prepared *rp_station_prepared(const struct rp_station *s)
{
	return s->opts.prepared ? s->opts.prepared : &s->prepared;
}

const char *rp_station_run_id(const struct rp_station *s)
{
	return s->run_id;
}

const char *rp_station_name(const struct rp_station *s)
{
	return s->name;
}

int rp_station_run(struct rp_station *s, struct rp_station_summary *sum, struct rp_diag *d)
{
	int ret, err;

	memset(sum, 0, sizeof(*sum));
	snprintf(sum->run_id, sizeof(sum->run_id), "%s", s->run_id);
	err = pthread_create(&s->w.thread, NULL, writer_main, s);
	if (err)
		return rp_diag_set(d, RP_ERR_NOMEM, "cannot start the record writer: %s", strerror(err));
	s->w.started = true;
	/* A signal that came while we were setting up still counts. */
	if (atomic_load(&s->abort_requested))
		rp_runner_abort(s->runner);
	else if (atomic_load(&s->stop_requested))
		rp_runner_stop(s->runner);
	ret = rp_runner_run(s->runner, &sum->runner, d);

	pthread_mutex_lock(&s->w.lock);
	s->w.closing = true;
	pthread_cond_signal(&s->w.cond);
	pthread_mutex_unlock(&s->w.lock);
	pthread_join(s->w.thread, NULL);
	s->w.started = false;
	sum->records_written = s->w.written;
	sum->record_errors = s->w.errors;
	return ret;
}

void rp_station_stop(struct rp_station *s)
{
	atomic_store(&s->stop_requested, true);
	if (s->runner)
		rp_runner_stop(s->runner);
}

void rp_station_abort(struct rp_station *s)
{
	atomic_store(&s->abort_requested, true);
	if (s->runner)
		rp_runner_abort(s->runner);
}

void rp_station_free(struct rp_station *s)
{
	if (!s)
		return;
	if (s->runner)
		rp_runner_free(s->runner);
	if (s->source)
		s->source->ops->destroy(s->source);
	rp_payload_free(s->payload);
	if (s->own_prepared)
		rp_prepared_free(&s->prepared);
	rp_jsonl_report_close(s->report);
	rp_db_close(s->db);
	while (s->w.head) {
		struct pending *p = s->w.head;
		s->w.head = p->next;
		free(p);
	}
	pthread_cond_destroy(&s->w.cond);
	pthread_mutex_destroy(&s->w.lock);
	free(s);
}

bool rp_station_summary_failed(const struct rp_station_summary *sum)
{
	return sum->runner.failed || sum->runner.timeout || sum->runner.left ||
	       sum->record_errors;
}
