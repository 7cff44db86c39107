/* One error space for the whole library, in the style of libusb_error:
 * every failing call returns a negative rp_error and, where the caller
 * passed one, fills an rp_diag with a sentence that names the file, board
 * or field at fault. */
#ifndef RP_UTIL_ERROR_H
#define RP_UTIL_ERROR_H

#include <stdbool.h>

#include <stdarg.h>
#include <stddef.h>

enum rp_error {
	RP_OK = 0,
	RP_ERR_IO = -1,           /* reading or writing a file failed */
	RP_ERR_NOMEM = -2,
	RP_ERR_INVALID_ARG = -3,  /* bad option or argument from the user */
	RP_ERR_FORMAT = -4,       /* malformed input data: image, .sig, boot.conf, device message */
	RP_ERR_TOO_LARGE = -5,
	RP_ERR_NOT_FOUND = -6,
	RP_ERR_CRYPTO = -7,       /* OpenSSL failure or unusable key */
	RP_ERR_VERIFY = -8,       /* digest, signature or EEPROM hash mismatch */
	RP_ERR_TIMEOUT = -9,
	RP_ERR_NO_DEVICE = -10,   /* the board left the bus */
	RP_ERR_ACCESS = -11,      /* permission denied */
	RP_ERR_BUSY = -12,
	RP_ERR_PROTOCOL = -13,    /* the device broke the boot protocol */
	RP_ERR_PIPE = -14,        /* endpoint stalled */
	RP_ERR_SHORT = -15,       /* short transfer */
	RP_ERR_UNSUPPORTED = -16,
	RP_ERR_REFUSED = -17,     /* a safety policy said no (OTP writes, unsafe paths) */
	RP_ERR_INTERRUPTED = -18,
	RP_ERR_AGAIN = -19,       /* not ready yet; try again later */
	RP_ERR_EXISTS = -20,
	RP_ERR_USB = -21,         /* any other USB stack failure */
	RP_ERR_BOARD = -22,       /* the board reported a failure */
	RP_ERR_CHILD = -23,       /* an external program (HSM wrapper) failed */
	RP_ERR_OVERFLOW = -24,    /* device sent more than asked for */
	RP_ERR_NETWORK = -25,     /* a server could not be reached or failed (firmware fetch) */
};

#define RP_ERROR_COUNT 26

/* Short stable identifier, e.g. "RP_ERR_TIMEOUT". */
const char *rp_error_name(int err);
/* The code whose rp_error_name is name; false for no such name. */
bool rp_error_from_name(const char *name, int *err);
/* Human sentence fragment, e.g. "operation timed out". */
const char *rp_strerror(int err);

/* Error with context. Functions that take a struct rp_diag * may be passed
 * NULL when the caller only wants the code. */
struct rp_diag {
	int code;
	char msg[768];
};

void rp_diag_clear(struct rp_diag *d);
/* Record code and a printf-style message; returns code so callers can
 * write `return rp_diag_set(d, RP_ERR_FORMAT, "...")`. */
int rp_diag_set(struct rp_diag *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rp_diag_vset(struct rp_diag *d, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Put "prefix: " in front of an existing message (adding context on the way up). */
int rp_diag_prefix(struct rp_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The message, or rp_strerror(code) when none was recorded. */
const char *rp_diag_message(const struct rp_diag *d);

#endif
