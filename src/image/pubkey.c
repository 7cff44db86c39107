#include "image/pubkey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>

#include "image/rsa.h"

int rp_pubkey_bin_from_key(EVP_PKEY *key, uint8_t out[RP_PUBKEY_BIN_LEN], struct rp_diag *d)
{
	BIGNUM *n = NULL, *e = NULL;
	int r = rp_rsa_check(key, "public key", d);

	if (r < 0)
		return r;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    BN_bn2lebinpad(n, out, 256) != 256 || BN_bn2lebinpad(e, out + 256, 8) != 8)
		r = rp_diag_set(d, RP_ERR_CRYPTO,
				"cannot read the RSA modulus and exponent (exponent wider than 64 bits?)");
	BN_free(n);
	BN_free(e);
	ERR_clear_error();
	return r;
}

int rp_pubkey_bin_from_pem(const char *path, uint8_t out[RP_PUBKEY_BIN_LEN], struct rp_diag *d)
{
	EVP_PKEY *key;
	int r = rp_rsa_load_public(path, &key, d);

	if (r < 0)
		return r;
	r = rp_pubkey_bin_from_key(key, out, d);
	EVP_PKEY_free(key);
	if (r < 0)
		rp_diag_prefix(d, "%s", path);
	return r;
}
