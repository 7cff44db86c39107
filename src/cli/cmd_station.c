/* rpiprov station: provision every board that appears, unattended.
 * Signals are handled here, never in the library: the signal thread
 * (cli/signals.h) stops the station and also redraws the live view.
 * Everything said while the station runs goes through the output queue
 * (cli/out_queue.h), so a stdout nobody reads never holds up a board. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/filter_args.h"
#include "cli/out_queue.h"
#include "cli/prepare_args.h"
#include "cli/record_args.h"
#include "cli/signals.h"
#include "cli/sim_args.h"
#include "cli/source_args.h"
#include "records/sink.h"
#include "station/dashboard.h"
#include "station/event_json.h"
#include "station/http_server.h"
#include "station/liveview.h"
#include "station/station.h"
#include "util/parse.h"
#include "util/timefmt.h"
#include "util/clock.h"

#define MAX_CLI_KEYS 256
#define REDRAW_MS 100 /* at most 10 frames a second */
#define NOTIFY_STATUS_MS 2000 /* systemctl status need not be fresher */

enum output_mode { OUT_PLAIN, OUT_TTY, OUT_JSON };

struct cli_station {
	enum output_mode mode;
	bool colour; /* a terminal, and NO_COLOR unset */
	bool journal; /* stdout is journald's: it stamps the time itself */
	bool notify;  /* started by systemd with Type=notify */
	uint64_t last_notify_ms;
	struct rp_liveview *lv;
	struct rp_dash *dash; /* --http: the web dashboard's model */
	struct rp_http *http;
	struct rp_station *station;
	struct rp_source *source;
	struct rp_record_origin origin;
	struct cli_signals sig;
	struct cli_outq out; /* all that is said while the station runs */
	struct cli_synthetic synth; /* whose boards were served synthetic firmware: their lines say so */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov station [OPTIONS]\n\n"
		"Run unattended: provision every Raspberry Pi board that appears on USB in boot\n"
		"mode, write a record of each attempt, and keep going. A failed board is tried\n"
		"again when it is plugged in again. SIGINT/SIGTERM: take no new boards, finish\n"
		"the ones in flight, write their records and exit; a second signal aborts.\n\n"
		"Settings come from the configuration file, then the options below (which win).\n"
		"  -f, --config FILE        station configuration (default %s,\n"
		"                           read when it exists; not with --simulate). With\n"
		"                           --simulate, its records (report, db, metadata_dir,\n"
		"                           spool) are not written: only those given here\n\n"
		"What to flash (keys image, profile, config, set, unset, key, hsm_wrapper,\n"
		"pubkey, recovery, recovery_config):\n"
		"  -i, --image FILE         pieeprom-*.bin (default: the newest one rpiprov finds)\n"
		"  -P, --profile NAME       boot.conf profile\n"
		"  -c, --boot-config FILE   boot.conf to embed (config key 'config')\n"
		"      --set KEY=VALUE      edit boot.conf (repeatable)\n"
		"      --unset KEY          remove a boot.conf key (repeatable)\n"
		"  -k, --key FILE           sign boot.conf with this RSA-2048 private key\n"
		"  -H, --hsm-wrapper PROG   or with this program (needs --pubkey)\n"
		"  -p, --pubkey FILE        public key for --hsm-wrapper\n"
		"  -r, --recovery FILE      recovery.bin to send as the second stage\n"
		"      --recovery-config FILE  config.txt for recovery.bin\n"
		"      --allow-otp-permanent   permit config.txt options that write OTP\n"
		"      --strict             unknown boot.conf keys are errors\n\n"
		"Which boards:\n"
		"      --ports GLOBS        only these USB port paths (fnmatch, e.g. '1-1.*';\n"
		"                           comma-separated); --port GLOB: one (repeatable)\n"
		"      --serials LIST       only these serial numbers (comma-separated);\n"
		"                           --serial S: one (repeatable)\n"
		"      --board-timeout DUR  give up on a board after DUR (default 120 s)\n"
		"      --require-verified   a write the board's recovery.bin cannot confirm\n"
		"                           (no EEPROM_HASH) is a failure, not UNVERIFIED\n"
		"  -n, --count N            stop after N attempts\n"
		"      --idle-timeout DUR   stop when no board came for DUR\n"
		"      --stop-grace DUR     on a signal, wait this long for boards in flight (30 s)\n\n"
		"Records:\n"
		"      --report FILE        append one JSON line per attempt\n"
		"      --db FILE|URL        SQLite manufacturing database, or PostgreSQL\n"
		"                           (postgresql://user@host/db; key 'db' or 'database')\n"
		"      --metadata-dir DIR   DIR/<serial>.json like rpiboot -j\n"
		"      --spool FILE         where each record is made durable first, then sent on\n"
		"                           (key 'spool'; default $STATE_DIRECTORY or the records'\n"
		"                           directory, rpiprov-spool-NAME.db)\n"
		"      --allow-db-offline   start even when a database cannot be reached; records\n"
		"                           wait in the spool until it can (key 'allow_db_offline')\n"
		"      --name NAME          station name in every record (key 'station')\n\n"
		"Web dashboard and Prometheus metrics (read-only):\n"
		"      --http ADDR:PORT     serve /, /events, /metrics, /api/status and\n"
		"                           /api/attempts (key 'http'; ADDR defaults to 127.0.0.1)\n"
		"      --http-token FILE    token needed by every request (key\n"
		"                           'http_token_file'); required beyond loopback\n\n"
		"Output (stdout): a live table on a terminal, timestamped lines otherwise.\n"
		"      --json               stream events as JSON Lines instead\n"
		"      --plain              timestamped lines even on a terminal\n\n"
		"Simulation (no hardware):\n"
		"      --simulate N         N simulated boards instead of USB\n"
		"      --sim-soc LIST       the simulated boards' SoCs in turn (2711,2712: a\n"
		"                           mixed tray)\n"
		"      --sim-timing MODEL   zero|fast (default) or realistic board-side delays\n"
		"      --sim-arrivals DUR   boards arrive at random times within DUR\n"
		"      --sim-seed N         seed for the arrival times (default 1)\n"
		"      --sim-fault SPEC     inject a fault (repeatable), see below\n\n"
		"  -h, --help               show this help\n\n"
		"DUR is seconds, or a number with ms, s or m. Fault SPEC:\n%s\n\n"
		"Exit status: 0 every board OK; 1 a board failed or a record could not be\n"
		"written; 64 usage; 65 bad configuration or input data; 66 input missing;\n"
		"69 USB unavailable; 77 permission denied.\n",
		RP_STATION_DEFAULT_CONFIG, rp_sim_fault_help());
}

