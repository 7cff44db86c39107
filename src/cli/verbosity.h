/* -q, -v, -vv and --debug, the same for every command: main() takes them
 * out of the command line before the command parses the rest, so no
 * command has its own spelling of them (digest keeps -v, which is
 * rpi-eeprom-digest's --verify, and spells verbose --verbose).
 *
 *   -q, --quiet     errors, warnings and results only: no progress notes
 *   (default)       progress notes ("using image ...") on stderr
 *   -v, --verbose   also each board's phases, files sent and every device
 *                   seen or ignored (flash, boot, station's plain log)
 *   -vv, --debug    also the error code name with every error
 *
 * The level is set once, in main() before any thread exists, and only
 * read afterwards. */
#ifndef RP_CLI_VERBOSITY_H
#define RP_CLI_VERBOSITY_H

#include <stdbool.h>

enum cli_level {
	CLI_QUIET = -1,
	CLI_NORMAL = 0,
	CLI_VERBOSE = 1,
	CLI_DEBUG = 2,
};

/* Remove the verbosity options of `cmd` from argv (argv[0] is the command
 * name), stopping at "--", and set the level. Returns the new argc. */
int cli_verbosity_take(const char *cmd, int argc, char **argv);
enum cli_level cli_verbosity(void);
/* Whether arg is one of them (-q, --quiet, -v, --verbose, -vv, --debug). */
bool cli_verbosity_option(const char *arg);

#endif
