/* RSA-2048 PKCS#1 v1.5 signatures over SHA-256, the only kind the
 * bootloader verifies, through the OpenSSL 3 EVP interface. */
#ifndef RP_IMAGE_RSA_H
#define RP_IMAGE_RSA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/error.h"

#define RP_RSA_BITS 2048
#define RP_RSA_SIG_LEN 256

/* Load a PEM key and check that it is RSA with a 2048-bit modulus.
 * rp_rsa_load_public also accepts a private key PEM (its public half). */
int rp_rsa_load_private(const char *path, EVP_PKEY **key, struct rp_diag *d);
int rp_rsa_load_public(const char *path, EVP_PKEY **key, struct rp_diag *d);
/* The same check for a key obtained elsewhere; `label` names it. */
int rp_rsa_check(EVP_PKEY *key, const char *label, struct rp_diag *d);

int rp_rsa_sign(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t sig[RP_RSA_SIG_LEN],
		struct rp_diag *d);
/* RP_ERR_VERIFY when the signature does not match. */
int rp_rsa_verify(EVP_PKEY *key, const uint8_t *data, size_t len,
		  const uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d);

#endif
