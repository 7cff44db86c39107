/* The firmware search (image/firmware.h): one case per place users keep
 * images, the order between places, and the synthetic fallback a
 * simulation gets (image/prepare.h). Every system path is relocated under
 * a scratch RPIPROV_SYSROOT and HOME, so nothing on the test machine is
 * read. Images are synthetic, of the real sizes (the search goes by size). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/eeprom_image.h"
#include "image/firmware.h"
#include "image/prepare.h"
#include "image/synthetic.h"
#include "testlib.h"

static char root[4096];

/* Every variable the search reads, pointed at empty scratch folders. */
static void fresh_env(const char *name)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	mkdir(path, 0755);
	setenv("RPIPROV_SYSROOT", path, 1);
	snprintf(path, sizeof(path), "%s/%s/home", root, name);
	mkdir(path, 0755);
	setenv("HOME", path, 1);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("RPIPROV_FIRMWARE_DIR");
	unsetenv("FIRMWARE_ROOT");
	unsetenv("FIRMWARE_RELEASE_STATUS");
}

static void mkdirs(const char *path)
{
	char buf[4200], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	mkdir(buf, 0755);
}

static void write_file(const char *path, const void *data, size_t len)
{
	char dir[4200];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = 0;
	mkdirs(dir);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(data, 1, len, f) == len);
	fclose(f);
}

/* A synthetic image of `soc` built at `ts` at path. */
static void image_at(const char *path, const char *soc, int64_t ts)
{
	struct rp_synth_opts o = rp_synth_defaults();
	uint8_t *img;
	size_t len;

	o.soc = soc;
	o.build_timestamp = ts;
	CHECK_EQ_INT(rp_synth_image(&o, &img, &len), RP_OK);
	write_file(path, img, len);
	free(img);
}

static void rm_file(const char *path)
{
	CHECK_EQ_INT(unlink(path), 0);
}

static void recovery_at(const char *path)
{
	write_file(path, "recovery", 8);
}

static const char *sys(const char *rel)
{
	static char buf[4][4200];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s%s", getenv("RPIPROV_SYSROOT"), rel);
	return buf[k];
}

static void expect_image(const char *soc, const char *given, const char *want, const char *why_has)
{
	char path[4096], why[512];
	struct rp_diag d;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_firmware_find_image(soc, given, path, sizeof(path), why, sizeof(why), &d),
		     RP_OK);
	CHECK_STR_EQ(path, want);
	if (why_has)
		CHECK_CONTAINS(why, why_has);
}

static void expect_recovery(const char *soc, const char *given, const char *image, const char *want)
{
	char path[4096];
	struct rp_diag d;

	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_firmware_find_recovery(soc, given, image, path, sizeof(path), &d), RP_OK);
	CHECK_STR_EQ(path, want);
}

/* 1: a directory given as --image DIR in usbboot's layout: an undated
 * pieeprom.bin (dated by its BUILD_TIMESTAMP), recovery.bin beside it. */
static void test_usbboot_checkout(void)
{
	char dir[4200];

	fresh_env("usbboot");
	snprintf(dir, sizeof(dir), "%s", sys("/usbboot"));
	image_at(sys("/usbboot/firmware/2711/pieeprom.bin"), "2711", 1700000000);
	recovery_at(sys("/usbboot/firmware/2711/recovery.bin"));
	image_at(sys("/usbboot/firmware/2712/pieeprom.bin"), "2712", 1700000000);
	recovery_at(sys("/usbboot/recovery5/bootcode5.bin"));
	expect_image("2711", dir, sys("/usbboot/firmware/2711/pieeprom.bin"), "2023-11-14");
	expect_recovery("2711", dir, NULL, sys("/usbboot/firmware/2711/recovery.bin"));
	expect_image("2712", dir, sys("/usbboot/firmware/2712/pieeprom.bin"), "given directory");
	/* no recovery.bin beside the 2712 image: usbboot's recovery5/ */
	expect_recovery("2712", dir, NULL, sys("/usbboot/recovery5/bootcode5.bin"));
}

