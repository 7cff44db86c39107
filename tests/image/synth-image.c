#include "synth-image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_BOOTCODE 0x55aaf00fu
#define MAGIC_FILE 0x55aaf11fu
#define MAGIC_PAD 0x55aafeefu
#define MAGIC_FW 0x55aaf44fu

static const char default_conf[] = "[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n";

struct synth_opts synth_defaults(void)
{
	struct synth_opts o = { 0 };
	o.soc = "2711";
	o.build_timestamp = 1785847093;
	return o;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

/* Section with `len` payload bytes at `off`; returns its aligned end. */
static size_t section(uint8_t *img, size_t off, uint32_t magic, const void *payload, size_t len)
{
	be32(img + off, magic);
	be32(img + off + 4, (uint32_t)len);
	memcpy(img + off + 8, payload, len);
	return align8(off + 8 + len);
}

static size_t file(uint8_t *img, size_t off, const char *name, const void *data, size_t len)
{
	be32(img + off, MAGIC_FILE);
	be32(img + off + 4, (uint32_t)(len + 16));
	memset(img + off + 8, 0, 16);
	memcpy(img + off + 8, name, strlen(name));
	memcpy(img + off + 24, data, len);
	return align8(off + 24 + len);
}

/* Padding section from `off` up to `to` (contents stay 0xff). */
static void pad(uint8_t *img, size_t off, size_t to)
{
	if (to - off > 8) {
		be32(img + off, MAGIC_PAD);
		be32(img + off + 4, (uint32_t)(to - off - 8));
	}
}

/* Deterministic filler that never looks like a section header. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static size_t bootcode(uint8_t *img, size_t len, int64_t ts)
{
	uint8_t *code = malloc(len);
	size_t end;
	fill(code, len, 1);
	if (ts >= 0) {
		char s[48];
		int n = snprintf(s, sizeof(s), "BUILD_TIMESTAMP=%lld", (long long)ts);
		memcpy(code + 100, s, (size_t)n + 1);
	}
	end = section(img, 0, MAGIC_BOOTCODE, code, len);
	free(code);
	return end;
}

static size_t firmware(uint8_t *img, size_t off, size_t len, uint32_t seed)
{
	uint8_t *fw = malloc(len);
	size_t end;
	fill(fw, len, seed);
	end = section(img, off, MAGIC_FW, fw, len);
	free(fw);
	return end;
}

/* updatetime, pubkey.bin, cacert.der, bootconf.sig, bootconf.txt from
 * `off` on, one per 4 KiB; returns the end of the last one written. */
static size_t files(uint8_t *img, size_t off, size_t prev_end, const struct synth_opts *o,
		    const char *conf)
{
	static const uint8_t fresh_time[8] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	uint8_t zeros[1024] = { 0 };
	struct {
		const char *name;
		const void *data;
		size_t len;
		bool skip;
	} f[] = {
		{ "updatetime", fresh_time, sizeof(fresh_time), o->no_updatetime },
		{ "pubkey.bin", zeros, 264, o->no_pubkey },
		{ "cacert.der", zeros, 1024, o->no_cacert },
		{ "bootconf.sig", zeros, 1024, o->no_pubkey },
		{ "bootconf.txt", conf, strlen(conf), o->no_bootconf },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].skip)
			continue;
		pad(img, prev_end, off);
		prev_end = file(img, off, f[i].name, f[i].data, f[i].len);
		off += 4096;
	}
	return prev_end;
}

int synth_image(const struct synth_opts *o, uint8_t **out, size_t *len)
{
	const char *conf = o->bootconf ? o->bootconf : default_conf;
	bool ab = o->soc && !strcmp(o->soc, "2712");
	size_t size = ab ? 2u << 20 : 512u << 10;
	uint8_t *img = malloc(size);
	size_t end;

	if (!img)
		return -1;
	memset(img, 0xff, size);
	if (!ab) {
		end = bootcode(img, 4000, o->build_timestamp);
		pad(img, end, 8192);
		end = firmware(img, 8192, 20000, 2);
		pad(img, end, 32768);
		end = firmware(img, 32768, 10000, 3);
		files(img, 458752, end, o, conf);
	} else {
		const size_t ro = 65536, part_end = 65536 + 988 * 1024;
		uint8_t sys[30000];
		end = bootcode(img, 20000, o->build_timestamp);
		if (!o->no_updatetime) {
			static const uint8_t fresh_time[8] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
			pad(img, end, 28672);
			end = file(img, 28672, "updatetime", fresh_time, sizeof(fresh_time));
		}
		pad(img, end, ro);
		fill(sys, sizeof(sys), 4);
		end = file(img, ro, "bootsys", sys, sizeof(sys));
		pad(img, end, 98304);
		end = firmware(img, 98304, 50000, 5);
		end = files(img, 655360, end, o, conf);
		pad(img, end, part_end);
		pad(img, part_end, size - 8192);
	}
	*out = img;
	*len = size;
	return 0;
}

int synth_image_file(const struct synth_opts *o, const char *path)
{
	uint8_t *img;
	size_t len;
	FILE *f;
	int r = -1;

	if (synth_image(o, &img, &len) < 0)
		return -1;
	f = fopen(path, "wb");
	if (f) {
		r = fwrite(img, 1, len, f) == len ? 0 : -1;
		if (fclose(f) != 0)
			r = -1;
	}
	free(img);
	return r;
}
