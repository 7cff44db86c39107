/* manifest.json beside fetched firmware: what each file is and where it
 * came from, so a factory can show which bootloader it flashes. */
#ifndef RP_FIRMWARE_MANIFEST_H
#define RP_FIRMWARE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct rp_manifest_file {
	const char *name;
	const char *url;
	size_t size;
	char sha256[65];
	int64_t build_timestamp; /* < 0: none (recovery.bin) */
};

/* Written atomically to dir/manifest.json. */
int rp_manifest_write(const char *dir, const char *soc, const char *channel,
		      const char *index_url, const struct rp_manifest_file *files, size_t n,
		      struct rp_diag *d);

#endif
