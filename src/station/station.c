#include "station/station.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/origin.h"
#include "records/recorder.h"
#include "session/payload.h"
#include "station/finish_gate.h"
#include "util/clock.h"

struct rp_station {
	struct rp_station_opts opts;
	const struct rp_station_config *cfg;
	/* One set per SoC a mixed tray may hold (rp_prepare_build_each_soc),
	 * or the caller's one in opts.prepared. */
	struct rp_prepared prepared[RP_PREPARE_MAX_SOCS];
	size_t n_prepared;
	/* Chips refused at start (an image without its own recovery.bin):
	 * their boards fail at once with the reason. */
	struct rp_prepare_skipped skipped[RP_PREPARE_MAX_SOCS];
	size_t n_skipped;
	bool one_soc; /* only that SoC's boards are served */
	struct rp_payload *payload;
	struct rp_runner *runner;
	struct rp_recorder *recorder;
	struct rp_finish_gate *gate; /* a board is shown finished once its record is durable */
	struct rp_origin_buf origin;
	atomic_bool stop_requested, abort_requested;
	atomic_bool spool_failed; /* a record could not be spooled: no new boards */
};

static void on_runner_event(void *ctx, const struct rp_runner_event *ev)
{
	struct rp_station *s = ctx;

	rp_finish_gate_event(s->gate, ev);
	if (ev->type == RP_RUNNER_BOARD_FINISHED && ev->record)
		rp_recorder_submit(s->recorder, ev->record);
}

static void on_durable(void *ctx, const struct rp_board_record *r, bool durable)
{
	struct rp_station *s = ctx;

	/* Not durable: the spool cannot be written. The record goes straight
	 * to the sinks, but a crash now, or a sink that is down, loses it:
	 * no new board is taken until the spool works again (a restart),
	 * said once and loudly; the boards in flight finish. */
	if (!durable && !atomic_exchange(&s->spool_failed, true)) {
		struct rp_diag d;
		rp_diag_set(&d, RP_ERR_IO,
			    "RECORDS AT RISK: the spool cannot be written (disk full or file size "
			    "limit): no new boards are taken; boards in flight finish and their "
			    "records go straight to the sinks");
		if (s->opts.on_record_error)
			s->opts.on_record_error(s->opts.event_ctx, NULL, &d);
		if (s->runner)
			rp_runner_stop(s->runner);
	}
	rp_finish_gate_release(s->gate, r);
}

static void on_sink_error(void *ctx, const struct rp_sink *sink, const struct rp_board_record *r,
			  const struct rp_diag *d)
{
	struct rp_station *s = ctx;

	(void)sink; /* the sinks' messages name their file already */
	if (s->opts.on_record_error)
		s->opts.on_record_error(s->opts.event_ctx, r, d);
}

static void close_sinks(struct rp_sink **sinks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (sinks[i])
			sinks[i]->ops->close(sinks[i]);
}

static int open_records(struct rp_station *s, struct rp_diag *d)
{
	struct rp_recorder_opts ro = {
		.origin = s->origin.origin,
		.sinks = s->opts.sinks,
		.n_sinks = s->opts.n_sinks,
		.spool_path = s->opts.spool_path,
		.open_later = s->opts.open_sinks_later,
		.simulated = s->opts.simulated, /* every record says so */
		.on_error = on_sink_error,
		.on_durable = on_durable,
		.ctx = s,
	};
	char spool[4096];

	if (!ro.spool_path && s->opts.spool_dir) {
		if ((size_t)snprintf(spool, sizeof(spool), "%s/rpiprov-spool-%s.db", s->opts.spool_dir,
				     s->origin.station) >= sizeof(spool))
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: spool directory name too long",
					   s->opts.spool_dir);
		ro.spool_path = spool;
	}

	/* The recorder has the sinks now, whatever it returns. */
	s->opts.sinks = NULL;
	s->opts.n_sinks = 0;
	return rp_recorder_new(&ro, &s->recorder, d);
}

