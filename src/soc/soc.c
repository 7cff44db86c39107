#include "soc/soc.h"

#include <stdio.h>
#include <string.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

/* The device model's realistic figures (doc/hardware.md F6, F19,
 * 2.2). Every figure that no log gives is marked ASSUMPTION with why.
 *  - stage1_ms, the ROM's status after the second stage arrived: F6 says
 *    the host reads it about 1 s later (rpiboot sleeps 1 s first) and C17
 *    saw "Successful read 4 bytes" 3.1 s after sending the header; when
 *    the ROM itself is ready inside that is not known. ASSUMPTION:
 *    1000 ms, the shortest delay seen before a successful read.
 *  - reenum_ms: a 2711 ROM is off the bus ~2.6 s before the second stage
 *    enumerates (C4, kernel clock). No 2712 log times it (open question
 *    4). ASSUMPTION for 2712: the same 2.6 s, since both ROMs drop off
 *    when they jump and the second stage brings USB up again the same
 *    way; a CM5 host test must not rely on it.
 *  - verify_ms, one read of the whole EEPROM: 512 KiB in 347-628 ms on a
 *    CM4 (C26), 2 MiB in 2 499 ms on a Pi 5 (C25).
 *  - erase_ms/write_ms: NOT known (open question 8). ASSUMPTION: 10 ms
 *    per 4 KiB sector erase and 6 ms per sector programmed, which puts a
 *    full Pi 5 rewrite (read + 512 sectors + verify read) at ~13 s, inside
 *    F19's "> 10 s, < 20 s", and a full CM4 rewrite at ~3 s. */
#define CM4_TIMING { .stage1_ms = 1000, .reenum_ms = 2600, .erase_ms = 128 * 10, \
		     .write_ms = 128 * 6, .verify_ms = 500 }
#define PI5_TIMING { .stage1_ms = 1000, .reenum_ms = 2600 /* ASSUMPTION, see above */, \
		     .erase_ms = 512 * 10, .write_ms = 512 * 6, .verify_ms = 2500 }

static const struct rp_soc soc_table[] = {
	{
		.vid = RP_USB_VID_BROADCOM, .pid = 0x2763,
		.chip = "BCM2835", .soc = "2835", .boards = "Pi Zero, Pi 1, CM1",
		.second_stage = "bootcode.bin", .rpiboot_dir = "2710",
		/* Older ROMs use index 0; bootcode.bin reports 1 (usbboot PR#9). */
		.rom_serial_index = 0, .second_serial_index = { 1 },
	},
	{
		.vid = RP_USB_VID_BROADCOM, .pid = 0x2764,
		.chip = "BCM2837", .soc = "2837", .boards = "Pi 3, CM3",
		.second_stage = "bootcode.bin", .rpiboot_dir = "2710",
		.rom_serial_index = 0, .second_serial_index = { 1 },
		/* The BCM2710 ROM has the 55/32 descriptor quirk too (F4). */
		.rom_short_config = true,
	},
	{
		.vid = RP_USB_VID_BROADCOM, .pid = 0x2711,
		.chip = "BCM2711", .soc = "2711", .boards = "Pi 4, CM4, Pi 400",
		.eeprom_size = 512u * KIB,
		.second_stage = "bootcode4.bin", .rpiboot_dir = "2711",
		.bootloader_dir = "bootloader-2711", .firmware_dir = "firmware-2711",
		.usbboot_recovery_dir = "recovery",
		/* ROM 3 (F2); second stage 4 since 2022, 1 on 2021 builds (F9;
		 * when exactly it changed is open question 5). */
		.rom_serial_index = 3, .second_serial_index = { 4, 1 },
		.second_serial_since = { 20220101, 0 },
		.rom_short_config = true, /* F4: C4, C5, C11, C13 */
		/* c03141: a CM4 revision code, the example the value formats of
		 * 2.3 give (not a capture). BOOT_ROM 0000c8b0: ASSUMPTION, no
		 * source gives a 2711 ROM's value. */
		.model_boot_rom = 0x0000c8b0, .model_board_rev = 0xc03141,
		.model_timing = CM4_TIMING,
	},
	{
		.vid = RP_USB_VID_BROADCOM, .pid = 0x2712,
		.chip = "BCM2712", .soc = "2712", .boards = "Pi 5, CM5, Pi 500",
		/* 64 KiB read-only area, then a 988 KiB A/B partition. */
		.eeprom_size = 2u * MIB, .ab_ro_size = 64u * KIB, .ab_part_size = 988u * KIB,
		.second_stage = "bootcode5.bin", .rpiboot_dir = "2712",
		.bootloader_dir = "bootloader-2712", .firmware_dir = "firmware-2712",
		.usbboot_recovery_dir = "recovery5",
		/* ROM 3 (F2). No log has caught the second stage's index (open
		 * question 4): 4 as on 2711 is an ASSUMPTION. No 55/32
		 * descriptor quirk in the one 2712 dmesg (C22). */
		.rom_serial_index = 3, .second_serial_index = { 4 },
		.second_serial_since = { 0 },
		.extra_metadata = true,
		/* BOOT_ROM 0000000a as in the Pi 5 README (2.4); c04180 = CM5 (C18, C20). */
		.model_boot_rom = 0x0000000a, .model_board_rev = 0xc04180,
		.model_timing = PI5_TIMING,
	},
};

