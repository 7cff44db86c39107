/* Text compiled into the library from eeprom/NAME.conf and
 * recovery/config.txt by embed-text.py at build time. */
#ifndef RP_IMAGE_EMBEDDED_H
#define RP_IMAGE_EMBEDDED_H

#include <stddef.h>

struct rp_embedded_text {
	const char *name;
	const char *text;
	size_t len;
};

extern const char rp_embedded_recovery_config[];
extern const size_t rp_embedded_recovery_config_len;
extern const struct rp_embedded_text rp_embedded_profiles[];
extern const size_t rp_embedded_profiles_count;

#endif
