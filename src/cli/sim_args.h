/* --simulate, --sim-timing and --sim-fault of `flash`, `boot` and
 * `station`. The source they lead to is made by cli/source_args.h. */
#ifndef RP_CLI_SIM_ARGS_H
#define RP_CLI_SIM_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "sim/sim_source.h"

#define CLI_MAX_SIM_FAULTS 64

/* getopt_long values, apart from the payload options' and any command's. */
enum cli_sim_opt {
	CLI_OPT_SIMULATE = 0x1100,
	CLI_OPT_SIM_TIMING,
	CLI_OPT_SIM_FAULT,
	CLI_OPT_SIM_SOC,
};

struct cli_sim {
	unsigned boards; /* 0: real boards on USB */
	bool realistic;  /* --sim-timing realistic (default zero, also called fast) */
	struct rp_sim_fault_spec faults[CLI_MAX_SIM_FAULTS];
	unsigned n_faults;
	/* --sim-soc 2711,2712: the boards take these SoCs in turn (a mixed
	 * tray); none: the SoC the payload is for. */
	uint16_t soc_pids[4];
	unsigned n_socs;
};

void cli_sim_longopts(struct cli_longopts *t);
/* Returns an enum cli_option_result or an exit code; cmd names the
 * command in usage errors. */
int cli_sim_option(int opt, const char *arg, struct cli_sim *s, const char *cmd);
/* After the options: the --sim-* options need --simulate, and faults
 * name simulated boards. 0 or a usage exit code. */
int cli_sim_check(const struct cli_sim *s, const char *cmd);
/* How many simulated boards the filters let through (their port paths,
 * serial strings and SoCs are known in advance; soc NULL: any), so a run
 * knows how many to wait for. */
unsigned cli_sim_matching(const struct cli_sim *s, const char *soc, const char *const *globs,
			  unsigned n_globs, const char *const *serials, unsigned n_serials,
			  bool serial_exact);
/* When the run waits, with no timeout, for `count` attempts from
 * simulated boards: a usage exit code if it could never get them and so
 * would wait for ever (without faults each matching board makes exactly
 * one attempt; a fault may send a board back to its ROM for another),
 * else 0. With a timeout the run ends and says it timed out. */
int cli_sim_check_count(const struct cli_sim *s, const char *cmd, unsigned count,
			unsigned matching, uint64_t timeout_ms);
/* The template of every simulated board: its timing, and this SoC
 * ("2712"; NULL: 2711). */
void cli_sim_params(const struct cli_sim *s, const char *soc, struct rp_sim_params *p);

/* Which SoCs' boards a simulation serves synthetic firmware: a board is
 * labelled "synthetic" by what it was served (its SoC's set), not by the
 * run, so a CM4 that got the real 2711 image beside a CM5 that got a
 * synthetic one is not called synthetic. */
struct cli_synthetic {
	char socs[4][8];
	unsigned n;
};
struct rp_prepared;
void cli_synthetic_note(struct cli_synthetic *s, const struct rp_prepared *p);
bool cli_synthetic_board(const struct cli_synthetic *s, const char *soc);
/* Board i's product id under --sim-soc, or 0 (the template's). */
uint16_t cli_sim_board_pid(const struct cli_sim *s, unsigned i);

#endif
