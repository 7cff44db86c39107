/* The payload options (image, boot.conf, signing, recovery.bin) that
 * `prepare` and `flash` turn into struct rp_prepare_opts and `station`
 * into station.conf keys: named once here, so the three commands spell
 * and check them alike. */
#ifndef RP_CLI_PREPARE_ARGS_H
#define RP_CLI_PREPARE_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "image/prepare.h"

/* getopt_long values of the long options; above every short letter. The
 * short letters of prepare and flash (-i -c -P -k -H -p -r) are
 * understood by cli_payload_option too; station's differ and it maps them. */
enum cli_payload_opt {
	CLI_OPT_IMAGE = 0x1000,
	CLI_OPT_CONFIG,
	CLI_OPT_PROFILE,
	CLI_OPT_SET,
	CLI_OPT_UNSET,
	CLI_OPT_KEY,
	CLI_OPT_HSM_WRAPPER,
	CLI_OPT_PUBKEY,
	CLI_OPT_RECOVERY,
	CLI_OPT_RECOVERY_CONFIG,
	CLI_OPT_ALLOW_OTP,
	CLI_OPT_STRICT,
	CLI_OPT_FORCE,
	CLI_OPT_SOC,
};

/* Which command a table is for: not every command takes every option. */
enum cli_payload_command {
	CLI_PAYLOAD_PREPARE = 1,
	CLI_PAYLOAD_FLASH = 2,
	CLI_PAYLOAD_STATION = 4,
};

/* Add the command's payload options to its getopt_long table. */
void cli_payload_longopts(struct cli_longopts *t, enum cli_payload_command command);
/* The --help lines of the payload options of prepare or flash. */
void cli_payload_help(FILE *out, enum cli_payload_command command);
/* Apply one option to o (prepare, flash); cmd names the command in
 * usage errors. Returns an enum cli_option_result or an exit code. */
int cli_payload_option(int opt, const char *arg, struct rp_prepare_opts *o, const char *cmd);
/* The options that exclude or need each other: 0 or a usage exit code. */
int cli_payload_check(const struct rp_prepare_opts *o, const char *cmd);
/* For station: the station.conf key a payload option sets and its value
 * (a flag sets "yes"); false when opt is not a payload option. */
bool cli_payload_config_key(int opt, const char *arg, const char **key, const char **value);

/* rp_prepare_build, then say which image it used and print its warnings,
 * whether or not it succeeded (they explain a failure too). */
int cli_payload_build(const struct rp_prepare_opts *o, struct rp_prepared *p, struct rp_diag *d);
/* One "rpiprov: warning:" line per line of text (empty lines skipped). */
void cli_print_warnings(const char *text);
/* "using image ..." and the warnings of a prepared set (also of one that
 * failed: they say what was tried). */
void cli_prepared_say(const struct rp_prepared *p);

#endif
