#include "records/pg_conn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

/* Keywords whose value is a secret (libpq's list: the password, the
 * passphrase of the client key, an OAuth client secret). Such a value
 * would sit in argv, the config file and the logs: refused, and none of
 * them is ever part of a name. */
static const char *const secret_keywords[] = { "password", "sslpassword", "oauth_client_secret" };

static bool is_secret(const char *keyword)
{
	for (size_t i = 0; i < sizeof(secret_keywords) / sizeof(secret_keywords[0]); i++)
		if (!strcmp(keyword, secret_keywords[i]))
			return true;
	return false;
}

int rp_pg_conninfo_check(const char *conninfo, char *name, size_t cap, char *key, size_t key_cap,
			 struct rp_diag *d)
{
	const char *user = "", *host = "", *port = "", *db = "", *service = "", *hostaddr = "";
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &err);
	int r = RP_OK;

	if (!opts) {
		/* libpq's message may quote the string: it is not repeated. */
		PQfreemem(err);
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "--db: not a valid PostgreSQL connection string");
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (is_secret(o->keyword) && *o->val)
			r = rp_diag_set(d, RP_ERR_INVALID_ARG,
					"--db: the connection string holds a secret (%s); put it in "
					"PGPASSFILE (~/.pgpass), PGPASSWORD, PGSSLPASSWORD or a service "
					"file instead, where it stays out of the command line and the logs",
					o->keyword);
		else if (!strcmp(o->keyword, "user"))
			user = o->val;
		else if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname") &&
			 (strchr(o->val, '=') || strstr(o->val, "://")))
			/* A connection string inside dbname is not expanded
			 * again (libpq): it would only be a database's name,
			 * and it may carry a password into every message. */
			r = rp_diag_set(d, RP_ERR_INVALID_ARG,
					"--db: dbname holds a connection string of its own; give "
					"its parts directly (host=... dbname=...)");
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
		else if (!strcmp(o->keyword, "service"))
			service = o->val;
		else if (!strcmp(o->keyword, "hostaddr"))
			hostaddr = o->val;
	}
	if (r == RP_OK && key) {
		/* The same server however it is spelled: a socket directory
		 * resolved (host=DIR and host=DIR/), libpq's default port. */
		char dir[PATH_MAX];
		const char *h = *hostaddr ? hostaddr : host;
		if (h[0] == '/' && !strchr(h, ',') && realpath(h, dir))
			h = dir;
		if (*service)
			snprintf(key, key_cap, "postgresql service %s", service);
		else
			snprintf(key, key_cap, "postgresql://%s@%s:%s/%s", user, h, *port ? port : "5432",
				 *db ? db : user);
	}
	if (r == RP_OK && *service)
		snprintf(name, cap, "postgresql service %s", service);
	else if (r == RP_OK)
		snprintf(name, cap, "postgresql://%s%s%s%s%s/%s", user, *user ? "@" : "", host,
			 *port ? ":" : "", port, db);
	PQconninfoFree(opts);
	return r;
}

int rp_pg_connect_error(const PGconn *c)
{
	const char *m = c ? PQerrorMessage(c) : "";

	if (strstr(m, "password authentication failed") || strstr(m, "no password supplied") ||
	    strstr(m, "permission denied") || strstr(m, "no pg_hba.conf entry"))
		return RP_ERR_ACCESS;
	if (strstr(m, "does not exist"))
		return RP_ERR_NOT_FOUND;
	return RP_ERR_IO;
}

int rp_pg_fail(const PGconn *c, const char *name, int code, const char *what, struct rp_diag *d)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";

	return rp_diag_set(d, code, "%s: %s: %.*s", name, what, (int)strcspn(m, "\n"), m);
}

int rp_pg_result_error(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state && !strncmp(state, "22", 2) ? RP_ERR_FORMAT : RP_ERR_IO;
}

static void drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The string's connect_timeout in ms (libpq's rule: below 2 s is 2 s, 0
 * or none is ours). */
static int64_t connect_timeout_ms(const char *conninfo, char *options, size_t cap)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
	int64_t ms = RP_PG_CONNECT_TIMEOUT_MS;

	/* Ours first, so that -c settings in the string's own options win. */
	snprintf(options, cap, "-c statement_timeout=%d -c lock_timeout=%d -c client_min_messages=warning",
		 RP_PG_STATEMENT_TIMEOUT_MS, RP_PG_LOCK_TIMEOUT_MS);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "connect_timeout")) {
			long s = strtol(o->val, NULL, 10);
			if (s > 0)
				ms = (s < 2 ? 2 : s) * 1000LL;
		} else if (!strcmp(o->keyword, "options")) {
			size_t len = strlen(options);
			snprintf(options + len, cap - len, " %s", o->val);
		}
	}
	PQconninfoFree(opts);
	return ms;
}

int rp_pg_connect(const char *conninfo, const char *name, const volatile int *cancel,
		  PGconn **out, struct rp_diag *d)
{
	char options[1024];
	int64_t limit = connect_timeout_ms(conninfo, options, sizeof(options));
	int64_t deadline = (int64_t)rp_now_ms() + limit;
	/* dbname is expanded as the whole string; options after it, so the
	 * merged value replaces the string's own. */
	const char *const keys[] = { "dbname", "options", NULL };
	const char *const vals[] = { conninfo ? conninfo : "", options, NULL };
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	*out = NULL;
	if (!c)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: cannot connect: out of memory", name);
	PQsetNoticeProcessor(c, drop_notice, NULL);
	if (PQstatus(c) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	/* libpq's own connect_timeout cannot be interrupted and counts each
	 * host anew: the whole connection is bounded here instead. */
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd pfd = { .fd = PQsocket(c),
				      .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int64_t left = deadline - (int64_t)rp_now_ms();
		int n;

		if (cancel && *cancel) {
			PQfinish(c);
			return rp_diag_set(d, RP_ERR_IO, "%s: cannot connect: given up (stopping)", name);
		}
		if (left <= 0) {
			PQfinish(c);
			return rp_diag_set(d, RP_ERR_TIMEOUT,
					   "%s: cannot connect: no answer within %lld s (the server "
					   "accepted the connection or did not, and never replied)",
					   name, (long long)(limit / 1000));
		}
		n = poll(&pfd, 1, left < 100 ? (int)left : 100);
		if (n == 0 && pfd.fd >= 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		st = PQconnectPoll(c);
	}
	if (st == PGRES_POLLING_FAILED) {
		int ret = rp_pg_fail(c, name, rp_pg_connect_error(c), "cannot connect", d);
		PQfinish(c);
		return ret;
	}
	*out = c;
	return RP_OK;
}
