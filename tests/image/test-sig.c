/* .sig files, RSA-2048 signing, pubkey.bin and the HSM wrapper. Signatures
 * are checked with the openssl command-line tool, independently of our
 * verification code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "testlib.h"
#include "util/clock.h"
#include "image/hsm.h"
#include "image/pubkey.h"
#include "image/rsa.h"
#include "image/sig.h"
#include "util/fileio.h"

static char tmpdir[256];

static void path_in(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	char p[512];
	path_in(p, sizeof(p), name);
	CHECK_EQ_INT(rp_file_write_atomic(p, data, len, mode, NULL), RP_OK);
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Generate a key and write private/public PEMs under `stem`. */
static EVP_PKEY *make_key(unsigned bits, const char *stem)
{
	EVP_PKEY *k = EVP_RSA_gen(bits);
	char p[512], name[64];
	FILE *f;

	CHECK(k != NULL);
	snprintf(name, sizeof(name), "%s-private.pem", stem);
	path_in(p, sizeof(p), name);
	f = fopen(p, "w");
	CHECK(f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
	snprintf(name, sizeof(name), "%s-public.pem", stem);
	path_in(p, sizeof(p), name);
	f = fopen(p, "w");
	CHECK(f && PEM_write_PUBKEY(f, k) == 1);
	fclose(f);
	return k;
}

static void test_sha256(void)
{
	static const uint8_t msg[] = "The quick brown fox jumps over the lazy dog";
	uint8_t md[32], ref[32];
	unsigned int n = 0;
	char hex[65];

	rp_sha256(msg, sizeof(msg) - 1, md);
	CHECK(EVP_Digest(msg, sizeof(msg) - 1, ref, &n, EVP_sha256(), NULL) == 1);
	CHECK_EQ_INT(n, 32);
	CHECK(!memcmp(md, ref, 32));
	rp_sha256_hex(msg, sizeof(msg) - 1, hex);
	CHECK_STR_EQ(hex, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
	rp_sha256_hex(NULL, 0, hex);
	CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_timestamp_env(void)
{
	int64_t ts;
	struct rp_diag d;

	CHECK_EQ_INT(rp_sig_timestamp(123, &ts, NULL), RP_OK);
	CHECK_EQ_INT(ts, 123);
	setenv("SOURCE_DATE_EPOCH", "1600000000", 1);
	CHECK_EQ_INT(rp_sig_timestamp(-1, &ts, NULL), RP_OK);
	CHECK_EQ_INT(ts, 1600000000);
	setenv("SOURCE_DATE_EPOCH", "16e8", 1);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sig_timestamp(-1, &ts, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "SOURCE_DATE_EPOCH");
	setenv("SOURCE_DATE_EPOCH", "", 1);
	CHECK_EQ_INT(rp_sig_timestamp(-1, &ts, NULL), RP_OK);
	CHECK(ts > 1600000000);
	unsetenv("SOURCE_DATE_EPOCH");
}

static void test_sig_text(EVP_PKEY *key)
{
	static const uint8_t data[] = "[all]\nBOOT_ORDER=0xf21\n";
	struct rp_sig_create_opts o = { .timestamp = 1700000000, .target_soc = "2711" };
	struct rp_sig sig;
	struct rp_diag d;
	char *text, hex[65];
	size_t len;

	rp_sha256_hex(data, sizeof(data) - 1, hex);
	CHECK_EQ_INT(rp_sig_create(data, sizeof(data) - 1, &o, &text, &len, NULL), RP_OK);
	char want[200];
	snprintf(want, sizeof(want), "%s\nts: 1700000000\ntarget-soc: 2711\n", hex);
	CHECK_STR_EQ(text, want);
	CHECK_EQ_INT(len, strlen(want));
	CHECK_EQ_INT(rp_sig_parse((uint8_t *)text, len, "x.sig", &sig, NULL), RP_OK);
	CHECK_STR_EQ(sig.sha256, hex);
	CHECK(sig.has_ts && sig.ts == 1700000000);
	CHECK_STR_EQ(sig.target_soc, "2711");
	CHECK(!sig.has_rsa);
	CHECK_EQ_INT(rp_sig_verify(data, sizeof(data) - 1, "d", &sig, NULL, NULL), RP_OK);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sig_verify(data, sizeof(data) - 2, "data.txt", &sig, NULL, &d),
		     RP_ERR_VERIFY);
	CHECK_CONTAINS(d.msg, "data.txt");
	CHECK_EQ_INT(rp_sig_verify(data, sizeof(data) - 1, "data.txt", &sig, key, &d), RP_ERR_VERIFY);
	CHECK_CONTAINS(d.msg, "no rsa2048");
	free(text);

	/* Signed: verify with the openssl CLI, then tamper. */
	o.target_soc = NULL;
	o.private_key = key;
	CHECK_EQ_INT(rp_sig_create(data, sizeof(data) - 1, &o, &text, &len, NULL), RP_OK);
	CHECK_EQ_INT(rp_sig_parse((uint8_t *)text, len, "x.sig", &sig, NULL), RP_OK);
	CHECK(sig.has_rsa);
	CHECK_EQ_INT(rp_sig_verify(data, sizeof(data) - 1, "d", &sig, key, NULL), RP_OK);
	write_file("data.txt", data, sizeof(data) - 1, 0644);
	write_file("tampered.txt", "[all]\nBOOT_ORDER=0xf12\n", sizeof(data) - 1, 0644);
	write_file("sig.bin", sig.rsa, sizeof(sig.rsa), 0644);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "openssl dgst -sha256 -verify %s/k-public.pem -signature %s/sig.bin %s/data.txt >/dev/null 2>&1",
		 tmpdir, tmpdir, tmpdir);
	CHECK_EQ_INT(run(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "openssl dgst -sha256 -verify %s/k-public.pem -signature %s/sig.bin %s/tampered.txt >/dev/null 2>&1",
		 tmpdir, tmpdir, tmpdir);
	CHECK(run(cmd) != 0);
	sig.rsa[17] ^= 1;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sig_verify(data, sizeof(data) - 1, "data.txt", &sig, key, &d), RP_ERR_VERIFY);
	CHECK_CONTAINS(d.msg, "does not verify");
	free(text);
}

static void parse_bad(const char *text, const char *expect)
{
	struct rp_sig sig;
	struct rp_diag d;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sig_parse((const uint8_t *)text, strlen(text), "bad.sig", &sig, &d),
		     RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "bad.sig");
	CHECK_CONTAINS(d.msg, expect);
}