/* Options that are configuration keys, applied after the file. */
struct cli_kv {
	const char *key, *value;
};

/* 0 or CLI_EXIT_USAGE, said. */
static int add_kv(struct cli_kv *kv, unsigned *n_kv, const char *key, const char *value)
{
	if (*n_kv == MAX_CLI_KEYS)
		return cli_usage_error("station", "too many options");
	kv[*n_kv].key = key;
	kv[*n_kv].value = value;
	(*n_kv)++;
	return 0;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void term_size(unsigned *width, unsigned *height)
{
	struct winsize ws;

	*width = 80;
	*height = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_col > 0)
			*width = ws.ws_col;
		*height = ws.ws_row;
	}
}

/* Each frame moves the cursor over the one before, so none may be lost:
 * a frame is rendered only once the last one is out (a terminal paused
 * with Ctrl-S then sees the latest state when it resumes), except the
 * last frame (force), which always goes. */
static void redraw(struct cli_station *c, bool force)
{
	size_t len = 0;
	char *frame;

	if (!force && !cli_outq_idle(&c->out))
		return;
	struct rp_liveview_frame f = { .colour = c->colour };

	term_size(&f.width, &f.height);
	if (c->station)
		rp_station_backlog(c->station, &f.records_pending, &f.oldest_pending_ms);
	frame = rp_liveview_render(c->lv, rp_now_ms(), &f, &len);
	if (frame) {
		cli_outq_put(&c->out, CLI_OUT_STDOUT, CLI_OUT_KEEP, frame, len);
		free(frame);
	}
}

