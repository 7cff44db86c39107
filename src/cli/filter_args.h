/* Which boards a run touches: --port GLOB and --serial S (repeatable), and
 * --ports / --serials taking several at once (separated by commas or
 * blanks), spelt and checked alike by flash, boot and station. */
#ifndef RP_CLI_FILTER_ARGS_H
#define RP_CLI_FILTER_ARGS_H

#include <stddef.h>

#include "cli/cli.h"
#include "runner/runner.h"

/* getopt_long values, apart from the payload, simulation and command ones. */
enum cli_filter_opt {
	CLI_OPT_PORT = 0x1200,
	CLI_OPT_PORTS,
	CLI_OPT_SERIAL,
	CLI_OPT_SERIALS,
};

/* Room for the items of the lists (each command line is far shorter). */
#define CLI_FILTER_TEXT_MAX 8192

struct cli_filters {
	/* Point into the command line or into text: the struct stays put
	 * while they are used. */
	const char *ports[RP_RUNNER_MAX_FILTERS];
	unsigned n_ports;
	const char *serials[RP_RUNNER_MAX_FILTERS];
	unsigned n_serials;
	char text[CLI_FILTER_TEXT_MAX];
	size_t used;
};

void cli_filter_longopts(struct cli_longopts *t);
/* Returns an enum cli_option_result or an exit code; cmd names the
 * command in usage errors. f starts zeroed. */
int cli_filter_option(int opt, const char *arg, struct cli_filters *f, const char *cmd);
/* Give the runner the filters (its lists hold as many). */
void cli_filters_apply(const struct cli_filters *f, struct rp_runner_opts *ro);

#endif
