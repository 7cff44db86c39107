/* pieeprom image parsing and editing: synthetic images (always) and the
 * real firmware fixtures (when RPIPROV_TEST_FIRMWARE is set). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "synth-image.h"
#include "image/eeprom_image.h"
#include "image/pubkey.h"
#include "util/endian.h"
#include "util/fileio.h"

static int parse_buf(struct rp_eeprom *img, const uint8_t *data, size_t len)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	int r = rp_eeprom_parse(img, data, len, "test image", &d);
	if (r < 0)
		fprintf(stderr, "parse: %s\n", rp_diag_message(&d));
	return r;
}

static struct rp_eeprom synth(const struct rp_synth_opts *o)
{
	struct rp_eeprom img;
	uint8_t *data;
	size_t len;
	memset(&img, 0, sizeof(img));
	if (rp_synth_image(o, &data, &len) < 0) {
		CHECK(!"synth_image failed");
		return img;
	}
	CHECK_EQ_INT(parse_buf(&img, data, len), RP_OK);
	free(data);
	return img;
}

static bool same_image(const struct rp_eeprom *a, const uint8_t *b, size_t blen)
{
	return a->size == blen && !memcmp(a->data, b, blen);
}

static void replace_ok(struct rp_eeprom *img, const char *name, const void *data, size_t len)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	int r = rp_eeprom_replace_file(img, name, data, len, &d);
	if (r < 0)
		fprintf(stderr, "%s: replace %s (%zu bytes): %s\n", img->label, name, len,
			rp_diag_message(&d));
	CHECK_EQ_INT(r, RP_OK);
}

/* Write every modifiable file back unchanged; grow then shrink each one. */
static void round_trips(struct rp_eeprom *img)
{
	uint8_t *orig = malloc(img->size);
	size_t size = img->size;
	memcpy(orig, img->data, size);

	for (size_t i = 0; i < img->n_sec; i++) {
		const struct rp_eeprom_section s = img->sec[i];
		const uint8_t *cur;
		size_t len;
		/* Released images pad bootsys with a 524-byte padding section that
		 * ends 4 bytes short of the next section; any rewrite (ours or
		 * rpi-eeprom-config's) pads up to it, so bootsys never round-trips. */
		if (!strcmp(s.name, "bootsys"))
			continue;
		if (s.magic != RP_EEPROM_MAGIC_FILE || rp_eeprom_find_file(img, s.name) == NULL ||
		    rp_eeprom_find_file(img, s.name)->offset != s.offset)
			continue;
		CHECK_EQ_INT(rp_eeprom_get_file(img, s.name, &cur, &len, NULL), RP_OK);
		uint8_t *copy = malloc(len + 200);
		memcpy(copy, cur, len);
		replace_ok(img, s.name, copy, len);
		if (!same_image(img, orig, size))
			fprintf(stderr, "%s: rewriting %s changed the image\n", img->label, s.name);
		CHECK(same_image(img, orig, size));

		/* Grow by up to 64 bytes when there is room, then shrink back. */
		size_t room = 0;
		for (size_t grow = 64; grow > 0; grow /= 2) {
			memset(copy + len, '#', grow);
			if (rp_eeprom_replace_file(img, s.name, copy, len + grow, NULL) == RP_OK) {
				room = grow;
				break;
			}
		}
		if (room) {
			const uint8_t *now;
			size_t nlen;
			CHECK_EQ_INT(rp_eeprom_get_file(img, s.name, &now, &nlen, NULL), RP_OK);
			CHECK_EQ_INT(nlen, len + room);
			replace_ok(img, s.name, copy, len);
			if (!same_image(img, orig, size))
				fprintf(stderr, "%s: growing then shrinking %s changed the image\n",
					img->label, s.name);
			CHECK(same_image(img, orig, size));
		}
		free(copy);
	}
	free(orig);
}

static void test_synth_layout(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	struct rp_eeprom img = synth(&o);
	const uint8_t *data;
	size_t len;

	CHECK_STR_EQ(img.soc->soc, "2711");
	CHECK(!img.ab);
	CHECK_EQ_INT(rp_eeprom_build_timestamp(&img), 1785847093);
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &data, &len, NULL), RP_OK);
	CHECK(len == strlen("[all]\nBOOT_UART=0\nWAKE_ON_GPIO=1\nPOWER_OFF_ON_HALT=0\n"));
	CHECK(!memcmp(data, "[all]\n", 6));
	CHECK_EQ_INT(rp_eeprom_get_bootcode(&img, &data, &len, NULL), RP_OK);
	CHECK_EQ_INT(len, 4000);
	CHECK(rp_eeprom_find_file(&img, "nonexistent") == NULL);
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "nonexistent", &data, &len, NULL), RP_ERR_NOT_FOUND);
	round_trips(&img);
	rp_eeprom_free(&img);

	o.soc = "2712";
	img = synth(&o);
	CHECK_STR_EQ(img.soc->soc, "2712");
	CHECK(img.ab);
	CHECK_EQ_INT(img.part_start, 65536);
	CHECK_EQ_INT(img.part_end, 1077248);
	CHECK(rp_eeprom_find_file(&img, "updatetime")->offset >= 65536);
	round_trips(&img);
	rp_eeprom_free(&img);
}

