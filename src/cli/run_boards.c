#include "cli/run_boards.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/out_queue.h"
#include "cli/status_line.h"
#include "cli/verbosity.h"
#include "records/metadata_json.h"
#include "records/origin.h"
#include "records/record_json.h"
#include "records/recorder.h"
#include "util/clock.h"

/* What the event callback and the signal thread need; on the stack of
 * cli_run_boards. */
struct run_ctx {
	const struct cli_run *run;
	struct rp_runner *runner;
	struct rp_recorder *recorder; /* every finished board, to every --report/--db/-j */
	struct rp_origin_buf origin;
	struct cli_outq out; /* everything said while boards are in flight */
	/* Boards that did not finish OK, and those of them refused by the
	 * device node's permissions (only the event thread writes them). */
	unsigned not_ok, refused_access;
	/* Between "waiting" and the verdict: on a terminal one status line
	 * (every board's phase and progress, redrawn), otherwise a plain line
	 * per phase; nothing with -q. */
	bool status_tty, phase_lines;
	struct cli_status status;
};

static void progress_mode(struct run_ctx *rc)
{
	const char *term = getenv("TERM");
	struct winsize ws;

	if (cli_verbosity() < CLI_NORMAL)
		return;
	rc->status_tty = isatty(STDERR_FILENO) == 1 && !(term && !strcmp(term, "dumb"));
	rc->phase_lines = !rc->status_tty && !(rc->run->verbose & CLI_SHOW_PHASES);
	rc->status.width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
}

int cli_dir_payload_new(const char *dir, bool overlays, bool allow_otp, struct rp_payload **out,
			struct rp_diag *d)
{
	struct rp_payload_opts po = { .dir = dir, .overlays = overlays, .allow_otp = allow_otp };
	int r = rp_payload_new(&po, out, d);

	if (r == RP_OK)
		r = rp_payload_check_configs(*out, d);
	if (r != RP_OK) {
		rp_payload_free(*out);
		*out = NULL;
	}
	return r;
}

/* The recorder's writer thread, once every sink has had the board: its
 * line comes after its records, so whoever reads the line finds them. */
static void board_recorded(void *ctx, const struct rp_board_record *rec, bool all_ok)
{
	struct run_ctx *rc = ctx;

	(void)all_ok; /* each refusal was warned about by record_error */
	if (rc->run->metadata_stdout && rec->n_meta) {
		struct json_object *meta = rp_metadata_json_object(rec);
		int how = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			  JSON_C_TO_STRING_NOSLASHESCAPE;
		const char *text = meta ? json_object_to_json_string_ext(meta, how) : NULL;
		if (text) {
			cli_outq_put(&rc->out, CLI_OUT_STDOUT, CLI_OUT_KEEP, text, strlen(text));
			cli_outq_put(&rc->out, CLI_OUT_STDOUT, CLI_OUT_KEEP, "\n", 1);
		}
		json_object_put(meta);
	}
	if (rc->run->json) {
		size_t len;
		/* A synthetic run's lines carry its "synthetic-..." run id. */
		char *line = rp_record_json_line(rec, rc->run->synthetic ? &rc->origin.origin : NULL,
						 &len);
		if (line)
			cli_outq_put(&rc->out, CLI_OUT_STDOUT, CLI_OUT_KEEP, line, len);
		free(line);
	} else {
		/* Every part is bounded by its field in the record. */
		char line[sizeof(rec->serial) + sizeof(rec->port_path) + sizeof(rec->error) + 64];
		double secs = (double)(rec->end_unix_ms - rec->start_unix_ms) / 1000.0;
		bool ok = rec->result == RP_RESULT_OK || rec->result == RP_RESULT_SERVED;
		/* In the journal, a board that did not end OK is a warning. */
		int n = snprintf(line, sizeof(line), "%s%-16s %-12s %-7s %6.2fs%s%s%s\n",
				 cli_journal_prefix(STDOUT_FILENO, ok ? CLI_PRIO_INFO : CLI_PRIO_WARNING),
				 rec->serial[0] ? rec->serial : "-", rec->port_path,
				 rp_board_result_name(rec->result), secs,
				 cli_synthetic_board(&rc->run->synth, rec->soc) ? "  synthetic image" : "",
				 rec->error[0] ? "  " : "", rec->error);
		size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
		cli_outq_put(&rc->out, CLI_OUT_STDOUT, CLI_OUT_KEEP, line, len);
	}
}

static void record_error(void *ctx, const struct rp_sink *sink, const struct rp_board_record *rec,
			 const struct rp_diag *d)
{
	struct run_ctx *rc = ctx;

	(void)sink;
	(void)rec; /* the sinks' messages name the file and the board */
	cli_outq_warn(&rc->out, "%s", rp_diag_message(d));
}