static void test_sig_parse(void)
{
	const char *h = "b5b917dc53a59c23035a89d4c58606211a07d4fb6e16bd00d74457a93ea5a264";
	char buf[1200], rsa[520];
	struct rp_sig sig;

	memset(rsa, 'a', 512);
	rsa[512] = 0;
	parse_bad("", "empty");
	parse_bad("abc\n", "64-hex-digit");
	parse_bad("b5b917dc53a59c23035a89d4c58606211a07d4fb6e16bd00d74457a93ea5a26g\n", "non-hex");
	snprintf(buf, sizeof(buf), "%s\nts: 12x\n", h);
	parse_bad(buf, "decimal");
	snprintf(buf, sizeof(buf), "%s\nts: 1\nts: 2\n", h);
	parse_bad(buf, "second ts");
	snprintf(buf, sizeof(buf), "%s\nfoo: 1\n", h);
	parse_bad(buf, "unexpected line");
	snprintf(buf, sizeof(buf), "%s\n\nts: 1\n", h);
	parse_bad(buf, "line 2");
	snprintf(buf, sizeof(buf), "%s\nrsa2048: abcd\n", h);
	parse_bad(buf, "512 hex");
	snprintf(buf, sizeof(buf), "%s\ntarget-soc: 2835\n", h);
	parse_bad(buf, "2711 or 2712");
	snprintf(buf, sizeof(buf), "%s\nts:  1\n", h);
	parse_bad(buf, "decimal");

	snprintf(buf, sizeof(buf), "%s\nts: 1614092425\nrsa2048: %s", h, rsa);
	CHECK_EQ_INT(rp_sig_parse((uint8_t *)buf, strlen(buf), "ok.sig", &sig, NULL), RP_OK);
	CHECK(sig.has_rsa && sig.rsa[0] == 0xaa && sig.rsa[255] == 0xaa);
	/* Upper-case hashes are accepted and reported in lower case. */
	snprintf(buf, sizeof(buf), "B5B917DC53A59C23035A89D4C58606211A07D4FB6E16BD00D74457A93EA5A264\n");
	CHECK_EQ_INT(rp_sig_parse((uint8_t *)buf, strlen(buf), "ok.sig", &sig, NULL), RP_OK);
	CHECK_STR_EQ(sig.sha256, h);
	CHECK(!sig.has_ts);
}

