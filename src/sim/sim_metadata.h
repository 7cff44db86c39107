/* The metadata reports of recovery.bin (internal to src/sim): which keys a
 * chip's build of a given date sends, in which order, with which printf
 * formats (doc/hardware.md F16 and table 2.3). */
#ifndef RP_SIM_SIM_METADATA_H
#define RP_SIM_SIM_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the board knows when it reports. */
struct rp_sim_meta_values {
	const uint8_t *mac;        /* 6 bytes; Wi-Fi and BT follow it on 2712 */
	uint32_t boot_rom, board_rev, user_serial;
	const char *factory_uuid;  /* FACTORY_UUID as rpiboot prints it decoded (2712) */
	bool updated;              /* EEPROM written and verified, or already up to date */
	bool erased;               /* erase_eeprom=1 done */
	bool provisioned;          /* program_pubkey=1 asked and done */
	bool erase_asked;          /* erase_eeprom=1: EEPROM_ERASE is reported */
	bool provision_asked;      /* program_pubkey=1: SECURE_BOOT_PROVISION is reported */
	const char *eeprom_hash;   /* 64 lowercase hex */
};

/* Index of the first key at or after `from` that a `pid` recovery.bin
 * built on `date` (YYYYMMDD) sends for what config.txt asked (v's
 * erase_asked, provision_asked), or -1 when none is left. */
int rp_sim_metadata_next(uint16_t pid, uint32_t date, unsigned from,
			 const struct rp_sim_meta_values *v);
/* "*KEY*VALUE" of key `i` (from rp_sim_metadata_next) into out. */
void rp_sim_metadata_format(uint16_t pid, unsigned i, const struct rp_sim_meta_values *v,
			    char *out, size_t size);

/* FACTORY_UUID: the board's 18-character identity (digits and capital
 * letters) and the raw form recovery.bin sends, which rpiboot decodes
 * (decode_duid.c): three 32-bit words as %08x joined by '_', each word
 * two 16-bit halves (low half first), each half three C40 values
 * c0*1600 + c1*40 + c2 + 1 with '0'-'9' = 4-13 and 'A'-'Z' = 14-39.
 * Table 2.3's example: 19a519a6_19ab520e_1ac0212b <-> 001000911006186073.
 * The model's identity is "001000" then the user serial as 12 decimal
 * digits. Returns -1 when `duid` is not 18 C40 characters. */
#define RP_SIM_DUID_LEN 18
#define RP_SIM_DUID_RAW_LEN 26
void rp_sim_factory_uuid(uint32_t user_serial, char duid[RP_SIM_DUID_LEN + 1]);
int rp_sim_factory_uuid_encode(const char *duid, char raw[RP_SIM_DUID_RAW_LEN + 1]);

#endif
