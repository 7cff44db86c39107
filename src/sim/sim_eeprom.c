/* Sector writes and the timestamp. The section walk is the model's own
 * (the pieeprom section format), not src/image's: as a test oracle it must not share the
 * code whose output it checks. */
#include "sim/sim_eeprom.h"

#include <stdbool.h>
#include <string.h>

#include "util/endian.h"

#define MAGIC_MASK 0xfffff00fu
#define MAGIC_VALID 0x55aaf00fu
#define MAGIC_FILE 0x55aaf11fu
#define FILE_HDR 24u /* magic, length, 12-byte name, 4 reserved */

size_t rp_sim_eeprom_write(uint8_t *eeprom, size_t size, const uint8_t *image, size_t len)
{
	uint8_t sector[RP_SIM_SECTOR_SIZE];
	size_t written = 0;

	if (len > size)
		len = size;
	for (size_t off = 0; off < len; off += RP_SIM_SECTOR_SIZE) {
		size_t n = len - off < RP_SIM_SECTOR_SIZE ? len - off : RP_SIM_SECTOR_SIZE;
		memset(sector, 0xff, sizeof(sector));
		memcpy(sector, image + off, n);
		if (size - off < RP_SIM_SECTOR_SIZE)
			n = size - off;
		else
			n = RP_SIM_SECTOR_SIZE;
		if (!memcmp(eeprom + off, sector, n))
			continue;
		memcpy(eeprom + off, sector, n);
		written++;
	}
	return written;
}

size_t rp_sim_eeprom_erase(uint8_t *eeprom, size_t size)
{
	size_t erased = 0;

	for (size_t off = 0; off < size; off += RP_SIM_SECTOR_SIZE) {
		size_t n = size - off < RP_SIM_SECTOR_SIZE ? size - off : RP_SIM_SECTOR_SIZE;
		bool blank = true;
		for (size_t i = 0; i < n && blank; i++)
			blank = eeprom[off + i] == 0xff;
		if (!blank) {
			memset(eeprom + off, 0xff, n);
			erased++;
		}
	}
	return erased;
}

/* Stamp every `updatetime` file in [start, end); true when one was found. */
static bool stamp_area(uint8_t *img, size_t start, size_t end, const uint8_t pair[8])
{
	bool found = false;
	size_t off = start;

	while (off + 8 <= end) {
		uint32_t magic = rp_get_be32(img + off), length = rp_get_be32(img + off + 4);
		size_t next;

		if (magic == 0 || magic == 0xffffffffu || (magic & MAGIC_MASK) != MAGIC_VALID)
			break;
		if (length > end - off - 8)
			break;
		if (magic == MAGIC_FILE && length >= FILE_HDR - 8 + 8 &&
		    !strncmp((const char *)img + off + 8, "updatetime", 12)) {
			memcpy(img + off + FILE_HDR, pair, 8);
			found = true;
		}
		next = (off + 8 + length + 7) & ~(size_t)7;
		if (next <= off)
			break;
		off = next;
	}
	return found;
}

void rp_sim_eeprom_stamp(uint8_t *image, size_t len, uint32_t ab_ro_size, uint32_t ab_part_size,
			 uint32_t ts)
{
	uint8_t pair[8];
	bool found;

	if (len < 8)
		return;
	rp_put_le32(pair, ~ts);
	rp_put_le32(pair + 4, ts);
	/* Where rpi-eeprom-config puts it since its 2026 A/B rework, and so
	 * where the bootloader reads it: the updatetime files of an A/B
	 * image, the last 8 bytes of any other (a 2711 image too, although
	 * it has an updatetime file). */
	found = false;
	if (ab_ro_size && len >= (size_t)ab_ro_size + ab_part_size) {
		found = stamp_area(image, 0, ab_ro_size, pair);
		found = stamp_area(image, ab_ro_size, (size_t)ab_ro_size + ab_part_size, pair) || found;
	}
	if (!found)
		memcpy(image + len - 8, pair, 8);
}
