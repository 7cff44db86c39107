#include "util/error.h"

#include <stdio.h>
#include <string.h>

struct error_entry {
	const char *name;
	const char *text;
};

/* Indexed by -code. */
static const struct error_entry error_table[RP_ERROR_COUNT] = {
	[0] = { "RP_OK", "success" },
	[-RP_ERR_IO] = { "RP_ERR_IO", "input/output error" },
	[-RP_ERR_NOMEM] = { "RP_ERR_NOMEM", "out of memory" },
	[-RP_ERR_INVALID_ARG] = { "RP_ERR_INVALID_ARG", "invalid argument" },
	[-RP_ERR_FORMAT] = { "RP_ERR_FORMAT", "malformed data" },
	[-RP_ERR_TOO_LARGE] = { "RP_ERR_TOO_LARGE", "too large" },
	[-RP_ERR_NOT_FOUND] = { "RP_ERR_NOT_FOUND", "not found" },
	[-RP_ERR_CRYPTO] = { "RP_ERR_CRYPTO", "cryptography error" },
	[-RP_ERR_VERIFY] = { "RP_ERR_VERIFY", "verification failed" },
	[-RP_ERR_TIMEOUT] = { "RP_ERR_TIMEOUT", "timed out" },
	[-RP_ERR_NO_DEVICE] = { "RP_ERR_NO_DEVICE", "board left the bus" },
	[-RP_ERR_ACCESS] = { "RP_ERR_ACCESS", "permission denied" },
	[-RP_ERR_BUSY] = { "RP_ERR_BUSY", "resource busy" },
	[-RP_ERR_PROTOCOL] = { "RP_ERR_PROTOCOL", "boot protocol violation" },
	[-RP_ERR_PIPE] = { "RP_ERR_PIPE", "endpoint stalled" },
	[-RP_ERR_SHORT] = { "RP_ERR_SHORT", "short transfer" },
	[-RP_ERR_UNSUPPORTED] = { "RP_ERR_UNSUPPORTED", "not supported" },
	[-RP_ERR_REFUSED] = { "RP_ERR_REFUSED", "refused by safety policy" },
	[-RP_ERR_INTERRUPTED] = { "RP_ERR_INTERRUPTED", "interrupted" },
	[-RP_ERR_AGAIN] = { "RP_ERR_AGAIN", "not ready, try again" },
	[-RP_ERR_EXISTS] = { "RP_ERR_EXISTS", "already exists" },
	[-RP_ERR_USB] = { "RP_ERR_USB", "USB error" },
	[-RP_ERR_BOARD] = { "RP_ERR_BOARD", "board reported a failure" },
	[-RP_ERR_CHILD] = { "RP_ERR_CHILD", "external program failed" },
	[-RP_ERR_OVERFLOW] = { "RP_ERR_OVERFLOW", "device sent more data than requested" },
	[-RP_ERR_NETWORK] = { "RP_ERR_NETWORK", "network or server unavailable" },
};

static const struct error_entry *lookup(int err)
{
	if (err > 0 || err <= -RP_ERROR_COUNT || !error_table[-err].name)
		return NULL;
	return &error_table[-err];
}

bool rp_error_from_name(const char *name, int *err)
{
	for (int e = 0; e > -RP_ERROR_COUNT; e--)
		if (!strcmp(rp_error_name(e), name)) {
			*err = e;
			return true;
		}
	return false;
}

const char *rp_error_name(int err)
{
	const struct error_entry *e = lookup(err);
	return e ? e->name : "RP_ERR_UNKNOWN";
}

const char *rp_strerror(int err)
{
	const struct error_entry *e = lookup(err);
	return e ? e->text : "unknown error";
}

void rp_diag_clear(struct rp_diag *d)
{
	if (!d)
		return;
	d->code = RP_OK;
	d->msg[0] = '\0';
}

int rp_diag_vset(struct rp_diag *d, int code, const char *fmt, va_list ap)
{
	if (!d)
		return code;
	d->code = code;
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	return code;
}

int rp_diag_set(struct rp_diag *d, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rp_diag_vset(d, code, fmt, ap);
	va_end(ap);
	return code;
}

int rp_diag_prefix(struct rp_diag *d, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(d->msg)];
	va_list ap;

	if (!d)
		return RP_ERR_INVALID_ARG;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, d->msg, sizeof(old));
	snprintf(d->msg, sizeof(d->msg), "%s: %s", prefix,
		 old[0] ? old : rp_strerror(d->code));
	return d->code;
}

const char *rp_diag_message(const struct rp_diag *d)
{
	if (!d)
		return "";
	if (d->msg[0])
		return d->msg;
	return rp_strerror(d->code);
}
