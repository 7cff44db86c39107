/* rpiprov boot: rpiboot-compatible serving of an rpiboot directory
 * (`rpiboot -d DIR` and its options), with rpiprov's engine underneath:
 * hotplug instead of polling, boards in parallel, no fixed sleeps, a
 * non-zero exit status when a board failed, and the EEPROM verified
 * whenever pieeprom.bin was served. */
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "image/recovery_config.h"
#include "session/payload.h"
#include "sim/sim_source.h"
#include "station/metadata_json.h"
#include "station/runner.h"
#include "transport/devices.h"
#include "usb/usb_source.h"
#include "util/clock.h"
#include "util/fileio.h"

#define MAX_SIM_FAULTS 64
#define MAX_ARGS 512

struct boot_cli {
	const char *dir;
	bool loop, verbose, overlays, allow_otp;
	const char *globs[RP_RUNNER_MAX_FILTERS];
	unsigned n_globs;
	char port_number_globs[2][16];
	const char *serials[RP_RUNNER_MAX_FILTERS];
	unsigned n_serials;
	const char *metadata_dir;
	unsigned timeout_s;
	unsigned simulate;
	bool sim_realistic;
	struct rp_sim_fault_spec faults[MAX_SIM_FAULTS];
	unsigned n_faults;
};

struct boot_out {
	const struct boot_cli *cli;
	unsigned metadata_errors;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov boot -d DIR [-l] [-v] [-o] [-p PORTPATH] [-i SERIAL] [-j DIR]\n"
		"                    [-0 .. -98] [-m DELAY] [--timeout SECONDS]\n"
		"                    [--allow-otp-permanent]\n"
		"                    [--simulate N [--sim-timing realistic] [--sim-fault SPEC ...]]\n\n"
		"Serve an rpiboot directory to boards in USB boot mode, like 'rpiboot -d DIR':\n"
		"the second stage (bootcode4.bin for 2711, bootcode5.bin for 2712, bootcode.bin\n"
		"for older SoCs), then every file the board asks for, looked up as\n"
		"DIR/<port-path>/NAME (with -o), DIR/<soc>/NAME, DIR/NAME. Names that climb\n"
		"out of DIR (.., absolute paths, symlinks) are refused. Boards are served in\n"
		"parallel; when pieeprom.bin was served, the board's EEPROM_HASH is checked.\n\n"
		"  -d DIR          the directory to serve (required)\n"
		"  -l              keep serving boards until interrupted (default: one board)\n"
		"  -v              verbose: phases, files sent, ignored devices\n"
		"  -o              per-port overlays: DIR/<usb-port-path>/NAME first\n"
		"  -p PORTPATH     only the board on this USB port path (e.g. 1-1.3); a glob\n"
		"                  such as '1-1.*' works too (repeatable)\n"
		"  -i SERIAL       only the board with this serial number (repeatable)\n"
		"  -j DIR          write each board's metadata to DIR/<serial>.json\n"
		"  -0 .. -98       only boards on this port number of their hub\n"
		"  -m DELAY        accepted for compatibility and ignored (no polling here)\n"
		"  --timeout S     give up when no board came for S seconds (exit 75)\n"
		"  --allow-otp-permanent  serve a config.txt that writes OTP memory\n"
		"                  (program_pubkey, revoke_devkey, ...): PERMANENT\n"
		"  --simulate N    dry run against N simulated boards (implies serving N)\n"
		"  --sim-timing M  zero (default) or realistic\n"
		"  --sim-fault S   inject a fault, see 'rpiprov flash --help'\n\n"
		"Exit status: 0 every board served (and verified where an image was sent);\n"
		"1 a board failed; 75 timed out waiting; 64-77 see 'rpiprov --help'.\n");
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
		if (rp_file_read_all(path, RP_RECOVERY_CONFIG_MAX, &text, &len, NULL) != RP_OK)
			continue;
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
	struct boot_out *bo = ctx;
	const struct rp_board_record *rec = ev->record;
	struct rp_diag d;

	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		/* Always said: a board that is silently skipped looks like a hang. */
		cli_info("ignoring %04x:%04x on %s: %s", ev->info->vid, ev->info->pid,
			 ev->info->port_path, ev->reason);
		break;
	case RP_RUNNER_PHASE:
		if (bo->cli->verbose)
			cli_info("%s: %s", rec->port_path, rp_phase_name(ev->phase));
		break;
	case RP_RUNNER_PROGRESS:
		if (bo->cli->verbose && ev->done == ev->total)
			cli_info("%s: sent %s (%llu bytes)", rec->port_path, ev->file,
				 (unsigned long long)ev->total);
		break;
	case RP_RUNNER_BOARD_FINISHED: {
		double secs = (double)(rec->end_unix_ms - rec->start_unix_ms) / 1000.0;
		printf("%-16s %-12s %-7s %6.2fs%s%s\n", rec->serial[0] ? rec->serial : "-",
		       rec->port_path, rp_board_result_name(rec->result), secs,
		       rec->error[0] ? "  " : "", rec->error);
		fflush(stdout);
		if (bo->cli->metadata_dir && rec->n_meta) {
			rp_diag_clear(&d);
			if (rp_metadata_json_write(bo->cli->metadata_dir, rec, &d) != RP_OK) {
				cli_warn("%s", rp_diag_message(&d));
				bo->metadata_errors++;
			}
		}
		break;
	}
	default:
		break;
	}
}

