/* The board's SPI EEPROM as recovery.bin treats it (internal to src/sim):
 * 4 KiB erase sectors, only differing sectors rewritten, the update
 * timestamp stamped into the image first. */
#ifndef RP_SIM_SIM_EEPROM_H
#define RP_SIM_SIM_EEPROM_H

#include <stddef.h>
#include <stdint.h>

#define RP_SIM_SECTOR_SIZE 4096u

/* Write `image` (len <= size) over `eeprom` sector by sector: a sector
 * whose new contents equal the old is left alone (a '.' on the UART), any
 * other is erased and programmed ('+'); the last partial sector is padded
 * with 0xff. Returns the number of sectors rewritten (F18). */
size_t rp_sim_eeprom_write(uint8_t *eeprom, size_t size, const uint8_t *image, size_t len);

/* erase_eeprom=1: every sector that is not already blank is erased.
 * Returns the number erased. */
size_t rp_sim_eeprom_erase(uint8_t *eeprom, size_t size);

/* Put the update timestamp where rpi-eeprom-config keeps it
 * (doc/hardware.md 2.4 "Timestamp location"; F20): LE ~ts then LE ts
 * as the contents of the `updatetime` files of an A/B image (the
 * read-only area and the partition: ab_ro_size/ab_part_size), else in the
 * last 8 bytes of the image. */
void rp_sim_eeprom_stamp(uint8_t *image, size_t len, uint32_t ab_ro_size, uint32_t ab_part_size,
			 uint32_t ts);

#endif
