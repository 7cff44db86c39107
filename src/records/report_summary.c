#include "records/report_summary.h"

#include <stdlib.h>
#include <string.h>

double rp_report_rate(uint64_t ok, int64_t first, int64_t last)
{
	/* In double: last - first in int64 overflows for stored extremes. */
	double span = (double)last - (double)first;

	/* Under a second the rate would be noise, or a division by zero. */
	if (!(span >= 1000.0))
		return 0.0;
	return (double)ok * 3600000.0 / span;
}

double rp_report_yield(uint64_t ok, uint64_t attempts)
{
	if (!attempts)
		return 0.0;
	return ok >= attempts ? 1.0 : (double)ok / (double)attempts;
}

/* Consecutive rows of one serial become one entry. */
static int group_serials(struct rp_report_summary *s, struct rp_diag *d)
{
	size_t i = 0;

	if (!s->n_serial_rows)
		return RP_OK;
	s->serials = calloc(s->n_serial_rows, sizeof(*s->serials));
	if (!s->serials)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	while (i < s->n_serial_rows) {
		struct rp_report_serial *e = &s->serials[s->n_serials++];
		e->serial = s->serial_rows[i].serial;
		e->first_row = i;
		for (; i < s->n_serial_rows && !strcmp(s->serial_rows[i].serial, e->serial); i++) {
			const struct rp_report_serial_station *r = &s->serial_rows[i];
			e->n_rows++;
			e->attempts = r->attempts > UINT64_MAX - e->attempts ? UINT64_MAX
									      : e->attempts + r->attempts;
			e->ok = r->ok > UINT64_MAX - e->ok ? UINT64_MAX : e->ok + r->ok;
		}
		e->multi_station = e->n_rows > 1;
		e->passed_more_than_once = e->ok > 1;
	}
	return RP_OK;
}

int rp_report_summary_build(struct rp_query *q, const struct rp_query_window *w,
			    struct rp_report_summary *out, struct rp_diag *d)
{
	struct rp_query_totals t;
	int ret;

	memset(out, 0, sizeof(*out));
	out->window = *w;
	ret = rp_query_totals(q, w, &t, d);
	if (ret < 0)
		return ret;
	out->attempts = t.attempts;
	out->ok = t.ok;
	out->failed = t.failed;
	out->unverified = t.unverified;
	out->boards = t.boards;
	out->boards_ok = t.boards_ok;
	out->first_unix_ms = t.first_unix_ms;
	out->last_unix_ms = t.last_unix_ms;
	out->mean_ms = t.mean_ms;
	out->boards_per_hour = rp_report_rate(t.ok, t.first_unix_ms, t.last_unix_ms);

	ret = rp_query_stations(q, w, &out->stations, &out->n_stations, d);
	for (size_t i = 0; ret == RP_OK && i < out->n_stations; i++)
		out->stations[i].boards_per_hour =
			rp_report_rate(out->stations[i].t.ok, out->stations[i].t.first_unix_ms,
				       out->stations[i].t.last_unix_ms);
	if (ret == RP_OK)
		ret = rp_query_failure_reasons(q, w, &out->reasons, &out->n_reasons, d);
	if (ret == RP_OK)
		ret = rp_query_ports(q, w, &out->ports, &out->n_ports, d);
	if (ret == RP_OK)
		ret = rp_query_hours(q, w, &out->hours, &out->n_hours, d);
	if (ret == RP_OK)
		ret = rp_query_repeat_serials(q, w, &out->serial_rows, &out->n_serial_rows, d);
	if (ret == RP_OK)
		ret = group_serials(out, d);
	if (ret < 0)
		rp_report_summary_free(out);
	return ret;
}

void rp_report_summary_free(struct rp_report_summary *s)
{
	free(s->stations);
	free(s->reasons);
	free(s->ports);
	free(s->hours);
	free(s->serial_rows);
	free(s->serials);
	s->stations = NULL;
	s->reasons = NULL;
	s->ports = NULL;
	s->hours = NULL;
	s->serial_rows = NULL;
	s->serials = NULL;
	s->n_stations = s->n_reasons = s->n_ports = s->n_hours = 0;
	s->n_serial_rows = s->n_serials = 0;
}
