/* rpiprov boot: rpiboot-compatible serving of an rpiboot directory
 * (`rpiboot -d DIR` and its options), with rpiprov's engine underneath:
 * hotplug instead of polling, boards in parallel, no fixed sleeps, a
 * non-zero exit status when a board failed, and the EEPROM verified
 * whenever pieeprom.bin was served. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rpiprov-config.h"
#include "cli/cli.h"
#include "cli/verbosity.h"
#include "cli/filter_args.h"
#include "cli/record_args.h"
#include "cli/run_boards.h"
#include "cli/source_args.h"
#include "util/parse.h"

#define MAX_ARGS 512

struct boot_cli {
	const char *dir;
	bool overlays, allow_otp, show_version;
	char port_number_globs[2][16];
	struct cli_filters filters; /* -p, -i and their long forms */
	struct cli_run run; /* filters, timeout and output, from the options */
};

/* Where rpiboot looks when -d is not given (its DEFAULT_MSG_DIR, then a
 * folder in the current directory). */
static const char *const default_gadget_dirs[] = {
	"/usr/share/rpiboot/mass-storage-gadget64",
	"mass-storage-gadget64",
};

/* getopt_long values of boot's long-only options. */
enum boot_opt { O_TIMEOUT = 256, O_ALLOW_OTP };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov boot -d DIR [-l] [-v|-vv] [-o] [-p PORTPATH] [-i SERIAL] [-j [DIR]]\n"
		"                    [-0 .. -98] [-m DELAY] [--timeout DUR]\n"
		"                    [--report FILE] [--db FILE]\n"
		"                    [--allow-otp-permanent]\n"
		"                    [--simulate N [--sim-timing realistic] [--sim-fault SPEC ...]]\n\n"
		"Serve an rpiboot directory to boards in USB boot mode, like 'rpiboot -d DIR':\n"
		"the second stage (bootcode4.bin for 2711, bootcode5.bin for 2712, bootcode.bin\n"
		"for older SoCs), then every file the board asks for, looked up as\n"
		"DIR/<port-path>/NAME (with -o), DIR/<soc>/NAME, DIR/NAME. Names that climb\n"
		"out of DIR (.., absolute paths) are refused; symlinked files are followed, as\n"
		"rpiboot follows them, but not folders that lead out of DIR. Boards are served in\n"
		"parallel; when pieeprom.bin was served, the board's EEPROM_HASH is checked.\n\n"
		"  -d DIR          the directory to serve (default, as rpiboot: the\n"
		"                  mass-storage gadget in /usr/share/rpiboot/mass-storage-gadget64\n"
		"                  or ./mass-storage-gadget64)\n"
		"  -l              keep serving boards until interrupted (default: one board)\n"
		"  -v              verbose: phases, files sent, ignored devices\n"
		"  -o              per-port overlays: DIR/<usb-port-path>/NAME first (never for\n"
		"                  bootcode*.bin, as rpiboot)\n"
		"  -p PORTPATH     only the board on this USB port path (e.g. 1-1.3); a glob\n"
		"                  such as '1-1.*' works too (repeatable)\n"
		"  --ports LIST    several -p at once, separated by commas\n"
		"  -i SERIAL       only the board whose USB serial string is exactly SERIAL\n"
		"                  (as rpiboot compares it; repeatable)\n"
		"  --serials LIST  several -i at once, separated by commas\n"
		"  -j DIR          write each board's metadata to DIR/<serial>.json; without\n"
		"                  -j DIR it is printed on stdout, as rpiboot does\n"
		"  -vv             more verbose: also every device seen and ignored\n"
		"  -V, --version   print the version and exit\n"
		"  -s              (rpiboot: signed bootcode.bin for BCM2835/2837) refused\n"
		"                  (also --metadata-dir DIR)\n"
		"  --report FILE   append one JSON line per board (as 'station --report')\n"
		"  --db FILE       record each board in an SQLite database (as 'station --db')\n"
		"  -0 .. -98       only boards on this port number of their hub\n"
		"  -m DELAY        rpiboot's poll delay (microseconds, at least 1): checked\n"
		"                  and ignored, since rpiprov does not poll\n"
		"  --timeout DUR   give up when no board came for DUR (exit 75); DUR is\n"
		"                  30s, 2m, 1h, 500ms or plain seconds\n"
		"  --allow-otp-permanent  serve a config.txt that writes OTP memory\n"
		"                  (program_pubkey, revoke_devkey, ...): PERMANENT\n"
		"  --simulate N    dry run against N simulated boards (implies serving N)\n"
		"  --sim-timing M  zero|fast (default) or realistic\n"
		"  --sim-soc LIST  the simulated boards' SoCs in turn, e.g. 2711,2712\n"
		"  --sim-fault S   inject a fault, see 'rpiprov flash --help'\n\n"
		"Exit status: 0 every board served (and verified where an image was sent);\n"
		"1 a board failed; 75 timed out waiting; 64-77 see 'rpiprov --help'.\n");
}

