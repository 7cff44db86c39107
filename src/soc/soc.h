/* The chips rpiprov talks to, one table row each: USB ids, names, EEPROM
 * layout, second-stage and folder names, descriptor string indices and the
 * figures the device model uses. Every other area asks this table instead
 * of naming a chip, so supporting a new chip is one row here (plus its
 * tests), and the udev rules are generated from the same rows.
 *
 * Facts come from doc/hardware.md and the public usbboot and rpi-eeprom sources
 * (F1, F2, F9, table 2.1); where a fact is not known the row says so. */
#ifndef RP_SOC_SOC_H
#define RP_SOC_SOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every row has this vendor: the libusb hotplug filter relies on one. */
#define RP_USB_VID_BROADCOM 0x0a5c

/* Room for the longest short name plus its NUL: records, prepared
 * payloads and .sig files keep the name in buffers of this size. */
#define RP_SOC_NAME_MAX 8

/* Second-stage iSerialNumber indices a row can list (0-terminated). */
#define RP_SOC_MAX_SECOND_INDICES 3

/* Device-side delays the device model (src/sim) uses for --sim-timing
 * realistic: ROM start of the second stage, off-bus time before it
 * re-enumerates, and the SPI figures of the whole EEPROM: erasing every
 * 4 KiB sector, programming every sector, and one full read (recovery.bin
 * reads the EEPROM before writing and again to verify, F18). The model
 * pays erase and write in proportion to the sectors that differ. */
struct rp_soc_timing {
	unsigned stage1_ms;
	unsigned reenum_ms;
	unsigned erase_ms;   /* all sectors */
	unsigned write_ms;   /* all sectors */
	unsigned verify_ms;  /* one read of the whole EEPROM */
};

struct rp_soc {
	uint16_t vid;
	uint16_t pid;                /* the boot ROM's idProduct (the second stage keeps it) */
	const char *chip;            /* "BCM2711" */
	const char *soc;             /* "2711": records, .sig target-soc, --soc */
	const char *boards;          /* "Pi 4, CM4, Pi 400": for people (udev comments) */

	/* SPI EEPROM; eeprom_size 0: the board boots without one. An A/B
	 * image (found by its `bootsys` file) has a read-only area of
	 * ab_ro_size bytes and then a partition of ab_part_size bytes in
	 * which the modifiable files live; ab_ro_size 0: no A/B layout. */
	size_t eeprom_size;
	uint32_t ab_ro_size;
	uint32_t ab_part_size;

	const char *second_stage;    /* what stage 1 sends: "bootcode4.bin" */
	const char *rpiboot_dir;     /* rpiboot's per-chip folder: "2711"; "2710" for 2835/2837 */
	const char *bootloader_dir;  /* rpi-eeprom package folder: "bootloader-2711"; NULL without EEPROM */
	const char *firmware_dir;    /* rpi-eeprom source folder: "firmware-2711"; NULL without EEPROM */
	const char *usbboot_recovery_dir; /* usbboot checkout's recovery folder: "recovery",
					   * "recovery5"; NULL without EEPROM */

	/* iSerialNumber index of the boot ROM, and the indices its second
	 * stage has been seen with (0-terminated, newest first; empty when
	 * no log shows it). second_serial_since[k] is the first firmware
	 * build date (YYYYMMDD) that uses second_serial_index[k]; 0 for the
	 * oldest builds. */
	uint8_t rom_serial_index;
	uint8_t second_serial_index[RP_SOC_MAX_SECOND_INDICES];
	uint32_t second_serial_since[RP_SOC_MAX_SECOND_INDICES];

	/* The ROM's configuration descriptor claims more than it returns
	 * (2711: wTotalLength 55 with 2 interfaces, 32 bytes with 1
	 * interface arrive; doc/hardware.md F4). */
	bool rom_short_config;

	/* recovery.bin also reports FACTORY_UUID, MAC_BT_ADDR, MAC_WIFI_ADDR
	 * and SIGNATURE_MODE (doc/hardware.md table 2.3). */
	bool extra_metadata;

	/* What the device model reports for BOOT_ROM (%08x) and
	 * USER_BOARDREV (%x), and its realistic delays; zero for chips the
	 * model does not play. */
	uint32_t model_boot_rom;
	uint32_t model_board_rev;
	struct rp_soc_timing model_timing;
};

/* The whole table, in a stable order (oldest chip first): iterate with
 * for (i = 0; i < n; i++). */
const struct rp_soc *rp_soc_table(size_t *count);

/* NULL when nothing matches. */
const struct rp_soc *rp_soc_by_usb_id(uint16_t vid, uint16_t pid);
const struct rp_soc *rp_soc_by_name(const char *soc);          /* "2711"; NULL name: NULL */
const struct rp_soc *rp_soc_by_eeprom_size(size_t image_size); /* never a chip without EEPROM */

/* The chip named `soc` if it has a bootloader EEPROM, else NULL: what
 * --soc, a .sig's target-soc: and the firmware lookup accept. */
const struct rp_soc *rp_soc_eeprom_by_name(const char *soc);

/* The chip assumed when the user names none (--soc, the simulator). */
const struct rp_soc *rp_soc_default(void);

static inline bool rp_soc_has_eeprom(const struct rp_soc *s)
{
	return s->eeprom_size != 0;
}

/* Whether a second stage of `b` on the port of a ROM of `a` can be the
 * same board: chips that share rpiboot's folder (the bootcode.bin family)
 * may re-enumerate under each other's id. */
bool rp_soc_same_family(const struct rp_soc *a, const struct rp_soc *b);

/* rpiboot's stage rule: an iSerialNumber index that some chip's boot ROM
 * uses (0 or 3) means the ROM is running (send the second stage); any
 * other index means a second stage is serving files. It is one rule for
 * all chips because the index is read before the chip is trusted. */
bool rp_soc_serial_index_is_rom(uint8_t serial_index);

/* The iSerialNumber index a second stage built on firmware_date
 * (YYYYMMDD) enumerates with: the newest listed index whose
 * second_serial_since is not after the date; 0 when the row lists none. */
uint8_t rp_soc_second_serial_index(const struct rp_soc *s, uint32_t firmware_date);

/* "2711 or 2712": the names of the chips with an EEPROM, for messages
 * that list what an option accepts. Returns buf (truncated if small). */
const char *rp_soc_eeprom_names(char *buf, size_t size);

#endif