static int make_runner(struct rp_station *s, struct rp_diag *d)
{
	const struct rp_station_config *c = s->cfg;
	struct rp_runner_opts ro;

	memset(&ro, 0, sizeof(ro));
	ro.source = s->opts.source;
	ro.payload = s->payload;
	ro.mode = RP_SESSION_FLASH;
	ro.soc = s->one_soc ? rp_station_prepared(s)->soc : NULL;
	if (c) {
		for (unsigned i = 0; i < c->n_ports && i < RP_RUNNER_MAX_FILTERS; i++)
			ro.port_globs[ro.n_port_globs++] = c->ports[i];
		for (unsigned i = 0; i < c->n_serials && i < RP_RUNNER_MAX_FILTERS; i++)
			ro.serials[ro.n_serials++] = c->serials[i];
		ro.board_timeout_ms = c->board_timeout_ms;
		ro.require_verified = c->require_verified;
	}
	ro.count = s->opts.count;
	ro.idle_timeout_ms = s->opts.idle_timeout_ms;
	ro.stop_grace_ms = s->opts.stop_grace_ms;
	{
		int ret = rp_recorder_last_attempt_id(s->recorder, s->origin.station,
						      &ro.attempt_id_base, d);
		if (ret < 0)
			return ret;
	}
	ro.on_event = on_runner_event;
	ro.event_ctx = s;
	return rp_runner_new(&ro, &s->runner, d);
}

/* A run that serves a synthetic image says so in every record. */
static void mark_synthetic(struct rp_station *s)
{
	char id[RP_ORIGIN_RUN_ID_MAX], station[RP_ORIGIN_STATION_MAX];
	bool synthetic = false;

	for (size_t i = 0; i < s->n_prepared; i++)
		synthetic = synthetic || s->prepared[i].synthetic;
	if (!synthetic || s->opts.run_id)
		return;
	snprintf(id, sizeof(id), "synthetic-%.16s", s->origin.run_id);
	snprintf(station, sizeof(station), "%s", s->origin.station);
	rp_origin_buf_init(&s->origin, station, id);
}

