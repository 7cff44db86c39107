/* The station's read-only web interface (`station --http ADDR:PORT`):
 *   /             the dashboard page (self-contained, served from the binary)
 *   /events       Server-Sent Events: first a "status" message (the
 *                 /api/status document), then every runner event as the
 *                 `--json` line, with "id:" sequence numbers
 *   /metrics      Prometheus text format
 *   /api/status   ports, totals, last failures (JSON)
 *   /api/attempts ?since=TIME: this run's finished attempts (JSON records)
 *
 * Built on libmicrohttpd, one thread per connection: the SSE stream may
 * block on the dashboard model while other requests go on, and nothing it
 * does runs on a board's thread. Loopback by default; any other address
 * needs a token (read from a file), given as "Authorization: Bearer T"
 * or "?token=T". Only GET and HEAD are answered. */
#ifndef RP_STATION_HTTP_SERVER_H
#define RP_STATION_HTTP_SERVER_H

#include <stdint.h>

#include "station/dashboard.h"
#include "util/error.h"

#define RP_HTTP_DEFAULT_ADDR "127.0.0.1"
#define RP_HTTP_TOKEN_MIN 16
#define RP_HTTP_TOKEN_MAX 256

struct rp_http_opts {
	/* "ADDR:PORT", "[IPV6]:PORT", ":PORT" or "PORT" (address 127.0.0.1);
	 * port 0 picks a free one (see rp_http_url). */
	const char *listen;
	/* File holding the token; NULL: none (loopback only). */
	const char *token_file;
	struct rp_dash *dash; /* not owned; must outlive the server */
};

struct rp_http;

/* Refuses (RP_ERR_INVALID_ARG) a non-loopback address without a token, a
 * token file that is missing, empty, too short or not one printable word. */
int rp_http_start(const struct rp_http_opts *opts, struct rp_http **out, struct rp_diag *d);
/* "http://127.0.0.1:8080/", with the port really bound. */
const char *rp_http_url(const struct rp_http *h);
/* Ends every stream, waits for the connection threads, frees. */
void rp_http_stop(struct rp_http *h);

#endif
