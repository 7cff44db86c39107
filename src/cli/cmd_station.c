/* rpiprov station: provision every board that appears, unattended.
 * Signals are handled here, never in the library: the signal thread
 * (cli/signals.h) stops the station and also redraws the live view. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/prepare_args.h"
#include "cli/signals.h"
#include "sim/sim_source.h"
#include "station/event_json.h"
#include "station/liveview.h"
#include "station/station.h"
#include "station/timefmt.h"
#include "util/clock.h"

#define MAX_CLI_KEYS 256
#define REDRAW_MS 100 /* at most 10 frames a second */

enum output_mode { OUT_PLAIN, OUT_TTY, OUT_JSON };

struct cli_station {
	enum output_mode mode;
	struct rp_liveview *lv;
	struct rp_station *station;
	struct rp_record_origin origin;
	struct cli_signals sig;
	pthread_mutex_t out_lock;
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
		"  -c, --config FILE        station configuration (default %s,\n"
		"                           read when it exists; not with --simulate)\n\n"
		"What to flash (keys image, profile, config, set, unset, key, hsm_wrapper,\n"
		"pubkey, recovery, recovery_config):\n"
		"  -i, --image FILE         pieeprom-*.bin (default: the newest one rpiprov finds)\n"
		"  -p, --profile NAME       boot.conf profile\n"
		"      --boot-config FILE   boot.conf to embed (config key 'config')\n"
		"  -s, --set KEY=VALUE      edit boot.conf (repeatable)\n"
		"      --unset KEY          remove a boot.conf key (repeatable)\n"
		"  -k, --key FILE           sign boot.conf with this RSA-2048 private key\n"
		"      --hsm-wrapper PROG   or with this program (needs --pubkey)\n"
		"      --pubkey FILE        public key for --hsm-wrapper\n"
		"      --recovery FILE      recovery.bin to send as the second stage\n"
		"      --recovery-config FILE  config.txt for recovery.bin\n"
		"      --allow-otp-permanent   permit config.txt options that write OTP\n"
		"      --strict             unknown boot.conf keys are errors\n\n"
		"Which boards:\n"
		"      --ports GLOBS        only these USB port paths (fnmatch, e.g. '1-1.*')\n"
		"      --serials LIST       only these serial numbers\n"
		"      --board-timeout DUR  give up on a board after DUR (default 120 s)\n"
		"      --count N            stop after N attempts\n"
		"      --idle-timeout DUR   stop when no board came for DUR\n"
		"      --stop-grace DUR     on a signal, wait this long for boards in flight (30 s)\n\n"
		"Records:\n"
		"      --report FILE        append one JSON line per attempt\n"
		"      --db FILE            SQLite manufacturing database (key 'database')\n"
		"      --metadata-dir DIR   DIR/<serial>.json like rpiboot -j\n"
		"  -n, --name NAME          station name in every record (key 'station')\n\n"
		"Output (stdout): a live table on a terminal, timestamped lines otherwise.\n"
		"      --json               stream events as JSON Lines instead\n"
		"      --plain              timestamped lines even on a terminal\n\n"
		"Simulation (no hardware):\n"
		"      --simulate N         N simulated boards instead of USB\n"
		"      --sim-timing fast|realistic  board-side delays (default fast)\n"
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

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned term_width(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void write_out(struct cli_station *c, const char *text, size_t len)
{
	pthread_mutex_lock(&c->out_lock);
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	pthread_mutex_unlock(&c->out_lock);
}

static void redraw(struct cli_station *c)
{
	size_t len = 0;
	char *frame = rp_liveview_render(c->lv, rp_now_ms(), term_width(), &len);
	if (frame) {
		write_out(c, frame, len);
		free(frame);
	}
}

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct cli_station *c = ctx;

	if (c->mode == OUT_TTY) {
		rp_liveview_event(c->lv, ev, rp_now_ms());
	} else if (c->mode == OUT_JSON) {
		size_t len = 0;
		char *line = rp_event_json_line(ev, &c->origin, rp_wall_now_ms(), &len);
		if (line) {
			write_out(c, line, len);
			free(line);
		}
	} else {
		char line[1024];
		size_t len = rp_liveview_format_line(ev, rp_wall_now_ms(), line, sizeof(line));
		if (len)
			write_out(c, line, len);
	}
}

static void on_record_error(void *ctx, const struct rp_board_record *r, const struct rp_diag *d)
{
	(void)ctx;
	(void)r;
	cli_warn("record not written: %s", rp_diag_message(d));
}

static void status(struct cli_station *c, const char *text)
{
	if (c->mode == OUT_TTY)
		rp_liveview_set_status(c->lv, text);
	else
		cli_info("%s", text);
}

static void on_signal(void *ctx, unsigned nth)
{
	struct cli_station *c = ctx;

	if (nth == 1) {
		rp_station_stop(c->station);
		status(c, "stopping: no new boards; finishing the boards in flight "
			  "(signal again to abort)");
	} else {
		rp_station_abort(c->station);
		status(c, "aborting the boards in flight");
	}
}

static void on_tick(void *ctx)
{
	redraw(ctx);
}

static int parse_count(const char *opt, const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > max)
		return cli_usage_error("station", "%s: '%s' is not a number from 0 to %lu", opt, text, max);
	*out = v;
	return 0;
}

