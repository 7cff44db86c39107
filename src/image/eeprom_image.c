#include "image/eeprom_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/endian.h"
#include "util/fileio.h"

/* Larger inputs are read only far enough to say that the size is wrong. */
#define MAX_INPUT_SIZE (64u << 20)

struct magic_name {
	uint32_t magic;
	const char *name;
};

static const struct magic_name magic_names[] = {
	{ RP_EEPROM_MAGIC_BOOTCODE, "bootcode" },
	{ RP_EEPROM_MAGIC_FILE, "file" },
	{ RP_EEPROM_MAGIC_PAD, "padding" },
	{ 0x55aaf22fu, "firmware" },
	{ 0x55aaf33fu, "firmware (compressed)" },
	{ 0x55aaf44fu, "firmware (LZ4)" },
};

/* Per-file size limits: everything but bootsys lives in one erase sector. */
struct file_limit {
	const char *name;
	size_t max;
};

static const struct file_limit file_limits[] = {
	{ "bootsys", SIZE_MAX },
};

const char *rp_eeprom_magic_name(uint32_t magic)
{
	for (size_t i = 0; i < sizeof(magic_names) / sizeof(magic_names[0]); i++)
		if (magic_names[i].magic == magic)
			return magic_names[i].name;
	return "unknown";
}

static size_t file_max(const char *name)
{
	for (size_t i = 0; i < sizeof(file_limits) / sizeof(file_limits[0]); i++)
		if (!strcmp(file_limits[i].name, name))
			return file_limits[i].max;
	return RP_EEPROM_MAX_FILE;
}

static size_t align8(size_t v)
{
	return (v + 7u) & ~(size_t)7u;
}

static int push_section(struct rp_eeprom *img, const struct rp_eeprom_section *s,
			struct rp_diag *d)
{
	if (img->n_sec == img->cap_sec) {
		size_t ncap = img->cap_sec ? img->cap_sec * 2 : 64;
		struct rp_eeprom_section *n = realloc(img->sec, ncap * sizeof(*n));
		if (!n)
			return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", img->label);
		img->sec = n;
		img->cap_sec = ncap;
	}
	img->sec[img->n_sec++] = *s;
	return RP_OK;
}

static void file_name(const uint8_t *p, char out[RP_EEPROM_FILE_NAME_LEN + 1])
{
	size_t n = 0;
	while (n < RP_EEPROM_FILE_NAME_LEN && p[n])
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Walk the section list. Called after every edit, so the table always
 * describes the bytes. */
static int scan(struct rp_eeprom *img, struct rp_diag *d)
{
	size_t off = 0;

	img->n_sec = 0;
	img->ab = false;
	img->part_start = 0;
	img->part_end = (uint32_t)img->size;
	while (off + 8 <= img->size) {
		struct rp_eeprom_section s = { 0 };
		s.offset = (uint32_t)off;
		s.magic = rp_get_be32(img->data + off);
		s.length = rp_get_be32(img->data + off + 4);
		if (s.magic == 0 || s.magic == 0xffffffffu)
			break;
		if ((s.magic & RP_EEPROM_MAGIC_MASK) != RP_EEPROM_MAGIC_BOOTCODE)
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "%s: corrupt image: bad section magic 0x%08x at offset %zu",
					   img->label, s.magic, off);
		if (off == 0 && s.magic != RP_EEPROM_MAGIC_BOOTCODE)
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "%s: corrupt image: offset 0 holds magic 0x%08x, not the bootcode section (0x%08x)",
					   img->label, s.magic, RP_EEPROM_MAGIC_BOOTCODE);
		if (s.length > img->size - off - 8)
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "%s: corrupt image: section at offset %zu (magic 0x%08x) is %u bytes long, past the end of the image",
					   img->label, off, s.magic, s.length);
		if (s.magic == RP_EEPROM_MAGIC_FILE) {
			if (s.length < RP_EEPROM_FILE_HDR - 8)
				return rp_diag_set(d, RP_ERR_FORMAT,
						   "%s: corrupt image: file section at offset %zu (magic 0x%08x) is only %u bytes long",
						   img->label, off, s.magic, s.length);
			file_name(img->data + off + 8, s.name);
		}
		int r = push_section(img, &s, d);
		if (r < 0)
			return r;
		off = align8(off + 8 + s.length);
	}
	img->end_offset = off < img->size ? off : img->size;
	if (img->n_sec == 0)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: corrupt image: no bootcode section at offset 0 (erased or not a bootloader image)",
				   img->label);
	if (img->soc->ab_ro_size) {
		for (size_t i = 0; i < img->n_sec; i++) {
			if (img->sec[i].magic == RP_EEPROM_MAGIC_FILE &&
			    !strcmp(img->sec[i].name, "bootsys")) {
				img->ab = true;
				img->part_start = img->soc->ab_ro_size;
				img->part_end = img->soc->ab_ro_size + img->soc->ab_part_size;
				break;
			}
		}
	}
	return RP_OK;
}

