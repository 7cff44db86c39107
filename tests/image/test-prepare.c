/* rp_prepare_build: the in-memory payload that `rpiprov flash` serves and
 * `rpiprov prepare` writes, on synthetic images. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "testlib.h"
#include "synth-image.h"
#include "image/bootconf.h"
#include "image/eeprom_image.h"
#include "image/prepare.h"
#include "image/sig.h"
#include "util/endian.h"
#include "util/fileio.h"

static char dir[256];
/* Filled before any thread starts; read-only afterwards. */
static char img_path[512], recovery_path[512], key_path[512];

static const char *in_dir(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static void setup(void)
{
	struct rp_synth_opts o = rp_synth_defaults();
	EVP_PKEY *k;
	FILE *f;

	CHECK_EQ_INT(synth_image_file(&o, in_dir("img.bin")), 0);
	o.build_timestamp = 1614092418;
	CHECK_EQ_INT(synth_image_file(&o, in_dir("old.bin")), 0);
	o = rp_synth_defaults();
	o.soc = "2712";
	CHECK_EQ_INT(synth_image_file(&o, in_dir("img2712.bin")), 0);
	CHECK_EQ_INT(rp_file_write_atomic(in_dir("recovery.bin"), "RECOVERY", 8, 0644, NULL), 0);
	CHECK_EQ_INT(rp_file_write_atomic(in_dir("otp.txt"), "revoke_devkey=1\n", 16, 0644, NULL), 0);
	CHECK_EQ_INT(rp_file_write_atomic(in_dir("otp0.txt"), "revoke_devkey=0\n", 16, 0644, NULL), 0);
	k = EVP_RSA_gen(2048);
	f = fopen(in_dir("key.pem"), "w");
	CHECK(f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
	EVP_PKEY_free(k);
}

static struct rp_prepare_opts base_opts(void)
{
	struct rp_prepare_opts o;
	memset(&o, 0, sizeof(o));
	o.image_path = img_path;
	o.recovery_path = recovery_path;
	o.timestamp = 1700000000;
	return o;
}

static void check_payload(const struct rp_prepared *p, const char *want_order)
{
	struct rp_eeprom img;
	const uint8_t *conf;
	size_t len, vlen;
	char hex[65], want_sig[128];

	CHECK_EQ_INT(rp_eeprom_parse(&img, p->image, p->image_len, "prepared", NULL), RP_OK);
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &conf, &len, NULL), RP_OK);
	const char *v = rp_bootconf_get(conf, len, "BOOT_ORDER", &vlen);
	CHECK(v && vlen == strlen(want_order) && !memcmp(v, want_order, vlen));
	rp_sha256_hex(p->image, p->image_len, hex);
	CHECK_STR_EQ(p->image_sha256, hex);
	snprintf(want_sig, sizeof(want_sig), "%s\nts: 1700000000\n", hex);
	CHECK(p->image_sig && p->image_sig_len == strlen(want_sig) &&
	      !memcmp(p->image_sig, want_sig, p->image_sig_len));
	CHECK(p->second_stage_len == 8 && !memcmp(p->second_stage, "RECOVERY", 8));
	CHECK(p->recovery_config_len > 0);
	/* The served image already holds the .sig's ts as its update time,
	 * which recovery.bin writes into the EEPROM (F20): the bytes served
	 * are the bytes flashed. */
	{
		uint32_t ts;
		bool set;
		rp_eeprom_get_timestamp(&img, &ts, &set);
		CHECK(set);
		CHECK_EQ_INT(ts, 1700000000u);
		if (!img.ab) /* a 2711 image: the last 8 bytes, as rpi-eeprom-config */
			CHECK_EQ_INT(rp_get_le32(p->image + p->image_len - 4), 1700000000u);
	}
	rp_eeprom_free(&img);
}

static void test_basic(void)
{
	struct rp_prepare_opts o = base_opts();
	struct rp_prepared p;
	struct rp_diag d;

	o.profile = "netboot";
	o.sets[o.n_sets++] = "BOOT_UART=1";
	o.sets[o.n_sets++] = "MYSTERY=1";
	/* A key no bootloader knows: refused, unless forced (then a warning). */
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "'MYSTERY'");
	rp_prepared_free(&p);
	o.force = true;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	CHECK_STR_EQ(p.soc, "2711");
	CHECK_CONTAINS(p.warnings, "MYSTERY");
	CHECK_STR_EQ(p.image_source, in_dir("img.bin"));
	check_payload(&p, "0xf21");
	CHECK_CONTAINS((const char *)p.recovery_config, "recovery_metadata=1");

	CHECK_EQ_INT(rp_prepare_write_dir(&p, in_dir("out/sub"), &d), RP_OK);
	uint8_t *back;
	size_t len;
	CHECK_EQ_INT(rp_file_read_all(in_dir("out/sub/pieeprom.bin"), 4 << 20, &back, &len, NULL), 0);
	CHECK(len == p.image_len && !memcmp(back, p.image, len));
	free(back);
	CHECK(access(in_dir("out/sub/bootcode4.bin"), R_OK) == 0);
	CHECK(access(in_dir("out/sub/pieeprom.sig"), R_OK) == 0);
	CHECK(access(in_dir("out/sub/config.txt"), R_OK) == 0);
	rp_prepared_free(&p);

	/* Strict: the unknown key is an error and nothing is returned. */
	o.strict = true;
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "MYSTERY");
	CHECK(p.image == NULL);
	CHECK_STR_EQ(p.image_source, in_dir("img.bin"));
	rp_prepared_free(&p);

	/* 2712: second stage name and A/B image. */
	o = base_opts();
	o.image_path = in_dir("img2712.bin");
	o.sets[o.n_sets++] = "BOOT_ORDER=0xf461";
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	CHECK_STR_EQ(p.soc, "2712");
	check_payload(&p, "0xf461");
	CHECK_EQ_INT(rp_prepare_write_dir(&p, in_dir("out5"), &d), RP_OK);
	CHECK(access(in_dir("out5/bootcode5.bin"), R_OK) == 0);
	rp_prepared_free(&p);
}

