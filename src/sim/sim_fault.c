/* Fault and step names for --sim-fault and test tables, and the parser
 * of FAULT[@STEP][:BOARD]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_board.h"
#include "sim/sim_source.h"

/* Each fault, where it fires when no step is given, and for hardware
 * behaviour the doc/hardware.md facts and cases that show a real
 * board doing it. A behaviour without a log is not in the first group;
 * the second group is a hostile device, used to test the host's input
 * checks, and is not listed in --help or the README. */
struct fault_desc {
	const char *name;
	enum rp_sim_step natural_step;
	const char *evidence; /* NULL: hostile device, not hardware behaviour */
};

static const struct fault_desc faults[RP_SIM_FAULT_COUNT] = {
	[RP_SIM_FAULT_NONE] = { "none", RP_SIM_STEP_STAGE1, NULL },
	/* @reenum: the second stage never appears (C22 2712 ROM gone after
	 * 0.6 s; F22/C16/C17 no re-enumeration); elsewhere the board resets
	 * or vanishes mid-session (F17, F23, C18). */
	[RP_SIM_FAULT_LEAVE] = { "leave", RP_SIM_STEP_REENUM, "C22, F22; F17, F23, C18" },
	/* C3: after the last answer nothing more came (rpiboot sat waiting). */
	[RP_SIM_FAULT_SILENT] = { "silent", RP_SIM_STEP_METADATA, "C3" },
	/* C23: "Failed to write correct length"; C11 "returned 0". */
	[RP_SIM_FAULT_SHORT] = { "short", RP_SIM_STEP_STAGE1, "C23, C11" },
	[RP_SIM_FAULT_STATUS_READ_FAILS] = { "status_read_fails", RP_SIM_STEP_STAGE1, "F7, C13" },
	[RP_SIM_FAULT_OPEN_FAILS_ONCE] = { "open_fails_once", RP_SIM_STEP_REENUM, "F8, C1" },
	[RP_SIM_FAULT_WRITE_PROTECTED] = { "write_protected", RP_SIM_STEP_IMAGE,
					   "C9, C25, C26, C28" },
	/* C15: an empty .sig is a hard failure (blink code). */
	[RP_SIM_FAULT_BAD_SIG] = { "bad_sig", RP_SIM_STEP_SIG, "C15, F12" },
	[RP_SIM_FAULT_SLOW_REQUEST] = { "slow_request", RP_SIM_STEP_IMAGE, "F19" },
	/* recovery_reboot=1 (2.4: usbboot#224; C9, C10). */
	[RP_SIM_FAULT_VANISH_AFTER_METADATA] = { "vanish_after_metadata", RP_SIM_STEP_METADATA,
						  "F17, C10" },
	[RP_SIM_FAULT_EMPTY_NAME_DONE] = { "empty_name_done", RP_SIM_STEP_METADATA, "F17" },
	/* C16/C17: after "Successful read 4 bytes" the device was found
	 * again as the ROM (idx 3); C14 likewise found 2711 again. The model
	 * does it once, then takes a second stage 1. */
	[RP_SIM_FAULT_ROM_AGAIN] = { "rom_again", RP_SIM_STEP_STAGE1, "C16, C17, C14" },
	/* C13: "Failed : 0x0" (status read failed), then "Failed control
	 * transfer (-7,24)": the ROM stayed on the bus and the next header
	 * timed out. The model: one header times out, the next one works. */
	[RP_SIM_FAULT_STATUS_STUCK] = { "status_stuck", RP_SIM_STEP_STAGE1, "C13, F7, F23" },
	/* C13: "Failed to claim interface" twice, then success (F23). */
	[RP_SIM_FAULT_CLAIM_FAILS] = { "claim_fails", RP_SIM_STEP_STAGE1, "C13, F23" },
	/* hostile device (not hardware behaviour) */
	[RP_SIM_FAULT_STALL] = { "stall", RP_SIM_STEP_IMAGE, NULL },
	[RP_SIM_FAULT_BAD_COMMAND] = { "bad_command", RP_SIM_STEP_CONFIG, NULL },
	[RP_SIM_FAULT_UNTERMINATED_NAME] = { "unterminated_name", RP_SIM_STEP_CONFIG, NULL },
	[RP_SIM_FAULT_HOSTILE_NAME] = { "hostile_name", RP_SIM_STEP_CONFIG, NULL },
	[RP_SIM_FAULT_GARBAGE_METADATA] = { "garbage_metadata", RP_SIM_STEP_METADATA, NULL },
};

static const char *const steps[RP_SIM_STEP_COUNT] = {
	[RP_SIM_STEP_STAGE1] = "stage1",
	[RP_SIM_STEP_REENUM] = "reenum",
	[RP_SIM_STEP_CONFIG] = "config",
	[RP_SIM_STEP_SIG] = "sig",
	[RP_SIM_STEP_IMAGE] = "image",
	[RP_SIM_STEP_METADATA] = "metadata",
};

/* Only hardware behaviour, said in words: the ids of doc/hardware.md
 * behind each line are in the table above (rp_sim_fault_evidence), not
 * in text a user reads. test-sim checks the list against the table. */
static const char help_text[] =
	"FAULT[@STEP][:BOARD]  inject FAULT into board BOARD (1-based; all boards if omitted)\n"
	"  at STEP (default: the fault's natural step). What real boards were seen doing:\n"
	"  leave                  leaves the bus; @reenum (default): never comes back\n"
	"  silent                 stops answering, the host waits\n"
	"  short                  takes fewer bytes than sent in one transfer\n"
	"  status_read_fails      resets before the 4-byte status read, still comes back\n"
	"  open_fails_once        the first open of the second stage fails (still enumerating)\n"
	"  write_protected        the EEPROM write fails, the board gives up without metadata\n"
	"  bad_sig                pieeprom.sig rejected: fatal, the board stops\n"
	"  slow_request           the next request comes > 10 s after the flash (a Pi 5)\n"
	"  vanish_after_metadata  leaves right after its metadata, no Done (recovery_reboot=1)\n"
	"  empty_name_done        ends with an empty name instead of Done\n"
	"  rom_again              after stage 1 comes back as the boot ROM, once\n"
	"  status_stuck           the status read fails and the ROM is stuck: the next\n"
	"                         boot message times out once\n"
	"  claim_fails            the first two claims of the interface fail (busy)\n"
	"  STEP:  stage1 (second-stage download), reenum (coming back after stage 1),\n"
	"         config (config.txt), sig (pieeprom.sig), image (pieeprom.bin and the flash),\n"
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

bool rp_sim_fault_is_hardware(enum rp_sim_fault f)
{
	return (unsigned)f < RP_SIM_FAULT_COUNT && faults[f].evidence != NULL;
}

const char *rp_sim_fault_evidence(enum rp_sim_fault f)
{
	return (unsigned)f < RP_SIM_FAULT_COUNT ? faults[f].evidence : NULL;
}

enum rp_sim_step rp_sim_fault_natural_step(enum rp_sim_fault f)
{
	return (unsigned)f < RP_SIM_FAULT_COUNT ? faults[f].natural_step : RP_SIM_STEP_STAGE1;
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