/* "512 KiB = 524288 for 2711, 2 MiB = 2097152 for 2712", from the SoC table. */
static const char *known_sizes(char *buf, size_t size)
{
	size_t n_soc, used = 0;
	const struct rp_soc *socs = rp_soc_table(&n_soc);

	buf[0] = '\0';
	for (size_t i = 0; i < n_soc && used < size; i++) {
		size_t sz = socs[i].eeprom_size;
		bool mib = sz % (1024u * 1024u) == 0;
		int n;
		if (!sz)
			continue;
		n = snprintf(buf + used, size - used, "%s%zu %s = %zu for %s", used ? ", " : "",
			     mib ? sz >> 20 : sz >> 10, mib ? "MiB" : "KiB", sz, socs[i].soc);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

int rp_eeprom_parse(struct rp_eeprom *img, const uint8_t *data, size_t len, const char *label,
		    struct rp_diag *d)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->label, sizeof(img->label), "%s", label ? label : "image");
	img->soc = rp_soc_by_eeprom_size(len);
	if (!img->soc) {
		char sizes[256];
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: %zu bytes is not a bootloader image size (%s)",
				   img->label, len, known_sizes(sizes, sizeof(sizes)));
	}
	img->data = malloc(len);
	if (!img->data)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", img->label);
	memcpy(img->data, data, len);
	img->size = len;
	int r = scan(img, d);
	if (r < 0)
		rp_eeprom_free(img);
	return r;
}

int rp_eeprom_load(struct rp_eeprom *img, const char *path, struct rp_diag *d)
{
	uint8_t *buf;
	size_t len;
	int r;

	memset(img, 0, sizeof(*img));
	r = rp_file_read_all(path, MAX_INPUT_SIZE, &buf, &len, d);
	if (r < 0)
		return r;
	r = rp_eeprom_parse(img, buf, len, path, d);
	free(buf);
	return r;
}

void rp_eeprom_free(struct rp_eeprom *img)
{
	if (!img)
		return;
	free(img->data);
	free(img->sec);
	img->data = NULL;
	img->sec = NULL;
	img->n_sec = img->cap_sec = 0;
	img->size = 0;
}

/* Index of the first modifiable file `name` whose header lies in [lo, hi). */
static long find_in(const struct rp_eeprom *img, const char *name, size_t lo, size_t hi)
{
	for (size_t i = 0; i < img->n_sec; i++) {
		const struct rp_eeprom_section *s = &img->sec[i];
		if (s->magic == RP_EEPROM_MAGIC_FILE && s->offset >= lo && s->offset < hi &&
		    !strcmp(s->name, name))
			return (long)i;
	}
	return -1;
}

const struct rp_eeprom_section *rp_eeprom_find_file(const struct rp_eeprom *img, const char *name)
{
	long i = find_in(img, name, img->part_start, img->part_end);
	return i < 0 ? NULL : &img->sec[i];
}