/* The exact bytes of a replacement, checked by hand. */
static void test_replace_bytes(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	struct rp_eeprom img = synth(&o);
	const struct rp_eeprom_section *s = rp_eeprom_find_file(&img, "bootconf.sig");
	size_t h = s->offset;
	const uint8_t sig[] = "abc";

	replace_ok(&img, "bootconf.sig", sig, 3);
	CHECK_EQ_INT(rp_get_be32(img.data + h + 4), 3 + 16);
	CHECK(!memcmp(img.data + h + 24, "abc", 3));
	/* 0xff up to the 8-byte boundary, then a padding section to the next file. */
	for (size_t i = h + 27; i < h + 32; i++)
		CHECK_EQ_INT(img.data[i], 0xff);
	CHECK_EQ_INT(rp_get_be32(img.data + h + 32), RP_EEPROM_MAGIC_PAD);
	CHECK_EQ_INT(rp_get_be32(img.data + h + 36), 4096 - 32 - 8);
	CHECK_EQ_INT(img.data[h + 40], 0xff);
	CHECK_EQ_INT(img.data[h + 4095], 0xff);
	CHECK_EQ_INT(rp_get_be32(img.data + h + 4096), RP_EEPROM_MAGIC_FILE);

	/* A non-last file may not run into the next section ... */
	uint8_t big[5000];
	memset(big, 'x', sizeof(big));
	struct rp_diag d;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.sig", big, 4073, &d), RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, "do not fit");
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.sig", big, 4072, &d), RP_OK);
	/* ... but an 8-byte gap (no room for a padding header) is refused too. */
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.sig", big, 4064, &d), RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, "8-byte gap");
	/* The last file: up to 4076 bytes, none more. */
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.txt", big, 4076, &d), RP_OK);
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.txt", big, 4077, &d), RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, "4077 bytes");
	CHECK_CONTAINS(d.msg, "4076");
	/* Last section: no padding section after it, just 0xff to the tail. */
	s = rp_eeprom_find_file(&img, "bootconf.txt");
	replace_ok(&img, "bootconf.txt", "A=1\n", 4);
	CHECK(s == &img.sec[img.n_sec - 1]);
	for (size_t i = s->offset + 28; i < img.size; i++)
		if (img.data[i] != 0xff) {
			CHECK(!"0xff after the last file");
			break;
		}
	rp_eeprom_free(&img);
}

static void test_bootcode(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	struct rp_eeprom img = synth(&o);
	uint8_t *orig = malloc(img.size), *code;
	const uint8_t *cur;
	size_t len;

	memcpy(orig, img.data, img.size);
	CHECK_EQ_INT(rp_eeprom_get_bootcode(&img, &cur, &len, NULL), RP_OK);
	/* Room for the 9000-byte attempt below: every call passes as many
	 * bytes as it says. */
	code = calloc(1, len + 100 > 9000 ? len + 100 : 9000);
	memcpy(code, cur, len);
	CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, code, len, NULL), RP_OK);
	CHECK(same_image(&img, orig, img.size));
	memset(code + len, 0x5a, 100);
	CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, code, len + 100, NULL), RP_OK);
	CHECK_EQ_INT(rp_get_be32(img.data + 4), len + 100);
	CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, code, len, NULL), RP_OK);
	CHECK(same_image(&img, orig, img.size));
	CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, code, 9000, NULL), RP_ERR_TOO_LARGE);
	/* Issue #10: an empty or foreign bootcode would leave an image that
	 * cannot boot. */
	{
		struct rp_diag d;
		CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, code, 0, &d), RP_ERR_FORMAT);
		CHECK_EQ_INT(rp_eeprom_replace_bootcode(&img, (const uint8_t *)"tiny", 4, &d),
			     RP_ERR_FORMAT);
		CHECK_CONTAINS(d.msg, "no BUILD_TIMESTAMP");
		CHECK(same_image(&img, orig, img.size));
	}
	free(code);
	free(orig);
	rp_eeprom_free(&img);
}