static void test_keys(EVP_PKEY *key)
{
	char p[512];
	EVP_PKEY *k = NULL;
	struct rp_diag d;
	uint8_t bin[RP_PUBKEY_BIN_LEN];

	/* pubkey.bin: N little-endian, then E little-endian. */
	path_in(p, sizeof(p), "k-public.pem");
	CHECK_EQ_INT(rp_pubkey_bin_from_pem(p, bin, NULL), RP_OK);
	BIGNUM *n = NULL;
	uint8_t nbe[256];
	CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
	CHECK(BN_bn2binpad(n, nbe, 256) == 256);
	for (int i = 0; i < 256; i++)
		if (bin[i] != nbe[255 - i]) {
			CHECK(!"pubkey.bin N is little-endian");
			break;
		}
	BN_free(n);
	static const uint8_t e65537[8] = { 0x01, 0x00, 0x01, 0, 0, 0, 0, 0 };
	CHECK(!memcmp(bin + 256, e65537, 8));
	/* The private PEM works as a public key source too. */
	uint8_t bin2[RP_PUBKEY_BIN_LEN];
	path_in(p, sizeof(p), "k-private.pem");
	CHECK_EQ_INT(rp_pubkey_bin_from_pem(p, bin2, NULL), RP_OK);
	CHECK(!memcmp(bin, bin2, sizeof(bin)));

	/* Wrong kinds of keys. */
	EVP_PKEY *small = make_key(1024, "small");
	EVP_PKEY_free(small);
	path_in(p, sizeof(p), "small-private.pem");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_rsa_load_private(p, &k, &d), RP_ERR_CRYPTO);
	CHECK_CONTAINS(d.msg, "1024 bits");
	CHECK_CONTAINS(d.msg, "RSA-2048");
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	FILE *f;
	path_in(p, sizeof(p), "ec.pem");
	f = fopen(p, "w");
	PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(ec);
	CHECK_EQ_INT(rp_rsa_load_private(p, &k, &d), RP_ERR_CRYPTO);
	CHECK_CONTAINS(d.msg, "not an RSA key");
	write_file("junk.pem", "hello\n", 6, 0644);
	path_in(p, sizeof(p), "junk.pem");
	CHECK_EQ_INT(rp_rsa_load_public(p, &k, &d), RP_ERR_CRYPTO);
	CHECK_CONTAINS(d.msg, "junk.pem");
	path_in(p, sizeof(p), "missing.pem");
	CHECK_EQ_INT(rp_rsa_load_private(p, &k, &d), RP_ERR_NOT_FOUND);
	CHECK(k == NULL);
}

static void wrapper(const char *name, const char *body)
{
	char script[2048];
	int n = snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", body);
	write_file(name, script, (size_t)n, 0755);
}

static void test_hsm(EVP_PKEY *key)
{
	static const uint8_t data[] = "sign me\n";
	char body[1024], w[512];
	uint8_t sig[RP_RSA_SIG_LEN];
	struct rp_diag d;

	snprintf(body, sizeof(body),
		 "[ \"$1\" = -a ] && [ \"$2\" = rsa2048-sha256 ] || { echo bad args >&2; exit 2; }\n"
		 "openssl dgst -sha256 -sign %s/%s \"$3\" | od -An -v -tx1 | tr -d ' \\n'\necho",
		 tmpdir, "k-private.pem");
	wrapper("good.sh", body);
	snprintf(body, sizeof(body), "openssl dgst -sha256 -sign %s/other-private.pem \"$3\" | od -An -v -tx1 | tr -d ' \\n'",
		 tmpdir);
	wrapper("other.sh", body);
	wrapper("fail.sh", "echo 'HSM not connected' >&2\nexit 3");
	wrapper("garbage.sh", "echo 'hello world'");
	wrapper("slow.sh", "exec sleep 10");
	/* Closes its output and keeps running, with a child of its own. */
	wrapper("hang.sh", "exec >&- 2>&-; sleep 31 & sleep 31");
	wrapper("huge.sh", "head -c 100000 /dev/zero | tr '\\0' a");
	EVP_PKEY_free(make_key(2048, "other"));

	/* Good wrapper: the signature verifies, with our code and with openssl. */
	path_in(w, sizeof(w), "good.sh");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 10000, sig, &d), RP_OK);
	if (d.msg[0])
		fprintf(stderr, "good wrapper: %s\n", d.msg);
	CHECK_EQ_INT(rp_rsa_verify(key, data, sizeof(data) - 1, sig, NULL), RP_OK);
	struct rp_sig_create_opts o = { .timestamp = 1, .hsm_wrapper = w, .public_key = key };
	char *text;
	size_t len;
	CHECK_EQ_INT(rp_sig_create(data, sizeof(data) - 1, &o, &text, &len, &d), RP_OK);
	CHECK_CONTAINS(text, "rsa2048: ");
	free(text);

	/* A wrapper signing with another key: caught by the public key check. */
	path_in(w, sizeof(w), "other.sh");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_sig_create(data, sizeof(data) - 1, &o, &text, &len, &d), RP_ERR_VERIFY);
	CHECK_CONTAINS(d.msg, "other.sh");
	CHECK_CONTAINS(d.msg, "does not verify");

	path_in(w, sizeof(w), "fail.sh");
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 10000, sig, &d), RP_ERR_CHILD);
	CHECK_CONTAINS(d.msg, "exit status 3");
	CHECK_CONTAINS(d.msg, "HSM not connected");
	path_in(w, sizeof(w), "garbage.sh");
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 10000, sig, &d), RP_ERR_CHILD);
	CHECK_CONTAINS(d.msg, "512-hex-digit");
	CHECK_CONTAINS(d.msg, "hello world");
	path_in(w, sizeof(w), "slow.sh");
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 300, sig, &d), RP_ERR_TIMEOUT);
	CHECK_CONTAINS(d.msg, "300 ms");
	/* Issue #10: the wait for a wrapper that closed its output is bounded
	 * too, and its whole process group is stopped. */
	path_in(w, sizeof(w), "hang.sh");
	{
		uint64_t t0 = rp_now_ms();
		CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 300, sig, &d), RP_ERR_TIMEOUT);
		CHECK(rp_now_ms() - t0 < 5000);
		CHECK_CONTAINS(d.msg, "300 ms");
		CHECK(system("sleep 0.2; ! pgrep -f '^sleep 31$' >/dev/null") == 0);
	}
	path_in(w, sizeof(w), "huge.sh");
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 10000, sig, &d), RP_ERR_CHILD);
	CHECK_CONTAINS(d.msg, "more than");
	path_in(w, sizeof(w), "no-such-wrapper");
	CHECK_EQ_INT(rp_hsm_sign_data(w, data, sizeof(data) - 1, 10000, sig, &d), RP_ERR_CHILD);
	CHECK_CONTAINS(d.msg, "cannot run");
	/* Wrappers are not run through a shell: metacharacters are just a name. */
	CHECK_EQ_INT(rp_hsm_sign_file("true; echo", "/dev/null", 1000, sig, &d), RP_ERR_CHILD);
	CHECK_CONTAINS(d.msg, "cannot run");
}

