#include "cli/sim_args.h"

#include <stdio.h>
#include <string.h>

#include "image/prepare.h"
#include "runner/runner.h"
#include "soc/soc.h"

void cli_sim_longopts(struct cli_longopts *t)
{
	static const struct option rows[] = {
		{ "simulate", required_argument, NULL, CLI_OPT_SIMULATE },
		{ "sim-timing", required_argument, NULL, CLI_OPT_SIM_TIMING },
		{ "sim-fault", required_argument, NULL, CLI_OPT_SIM_FAULT },
		{ "sim-soc", required_argument, NULL, CLI_OPT_SIM_SOC },
		{ NULL, 0, NULL, 0 },
	};
	cli_longopts_add(t, rows);
}

/* station said "fast" for what flash and boot call "zero": both stay. */
static const struct {
	const char *name;
	bool realistic;
} timing_models[] = {
	{ "zero", false },
	{ "fast", false },
	{ "realistic", true },
};

int cli_sim_option(int opt, const char *arg, struct cli_sim *s, const char *cmd)
{
	struct rp_diag d;

	switch (opt) {
	case CLI_OPT_SIMULATE:
		return cli_option_uint(cmd, "--simulate", arg, 1, RP_SIM_MAX_BOARDS, &s->boards);
	case CLI_OPT_SIM_TIMING:
		for (size_t i = 0; i < sizeof(timing_models) / sizeof(timing_models[0]); i++) {
			if (!strcmp(arg, timing_models[i].name)) {
				s->realistic = timing_models[i].realistic;
				return CLI_OPTION_TAKEN;
			}
		}
		return cli_usage_error(cmd, "--sim-timing '%s': expected zero (or fast) or realistic",
				       arg);
	case CLI_OPT_SIM_SOC: {
		char list[64];
		snprintf(list, sizeof(list), "%s", arg);
		s->n_socs = 0;
		for (char *save = NULL, *t = strtok_r(list, ", ", &save); t;
		     t = strtok_r(NULL, ", ", &save)) {
			const struct rp_soc *chip = rp_soc_eeprom_by_name(t);
			if (!chip)
				return cli_usage_error(cmd, "--sim-soc: '%s' is not a SoC with a bootloader "
							    "EEPROM (%s)", t, "2711 or 2712");
			if (s->n_socs == sizeof(s->soc_pids) / sizeof(s->soc_pids[0]))
				return cli_usage_error(cmd, "--sim-soc: at most %zu SoCs",
						       sizeof(s->soc_pids) / sizeof(s->soc_pids[0]));
			s->soc_pids[s->n_socs++] = chip->pid;
		}
		if (!s->n_socs)
			return cli_usage_error(cmd, "--sim-soc: no SoC given");
		return CLI_OPTION_TAKEN;
	}
	case CLI_OPT_SIM_FAULT:
		if (s->n_faults == CLI_MAX_SIM_FAULTS)
			return cli_usage_error(cmd, "at most %d --sim-fault", CLI_MAX_SIM_FAULTS);
		if (rp_sim_fault_spec_parse(arg, &s->faults[s->n_faults], &d) != RP_OK)
			return cli_usage_error(cmd, "%s", rp_diag_message(&d));
		s->n_faults++;
		return CLI_OPTION_TAKEN;
	default:
		return CLI_OPTION_OTHER;
	}
}

int cli_sim_check(const struct cli_sim *s, const char *cmd)
{
	if ((s->realistic || s->n_faults || s->n_socs) && !s->boards)
		return cli_usage_error(cmd, "--sim-timing, --sim-fault and --sim-soc need --simulate N");
	for (unsigned i = 0; i < s->n_faults; i++)
		if (s->faults[i].board > s->boards)
			return cli_usage_error(cmd, "--sim-fault for board %u, but --simulate %u",
					       s->faults[i].board, s->boards);
	return 0;
}

unsigned cli_sim_matching(const struct cli_sim *s, const char *soc, const char *const *globs,
			  unsigned n_globs, const char *const *serials, unsigned n_serials,
			  bool serial_exact)
{
	unsigned count = 0;

	/* Ask the runner's own filter about each board as it will arrive:
	 * in the boot ROM with its index-3 serial string (F2, F3), on its
	 * known port. */
	for (unsigned i = 0; i < s->boards; i++) {
		struct rp_device_info info = { .stage = RP_STAGE_ROM, .serial_index = 3 };
		struct rp_sim_params p;
		char why[256];
		rp_sim_params_default(&p, i + 1);
		rp_sim_usb_serial(p.serial, info.serial);
		rp_sim_source_port_path(1, i, info.port_path);
		if (soc && *soc && cli_sim_board_pid(s, i)) {
			const struct rp_soc *chip = rp_soc_by_usb_id(RP_USB_VID_BROADCOM, cli_sim_board_pid(s, i));
			if (!chip || strcmp(chip->soc, soc) != 0)
				continue;
		}
		count += rp_runner_filters_accept(globs, n_globs, serials, n_serials, serial_exact,
						  &info, why, sizeof(why));
	}
	return count;
}

void cli_sim_params(const struct cli_sim *s, const char *soc, struct rp_sim_params *p)
{
	const struct rp_soc *chip = rp_soc_eeprom_by_name(soc);

	rp_sim_params_default(p, 0);
	if (chip)
		p->pid = chip->pid;
	if (s->realistic)
		rp_sim_timing_realistic(&p->timing);
}

uint16_t cli_sim_board_pid(const struct cli_sim *s, unsigned i)
{
	return s->n_socs ? s->soc_pids[i % s->n_socs] : 0;
}

int cli_sim_check_count(const struct cli_sim *s, const char *cmd, unsigned count,
			unsigned matching, uint64_t timeout_ms)
{
	if (!s->boards || !count || s->n_faults || count <= matching || timeout_ms)
		return 0;
	return cli_usage_error(cmd,
			       "--count %u but only %u simulated board%s match%s the filters: the run "
			       "could never finish (give --timeout to wait anyway)",
			       count, matching, matching == 1 ? "" : "s", matching == 1 ? "es" : "");
}

void cli_synthetic_note(struct cli_synthetic *s, const struct rp_prepared *p)
{
	if (p->synthetic && s->n < sizeof(s->socs) / sizeof(s->socs[0]))
		snprintf(s->socs[s->n++], sizeof(s->socs[0]), "%s", p->soc);
}

bool cli_synthetic_board(const struct cli_synthetic *s, const char *soc)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strncmp(s->socs[i], soc, sizeof(s->socs[i])))
			return true;
	return false;
}
