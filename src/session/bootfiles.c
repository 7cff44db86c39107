#include "session/bootfiles.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

/* ustar header fields (POSIX.1-1988), offsets into a 512-byte block. */
#define TAR_BLOCK 512u
#define TAR_NAME 0u
#define TAR_NAME_LEN 100u
#define TAR_SIZE 124u
#define TAR_SIZE_LEN 12u
#define TAR_CHKSUM 148u
#define TAR_CHKSUM_LEN 8u
#define TAR_TYPE 156u
#define TAR_MAGIC 257u
#define TAR_PREFIX 345u
#define TAR_PREFIX_LEN 155u

#define PATH_MAX_LEN (TAR_PREFIX_LEN + 1 + TAR_NAME_LEN + 1)

struct entry {
	char path[PATH_MAX_LEN];
	size_t offset, len;
};

struct rp_bootfiles {
	uint8_t *data;
	size_t len;
	struct entry *entries;
	size_t n;
};

/* Octal digits, optionally space/NUL padded; no base-256 (GNU) sizes:
 * a bootfiles.bin holds no file of 8 GiB. */
static bool parse_octal(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool digits = false;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = v << 3 | (uint64_t)(p[i] - '0');
		digits = true;
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return false;
	*out = v;
	return digits;
}

static bool checksum_ok(const uint8_t *h)
{
	uint64_t want;
	unsigned sum = 0;

	if (!parse_octal(h + TAR_CHKSUM, TAR_CHKSUM_LEN, &want))
		return false;
	for (unsigned i = 0; i < TAR_BLOCK; i++)
		sum += (i >= TAR_CHKSUM && i < TAR_CHKSUM + TAR_CHKSUM_LEN) ? ' ' : h[i];
	return sum == want;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A field that may fill its whole width without a NUL. */
static size_t field_len(const uint8_t *p, size_t n)
{
	const uint8_t *z = memchr(p, '\0', n);
	return z ? (size_t)(z - p) : n;
}

/* A relative path of printable characters without "." or ".." parts, so
 * that an entry can never be taken for a name outside its folder. */
static bool plain_path(const char *s)
{
	const char *part = s;

	if (!*s || *s == '/')
		return false;
	for (const char *c = s;; c++) {
		if (*c == '/' || *c == '\0') {
			size_t n = (size_t)(c - part);
			if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && !memcmp(part, "..", 2)))
				return false;
			if (!*c)
				return true;
			part = c + 1;
		} else if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f || *c == '\\') {
			return false;
		}
	}
}

static int bad(struct rp_diag *d, const char *label, size_t at, const char *what)
{
	return rp_diag_set(d, RP_ERR_FORMAT, "%s: not a usable bootfiles.bin: %s at offset %zu",
			   label, what, at);
}

