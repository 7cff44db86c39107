/* pieeprom.bin: the bootloader SPI EEPROM image (512 KiB on a BCM2711,
 * 2 MiB on a BCM2712).
 *
 * An image is a list of 8-byte aligned sections, each a big-endian
 * {magic, length} header followed by `length` bytes. Modifiable files
 * (bootconf.txt, bootconf.sig, pubkey.bin, cacert.der, updatetime, bootsys)
 * carry a 12-byte name and 4 reserved bytes before their contents.
 *
 * Edits reproduce rpi-eeprom-config byte for byte: a replaced file gets a
 * new length, its contents, 0xff up to the next 8-byte boundary, then a
 * padding section (or plain 0xff) up to the next non-padding section. The
 * image is never edited in place on disk: callers load it, edit the copy
 * held by struct rp_eeprom, and write the result elsewhere. */
#ifndef RP_IMAGE_EEPROM_IMAGE_H
#define RP_IMAGE_EEPROM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "soc/soc.h"
#include "util/error.h"

#define RP_EEPROM_MAGIC_BOOTCODE 0x55aaf00fu
#define RP_EEPROM_MAGIC_FILE 0x55aaf11fu
#define RP_EEPROM_MAGIC_PAD 0x55aafeefu
#define RP_EEPROM_MAGIC_MASK 0xfffff00fu

#define RP_EEPROM_FILE_HDR 24u      /* magic, length, name[12], reserved[4] */
#define RP_EEPROM_FILE_NAME_LEN 12u
/* A modifiable file lives in one 4 KiB erase sector (4096 - 20, as the
 * reference editor counts its header). */
#define RP_EEPROM_MAX_FILE 4076u
/* The last 4 KiB of every image belong to the bootloader. */
#define RP_EEPROM_RESERVED_TAIL 4096u
/* Oldest bootloader that supports secure boot (signed bootconf.txt). */
#define RP_EEPROM_SECURE_BOOT_MIN_TS 1632136573

struct rp_eeprom_section {
	uint32_t offset;  /* of the 8-byte header */
	uint32_t magic;
	uint32_t length;  /* as stored: bytes after the 8-byte header */
	char name[RP_EEPROM_FILE_NAME_LEN + 1]; /* modifiable files only, up to the first NUL */
};

struct rp_eeprom {
	uint8_t *data;    /* owned copy of the image */
	size_t size;
	const struct rp_soc *soc; /* the chip whose EEPROM size the image has */
	struct rp_eeprom_section *sec;
	size_t n_sec;
	size_t cap_sec;
	size_t end_offset;  /* where the section list ended */
	bool ab;            /* A/B image: a `bootsys` file is present */
	uint32_t part_start, part_end; /* where modifiable files are looked up */
	char label[512];    /* file name used in messages */
};

/* Copy `len` bytes into img and parse them. Only the EEPROM sizes of the
 * SoC table (512 KiB for 2711, 2 MiB for 2712) are accepted. `label`
 * names the source in messages. */
int rp_eeprom_parse(struct rp_eeprom *img, const uint8_t *data, size_t len, const char *label,
		    struct rp_diag *d);
/* Read (".gz" is inflated) and parse a file. */
int rp_eeprom_load(struct rp_eeprom *img, const char *path, struct rp_diag *d);
void rp_eeprom_free(struct rp_eeprom *img);

/* The modifiable file `name` (in the partition of an A/B image), or NULL. */
const struct rp_eeprom_section *rp_eeprom_find_file(const struct rp_eeprom *img, const char *name);
/* Contents of a modifiable file, pointing into img->data (valid until the
 * next edit). RP_ERR_NOT_FOUND when the image has no such file. */
int rp_eeprom_get_file(const struct rp_eeprom *img, const char *name, const uint8_t **data,
		       size_t *len, struct rp_diag *d);
/* The bootcode section's payload (section 0), as `rpi-eeprom-config -x`
 * extracts it to bootcode.bin. */
int rp_eeprom_get_bootcode(const struct rp_eeprom *img, const uint8_t **data, size_t *len,
			   struct rp_diag *d);

/* Replace a modifiable file's contents exactly like rpi-eeprom-config.
 * Refused (image unchanged): files other than bootsys over 4076 bytes,
 * contents that would run past the next non-padding section, the end of an
 * A/B partition or into the last 4 KiB. */
int rp_eeprom_replace_file(struct rp_eeprom *img, const char *name, const uint8_t *data,
			   size_t len, struct rp_diag *d);
/* Replace the bootcode section (section 0) payload, same padding rules. */
int rp_eeprom_replace_bootcode(struct rp_eeprom *img, const uint8_t *data, size_t len,
			       struct rp_diag *d);

/* The update timestamp, LE ~ts then LE ts, where rpi-eeprom-config puts
 * it: in `updatetime` (both the read-only area's and the partition's) on
 * an A/B image, in the last 8 bytes otherwise, even on a 2711 image that
 * has an updatetime file. */
int rp_eeprom_set_timestamp(struct rp_eeprom *img, uint32_t ts, struct rp_diag *d);
/* Where rpi-eeprom-config put it before that: in the updatetime file of
 * any image that has one. Only for recognising a board whose firmware
 * still writes it there. */
int rp_eeprom_set_timestamp_in_files(struct rp_eeprom *img, uint32_t ts, struct rp_diag *d);
/* *is_set is false for an erased (0xffffffff) or inconsistent pair. */
void rp_eeprom_get_timestamp(const struct rp_eeprom *img, uint32_t *ts, bool *is_set);

/* BUILD_TIMESTAMP=<epoch> from the bootloader code, or -1 when absent. */
int64_t rp_eeprom_build_timestamp(const struct rp_eeprom *img);

/* Human name of a section magic: "bootcode", "file", "padding", ... */
const char *rp_eeprom_magic_name(uint32_t magic);

#endif
