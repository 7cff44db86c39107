#include "station/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "station/dashboard_page.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/timefmt.h"

#define MAX_CONNECTIONS 512
/* One address may hold this many: 600 idle connections from one place
 * once made / and /metrics unreachable for everyone. A dashboard needs
 * two or three; a few tabs and a Prometheus server fit well within. */
#define PER_IP_CONNECTIONS 32
#define ATTEMPTS_BLOCK (32 * 1024)
#define CONNECTION_TIMEOUT_S 15
/* Below the connection timeout, so an idle stream stays open. */
#define KEEPALIVE_MS 10000
#define HEADER_MEMORY_LIMIT (16 * 1024)
#define SSE_BLOCK (64 * 1024)
#define THREAD_STACK (512 * 1024)

struct rp_http {
	struct MHD_Daemon *daemon;
	struct rp_dash *dash;
	char token[RP_HTTP_TOKEN_MAX + 1];
	size_t token_len;
	atomic_bool stopping;
	char url[128];
};

static void add_common_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* A token in the page URL must not leak to anything else. */
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	/* No Access-Control-Allow-Origin is ever sent, so a page of another
	 * origin cannot read an answer; this also keeps it from embedding
	 * one (a <script> or <img> of /api/attempts). */
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
				"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
}

static enum MHD_Result reply_buffer(struct MHD_Connection *c, unsigned status, const char *type,
				    void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	add_common_headers(r, type);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"rpiprov\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply_buffer(c, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
			    MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result reply_owned(struct MHD_Connection *c, const char *type, char *data, size_t len)
{
	if (!data)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply_buffer(c, MHD_HTTP_OK, type, data, len, MHD_RESPMEM_MUST_FREE);
}

/* Compares all of both, so the time taken says nothing about the token. */
static bool token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
	unsigned char diff = given_len != want_len;
	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned char)(want[i] ^ (i < given_len ? given[i] : 0));
	return diff == 0;
}

static bool authorized(struct rp_http *h, struct MHD_Connection *c)
{
	const char *auth, *q;

	if (!h->token_len)
		return true;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && !strncasecmp(auth, "Bearer ", 7)) {
		const char *t = auth + 7;
		if (token_equal(t, strlen(t), h->token, h->token_len))
			return true;
	}
	q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	return q && token_equal(q, strlen(q), h->token, h->token_len);
}