/* Called with the runner's event lock held, which every board's worker
 * takes between transfers: only format and queue here, never write. */
static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct run_ctx *rc = ctx;
	const struct rp_board_record *rec = ev->record;
	unsigned show = rc->run->verbose;

	if (rc->status_tty && cli_status_event(&rc->status, ev, rp_now_ms())) {
		char line[sizeof(rc->out.status)];
		cli_status_format(&rc->status, line, sizeof(line));
		cli_outq_status(&rc->out, line);
	}
	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		/* Always said: a board that is silently skipped looks like a hang. */
		cli_outq_info(&rc->out, CLI_OUT_EVENT, "ignoring %04x:%04x on %s: %s", ev->info->vid,
			      ev->info->pid, ev->info->port_path, ev->reason);
		break;
	case RP_RUNNER_BOARD_STARTED:
		if (show & CLI_SHOW_ARRIVALS)
			cli_outq_info(&rc->out, CLI_OUT_EVENT, "%s: board %s arrived", rec->port_path,
				      rec->serial[0] ? rec->serial : "(no serial yet)");
		break;
	case RP_RUNNER_PHASE:
		if (show & CLI_SHOW_PHASES)
			cli_outq_info(&rc->out, CLI_OUT_EVENT, "%s: %s", rec->port_path,
				      rp_phase_name(ev->phase));
		else if (rc->phase_lines)
			cli_outq_info(&rc->out, CLI_OUT_EVENT, "%s %s: %s", rec->port_path,
				      rec->serial[0] ? rec->serial : "-",
				      cli_status_words(ev->phase, NULL, 0, 0));
		break;
	case RP_RUNNER_PROGRESS:
		/* The image sent: the board writes its EEPROM now, the long wait. */
		if (rc->phase_lines && ev->done == ev->total && ev->file && !strcmp(ev->file, "pieeprom.bin"))
			cli_outq_info(&rc->out, CLI_OUT_EVENT, "%s %s: %s", rec->port_path,
				      rec->serial[0] ? rec->serial : "-",
				      cli_status_words(RP_PHASE_SERVE, ev->file, ev->done, ev->total));
		if ((show & CLI_SHOW_FILES) && ev->done == ev->total)
			cli_outq_info(&rc->out, CLI_OUT_PROGRESS, "%s: sent %s (%llu bytes)",
				      rec->port_path, ev->file, (unsigned long long)ev->total);
		break;
	case RP_RUNNER_BOARD_FINISHED:
		if (rec->result != RP_RESULT_OK && rec->result != RP_RESULT_SERVED) {
			rc->not_ok++;
			rc->refused_access += rec->error_code == RP_ERR_ACCESS;
		}
		rp_recorder_submit(rc->recorder, rec);
		break;
	default:
		break;
	}
}

static void on_signal(void *ctx, unsigned nth)
{
	struct run_ctx *rc = ctx;

	if (nth == 1) {
		cli_outq_info(&rc->out, CLI_OUT_KEEP,
			      "stopping: boards in progress finish (Ctrl-C again to abort)");
		rp_runner_stop(rc->runner);
	} else {
		cli_outq_info(&rc->out, CLI_OUT_KEEP, "aborting");
		rp_runner_abort(rc->runner);
		/* A database that does not answer must not hold the process:
		 * the records wait in the spool. */
		rp_recorder_give_up_at(rc->recorder, 0);
	}
}

static void print_summary(const struct cli_run *run, const struct rp_runner_summary *sum,
			  double secs)
{
	const char *s = sum->finished == 1 ? "" : "s";

	/* Serving tells boards that only got files from those whose EEPROM
	 * was written and checked; flashing writes every one. */
	char unverified[48] = "";

	/* Only when there are any: most runs never see one. */
	if (sum->unverified)
		snprintf(unverified, sizeof(unverified), ", %u written but unverified",
			 sum->unverified);
	if (run->ro.mode == RP_SESSION_SERVE)
		printf("%u board%s: %u served, %u verified OK%s, %u failed, %u timed out, "
		       "%u left the bus (%.2f s)\n",
		       sum->finished, s, sum->served, sum->ok, unverified, sum->failed, sum->timeout,
		       sum->left, secs);
	else
		fprintf(run->json ? stderr : stdout,
			"%u board%s: %u OK%s, %u failed, %u timed out, %u left the bus (%.2f s)\n",
			sum->finished, s, sum->ok + sum->served, unverified, sum->failed, sum->timeout,
			sum->left, secs);
}