static int index_entries(struct rp_bootfiles *b, const char *label, struct rp_diag *d)
{
	size_t at = 0, cap = 0;

	while (at + TAR_BLOCK <= b->len) {
		const uint8_t *h = b->data + at;
		uint64_t size;
		size_t nlen, plen, blocks;
		char type;
		struct entry e;

		if (all_zero(h, TAR_BLOCK))
			return RP_OK; /* the end-of-archive blocks */
		if (!checksum_ok(h))
			return bad(d, label, at, "header checksum wrong");
		if (!parse_octal(h + TAR_SIZE, TAR_SIZE_LEN, &size))
			return bad(d, label, at, "size field not octal");
		if (size > b->len - at - TAR_BLOCK)
			return bad(d, label, at, "entry runs past the end of the archive");
		blocks = (size_t)((size + TAR_BLOCK - 1) / TAR_BLOCK);
		type = (char)h[TAR_TYPE];
		at += TAR_BLOCK;
		/* Directories, links, pax and GNU extension headers: not files a
		 * board can be served; their data (if any) is skipped. */
		if (type == '0' || type == '\0') {
			nlen = field_len(h + TAR_NAME, TAR_NAME_LEN);
			plen = memcmp(h + TAR_MAGIC, "ustar", 5) == 0
				       ? field_len(h + TAR_PREFIX, TAR_PREFIX_LEN)
				       : 0;
			if (plen)
				snprintf(e.path, sizeof(e.path), "%.*s/%.*s", (int)plen,
					 (const char *)h + TAR_PREFIX, (int)nlen, (const char *)h + TAR_NAME);
			else
				snprintf(e.path, sizeof(e.path), "%.*s", (int)nlen,
					 (const char *)h + TAR_NAME);
			/* "./2712/x" as some tar invocations write it. */
			if (!strncmp(e.path, "./", 2))
				memmove(e.path, e.path + 2, strlen(e.path + 2) + 1);
			if (!plain_path(e.path))
				return bad(d, label, at - TAR_BLOCK, "entry name is not a plain relative path");
			e.offset = at;
			e.len = (size_t)size;
			if (b->n == cap) {
				size_t ncap = cap ? 2 * cap : 32;
				struct entry *grown = realloc(b->entries, ncap * sizeof(*grown));
				if (!grown)
					return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", label);
				b->entries = grown;
				cap = ncap;
			}
			b->entries[b->n++] = e;
		}
		if (blocks > (b->len - at) / TAR_BLOCK + 1)
			return bad(d, label, at, "entry runs past the end of the archive");
		at += blocks * TAR_BLOCK;
	}
	/* Without the end blocks (a truncated copy): accept only if the last
	 * entry ended exactly at the end, which the size check guaranteed. */
	return at >= b->len ? RP_OK : bad(d, label, at, "trailing bytes shorter than a header");
}

int rp_bootfiles_parse(const uint8_t *data, size_t len, const char *label,
		       struct rp_bootfiles **out, struct rp_diag *d)
{
	struct rp_bootfiles *b;
	int r;

	*out = NULL;
	if (len > RP_BOOTFILES_MAX)
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: %zu bytes is too large for a bootfiles.bin",
				   label, len);
	b = calloc(1, sizeof(*b));
	if (!b || !(b->data = malloc(len ? len : 1))) {
		free(b);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", label);
	}
	memcpy(b->data, data, len);
	b->len = len;
	r = index_entries(b, label, d);
	if (r == RP_OK && b->n == 0)
		r = rp_diag_set(d, RP_ERR_FORMAT, "%s: not a usable bootfiles.bin: no files in it", label);
	if (r != RP_OK) {
		rp_bootfiles_free(b);
		return r;
	}
	*out = b;
	return RP_OK;
}

int rp_bootfiles_load(const char *path, struct rp_bootfiles **out, struct rp_diag *d)
{
	uint8_t *data;
	size_t len;
	int r = rp_file_read_all(path, RP_BOOTFILES_MAX, &data, &len, d);

	*out = NULL;
	if (r < 0)
		return r;
	r = rp_bootfiles_parse(data, len, path, out, d);
	free(data);
	return r;
}

void rp_bootfiles_free(struct rp_bootfiles *b)
{
	if (!b)
		return;
	free(b->data);
	free(b->entries);
	free(b);
}

int rp_bootfiles_find(const struct rp_bootfiles *b, const char *soc_dir, const char *name,
		      const uint8_t **data, size_t *len)
{
	size_t dl = soc_dir ? strlen(soc_dir) : 0;

	if (!b || !name)
		return RP_ERR_NOT_FOUND;
	for (size_t i = 0; i < b->n; i++) {
		const char *p = b->entries[i].path;
		if (dl && (strncmp(p, soc_dir, dl) != 0 || p[dl] != '/'))
			continue;
		if (strcmp(p + (dl ? dl + 1 : 0), name) != 0)
			continue;
		*data = b->data + b->entries[i].offset;
		*len = b->entries[i].len;
		return RP_OK;
	}
	return RP_ERR_NOT_FOUND;
}

size_t rp_bootfiles_count(const struct rp_bootfiles *b)
{
	return b ? b->n : 0;
}

const char *rp_bootfiles_entry(const struct rp_bootfiles *b, size_t i, const uint8_t **data,
			       size_t *len)
{
	if (!b || i >= b->n)
		return NULL;
	*data = b->data + b->entries[i].offset;
	*len = b->entries[i].len;
	return b->entries[i].path;
}