/* 1: an rpi-eeprom checkout: firmware-<soc>/<channel>/, newest of both. */
static void test_rpi_eeprom_checkout(void)
{
	char dir[4200];

	fresh_env("rpi-eeprom");
	snprintf(dir, sizeof(dir), "%s", sys("/rpi-eeprom"));
	image_at(sys("/rpi-eeprom/firmware-2711/default/pieeprom-2025-01-01.bin"), "2711", 1);
	image_at(sys("/rpi-eeprom/firmware-2711/latest/pieeprom-2025-03-01.bin"), "2711", 1);
	recovery_at(sys("/rpi-eeprom/firmware-2711/latest/recovery.bin"));
	/* a 2712-sized image in the 2711 folder is not a 2711 image */
	image_at(sys("/rpi-eeprom/firmware-2711/latest/pieeprom-2026-01-01.bin"), "2712", 1);
	expect_image("2711", dir, sys("/rpi-eeprom/firmware-2711/latest/pieeprom-2025-03-01.bin"),
		     "channel latest");
}

/* 1: RPIPROV_FIRMWARE_DIR alone, even when the system has newer ones. */
static void test_env_dir_alone(void)
{
	char dir[4200];

	fresh_env("envdir");
	snprintf(dir, sizeof(dir), "%s/envdir/fw", root);
	image_at(sys("/fw/2711/pieeprom-2020-01-01.bin"), "2711", 1);
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2026-01-01.bin"),
		 "2711", 1);
	setenv("RPIPROV_FIRMWARE_DIR", dir, 1);
	expect_image("2711", NULL, sys("/fw/2711/pieeprom-2020-01-01.bin"), "RPIPROV_FIRMWARE_DIR");
}

/* 2: FIRMWARE_ROOT and FIRMWARE_RELEASE_STATUS from the environment. */
static void test_eeprom_update_env(void)
{
	char dir[4200];

	fresh_env("eu-env");
	snprintf(dir, sizeof(dir), "%s/eu-env/custom", root);
	image_at(sys("/custom/beta/pieeprom-2024-05-05.bin"), "2711", 1);
	image_at(sys("/custom/latest/pieeprom-2026-01-01.bin"), "2711", 1);
	setenv("FIRMWARE_ROOT", dir, 1);
	setenv("FIRMWARE_RELEASE_STATUS", "beta", 1);
	expect_image("2711", NULL, sys("/custom/beta/pieeprom-2024-05-05.bin"),
		     "rpi-eeprom-update settings");
}

/* 2: /etc/default/rpi-eeprom-update: an old release name (critical is
 * now default) picks the channel in the package folders, and its
 * FIRMWARE_ROOT is read below the system root. */
static void test_eeprom_update_file(void)
{
	static const char conf[] = "# rpi-eeprom-update\nFIRMWARE_RELEASE_STATUS=\"critical\"\n";
	static const char conf2[] = "export FIRMWARE_ROOT='/opt/fw' # mirror\n";

	fresh_env("eu-file");
	write_file(sys("/etc/default/rpi-eeprom-update"), conf, sizeof(conf) - 1);
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2024-01-01.bin"),
		 "2711", 1);
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/latest/pieeprom-2026-01-01.bin"),
		 "2711", 1);
	expect_image("2711", NULL,
		     sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2024-01-01.bin"),
		     "channel default");
	write_file(sys("/etc/default/rpi-eeprom-update"), conf2, sizeof(conf2) - 1);
	image_at(sys("/opt/fw/default/pieeprom-2023-01-01.bin"), "2711", 1);
	expect_image("2711", NULL, sys("/opt/fw/default/pieeprom-2023-01-01.bin"),
		     "rpi-eeprom-update settings");
}

