/* Builds bootloader images without real firmware (through the library's
 * builder, src/image/synthetic.c), so the image logic is
 * tested everywhere (and other areas can serve a realistic pieeprom.bin).
 *
 * 2711: 512 KiB; bootcode, two firmware sections, then updatetime,
 * pubkey.bin, cacert.der, bootconf.sig and bootconf.txt (last), each
 * file at a 4 KiB boundary with a padding section up to the next one.
 * 2712: 2 MiB A/B layout like the released images: bootcode and
 * updatetime in the 64 KiB read-only area, then a 988 KiB partition with
 * bootsys, firmware and the same files, bootconf.txt followed by padding
 * sections up to the partition end and beyond. */
#ifndef RP_TESTS_SYNTH_IMAGE_H
#define RP_TESTS_SYNTH_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct synth_opts {
	const char *soc;          /* "2711" (default when NULL) or "2712" */
	int64_t build_timestamp;  /* BUILD_TIMESTAMP=<n> in the bootcode; < 0: none */
	const char *bootconf;     /* NULL: a stock [all] config */
	bool no_updatetime;
	bool no_pubkey;           /* also drops bootconf.sig: no secure boot support */
	bool no_cacert;
	bool no_bootconf;
};

/* Default options: 2711, a 2026 build timestamp, all files present. */
struct synth_opts synth_defaults(void);

/* malloc'ed image; returns 0 or -1 (out of memory). */
int synth_image(const struct synth_opts *o, uint8_t **out, size_t *len);

/* Write one to a file; returns 0 or -1. */
int synth_image_file(const struct synth_opts *o, const char *path);

#endif