int rp_eeprom_get_file(const struct rp_eeprom *img, const char *name, const uint8_t **data,
		       size_t *len, struct rp_diag *d)
{
	const struct rp_eeprom_section *s = rp_eeprom_find_file(img, name);
	if (!s)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: the image has no %s", img->label, name);
	*data = img->data + s->offset + RP_EEPROM_FILE_HDR;
	*len = s->length - (RP_EEPROM_FILE_HDR - 8);
	return RP_OK;
}

int rp_eeprom_get_bootcode(const struct rp_eeprom *img, const uint8_t **data, size_t *len,
			   struct rp_diag *d)
{
	if (img->n_sec == 0 || img->sec[0].magic != RP_EEPROM_MAGIC_BOOTCODE)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: the image has no bootcode section",
				   img->label);
	*data = img->data + 8;
	*len = img->sec[0].length;
	return RP_OK;
}

/* The end of the area holding section i: the partition of an A/B image,
 * its read-only area, or the whole image. */
static size_t area_end(const struct rp_eeprom *img, size_t i)
{
	uint32_t off = img->sec[i].offset;
	if (!img->ab)
		return img->size;
	if (off < img->part_start)
		return img->part_start;
	if (off < img->part_end)
		return img->part_end;
	return img->size;
}

/* Rewrite section i with `len` payload bytes behind a `hdr`-byte header
 * (24 for files, 8 for bootcode); see the header comment for the rules. */
static int replace_section(struct rp_eeprom *img, size_t i, size_t hdr, const uint8_t *data,
			   size_t len, const char *what, struct rp_diag *d)
{
	const size_t h = img->sec[i].offset;
	const size_t limit = img->size - RP_EEPROM_RESERVED_TAIL;
	const bool is_last = i + 1 == img->n_sec;
	size_t next = limit;
	size_t p, pad;

	for (size_t j = i + 1; j < img->n_sec; j++) {
		if (img->sec[j].magic != RP_EEPROM_MAGIC_PAD) {
			next = img->sec[j].offset;
			break;
		}
	}
	if (next > area_end(img, i))
		next = area_end(img, i);
	if (len > limit || h + hdr + len > limit)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "%s: %s: %zu bytes at offset %zu would run into the last 4 KiB of the image, which belongs to the bootloader",
				   img->label, what, len, h);
	if (h + hdr + len > next)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "%s: %s: %zu bytes do not fit; the space at offset %zu holds at most %zu bytes",
				   img->label, what, len, h, next > h + hdr ? next - h - hdr : 0);
	p = align8(h + hdr + len);
	pad = next - p;
	/* Eight bytes of 0xff in front of a live section would read as the
	 * end-of-list marker and hide everything after it; the reference
	 * editor writes that image anyway, we refuse it. */
	if (pad == 8 && !is_last)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "%s: %s: %zu bytes would leave an 8-byte gap before the next section at offset %zu, which cannot hold a padding header",
				   img->label, what, len, next);

	rp_put_be32(img->data + h + 4, (uint32_t)(len + hdr - 8));
	memmove(img->data + h + hdr, data, len);
	memset(img->data + h + hdr + len, 0xff, p - (h + hdr + len));
	if (pad > 8 && !is_last) {
		rp_put_be32(img->data + p, RP_EEPROM_MAGIC_PAD);
		rp_put_be32(img->data + p + 4, (uint32_t)(pad - 8));
		p += 8;
		pad -= 8;
	}
	memset(img->data + p, 0xff, pad);
	return scan(img, d);
}

int rp_eeprom_replace_file(struct rp_eeprom *img, const char *name, const uint8_t *data,
			   size_t len, struct rp_diag *d)
{
	const struct rp_eeprom_section *s = rp_eeprom_find_file(img, name);
	size_t max = file_max(name);

	if (!s)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: the image has no %s section to replace",
				   img->label, name);
	if (len > max)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "%s: new %s is %zu bytes, more than the %zu bytes a file may hold (one 4 KiB erase sector)",
				   img->label, name, len, max);
	return replace_section(img, (size_t)(s - img->sec), RP_EEPROM_FILE_HDR, data, len, name, d);
}

