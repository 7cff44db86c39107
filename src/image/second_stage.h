/* What a second stage is, told from its bytes rather than its file name
 * or folder: a recovery.bin names itself " RECOVERY" in its banner, the
 * bootsys of usbboot's bootfiles.bin " BOOTSYS", usbboot's mass-storage
 * bootcode4.bin " RPIBOOT". Its chip shows in strings only that chip's
 * code has (2712: the RP1 south bridge; 2711: its SDRAM driver), its build
 * date in "DATE: YYYY/MM/DD", and what it can report in the printf
 * formats of its metadata (*EEPROM_HASH*...). Every marker was read from
 * real binaries (rpi-eeprom's recovery.bin for both chips, usbboot's msd
 * and bootfiles.bin); doc/hardware.md lists them. Bytes that match none
 * are UNKNOWN: nothing is assumed about them. */
#ifndef RP_IMAGE_SECOND_STAGE_H
#define RP_IMAGE_SECOND_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_soc;

enum rp_second_stage_kind {
	RP_SECOND_STAGE_UNKNOWN = 0,
	RP_SECOND_STAGE_RECOVERY,   /* recovery.bin: flashes the EEPROM */
	RP_SECOND_STAGE_BOOTSYS,    /* bootfiles.bin's bootcode: DDR files, then boot.img */
	RP_SECOND_STAGE_RPIBOOT,    /* usbboot's msd bootcode4.bin: start4.elf and friends */
};

struct rp_second_stage_info {
	enum rp_second_stage_kind kind;
	const struct rp_soc *soc;   /* NULL: the bytes do not say */
	uint32_t build_date;        /* YYYYMMDD; 0: not found */
	bool sends_metadata;        /* has the *MAC_ADDR* report */
	bool reports_hash;          /* has the *EEPROM_HASH* and *EEPROM_UPDATE* reports */
};

void rp_second_stage_identify(const uint8_t *data, size_t len, struct rp_second_stage_info *out);

/* "recovery.bin", "bootfiles.bin bootsys", ...: for messages. */
const char *rp_second_stage_kind_name(enum rp_second_stage_kind k);

/* "BCM2711 recovery.bin built 2026-08-04" into buf, for messages. */
const char *rp_second_stage_describe(const struct rp_second_stage_info *i, char *buf, size_t size);

#endif
