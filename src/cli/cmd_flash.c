/* rpiprov flash: build the payload in memory (or take a prepared
 * directory), then provision boards over USB, or simulated boards, as
 * they arrive; one line per board and a summary. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/verbosity.h"
#include "cli/filter_args.h"
#include "cli/prepare_args.h"
#include "cli/record_args.h"
#include "cli/run_boards.h"
#include "cli/source_args.h"
#include "soc/soc.h"

struct flash_cli {
	struct rp_prepare_opts po;
	const char *prepared_dir;
	struct cli_filters filters;
	struct cli_run run; /* filters, count, timeouts and output, from the options */
};

/* getopt_long values of flash's own long-only options. */
enum flash_opt { O_FOREVER = 256, O_JSON, O_BOARD_TIMEOUT, O_REENUM_TIMEOUT, O_REQUIRE_VERIFIED };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov flash [--image IMG] [--config FILE | --profile NAME]\n"
		"                     [--set KEY=VALUE ...] [--unset KEY ...]\n"
		"                     [-k PRIVATE.pem | -H WRAPPER -p PUBLIC.pem]\n"
		"                     [--recovery FILE] [--recovery-config FILE] [-d PREPARED_DIR]\n"
		"                     [--count N | --forever] [--timeout DUR]\n"
		"                     [--metadata-dir DIR] [--report FILE] [--db FILE]\n"
		"                     [--port GLOB ...] [--serial S ...]\n"
		"                     [--allow-otp-permanent] [--json] [-v]\n"
		"                     [--simulate N [--sim-timing realistic] [--sim-fault SPEC ...]]\n\n"
		"Write the bootloader EEPROM of boards in USB boot mode: send recovery.bin,\n"
		"serve pieeprom.bin/.sig and config.txt, and check that each board reports\n"
		"EEPROM_UPDATE=success and an EEPROM_HASH equal to the image served.\n"
		"Boards are handled in parallel as they appear.\n\n"
		"Payload (built in memory, nothing is written):\n");
	cli_payload_help(out, CLI_PAYLOAD_FLASH);
	fprintf(out,
		"  -d, --dir DIR            serve a directory made by 'rpiprov prepare' instead\n\n"
		"Boards:\n"
		"  -n, --count N            stop after N boards (default 1; N with --simulate N)\n"
		"      --forever            keep provisioning boards until interrupted\n"
		"  -T, --timeout DUR        give up when no board is in progress and none\n"
		"                           arrived for this long (default: wait forever)\n"
		"      --board-timeout DUR  deadline for one board, from its arrival to its\n"
		"                           verdict (default 120s)\n"
		"      --reenum-timeout DUR how long a board may take to come back as the\n"
		"                           second stage after recovery.bin (default 10s)\n"
		"      --port GLOB          only boards on matching USB ports, e.g. '1-1.*'\n"
		"                           (repeatable); others are never opened\n"
		"      --ports GLOB,...     the same, several globs at once\n"
		"      --serial S           only boards with this serial (repeatable)\n"
		"      --serials S,...      the same, several serials at once\n"
		"  -j, --metadata-dir DIR   write DIR/<serial>.json like 'rpiboot -j DIR'\n"
		"      --report FILE        append one JSON line per board (as 'station --report')\n"
		"      --db FILE            record each board in an SQLite database\n"
		"                           (as 'station --db'; read it with 'rpiprov report')\n"
		"      --json               one JSON object per board on stdout\n"
		"      --require-verified   a board whose recovery.bin cannot confirm the write\n"
		"                           (no EEPROM_HASH) fails instead of ending UNVERIFIED\n"
		"  -v, --verbose            show phases and ignored devices\n\n"
		"Simulation (no hardware):\n"
		"      --simulate N         N simulated CM4 boards instead of USB\n"
		"      --sim-soc LIST       the simulated boards' SoCs in turn (2711,2712: a\n"
		"                           mixed tray; default: the payload's SoC)\n"
		"      --sim-timing MODEL   zero|fast (default) or realistic (erase/write/\n"
		"                           verify and re-enumeration delays of a real CM4)\n"
		"      --sim-fault SPEC     inject a fault (repeatable):\n");
	for (const char *line = rp_sim_fault_help(), *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		fprintf(out, "                           %.*s\n", (int)(nl ? nl - line : (long)strlen(line)),
			line);
		if (!nl)
			break;
	}
	fprintf(out,
		"\nDUR is a duration: 30s, 2m, 1h, 500ms, or plain seconds.\n"
		"Ctrl-C once: no new boards, those in progress finish; twice: abort.\n"
		"Exit status: 0 every board OK (or written but UNVERIFIED, unless\n"
		"--require-verified); 1 a board failed (or the run was interrupted);\n"
		"75 timed out waiting for boards; 64-77 see 'rpiprov --help'.\n");
}

