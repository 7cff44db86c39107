/* The list of files of one channel folder (firmware-<soc>/<channel>/), as
 * the GitHub contents API returns it for raspberrypi/rpi-eeprom, and as a
 * mirror serves it in index.json: a JSON array of objects with "name" and
 * optionally "download_url" (absolute), "size" and "sha" (the git blob
 * SHA-1, checked when given). Untrusted: every field is checked. */
#ifndef RP_FIRMWARE_INDEX_H
#define RP_FIRMWARE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct rp_index_entry {
	char name[64];
	char url[2048];     /* "" when the index gave none: the caller builds it */
	int64_t size;       /* -1 when not given */
	char git_sha[41];   /* "" when not given */
	char date[11];      /* images only */
};

struct rp_index_choice {
	struct rp_index_entry image;    /* the newest pieeprom-YYYY-MM-DD.bin */
	struct rp_index_entry recovery; /* recovery.bin */
};

/* `source` names the index in messages. RP_ERR_FORMAT when it is not such
 * a list; RP_ERR_NOT_FOUND when it lacks an image or recovery.bin. */
int rp_index_choose(const char *json, size_t len, const char *source,
		    struct rp_index_choice *out, struct rp_diag *d);

/* Whether data has git blob SHA-1 `sha` (40 hex digits). */
bool rp_index_git_sha_matches(const uint8_t *data, size_t len, const char *sha);

#endif
