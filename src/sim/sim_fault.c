/* Fault and step names for --sim-fault and test tables, and the parser
 * of FAULT[@STEP][:BOARD]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_board.h"
#include "sim/sim_source.h"

struct fault_desc {
	const char *name;
	enum rp_sim_step natural_step; /* where the fault means something when no step is given */
};

static const struct fault_desc faults[RP_SIM_FAULT_COUNT] = {
	[RP_SIM_FAULT_NONE] = { "none", RP_SIM_STEP_STAGE1 },
	[RP_SIM_FAULT_LEAVE] = { "leave", RP_SIM_STEP_IMAGE },
	[RP_SIM_FAULT_STALL] = { "stall", RP_SIM_STEP_IMAGE },
	[RP_SIM_FAULT_SHORT] = { "short", RP_SIM_STEP_IMAGE },
	[RP_SIM_FAULT_SILENT] = { "silent", RP_SIM_STEP_METADATA },
	[RP_SIM_FAULT_ROM_ERROR] = { "rom_error", RP_SIM_STEP_STAGE1 },
	[RP_SIM_FAULT_BAD_COMMAND] = { "bad_command", RP_SIM_STEP_CONFIG },
	[RP_SIM_FAULT_UNTERMINATED_NAME] = { "unterminated_name", RP_SIM_STEP_CONFIG },
	[RP_SIM_FAULT_HOSTILE_NAME] = { "hostile_name", RP_SIM_STEP_CONFIG },
	[RP_SIM_FAULT_WRONG_HASH] = { "wrong_hash", RP_SIM_STEP_METADATA },
	[RP_SIM_FAULT_WRITE_PROTECTED] = { "write_protected", RP_SIM_STEP_IMAGE },
	[RP_SIM_FAULT_GARBAGE_METADATA] = { "garbage_metadata", RP_SIM_STEP_METADATA },
};

static const char *const steps[RP_SIM_STEP_COUNT] = {
	[RP_SIM_STEP_STAGE1] = "stage1",
	[RP_SIM_STEP_REENUM] = "reenum",
	[RP_SIM_STEP_CONFIG] = "config",
	[RP_SIM_STEP_SIG] = "sig",
	[RP_SIM_STEP_IMAGE] = "image",
	[RP_SIM_STEP_METADATA] = "metadata",
};

static const char help_text[] =
	"FAULT[@STEP][:BOARD]  inject FAULT into board BOARD (1-based; all boards if omitted)\n"
	"  at STEP (default: the fault's natural step).\n"
	"  FAULT: leave stall short silent rom_error bad_command unterminated_name\n"
	"         hostile_name wrong_hash write_protected garbage_metadata\n"
	"  STEP:  stage1 (second-stage download), reenum (coming back after stage 1),\n"
	"         config (config.txt), sig (pieeprom.sig), image (pieeprom.bin read),\n"
	"         metadata (reporting metadata)\n"
	"  e.g. leave@image:3  board 3 leaves the bus during the pieeprom.bin read\n";

/* Names are matched with '-' and '_' as the same character. */
static bool name_eq(const char *a, const char *b, size_t blen)
{
	size_t i = 0;
	for (; i < blen && a[i]; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return i == blen && !a[i];
}

const char *rp_sim_fault_name(enum rp_sim_fault f)
{
	if ((unsigned)f >= RP_SIM_FAULT_COUNT)
		return "unknown";
	return faults[f].name;
}

static int fault_lookup(const char *name, size_t len)
{
	for (int i = 0; i < RP_SIM_FAULT_COUNT; i++)
		if (name_eq(faults[i].name, name, len))
			return i;
	return -1;
}

static int step_lookup(const char *name, size_t len)
{
	for (int i = 0; i < RP_SIM_STEP_COUNT; i++)
		if (name_eq(steps[i], name, len))
			return i;
	return -1;
}

int rp_sim_fault_from_name(const char *name)
{
	return name ? fault_lookup(name, strlen(name)) : -1;
}

const char *rp_sim_step_name(enum rp_sim_step s)
{
	if ((unsigned)s >= RP_SIM_STEP_COUNT)
		return "unknown";
	return steps[s];
}

int rp_sim_step_from_name(const char *name)
{
	return name ? step_lookup(name, strlen(name)) : -1;
}

const char *rp_sim_fault_help(void)
{
	return help_text;
}

int rp_sim_fault_spec_parse(const char *text, struct rp_sim_fault_spec *out, struct rp_diag *d)
{
	const char *at, *colon, *end;
	size_t flen;
	int f, s;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "empty --sim-fault specification");
	colon = strchr(text, ':');
	at = strchr(text, '@');
	if (at && colon && at > colon)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "--sim-fault \"%s\": expected FAULT[@STEP][:BOARD]", text);
	end = at ? at : colon ? colon : text + strlen(text);
	flen = (size_t)(end - text);
	f = fault_lookup(text, flen);
	if (f <= 0)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "--sim-fault \"%s\": unknown fault \"%.*s\"",
				   text, (int)flen, text);
	out->fault = (enum rp_sim_fault)f;
	out->step = faults[f].natural_step;
	if (at) {
		const char *sbeg = at + 1;
		const char *send = colon ? colon : sbeg + strlen(sbeg);
		s = step_lookup(sbeg, (size_t)(send - sbeg));
		if (s < 0)
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--sim-fault \"%s\": unknown step \"%.*s\"", text,
					   (int)(send - sbeg), sbeg);
		out->step = (enum rp_sim_step)s;
	}
	if (colon) {
		char *e = NULL;
		unsigned long n;
		if (colon[1] < '0' || colon[1] > '9')
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--sim-fault \"%s\": board must be a number from 1", text);
		n = strtoul(colon + 1, &e, 10);
		if (*e || n == 0 || n > RP_SIM_MAX_BOARDS)
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "--sim-fault \"%s\": board must be a number from 1 to %u",
					   text, RP_SIM_MAX_BOARDS);
		out->board = (unsigned)n;
	}
	return RP_OK;
}
