/* What `flash` and `boot` share around one run of the board runner:
 * serving a directory, one line per board (written, with its metadata
 * file, by the output thread of cli/out_queue.h), Ctrl-C (once: no new
 * boards; twice: abort), the summary and the exit status. */
#ifndef RP_CLI_RUN_BOARDS_H
#define RP_CLI_RUN_BOARDS_H

#include <stdbool.h>

#include "cli/signals.h"
#include "cli/sim_args.h"
#include "runner/runner.h"

/* What -v adds; each command keeps what it has always shown. */
enum cli_verbose {
	CLI_SHOW_ARRIVALS = 1,
	CLI_SHOW_PHASES = 2,
	CLI_SHOW_FILES = 4, /* each file once it is sent */
};

struct cli_run {
	const char *cmd;            /* "flash" or "boot", for messages */
	const char *filter_options; /* the options that pick boards, for messages */
	/* Source, payload, mode, soc, filters and timeouts; the run sets the
	 * count and the event callback. */
	struct rp_runner_opts ro;
	unsigned count;             /* boards to wait for; 0: one, or with simulated
				       boards every one the filters let through */
	bool forever;
	struct cli_sim sim;
	unsigned verbose;           /* enum cli_verbose bits */
	bool json;                  /* a JSON line per board; the summary goes to stderr */
	bool explain_timeout;       /* say which boards the run gave up waiting for */
	const char *metadata_dir;   /* DIR/<serial>.json per board; NULL: none */
	const char *waiting;        /* said when the run starts; NULL: nothing */
};

/* A directory to serve as it is, after the OTP check of its config.txt
 * files (top level and per SoC) that a payload built in memory gets. */
int cli_dir_payload_new(const char *dir, bool overlays, bool allow_otp, struct rp_payload **out,
			struct rp_diag *d);
/* Run the boards; sig comes from cli_signals_init (called before the
 * source started any thread). Errors are printed; returns the exit code. */
int cli_run_boards(const struct cli_run *run, struct cli_signals *sig);

#endif
