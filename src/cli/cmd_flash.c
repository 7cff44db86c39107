/* rpiprov flash: build the payload in memory (or take a prepared
 * directory), then provision boards over USB, or simulated boards, as
 * they arrive; one line per board and a summary. */
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "image/prepare.h"
#include "image/profiles.h"
#include "image/recovery_config.h"
#include "session/payload.h"
#include "sim/sim_source.h"
#include "station/metadata_json.h"
#include "station/record_json.h"
#include "station/runner.h"
#include "transport/devices.h"
#include "usb/usb_source.h"
#include "util/clock.h"
#include "util/fileio.h"

#define MAX_SIM_FAULTS 64

struct flash_cli {
	struct rp_prepare_opts po;
	const char *prepared_dir;
	const char *metadata_dir;
	const char *ports[RP_RUNNER_MAX_FILTERS];
	unsigned n_ports;
	const char *serials[RP_RUNNER_MAX_FILTERS];
	unsigned n_serials;
	unsigned count;
	bool count_set, forever;
	unsigned timeout_s;
	unsigned board_timeout_s;
	unsigned simulate;
	bool sim_realistic;
	struct rp_sim_fault_spec faults[MAX_SIM_FAULTS];
	unsigned n_faults;
	bool json, verbose;
};

/* What the event callback needs; lives on cmd_flash's stack. */
struct flash_out {
	const struct flash_cli *cli;
	unsigned metadata_errors;
	uint64_t t0;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov flash [--image IMG] [--config FILE | --profile NAME]\n"
		"                     [--set KEY=VALUE ...] [--unset KEY ...]\n"
		"                     [-k PRIVATE.pem | -H WRAPPER -p PUBLIC.pem]\n"
		"                     [--recovery FILE] [--recovery-config FILE] [-d PREPARED_DIR]\n"
		"                     [--count N | --forever] [--timeout SECONDS]\n"
		"                     [--metadata-dir DIR] [--port GLOB ...] [--serial S ...]\n"
		"                     [--allow-otp-permanent] [--json] [-v]\n"
		"                     [--simulate N [--sim-timing realistic] [--sim-fault SPEC ...]]\n\n"
		"Write the bootloader EEPROM of boards in USB boot mode: send recovery.bin,\n"
		"serve pieeprom.bin/.sig and config.txt, and check that each board reports\n"
		"EEPROM_UPDATE=success and an EEPROM_HASH equal to the image served.\n"
		"Boards are handled in parallel as they appear.\n\n"
		"Payload (built in memory, nothing is written):\n"
		"  -i, --image IMG          bootloader image (default: newest pieeprom-*.bin in\n"
		"                           $RPIPROV_FIRMWARE_DIR or the rpi-eeprom package)\n"
		"  -c, --config FILE        boot.conf to embed (default: the image's own)\n"
		"  -P, --profile NAME       a built-in boot.conf: ");
	for (size_t i = 0; i < rp_profile_count(); i++)
		fprintf(out, "%s%s", i ? ", " : "", rp_profile_name(i));
	fprintf(out,
		"\n"
		"      --set KEY=VALUE      set a boot.conf key (repeatable)\n"
		"      --unset KEY          remove a boot.conf key (repeatable)\n"
		"  -k, --key PEM            sign bootconf.txt with this RSA-2048 key (secure boot)\n"
		"  -H, --hsm-wrapper PROG   sign with 'PROG -a rsa2048-sha256 FILE' instead\n"
		"  -p, --pubkey PEM         public key to embed (required with -H)\n"
		"  -r, --recovery FILE      recovery.bin (default: next to the image)\n"
		"      --recovery-config F  config.txt for recovery.bin (default: built-in)\n"
		"      --soc SOC            2711 (default) or 2712, for the default image\n"
		"  -d, --dir DIR            serve a directory made by 'rpiprov prepare' instead\n"
		"      --allow-otp-permanent  allow config.txt options that write OTP memory\n"
		"                           (program_pubkey, revoke_devkey, program_jtag_lock,\n"
		"                           program_rpiboot_gpio): PERMANENT, cannot be undone\n\n"
		"Boards:\n"
		"  -n, --count N            stop after N boards (default 1; N with --simulate N)\n"
		"      --forever            keep provisioning boards until interrupted\n"
		"  -t, --timeout SECONDS    give up when no board is in progress and none\n"
		"                           arrived for this long (default: wait forever)\n"
		"      --board-timeout S    deadline for one board (default 120)\n"
		"      --port GLOB          only boards on matching USB ports, e.g. '1-1.*'\n"
		"                           (repeatable); others are never opened\n"
		"      --serial S           only boards with this serial (repeatable)\n"
		"  -j, --metadata-dir DIR   write DIR/<serial>.json like 'rpiboot -j DIR'\n"
		"      --json               one JSON object per board on stdout\n"
		"  -v, --verbose            show phases and ignored devices\n\n"
		"Simulation (no hardware):\n"
		"      --simulate N         N simulated CM4 boards instead of USB\n"
		"      --sim-timing MODEL   zero (default) or realistic (erase/write/verify\n"
		"                           and re-enumeration delays of a real CM4)\n"
		"      --sim-fault SPEC     inject a fault (repeatable):\n");
	for (const char *line = rp_sim_fault_help(), *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		fprintf(out, "                           %.*s\n", (int)(nl ? nl - line : (long)strlen(line)),
			line);
		if (!nl)
			break;
	}
	fprintf(out,
		"\nCtrl-C once: no new boards, those in progress finish; twice: abort.\n"
		"Exit status: 0 every board OK; 1 a board failed (or the run was interrupted);\n"
		"75 timed out waiting for boards; 64-77 see 'rpiprov --help'.\n");
}

