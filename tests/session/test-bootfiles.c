/* usbboot's bootfiles.bin (F15): a host-side tar archive with one folder
 * per rpiboot SoC folder. Archives made by GNU tar in both its formats,
 * and hand-made headers for every way an untrusted archive can be wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session/bootfiles.h"
#include "testlib.h"
#include "util/fileio.h"

static char root[256];

/* One ustar header + data block for `path` holding `data`. */
static size_t put_entry(uint8_t *out, const char *path, const char *data, char type)
{
	size_t len = strlen(data);
	unsigned sum = 0;

	memset(out, 0, 1024);
	snprintf((char *)out, 100, "%s", path);
	snprintf((char *)out + 100, 8, "%07o", 0644);
	snprintf((char *)out + 124, 12, "%011o", (unsigned)len);
	out[156] = (uint8_t)type;
	memcpy(out + 257, "ustar", 6);
	memcpy(out + 263, "00", 2);
	memset(out + 148, ' ', 8);
	for (unsigned i = 0; i < 512; i++)
		sum += out[i];
	snprintf((char *)out + 148, 8, "%06o", sum);
	memcpy(out + 512, data, len);
	return 512 + (len + 511) / 512 * 512;
}

static void test_gnu_tar_archives(void)
{
	static const char *const formats[] = { "ustar", "gnu", "pax" };
	char cmd[1024], path[512];

	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct rp_bootfiles *b = NULL;
		struct rp_diag d;
		const uint8_t *data;
		size_t len;

		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && rm -rf t && mkdir -p t/2711 t/2712 && printf four > t/2711/bootcode4.bin"
			 " && printf five > t/2712/bootcode5.bin && printf memsys > t/2712/memsys00.bin"
			 " && cd t && tar --format=%s -cf ../b.tar 2711 2712",
			 root, formats[f]);
		if (system(cmd) != 0) {
			test_skip_case("tar not available");
			return;
		}
		snprintf(path, sizeof(path), "%s/b.tar", root);
		CHECK_EQ_INT(rp_bootfiles_load(path, &b, &d), RP_OK);
		if (!b) {
			fprintf(stderr, "%s: %s\n", formats[f], d.msg);
			continue;
		}
		CHECK_EQ_INT(rp_bootfiles_count(b), 3);
		CHECK_EQ_INT(rp_bootfiles_find(b, "2712", "bootcode5.bin", &data, &len), RP_OK);
		CHECK(len == 4 && !memcmp(data, "five", 4));
		CHECK_EQ_INT(rp_bootfiles_find(b, "2711", "bootcode4.bin", &data, &len), RP_OK);
		CHECK(len == 4 && !memcmp(data, "four", 4));
		CHECK_EQ_INT(rp_bootfiles_find(b, "2712", "memsys00.bin", &data, &len), RP_OK);
		/* A file of the other SoC's folder is not this SoC's. */
		CHECK_EQ_INT(rp_bootfiles_find(b, "2711", "bootcode5.bin", &data, &len), RP_ERR_NOT_FOUND);
		CHECK_EQ_INT(rp_bootfiles_find(b, "2710", "bootcode4.bin", &data, &len), RP_ERR_NOT_FOUND);
		CHECK_EQ_INT(rp_bootfiles_find(b, "271", "1/bootcode4.bin", &data, &len), RP_ERR_NOT_FOUND);
		rp_bootfiles_free(b);
	}
}

static void test_bad_archives(void)
{
	static uint8_t buf[8192];
	struct rp_bootfiles *b;
	struct rp_diag d;
	size_t n;

	/* A good one, then each fault. */
	n = put_entry(buf, "2712/mcb.bin", "mcb", '0');
	memset(buf + n, 0, 1024);
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n + 1024, "good", &b, &d), RP_OK);
	rp_bootfiles_free(b);
	/* Without its end blocks it is still whole. */
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n, "no-end", &b, &d), RP_OK);
	rp_bootfiles_free(b);

	buf[0] ^= 1; /* checksum no longer matches */
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n + 1024, "sum", &b, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "checksum");
	CHECK(b == NULL);

	static const char *const bad_names[] = { "../2712/mcb.bin", "/2712/mcb.bin", "2712/../x",
						 "2712//x", "2712\\x", "2712/./x" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		n = put_entry(buf, bad_names[i], "x", '0');
		memset(buf + n, 0, 1024);
		CHECK_EQ_INT(rp_bootfiles_parse(buf, n + 1024, bad_names[i], &b, &d), RP_ERR_FORMAT);
		CHECK_CONTAINS(d.msg, "plain relative path");
	}

	/* A size past the end of the archive. */
	n = put_entry(buf, "2712/big", "abc", '0');
	CHECK_EQ_INT(rp_bootfiles_parse(buf, 600, "truncated", &b, &d), RP_OK); /* 3 bytes fit */
	rp_bootfiles_free(b);
	CHECK_EQ_INT(rp_bootfiles_parse(buf, 514, "cut", &b, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "past the end");

	/* Not octal. */
	n = put_entry(buf, "2712/x", "abc", '0');
	{
		unsigned sum = 0;
		memcpy(buf + 124, "0000000009a\0", 12);
		memset(buf + 148, ' ', 8);
		for (unsigned i = 0; i < 512; i++)
			sum += buf[i];
		snprintf((char *)buf + 148, 8, "%06o", sum);
	}
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n, "octal", &b, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "not octal");

	/* Directories and links are skipped, not served. */
	n = put_entry(buf, "2712", "", '5');
	n += put_entry(buf + n, "2712/link", "", '2');
	n += put_entry(buf + n, "2712/f", "data", '0');
	memset(buf + n, 0, 1024);
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n + 1024, "mixed", &b, &d), RP_OK);
	CHECK_EQ_INT(rp_bootfiles_count(b), 1);
	rp_bootfiles_free(b);

	/* Nothing in it; trailing bytes shorter than a header; not a tar. */
	memset(buf, 0, 1024);
	CHECK_EQ_INT(rp_bootfiles_parse(buf, 1024, "empty", &b, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "no files");
	n = put_entry(buf, "2712/f", "data", '0');
	CHECK_EQ_INT(rp_bootfiles_parse(buf, n + 100, "tail", &b, &d), RP_ERR_FORMAT);
	CHECK_EQ_INT(rp_bootfiles_parse((const uint8_t *)"hello", 5, "text", &b, &d), RP_ERR_FORMAT);
}

int main(void)
{
	int rc;

	if (!test_scratch_enter("bootfiles", root, sizeof(root)))
		return 1;
	RUN(test_gnu_tar_archives());
	RUN(test_bad_archives());
	rc = test_result();
	test_scratch_leave(root);
	return rc;
}
