/* What `rpiprov report` shows, computed through the query interface
 * (query.h) from whatever backend holds the records: totals, failures by
 * reason, per-port figures and boards per hour. The CLI formats it (text,
 * CSV or JSON). */
#ifndef RP_RECORDS_REPORT_SUMMARY_H
#define RP_RECORDS_REPORT_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "records/query.h"
#include "util/error.h"

struct rp_report_summary {
	int64_t since_unix_ms;        /* INT64_MIN: everything */
	uint64_t attempts, ok, failed; /* ok: OK or SERVED; failed: FAILED, TIMEOUT, LEFT */
	uint64_t boards, boards_ok;   /* distinct serials seen / provisioned at least once */
	int64_t first_unix_ms, last_unix_ms; /* earliest start, latest end (0 when empty) */
	double mean_ms;
	double boards_per_hour;       /* ok / (last - first); 0 when under a second */
	struct rp_report_reason *reasons; /* most frequent first */
	size_t n_reasons;
	struct rp_report_port *ports;     /* by port name */
	size_t n_ports;
	struct rp_report_hour *hours;     /* chronological, hours with attempts only */
	size_t n_hours;
};

/* Attempts that started at or after since_unix_ms (INT64_MIN for all). */
int rp_report_summary_build(struct rp_query *q, int64_t since_unix_ms,
			    struct rp_report_summary *out, struct rp_diag *d);
void rp_report_summary_free(struct rp_report_summary *s);

#endif
