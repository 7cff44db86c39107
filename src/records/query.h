/* Reading recorded attempts back: the questions `rpiprov report` asks,
 * answered by a backend (SQLite, sqlite_query.c; PostgreSQL, pg_query.c)
 * without the caller seeing how it is stored. Both answer with the same
 * figures for the same attempts. Every query takes a window: only
 * attempts that started in [since, until) (unix milliseconds).
 *
 * "OK" counts OK and SERVED; "failed" counts FAILED, TIMEOUT and LEFT;
 * "unverified" counts UNVERIFIED (written, not confirmed), which is
 * neither. */
#ifndef RP_RECORDS_QUERY_H
#define RP_RECORDS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/origin.h"
#include "session/record.h"
#include "util/error.h"

struct rp_query_window {
	int64_t since; /* INT64_MIN: from the beginning */
	int64_t until; /* exclusive; INT64_MAX: no end (an attempt stored with
			* start INT64_MAX is still in) */
	/* false: real boards' attempts only; true: simulated boards' only
	 * (a report shows them apart, never mixed into production figures). */
	bool simulated;
};

#define RP_QUERY_ALL ((struct rp_query_window){ INT64_MIN, INT64_MAX, false })

struct rp_query_totals {
	uint64_t attempts, ok, failed;
	uint64_t unverified;                 /* written but not confirmed: neither ok nor failed */
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

/* Per station, the totals. */
struct rp_report_station {
	char station[64];
	struct rp_query_totals t;
	double boards_per_hour; /* not from the backend: report_summary fills it */
};

/* A serial seen at more than one station or passed more than once: one
 * entry per station where it was seen, consecutive, by serial then station. */
struct rp_report_serial_station {
	char serial[64];
	char station[64];
	uint64_t attempts, ok;
};

struct rp_report_port {
	char station[64];
	char port[64];
	uint64_t attempts, ok, failed, unverified;
	double mean_ms;        /* over all attempts on the port */
	double mean_ok_ms;     /* over successful ones; 0 when none */
};

struct rp_report_hour {
	int64_t start_unix_ms; /* start of the UTC hour (by end time) */
	uint64_t attempts, ok, failed, unverified;
};

/* One stored attempt; the pointers are valid during the call only.
 * Return RP_OK to go on, anything else stops the walk and is returned. */
typedef int (*rp_query_row_fn)(void *ctx, const struct rp_record_origin *origin,
			       const struct rp_board_record *rec);

struct rp_query;

struct rp_query_ops {
	int (*totals)(struct rp_query *q, const struct rp_query_window *w, struct rp_query_totals *out,
		      struct rp_diag *d);
	/* Most frequent first. *out is malloc'ed (NULL when *n is 0). */
	int (*failure_reasons)(struct rp_query *q, const struct rp_query_window *w, struct rp_report_reason **out,
			       size_t *n, struct rp_diag *d);
	/* By station, then port name. */
	int (*ports)(struct rp_query *q, const struct rp_query_window *w, struct rp_report_port **out, size_t *n,
		     struct rp_diag *d);
	/* Chronological, hours with attempts only. */
	int (*hours)(struct rp_query *q, const struct rp_query_window *w, struct rp_report_hour **out, size_t *n,
		     struct rp_diag *d);
	/* By station name. */
	int (*stations)(struct rp_query *q, const struct rp_query_window *w,
			struct rp_report_station **out, size_t *n, struct rp_diag *d);
	/* Serials at more than one station or with more than one OK attempt,
	 * by serial then station (byte order). */
	int (*repeat_serials)(struct rp_query *q, const struct rp_query_window *w,
			      struct rp_report_serial_station **out, size_t *n, struct rp_diag *d);
	/* Every attempt, by start time then attempt id, to fn. */
	int (*attempts)(struct rp_query *q, const struct rp_query_window *w, rp_query_row_fn fn, void *ctx,
			struct rp_diag *d);
	void (*close)(struct rp_query *q);
};

struct rp_query {
	const struct rp_query_ops *ops;
	char name[512]; /* for messages: the file or address queried */
};

static inline int rp_query_totals(struct rp_query *q, const struct rp_query_window *w, struct rp_query_totals *out,
				  struct rp_diag *d)
{
	return q->ops->totals(q, w, out, d);
}

static inline int rp_query_failure_reasons(struct rp_query *q, const struct rp_query_window *w,
					   struct rp_report_reason **out, size_t *n,
					   struct rp_diag *d)
{
	return q->ops->failure_reasons(q, w, out, n, d);
}

static inline int rp_query_ports(struct rp_query *q, const struct rp_query_window *w, struct rp_report_port **out,
				 size_t *n, struct rp_diag *d)
{
	return q->ops->ports(q, w, out, n, d);
}

static inline int rp_query_hours(struct rp_query *q, const struct rp_query_window *w, struct rp_report_hour **out,
				 size_t *n, struct rp_diag *d)
{
	return q->ops->hours(q, w, out, n, d);
}

static inline int rp_query_stations(struct rp_query *q, const struct rp_query_window *w,
				    struct rp_report_station **out, size_t *n, struct rp_diag *d)
{
	return q->ops->stations(q, w, out, n, d);
}

static inline int rp_query_repeat_serials(struct rp_query *q, const struct rp_query_window *w,
					  struct rp_report_serial_station **out, size_t *n,
					  struct rp_diag *d)
{
	return q->ops->repeat_serials(q, w, out, n, d);
}

static inline int rp_query_attempts(struct rp_query *q, const struct rp_query_window *w, rp_query_row_fn fn,
				    void *ctx, struct rp_diag *d)
{
	return q->ops->attempts(q, w, fn, ctx, d);
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

/* PostgreSQL (the tables sink_pg.c writes), through libpq: conninfo as
 * the --db of the sink takes it, password refused likewise. Everything is
 * read in one read-only repeatable-read transaction, so the figures of one
 * report agree with each other while stations keep writing.
 * RP_ERR_NOT_FOUND: no such database or no rpiprov tables; RP_ERR_NETWORK:
 * the server cannot be reached; RP_ERR_ACCESS: authentication;
 * RP_ERR_UNSUPPORTED: a newer schema. */
int rp_pg_query_open(const char *conninfo, struct rp_query **out, struct rp_diag *d);

#endif
