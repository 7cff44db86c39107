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
 * secret (password, sslpassword, ...). key (may be NULL): the server and
 * database it resolves to, the same for every spelling of them (a socket
 * directory with or without its trailing slash). Connects to nothing. */
int rp_pg_conninfo_check(const char *conninfo, char *name, size_t cap, char *key, size_t key_cap,
			 struct rp_diag *d);

/* How a failed connection reads to the rest of rpiprov: a wrong password
 * or no access is RP_ERR_ACCESS and no such database RP_ERR_NOT_FOUND (the
 * operator's to fix); anything else RP_ERR_IO (the server may be down). */
int rp_pg_connect_error(const PGconn *c);

/* A failed statement: RP_ERR_FORMAT when the server refused the data
 * itself (SQLSTATE class 22, data exception: invalid UTF-8, a value out of
 * range), which no retry will change; RP_ERR_IO otherwise. */
int rp_pg_result_error(const PGresult *res);

/* How long a connection may take when the string sets no
 * connect_timeout; every statement is bounded on the server by
 * statement_timeout and lock_timeout (a locked table, a hung query). */
#define RP_PG_CONNECT_TIMEOUT_MS 10000
#define RP_PG_STATEMENT_TIMEOUT_MS 30000
#define RP_PG_LOCK_TIMEOUT_MS 10000

/* Connect, bounded: within the string's connect_timeout (seconds) or
 * RP_PG_CONNECT_TIMEOUT_MS, also when the server accepts and never
 * answers; sooner when *cancel becomes true (checked every 100 ms; may be
 * NULL). The session gets statement_timeout, lock_timeout and
 * client_min_messages=warning, and libpq's notices are dropped (the
 * library never prints). name (from rp_pg_conninfo_check) starts every
 * message: RP_ERR_TIMEOUT when the deadline passed, else as
 * rp_pg_connect_error says. */
int rp_pg_connect(const char *conninfo, const char *name, const volatile int *cancel,
		  PGconn **out, struct rp_diag *d);

/* "NAME: WHAT: <libpq's message, first line>" with the given code. */
int rp_pg_fail(const PGconn *c, const char *name, int code, const char *what,
	       struct rp_diag *d);

#endif
