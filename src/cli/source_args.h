/* Where flash, boot, station and list take their boards from: simulated
 * boards (--simulate N, cli/sim_args.h) or USB. The only place that
 * chooses between the two; everything past it sees a struct rp_source. */
#ifndef RP_CLI_SOURCE_ARGS_H
#define RP_CLI_SOURCE_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/sim_args.h"
#include "transport/source.h"

struct cli_source_opts {
	const struct cli_sim *sim;   /* NULL, or no --simulate: USB */
	const char *soc;             /* the simulated boards' SoC ("2712"; NULL: 2711) */
	const uint64_t *arrival_ms;  /* per simulated board, from the start; NULL: all at once */
	bool verbose;                /* say how USB devices are watched (hotplug or polling) */
	bool read_rom_serials;       /* --serial given, or `list`: read boot ROMs' serials */
};

/* Boards already on the bus count as arrivals, so a board waiting when the
 * command starts is taken too. */
int cli_source_new(const struct cli_source_opts *o, struct rp_source **out, struct rp_diag *d);

#endif
