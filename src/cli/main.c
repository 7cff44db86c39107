/* rpiprov: provision Raspberry Pi bootloader EEPROMs over USB. */
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/verbosity.h"
#include "rpiprov-config.h"
#include "util/suggest.h"

static const struct cli_command commands[] = {
	{ "eeprom", "inspect and edit pieeprom images (info, config, set, extract)", cmd_eeprom },
	{ "digest", "write or verify a .sig file (sha256, timestamp, RSA-2048)", cmd_digest },
	{ "prepare", "build a ready recovery directory for rpiboot-style flashing", cmd_prepare },
	{ "flash", "provision boards over USB (or simulated boards)", cmd_flash },
	{ "boot", "serve an rpiboot directory to boards, like rpiboot -d", cmd_boot },
	{ "list", "list boards in USB boot mode", cmd_list },
	{ "station", "run unattended: provision every board that appears", cmd_station },
	{ "report", "summarise the manufacturing database", cmd_report },
	{ "firmware", "list the bootloader firmware found, or fetch the newest", cmd_firmware },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: rpiprov COMMAND [OPTIONS]\n"
		     "       rpiprov COMMAND --help\n"
		     "       rpiprov help COMMAND\n\n"
		     "Provision the bootloader EEPROM of Raspberry Pi boards over USB.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nOptions:\n"
		     "  -h, --help     show this help\n"
		     "  -V, --version  show the version\n\n"
		     "Every command also takes:\n"
		     "  -q, --quiet    errors, warnings and results only\n"
		     "  -v, --verbose  more detail: phases, files sent, devices seen and ignored\n"
		     "  -vv, --debug   also the error code with every error\n"
		     "  (digest keeps rpi-eeprom-digest's -v SIG; use --verbose there)\n\n"
		     "Exit status: 0 success; 1 a board failed; 64 usage; 65 bad input data;\n"
		     "66 input missing; 69 USB or tool unavailable; 73 cannot create output;\n"
		     "74 I/O error; 75 timed out; 77 permission denied.\n");
}

/* An unknown command, with the nearest one when a typo is likely (as git does). */
static int unknown_command(const char *name)
{
	const char *names[sizeof(commands) / sizeof(commands[0])];
	const char *near;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		names[i] = commands[i].name;
	near = rp_suggest(name, names, sizeof(names) / sizeof(names[0]));
	fprintf(stderr, "rpiprov: unknown command '%s'\n", name);
	if (near)
		fprintf(stderr, "Did you mean 'rpiprov %s'?\n", near);
	fprintf(stderr, "Try 'rpiprov --help'.\n");
	return CLI_EXIT_USAGE;
}

/* Commands that hash or sign whatever their options (a payload, a .sig). */
static bool hashes(const char *cmd)
{
	static const char *const names[] = { "digest", "prepare", "flash", "boot", "station" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(cmd, names[i]))
			return true;
	return false;
}

/* Before any other OpenSSL call. sha256 and RSA-2048 need nothing from
 * openssl.cnf, and finding, reading and applying it on the first hash
 * cost more than the hashing itself. Not done for the other commands: the
 * init call alone costs a short command (eeprom set) more than it saves
 * there. */
static void skip_openssl_config(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	/* `rpiprov -q CMD ...` is `rpiprov CMD -q ...`: the command goes first. */
	for (int k = 1; k + 1 < argc && cli_verbosity_option(argv[k]); k++)
		if (!cli_verbosity_option(argv[k + 1])) {
			char *cmd = argv[k + 1];
			memmove(argv + 2, argv + 1, (size_t)k * sizeof(*argv));
			argv[1] = cmd;
			break;
		}
	/* `rpiprov help CMD` is `rpiprov CMD --help`. */
	if (!strcmp(argv[1], "help") && argc > 2) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i].name)) {
				char *help_argv[] = { argv[2], (char *)"--help", NULL };
				return commands[i].run(2, help_argv);
			}
		return unknown_command(argv[2]);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("rpiprov %s\n", RPIPROV_VERSION);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			int n = cli_verbosity_take(argv[1], argc - 1, argv + 1);
			char name[64];
			/* getopt names the command in its messages: "rpiprov flash: ..." */
			snprintf(name, sizeof(name), "rpiprov %s", commands[i].name);
			argv[1] = name;
			if (hashes(argv[1]))
				skip_openssl_config();
			return commands[i].run(n, argv + 1);
		}
	return unknown_command(argv[1]);
}
