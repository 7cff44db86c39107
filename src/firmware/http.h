/* One HTTP(S) GET into memory through libcurl (the only code that
 * includes curl/curl.h), with the rules a firmware download needs: HTTPS
 * only (plain HTTP to a loopback address alone, for mirrors under test),
 * a size cap, a connect timeout and a stall timeout, and each failure
 * named for what it is (network, HTTP status, truncated, stalled). */
#ifndef RP_FIRMWARE_HTTP_H
#define RP_FIRMWARE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* done/total in bytes; total 0 while unknown. */
typedef void (*rp_http_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

struct rp_http_opts {
	size_t max_size;              /* larger bodies: RP_ERR_TOO_LARGE */
	unsigned connect_timeout_ms;  /* 0: 15 s */
	unsigned stall_timeout_ms;    /* no byte for this long, or under 1 KiB/s over
				       * this long: RP_ERR_TIMEOUT; 0: 30 s */
	unsigned total_timeout_ms;    /* the whole transfer; 0: 10 min */
	const char *accept;           /* Accept header, or NULL */
	const char *what;             /* name for progress and messages ("recovery.bin") */
	rp_http_progress_fn progress;
	void *progress_ctx;
};

/* RP_OK when url may be fetched: https://, or http:// to 127.0.0.0/8,
 * [::1] or localhost. Otherwise RP_ERR_REFUSED saying why. */
int rp_http_url_allowed(const char *url, struct rp_diag *d);

/* *body is malloc'ed (NUL-terminated one past *len). Errors:
 * RP_ERR_REFUSED (URL not allowed), RP_ERR_NETWORK (cannot connect or
 * resolve, server error), RP_ERR_NOT_FOUND (HTTP 404/410), RP_ERR_IO
 * (truncated), RP_ERR_TIMEOUT (stalled), RP_ERR_TOO_LARGE. */
int rp_http_get(const char *url, const struct rp_http_opts *o, uint8_t **body, size_t *len,
		struct rp_diag *d);

#endif