static void test_timestamp(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	struct rp_eeprom img = synth(&o);
	uint32_t ts;
	bool set;

	rp_eeprom_get_timestamp(&img, &ts, &set);
	CHECK(!set);
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 1700000000u, NULL), RP_OK);
	rp_eeprom_get_timestamp(&img, &ts, &set);
	CHECK(set);
	CHECK_EQ_INT(ts, 1700000000u);
	/* A 2711 image with an updatetime file: still the last 8 bytes, as
	 * rpi-eeprom-config writes them since its A/B rework; the file stays. */
	const struct rp_eeprom_section *s = rp_eeprom_find_file(&img, "updatetime");
	CHECK(s != NULL);
	CHECK_EQ_INT(rp_get_le32(img.data + img.size - 8), ~1700000000u);
	CHECK_EQ_INT(rp_get_le32(img.data + img.size - 4), 1700000000u);
	CHECK(rp_get_le32(img.data + s->offset + 28) != 1700000000u);
	rp_eeprom_free(&img);

	/* A/B: both copies. */
	o.soc = "2712";
	img = synth(&o);
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 1234567890u, NULL), RP_OK);
	CHECK_EQ_INT(rp_get_le32(img.data + 28672 + 28), 1234567890u);
	CHECK_EQ_INT(rp_get_le32(img.data + 28672 + 24), ~1234567890u);
	rp_eeprom_get_timestamp(&img, &ts, &set);
	CHECK(set);
	CHECK_EQ_INT(ts, 1234567890u);
	rp_eeprom_free(&img);

	/* No updatetime file: the last 8 bytes. */
	o = rp_synth_defaults();
	o.no_updatetime = true;
	img = synth(&o);
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 42u, NULL), RP_OK);
	CHECK_EQ_INT(rp_get_le32(img.data + img.size - 8), ~42u);
	CHECK_EQ_INT(rp_get_le32(img.data + img.size - 4), 42u);
	rp_eeprom_get_timestamp(&img, &ts, &set);
	CHECK(set);
	CHECK_EQ_INT(ts, 42u);
	rp_eeprom_free(&img);
}

static void test_bad_images(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	struct rp_eeprom img;
	struct rp_diag d;
	uint8_t *data;
	size_t len;

	CHECK_EQ_INT(rp_synth_image(&o, &data, &len), 0);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_eeprom_parse(&img, data, len - 8, "short.bin", &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "short.bin");
	CHECK_CONTAINS(d.msg, "524280 bytes");

	/* A corrupt magic: the message says where and what. */
	rp_put_be32(data + 8192, 0x12345678u);
	CHECK_EQ_INT(rp_eeprom_parse(&img, data, len, "bad.bin", &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "bad.bin");
	CHECK_CONTAINS(d.msg, "offset 8192");
	CHECK_CONTAINS(d.msg, "0x12345678");
	rp_put_be32(data + 8192, 0x55aaf44fu);

	/* A length running past the end. */
	rp_put_be32(data + 8192 + 4, 0x7fffffffu);
	CHECK_EQ_INT(rp_eeprom_parse(&img, data, len, "long.bin", &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "past the end");
	rp_put_be32(data + 8192 + 4, 20000);

	/* Erased: nothing at offset 0. */
	memset(data, 0xff, 8);
	CHECK_EQ_INT(rp_eeprom_parse(&img, data, len, "erased.bin", &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "erased.bin");
	free(data);

	/* No bootconf.txt: parses, but has nothing to edit. */
	o.no_bootconf = true;
	img = synth(&o);
	const uint8_t *p;
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &p, &len, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "bootconf.txt");
	CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.txt", (const uint8_t *)"x", 1, &d), RP_ERR_NOT_FOUND);
	rp_eeprom_free(&img);
}

/* ---- real firmware ------------------------------------------------------ */

static uint8_t *fixture(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	uint8_t *data;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rp_file_read_all(path, 8u << 20, &data, len, NULL) < 0) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		CHECK(!"fixture missing");
		return NULL;
	}
	return data;
}

static void test_fixture_image(const char *dir, const char *name)
{
	struct rp_eeprom img;
	uint8_t *data;
	size_t len;
	char label[4096];

	data = fixture(dir, name, &len);
	if (!data)
		return;
	snprintf(label, sizeof(label), "%s/%s", dir, name);
	if (rp_eeprom_parse(&img, data, len, label, NULL) < 0) {
		fprintf(stderr, "%s: does not parse\n", label);
		CHECK(!"fixture parses");
		free(data);
		return;
	}
	CHECK(rp_eeprom_find_file(&img, "bootconf.txt") != NULL);
	CHECK(rp_eeprom_build_timestamp(&img) > 1500000000);
	round_trips(&img);

	/* Timestamp: set and read back, then the original bytes restore it. */
	uint32_t ts;
	bool set;
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 1776000000u, NULL), RP_OK);
	rp_eeprom_get_timestamp(&img, &ts, &set);
	CHECK(set);
	CHECK_EQ_INT(ts, 1776000000u);
	CHECK(!same_image(&img, data, len));
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&img, 0xffffffffu, NULL), RP_OK);
	if (img.ab && rp_eeprom_find_file(&img, "updatetime"))
		CHECK(same_image(&img, data, len));
	rp_eeprom_free(&img);
	free(data);
}