static void test_signed(void)
{
	struct rp_prepare_opts o = base_opts();
	struct rp_prepared p;
	struct rp_diag d;
	struct rp_eeprom img;
	const uint8_t *conf, *sigtext;
	size_t clen, slen;
	struct rp_sig sig;
	EVP_PKEY *pub;

	o.profile = "usb-then-sd";
	o.private_key_path = in_dir("key.pem");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	check_payload(&p, "0xf14");
	CHECK_EQ_INT(rp_eeprom_parse(&img, p.image, p.image_len, "signed", NULL), RP_OK);
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.txt", &conf, &clen, NULL), RP_OK);
	CHECK_EQ_INT(rp_eeprom_get_file(&img, "bootconf.sig", &sigtext, &slen, NULL), RP_OK);
	CHECK_EQ_INT(rp_sig_parse(sigtext, slen, "bootconf.sig", &sig, NULL), RP_OK);
	CHECK_EQ_INT(rp_rsa_load_public(in_dir("key.pem"), &pub, NULL), RP_OK);
	CHECK_EQ_INT(rp_sig_verify(conf, clen, "bootconf.txt", &sig, pub, NULL), RP_OK);
	CHECK(rp_eeprom_find_file(&img, "pubkey.bin")->length == 264 + 16);
	EVP_PKEY_free(pub);
	rp_eeprom_free(&img);
	rp_prepared_free(&p);

	o.image_path = in_dir("old.bin");
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_REFUSED);
	CHECK_CONTAINS(d.msg, "old.bin");
	CHECK_CONTAINS(d.msg, "2021-02-23");
	rp_prepared_free(&p);

	/* A wrapper needs the public key. */
	o = base_opts();
	o.hsm_wrapper = "/bin/false";
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_INVALID_ARG);
}

static void test_recovery_config(void)
{
	struct rp_prepare_opts o = base_opts();
	struct rp_prepared p;
	struct rp_diag d;

	o.recovery_config_path = in_dir("otp.txt");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_REFUSED);
	CHECK_CONTAINS(d.msg, "revoke_devkey");
	CHECK_CONTAINS(d.msg, "permanent");
	CHECK_CONTAINS(d.msg, "--allow-otp-permanent");
	o.allow_otp = true;
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	rp_prepared_free(&p);
	o.allow_otp = false;
	o.recovery_config_path = in_dir("otp0.txt");
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	rp_prepared_free(&p);

	/* Defaults from RPIPROV_FIRMWARE_DIR; missing recovery.bin is clear. */
	o = base_opts();
	o.image_path = NULL;
	o.recovery_path = NULL;
	setenv("RPIPROV_FIRMWARE_DIR", in_dir("empty"), 1);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "pieeprom");
	rp_prepared_free(&p);
	setenv("RPIPROV_FIRMWARE_DIR", dir, 1);
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_ERR_NOT_FOUND);
	rp_prepared_free(&p);
	rename(in_dir("img.bin"), in_dir("pieeprom-2025-01-02.bin"));
	CHECK_EQ_INT(rp_prepare_build(&o, &p, &d), RP_OK);
	CHECK_STR_EQ(p.image_source, in_dir("pieeprom-2025-01-02.bin"));
	CHECK_STR_EQ(p.recovery_source, in_dir("recovery.bin"));
	rp_prepared_free(&p);
	rename(in_dir("pieeprom-2025-01-02.bin"), in_dir("img.bin"));
	unsetenv("RPIPROV_FIRMWARE_DIR");
}

/* Builds share nothing: parallel builds give the same bytes. */
struct job {
	struct rp_prepared p;
	int r;
	bool sign;
};

static void *build_job(void *arg)
{
	struct job *j = arg;
	struct rp_prepare_opts o = base_opts();
	struct rp_diag d;
	o.profile = "netboot";
	o.sets[o.n_sets++] = "BOOT_UART=1";
	if (j->sign)
		o.private_key_path = key_path;
	j->r = rp_prepare_build(&o, &j->p, &d);
	return NULL;
}

static void test_threads(void)
{
	struct job jobs[8];
	pthread_t t[8];

	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 8; i++) {
		jobs[i].sign = i & 1;
		CHECK_EQ_INT(pthread_create(&t[i], NULL, build_job, &jobs[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ_INT(jobs[i].r, RP_OK);
		const struct job *ref = &jobs[i & 1];
		CHECK(jobs[i].p.image_len == ref->p.image_len &&
		      !memcmp(jobs[i].p.image, ref->p.image, ref->p.image_len));
	}
	CHECK(memcmp(jobs[0].p.image, jobs[1].p.image, jobs[0].p.image_len) != 0);
	for (int i = 0; i < 8; i++)
		rp_prepared_free(&jobs[i].p);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/test-prepare-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img_path, sizeof(img_path), "%s/img.bin", dir);
	snprintf(recovery_path, sizeof(recovery_path), "%s/recovery.bin", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	setup();
	RUN(test_basic());
	RUN(test_signed());
	RUN(test_recovery_config());
	RUN(test_threads());
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return test_result();
}