static int exit_status(const struct run_ctx *rc, const struct rp_runner_summary *sum,
		       const struct rp_recorder_stats *records, unsigned count)
{
	const struct cli_run *run = rc->run;

	/* Every failure was the device node's permissions: a setup to fix
	 * (udev rules, plugdev), said as such (77), not a bad board. */
	if (sum->failed + sum->timeout + sum->left)
		return rc->not_ok && rc->refused_access == rc->not_ok ? CLI_EXIT_NOPERM
								      : CLI_EXIT_FAILED;
	if (sum->idle_timed_out && (!sum->finished || sum->finished < count)) {
		if (run->explain_timeout)
			cli_info("timed out after %llu s without %s",
				 (unsigned long long)(run->ro.idle_timeout_ms / 1000u),
				 sum->finished ? "the remaining boards" : "any board");
		return CLI_EXIT_TEMPFAIL;
	}
	/* Interrupted before the boards it was asked for. */
	if (sum->stopped && count && sum->finished < count)
		return CLI_EXIT_FAILED;
	if (records->failed)
		return CLI_EXIT_CANTCREAT;
	return CLI_EXIT_OK;
}

/* The sinks of --report, --db and -j behind one recorder; attempt ids
 * continue from what a database already holds for this host. */
static int open_records(struct run_ctx *rc, struct rp_runner_opts *ro, struct rp_diag *d)
{
	struct rp_sink *sinks[CLI_RECORD_KINDS];
	struct rp_recorder_opts o = { .sinks = sinks, .on_error = record_error,
				      .on_written = board_recorded, .ctx = rc,
				      .spool_path = rc->run->records.spool,
				      .open_later = rc->run->records.allow_offline,
				      .simulated = rc->run->sim.boards != 0 };
	int r;

	rp_origin_buf_init(&rc->origin, NULL, NULL);
	if (rc->run->synthetic) {
		char id[RP_ORIGIN_RUN_ID_MAX], station[RP_ORIGIN_STATION_MAX];
		snprintf(id, sizeof(id), "synthetic-%.16s", rc->origin.run_id);
		snprintf(station, sizeof(station), "%s", rc->origin.station);
		rp_origin_buf_init(&rc->origin, station, id);
	}
	o.origin = rc->origin.origin;
	r = cli_records_sinks(&rc->run->records, sinks, &o.n_sinks, d);
	if (r == RP_OK)
		r = rp_recorder_new(&o, &rc->recorder, d);
	if (r == RP_OK)
		r = rp_recorder_last_attempt_id(rc->recorder, rc->origin.station,
						&ro->attempt_id_base, d);
	return r;
}

int cli_run_boards(const struct cli_run *run, struct cli_signals *sig)
{
	struct run_ctx rc = { .run = run };
	struct rp_runner_opts ro = run->ro;
	struct rp_runner_summary sum = { 0 };
	struct rp_recorder_stats records = { 0 };
	uint64_t t0 = rp_now_ms();
	struct rp_diag d;
	int r;

	if (run->forever)
		ro.count = 0;
	else if (run->count)
		ro.count = run->count;
	else if (run->sim.boards)
		ro.count = cli_sim_matching(&run->sim, ro.soc, ro.port_globs, ro.n_port_globs,
					    ro.serials, ro.n_serials, ro.serial_exact);
	else
		ro.count = 1;
	if (run->sim.boards && !ro.count && !run->forever)
		return cli_usage_error(run->cmd, "no simulated board matches %s", run->filter_options);
	if (run->sim.boards && run->count) {
		int bad = cli_sim_check_count(&run->sim, run->cmd, run->count,
					      cli_sim_matching(&run->sim, ro.soc, ro.port_globs,
							       ro.n_port_globs, ro.serials,
							       ro.n_serials, ro.serial_exact),
					      ro.idle_timeout_ms);
		if (bad)
			return bad;
	}
	ro.on_event = on_event;
	ro.event_ctx = &rc;

	rp_diag_clear(&d);
	r = open_records(&rc, &ro, &d);
	if (r == RP_OK)
		r = rp_runner_new(&ro, &rc.runner, &d);
	if (r != RP_OK) {
		rp_recorder_close(rc.recorder, NULL);
		return cli_fail(&d);
	}
	if (run->waiting)
		cli_info("%s", run->waiting);
	progress_mode(&rc);
	cli_outq_start(&rc.out);
	cli_signals_start(sig, on_signal, NULL, -1, &rc);
	r = rp_runner_run(rc.runner, &sum, &d);
	/* Every board's records, then its line, before the summary. Signals
	 * still count while the records are written: a second Ctrl-C gives
	 * up on a sink that keeps them waiting (a lock never released). */
	rp_recorder_close(rc.recorder, &records);
	cli_signals_stop(sig);
	cli_outq_finish(&rc.out);
	if (r == RP_OK)
		print_summary(run, &sum, (double)(rp_now_ms() - t0) / 1000.0);
	rp_runner_free(rc.runner);
	return r != RP_OK ? cli_fail(&d) : exit_status(&rc, &sum, &records, ro.count);
}