static void print_summary(const struct rp_station *s, const struct rp_station_summary *sum,
			  const struct rp_station_config *cfg)
{
	const struct rp_runner_summary *r = &sum->runner;

	cli_info("station %s run %s: %u attempt%s: %u OK, %u failed, %u timed out, %u left the bus"
		 "%s%s",
		 rp_station_name(s), sum->run_id, r->finished, r->finished == 1 ? "" : "s", r->ok + r->served,
		 r->failed, r->timeout, r->left, r->ignored ? "; devices ignored: " : "",
		 r->ignored ? "see the log" : "");
	if (cfg->report || cfg->database || cfg->metadata_dir)
		cli_info("records: %u written%s%s%s%s%s%s%s", sum->records_written,
			 cfg->report ? ", report " : "", cfg->report ? cfg->report : "",
			 cfg->database ? ", database " : "", cfg->database ? cfg->database : "",
			 cfg->metadata_dir ? ", metadata " : "", cfg->metadata_dir ? cfg->metadata_dir : "",
			 sum->record_errors ? " (SOME RECORDS FAILED, see above)" : "");
	if (r->aborted)
		cli_warn("the run was aborted: boards in flight were abandoned");
}

int cmd_station(int argc, char **argv)
{
	enum {
		OPT_PORTS = 256, OPT_SERIALS, OPT_BOARD_TIMEOUT, OPT_COUNT, OPT_IDLE, OPT_GRACE,
		OPT_REPORT, OPT_DB, OPT_METADATA, OPT_JSON, OPT_PLAIN, OPT_SIMULATE, OPT_SIM_TIMING,
		OPT_SIM_ARRIVALS, OPT_SIM_SEED, OPT_SIM_FAULT,
	};
	static const struct option own[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "serials", required_argument, NULL, OPT_SERIALS },
		{ "board-timeout", required_argument, NULL, OPT_BOARD_TIMEOUT },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "stop-grace", required_argument, NULL, OPT_GRACE },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "db", required_argument, NULL, OPT_DB },
		{ "metadata-dir", required_argument, NULL, OPT_METADATA },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "plain", no_argument, NULL, OPT_PLAIN },
		{ "simulate", required_argument, NULL, OPT_SIMULATE },
		{ "sim-timing", required_argument, NULL, OPT_SIM_TIMING },
		{ "sim-arrivals", required_argument, NULL, OPT_SIM_ARRIVALS },
		{ "sim-seed", required_argument, NULL, OPT_SIM_SEED },
		{ "sim-fault", required_argument, NULL, OPT_SIM_FAULT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* station's short letters are its own (-p is the profile here, the
	 * public key in prepare and flash): to the shared payload options. */
	static const int payload_letters[][2] = {
		{ 'i', CLI_OPT_IMAGE }, { 'p', CLI_OPT_PROFILE }, { 's', CLI_OPT_SET }, { 'k', CLI_OPT_KEY },
	};
	/* Option -> configuration key, for station's options that are keys
	 * (the payload options know theirs). */
	static const struct {
		int opt;
		const char *key;
	} opt_keys[] = {
		{ OPT_PORTS, "ports" }, { OPT_SERIALS, "serials" }, { OPT_BOARD_TIMEOUT, "board_timeout" },
		{ OPT_REPORT, "report" }, { OPT_DB, "database" }, { OPT_METADATA, "metadata_dir" },
		{ 'n', "station" },
	};
	struct cli_longopts opts = { .n = 0 };
	struct cli_kv kv[MAX_CLI_KEYS];
	unsigned n_kv = 0;
	const char *config_path = NULL;
	bool json = false, plain = false, realistic = false;
	unsigned long sim_n = 0, count = 0, seed = 1;
	unsigned idle_ms = 0, grace_ms = 0, arrivals_ms = 0;
	struct rp_sim_fault_spec faults[RP_RUNNER_MAX_FILTERS];
	unsigned n_faults = 0;
	struct rp_station_config cfg;
	struct rp_station_opts so;
	struct rp_station_sim sim;
	struct rp_sim_params params;
	struct rp_station_summary sum;
	struct cli_station c;
	uint64_t *arrival = NULL;
	struct rp_diag d;
	bool file_loaded = false;
	int opt, ret, exit_code;

	rp_diag_clear(&d);
	cli_longopts_add(&opts, own);
	cli_payload_longopts(&opts, CLI_PAYLOAD_STATION);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:p:s:k:n:h", opts.v, NULL)) != -1) {
		const char *key = NULL, *value = optarg;
		for (size_t i = 0; i < sizeof(payload_letters) / sizeof(payload_letters[0]); i++)
			if (payload_letters[i][0] == opt)
				opt = payload_letters[i][1];
		for (size_t i = 0; i < sizeof(opt_keys) / sizeof(opt_keys[0]); i++)
			if (opt_keys[i].opt == opt)
				key = opt_keys[i].key;
		if (key || cli_payload_config_key(opt, optarg, &key, &value)) {
			if (n_kv == MAX_CLI_KEYS)
				return cli_usage_error("station", "too many options");
			kv[n_kv].key = key;
			kv[n_kv].value = value;
			n_kv++;
			continue;
		}
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_COUNT:
			if (parse_count("--count", optarg, 1000000000UL, &count))
				return CLI_EXIT_USAGE;
			break;
		case OPT_IDLE:
		case OPT_GRACE:
		case OPT_SIM_ARRIVALS:
			if (opt == OPT_SIM_ARRIVALS && !strcmp(optarg, "0")) {
				arrivals_ms = 0;
				break;
			}
			if (rp_station_parse_duration(optarg, opt == OPT_IDLE ? &idle_ms
							    : opt == OPT_GRACE ? &grace_ms : &arrivals_ms,
						      &d) < 0)
				return cli_usage_error("station", "%s: %s",
						       opt == OPT_IDLE ? "--idle-timeout"
						       : opt == OPT_GRACE ? "--stop-grace" : "--sim-arrivals", d.msg);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PLAIN:
			plain = true;
			break;
		case OPT_SIMULATE:
			if (parse_count("--simulate", optarg, RP_SIM_MAX_BOARDS, &sim_n))
				return CLI_EXIT_USAGE;
			if (!sim_n)
				return cli_usage_error("station", "--simulate: at least one board");
			break;
		case OPT_SIM_TIMING:
			if (!strcmp(optarg, "realistic"))
				realistic = true;
			else if (!strcmp(optarg, "fast"))
				realistic = false;
			else
				return cli_usage_error("station", "--sim-timing: 'fast' or 'realistic', not '%s'", optarg);
			break;
		case OPT_SIM_SEED:
			if (parse_count("--sim-seed", optarg, ~0UL, &seed))
				return CLI_EXIT_USAGE;
			break;
		case OPT_SIM_FAULT:
			if (n_faults == RP_RUNNER_MAX_FILTERS)
				return cli_usage_error("station", "--sim-fault: at most %d", RP_RUNNER_MAX_FILTERS);
			if (rp_sim_fault_spec_parse(optarg, &faults[n_faults], &d) < 0)
				return cli_usage_error("station", "--sim-fault: %s", d.msg);
			n_faults++;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_error("station", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("station", "unexpected argument '%s'", argv[optind]);
	if (json && plain)
		return cli_usage_error("station", "--json and --plain cannot be combined");
	if (!sim_n && (n_faults || arrivals_ms || realistic))
		return cli_usage_error("station", "--sim-* options need --simulate N");

	/* Settings: the file (explicit, or the default when it exists and
	 * this is not a simulation), then the command line. */
	rp_station_config_init(&cfg);
	if (!config_path && !sim_n && access(RP_STATION_DEFAULT_CONFIG, F_OK) == 0)
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
	}
	for (unsigned i = 0; i < n_kv; i++) {
		if (rp_station_config_set(&cfg, RP_CONFIG_CLI, kv[i].key, kv[i].value, &d) < 0) {
			rp_station_config_free(&cfg);
			return cli_usage_error("station", "%s", d.msg);
		}
	}
	if (rp_station_config_check(&cfg, &d) < 0) {
		rp_station_config_free(&cfg);
		fprintf(stderr, "rpiprov: error: %s%s\n", file_loaded ? config_path : "",
			file_loaded ? " with the command line: " : "");
		fprintf(stderr, "rpiprov: error: %s\n", rp_diag_message(&d));
		return file_loaded ? CLI_EXIT_DATAERR : CLI_EXIT_USAGE;
	}

	memset(&so, 0, sizeof(so));
	so.config = &cfg;
	so.count = (unsigned)count;
	so.idle_timeout_ms = idle_ms;
	so.stop_grace_ms = grace_ms;
	so.on_event = on_event;
	so.on_record_error = on_record_error;
	if (sim_n) {
		memset(&sim, 0, sizeof(sim));
		rp_sim_params_default(&params, 0);
		if (realistic)
			rp_sim_timing_realistic(&params.timing);
		sim.n_boards = (unsigned)sim_n;
		sim.params = &params;
		sim.faults = faults;
		sim.n_faults = n_faults;
		if (arrivals_ms) {
			uint64_t state = seed;
			arrival = calloc(sim_n, sizeof(*arrival));
			if (!arrival) {
				rp_station_config_free(&cfg);
				rp_diag_set(&d, RP_ERR_NOMEM, "out of memory");
				return cli_fail(&d);
			}
			for (unsigned long i = 0; i < sim_n; i++)
				arrival[i] = splitmix64(&state) % arrivals_ms;
			sim.arrival_ms = arrival;
		}
		so.sim = &sim;
	}

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.out_lock, NULL);
	c.mode = json ? OUT_JSON : (!plain && isatty(STDOUT_FILENO)) ? OUT_TTY : OUT_PLAIN;
	if (c.mode == OUT_TTY) {
		const char *term = getenv("TERM");
		if (!term || !strcmp(term, "dumb"))
			c.mode = OUT_PLAIN;
	}
	so.event_ctx = &c;

	/* Before the station starts any thread (the USB source does). */
	ret = cli_signals_init(&c.sig, &d);
	/* A reader of --json output that goes away must not kill the station. */
	signal(SIGPIPE, SIG_IGN);
	if (ret < 0) {
		exit_code = cli_fail(&d);
		goto out;
	}
	if (c.mode == OUT_TTY) {
		c.lv = rp_liveview_new();
		if (!c.lv)
			c.mode = OUT_PLAIN;
	}

	ret = rp_station_new(&so, &c.station, &d);
	if (ret < 0) {
		exit_code = cli_fail(&d);
		goto out;
	}
	{
		const struct rp_prepared *p = rp_station_prepared(c.station);
		c.origin.station = rp_station_name(c.station);
		c.origin.run_id = rp_station_run_id(c.station);
		cli_print_warnings(p->warnings);
		cli_info("station %s, run %s: serving %s (sha256 %.16s...)%s%s", c.origin.station,
			 c.origin.run_id, p->image_source[0] ? p->image_source : "the prepared image",
			 p->image_sha256, sim_n ? " to simulated boards" : "",
			 sim_n ? "" : "; waiting for boards");
	}
	cli_signals_start(&c.sig, on_signal, c.mode == OUT_TTY ? on_tick : NULL, REDRAW_MS, &c);
	ret = rp_station_run(c.station, &sum, &d);
	cli_signals_stop(&c.sig);
	if (c.mode == OUT_TTY) {
		rp_liveview_set_status(c.lv, NULL);
		redraw(&c);
	}
	if (ret < 0) {
		exit_code = cli_fail(&d);
	} else {
		print_summary(c.station, &sum, &cfg);
		exit_code = rp_station_summary_failed(&sum) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
	}
	if (fflush(stdout) != 0 && c.mode != OUT_JSON)
		cli_warn("cannot write to standard output: %s", strerror(errno));
out:
	rp_station_free(c.station);
	rp_liveview_free(c.lv);
	cli_signals_close(&c.sig);
	pthread_mutex_destroy(&c.out_lock);
	rp_station_config_free(&cfg);
	free(arrival);
	return exit_code;
}