int rp_eeprom_replace_bootcode(struct rp_eeprom *img, const uint8_t *data, size_t len,
			       struct rp_diag *d)
{
	static const char stamp[] = "BUILD_TIMESTAMP=";

	if (img->n_sec == 0 || img->sec[0].magic != RP_EEPROM_MAGIC_BOOTCODE)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: the image has no bootcode section",
				   img->label);
	/* Every bootloader build carries its BUILD_TIMESTAMP; a file without
	 * one (empty, truncated, or something else) would leave an image
	 * that cannot boot. */
	if (!len || !memmem(data, len, stamp, sizeof(stamp) - 1))
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: the new bootcode (%zu bytes) has no BUILD_TIMESTAMP: it is not "
				   "a Raspberry Pi bootloader, and the image could not boot",
				   img->label, len);
	return replace_section(img, 0, 8, data, len, "bootcode", d);
}

static int set_timestamp(struct rp_eeprom *img, uint32_t ts, bool files_everywhere,
			 struct rp_diag *d)
{
	uint8_t pair[8];
	bool found = false;
	int r;

	rp_put_le32(pair, ~ts);
	rp_put_le32(pair + 4, ts);
	if (img->ab || files_everywhere) {
		long i = find_in(img, "updatetime", 0, img->part_start);
		if (i >= 0) {
			r = replace_section(img, (size_t)i, RP_EEPROM_FILE_HDR, pair, sizeof(pair),
					    "updatetime", d);
			if (r < 0)
				return r;
			found = true;
		}
		if (rp_eeprom_find_file(img, "updatetime")) {
			r = rp_eeprom_replace_file(img, "updatetime", pair, sizeof(pair), d);
			if (r < 0)
				return r;
			found = true;
		}
	}
	if (!found)
		memcpy(img->data + img->size - sizeof(pair), pair, sizeof(pair));
	return RP_OK;
}

int rp_eeprom_set_timestamp(struct rp_eeprom *img, uint32_t ts, struct rp_diag *d)
{
	/* rpi-eeprom-config since its A/B rework (2026) uses the updatetime
	 * files only on A/B images; on a 2711 image it writes the last 8
	 * bytes even when the image has an updatetime file. */
	return set_timestamp(img, ts, false, d);
}

int rp_eeprom_set_timestamp_in_files(struct rp_eeprom *img, uint32_t ts, struct rp_diag *d)
{
	return set_timestamp(img, ts, true, d);
}

void rp_eeprom_get_timestamp(const struct rp_eeprom *img, uint32_t *ts, bool *is_set)
{
	const struct rp_eeprom_section *s = img->ab ? rp_eeprom_find_file(img, "updatetime") : NULL;
	const uint8_t *p = img->data + img->size - 8;
	uint32_t inv, val;

	if (s && s->length >= RP_EEPROM_FILE_HDR - 8 + 8)
		p = img->data + s->offset + RP_EEPROM_FILE_HDR;
	inv = rp_get_le32(p);
	val = rp_get_le32(p + 4);
	*ts = val;
	*is_set = inv == ~val && val != 0xffffffffu;
}

int64_t rp_eeprom_build_timestamp(const struct rp_eeprom *img)
{
	static const char key[] = "BUILD_TIMESTAMP=";
	const size_t klen = sizeof(key) - 1;
	const uint8_t *p = img->data;
	size_t left = img->size;

	while (left > klen) {
		const uint8_t *hit = memmem(p, left, key, klen);
		if (!hit)
			break;
		size_t pos = (size_t)(hit - img->data) + klen;
		int64_t v = 0;
		unsigned digits = 0;
		while (pos < img->size && img->data[pos] >= '0' && img->data[pos] <= '9' &&
		       digits < 18) {
			v = v * 10 + (img->data[pos] - '0');
			pos++;
			digits++;
		}
		if (digits)
			return v;
		left = img->size - (size_t)(hit + 1 - img->data);
		p = hit + 1;
	}
	return -1;
}
