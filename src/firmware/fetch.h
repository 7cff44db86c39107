/* `rpiprov firmware fetch`: the newest bootloader image and recovery.bin
 * of one channel of raspberrypi/rpi-eeprom, downloaded (libcurl), checked
 * and kept in the cache the firmware search reads (image/firmware.h).
 *
 * Where from: the GitHub contents API lists a channel folder
 * (https://api.github.com/repos/raspberrypi/rpi-eeprom/contents/firmware-2711/default)
 * with each file's name, size, git SHA-1 and download_url
 * (raw.githubusercontent.com); raw.githubusercontent.com itself lists no
 * folder. A mirror (--base-url, RPIPROV_FIRMWARE_URL) has the same tree,
 * BASE/firmware-<soc>/<channel>/<file>, plus an index.json in each
 * channel folder in the same format (download_url may be left out: the
 * file is then BASE/firmware-<soc>/<channel>/<name>).
 *
 * Nothing is written until both files are downloaded and checked: the
 * image parses (sections, SoC by size, BUILD_TIMESTAMP), sizes and git
 * SHA-1s match the index. Then each file is written through a temporary
 * file and rename, then manifest.json (name, size, sha256, source URL of
 * each), and older images of that channel are removed. */
#ifndef RP_FIRMWARE_FETCH_H
#define RP_FIRMWARE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/http.h"
#include "util/error.h"

#define RP_FIRMWARE_GITHUB_API "https://api.github.com/repos/raspberrypi/rpi-eeprom/contents"

struct rp_fetch_opts {
	const char *soc;              /* "2711" or "2712" */
	const char *channel;          /* "default", "latest", ...: [a-z0-9_-] */
	const char *base_url;         /* NULL: $RPIPROV_FIRMWARE_URL, else GitHub */
	const char *cache_root;       /* rp_firmware_cache_root(); files go to <root>/<soc>/<channel>/ */
	unsigned connect_timeout_ms;  /* 0: 15 s */
	unsigned stall_timeout_ms;    /* 0: 30 s without a byte */
	rp_http_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};

struct rp_fetch_result {
	char dir[4096];
	char image_path[4200];
	char recovery_path[4200];
	char image_date[11];
	char image_sha256[65];
	char image_url[2048];
	char index_url[2048];
};

int rp_firmware_fetch(const struct rp_fetch_opts *o, struct rp_fetch_result *res,
		      struct rp_diag *d);

#endif
