/* `rpiprov station`: provision every board that appears, unattended. Builds
 * the payload once from the configuration, opens the record sinks it is
 * given (records/sink.h), then runs the runner over the device source it
 * is given (USB or simulated boards: the caller's choice) until stopped.
 * Each finished attempt goes to every sink through the recorder
 * (records/recorder.h) as soon as the runner reports it, so the boards
 * never wait on the disk. A board that failed is tried again when it is
 * plugged in again: every arrival is a new attempt.
 *
 * The library does not touch signals: the CLI calls rp_station_stop (let
 * in-flight boards finish, then return) or rp_station_abort. */
#ifndef RP_STATION_STATION_H
#define RP_STATION_STATION_H

#include <stdbool.h>
#include <stdint.h>

#include "image/prepare.h"
#include "records/sink.h"
#include "runner/runner.h"
#include "station/station_config.h"

struct rp_station_opts {
	/* Payload, filters, board timeout and station name. The record keys
	 * (report, database, metadata_dir) are the caller's to turn into
	 * sinks. Not copied: must outlive the station. */
	const struct rp_station_config *config;
	/* Where boards come from; not owned, must outlive the station. */
	struct rp_source *source;
	/* Where records go: taken (closed by rp_station_free, or by
	 * rp_station_new when it fails). None: records are only counted. */
	struct rp_sink **sinks;
	unsigned n_sinks;
	/* Where each record is made durable first (records/spool.h): this
	 * file, or else <spool_dir>/rpiprov-spool-<station>.db; neither: in
	 * memory (nothing survives a crash). */
	const char *spool_path;
	const char *spool_dir;
	/* A sink that cannot open at start (a database server that is down)
	 * is tried again later; its records wait in the spool. */
	bool open_sinks_later;
	/* Stop after this many attempts (0: forever). */
	unsigned count;
	/* End when no board came and none is in flight for this long (0: never). */
	unsigned idle_timeout_ms;
	/* rp_station_stop gives in-flight boards this long (0: the runner's 30 s). */
	unsigned stop_grace_ms;
	/* Identifies this run in every record; NULL: 16 random hex digits. */
	const char *run_id;
	/* The source is simulated boards: with no firmware found, serve the
	 * synthetic image and second stage (image/synthetic.h) instead of
	 * failing, and mark the run id "synthetic-..." in every record; every
	 * record is marked simulated. Never set for real boards. */
	bool simulated;
	/* Use this payload instead of building one from config (benchmarks);
	 * not owned. */
	const struct rp_prepared *prepared;
	/* Runner events, after the station has taken what it needs; same
	 * rules as rp_runner_event_fn. May be NULL. */
	rp_runner_event_fn on_event;
	void *event_ctx;
	/* A sink could not keep a record (disk full, unsafe serial for the
	 * metadata file name, ...); r is NULL when a sink could not flush.
	 * Called from the recorder's writer thread. May be NULL. */
	void (*on_record_error)(void *ctx, const struct rp_board_record *r, const struct rp_diag *d);
};

struct rp_station_summary {
	struct rp_runner_summary runner;
	unsigned records_written;  /* attempts every sink kept */
	unsigned record_errors;    /* attempts a sink refused, or not yet in every sink */
	uint64_t records_queued;   /* of those, waiting in the spool for a sink (sent at the next start) */
	bool spool_failed;         /* the spool could not be written: boards were turned away */
	char run_id[40];
};

struct rp_station;

/* Everything that can fail before a board is touched fails here: config
 * checks, building the payload, opening every sink. */
int rp_station_new(const struct rp_station_opts *opts, struct rp_station **out, struct rp_diag *d);
/* The payload being served (image source, digest, warnings for the CLI):
 * one prepared set per SoC the station serves. */
size_t rp_station_n_prepared(const struct rp_station *s);
const struct rp_prepared *rp_station_prepared_set(const struct rp_station *s, size_t i);
const struct rp_prepared *rp_station_prepared(const struct rp_station *s); /* the first */
const char *rp_station_run_id(const struct rp_station *s);
const char *rp_station_name(const struct rp_station *s);
/* Run until stopped, `count` attempts or the idle timeout, then flush
 * every record. RP_OK unless the source failed; look at the summary for
 * board results. */
int rp_station_run(struct rp_station *s, struct rp_station_summary *sum, struct rp_diag *d);
/* A record could not be written to the spool: the station takes no new
 * boards (said through on_record_error once). Any thread. */
bool rp_station_spool_failed(const struct rp_station *s);
/* Records not yet in every sink, and the age of the oldest (the live
 * view, /metrics). Any thread. */
void rp_station_backlog(struct rp_station *s, uint64_t *records, int64_t *oldest_age_ms);
/* Any thread (not a signal handler: they take the recorder's lock). A
 * stop gives the sinks the stop grace, an abort none (recorder.h
 * rp_recorder_give_up_at). */
void rp_station_stop(struct rp_station *s);
void rp_station_abort(struct rp_station *s);
void rp_station_free(struct rp_station *s);

/* True when the run had a board that did not end OK (or SERVED). */
bool rp_station_summary_failed(const struct rp_station_summary *sum);

#endif
