/* What recovery.bin asks for, per firmware generation (internal to
 * src/sim). Each generation is a table of steps; the board walks it in
 * order. Sources: doc/hardware.md F11-F15, C6, C7, C8, C18, C19. */
#ifndef RP_SIM_SIM_SCRIPT_H
#define RP_SIM_SIM_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_board.h"

enum rp_sim_ask {
	/* GetFileSize NAME, then ReadFile NAME when the size is not 0: real
	 * firmware asks the size of a file right before each read of it,
	 * and rpiboot serves a ReadFile from the last GetFileSize (F11). */
	RP_SIM_ASK_FILE = 0,
	RP_SIM_ASK_SIZE,          /* GetFileSize NAME only */
	RP_SIM_ASK_FLASH,         /* check the .sig, then write (or erase) the EEPROM */
	RP_SIM_ASK_FLASH_REBOOT,  /* the same, then reboot off the bus if it wrote (.upd, C6/C27) */
	RP_SIM_ASK_METADATA,      /* the *KEY*VALUE reports (F16) */
	RP_SIM_ASK_DONE,          /* command 2 (F17) */
	/* GetFileSize NAME, ReadFile when found; when missing the board
	 * hangs: no further request, still on the bus (C19). */
	RP_SIM_ASK_FILE_OR_HANG,
	/* Boots what it loaded: leaves the bus without Done (F14: "host then
	 * sees the device leave"; C20: the gadget starts after boot.img). */
	RP_SIM_ASK_LEAVE,
};

/* What the board does with a file's contents. */
enum rp_sim_role {
	RP_SIM_ROLE_NONE = 0,     /* read and ignored by the model (boot chain, vl805.sig) */
	RP_SIM_ROLE_CONFIG,
	RP_SIM_ROLE_SIG,
	RP_SIM_ROLE_IMAGE,
};

struct rp_sim_script_step {
	enum rp_sim_ask ask;
	const char *name;
	enum rp_sim_role role;
	enum rp_sim_step fault_step; /* where --sim-fault STEP fires; RP_SIM_STEP_COUNT: nowhere */
};

struct rp_sim_script {
	uint16_t pid;
	uint32_t since;              /* first recovery.bin build date (YYYYMMDD) using it */
	const char *what;
	const struct rp_sim_script_step *steps;
	size_t n_steps;
};

/* The script of a chip's recovery.bin built on `date`; NULL for a chip
 * the model does not play. */
const struct rp_sim_script *rp_sim_script_for(uint16_t pid, uint32_t date);

/* The request chain of a second stage that is not recovery.bin, on chip
 * pid: kind is an enum rp_sim_second_stage_kind (bootsys: F15; bootcode:
 * F14). NULL when none is modelled (then the ROM does not run it). */
const struct rp_sim_script *rp_sim_script_chain(int kind, uint16_t pid);

#endif
