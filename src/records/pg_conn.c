#include "records/pg_conn.h"

#include <stdio.h>
#include <string.h>

int rp_pg_conninfo_check(const char *conninfo, char *name, size_t cap, struct rp_diag *d)
{
	const char *user = "", *host = "", *port = "", *db = "", *service = "";
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
		if (!strcmp(o->keyword, "password") && *o->val)
			r = rp_diag_set(d, RP_ERR_INVALID_ARG,
					"--db: the connection string holds a password; put it in "
					"PGPASSFILE (~/.pgpass), PGPASSWORD or a service file instead, "
					"where it stays out of the command line and the logs");
		else if (!strcmp(o->keyword, "user"))
			user = o->val;
		else if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
		else if (!strcmp(o->keyword, "service"))
			service = o->val;
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
