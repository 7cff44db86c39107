#include "image/synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_BOOTCODE 0x55aaf00fu
#define MAGIC_FILE 0x55aaf11fu
#define MAGIC_PAD 0x55aafeefu
#define MAGIC_FW 0x55aaf44fu

static const char default_conf[] = "[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n";

struct rp_synth_opts rp_synth_defaults(void)
{
	struct rp_synth_opts o = { 0 };
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

/* A section of `len` filler bytes at `off`, filled in place. */
static size_t filled(uint8_t *img, size_t off, uint32_t magic, size_t len, uint32_t seed)
{
	be32(img + off, magic);
	be32(img + off + 4, (uint32_t)len);
	fill(img + off + 8, len, seed);
	return align8(off + 8 + len);
}

static size_t bootcode(uint8_t *img, size_t len, int64_t ts)
{
	size_t end = filled(img, 0, MAGIC_BOOTCODE, len, 1);
	if (ts >= 0) {
		char s[48];
		int n = snprintf(s, sizeof(s), "BUILD_TIMESTAMP=%lld", (long long)ts);
		memcpy(img + 8 + 100, s, (size_t)n + 1);
	}
	return end;
}

static size_t firmware(uint8_t *img, size_t off, size_t len, uint32_t seed)
{
	return filled(img, off, MAGIC_FW, len, seed);
}

/* updatetime, pubkey.bin, cacert.der, bootconf.sig, bootconf.txt from
 * `off` on, one per 4 KiB; returns the end of the last one written. */
static size_t files(uint8_t *img, size_t off, size_t prev_end, const struct rp_synth_opts *o,
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

int rp_synth_image(const struct rp_synth_opts *o, uint8_t **out, size_t *len)
{
	const char *conf = o->bootconf ? o->bootconf : default_conf;
	bool ab = o->soc && !strcmp(o->soc, "2712");
	size_t size = ab ? 2u << 20 : 512u << 10;
	uint8_t *img = malloc(size);
	size_t end;

	if (!img)
		return RP_ERR_NOMEM;
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
	return RP_OK;
}


/* The second stage is never run (the device model takes any bytes), so it
 * is text that says what it is, padded to a realistic size. */
static const char second_stage_text[] =
	"rpiprov synthetic second stage (" RP_SYNTHETIC_LABEL ").\n"
	"This is not recovery.bin and cannot run on a board. Get the real one with\n"
	"'rpiprov firmware fetch'.\n";

#define SYNTH_SECOND_STAGE_LEN (96u << 10)

int rp_synth_firmware(const char *soc, uint8_t **image, size_t *image_len, uint8_t **second,
		      size_t *second_len, struct rp_diag *d)
{
	static const char conf[] = "# rpiprov synthetic image (" RP_SYNTHETIC_LABEL ")\n"
				   "[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n";
	struct rp_synth_opts o = rp_synth_defaults();

	*image = *second = NULL;
	o.soc = soc;
	o.bootconf = conf;
	if (rp_synth_image(&o, image, image_len) < 0)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	*second = malloc(SYNTH_SECOND_STAGE_LEN);
	if (!*second) {
		free(*image);
		*image = NULL;
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	memcpy(*second, second_stage_text, sizeof(second_stage_text) - 1);
	fill(*second + sizeof(second_stage_text) - 1,
	     SYNTH_SECOND_STAGE_LEN - (sizeof(second_stage_text) - 1), 7);
	*second_len = SYNTH_SECOND_STAGE_LEN;
	return RP_OK;
}
