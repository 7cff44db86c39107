/* boot.conf: validation, BOOT_ORDER, and edits that keep the user's text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "image/boot_order.h"
#include "image/bootconf.h"
#include "image/profiles.h"

static const uint8_t *u(const char *s)
{
	return (const uint8_t *)s;
}

/* Apply edits to `in` and compare with `want` (NULL: expect failure). */
static void edit_case(const char *in, const char *const *sets, unsigned ns,
		      const char *const *unsets, unsigned nu, const char *want)
{
	uint8_t *out = NULL;
	size_t len = 0;
	char warn[512] = "";
	struct rp_diag d;
	rp_diag_clear(&d);
	int r = rp_bootconf_edit(u(in), strlen(in), sets, ns, unsets, nu, &out, &len, warn,
				 sizeof(warn), &d);
	if (!want) {
		CHECK(r < 0);
		free(out);
		return;
	}
	CHECK_EQ_INT(r, RP_OK);
	if (r == RP_OK) {
		CHECK_EQ_INT(len, strlen(want));
		if (strcmp((char *)out, want))
			fprintf(stderr, "edit of <<%s>>\n got <<%s>>\nwant <<%s>>\n", in, out, want);
		CHECK_STR_EQ((char *)out, want);
	}
	free(out);
}

static void test_set_unset(void)
{
	const char *set_bo[] = { "BOOT_ORDER=0xf21" };
	const char *unset_bo[] = { "BOOT_ORDER" };

	/* Existing key: edited in place, comments and order untouched. */
	edit_case("# mine\n[all]\nBOOT_UART=0\nBOOT_ORDER=0xf41\n# end\n", set_bo, 1, NULL, 0,
		  "# mine\n[all]\nBOOT_UART=0\nBOOT_ORDER=0xf21\n# end\n");
	/* CRLF line endings survive. */
	edit_case("[all]\r\nBOOT_ORDER=0x1\r\nX=1\r\n", set_bo, 1, NULL, 0,
		  "[all]\r\nBOOT_ORDER=0xf21\r\nX=1\r\n");
	/* New key: end of the [all] block, before the blank line and the next section. */
	edit_case("[all]\nBOOT_UART=0\n\n[cm4]\nHDMI_DELAY=0\n", set_bo, 1, NULL, 0,
		  "[all]\nBOOT_UART=0\nBOOT_ORDER=0xf21\n\n[cm4]\nHDMI_DELAY=0\n");
	/* Issue #10: a file whose only section is [config.txt]: what follows
	 * that header is config.txt text, so the key goes in a new [all]
	 * before it, where the bootloader reads it. */
	edit_case("[config.txt]\ndtoverlay=foo\n", set_bo, 1, NULL, 0,
		  "[all]\nBOOT_ORDER=0xf21\n[config.txt]\ndtoverlay=foo\n");
	edit_case("[cm4]\nX=1\n[config.txt]\n[all]\nY=2\n", set_bo, 1, NULL, 0,
		  "[cm4]\nX=1\n[all]\nBOOT_ORDER=0xf21\n[config.txt]\n[all]\nY=2\n");
	/* The key in [cm4] only is not the [all] setting: leave it, add one. */
	edit_case("[cm4]\nBOOT_ORDER=0x1\n", set_bo, 1, NULL, 0,
		  "[cm4]\nBOOT_ORDER=0x1\n[all]\nBOOT_ORDER=0xf21\n");
	/* The last [all] block wins; an empty one gets the key after its header. */
	edit_case("[all]\nA=1\n[pi4]\nB=2\n[all]\n[none]\nC=3\n", set_bo, 1, NULL, 0,
		  "[all]\nA=1\n[pi4]\nB=2\n[all]\nBOOT_ORDER=0xf21\n[none]\nC=3\n");
	/* No header at all: after the last non-blank line. */
	edit_case("BOOT_UART=0\nWAKE_ON_GPIO=1\n   \n   \n", set_bo, 1, NULL, 0,
		  "BOOT_UART=0\nWAKE_ON_GPIO=1\nBOOT_ORDER=0xf21\n   \n   \n");
	/* Missing final newline. */
	edit_case("[all]\nBOOT_UART=0", set_bo, 1, NULL, 0, "[all]\nBOOT_UART=0\nBOOT_ORDER=0xf21\n");
	edit_case("", set_bo, 1, NULL, 0, "BOOT_ORDER=0xf21\n");
	/* Keys before the first header are all-scope. */
	edit_case("A=1\n[cm4]\nB=1\n", set_bo, 1, NULL, 0, "A=1\nBOOT_ORDER=0xf21\n[cm4]\nB=1\n");
	/* Only comments before a filter: a new [all] at the end. */
	edit_case("# hello\n[cm4]\nB=1", set_bo, 1, NULL, 0,
		  "# hello\n[cm4]\nB=1\n[all]\nBOOT_ORDER=0xf21\n");
	/* [config.txt] text is not bootloader config. */
	edit_case("[all]\nA=1\n[config.txt]\nBOOT_ORDER=1\n", set_bo, 1, NULL, 0,
		  "[all]\nA=1\nBOOT_ORDER=0xf21\n[config.txt]\nBOOT_ORDER=1\n");

	/* Unset: every all-scope line goes, other sections stay. */
	edit_case("[all]\nBOOT_ORDER=0x1\nA=1\nBOOT_ORDER=0x2\n[cm4]\nBOOT_ORDER=0x4\n", NULL, 0,
		  unset_bo, 1, "[all]\nA=1\n[cm4]\nBOOT_ORDER=0x4\n");
	/* Set then unset in one go: sets first. */
	edit_case("[all]\nA=1\n", set_bo, 1, unset_bo, 1, "[all]\nA=1\n");
	/* Values with '=' and spaces are kept as given. */
	const char *netcons[] = { "NETCONSOLE=6665@169.254.1.1/,6666@/", "TFTP_PREFIX_STR=a b" };
	edit_case("[all]\n", netcons, 2, NULL, 0,
		  "[all]\nNETCONSOLE=6665@169.254.1.1/,6666@/\nTFTP_PREFIX_STR=a b\n");

	/* Bad arguments. */
	const char *no_eq[] = { "BOOT_ORDER" };
	const char *bad_key[] = { "BOOT ORDER=1" };
	const char *empty_key[] = { "=1" };
	const char *newline[] = { "A=1\nB=2" };
	const char *bad_unset[] = { "A=1" };
	edit_case("", no_eq, 1, NULL, 0, NULL);
	edit_case("", bad_key, 1, NULL, 0, NULL);
	edit_case("", empty_key, 1, NULL, 0, NULL);
	edit_case("", newline, 1, NULL, 0, NULL);
	edit_case("", NULL, 0, bad_unset, 1, NULL);

	struct rp_diag d;
	uint8_t *out;
	size_t len;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_bootconf_edit(u(""), 0, no_eq, 1, NULL, 0, &out, &len, NULL, 0, &d),
		     RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "KEY=VALUE");
	char warn[256] = "";
	CHECK_EQ_INT(rp_bootconf_edit(u("[all]\n"), 6, NULL, 0, unset_bo, 1, &out, &len, warn,
				      sizeof(warn), &d), RP_OK);
	CHECK_CONTAINS(warn, "BOOT_ORDER");
	free(out);
}

