/* Reading recorded attempts back: the questions `rpiprov report` asks,
 * answered by a backend (today SQLite, sqlite_query.c) without the caller
 * seeing how it is stored. Every query takes `since`: only attempts that
 * started at or after that unix time in milliseconds (INT64_MIN: all).
 *
 * "OK" counts OK and SERVED; "failed" counts FAILED, TIMEOUT and LEFT. */
#ifndef RP_RECORDS_QUERY_H
#define RP_RECORDS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "records/origin.h"
#include "session/record.h"
#include "util/error.h"

struct rp_query_totals {
	uint64_t attempts, ok, failed;
	uint64_t boards, boards_ok;          /* distinct serials seen / provisioned at least once */
	int64_t first_unix_ms, last_unix_ms; /* earliest start, latest end (0 when empty) */
	double mean_ms;                      /* mean duration (0 when empty) */
};

struct rp_report_reason {
	char result[16];       /* "FAILED", "TIMEOUT", "LEFT" */
	char error_code[32];   /* rp_error name, "" when none */
	uint64_t count;
	char example[512];     /* the latest message with this reason */
};

struct rp_report_port {
	char port[64];
	uint64_t attempts, ok, failed;
	double mean_ms;        /* over all attempts on the port */
	double mean_ok_ms;     /* over successful ones; 0 when none */
};

struct rp_report_hour {
	int64_t start_unix_ms; /* start of the UTC hour (by end time) */
	uint64_t attempts, ok, failed;
};

/* One stored attempt; the pointers are valid during the call only.
 * Return RP_OK to go on, anything else stops the walk and is returned. */
typedef int (*rp_query_row_fn)(void *ctx, const struct rp_record_origin *origin,
			       const struct rp_board_record *rec);

struct rp_query;

struct rp_query_ops {
	int (*totals)(struct rp_query *q, int64_t since, struct rp_query_totals *out,
		      struct rp_diag *d);
	/* Most frequent first. *out is malloc'ed (NULL when *n is 0). */
	int (*failure_reasons)(struct rp_query *q, int64_t since, struct rp_report_reason **out,
			       size_t *n, struct rp_diag *d);
	/* By port name. */
	int (*ports)(struct rp_query *q, int64_t since, struct rp_report_port **out, size_t *n,
		     struct rp_diag *d);
	/* Chronological, hours with attempts only. */
	int (*hours)(struct rp_query *q, int64_t since, struct rp_report_hour **out, size_t *n,
		     struct rp_diag *d);
	/* Every attempt, by start time then attempt id, to fn. */
	int (*attempts)(struct rp_query *q, int64_t since, rp_query_row_fn fn, void *ctx,
			struct rp_diag *d);
	void (*close)(struct rp_query *q);
};

struct rp_query {
	const struct rp_query_ops *ops;
	char name[512]; /* for messages: the file or address queried */
};

static inline int rp_query_totals(struct rp_query *q, int64_t since, struct rp_query_totals *out,
				  struct rp_diag *d)
{
	return q->ops->totals(q, since, out, d);
}

static inline int rp_query_failure_reasons(struct rp_query *q, int64_t since,
					   struct rp_report_reason **out, size_t *n,
					   struct rp_diag *d)
{
	return q->ops->failure_reasons(q, since, out, n, d);
}

static inline int rp_query_ports(struct rp_query *q, int64_t since, struct rp_report_port **out,
				 size_t *n, struct rp_diag *d)
{
	return q->ops->ports(q, since, out, n, d);
}

static inline int rp_query_hours(struct rp_query *q, int64_t since, struct rp_report_hour **out,
				 size_t *n, struct rp_diag *d)
{
	return q->ops->hours(q, since, out, n, d);
}

static inline int rp_query_attempts(struct rp_query *q, int64_t since, rp_query_row_fn fn,
				    void *ctx, struct rp_diag *d)
{
	return q->ops->attempts(q, since, fn, ctx, d);
}

static inline void rp_query_close(struct rp_query *q)
{
	if (q)
		q->ops->close(q);
}

/* Backends. */

/* Where the station service keeps its database (StateDirectory=rpiprov),
 * and so where `rpiprov report` looks by default. */
#define RP_DB_DEFAULT_PATH "/var/lib/rpiprov/boards.db"

/* The SQLite database at path, read-only: it must exist and have the
 * current schema (RP_ERR_NOT_FOUND, RP_ERR_FORMAT, RP_ERR_UNSUPPORTED). */
int rp_sqlite_query_open(const char *path, struct rp_query **out, struct rp_diag *d);

#endif
