/* What a second stage is, told from its bytes: the ROM runs whatever it is
 * sent, so the device model (and a host choosing a recovery.bin for a
 * board) must know whether those bytes are recovery.bin, usbboot's
 * bootcode/bootsys, and for which chip. Markers are strings found in the
 * real binaries (see the table in sim_second_stage.c). */
#ifndef RP_SIM_SIM_SECOND_STAGE_H
#define RP_SIM_SIM_SECOND_STAGE_H

#include <stddef.h>
#include <stdint.h>

enum rp_sim_second_stage_kind {
	RP_SIM_SS_UNKNOWN = 0,  /* none of the markers: the model runs it as its own recovery.bin */
	RP_SIM_SS_RECOVERY,     /* rpi-eeprom's recovery.bin: the flash script */
	RP_SIM_SS_BOOTSYS,      /* bootfiles.bin's bootcode4/5 (bootsys): the DDR chain (F15) */
	RP_SIM_SS_BOOTCODE,     /* usbboot's msd/embedded bootcode4.bin: the boot chain (F14) */
	RP_SIM_SS_SYNTHETIC,    /* rpiprov's synthetic second stage: a stand-in for recovery.bin */
};

/* The kind of `data`, and in *soc the chip it is built for ("2711",
 * "2712"), or NULL when the bytes do not say (unknown and synthetic
 * stages without a chip name). soc may be NULL. */
enum rp_sim_second_stage_kind rp_sim_second_stage_kind(const uint8_t *data, size_t len,
							const char **soc);

/* "recovery", "bootsys", "bootcode", "synthetic", "unknown". */
const char *rp_sim_second_stage_kind_name(enum rp_sim_second_stage_kind k);

#endif
