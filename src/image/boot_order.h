/* BOOT_ORDER: up to eight hex digits, each a boot mode, tried from the
 * least significant digit up: 0xf21 tries SD (1), then network (2), then
 * restarts the list (f). */
#ifndef RP_IMAGE_BOOT_ORDER_H
#define RP_IMAGE_BOOT_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct rp_boot_order {
	uint32_t value;
	unsigned ndigits;  /* as written, so 0x0f21 keeps its leading SD-card-detect digit */
};

/* Parse the value of a BOOT_ORDER line ("0xf21"; trailing blanks ignored).
 * Refuses a missing 0x prefix, non-hex text, more than 8 digits and any
 * digit that is not a boot mode; the message names the digit and its
 * position counted from the right (1 = tried first). */
int rp_boot_order_parse(const char *text, size_t len, struct rp_boot_order *out,
			struct rp_diag *d);

/* Words for a user ("SD card/eMMC, then network boot, then restart"). */
size_t rp_boot_order_describe(const struct rp_boot_order *o, char *buf, size_t size);

#endif