/* rpiboot's -0 .. -98 select the port number on the hub; getopt would
 * read "-12" as two options, so they are taken out first. So are the
 * spellings getopt cannot take: -V (version) and a -j
 * with no directory after it (metadata on stdout, as rpiboot does since
 * metadata output became its default). */
static int take_rpiboot_spellings(int *argc, char **argv, struct boot_cli *c)
{
	int out = 1;
	bool seen = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		unsigned n;
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			c->show_version = true;
			continue;
		}
		if (!strcmp(a, "-j") && (i + 1 == *argc || argv[i + 1][0] == '-')) {
			c->run.metadata_stdout = true;
			continue;
		}
		if (a[0] == '-' && a[1] >= '0' && a[1] <= '9' && rp_parse_uint(a + 1, 0, 98, &n, NULL) == RP_OK) {
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

/* The options of boot alone; the simulation and filter ones are shared
 * with flash and station. */
static int own_option(int opt, const char *arg, struct boot_cli *c)
{
	struct rp_runner_opts *ro = &c->run.ro;
	unsigned n;

	switch (opt) {
	case 'd': c->dir = arg; break;
	case 'l': c->run.forever = true; break;
	case 's':
		/* rpiboot -s sends bootcode.sig in the boot message of a BCM2835/
		 * 2837 ROM with signed boot; 2711/2712 sign differently. */
		return cli_usage_error("boot", "-s (bootcode.sig for signed boot on BCM2835/2837) is not "
					       "supported; BCM2711/2712 secure boot needs no -s");
	case 'o': c->overlays = true; break;
	case 'm':
		/* Microseconds between rpiboot's polls; rpiprov does not poll,
		 * but takes what rpiboot takes: rpiboot refuses 0 (and text,
		 * which it reads as 0). */
		return cli_option_uint("boot", "-m", arg, 1, UINT_MAX, &n);
	case O_TIMEOUT:
		return cli_option_duration("boot", "--timeout", arg, 1000, 365 * 86400000ull,
					   &ro->idle_timeout_ms);
	case O_ALLOW_OTP: c->allow_otp = true; break;
	default: return cli_bad_option("boot");
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct boot_cli *c)
{
	static const struct option own[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "loop", no_argument, NULL, 'l' },
		{ "overlays", no_argument, NULL, 'o' },
		{ "delay", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "allow-otp-permanent", no_argument, NULL, O_ALLOW_OTP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_longopts opts = { .n = 0 };
	int opt, r;

	r = take_rpiboot_spellings(&argc, argv, c);
	if (r)
		return r;
	cli_longopts_add(&opts, own);
	cli_sim_longopts(&opts);
	cli_filter_longopts(&opts);
	cli_record_longopts(&opts);
	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:lop:i:j:m:sh", opts.v, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		/* -p and -i are rpiboot's letters for --port and --serial. */
		if (opt == 'p' || opt == 'i')
			opt = opt == 'p' ? CLI_OPT_PORT : CLI_OPT_SERIAL;
		if (opt == 'j')
			opt = CLI_OPT_METADATA_DIR;
		r = cli_sim_option(opt, optarg, &c->run.sim, "boot");
		if (r == CLI_OPTION_OTHER)
			r = cli_filter_option(opt, optarg, &c->filters, "boot");
		if (r == CLI_OPTION_OTHER)
			r = cli_record_option(opt, optarg, &c->run.records, "boot");
		if (r == CLI_OPTION_OTHER)
			r = own_option(opt, optarg, c);
		if (r)
			return r;
	}
	if (optind != argc)
		return cli_usage_error("boot", "unexpected argument '%s'", argv[optind]);
	cli_filters_apply(&c->filters, &c->run.ro);
	/* rpiboot's -v and -vv, as every command takes them (cli/verbosity.h). */
	if (cli_verbosity() >= CLI_VERBOSE)
		c->run.verbose = CLI_SHOW_PHASES | CLI_SHOW_FILES;
	if (cli_verbosity() >= CLI_DEBUG)
		c->run.verbose |= CLI_SHOW_ARRIVALS;
	if (c->overlays && !c->dir)
		return cli_usage_error("boot", "-o needs -d DIR (as in rpiboot)");
	if (!c->dir && !c->show_version) {
		/* rpiboot without -d serves a 2711/2712 its installed
		 * mass-storage gadget, else the one in the current directory. */
		for (size_t i = 0; i < sizeof(default_gadget_dirs) / sizeof(default_gadget_dirs[0]); i++) {
			struct stat st;
			if (stat(default_gadget_dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
				c->dir = default_gadget_dirs[i];
				cli_info("directory not specified: serving %s, as rpiboot does", c->dir);
				break;
			}
		}
	}
	if (!c->dir && !c->show_version)
		return cli_usage_error("boot", "-d DIR is required here: without it rpiboot serves its "
					       "mass-storage gadget from %s or ./%s, and neither exists; "
					       "rpiprov carries no gadget of its own (rpiboot's built-in "
					       "one is for BCM2835/2837 boards)",
				       default_gadget_dirs[0], default_gadget_dirs[1]);
	/* rpiboot writes every board's metadata to stdout unless -j names a
	 * directory. */
	if (!cli_records_target(&c->run.records, CLI_OPT_METADATA_DIR))
		c->run.metadata_stdout = true;
	/* -i compares the serial string exactly, as rpiboot does. */
	c->run.ro.serial_exact = true;
	return cli_sim_check(&c->run.sim, "boot");
}

int cmd_boot(int argc, char **argv)
{
	char *args[MAX_ARGS];
	char waiting[PATH_MAX + 64];
	struct boot_cli c;
	struct cli_run *run = &c.run;
	struct rp_runner_opts *ro = &c.run.ro;
	struct cli_signals sig;
	struct rp_diag d;
	int r, exit_code;

	if (argc >= MAX_ARGS)
		return cli_usage_error("boot", "too many arguments");
	memcpy(args, argv, sizeof(char *) * (size_t)argc);
	args[argc] = NULL;
	memset(&c, 0, sizeof(c));
	run->cmd = "boot";
	run->filter_options = "-p/-i/-N";
	ro->mode = RP_SESSION_SERVE;
	r = parse_args(argc, args, &c);
	if (r < 0)
		return CLI_EXIT_OK;
	if (r > 0)
		return r;
	if (c.show_version) {
		printf("rpiprov boot (rpiboot-compatible) %s\n", RPIPROV_VERSION);
		return CLI_EXIT_OK;
	}
	if (c.port_number_globs[0][0] && ro->n_port_globs)
		return cli_usage_error("boot", "use -p PORTPATH or -N, not both");
	if (c.port_number_globs[0][0]) {
		ro->port_globs[ro->n_port_globs++] = c.port_number_globs[0];
		ro->port_globs[ro->n_port_globs++] = c.port_number_globs[1];
	}

	rp_diag_clear(&d);
	r = cli_signals_init(&sig, &d);
	if (r == RP_OK)
		r = cli_dir_payload_new(c.dir, c.overlays, c.allow_otp, &ro->payload, &d);
	if (r == RP_OK) {
		struct cli_source_opts so = { .sim = &run->sim, .verbose = run->verbose != 0,
					      .read_rom_serials = ro->n_serials != 0 };
		r = cli_source_new(&so, &ro->source, &d);
	}
	if (r != RP_OK) {
		exit_code = cli_fail(&d);
		goto out;
	}
	if (!run->sim.boards) {
		snprintf(waiting, sizeof(waiting), "serving %s; waiting for boards in USB boot mode",
			 c.dir);
		run->waiting = waiting;
	}
	exit_code = cli_run_boards(run, &sig);
out:
	cli_signals_close(&sig);
	if (ro->source)
		ro->source->ops->destroy(ro->source);
	rp_payload_free(ro->payload);
	return exit_code;
}