/* 2: Raspberry Pi OS's package folders (/lib and /usr/lib), and recovery.bin. */
static void test_package_dirs(void)
{
	fresh_env("package");
	image_at(sys("/usr/lib/firmware/raspberrypi/bootloader-2712/latest/pieeprom-2026-02-02.bin"),
		 "2712", 1);
	recovery_at(sys("/usr/lib/firmware/raspberrypi/bootloader-2712/latest/recovery.bin"));
	expect_image("2712", NULL,
		     sys("/usr/lib/firmware/raspberrypi/bootloader-2712/latest/pieeprom-2026-02-02.bin"),
		     "rpi-eeprom package");
	expect_recovery("2712", NULL, NULL,
			sys("/usr/lib/firmware/raspberrypi/bootloader-2712/latest/recovery.bin"));
}

/* 3: the fetch cache: XDG_CACHE_HOME, ~/.cache, then /var/cache; and an
 * earlier place wins over a newer image in a later one. */
static void test_cache(void)
{
	char xdg[4200], got[4096];

	fresh_env("cache");
	image_at(sys("/var/cache/rpiprov/firmware/2711/default/pieeprom-2021-01-01.bin"), "2711", 1);
	expect_image("2711", NULL, sys("/var/cache/rpiprov/firmware/2711/default/pieeprom-2021-01-01.bin"),
		     "fetch cache");
	image_at(sys("/home/.cache/rpiprov/firmware/2711/default/pieeprom-2020-01-01.bin"), "2711", 1);
	/* ~/.cache is searched (the list says so), and in one tier the newest wins */
	CHECK_EQ_INT(rp_firmware_find_image("2711", NULL, got, sizeof(got), NULL, 0, NULL), RP_OK);
	CHECK_STR_EQ(got, sys("/var/cache/rpiprov/firmware/2711/default/pieeprom-2021-01-01.bin"));
	rm_file(sys("/var/cache/rpiprov/firmware/2711/default/pieeprom-2021-01-01.bin"));
	expect_image("2711", NULL, sys("/home/.cache/rpiprov/firmware/2711/default/pieeprom-2020-01-01.bin"),
		     "fetch cache");
	image_at(sys("/var/cache/rpiprov/firmware/2711/default/pieeprom-2021-01-01.bin"), "2711", 1);
	snprintf(xdg, sizeof(xdg), "%s/cache/xdg", root);
	setenv("XDG_CACHE_HOME", xdg, 1);
	image_at(sys("/xdg/rpiprov/firmware/2711/latest/pieeprom-2022-01-01.bin"), "2711", 1);
	expect_image("2711", NULL, sys("/xdg/rpiprov/firmware/2711/latest/pieeprom-2022-01-01.bin"),
		     "fetch cache");
	CHECK_EQ_INT(rp_firmware_cache_root(false, got, sizeof(got), NULL), RP_OK);
	CHECK_STR_EQ(got, sys("/xdg/rpiprov/firmware"));
	/* the package folder comes first, though older */
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2019-01-01.bin"),
		 "2711", 1);
	expect_image("2711", NULL,
		     sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2019-01-01.bin"),
		     "rpi-eeprom package");
}

/* Nothing anywhere: the error says how to fix it and where it looked. */
static void test_not_found(void)
{
	char path[4096];
	struct rp_diag d;

	fresh_env("none");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_firmware_find_image("2712", NULL, path, sizeof(path), NULL, 0, &d),
		     RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "rpiprov firmware fetch --soc 2712");
	CHECK_CONTAINS(d.msg, sys("/lib/firmware/raspberrypi/bootloader-2712/{latest,default}"));
	CHECK_CONTAINS(d.msg, sys("/home/.cache/rpiprov/firmware/2712/{latest,default}"));
	CHECK_CONTAINS(d.msg, sys("/var/cache/rpiprov/firmware/2712/{latest,default}"));
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_firmware_find_recovery("2711", NULL, NULL, path, sizeof(path), &d),
		     RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "recovery.bin");
}