struct sig_ctx {
	struct rp_runner *runner;
	sigset_t set;
};

/* Signals are taken with sigwait in this thread (blocked everywhere
 * else), so the runner is stopped from a normal thread. */
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

/* rpiboot's -0 .. -98 select the port number on the hub; getopt would
 * read "-12" as two options, so they are taken out first. */
static int take_port_numbers(int *argc, char **argv, struct boot_cli *c)
{
	int out = 1;
	bool seen = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		unsigned n;
		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1] >= '0' && a[1] <= '9' && parse_uint(a + 1, 98, &n)) {
			if (seen)
				return cli_usage_error("boot", "only one -N port number");
			seen = true;
			snprintf(c->port_number_globs[0], sizeof(c->port_number_globs[0]), "*.%u", n);
			snprintf(c->port_number_globs[1], sizeof(c->port_number_globs[1]), "*-%u", n);
			continue;
		}
		argv[out++] = argv[i];
	}
	for (int i = out; i < *argc; i++)
		argv[i] = NULL;
	*argc = out;
	return 0;
}

static int parse_args(int argc, char **argv, struct boot_cli *c)
{
	enum { O_TIMEOUT = 256, O_ALLOW_OTP, O_SIMULATE, O_SIM_TIMING, O_SIM_FAULT };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "loop", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "overlays", no_argument, NULL, 'o' },
		{ "port", required_argument, NULL, 'p' },
		{ "serial", required_argument, NULL, 'i' },
		{ "metadata-dir", required_argument, NULL, 'j' },
		{ "delay", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "allow-otp-permanent", no_argument, NULL, O_ALLOW_OTP },
		{ "simulate", required_argument, NULL, O_SIMULATE },
		{ "sim-timing", required_argument, NULL, O_SIM_TIMING },
		{ "sim-fault", required_argument, NULL, O_SIM_FAULT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rp_diag d;
	unsigned ignored;
	int opt, r;

	r = take_port_numbers(&argc, argv, c);
	if (r)
		return r;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:lvop:i:j:m:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': c->dir = optarg; break;
		case 'l': c->loop = true; break;
		case 'v': c->verbose = true; break;
		case 'o': c->overlays = true; break;
		case 'p':
			if (c->n_globs + 2 >= RP_RUNNER_MAX_FILTERS)
				return cli_usage_error("boot", "too many -p");
			c->globs[c->n_globs++] = optarg;
			break;
		case 'i':
			if (c->n_serials == RP_RUNNER_MAX_FILTERS)
				return cli_usage_error("boot", "too many -i");
			c->serials[c->n_serials++] = optarg;
			break;
		case 'j': c->metadata_dir = optarg; break;
		case 'm':
			if (!parse_uint(optarg, UINT_MAX, &ignored))
				return cli_usage_error("boot", "-m '%s': expected microseconds", optarg);
			break;
		case O_TIMEOUT:
			if (!parse_uint(optarg, 86400 * 365, &c->timeout_s) || !c->timeout_s)
				return cli_usage_error("boot", "--timeout '%s': expected seconds >= 1", optarg);
			break;
		case O_ALLOW_OTP: c->allow_otp = true; break;
		case O_SIMULATE:
			if (!parse_uint(optarg, RP_SIM_MAX_BOARDS, &c->simulate) || !c->simulate)
				return cli_usage_error("boot", "--simulate '%s': expected 1 to %u boards",
						       optarg, RP_SIM_MAX_BOARDS);
			break;
		case O_SIM_TIMING:
			if (!strcmp(optarg, "realistic"))
				c->sim_realistic = true;
			else if (strcmp(optarg, "zero") != 0)
				return cli_usage_error("boot", "--sim-timing '%s': expected zero or realistic",
						       optarg);
			break;
		case O_SIM_FAULT:
			if (c->n_faults == MAX_SIM_FAULTS)
				return cli_usage_error("boot", "at most %d --sim-fault", MAX_SIM_FAULTS);
			if (rp_sim_fault_spec_parse(optarg, &c->faults[c->n_faults], &d) != RP_OK)
				return cli_usage_error("boot", "%s", rp_diag_message(&d));
			c->n_faults++;
			break;
		case 'h': usage(stdout); return -1;
		default: return cli_usage_error("boot", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("boot", "unexpected argument '%s'", argv[optind]);
	if (!c->dir)
		return cli_usage_error("boot", "-d DIR is required (rpiprov has no built-in mass-storage "
					       "gadget)");
	if ((c->sim_realistic || c->n_faults) && !c->simulate)
		return cli_usage_error("boot", "--sim-timing and --sim-fault need --simulate N");
	for (unsigned i = 0; i < c->n_faults; i++)
		if (c->faults[i].board > c->simulate)
			return cli_usage_error("boot", "--sim-fault for board %u, but --simulate %u",
					       c->faults[i].board, c->simulate);
	return 0;
}

int cmd_boot(int argc, char **argv)
{
	char *args[MAX_ARGS];
	struct boot_cli c;
	struct boot_out bo = { 0 };
	struct rp_payload_opts po = { 0 };
	struct rp_payload *payload = NULL;
	struct rp_source *src = NULL;
	struct rp_runner *runner = NULL;
	struct rp_runner_opts ro;
	struct rp_runner_summary sum;
	struct sig_ctx sc;
	pthread_t sig_thr;
	bool sig_started = false;
	uint64_t t0 = rp_now_ms();
	struct rp_diag d;
	int r, exit_code;

	if (argc >= MAX_ARGS)
		return cli_usage_error("boot", "too many arguments");
	memcpy(args, argv, sizeof(char *) * (size_t)argc);
	args[argc] = NULL;
	memset(&c, 0, sizeof(c));
	memset(&sum, 0, sizeof(sum));
	r = parse_args(argc, args, &c);
	if (r < 0)
		return CLI_EXIT_OK;
	if (r > 0)
		return r;
	if (c.port_number_globs[0][0] && c.n_globs)
		return cli_usage_error("boot", "use -p PORTPATH or -N, not both");
	if (c.port_number_globs[0][0]) {
		c.globs[c.n_globs++] = c.port_number_globs[0];
		c.globs[c.n_globs++] = c.port_number_globs[1];
	}

	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);

	rp_diag_clear(&d);
	po.dir = c.dir;
	po.overlays = c.overlays;
	r = check_dir_configs(c.dir, c.allow_otp, &d);
	if (r == RP_OK)
		r = rp_payload_new(&po, &payload, &d);
	if (r == RP_OK && c.simulate) {
		struct rp_sim_params tmpl;
		struct rp_sim_source_opts so = { .n_boards = c.simulate, .params = &tmpl,
						 .faults = c.faults, .n_faults = c.n_faults };
		rp_sim_params_default(&tmpl, 0);
		if (c.sim_realistic)
			rp_sim_timing_realistic(&tmpl.timing);
		r = rp_sim_source_new(&so, &src, &d);
	} else if (r == RP_OK) {
		struct rp_usb_source_options uo = { .enumerate_existing = 1 };
		r = rp_usb_source_new(&uo, &src, &d);
	}
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}

	bo.cli = &c;
	memset(&ro, 0, sizeof(ro));
	ro.source = src;
	ro.payload = payload;
	ro.mode = RP_SESSION_SERVE;
	memcpy(ro.port_globs, c.globs, sizeof(c.globs));
	ro.n_port_globs = c.n_globs;
	memcpy(ro.serials, c.serials, sizeof(c.serials));
	ro.n_serials = c.n_serials;
	ro.count = c.loop ? 0 : c.simulate ? simulated_matching(c.simulate, c.globs, c.n_globs,
							      c.serials, c.n_serials)
					  : 1;
	if (c.simulate && !ro.count && !c.loop) {
		exit_code = cli_usage_error("boot", "no simulated board matches -p/-i/-N");
		goto out;
	}
	ro.idle_timeout_ms = c.timeout_s * 1000u;
	ro.on_event = on_event;
	ro.event_ctx = &bo;
	r = rp_runner_new(&ro, &runner, &d);
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}
	sc.runner = runner;
	sig_started = pthread_create(&sig_thr, NULL, signal_thread, &sc) == 0;
	if (!c.simulate)
		cli_info("serving %s; waiting for boards in USB boot mode", c.dir);
	r = rp_runner_run(runner, &sum, &d);
	if (sig_started) {
		pthread_kill(sig_thr, SIGUSR2);
		pthread_join(sig_thr, NULL);
	}
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}
	printf("%u board%s: %u served, %u verified OK, %u failed, %u timed out, %u left the bus "
	       "(%.2f s)\n",
	       sum.finished, sum.finished == 1 ? "" : "s", sum.served, sum.ok, sum.failed,
	       sum.timeout, sum.left, (double)(rp_now_ms() - t0) / 1000.0);
	if (sum.failed + sum.timeout + sum.left)
		exit_code = CLI_EXIT_FAILED;
	else if (sum.idle_timed_out && (!sum.finished || (ro.count && sum.finished < ro.count)))
		exit_code = CLI_EXIT_TEMPFAIL;
	else if (sum.stopped && ro.count && sum.finished < ro.count)
		exit_code = CLI_EXIT_FAILED;
	else if (bo.metadata_errors)
		exit_code = CLI_EXIT_CANTCREAT;
	else
		exit_code = CLI_EXIT_OK;
out:
	rp_runner_free(runner);
	if (src)
		src->ops->destroy(src);
	rp_payload_free(payload);
	return exit_code;
}
