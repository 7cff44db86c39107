#include "firmware/http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <strings.h>
#include <time.h>

#include "rpiprov-config.h"

struct transfer {
	const struct rp_http_opts *o;
	uint8_t *buf;
	size_t len, cap;
	bool too_large, stalled, too_slow;
	curl_off_t last_now;      /* bytes at the last progress */
	uint64_t last_change_ms;  /* when they last grew */
	curl_off_t window_bytes;  /* bytes when the rate window began */
	uint64_t window_ms;       /* when it began */
};

/* A server dripping a byte now and then never stalls: it must also send
 * this many bytes per second, averaged over each stall-timeout window.
 * The whole transfer is bounded too. */
#define MIN_RATE_BPS 1024
#define TOTAL_TIMEOUT_MS (10 * 60 * 1000)

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ctx)
{
	struct transfer *t = ctx;
	size_t add = size * n;

	if (add > t->o->max_size - t->len) {
		t->too_large = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (t->len + add + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 64 * 1024;
		uint8_t *b;
		while (cap < t->len + add + 1)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b)
			return 0;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, ptr, add);
	t->len += add;
	return add;
}

/* Progress for the caller, and the stall timeout: curl's own low-speed
 * limit counts whole seconds; this one is in milliseconds. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = ctx;
	uint64_t now = mono_ms();
	uint64_t window = t->o->stall_timeout_ms ? t->o->stall_timeout_ms : 30000;

	(void)ultotal;
	(void)ulnow;
	if (dlnow != t->last_now || !t->last_change_ms) {
		t->last_now = dlnow;
		t->last_change_ms = now;
		if (t->o->progress)
			t->o->progress(t->o->progress_ctx, t->o->what, (uint64_t)dlnow,
				       dltotal > 0 ? (uint64_t)dltotal : 0);
	} else if (now - t->last_change_ms > window) {
		t->stalled = true;
		return 1;
	}
	if (!t->window_ms) {
		t->window_ms = now;
		t->window_bytes = dlnow;
	} else if (now - t->window_ms >= window) {
		if ((uint64_t)(dlnow - t->window_bytes) < (uint64_t)MIN_RATE_BPS * window / 1000) {
			t->too_slow = true;
			return 1;
		}
		t->window_ms = now;
		t->window_bytes = dlnow;
	}
	return 0;
}

/* Only an address literal in 127.0.0.0/8 or ::1, or "localhost": a name
 * such as "127.0.0.1.example.com" is a remote host like any other. */
static bool loopback_host(const char *host)
{
	struct in_addr v4;

	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1"))
		return true;
	return inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

int rp_http_url_allowed(const char *url, struct rp_diag *d)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = RP_OK;

	if (!u)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		r = rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s' is not a URL", url);
	else if (strcasecmp(scheme, "https") &&
		 !(!strcasecmp(scheme, "http") && loopback_host(host)))
		r = rp_diag_set(d, RP_ERR_REFUSED,
				"%s: only https:// is accepted (plain http:// only to a loopback address)",
				url);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

static int curl_failure(CURLcode c, const struct transfer *t, const char *url, const char *err,
			struct rp_diag *d)
{
	const char *why = err[0] ? err : curl_easy_strerror(c);

	if (t->too_large)
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: more than %zu bytes: not a bootloader file",
				   url, t->o->max_size);
	if (t->too_slow) {
		uint64_t window = t->o->stall_timeout_ms ? t->o->stall_timeout_ms : 30000;
		return rp_diag_set(d, RP_ERR_TIMEOUT,
				   "%s: less than %llu bytes in %llu ms (%zu bytes so far): download "
				   "too slow",
				   url, (unsigned long long)(MIN_RATE_BPS * window / 1000),
				   (unsigned long long)window, t->len);
	}
	if (t->stalled)
		return rp_diag_set(d, RP_ERR_TIMEOUT, "%s: no data for %u ms: download stalled", url,
				   t->o->stall_timeout_ms ? t->o->stall_timeout_ms : 30000);
	switch (c) {
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return rp_diag_set(d, RP_ERR_IO, "%s: download cut short after %zu bytes (%s)", url,
				   t->len, why);
	case CURLE_OPERATION_TIMEDOUT:
		return rp_diag_set(d, RP_ERR_TIMEOUT, "%s: timed out (%s)", url, why);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return rp_diag_set(d, RP_ERR_REFUSED, "%s: refused (%s)", url, why);
	case CURLE_OUT_OF_MEMORY:
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	default:
		return rp_diag_set(d, RP_ERR_NETWORK, "%s: %s", url, why);
	}
}

int rp_http_get(const char *url, const struct rp_http_opts *o, uint8_t **body, size_t *len,
		struct rp_diag *d)
{
	struct transfer t = { .o = o };
	char err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	char accept[128];
	long status = 0;
	CURLcode c;
	CURL *h;
	int r = rp_http_url_allowed(url, d);

	*body = NULL;
	*len = 0;
	if (r < 0)
		return r;
	h = curl_easy_init();
	if (!h)
		return rp_diag_set(d, RP_ERR_NOMEM, "cannot start libcurl");
	if (o->accept) {
		snprintf(accept, sizeof(accept), "Accept: %s", o->accept);
		headers = curl_slist_append(NULL, accept);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* The URL check above decides the scheme; these hold redirects to it. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rpiprov/" RPIPROV_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(o->connect_timeout_ms ? o->connect_timeout_ms : 15000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 (long)(o->total_timeout_ms ? o->total_timeout_ms : TOTAL_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	c = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (c == CURLE_FILESIZE_EXCEEDED)
		t.too_large = true;
	if (c != CURLE_OK)
		r = curl_failure(c, &t, url, err, d);
	else if (status == 404 || status == 410)
		r = rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: HTTP %ld: not on the server", url, status);
	else if (status != 200)
		r = rp_diag_set(d, RP_ERR_NETWORK, "%s: HTTP %ld from the server", url, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	if (r < 0) {
		free(t.buf);
		return r;
	}
	if (!t.buf && !(t.buf = malloc(1))) /* an empty body */
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	t.buf[t.len] = 0;
	*body = t.buf;
	*len = t.len;
	return RP_OK;
}