/* `firmware list`'s view: every image and recovery.bin of both SoCs. */
static void test_scan(void)
{
	struct rp_fw_list l;
	size_t images = 0, recoveries = 0;

	fresh_env("scan");
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2024-01-01.bin"),
		 "2711", 1);
	recovery_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/recovery.bin"));
	image_at(sys("/home/.cache/rpiprov/firmware/2712/latest/pieeprom-2026-01-01.bin"), "2712", 1);
	CHECK_EQ_INT(rp_firmware_scan(NULL, &l, NULL), RP_OK);
	for (size_t i = 0; i < l.n; i++) {
		images += l.v[i].kind == RP_FW_IMAGE;
		recoveries += l.v[i].kind == RP_FW_RECOVERY;
		if (l.v[i].kind == RP_FW_IMAGE && !strcmp(l.v[i].soc, "2712")) {
			CHECK_STR_EQ(l.v[i].channel, "latest");
			CHECK_STR_EQ(l.v[i].date, "2026-01-01");
			CHECK_EQ_INT(l.v[i].tier, RP_FW_TIER_CACHE);
		}
	}
	CHECK_EQ_INT(images, 2);
	CHECK_EQ_INT(recoveries, 1);
	rp_fw_list_free(&l);
}

/* A simulation with no firmware gets the labelled synthetic set; nobody
 * else does: without the flag, or with an explicit (empty) folder, the
 * search's error stands. */
static void test_synthetic_fallback(void)
{
	struct rp_prepare_opts o = { .timestamp = 1700000000 };
	struct rp_prepared p[RP_PREPARE_MAX_SOCS];
	struct rp_diag d;
	struct rp_eeprom img;
	const uint8_t *conf;
	size_t n, len;
	char empty[4200];

	fresh_env("synthetic");
	memset(p, 0, sizeof(p));
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build(&o, &p[0], &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "rpiprov firmware fetch");
	rp_prepared_free(&p[0]);

	o.synthetic_fallback = true;
	CHECK_EQ_INT(rp_prepare_build_each_soc(&o, p, &n, NULL, NULL, &d), RP_OK);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		CHECK(p[i].synthetic);
		CHECK_CONTAINS(p[i].image_source, "synthetic");
		CHECK_CONTAINS(p[i].recovery_source, "synthetic");
		CHECK_CONTAINS((const char *)p[i].second_stage, "not recovery.bin");
		memset(&img, 0, sizeof(img));
		CHECK_EQ_INT(rp_eeprom_parse(&img, p[i].image, p[i].image_len, "x", NULL), RP_OK);
		CHECK_STR_EQ(img.soc->soc, i == 0 ? "2711" : "2712");
		CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &conf, &len, NULL), RP_OK);
		CHECK(len > 20 && memmem(conf, len, "synthetic", 9) != NULL);
		rp_eeprom_free(&img);
		rp_prepared_free(&p[i]);
	}

	/* real firmware for 2711 only: real for 2711, synthetic for 2712 */
	image_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/pieeprom-2024-01-01.bin"),
		 "2711", 1700000000);
	recovery_at(sys("/lib/firmware/raspberrypi/bootloader-2711/default/recovery.bin"));
	CHECK_EQ_INT(rp_prepare_build_each_soc(&o, p, &n, NULL, NULL, &d), RP_OK);
	CHECK_EQ_INT(n, 2);
	CHECK(!p[0].synthetic);
	CHECK_CONTAINS(p[0].image_source, "pieeprom-2024-01-01.bin");
	CHECK(p[1].synthetic);
	for (size_t i = 0; i < n; i++)
		rp_prepared_free(&p[i]);

	snprintf(empty, sizeof(empty), "%s/synthetic/empty", root);
	mkdir(empty, 0755);
	o.image_path = empty;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build_each_soc(&o, p, &n, NULL, NULL, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, empty);
	for (size_t i = 0; i < RP_PREPARE_MAX_SOCS; i++)
		rp_prepared_free(&p[i]);
}

int main(void)
{
	if (!test_scratch_enter("fw-search", root, sizeof(root)))
		return 1;
	RUN(test_usbboot_checkout());
	RUN(test_rpi_eeprom_checkout());
	RUN(test_env_dir_alone());
	RUN(test_eeprom_update_env());
	RUN(test_eeprom_update_file());
	RUN(test_package_dirs());
	RUN(test_cache());
	RUN(test_not_found());
	RUN(test_scan());
	RUN(test_synthetic_fallback());
	test_scratch_leave(root);
	return test_result();
}