/* Called with the runner's event lock held, which every board's worker
 * takes between transfers: only format and queue here, never write. */
static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct cli_station *c = ctx;
	enum cli_out_kind kind = ev->type == RP_RUNNER_PROGRESS ? CLI_OUT_PROGRESS
				 : ev->type == RP_RUNNER_BOARD_FINISHED ? CLI_OUT_KEEP
				 : CLI_OUT_EVENT;

	if (c->dash)
		rp_dash_event(c->dash, ev, rp_now_ms(), rp_wall_now_ms());
	if (c->mode == OUT_TTY) {
		rp_liveview_event(c->lv, ev, rp_now_ms());
	} else if (c->mode == OUT_JSON) {
		size_t len = 0;
		char *line = rp_event_json_line(ev, &c->origin, rp_wall_now_ms(), &len);
		if (line) {
			cli_outq_put(&c->out, CLI_OUT_STDOUT, kind, line, len);
			free(line);
		}
	} else {
		/* In the journal, a board that did not end OK is a warning
		 * (journalctl -p warning finds it), the rest information. */
		static const char mark[] = "[synthetic] ";
		const struct rp_board_record *r = ev->record;
		bool failed = ev->type == RP_RUNNER_BOARD_FINISHED && r && r->result != RP_RESULT_OK &&
			      r->result != RP_RESULT_SERVED;
		const char *prio = c->journal ? cli_journal_prefix(STDOUT_FILENO, failed ? CLI_PRIO_WARNING
											   : CLI_PRIO_INFO)
					      : "";
		char line[1024 + sizeof(mark) + 4];
		size_t head = strlen(prio) + sizeof(mark) - 1;
		bool synthetic = r && cli_synthetic_board(&c->synth, r->soc);
		size_t len, at = 0;
		if (c->lv)
			rp_liveview_event(c->lv, ev, rp_now_ms()); /* the totals for systemd */
		len = rp_liveview_format_line(ev, c->journal ? RP_LIVEVIEW_NO_TIME : rp_wall_now_ms(),
					      line + head, 1024);
		/* Right before the text: the mark, then the priority. */
		at = head;
		if (synthetic) {
			at -= sizeof(mark) - 1;
			memcpy(line + at, mark, sizeof(mark) - 1);
		}
		at -= strlen(prio);
		memcpy(line + at, prio, strlen(prio));
		if (len)
			cli_outq_put(&c->out, CLI_OUT_STDOUT, kind, line + at, len + head - at);
	}
}

static void on_record_error(void *ctx, const struct rp_board_record *r, const struct rp_diag *d)
{
	struct cli_station *c = ctx;

	cli_outq_warn(&c->out, "%s%s", r ? "record not written: " : "", rp_diag_message(d));
	/* The live view's status line too: a board shown OK whose record
	 * may be lost must not look like business as usual. */
	if (c->station && rp_station_spool_failed(c->station) && c->mode == OUT_TTY)
		rp_liveview_set_status(c->lv, "RECORDS AT RISK: the spool cannot be written; "
					      "no new boards are taken");
}

static void status(struct cli_station *c, const char *text)
{
	if (c->mode == OUT_TTY)
		rp_liveview_set_status(c->lv, text);
	else
		cli_outq_info(&c->out, CLI_OUT_KEEP, "%s", text);
}

static void on_signal(void *ctx, unsigned nth)
{
	struct cli_station *c = ctx;

	if (c->notify)
		sd_notify(0, nth == 1 ? "STOPPING=1\nSTATUS=stopping: finishing the boards in flight"
				      : "STOPPING=1\nSTATUS=aborting the boards in flight");
	if (nth == 1) {
		rp_station_stop(c->station);
		status(c, "stopping: no new boards; finishing the boards in flight "
			  "(signal again to abort)");
	} else {
		rp_station_abort(c->station);
		status(c, "aborting the boards in flight");
	}
}

