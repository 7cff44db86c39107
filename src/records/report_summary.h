/* What `rpiprov report` shows, computed through the query interface
 * (query.h) from whatever backend holds the records (a station's SQLite
 * file, a line's PostgreSQL database): totals, per station, per port,
 * failures by reason, boards and yield per hour, and serials seen at more
 * than one station or passed more than once. The CLI formats it (text,
 * CSV or JSON).
 *
 * Stored values are untrusted: times and durations anywhere in int64
 * (a corrupt or hand-edited database) give clamped or absent figures,
 * never an overflow. */
#ifndef RP_RECORDS_REPORT_SUMMARY_H
#define RP_RECORDS_REPORT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records/query.h"
#include "util/error.h"

struct rp_report_serial {
	const char *serial;        /* into rows[first_row] */
	size_t first_row, n_rows;  /* its rows in serial_rows: one per station */
	uint64_t attempts, ok;     /* over every station */
	bool multi_station;        /* seen at more than one station */
	bool passed_more_than_once;
};

struct rp_report_summary {
	struct rp_query_window window;
	uint64_t attempts, ok, failed, unverified; /* ok: OK or SERVED; failed: FAILED, TIMEOUT, LEFT */
	uint64_t boards, boards_ok;   /* distinct serials seen / provisioned at least once */
	int64_t first_unix_ms, last_unix_ms; /* earliest start, latest end (0 when empty) */
	double mean_ms;
	double boards_per_hour;       /* ok / (last - first); 0 when under a second */
	struct rp_report_station *stations; /* by station name */
	size_t n_stations;
	struct rp_report_reason *reasons; /* most frequent first */
	size_t n_reasons;
	struct rp_report_port *ports;     /* by station, then port name */
	size_t n_ports;
	struct rp_report_hour *hours;     /* chronological, hours with attempts only */
	size_t n_hours;
	struct rp_report_serial_station *serial_rows;
	size_t n_serial_rows;
	struct rp_report_serial *serials; /* by serial */
	size_t n_serials;
};

/* Boards per hour: ok over [first, last], 0 under a second; computed in
 * double so that any two stored times give a finite figure. */
double rp_report_rate(uint64_t ok, int64_t first_unix_ms, int64_t last_unix_ms);
/* ok / attempts, in [0, 1]; 0 when there are none. */
double rp_report_yield(uint64_t ok, uint64_t attempts);

/* Attempts that started in the window. */
int rp_report_summary_build(struct rp_query *q, const struct rp_query_window *w,
			    struct rp_report_summary *out, struct rp_diag *d);
void rp_report_summary_free(struct rp_report_summary *s);

#endif
