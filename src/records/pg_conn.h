/* What the PostgreSQL sink and the PostgreSQL report share about a
 * connection string and a connection: the string is checked once (no
 * password in it: argv and logs would carry it), named without secrets,
 * and a failed connection or statement is told the same way by both. */
#ifndef RP_RECORDS_PG_CONN_H
#define RP_RECORDS_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "util/error.h"

/* Check conninfo (a URI or key=value string) and write its name for
 * messages into name: "postgresql://user@host:port/db" or "postgresql
 * service S". RP_ERR_INVALID_ARG when libpq cannot parse it or it holds a
 * password. Connects to nothing. */
int rp_pg_conninfo_check(const char *conninfo, char *name, size_t cap, struct rp_diag *d);

/* How a failed connection reads to the rest of rpiprov: a wrong password
 * or no access is RP_ERR_ACCESS and no such database RP_ERR_NOT_FOUND (the
 * operator's to fix); anything else RP_ERR_IO (the server may be down). */
int rp_pg_connect_error(const PGconn *c);

/* "NAME: WHAT: <libpq's message, first line>" with the given code. */
int rp_pg_fail(const PGconn *c, const char *name, int code, const char *what,
	       struct rp_diag *d);

#endif