struct sse {
	struct rp_http *h;
	uint64_t seq;
	char *pending; /* the opening status message */
	size_t pending_len, pending_off;
};

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	size_t n;

	(void)pos;
	if (s->pending_off < s->pending_len) {
		n = s->pending_len - s->pending_off;
		if (n > max)
			n = max;
		memcpy(buf, s->pending + s->pending_off, n);
		s->pending_off += n;
		return (ssize_t)n;
	}
	for (int round = 0; round < 2; round++) {
		if (atomic_load(&s->h->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		n = rp_dash_sse_after(s->h->dash, &s->seq, buf, max);
		if (n)
			return (ssize_t)n;
		/* One connection thread each: blocking here holds up no one. */
		if (round == 0)
			rp_dash_wait(s->h->dash, s->seq, KEEPALIVE_MS);
	}
	if (atomic_load(&s->h->stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = strlen(": keepalive\n\n");
	if (n > max)
		return 0;
	memcpy(buf, ": keepalive\n\n", n);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;
	free(s->pending);
	free(s);
}

/* A 200 whose body fn produces as the client reads; cls is freed by
 * free_fn in every case, also when the response cannot be made. */
static enum MHD_Result reply_stream(struct MHD_Connection *c, const char *type, size_t block,
				    MHD_ContentReaderCallback fn, void *cls,
				    MHD_ContentReaderFreeCallback free_fn)
{
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block, fn, cls,
								    free_fn);
	enum MHD_Result ret;

	if (!r) {
		free_fn(cls);
		return MHD_NO;
	}
	add_common_headers(r, type);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_events(struct rp_http *h, struct MHD_Connection *c)
{
	struct sse *s = calloc(1, sizeof(*s));
	size_t len = 0;
	char *status;

	if (!s)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	s->h = h;
	/* The stream goes on from the events after this snapshot. */
	status = rp_dash_status_json(h->dash, rp_now_ms(), rp_wall_now_ms(), &s->seq, &len);
	if (status) {
		while (len && status[len - 1] == '\n')
			len--;
		s->pending = malloc(len + 32);
		if (s->pending)
			s->pending_len = (size_t)sprintf(s->pending, "event: status\ndata: %.*s\n\n", (int)len, status);
	}
	free(status);
	if (!s->pending) {
		sse_free(s);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return reply_stream(c, "text/event-stream; charset=utf-8", SSE_BLOCK, sse_read, s, sse_free);
}

/* DNS rebinding: a page from another site whose name is made to resolve
 * to 127.0.0.1 reaches the station as that site's own origin, so the
 * browser lets it read every answer. Its requests still carry its own
 * name in Host: without a token, only an address literal or localhost
 * is answered. With a token the token is the gate (the page does not
 * know it), and the station may have any DNS name. */
static bool host_allowed(const struct rp_http *h, struct MHD_Connection *c)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char name[256], addr[16];
	const char *port;
	size_t len;

	if (h->token_len || !host)
		return true; /* no browser leaves Host out */
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close || (size_t)(close - host - 1) >= sizeof(name))
			return false;
		len = (size_t)(close - host - 1);
		memcpy(name, host + 1, len);
		name[len] = '\0';
		port = close + 1;
		if (inet_pton(AF_INET6, name, addr) != 1)
			return false;
	} else {
		len = strcspn(host, ":");
		if (len >= sizeof(name))
			return false;
		memcpy(name, host, len);
		name[len] = '\0';
		port = host + len;
		if (inet_pton(AF_INET, name, addr) != 1 && strcasecmp(name, "localhost"))
			return false;
	}
	if (*port == '\0')
		return true;
	if (*port++ != ':' || !*port)
		return false;
	return strspn(port, "0123456789") == strlen(port) && strlen(port) <= 5;
}

static ssize_t attempts_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = rp_dash_attempts_read(cls, buf, max);

	(void)pos;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void attempts_free(void *cls)
{
	rp_dash_attempts_close(cls);
}

/* Streamed a block at a time as the client reads: 200 slow clients once
 * held a whole copy of the document each (about 550 MB). */
static enum MHD_Result serve_attempts(struct rp_http *h, struct MHD_Connection *c, int64_t since_ms)
{
	struct rp_dash_attempts *a = rp_dash_attempts_open(h->dash, since_ms);

	if (!a)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply_stream(c, "application/json", ATTEMPTS_BLOCK, attempts_read, a, attempts_free);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size,
			      void **req)
{
	struct rp_http *h = cls;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)req;
	/* Read-only: a body is never wanted, so none is read. */
	*upload_data_size = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!host_allowed(h, c))
		return reply_text(c, MHD_HTTP_FORBIDDEN,
				  "the Host header does not name this station (an address or localhost)\n");
	if (!authorized(h, c))
		return reply_text(c, MHD_HTTP_UNAUTHORIZED, "a valid token is needed\n");
	if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
		return reply_buffer(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)rp_dashboard_html,
				    rp_dashboard_html_len, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/events"))
		return serve_events(h, c);
	if (!strcmp(url, "/metrics")) {
		char *text = rp_dash_metrics(h->dash, rp_now_ms(), &len);
		return reply_owned(c, "text/plain; version=0.0.4; charset=utf-8", text, len);
	}
	if (!strcmp(url, "/api/status")) {
		char *text = rp_dash_status_json(h->dash, rp_now_ms(), rp_wall_now_ms(), NULL, &len);
		return reply_owned(c, "application/json", text, len);
	}
	if (!strcmp(url, "/api/attempts")) {
		const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
		int64_t since_ms = INT64_MIN;
		struct rp_diag d;
		if (since && rp_time_parse(since, &since_ms, &d) < 0)
			return reply_text(c, MHD_HTTP_BAD_REQUEST,
					  "since: not a time (unix seconds or ISO 8601, e.g. 2024-05-01T12:00:00Z)\n");
		return serve_attempts(h, c, since_ms);
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Percent-decoding as MHD's own, except that "%00" stays as it is: a NUL
 * would end the path early, so "/index.html%00.txt" would look like
 * "/index.html". */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *out = s;
	const char *in = s;

	(void)cls;
	(void)c;
	while (*in) {
		if (in[0] == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2])) {
			char hex[3] = { in[1], in[2], '\0' };
			unsigned long v = strtoul(hex, NULL, 16);
			if (v != 0) {
				*out++ = (char)v;
				in += 3;
				continue;
			}
		}
		*out++ = *in++;
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT", "PORT". */
static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *sl, bool *loopback,
			struct rp_diag *d)
{
	char host[64];
	const char *port_s;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (!text || !*text)
		text = RP_HTTP_DEFAULT_ADDR ":8080";
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		port_s = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon) {
			snprintf(host, sizeof(host), "%s", RP_HTTP_DEFAULT_ADDR);
			port_s = text;
		} else {
			if ((size_t)(colon - text) >= sizeof(host) || memchr(text, ':', (size_t)(colon - text)))
				goto bad;
			snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
			if (!host[0])
				snprintf(host, sizeof(host), "%s", RP_HTTP_DEFAULT_ADDR);
			port_s = colon + 1;
		}
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "%s", RP_HTTP_DEFAULT_ADDR);
	if (!isdigit((unsigned char)port_s[0]))
		goto bad;
	port = strtoul(port_s, &end, 10);
	if (*end || port > 65535)
		goto bad;
	{
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)port);
			*sl = sizeof(*v4);
			*loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
			return RP_OK;
		}
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			*sl = sizeof(*v6);
			*loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
			return RP_OK;
		}
	}
