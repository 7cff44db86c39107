#include "image/rsa.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

/* The newest OpenSSL error as text, and the queue cleared: the queue is
 * per thread, so leftovers would otherwise leak into later messages. */
static const char *ossl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, size);
	else
		snprintf(buf, size, "no details from OpenSSL");
	ERR_clear_error();
	return buf;
}

int rp_rsa_check(EVP_PKEY *key, const char *label, struct rp_diag *d)
{
	int bits;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return rp_diag_set(d, RP_ERR_CRYPTO,
				   "%s: not an RSA key (the bootloader only verifies RSA-2048 signatures)",
				   label);
	bits = EVP_PKEY_get_bits(key);
	if (bits != RP_RSA_BITS)
		return rp_diag_set(d, RP_ERR_CRYPTO,
				   "%s: RSA key of %d bits; the bootloader only accepts RSA-2048", label,
				   bits);
	return RP_OK;
}

static int load(const char *path, bool private_key, EVP_PKEY **key, struct rp_diag *d)
{
	char why[256];
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = NULL;

	*key = NULL;
	if (!f)
		return rp_diag_set(d, errno == ENOENT ? RP_ERR_NOT_FOUND : RP_ERR_IO,
				   "%s: cannot open key: %s", path, strerror(errno));
	if (private_key) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	} else {
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		if (!k) {
			/* A private key PEM also holds the public half. */
			ERR_clear_error();
			rewind(f);
			k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		}
	}
	fclose(f);
	if (!k)
		return rp_diag_set(d, RP_ERR_CRYPTO, "%s: not a PEM %s key: %s", path,
				   private_key ? "private" : "public", ossl_reason(why, sizeof(why)));
	int r = rp_rsa_check(k, path, d);
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	*key = k;
	return RP_OK;
}

int rp_rsa_load_private(const char *path, EVP_PKEY **key, struct rp_diag *d)
{
	return load(path, true, key, d);
}

int rp_rsa_load_public(const char *path, EVP_PKEY **key, struct rp_diag *d)
{
	return load(path, false, key, d);
}

int rp_rsa_sign(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t sig[RP_RSA_SIG_LEN],
		struct rp_diag *d)
{
	char why[256];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t siglen = RP_RSA_SIG_LEN;
	int ok;

	if (!ctx)
		return rp_diag_set(d, RP_ERR_NOMEM, "RSA signing: out of memory");
	ok = EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
	     EVP_DigestSign(ctx, sig, &siglen, data, len) == 1 && siglen == RP_RSA_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return rp_diag_set(d, RP_ERR_CRYPTO, "RSA signing failed: %s",
				   ossl_reason(why, sizeof(why)));
	return RP_OK;
}

int rp_rsa_verify(EVP_PKEY *key, const uint8_t *data, size_t len,
		  const uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d)
{
	char why[256];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int r;

	if (!ctx)
		return rp_diag_set(d, RP_ERR_NOMEM, "RSA verification: out of memory");
	if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
		EVP_MD_CTX_free(ctx);
		return rp_diag_set(d, RP_ERR_CRYPTO, "RSA verification setup failed: %s",
				   ossl_reason(why, sizeof(why)));
	}
	r = EVP_DigestVerify(ctx, sig, RP_RSA_SIG_LEN, data, len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (r != 1)
		return rp_diag_set(d, RP_ERR_VERIFY, "RSA signature does not match");
	return RP_OK;
}
