#include "records/report_summary.h"

#include <stdlib.h>
#include <string.h>

int rp_report_summary_build(struct rp_query *q, int64_t since, struct rp_report_summary *out,
			    struct rp_diag *d)
{
	struct rp_query_totals t;
	int ret;

	memset(out, 0, sizeof(*out));
	out->since_unix_ms = since;
	ret = rp_query_totals(q, since, &t, d);
	if (ret < 0)
		return ret;
	out->attempts = t.attempts;
	out->ok = t.ok;
	out->failed = t.failed;
	out->boards = t.boards;
	out->boards_ok = t.boards_ok;
	out->first_unix_ms = t.first_unix_ms;
	out->last_unix_ms = t.last_unix_ms;
	out->mean_ms = t.mean_ms;
	/* Under a second the rate would be noise, or a division by zero. */
	if (out->last_unix_ms - out->first_unix_ms >= 1000)
		out->boards_per_hour = (double)out->ok * 3600000.0 /
				       (double)(out->last_unix_ms - out->first_unix_ms);

	ret = rp_query_failure_reasons(q, since, &out->reasons, &out->n_reasons, d);
	if (ret == RP_OK)
		ret = rp_query_ports(q, since, &out->ports, &out->n_ports, d);
	if (ret == RP_OK)
		ret = rp_query_hours(q, since, &out->hours, &out->n_hours, d);
	if (ret < 0)
		rp_report_summary_free(out);
	return ret;
}

void rp_report_summary_free(struct rp_report_summary *s)
{
	free(s->reasons);
	free(s->ports);
	free(s->hours);
	s->reasons = NULL;
	s->ports = NULL;
	s->hours = NULL;
	s->n_reasons = s->n_ports = s->n_hours = 0;
}