static void print_warnings(char *warnings)
{
	for (char *line = warnings, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line)
			cli_warn("%s", line);
		if (!nl)
			break;
	}
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;
	if (!s || *s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* A prepared directory's config.txt files (top level and per SoC) get the
 * same OTP check as a payload built in memory. */
static int check_dir_configs(const char *dir, bool allow_otp, struct rp_diag *d)
{
	size_t n;
	const struct rp_device_desc *table = rp_device_table(&n);
	for (size_t i = 0; i <= n; i++) {
		char path[PATH_MAX];
		uint8_t *text = NULL;
		size_t len = 0;
		int r;
		if (i < n)
			snprintf(path, sizeof(path), "%s/%s/config.txt", dir, table[i].soc);
		else
			snprintf(path, sizeof(path), "%s/config.txt", dir);
		r = rp_file_read_all(path, RP_RECOVERY_CONFIG_MAX, &text, &len, NULL);
		if (r != RP_OK)
			continue; /* absent: nothing to check (unreadable fails when served) */
		r = rp_recovery_config_check(text, len, path, allow_otp, d);
		free(text);
		if (r != RP_OK)
			return r;
	}
	return RP_OK;
}

/* With --simulate, the run expects the simulated boards the filters let
 * through (their ports and serials are known in advance). */
static unsigned simulated_matching(unsigned n, const char *const *globs, unsigned n_globs,
				   const char *const *serials, unsigned n_serials)
{
	unsigned count = 0;
	for (unsigned i = 0; i < n; i++) {
		char port[RP_PORT_PATH_MAX];
		struct rp_sim_params p;
		bool ok = !n_globs, ok_serial = !n_serials;
		rp_sim_source_port_path(1, i, port);
		rp_sim_params_default(&p, i + 1);
		for (unsigned g = 0; g < n_globs && !ok; g++)
			ok = fnmatch(globs[g], port, 0) == 0;
		for (unsigned s = 0; s < n_serials && !ok_serial; s++)
			ok_serial = !strcmp(serials[s], p.serial);
		count += ok && ok_serial;
	}
	return count;
}

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct flash_out *fo = ctx;
	const struct rp_board_record *rec = ev->record;
	struct rp_diag d;

	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		/* Always said: a board that is silently skipped looks like a hang. */
		cli_info("ignoring %04x:%04x on %s: %s", ev->info->vid, ev->info->pid,
			 ev->info->port_path, ev->reason);
		break;
	case RP_RUNNER_BOARD_STARTED:
		if (fo->cli->verbose)
			cli_info("%s: board %s arrived", rec->port_path,
				 rec->serial[0] ? rec->serial : "(no serial yet)");
		break;
	case RP_RUNNER_PHASE:
		if (fo->cli->verbose)
			cli_info("%s: %s", rec->port_path, rp_phase_name(ev->phase));
		break;
	case RP_RUNNER_BOARD_FINISHED:
		if (fo->cli->json) {
			size_t len;
			char *line = rp_record_json_line(rec, NULL, &len);
			if (line) {
				fwrite(line, 1, len, stdout);
				free(line);
			}
		} else {
			double secs = (double)(rec->end_unix_ms - rec->start_unix_ms) / 1000.0;
			printf("%-16s %-12s %-7s %6.2fs%s%s\n", rec->serial[0] ? rec->serial : "-",
			       rec->port_path, rp_board_result_name(rec->result), secs,
			       rec->error[0] ? "  " : "", rec->error);
		}
		fflush(stdout);
		if (fo->cli->metadata_dir && rec->n_meta) {
			rp_diag_clear(&d);
			if (rp_metadata_json_write(fo->cli->metadata_dir, rec, &d) != RP_OK) {
				cli_warn("%s", rp_diag_message(&d));
				fo->metadata_errors++;
			}
		}
		break;
	case RP_RUNNER_IDLE_TIMEOUT:
	default:
		break;
	}
}

