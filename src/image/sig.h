/* .sig files, as rpi-eeprom-digest writes them and
 * recovery.bin / the bootloader read them:
 *
 *   <sha256 hex of the file>
 *   ts: <unix time>
 *   target-soc: <2711|2712>          (optional)
 *   rsa2048: <512 hex digits>        (optional: PKCS#1 v1.5 over SHA-256)
 */
#ifndef RP_IMAGE_SIG_H
#define RP_IMAGE_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/rsa.h"
#include "soc/soc.h"
#include "util/error.h"

#define RP_SIG_MAX_TEXT 4096u

void rp_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
/* Lower-case hex, NUL-terminated. */
void rp_sha256_hex(const uint8_t *data, size_t len, char out[65]);

/* The largest ts: recovery.bin writes the .sig's ts into the EEPROM's
 * 32-bit update time (F20), where 0xffffffff reads as "never set". */
#define RP_SIG_TS_MAX 4294967294u

/* The time for a ts: line: `requested` when >= 0, else SOURCE_DATE_EPOCH
 * when set and non-empty (it must then be a plain decimal number: anything
 * else is an error rather than a silent fallback), else the current time.
 * Whichever it is must be at most RP_SIG_TS_MAX: a .sig we write is one
 * our own checks and the bootloader accept. */
int rp_sig_timestamp(int64_t requested, int64_t *ts, struct rp_diag *d);

struct rp_sig_create_opts {
	int64_t timestamp;          /* < 0: rp_sig_timestamp() rules */
	const char *target_soc;     /* NULL: no target-soc line */
	EVP_PKEY *private_key;      /* sign with this key, or ... */
	const char *hsm_wrapper;    /* ... with this wrapper program ... */
	const char *hsm_file;       /* ... on this file (NULL: a temporary copy of data) */
	EVP_PKEY *public_key;       /* wrapper output is checked against this key when set */
	unsigned hsm_timeout_ms;    /* 0: RP_HSM_TIMEOUT_MS */
	const char *sha256_hex;     /* the digest of data when the caller has it (an image is
				     * hashed once per build); NULL: computed here */
};

/* Build the .sig text for `data`. *text is malloc'ed and NUL-terminated. */
int rp_sig_create(const uint8_t *data, size_t len, const struct rp_sig_create_opts *o,
		  char **text, size_t *text_len, struct rp_diag *d);

struct rp_sig {
	char sha256[65];            /* lower case */
	bool has_ts;
	int64_t ts;
	char target_soc[RP_SOC_NAME_MAX]; /* "" when absent */
	bool has_rsa;
	uint8_t rsa[RP_RSA_SIG_LEN];
};

/* Strict parser for untrusted .sig text: the first line is 64 hex digits;
 * then only the lines above, each at most once, "key: value" with a single
 * space. `name` labels the messages. */
int rp_sig_parse(const uint8_t *text, size_t len, const char *name, struct rp_sig *out,
		 struct rp_diag *d);

/* Check `data` against a parsed .sig: the sha256 must match; with a public
 * key the rsa2048 line must be present and verify. RP_ERR_VERIFY on a
 * mismatch, naming `name` (the data's file). */
int rp_sig_verify(const uint8_t *data, size_t len, const char *name, const struct rp_sig *sig,
		  EVP_PKEY *public_key, struct rp_diag *d);

#endif