static void test_fixtures(const char *fw)
{
	static const char *const images[] = {
		"2711/pieeprom-2019-07-15.bin", "2711/pieeprom-2020-10-02.bin",
		"2711/pieeprom-2022-04-26.bin", "2711/pieeprom-2026-08-04.bin",
		"2712/pieeprom-2026-08-12.bin", "signed/pieeprom-signed.bin",
	};
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		test_fixture_image(fw, images[i]);

	/* Layout facts of the 2712 image. */
	struct rp_eeprom img;
	size_t len;
	uint8_t *data = fixture(fw, "2712/pieeprom-2026-08-12.bin", &len);
	if (data && rp_eeprom_parse(&img, data, len, "2712", NULL) == RP_OK) {
		CHECK(img.ab);
		CHECK_EQ_INT(rp_eeprom_find_file(&img, "bootconf.txt")->offset, 671744);
		CHECK_EQ_INT(rp_eeprom_find_file(&img, "updatetime")->offset, 663352);
		/* Growing bootconf.txt moves the padding that ends at the partition end. */
		const uint8_t *c;
		size_t clen;
		CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &c, &clen, NULL), RP_OK);
		uint8_t conf[4076];
		memcpy(conf, c, clen);
		memset(conf + clen, '#', 100);
		replace_ok(&img, "bootconf.txt", conf, clen + 100);
		size_t p = (671744 + 24 + clen + 100 + 7) & ~(size_t)7;
		CHECK_EQ_INT(rp_get_be32(img.data + p), RP_EEPROM_MAGIC_PAD);
		CHECK_EQ_INT(p + 8 + rp_get_be32(img.data + p + 4), 1077248);
		replace_ok(&img, "bootconf.txt", conf, clen);
		CHECK(same_image(&img, data, len));
		rp_eeprom_free(&img);
	}
	free(data);

	/* The signed image, rebuilt from its inputs after wiping them. */
	size_t conf_len, sig_len, signed_len;
	uint8_t *signed_img = fixture(fw, "signed/pieeprom-signed.bin", &signed_len);
	uint8_t *conf = fixture(fw, "signed/bootconf.txt", &conf_len);
	uint8_t *sig = fixture(fw, "signed/bootconf.sig", &sig_len);
	char pem[4096];
	uint8_t pub[RP_PUBKEY_BIN_LEN], zeros[600] = { 0 };
	snprintf(pem, sizeof(pem), "%s/signed/public.pem", fw);
	if (signed_img && conf && sig &&
	    rp_eeprom_parse(&img, signed_img, signed_len, "signed", NULL) == RP_OK) {
		CHECK_EQ_INT(rp_pubkey_bin_from_pem(pem, pub, NULL), RP_OK);
		replace_ok(&img, "bootconf.txt", "[all]\n", 6);
		replace_ok(&img, "bootconf.sig", zeros, sizeof(zeros));
		replace_ok(&img, "pubkey.bin", zeros, 100);
		CHECK(!same_image(&img, signed_img, signed_len));
		replace_ok(&img, "bootconf.txt", conf, conf_len);
		replace_ok(&img, "bootconf.sig", sig, sig_len);
		replace_ok(&img, "pubkey.bin", pub, sizeof(pub));
		CHECK(same_image(&img, signed_img, signed_len));

		/* 4076 bytes fit, 4077 do not. */
		size_t l76, l77;
		uint8_t *c76 = fixture(fw, "signed/bootconf-4076.txt", &l76);
		uint8_t *c77 = fixture(fw, "signed/bootconf-4077.txt", &l77);
		CHECK_EQ_INT(l76, 4076);
		CHECK_EQ_INT(l77, 4077);
		if (c76 && c77) {
			replace_ok(&img, "bootconf.txt", c76, l76);
			CHECK_EQ_INT(rp_eeprom_replace_file(&img, "bootconf.txt", c77, l77, NULL),
				     RP_ERR_TOO_LARGE);
			const uint8_t *back;
			size_t blen;
			CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &back, &blen, NULL), RP_OK);
			CHECK(blen == l76 && !memcmp(back, c76, l76));
		}
		free(c76);
		free(c77);
		rp_eeprom_free(&img);
	}
	free(signed_img);
	free(conf);
	free(sig);
}

int main(void)
{
	const char *fw = test_firmware_dir();

	RUN(test_synth_layout());
	RUN(test_replace_bytes());
	RUN(test_bootcode());
	RUN(test_timestamp());
	RUN(test_bad_images());
	if (fw)
		RUN(test_fixtures(fw));
	else
		RUN_SKIPPED(test_fixtures(fw), "RPIPROV_TEST_FIRMWARE is empty");
	return test_result();
}
