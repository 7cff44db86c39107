/* pubkey.bin, the public key the bootloader checks bootconf.txt against:
 * the RSA modulus N as 256 bytes little-endian, then the exponent E as 8
 * bytes little-endian. */
#ifndef RP_IMAGE_PUBKEY_H
#define RP_IMAGE_PUBKEY_H

#include <stdint.h>

#include <openssl/evp.h>

#include "util/error.h"

#define RP_PUBKEY_BIN_LEN 264

int rp_pubkey_bin_from_key(EVP_PKEY *key, uint8_t out[RP_PUBKEY_BIN_LEN], struct rp_diag *d);
/* From a PEM file (public key, or a private key's public half). */
int rp_pubkey_bin_from_pem(const char *path, uint8_t out[RP_PUBKEY_BIN_LEN], struct rp_diag *d);

#endif