/* Signals are blocked in every thread and taken here with sigwait, so
 * stopping the runner happens in a normal thread, not a handler. */
struct sig_ctx {
	struct rp_runner *runner;
	sigset_t set;
};

static void *signal_thread(void *arg)
{
	struct sig_ctx *sc = arg;
	unsigned n = 0;
	for (;;) {
		int sig = 0;
		if (sigwait(&sc->set, &sig) != 0 || sig == SIGUSR2)
			return NULL;
		if (++n == 1) {
			cli_info("stopping: boards in progress finish (Ctrl-C again to abort)");
			rp_runner_stop(sc->runner);
		} else {
			cli_info("aborting");
			rp_runner_abort(sc->runner);
		}
	}
}

static int parse_args(int argc, char **argv, struct flash_cli *c)
{
	enum { O_SET = 256, O_UNSET, O_RECOVERY_CONFIG, O_ALLOW_OTP, O_SOC, O_FOREVER, O_PORT,
	       O_SERIAL, O_SIMULATE, O_SIM_TIMING, O_SIM_FAULT, O_JSON, O_BOARD_TIMEOUT };
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'P' },
		{ "set", required_argument, NULL, O_SET },
		{ "unset", required_argument, NULL, O_UNSET },
		{ "key", required_argument, NULL, 'k' },
		{ "hsm-wrapper", required_argument, NULL, 'H' },
		{ "pubkey", required_argument, NULL, 'p' },
		{ "recovery", required_argument, NULL, 'r' },
		{ "recovery-config", required_argument, NULL, O_RECOVERY_CONFIG },
		{ "soc", required_argument, NULL, O_SOC },
		{ "dir", required_argument, NULL, 'd' },
		{ "allow-otp-permanent", no_argument, NULL, O_ALLOW_OTP },
		{ "count", required_argument, NULL, 'n' },
		{ "forever", no_argument, NULL, O_FOREVER },
		{ "timeout", required_argument, NULL, 't' },
		{ "board-timeout", required_argument, NULL, O_BOARD_TIMEOUT },
		{ "port", required_argument, NULL, O_PORT },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "metadata-dir", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, O_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "simulate", required_argument, NULL, O_SIMULATE },
		{ "sim-timing", required_argument, NULL, O_SIM_TIMING },
		{ "sim-fault", required_argument, NULL, O_SIM_FAULT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rp_diag d;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "i:c:P:k:H:p:r:d:n:t:j:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': c->po.image_path = optarg; break;
		case 'c': c->po.config_path = optarg; break;
		case 'P': c->po.profile = optarg; break;
		case O_SET:
			if (c->po.n_sets == RP_PREPARE_MAX_SETS)
				return cli_usage_error("flash", "at most %d --set", RP_PREPARE_MAX_SETS);
			if (!strchr(optarg, '='))
				return cli_usage_error("flash", "--set '%s': expected KEY=VALUE", optarg);
			c->po.sets[c->po.n_sets++] = optarg;
			break;
		case O_UNSET:
			if (c->po.n_unsets == RP_PREPARE_MAX_SETS)
				return cli_usage_error("flash", "at most %d --unset", RP_PREPARE_MAX_SETS);
			c->po.unsets[c->po.n_unsets++] = optarg;
			break;
		case 'k': c->po.private_key_path = optarg; break;
		case 'H': c->po.hsm_wrapper = optarg; break;
		case 'p': c->po.public_key_path = optarg; break;
		case 'r': c->po.recovery_path = optarg; break;
		case O_RECOVERY_CONFIG: c->po.recovery_config_path = optarg; break;
		case O_SOC: c->po.soc = optarg; break;
		case 'd': c->prepared_dir = optarg; break;
		case O_ALLOW_OTP: c->po.allow_otp = true; break;
		case 'n':
			if (!parse_uint(optarg, 1000000, &c->count) || !c->count)
				return cli_usage_error("flash", "--count '%s': expected a number >= 1", optarg);
			c->count_set = true;
			break;
		case O_FOREVER: c->forever = true; break;
		case 't':
			if (!parse_uint(optarg, 86400 * 365, &c->timeout_s) || !c->timeout_s)
				return cli_usage_error("flash", "--timeout '%s': expected seconds >= 1", optarg);
			break;
		case O_BOARD_TIMEOUT:
			if (!parse_uint(optarg, 86400, &c->board_timeout_s) || !c->board_timeout_s)
				return cli_usage_error("flash", "--board-timeout '%s': expected seconds >= 1",
						       optarg);
			break;
		case O_PORT:
			if (c->n_ports == RP_RUNNER_MAX_FILTERS)
				return cli_usage_error("flash", "at most %d --port", RP_RUNNER_MAX_FILTERS);
			c->ports[c->n_ports++] = optarg;
			break;
		case O_SERIAL:
			if (c->n_serials == RP_RUNNER_MAX_FILTERS)
				return cli_usage_error("flash", "at most %d --serial", RP_RUNNER_MAX_FILTERS);
			c->serials[c->n_serials++] = optarg;
			break;
		case 'j': c->metadata_dir = optarg; break;
		case O_JSON: c->json = true; break;
		case 'v': c->verbose = true; break;
		case O_SIMULATE:
			if (!parse_uint(optarg, RP_SIM_MAX_BOARDS, &c->simulate) || !c->simulate)
				return cli_usage_error("flash", "--simulate '%s': expected 1 to %u boards",
						       optarg, RP_SIM_MAX_BOARDS);
			break;
		case O_SIM_TIMING:
			if (!strcmp(optarg, "realistic"))
				c->sim_realistic = true;
			else if (!strcmp(optarg, "zero"))
				c->sim_realistic = false;
			else
				return cli_usage_error("flash", "--sim-timing '%s': expected zero or realistic",
						       optarg);
			break;
		case O_SIM_FAULT:
			if (c->n_faults == MAX_SIM_FAULTS)
				return cli_usage_error("flash", "at most %d --sim-fault", MAX_SIM_FAULTS);
			if (rp_sim_fault_spec_parse(optarg, &c->faults[c->n_faults], &d) != RP_OK)
				return cli_usage_error("flash", "%s", rp_diag_message(&d));
			c->n_faults++;
			break;
		case 'h': usage(stdout); return -1;
		default: return cli_usage_error("flash", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("flash", "unexpected argument '%s'", argv[optind]);
	if (c->po.config_path && c->po.profile)
		return cli_usage_error("flash", "--config and --profile exclude each other");
	if (c->po.private_key_path && c->po.hsm_wrapper)
		return cli_usage_error("flash", "use -k or -H, not both");
	if (c->po.hsm_wrapper && !c->po.public_key_path)
		return cli_usage_error("flash", "-H needs -p PUBLIC.pem (embedded as pubkey.bin)");
	if (c->prepared_dir && (c->po.image_path || c->po.config_path || c->po.profile ||
				c->po.n_sets || c->po.n_unsets || c->po.private_key_path ||
				c->po.hsm_wrapper || c->po.recovery_path || c->po.recovery_config_path))
		return cli_usage_error("flash", "-d serves a prepared directory as it is: image, "
					      "config, key and recovery options do not apply");
	if (c->count_set && c->forever)
		return cli_usage_error("flash", "--count and --forever exclude each other");
	if ((c->sim_realistic || c->n_faults) && !c->simulate)
		return cli_usage_error("flash", "--sim-timing and --sim-fault need --simulate N");
	for (unsigned i = 0; i < c->n_faults; i++)
		if (c->faults[i].board > c->simulate)
			return cli_usage_error("flash", "--sim-fault for board %u, but --simulate %u",
					       c->faults[i].board, c->simulate);
	return 0;
}

/* The payload: a prepared directory as it is, or built in memory. */
static int build_payload(struct flash_cli *c, struct rp_prepared *prep, struct rp_payload **payload,
			 const char **soc, struct rp_diag *d)
{
	struct rp_payload_opts popts = { .dir = c->prepared_dir };
	int r;

	*soc = NULL;
	if (c->prepared_dir) {
		r = check_dir_configs(c->prepared_dir, c->po.allow_otp, d);
		if (r == RP_OK)
			r = rp_payload_new(&popts, payload, d);
		if (r == RP_OK)
			cli_info("serving %s", c->prepared_dir);
		return r;
	}
	r = rp_prepare_build(&c->po, prep, d);
	if (prep->image_source[0])
		cli_info("using image %s", prep->image_source);
	print_warnings(prep->warnings);
	if (r != RP_OK)
		return r;
	cli_info("using recovery.bin %s; pieeprom.bin sha256 %s", prep->recovery_source,
		 prep->image_sha256);
	r = rp_payload_new(NULL, payload, d);
	if (r == RP_OK)
		r = rp_payload_add_prepared(*payload, prep, d);
	*soc = prep->soc;
	return r;
}

static int make_source(const struct flash_cli *c, const char *soc, struct rp_source **src,
		       struct rp_diag *d)
{
	if (c->simulate) {
		struct rp_sim_params tmpl;
		struct rp_sim_source_opts so = { .n_boards = c->simulate, .params = &tmpl,
						 .faults = c->faults, .n_faults = c->n_faults };
		rp_sim_params_default(&tmpl, 0);
		if (soc && !strcmp(soc, "2712"))
			tmpl.pid = 0x2712;
		if (c->sim_realistic)
			rp_sim_timing_realistic(&tmpl.timing);
		return rp_sim_source_new(&so, src, d);
	} else {
		struct rp_usb_source_options uo = { .enumerate_existing = 1 };
		return rp_usb_source_new(&uo, src, d);
	}
}

int cmd_flash(int argc, char **argv)
{
	struct flash_cli c;
	struct flash_out fo = { 0 };
	struct rp_prepared prep;
	struct rp_payload *payload = NULL;
	struct rp_source *src = NULL;
	struct rp_runner *runner = NULL;
	struct rp_runner_opts ro;
	struct rp_runner_summary sum;
	struct sig_ctx sc;
	pthread_t sig_thr;
	bool sig_started = false;
	const char *soc = NULL;
	struct rp_diag d;
	int r, exit_code;

	memset(&c, 0, sizeof(c));
	memset(&prep, 0, sizeof(prep));
	memset(&sum, 0, sizeof(sum));
	c.po.timestamp = -1;
	r = parse_args(argc, argv, &c);
	if (r < 0)
		return CLI_EXIT_OK; /* --help */
	if (r > 0)
		return r;

	/* Blocked before any thread exists (the USB source starts one), so
	 * every thread inherits the mask and only sigwait sees them. */
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);

	rp_diag_clear(&d);
	r = build_payload(&c, &prep, &payload, &soc, &d);
	if (r == RP_OK)
		r = make_source(&c, soc, &src, &d);
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}

	fo.cli = &c;
	fo.t0 = rp_now_ms();
	memset(&ro, 0, sizeof(ro));
	ro.source = src;
	ro.payload = payload;
	ro.mode = RP_SESSION_FLASH;
	ro.soc = soc;
	memcpy(ro.port_globs, c.ports, sizeof(c.ports));
	ro.n_port_globs = c.n_ports;
	memcpy(ro.serials, c.serials, sizeof(c.serials));
	ro.n_serials = c.n_serials;
	ro.count = c.forever ? 0 : c.count_set ? c.count : 1;
	if (c.simulate && !c.forever && !c.count_set)
		ro.count = simulated_matching(c.simulate, c.ports, c.n_ports, c.serials, c.n_serials);
	if (c.simulate && !ro.count && !c.forever) {
		exit_code = cli_usage_error("flash", "no simulated board matches --port/--serial");
		goto out;
	}
	ro.idle_timeout_ms = c.timeout_s * 1000u;
	ro.board_timeout_ms = c.board_timeout_s * 1000u;
	ro.on_event = on_event;
	ro.event_ctx = &fo;
	r = rp_runner_new(&ro, &runner, &d);
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}
	sc.runner = runner;
	sig_started = pthread_create(&sig_thr, NULL, signal_thread, &sc) == 0;
	if (!c.simulate)
		cli_info("waiting for boards in USB boot mode%s", c.timeout_s ? "" : " (Ctrl-C to stop)");
	r = rp_runner_run(runner, &sum, &d);
	if (sig_started) {
		pthread_kill(sig_thr, SIGUSR2);
		pthread_join(sig_thr, NULL);
	}
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}

	{
		unsigned bad = sum.failed + sum.timeout + sum.left;
		double secs = (double)(rp_now_ms() - fo.t0) / 1000.0;
		fprintf(c.json ? stderr : stdout,
			"%u board%s: %u OK, %u failed, %u timed out, %u left the bus (%.2f s)\n",
			sum.finished, sum.finished == 1 ? "" : "s", sum.ok + sum.served, sum.failed,
			sum.timeout, sum.left, secs);
		if (bad) {
			exit_code = CLI_EXIT_FAILED;
		} else if (sum.idle_timed_out && sum.finished < ro.count) {
			cli_info("timed out after %u s without %s", c.timeout_s,
				 sum.finished ? "the remaining boards" : "any board");
			exit_code = CLI_EXIT_TEMPFAIL;
		} else if (sum.idle_timed_out && !sum.finished) {
			cli_info("timed out after %u s without any board", c.timeout_s);
			exit_code = CLI_EXIT_TEMPFAIL;
		} else if (sum.stopped && (!ro.count || sum.finished < ro.count) && !c.forever) {
			exit_code = CLI_EXIT_FAILED;
		} else if (fo.metadata_errors) {
			exit_code = CLI_EXIT_CANTCREAT;
		} else {
			exit_code = CLI_EXIT_OK;
		}
	}
out:
	rp_runner_free(runner);
	if (src)
		src->ops->destroy(src);
	rp_payload_free(payload);
	rp_prepared_free(&prep);
	return exit_code;
}
