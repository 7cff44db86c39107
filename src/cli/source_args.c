#include "cli/source_args.h"

#include "cli/cli.h"
#include "sim/sim_source.h"
#include "usb/usb_source.h"

int cli_source_new(const struct cli_source_opts *o, struct rp_source **out, struct rp_diag *d)
{
	struct rp_usb_source_options uo = { .enumerate_existing = 1 };
	struct rp_sim_params tmpl;
	uint16_t pids[RP_SIM_MAX_BOARDS];
	struct rp_sim_source_opts so = { .params = &tmpl, .arrival_ms = o->arrival_ms };

	if (!o->sim || !o->sim->boards) {
		int r;
		uo.read_rom_serials = o->read_rom_serials;
		r = rp_usb_source_new(&uo, out, d);
		if (r == RP_OK && o->verbose)
			cli_info("watching for boards: %s", rp_usb_source_watch_mode(*out));
		return r;
	}
	so.n_boards = o->sim->boards;
	so.faults = o->sim->faults;
	so.n_faults = o->sim->n_faults;
	cli_sim_params(o->sim, o->soc, &tmpl);
	if (o->sim->n_socs) {
		for (unsigned i = 0; i < o->sim->boards && i < RP_SIM_MAX_BOARDS; i++)
			pids[i] = cli_sim_board_pid(o->sim, i);
		so.pids = pids;
	}
	return rp_sim_source_new(&so, out, d);
}