static void notify_status(struct cli_station *c)
{
	struct rp_liveview_totals t;
	uint64_t now = rp_now_ms();

	if (!c->notify || !c->lv || now - c->last_notify_ms < NOTIFY_STATUS_MS)
		return;
	c->last_notify_ms = now;
	rp_liveview_totals(c->lv, now, &t);
	if (t.rate_known)
		sd_notifyf(0, "STATUS=%u OK, %u failed, %u in progress, %.0f boards/h", t.ok, t.failed,
			   t.in_progress, t.boards_per_hour);
	else
		sd_notifyf(0, "STATUS=%u OK, %u failed, %u in progress", t.ok, t.failed, t.in_progress);
}

static void on_tick(void *ctx)
{
	struct cli_station *c = ctx;

	if (c->mode == OUT_TTY)
		redraw(c, false);
	notify_status(c);
}

/* journald's stream says which file it is (JOURNAL_STREAM=dev:ino). */
static bool stdout_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDOUT_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static bool station_at_risk(void *ctx)
{
	return rp_station_spool_failed(ctx);
}

static void station_backlog(void *ctx, uint64_t *records, int64_t *oldest_age_ms)
{
	rp_station_backlog(ctx, records, oldest_age_ms);
}

/* The dashboard model and its server, before any board is taken. */
static int start_http(struct cli_station *c, const struct rp_station_config *cfg, struct rp_diag *d)
{
	struct rp_dash_opts o;
	struct rp_http_opts ho;
	int ret;

	memset(&o, 0, sizeof(o));
	o.origin = c->origin;
	for (size_t i = 0; i < rp_station_n_prepared(c->station) && i < RP_DASH_MAX_FIRMWARE; i++) {
		const struct rp_prepared *p = rp_station_prepared_set(c->station, i);
		o.firmware[i].soc = p->soc;
		o.firmware[i].image = p->image_source;
		o.firmware[i].sha256 = p->image_sha256;
		o.n_firmware++;
	}
	o.process_start_unix_ms = rp_wall_now_ms();
	o.backlog = station_backlog;
	o.records_at_risk = station_at_risk;
	o.backlog_ctx = c->station;
	ret = rp_dash_new(&o, &c->dash);
	if (ret < 0)
		return rp_diag_set(d, ret, "out of memory");
	memset(&ho, 0, sizeof(ho));
	ho.listen = cfg->http;
	ho.token_file = cfg->http_token_file;
	ho.dash = c->dash;
	ret = rp_http_start(&ho, &c->http, d);
	if (ret < 0)
		return ret;
	cli_info("dashboard: %s (metrics: %smetrics)", rp_http_url(c->http), rp_http_url(c->http));
	return RP_OK;
}

static void print_summary(struct cli_station *c, const struct rp_station_summary *sum,
			  const struct rp_station_config *cfg)
{
	const struct rp_runner_summary *r = &sum->runner;
	char ignored[200] = "", db_name[RP_SINK_NAME_MAX] = "";

	/* The reasons went to the log in plain and JSON modes; a terminal
	 * had only the table, so the summary says the last one itself. */
	if (r->ignored && c->mode == OUT_TTY && c->lv) {
		char last[160];
		rp_liveview_last_ignored(c->lv, last, sizeof(last));
		snprintf(ignored, sizeof(ignored), "; %u device%s ignored (last: %s)", r->ignored,
			 r->ignored == 1 ? "" : "s", last);
	} else if (r->ignored) {
		snprintf(ignored, sizeof(ignored), "; %u device%s ignored (reasons above)", r->ignored,
			 r->ignored == 1 ? "" : "s");
	}
	char unverified[48] = "";
	if (r->unverified)
		snprintf(unverified, sizeof(unverified), ", %u written but unverified", r->unverified);
	cli_result("station %s run %s: %u attempt%s: %u OK%s, %u failed, %u timed out, %u left the bus%s",
		 rp_station_name(c->station), sum->run_id, r->finished, r->finished == 1 ? "" : "s",
		 r->ok + r->served, unverified, r->failed, r->timeout, r->left, ignored);
	if (cfg->database)
		rp_sink_target_display(cfg->database, db_name, sizeof(db_name));
	if (cfg->report || cfg->database || cfg->metadata_dir)
		cli_result("records: %u written%s%s%s%s%s%s%s", sum->records_written,
			 cfg->report ? ", report " : "", cfg->report ? cfg->report : "",
			 cfg->database ? ", database " : "", cfg->database ? db_name : "",
			 cfg->metadata_dir ? ", metadata " : "", cfg->metadata_dir ? cfg->metadata_dir : "",
			 sum->record_errors ? " (SOME RECORDS FAILED, see above)" : "");
	if (sum->records_queued)
		cli_warn("%llu record%s not yet in every sink: kept in the spool, delivered at the "
			 "next start", (unsigned long long)sum->records_queued,
			 sum->records_queued == 1 ? "" : "s");
	if (r->aborted)
		cli_warn("the run was aborted: boards in flight were abandoned");
}