int rp_station_new(const struct rp_station_opts *opts, struct rp_station **out, struct rp_diag *d)
{
	struct rp_station *s;
	struct rp_payload_opts po = { 0 };
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close_sinks(opts->sinks, opts->n_sinks);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	/* From here rp_station_free closes the sinks not yet handed on. */
	s->opts = *opts;
	s->cfg = opts->config;
	rp_origin_buf_init(&s->origin, s->cfg ? s->cfg->station : NULL, opts->run_id);
	ret = s->cfg ? rp_station_config_check(s->cfg, d) : RP_OK;
	if (ret == RP_OK && !(s->gate = rp_finish_gate_new(opts->on_event, opts->event_ctx)))
		ret = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	if (ret == RP_OK && !opts->source)
		ret = rp_diag_set(d, RP_ERR_INVALID_ARG, "station: no device source");
	if (ret < 0)
		goto fail;

	if (opts->prepared) {
		s->one_soc = true;
	} else {
		struct rp_prepare_opts pr;
		if (s->cfg)
			rp_station_config_prepare_opts(s->cfg, &pr);
		else {
			memset(&pr, 0, sizeof(pr));
			pr.timestamp = -1;
		}
		s->one_soc = rp_prepare_one_soc(&pr);
		pr.synthetic_fallback = opts->simulated;
		ret = rp_prepare_build_each_soc(&pr, s->prepared, &s->n_prepared, s->skipped,
						&s->n_skipped, d);
		if (ret < 0)
			goto fail;
		mark_synthetic(s);
	}
	po.allow_otp = s->cfg && s->cfg->allow_otp_permanent;
	ret = rp_payload_new(&po, &s->payload, d);
	for (size_t i = 0; ret == RP_OK && i < rp_station_n_prepared(s); i++)
		ret = rp_payload_add_prepared(s->payload, rp_station_prepared_set(s, i), d);
	if (ret == RP_OK)
		ret = rp_payload_refuse_skipped(s->payload, s->skipped, s->n_skipped, d);
	if (ret == RP_OK)
		ret = rp_payload_check_configs(s->payload, d);
	if (ret == RP_OK)
		ret = open_records(s, d);
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

const struct rp_prepared *rp_station_prepared_set(const struct rp_station *s, size_t i)
{
	return s->opts.prepared ? s->opts.prepared : &s->prepared[i < s->n_prepared ? i : 0];
}

const struct rp_prepared *rp_station_prepared(const struct rp_station *s)
{
	return rp_station_prepared_set(s, 0);
}

size_t rp_station_n_prepared(const struct rp_station *s)
{
	return s->opts.prepared ? 1 : s->n_prepared;
}

const char *rp_station_run_id(const struct rp_station *s)
{
	return s->origin.run_id;
}

const char *rp_station_name(const struct rp_station *s)
{
	return s->origin.station;
}

int rp_station_run(struct rp_station *s, struct rp_station_summary *sum, struct rp_diag *d)
{
	struct rp_recorder_stats st;
	int ret;

	memset(sum, 0, sizeof(*sum));
	snprintf(sum->run_id, sizeof(sum->run_id), "%s", s->origin.run_id);
	/* A signal that came while we were setting up still counts. */
	if (atomic_load(&s->abort_requested))
		rp_runner_abort(s->runner);
	else if (atomic_load(&s->stop_requested))
		rp_runner_stop(s->runner);
	ret = rp_runner_run(s->runner, &sum->runner, d);
	/* Every finished board is in every sink before the run is over. */
	rp_recorder_flush(s->recorder);
	rp_recorder_stats(s->recorder, &st);
	sum->records_written = st.written;
	sum->record_errors = st.failed + (unsigned)st.backlog;
	sum->records_queued = st.backlog;
	sum->spool_failed = atomic_load(&s->spool_failed);
	return ret;
}

bool rp_station_spool_failed(const struct rp_station *s)
{
	return atomic_load(&s->spool_failed);
}

void rp_station_backlog(struct rp_station *s, uint64_t *records, int64_t *oldest_age_ms)
{
	rp_recorder_backlog(s->recorder, records, oldest_age_ms);
}

/* The runner's default stop grace (runner.h: 0 is 30 s). */
#define RP_STATION_STOP_GRACE_MS 30000

void rp_station_stop(struct rp_station *s)
{
	unsigned grace = s->opts.stop_grace_ms ? s->opts.stop_grace_ms : RP_STATION_STOP_GRACE_MS;

	atomic_store(&s->stop_requested, true);
	if (s->runner)
		rp_runner_stop(s->runner);
	/* A sink still waiting on its server when the grace is over is given
	 * up: its records are in the spool, the next start delivers them. */
	if (s->recorder)
		rp_recorder_give_up_at(s->recorder, rp_now_ms() + grace);
}

void rp_station_abort(struct rp_station *s)
{
	atomic_store(&s->abort_requested, true);
	if (s->runner)
		rp_runner_abort(s->runner);
	if (s->recorder)
		rp_recorder_give_up_at(s->recorder, 0);
}

void rp_station_free(struct rp_station *s)
{
	if (!s)
		return;
	if (s->runner)
		rp_runner_free(s->runner);
	rp_recorder_close(s->recorder, NULL);
	rp_finish_gate_free(s->gate);
	close_sinks(s->opts.sinks, s->opts.n_sinks);
	rp_payload_free(s->payload);
	for (size_t i = 0; i < RP_PREPARE_MAX_SOCS; i++)
		rp_prepared_free(&s->prepared[i]);
	free(s);
}

bool rp_station_summary_failed(const struct rp_station_summary *sum)
{
	return sum->runner.failed || sum->runner.timeout || sum->runner.left ||
	       sum->record_errors || sum->spool_failed;
}
