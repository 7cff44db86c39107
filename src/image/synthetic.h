/* Bootloader images and a second stage built from nothing, for when no
 * Raspberry Pi firmware is at hand: the image logic's tests, and
 * simulated boards on a machine without firmware (`flash --simulate`,
 * `station --simulate`), so a demo never dead-ends. They are labelled
 * wherever they go (the image's bootconf.txt, the second stage's first
 * bytes, "synthetic" in every message and record) and are never served to
 * a real board: only a simulation asks for them.
 *
 * 2711: 512 KiB; bootcode, two firmware sections, then updatetime,
 * pubkey.bin, cacert.der, bootconf.sig and bootconf.txt (last), each
 * file at a 4 KiB boundary with a padding section up to the next one.
 * 2712: 2 MiB A/B layout like the released images: bootcode and
 * updatetime in the 64 KiB read-only area, then a 988 KiB partition with
 * bootsys, firmware and the same files, bootconf.txt followed by padding
 * sections up to the partition end and beyond. */
#ifndef RP_IMAGE_SYNTHETIC_H
#define RP_IMAGE_SYNTHETIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct rp_synth_opts {
	const char *soc;          /* "2711" (default when NULL) or "2712" */
	int64_t build_timestamp;  /* BUILD_TIMESTAMP=<n> in the bootcode; < 0: none */
	const char *bootconf;     /* NULL: a stock [all] config */
	bool no_updatetime;
	bool no_pubkey;           /* also drops bootconf.sig: no secure boot support */
	bool no_cacert;
	bool no_bootconf;
};

/* 2711, a 2026 build timestamp, all files present. */
struct rp_synth_opts rp_synth_defaults(void);

/* A malloc'ed image; RP_OK or RP_ERR_NOMEM. */
int rp_synth_image(const struct rp_synth_opts *o, uint8_t **out, size_t *len);

/* What a simulation serves when no firmware is found: an image for `soc`
 * whose bootconf.txt says it is synthetic, and a second stage whose bytes
 * say the same (the device model does not run it). */
#define RP_SYNTHETIC_LABEL "simulation only, not Raspberry Pi firmware"
int rp_synth_firmware(const char *soc, uint8_t **image, size_t *image_len, uint8_t **second,
		      size_t *second_len, struct rp_diag *d);

#endif
