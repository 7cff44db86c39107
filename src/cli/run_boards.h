/* What `flash` and `boot` share around one run of the board runner:
 * serving a directory, the records of each board (--report, --db, -j,
 * through the recorder of records/recorder.h), then its line (written by
 * the output thread of cli/out_queue.h), Ctrl-C (once: no new boards;
 * twice: abort), the summary and the exit status. */
#ifndef RP_CLI_RUN_BOARDS_H
#define RP_CLI_RUN_BOARDS_H

#include <stdbool.h>

#include "cli/record_args.h"
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
	struct cli_records records; /* --report, --db, -j/--metadata-dir */
	bool metadata_stdout;       /* each board's metadata as a JSON object on stdout
				       (rpiboot's -j without a directory) */
	const char *waiting;        /* said when the run starts; NULL: nothing */
	bool synthetic;             /* simulated boards get the synthetic image: the run
				       id in every record says so */
	struct cli_synthetic synth; /* whose boards: their lines say so */
};

/* A directory to serve as it is, after the OTP check of its config.txt
 * files (top level and per SoC) that a payload built in memory gets. */
int cli_dir_payload_new(const char *dir, bool overlays, bool allow_otp, struct rp_payload **out,
			struct rp_diag *d);
/* Run the boards; sig comes from cli_signals_init (called before the
 * source started any thread). Errors are printed; returns the exit code
 * (73 when every board was fine but a record could not be written). */
int cli_run_boards(const struct cli_run *run, struct cli_signals *sig);

#endif