static void test_fixture(const char *fw)
{
	char p[4096];
	uint8_t *conf, *sigtext;
	size_t clen, slen;
	struct rp_sig sig;
	EVP_PKEY *pub = NULL, *priv = NULL;

	snprintf(p, sizeof(p), "%s/signed/bootconf.txt", fw);
	CHECK_EQ_INT(rp_file_read_all(p, 1 << 20, &conf, &clen, NULL), RP_OK);
	snprintf(p, sizeof(p), "%s/signed/bootconf.sig", fw);
	CHECK_EQ_INT(rp_file_read_all(p, 1 << 20, &sigtext, &slen, NULL), RP_OK);
	snprintf(p, sizeof(p), "%s/signed/public.pem", fw);
	CHECK_EQ_INT(rp_rsa_load_public(p, &pub, NULL), RP_OK);
	snprintf(p, sizeof(p), "%s/signed/private.pem", fw);
	CHECK_EQ_INT(rp_rsa_load_private(p, &priv, NULL), RP_OK);
	CHECK_EQ_INT(rp_sig_parse(sigtext, slen, "bootconf.sig", &sig, NULL), RP_OK);
	CHECK(sig.has_ts && sig.ts == 1614092425);
	CHECK_EQ_INT(rp_sig_verify(conf, clen, "bootconf.txt", &sig, pub, NULL), RP_OK);
	/* PKCS#1 v1.5 is deterministic: we produce the same .sig byte for byte. */
	struct rp_sig_create_opts o = { .timestamp = 1614092425, .private_key = priv };
	char *text;
	size_t len;
	CHECK_EQ_INT(rp_sig_create(conf, clen, &o, &text, &len, NULL), RP_OK);
	CHECK(len == slen && !memcmp(text, sigtext, slen));
	free(text);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(priv);
	free(conf);
	free(sigtext);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-sig-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	EVP_PKEY *key = make_key(2048, "k");

	RUN(test_sha256());
	RUN(test_timestamp_env());
	RUN(test_sig_text(key));
	RUN(test_sig_parse());
	RUN(test_keys(key));
	RUN(test_hsm(key));
	if (test_firmware_dir())
		RUN(test_fixture(test_firmware_dir()));
	else
		RUN_SKIPPED(test_fixture(test_firmware_dir()), "RPIPROV_TEST_FIRMWARE is empty");
	EVP_PKEY_free(key);

	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	run(cmd);
	return test_result();
}