#define N_SOC (sizeof(soc_table) / sizeof(soc_table[0]))

/* The chip of the first boards rpiprov was built for, and the only one
 * every command supported before --soc existed. */
#define DEFAULT_PID 0x2711

const struct rp_soc *rp_soc_table(size_t *count)
{
	*count = N_SOC;
	return soc_table;
}

const struct rp_soc *rp_soc_by_usb_id(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < N_SOC; i++)
		if (soc_table[i].vid == vid && soc_table[i].pid == pid)
			return &soc_table[i];
	return NULL;
}

const struct rp_soc *rp_soc_by_name(const char *soc)
{
	for (size_t i = 0; soc && i < N_SOC; i++)
		if (!strcmp(soc_table[i].soc, soc))
			return &soc_table[i];
	return NULL;
}

const struct rp_soc *rp_soc_eeprom_by_name(const char *soc)
{
	const struct rp_soc *s = rp_soc_by_name(soc);
	return s && rp_soc_has_eeprom(s) ? s : NULL;
}

const struct rp_soc *rp_soc_by_eeprom_size(size_t image_size)
{
	for (size_t i = 0; image_size && i < N_SOC; i++)
		if (soc_table[i].eeprom_size == image_size)
			return &soc_table[i];
	return NULL;
}

const struct rp_soc *rp_soc_default(void)
{
	return rp_soc_by_usb_id(RP_USB_VID_BROADCOM, DEFAULT_PID);
}

bool rp_soc_same_family(const struct rp_soc *a, const struct rp_soc *b)
{
	return a && b && !strcmp(a->rpiboot_dir, b->rpiboot_dir);
}

bool rp_soc_serial_index_is_rom(uint8_t serial_index)
{
	for (size_t i = 0; i < N_SOC; i++)
		if (soc_table[i].rom_serial_index == serial_index)
			return true;
	return false;
}

uint8_t rp_soc_second_serial_index(const struct rp_soc *s, uint32_t firmware_date)
{
	for (size_t k = 0; k < RP_SOC_MAX_SECOND_INDICES && s->second_serial_index[k]; k++)
		if (s->second_serial_since[k] <= firmware_date)
			return s->second_serial_index[k];
	return 0;
}

const char *rp_soc_eeprom_names(char *buf, size_t size)
{
	size_t total = 0, seen = 0, used = 0;

	for (size_t i = 0; i < N_SOC; i++)
		total += rp_soc_has_eeprom(&soc_table[i]);
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < N_SOC; i++) {
		const char *sep;
		int n;
		if (!rp_soc_has_eeprom(&soc_table[i]))
			continue;
		seen++;
		sep = seen == 1 ? "" : seen == total ? " or " : ", ";
		if (used >= size)
			break;
		n = snprintf(buf + used, size - used, "%s%s", sep, soc_table[i].soc);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}
