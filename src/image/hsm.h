/* Signing through a hardware security module wrapper, the interface of
 * Raspberry Pi's tools: `WRAPPER -a rsa2048-sha256 FILE` prints the
 * signature of FILE as hex on stdout. The wrapper runs without a shell,
 * with stdin on /dev/null, a cap on what it may print and a deadline. */
#ifndef RP_IMAGE_HSM_H
#define RP_IMAGE_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "image/rsa.h"
#include "util/error.h"

#define RP_HSM_TIMEOUT_MS 30000u
#define RP_HSM_MAX_OUTPUT 4096u

/* Run the wrapper on `file`; on success `sig` holds the 256 signature
 * bytes. Exactly 512 hex digits (blanks and newlines around them allowed)
 * are accepted; anything else, a non-zero exit, a crash or the deadline is
 * RP_ERR_CHILD or RP_ERR_TIMEOUT with the wrapper's stderr in the message. */
int rp_hsm_sign_file(const char *wrapper, const char *file, unsigned timeout_ms,
		     uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d);
/* The same for bytes in memory: they go to a private temporary file that
 * is removed afterwards (the wrapper interface only takes a file). */
int rp_hsm_sign_data(const char *wrapper, const uint8_t *data, size_t len, unsigned timeout_ms,
		     uint8_t sig[RP_RSA_SIG_LEN], struct rp_diag *d);

#endif
