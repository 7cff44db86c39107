/* An in-process device source of simulated boards (`--simulate N`, the
 * session/station tests and the benchmark). Each board is a device model
 * (sim_board.h) on its own port "1-1.<n>" (n from 1); its transports call
 * the model directly and, when the model is not ready (RP_ERR_AGAIN),
 * wait on a condition variable for the time it names, never in a sleep
 * loop. Detach/attach of a board become LEFT/ARRIVED events when they are
 * due, with a new device address on the same port path. */
#ifndef RP_SIM_SIM_SOURCE_H
#define RP_SIM_SIM_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim_board.h"
#include "transport/source.h"

#define RP_SIM_MAX_BOARDS 4096

/* One injected fault: board index 1-based, 0 = every board. */
struct rp_sim_fault_spec {
	enum rp_sim_fault fault;
	enum rp_sim_step step;
	unsigned board;
};

/* Parse --sim-fault: FAULT[@STEP][:BOARD], e.g. "leave@image:3" (board 3
 * leaves the bus during the pieeprom.bin read), "status_read_fails:2",
 * "bad_sig" (every board). Fault and step names are those of
 * rp_sim_fault_name/rp_sim_step_name ('-' accepted for '_'); a missing
 * step takes the step where the fault means something. */
int rp_sim_fault_spec_parse(const char *text, struct rp_sim_fault_spec *out, struct rp_diag *d);
/* The grammar and the lists of names, for --help. */
const char *rp_sim_fault_help(void);

struct rp_sim_source_opts {
	unsigned n_boards;                  /* 1 .. RP_SIM_MAX_BOARDS */
	/* Template for every board: pid, timing, fault, firmware date and
	 * slow_request_ms are taken from it; serial and MAC come from
	 * rp_sim_params_default(board number). NULL: defaults. */
	const struct rp_sim_params *params;
	const struct rp_sim_fault_spec *faults;
	unsigned n_faults;
	/* Arrival schedule: board i plugs in arrival_ms[i] after the source is
	 * created (NULL: all at once). */
	const uint64_t *arrival_ms;
	/* Board i plugs in with its second stage already running when
	 * second_stage[i] is true (NULL: every board starts in the boot ROM). */
	const bool *second_stage;
	/* USB bus number used in port paths and device info (0: 1). */
	uint8_t bus;
	/* Board i's USB product id (its SoC), for a mixed tray; NULL: the
	 * template's for every board. */
	const uint16_t *pids;
};

int rp_sim_source_new(const struct rp_sim_source_opts *opts, struct rp_source **out,
		      struct rp_diag *d);
/* Board i (0-based) for inspection once the boards are idle (after the
 * run): EEPROM contents, outcome, second stage received. */
struct rp_sim_board *rp_sim_source_board(struct rp_source *src, unsigned i);
/* Pull board i out (a test unplugging it mid-run): thread-safe; a
 * transfer in progress fails with RP_ERR_NO_DEVICE and LEFT is reported. */
void rp_sim_source_unplug(struct rp_source *src, unsigned i);

/* The port path board i gets: "<bus>-1.<i+1>". */
void rp_sim_source_port_path(uint8_t bus, unsigned i, char out[RP_PORT_PATH_MAX]);

#endif
