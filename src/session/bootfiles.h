/* usbboot's bootfiles.bin: a tar archive on the host holding the files a
 * second stage asks for, one folder per rpiboot SoC folder ("2710/",
 * "2711/", "2712/": bootcode5.bin, mcb.bin, memsys*.bin, bootmain,
 * config.txt, boot.img, ...). The device never asks for bootfiles.bin
 * itself (F15); rpiboot looks a request up as "<soc>/<name>" inside it.
 *
 * The archive is untrusted input: every header is checked (checksum,
 * octal size within the archive, a name that is a plain relative path),
 * and anything but regular files is skipped. Read-only once loaded, so
 * lookups may run from any number of threads. */
#ifndef RP_SESSION_BOOTFILES_H
#define RP_SESSION_BOOTFILES_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* A bootfiles.bin larger than this is not one (usbboot's is a few MiB;
 * boot.img of the mass-storage gadget is about 30 MiB). */
#define RP_BOOTFILES_MAX (256u << 20)

struct rp_bootfiles;

/* Parse an archive held in memory (the bytes are copied); `label` names it
 * in messages. RP_ERR_FORMAT naming the entry and what is wrong. */
int rp_bootfiles_parse(const uint8_t *data, size_t len, const char *label,
		       struct rp_bootfiles **out, struct rp_diag *d);
int rp_bootfiles_load(const char *path, struct rp_bootfiles **out, struct rp_diag *d);
void rp_bootfiles_free(struct rp_bootfiles *b);

/* The entry "<soc_dir>/<name>": RP_OK with data/len pointing into the
 * archive (valid until rp_bootfiles_free), or RP_ERR_NOT_FOUND. */
int rp_bootfiles_find(const struct rp_bootfiles *b, const char *soc_dir, const char *name,
		      const uint8_t **data, size_t *len);
/* Number of regular files, and the i-th one: its path ("2712/mcb.bin",
 * NULL past the end) and its bytes. */
size_t rp_bootfiles_count(const struct rp_bootfiles *b);
const char *rp_bootfiles_entry(const struct rp_bootfiles *b, size_t i, const uint8_t **data,
			       size_t *len);

#endif
