/* Where the default inputs come from when the user names none: the
 * newest pieeprom-YYYY-MM-DD.bin (by the date in its name) and recovery.bin.
 *
 * Search: $RPIPROV_FIRMWARE_DIR/<soc>/ and $RPIPROV_FIRMWARE_DIR/ when that
 * variable is set (and nothing else, so a test or a factory setup is never
 * surprised by system files); otherwise the rpi-eeprom package folders
 * /lib/firmware/raspberrypi/<bootloader_dir>/{latest,default} (the SoC
 * table's bootloader-2711, bootloader-2712) and the same under /usr/lib.
 * Names ending in .gz count too (they are read inflated). */
#ifndef RP_IMAGE_FIRMWARE_H
#define RP_IMAGE_FIRMWARE_H

#include <stddef.h>

#include "util/error.h"

/* soc: the short name of a chip with an EEPROM ("2711", "2712"); NULL:
 * the default chip (rp_soc_default). Other names: RP_ERR_INVALID_ARG. */
int rp_firmware_find_image(const char *soc, char *path, size_t size, struct rp_diag *d);
/* recovery.bin: next to `image_path` first (when given), then the search
 * folders above. */
int rp_firmware_find_recovery(const char *soc, const char *image_path, char *path, size_t size,
			      struct rp_diag *d);

#endif
