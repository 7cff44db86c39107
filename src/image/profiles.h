/* Named boot.conf profiles (eeprom/NAME.conf, compiled in). */
#ifndef RP_IMAGE_PROFILES_H
#define RP_IMAGE_PROFILES_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

size_t rp_profile_count(void);
/* Name of profile i ("netboot"), or NULL past the end. */
const char *rp_profile_name(size_t i);

/* A profile's text: a built-in name, or a file when `name` contains '/'
 * or ends in ".conf". *text is malloc'ed and NUL-terminated; `source`
 * receives "profile netboot" or the path, for messages. */
int rp_profile_load(const char *name, uint8_t **text, size_t *len, char *source,
		    size_t source_size, struct rp_diag *d);

#endif
