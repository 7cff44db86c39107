/* The metadata reports of recovery.bin (internal to src/sim): which keys a
 * chip's build of a given date sends, in which order, with which printf
 * formats (HARDWARE-EVIDENCE.md F16 and table 2.3). */
#ifndef RP_SIM_SIM_METADATA_H
#define RP_SIM_SIM_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the board knows when it reports. */
struct rp_sim_meta_values {
	const uint8_t *mac;        /* 6 bytes; Wi-Fi and BT follow it on 2712 */
	uint32_t boot_rom, board_rev, user_serial;
	uint32_t uuid[3];          /* FACTORY_UUID words (2712) */
	bool updated;              /* EEPROM written and verified */
	bool erased;               /* erase_eeprom=1 done */
	bool provisioned;          /* program_pubkey=1 asked and done */
	const char *eeprom_hash;   /* 64 lowercase hex */
};

/* Index of the first key at or after `from` that a `pid` recovery.bin
 * built on `date` (YYYYMMDD) sends, or -1 when none is left. */
int rp_sim_metadata_next(uint16_t pid, uint32_t date, unsigned from);
/* "*KEY*VALUE" of key `i` (from rp_sim_metadata_next) into out. */
void rp_sim_metadata_format(uint16_t pid, unsigned i, const struct rp_sim_meta_values *v,
			    char *out, size_t size);

#endif