/* A simulation never writes into the records a configuration file names
 * (production's report, database and metadata): only into those named on
 * its own command line, which are applied after this. */
static void drop_file_records(struct rp_station_config *cfg, const char *path)
{
	char **fields[] = { &cfg->report, &cfg->database, &cfg->metadata_dir, &cfg->spool };
	bool any = false;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		any = any || *fields[i];
		free(*fields[i]);
		*fields[i] = NULL;
	}
	cfg->allow_db_offline = false;
	if (any)
		cli_info("--simulate: not writing the records %s names (report, db, metadata_dir, "
			 "spool); give --report/--db/--metadata-dir to keep this run's", path);
}

int cmd_station(int argc, char **argv)
{
	enum {
		OPT_BOARD_TIMEOUT = 256, OPT_IDLE, OPT_GRACE, OPT_JSON, OPT_PLAIN,
		OPT_SIM_ARRIVALS, OPT_SIM_SEED, OPT_HTTP, OPT_HTTP_TOKEN, OPT_NAME,
		OPT_REQUIRE_VERIFIED,
	};
	static const struct option own[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "board-timeout", required_argument, NULL, OPT_BOARD_TIMEOUT },
		{ "require-verified", no_argument, NULL, OPT_REQUIRE_VERIFIED },
		{ "count", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "stop-grace", required_argument, NULL, OPT_GRACE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "plain", no_argument, NULL, OPT_PLAIN },
		{ "sim-arrivals", required_argument, NULL, OPT_SIM_ARRIVALS },
		{ "sim-seed", required_argument, NULL, OPT_SIM_SEED },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "http-token", required_argument, NULL, OPT_HTTP_TOKEN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* The payload options' letters, as prepare and flash have them (the
	 * station's own file is -f: -c is boot.conf in every command). */
	static const int payload_letters[][2] = {
		{ 'i', CLI_OPT_IMAGE }, { 'c', CLI_OPT_CONFIG },  { 'P', CLI_OPT_PROFILE },
		{ 'k', CLI_OPT_KEY },   { 'H', CLI_OPT_HSM_WRAPPER }, { 'p', CLI_OPT_PUBKEY },
		{ 'r', CLI_OPT_RECOVERY },
	};
	/* Option -> configuration key, for station's options that are keys
	 * (the payload and record options know theirs). */
	static const struct {
		int opt;
		const char *key;
	} opt_keys[] = {
		{ OPT_BOARD_TIMEOUT, "board_timeout" }, { OPT_NAME, "station" }, { OPT_HTTP, "http" },
		{ OPT_HTTP_TOKEN, "http_token_file" }, { OPT_REQUIRE_VERIFIED, "require_verified" },
	};
	struct cli_longopts opts = { .n = 0 };
	struct cli_kv kv[MAX_CLI_KEYS];
	unsigned n_kv = 0;
	const char *config_path = NULL;
	bool json = false, plain = false;
	unsigned count = 0;
	uint64_t seed = 1;
	unsigned idle_ms = 0, grace_ms = 0, arrivals_ms = 0;
	struct cli_sim sim_args;
	struct cli_filters filters;
	struct rp_station_config cfg;
	struct rp_station_opts so;
	struct cli_source_opts src_opts = { .sim = &sim_args };
	struct cli_records records;
	struct rp_sink *sinks[CLI_RECORD_KINDS];
	char spool_dir[4096];
	struct rp_station_summary sum;
	struct cli_station c;
	uint64_t *arrival = NULL;
	struct rp_diag d;
	bool file_loaded = false;
	int opt, ret, exit_code;

	rp_diag_clear(&d);
	memset(&sim_args, 0, sizeof(sim_args));
	memset(&filters, 0, sizeof(filters));
	cli_longopts_add(&opts, own);
	cli_payload_longopts(&opts, CLI_PAYLOAD_STATION);
	cli_sim_longopts(&opts);
	cli_filter_longopts(&opts);
	cli_record_longopts(&opts);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:i:c:P:k:H:p:r:n:h", opts.v, NULL)) != -1) {
		const char *key = NULL, *value = optarg;
		for (size_t i = 0; i < sizeof(payload_letters) / sizeof(payload_letters[0]); i++)
			if (payload_letters[i][0] == opt)
				opt = payload_letters[i][1];
		for (size_t i = 0; i < sizeof(opt_keys) / sizeof(opt_keys[0]); i++)
			if (opt_keys[i].opt == opt)
				key = opt_keys[i].key;
		if (!key)
			key = cli_record_config_key(opt);
		if (key || cli_payload_config_key(opt, optarg, &key, &value)) {
			if (key && !value)
			value = "yes"; /* a flag: its key is a boolean */
		if (add_kv(kv, &n_kv, key, value))
				return CLI_EXIT_USAGE;
			continue;
		}
		ret = cli_sim_option(opt, optarg, &sim_args, "station");
		if (ret == CLI_OPTION_OTHER)
			ret = cli_filter_option(opt, optarg, &filters, "station");
		if (ret != CLI_OPTION_OTHER) {
			if (ret)
				return ret;
			continue;
		}
		switch (opt) {
		case 'f':
			config_path = optarg;
			break;
		case 'n':
			if (cli_option_uint("station", "--count", optarg, 0, 1000000000, &count))
				return CLI_EXIT_USAGE;
			break;
		case OPT_IDLE:
		case OPT_GRACE:
		case OPT_SIM_ARRIVALS: {
			uint64_t ms;
			if (opt == OPT_SIM_ARRIVALS && !strcmp(optarg, "0")) {
				arrivals_ms = 0;
				break;
			}
			if (rp_parse_duration_ms(optarg, 1000, RP_STATION_MAX_DURATION_MS, &ms, &d) < 0)
				return cli_usage_error("station", "%s: %s",
						       opt == OPT_IDLE ? "--idle-timeout"
						       : opt == OPT_GRACE ? "--stop-grace" : "--sim-arrivals", d.msg);
			*(opt == OPT_IDLE ? &idle_ms : opt == OPT_GRACE ? &grace_ms : &arrivals_ms) = (unsigned)ms;
			break;
		}
		case OPT_JSON:
			json = true;
			break;
		case OPT_PLAIN:
			plain = true;
			break;
		case OPT_SIM_SEED:
			if (cli_option_u64("station", "--sim-seed", optarg, 0, UINT64_MAX, &seed))
				return CLI_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("station");
		}
	}
	if (optind < argc)
		return cli_usage_error("station", "unexpected argument '%s'", argv[optind]);
	if (json && plain)
		return cli_usage_error("station", "--json and --plain cannot be combined");
	if (!sim_args.boards && arrivals_ms)
		return cli_usage_error("station", "--sim-* options need --simulate N");
	ret = cli_sim_check(&sim_args, "station");
	if (ret)
		return ret;
	/* The filters are the configuration's lists, as if written there. */
	for (unsigned i = 0; i < filters.n_ports; i++)
		if (add_kv(kv, &n_kv, "ports", filters.ports[i]))
			return CLI_EXIT_USAGE;
	for (unsigned i = 0; i < filters.n_serials; i++)
		if (add_kv(kv, &n_kv, "serials", filters.serials[i]))
			return CLI_EXIT_USAGE;

	/* Settings: the file (explicit, or the default when it exists and
	 * this is not a simulation), then the command line. */
	rp_station_config_init(&cfg);
	if (!config_path && !sim_args.boards && access(RP_STATION_DEFAULT_CONFIG, F_OK) == 0)
		config_path = RP_STATION_DEFAULT_CONFIG;
	if (config_path) {
		ret = rp_station_config_load(&cfg, config_path, &d);
		if (ret < 0) {
			rp_station_config_free(&cfg);
			fprintf(stderr, "rpiprov: error: %s\n", rp_diag_message(&d));
			/* A file that says something wrong is bad input data. */
			return ret == RP_ERR_INVALID_ARG ? CLI_EXIT_DATAERR : cli_exit_code(ret);
		}
		file_loaded = true;
		if (sim_args.boards)
			drop_file_records(&cfg, config_path);
	}
	for (unsigned i = 0; i < n_kv; i++) {
		if (rp_station_config_set(&cfg, RP_CONFIG_CLI, kv[i].key, kv[i].value, &d) < 0) {
			rp_station_config_free(&cfg);
			return cli_usage_error("station", "%s", d.msg);
		}
	}
	if (rp_station_config_check(&cfg, &d) < 0) {
		rp_station_config_free(&cfg);
		/* One message: which settings, then what is wrong with them. */
		fprintf(stderr, "rpiprov: error: %s%s%s\n", file_loaded ? config_path : "",
			file_loaded ? " with the command line: " : "", rp_diag_message(&d));
		return file_loaded ? CLI_EXIT_DATAERR : CLI_EXIT_USAGE;
	}

	memset(&so, 0, sizeof(so));
	so.config = &cfg;
	so.count = count;
	/* Like flash: wait for the simulated boards the filters let through,
	 * not for those that are ignored. */
	if (sim_args.boards && count) {
		int bad = cli_sim_check_count(
			&sim_args, "station", count,
			cli_sim_matching(&sim_args, NULL, (const char *const *)cfg.ports, cfg.n_ports,
					 (const char *const *)cfg.serials, cfg.n_serials, false),
			idle_ms);
		if (bad) {
			rp_station_config_free(&cfg);
			return bad;
		}
	}
	if (sim_args.boards && !count) {
		so.count = cli_sim_matching(&sim_args, NULL, (const char *const *)cfg.ports, cfg.n_ports,
					    (const char *const *)cfg.serials, cfg.n_serials, false);
		if (!so.count) {
			rp_station_config_free(&cfg);
			return cli_usage_error("station", "no simulated board matches --ports/--serials");
		}
	}
	so.idle_timeout_ms = idle_ms;
	so.stop_grace_ms = grace_ms;
	so.on_event = on_event;
	so.on_record_error = on_record_error;
	if (sim_args.boards && arrivals_ms) {
		uint64_t state = seed;
		arrival = calloc(sim_args.boards, sizeof(*arrival));
		if (!arrival) {
			rp_station_config_free(&cfg);
			rp_diag_set(&d, RP_ERR_NOMEM, "out of memory");
			return cli_fail(&d);
		}
		for (unsigned i = 0; i < sim_args.boards; i++)
			arrival[i] = splitmix64(&state) % arrivals_ms;
		src_opts.arrival_ms = arrival;
	}

	memset(&c, 0, sizeof(c));
	c.mode = json ? OUT_JSON : (!plain && isatty(STDOUT_FILENO)) ? OUT_TTY : OUT_PLAIN;
	if (c.mode == OUT_TTY) {
		const char *term = getenv("TERM");
		const char *no_colour = getenv("NO_COLOR");
		if (!term || !strcmp(term, "dumb"))
			c.mode = OUT_PLAIN;
		/* https://no-color.org: set and not empty means no colour. */
		c.colour = c.mode == OUT_TTY && !(no_colour && no_colour[0]);
	}
	so.event_ctx = &c;

	/* Before the station starts any thread (the USB source does). */
	ret = cli_signals_init(&c.sig, &d);
	if (ret < 0) {
		exit_code = cli_fail(&d);
		goto out;
	}
	c.journal = c.mode == OUT_PLAIN && stdout_is_journal();
	c.notify = getenv("NOTIFY_SOCKET") != NULL;
	/* The table, and the totals systemd's status shows. */
	c.lv = rp_liveview_new();
	if (!c.lv && c.mode == OUT_TTY)
		c.mode = OUT_PLAIN;

	/* The simulated boards start arriving when the source is made. */
	src_opts.read_rom_serials = cfg.n_serials != 0;
	ret = cli_source_new(&src_opts, &c.source, &d);
	if (ret == RP_OK) {
		cli_records_from_config(&cfg, &records);
		so.spool_path = records.spool;
		so.spool_dir = cli_records_spool_dir(&records, spool_dir, sizeof(spool_dir));
		so.open_sinks_later = records.allow_offline;
		if (cli_records_any(&records) && !so.spool_path && !so.spool_dir)
			ret = rp_diag_set(&d, RP_ERR_INVALID_ARG,
					  "records go to a database server: give --spool FILE (key "
					  "'spool'), where each record is kept first");
		if (ret == RP_OK)
			ret = cli_records_sinks(&records, sinks, &so.n_sinks, &d);
	}
	if (ret == RP_OK) {
		so.source = c.source;
		so.sinks = sinks;
		so.simulated = sim_args.boards != 0;
		ret = rp_station_new(&so, &c.station, &d);
	}
	if (ret < 0) {
		exit_code = cli_fail(&d);
		goto out;
	}
	c.origin.station = rp_station_name(c.station);
	c.origin.run_id = rp_station_run_id(c.station);
	for (size_t i = 0; i < rp_station_n_prepared(c.station); i++) {
		const struct rp_prepared *p = rp_station_prepared_set(c.station, i);
		cli_synthetic_note(&c.synth, p);
		cli_print_warnings(p->warnings);
		cli_info("station %s, run %s: serving BCM%s boards %s (sha256 %.16s...)%s%s",
			 c.origin.station, c.origin.run_id, p->soc,
			 p->image_source[0] ? p->image_source : "the prepared image", p->image_sha256,
			 sim_args.boards ? " to simulated boards" : "",
			 sim_args.boards ? "" : "; waiting for boards");
	}
	if (cfg.http) {
		ret = start_http(&c, &cfg, &d);
		if (ret < 0) {
			exit_code = cli_fail(&d);
			goto out;
		}
	}
	cli_outq_start(&c.out); /* the station writes its own records */
	cli_signals_start(&c.sig, on_signal, c.mode == OUT_TTY || c.notify ? on_tick : NULL, REDRAW_MS, &c);
	if (c.notify)
		sd_notifyf(0, "READY=1\nSTATUS=waiting for boards%s%s", c.http ? "; dashboard " : "",
			   c.http ? rp_http_url(c.http) : "");
	ret = rp_station_run(c.station, &sum, &d);
	cli_signals_stop(&c.sig);
	rp_http_stop(c.http);
	c.http = NULL;
	if (c.mode == OUT_TTY) {
		rp_liveview_set_status(c.lv, NULL);
		redraw(&c, true);
	}
	cli_outq_finish(&c.out);
	if (ret < 0) {
		exit_code = cli_fail(&d);
	} else {
		print_summary(&c, &sum, &cfg);
		exit_code = rp_station_summary_failed(&sum) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
	}
	if (fflush(stdout) != 0 && c.mode != OUT_JSON)
		cli_warn("cannot write to standard output: %s", strerror(errno));
out:
	rp_station_free(c.station);
	if (c.source)
		c.source->ops->destroy(c.source);
	rp_http_stop(c.http);
	rp_dash_free(c.dash);
	rp_liveview_free(c.lv);
	cli_signals_close(&c.sig);
	rp_station_config_free(&cfg);
	free(arrival);
	return exit_code;
}