bad:
	return rp_diag_set(d, RP_ERR_INVALID_ARG,
			   "http: '%s' is not ADDR:PORT (an IP address, e.g. 127.0.0.1:8080, [::1]:8080 or :8080)",
			   text);
}

static int read_token(struct rp_http *h, const char *path, struct rp_diag *d)
{
	uint8_t *data = NULL;
	size_t len = 0, start = 0;
	int ret = rp_file_read_all(path, 4096, &data, &len, d);

	if (ret < 0)
		return ret;
	while (start < len && isspace(data[start]))
		start++;
	while (len > start && isspace(data[len - 1]))
		len--;
	len -= start;
	for (size_t i = 0; i < len; i++)
		if (!isgraph(data[start + i])) {
			free(data);
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: the token must be one word of printable characters",
					   path);
		}
	if (len < RP_HTTP_TOKEN_MIN || len > RP_HTTP_TOKEN_MAX) {
		free(data);
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: the token must be %d to %d characters (it has %zu)",
				   path, RP_HTTP_TOKEN_MIN, RP_HTTP_TOKEN_MAX, len);
	}
	memcpy(h->token, data + start, len);
	h->token[len] = '\0';
	h->token_len = len;
	free(data);
	return RP_OK;
}

int rp_http_start(const struct rp_http_opts *opts, struct rp_http **out, struct rp_diag *d)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	bool loopback = false;
	struct rp_http *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	int ret;
	char host[INET6_ADDRSTRLEN];

	*out = NULL;
	ret = parse_listen(opts->listen, &ss, &sl, &loopback, d);
	if (ret < 0)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	h->dash = opts->dash;
	if (opts->token_file) {
		ret = read_token(h, opts->token_file, d);
		if (ret < 0) {
			free(h);
			return ret;
		}
	} else if (!loopback) {
		free(h);
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "http: listening on %s (not loopback) needs a token file (http_token_file, --http-token)",
				   opts->listen);
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY_LIMIT,
				     MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
				     MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
				     MHD_OPTION_END);
	if (!h->daemon) {
		free(h);
		return rp_diag_set(d, RP_ERR_IO, "http: cannot listen on %s (address in use or not available?)",
				   opts->listen ? opts->listen : "the default address");
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u/", host, info ? info->port : 0);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		snprintf(h->url, sizeof(h->url), "http://%s:%u/", host, info ? info->port : 0);
	}
	(void)sl;
	*out = h;
	return RP_OK;
}

const char *rp_http_url(const struct rp_http *h)
{
	return h->url;
}

void rp_http_stop(struct rp_http *h)
{
	if (!h)
		return;
	atomic_store(&h->stopping, true);
	rp_dash_wake(h->dash);
	MHD_stop_daemon(h->daemon);
	free(h);
}