static void test_get(void)
{
	const char *t = "BOOT_ORDER=0x1\n[cm4]\nBOOT_ORDER=0x4\n[all]\nBOOT_ORDER=0xf21\n[pi4]\nBOOT_ORDER=0x6\n";
	size_t vlen = 0;
	const char *v = rp_bootconf_get(u(t), strlen(t), "BOOT_ORDER", &vlen);
	CHECK(v && vlen == 5 && !memcmp(v, "0xf21", 5));
	CHECK(rp_bootconf_get(u(t), strlen(t), "NOPE", &vlen) == NULL);
}

static int validate(const char *t, bool strict, char *warn, size_t wsize, struct rp_diag *d)
{
	if (warn && wsize)
		warn[0] = '\0';
	rp_diag_clear(d);
	return rp_bootconf_validate(u(t), strlen(t), "test.conf", strict, warn, wsize, d);
}

static void test_validate(void)
{
	char warn[1024];
	struct rp_diag d;

	CHECK_EQ_INT(validate("[all]\nBOOT_UART=0\nBOOT_ORDER=0xf21\n# c\n\n[cm4]\nuserdata3=1\nUSB_MSD_LUN_TIMEOUT=1\n",
			      true, warn, sizeof(warn), &d), RP_OK);
	CHECK_STR_EQ(warn, "");

	/* Unknown keys: a warning, an error with strict. */
	CHECK_EQ_INT(validate("[all]\nBOOT_UART=0\nBOOT_ODER=0xf21\n", false, warn, sizeof(warn), &d),
		     RP_OK);
	CHECK_CONTAINS(warn, "test.conf line 3");
	CHECK_CONTAINS(warn, "BOOT_ODER");
	CHECK_EQ_INT(validate("[all]\nBOOT_UART=0\nBOOT_ODER=0xf21\n", true, warn, sizeof(warn), &d),
		     RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "BOOT_ODER");
	CHECK_CONTAINS(d.msg, "strict");
	/* Not KEY=VALUE, and blanks around '='. */
	CHECK_EQ_INT(validate("hello\nBOOT_UART = 1\n", false, warn, sizeof(warn), &d), RP_OK);
	CHECK_CONTAINS(warn, "line 1");
	CHECK_CONTAINS(warn, "line 2");
	/* [none] and [config.txt] are not checked. */
	CHECK_EQ_INT(validate("[none]\nWHATEVER=1\n[all]\n[config.txt]\ndtoverlay=x\n[all]\nfoo=1\n",
			      true, warn, sizeof(warn), &d), RP_OK);

	/* BOOT_ORDER is always checked. */
	CHECK_EQ_INT(validate("BOOT_ORDER=0xf91\n", false, warn, sizeof(warn), &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "test.conf line 1");
	CHECK_CONTAINS(d.msg, "digit 2");
	CHECK_CONTAINS(d.msg, "'9'");
	CHECK_EQ_INT(validate("[all]\nBOOT_ORDER=0xfz1\n", false, warn, sizeof(warn), &d),
		     RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "hexadecimal");
	CHECK_EQ_INT(validate("BOOT_ORDER=0x111111111\n", false, warn, sizeof(warn), &d),
		     RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "9 digits");
	CHECK_EQ_INT(validate("BOOT_ORDER=421\n", false, warn, sizeof(warn), &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "0x");
	CHECK_EQ_INT(validate("BOOT_ORDER=0x\n", false, warn, sizeof(warn), &d), RP_ERR_FORMAT);
	CHECK_EQ_INT(validate("BOOT_ORDER=0xF21\r\n", true, warn, sizeof(warn), &d), RP_OK);

	/* Size and NUL limits. */
	char *big = malloc(4078);
	memset(big, '#', 4077);
	big[4077] = 0;
	big[4075] = '\n';
	CHECK_EQ_INT(rp_bootconf_validate(u(big), 4076, "big.conf", true, NULL, 0, &d), RP_OK);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_bootconf_validate(u(big), 4077, "big.conf", true, NULL, 0, &d),
		     RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, "big.conf");
	CHECK_CONTAINS(d.msg, "4077 bytes");
	free(big);
	CHECK_EQ_INT(rp_bootconf_validate(u("A=1\n\0B=2\n"), 9, "nul.conf", false, NULL, 0, &d),
		     RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "NUL byte at offset 4");

	/* Warnings never overflow their buffer. */
	char tiny[16] = "";
	CHECK_EQ_INT(rp_bootconf_validate(u("X=1\nY=2\nZ=3\n"), 12, "t", false, tiny, sizeof(tiny),
					  &d), RP_OK);
	CHECK(strlen(tiny) < sizeof(tiny));
}

static void test_boot_order(void)
{
	struct rp_boot_order bo;
	struct rp_diag d;
	char words[256];

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_boot_order_parse("0xf21", 5, &bo, &d), RP_OK);
	CHECK_EQ_INT(bo.value, 0xf21);
	CHECK_EQ_INT(bo.ndigits, 3);
	rp_boot_order_describe(&bo, words, sizeof(words));
	CHECK_STR_EQ(words, "SD card/eMMC, then network boot, then restart");
	CHECK_EQ_INT(rp_boot_order_parse("0x0f146", 7, &bo, &d), RP_OK);
	CHECK_EQ_INT(bo.ndigits, 5);
	rp_boot_order_describe(&bo, words, sizeof(words));
	CHECK_STR_EQ(words,
		     "NVMe, then USB mass storage, then SD card/eMMC, then restart, then SD card (then wait for card detect)");
	CHECK_EQ_INT(rp_boot_order_parse("0x71", 4, &bo, &d), RP_OK);
	rp_boot_order_describe(&bo, words, sizeof(words));
	CHECK_STR_EQ(words, "SD card/eMMC, then HTTP boot");
	/* Digits 8 to d are no boot mode. */
	for (unsigned digit = 0; digit < 16; digit++) {
		char v[8];
		snprintf(v, sizeof(v), "0x%x1", digit);
		int r = rp_boot_order_parse(v, strlen(v), &bo, &d);
		CHECK_EQ_INT(r == RP_OK, digit <= 7 || digit >= 0xe);
	}
	CHECK_EQ_INT(rp_boot_order_parse("0xf81", 5, &bo, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "digit 2 from the right is '8'");
	CHECK_EQ_INT(rp_boot_order_parse("0x12345678", 10, &bo, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "digit 1 from the right is '8'");
	CHECK_EQ_INT(rp_boot_order_parse("0x76543210", 10, &bo, &d), RP_OK);
	/* Tiny output buffers stay terminated. */
	char small[8];
	rp_boot_order_describe(&bo, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
}

static void test_profiles(void)
{
	uint8_t *t;
	size_t len, vlen;
	char src[64];
	struct rp_diag d;

	CHECK(rp_profile_count() >= 4);
	for (size_t i = 0; i < rp_profile_count(); i++) {
		const char *name = rp_profile_name(i);
		CHECK_EQ_INT(rp_profile_load(name, &t, &len, src, sizeof(src), &d), RP_OK);
		CHECK_EQ_INT(rp_bootconf_validate(t, len, name, true, NULL, 0, &d), RP_OK);
		free(t);
	}
	CHECK_EQ_INT(rp_profile_load("netboot", &t, &len, src, sizeof(src), &d), RP_OK);
	const char *v = rp_bootconf_get(t, len, "BOOT_ORDER", &vlen);
	CHECK(v && vlen == 5 && !memcmp(v, "0xf21", 5));
	CHECK_STR_EQ(src, "profile netboot");
	free(t);
	CHECK_EQ_INT(rp_profile_load("usb-then-sd", &t, &len, src, sizeof(src), &d), RP_OK);
	v = rp_bootconf_get(t, len, "BOOT_ORDER", &vlen);
	CHECK(v && vlen == 5 && !memcmp(v, "0xf14", 5));
	free(t);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_profile_load("nosuch", &t, &len, src, sizeof(src), &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "netboot");
	CHECK_EQ_INT(rp_profile_load("./nosuch.conf", &t, &len, src, sizeof(src), &d),
		     RP_ERR_NOT_FOUND);
}

int main(void)
{
	RUN(test_set_unset());
	RUN(test_get());
	RUN(test_validate());
	RUN(test_boot_order());
	RUN(test_profiles());
	return test_result();
}