/* The options of flash alone; the payload, simulation and filter ones are
 * shared. */
static int own_option(int opt, const char *arg, struct flash_cli *c)
{
	struct cli_run *run = &c->run;

	switch (opt) {
	case 'd': c->prepared_dir = arg; break;
	case 'n':
		return cli_option_uint("flash", "--count", arg, 1, 1000000, &run->count);
	case O_FOREVER: run->forever = true; break;
	case 'T':
		return cli_option_duration("flash", "--timeout", arg, 1000, 365 * 86400000ull,
					   &run->ro.idle_timeout_ms);
	case O_BOARD_TIMEOUT:
		return cli_option_duration("flash", "--board-timeout", arg, 1000, 86400000,
					   &run->ro.board_timeout_ms);
	case O_REENUM_TIMEOUT: {
		uint64_t ms;
		int r = cli_option_duration("flash", "--reenum-timeout", arg, 100, 600000, &ms);
		run->ro.reenum_timeout_ms = (unsigned)ms;
		return r;
	}
	case O_JSON: run->json = true; break;
	case O_REQUIRE_VERIFIED: run->ro.require_verified = true; break;
	default: return cli_bad_option("flash");
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct flash_cli *c)
{
	static const struct option own[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "forever", no_argument, NULL, O_FOREVER },
		{ "timeout", required_argument, NULL, 'T' },
		{ "board-timeout", required_argument, NULL, O_BOARD_TIMEOUT },
		{ "reenum-timeout", required_argument, NULL, O_REENUM_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "require-verified", no_argument, NULL, O_REQUIRE_VERIFIED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_longopts opts = { .n = 0 };
	int opt, r;

	cli_longopts_add(&opts, own);
	cli_payload_longopts(&opts, CLI_PAYLOAD_FLASH);
	cli_sim_longopts(&opts);
	cli_filter_longopts(&opts);
	cli_record_longopts(&opts);
	optind = 0;
	while ((opt = getopt_long(argc, argv, "i:c:P:k:H:p:r:d:n:T:j:h", opts.v, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		if (opt == 'j')
			opt = CLI_OPT_METADATA_DIR;
		r = cli_payload_option(opt, optarg, &c->po, "flash");
		if (r == CLI_OPTION_OTHER)
			r = cli_sim_option(opt, optarg, &c->run.sim, "flash");
		if (r == CLI_OPTION_OTHER)
			r = cli_filter_option(opt, optarg, &c->filters, "flash");
		if (r == CLI_OPTION_OTHER)
			r = cli_record_option(opt, optarg, &c->run.records, "flash");
		if (r == CLI_OPTION_OTHER)
			r = own_option(opt, optarg, c);
		if (r)
			return r;
	}
	if (optind != argc)
		return cli_usage_error("flash", "unexpected argument '%s'", argv[optind]);
	cli_filters_apply(&c->filters, &c->run.ro);
	r = cli_payload_check(&c->po, "flash");
	if (r)
		return r;
	if (c->prepared_dir && (c->po.image_path || c->po.config_path || c->po.profile ||
				c->po.n_sets || c->po.n_unsets || c->po.private_key_path ||
				c->po.hsm_wrapper || c->po.recovery_path || c->po.recovery_config_path))
		return cli_usage_error("flash", "-d serves a prepared directory as it is: image, "
					      "config, key and recovery options do not apply");
	if (cli_verbosity() >= CLI_VERBOSE)
		c->run.verbose = CLI_SHOW_ARRIVALS | CLI_SHOW_PHASES | CLI_SHOW_FILES;
	if (c->run.count && c->run.forever)
		return cli_usage_error("flash", "--count and --forever exclude each other");
	return cli_sim_check(&c->run.sim, "flash");
}

static int add_prepared(struct rp_payload *payload, const struct rp_prepared *prep,
			struct rp_diag *d)
{
	cli_prepared_say(prep);
	cli_info("BCM%s: using recovery.bin %s; pieeprom.bin sha256 %s", prep->soc,
		 prep->recovery_source, prep->image_sha256);
	return rp_payload_add_prepared_ref(payload, prep, d); /* prep outlives it */
}

/* The payload: a prepared directory as it is, or built in memory; with
 * neither an image nor --soc, a set for every SoC whose firmware is found,
 * so a mixed tray of CM4s and CM5s is served in one run. */
static int build_payload(struct flash_cli *c, struct rp_prepared prep[RP_PREPARE_MAX_SOCS],
			 struct rp_payload **payload, struct rp_diag *d)
{
	struct rp_prepare_skipped skipped[RP_PREPARE_MAX_SOCS];
	size_t n = 0, n_skipped = 0;
	int r;

	if (c->prepared_dir) {
		r = cli_dir_payload_new(c->prepared_dir, false, c->po.allow_otp, payload, d);
		if (r == RP_OK)
			cli_info("serving %s", c->prepared_dir);
		return r;
	}
	c->po.synthetic_fallback = c->run.sim.boards != 0; /* never for real boards */
	r = rp_prepare_build_each_soc(&c->po, prep, &n, skipped, &n_skipped, d);
	if (r != RP_OK) {
		if (n)
			cli_prepared_say(&prep[n - 1]); /* the set that failed */
		return r;
	}
	{
		struct rp_payload_opts po = { .allow_otp = c->po.allow_otp };
		r = rp_payload_new(&po, payload, d);
	}
	for (size_t i = 0; r == RP_OK && i < n; i++) {
		r = add_prepared(*payload, &prep[i], d);
		c->run.synthetic = c->run.synthetic || prep[i].synthetic;
		cli_synthetic_note(&c->run.synth, &prep[i]);
	}
	/* A chip whose image was found but whose recovery.bin was not (or is
	 * another chip's) is refused now, and its boards fail at once with
	 * the same words. */
	for (size_t i = 0; r == RP_OK && i < n_skipped; i++)
		if (skipped[i].image_found)
			cli_warn("BCM%s boards will not be served: %s", skipped[i].soc, skipped[i].why);
	if (r == RP_OK)
		r = rp_payload_refuse_skipped(*payload, skipped, n_skipped, d);
	if (r == RP_OK)
		r = rp_payload_check_configs(*payload, d);
	if (rp_prepare_one_soc(&c->po))
		c->run.ro.soc = prep[0].soc;
	return r;
}

int cmd_flash(int argc, char **argv)
{
	struct flash_cli c;
	struct cli_run *run = &c.run;
	struct cli_signals sig;
	struct rp_prepared prep[RP_PREPARE_MAX_SOCS];
	struct rp_diag d;
	int r, exit_code;

	memset(&c, 0, sizeof(c));
	memset(prep, 0, sizeof(prep));
	c.po.timestamp = -1;
	run->cmd = "flash";
	run->filter_options = "--port/--serial";
	run->ro.mode = RP_SESSION_FLASH;
	run->explain_timeout = true;
	r = parse_args(argc, argv, &c);
	if (r < 0)
		return CLI_EXIT_OK; /* --help */
	if (r > 0)
		return r;

	rp_diag_clear(&d);
	r = cli_signals_init(&sig, &d);
	if (r == RP_OK)
		r = build_payload(&c, prep, &run->ro.payload, &d);
	if (r == RP_OK) {
		struct cli_source_opts so = { .sim = &run->sim, .soc = run->ro.soc,
					      .read_rom_serials = run->ro.n_serials != 0,
					      .verbose = run->verbose != 0 };
		r = cli_source_new(&so, &run->ro.source, &d);
	}
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}
	if (!run->sim.boards)
		run->waiting = run->ro.idle_timeout_ms
				       ? "waiting for boards in USB boot mode"
				       : "waiting for boards in USB boot mode (Ctrl-C to stop)";
	exit_code = cli_run_boards(run, &sig);
out:
	cli_signals_close(&sig);
	if (run->ro.source)
		run->ro.source->ops->destroy(run->ro.source);
	rp_payload_free(run->ro.payload);
	for (size_t i = 0; i < RP_PREPARE_MAX_SOCS; i++)
		rp_prepared_free(&prep[i]);
	return exit_code;
}
