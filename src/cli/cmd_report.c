/* rpiprov report: summarise the manufacturing database. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "records/json_fields.h"
#include "records/query.h"
#include "records/report_summary.h"
#include "records/sink.h"
#include "util/timefmt.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov report [OPTIONS]\n\n"
		"Summarise what the stations recorded: totals per station and per USB port,\n"
		"boards per hour, failures by reason (most frequent first), yield per hour,\n"
		"and serials seen at more than one station or passed more than once.\n\n"
		"Options:\n"
		"      --db DB       the station's SQLite file (default %s), or a\n"
		"                    line's PostgreSQL database (postgresql://user@host/db or\n"
		"                    'host=... dbname=...'; the password from ~/.pgpass,\n"
		"                    PGPASSFILE or PGPASSWORD, never in DB)\n"
		"  -s, --since TIME  only attempts that started at or after TIME: unix seconds\n"
		"                    or an ISO date/time (2024-05-01, 2024-05-01T14:00:00Z; UTC\n"
		"                    unless an offset is given)\n"
		"  -u, --until TIME  only attempts that started before TIME (same forms)\n"
		"      --csv         machine-readable CSV: section,station,item,metric,value\n"
		"      --json        the summary as one JSON object (times ISO 8601 UTC, null\n"
		"                    when absent)\n"
		"      --include-simulated\n"
		"                    also the attempts of simulated boards (--simulate), in a\n"
		"                    section of their own; without it they are left out\n"
		"  -h, --help        show this help\n\n"
		"Exit status: 0 success; 64 usage; 65 not an rpiprov database; 66 no database;\n"
		"69 the database server cannot be reached; 77 access refused.\n",
		RP_DB_DEFAULT_PATH);
}

/* A time as reports show it; false when it cannot be written as a date
 * (a stored value beyond year 9999 or before year 0). */
static bool iso_of(int64_t unix_ms, char buf[RP_TIME_ISO_MAX])
{
	rp_time_format_iso(unix_ms, buf);
	return strcmp(buf, "invalid") != 0;
}

static void print_text(const struct rp_report_summary *s, const char *db)
{
	char a[RP_TIME_ISO_MAX], b[RP_TIME_ISO_MAX];

	printf("Database: %s\n", db);
	if (s->window.since != INT64_MIN) {
		rp_time_format_iso(s->window.since, a);
		printf("Since:    %s\n", a);
	}
	if (s->window.until != INT64_MAX) {
		rp_time_format_iso(s->window.until, a);
		printf("Until:    %s\n", a);
	}
	if (!s->attempts) {
		printf("No attempts recorded.\n");
		return;
	}
	rp_time_format_iso(s->first_unix_ms, a);
	rp_time_format_iso(s->last_unix_ms, b);
	{
		/* In double: stored times may be anything in int64. */
		double span = (double)s->last_unix_ms - (double)s->first_unix_ms;
		if (!(span >= 0.0) || span >= 3600000.0)
			printf("Period:   %s .. %s (%.2f h)\n", a, b, span / 3600000.0);
		else
			printf("Period:   %s .. %s (%d min %02d s)\n", a, b, (int)(span / 60000.0),
			       (int)(span / 1000.0) % 60);
	}
	printf("\nAttempts: %llu  OK: %llu  failed: %llu  (%.1f%% OK)\n", (unsigned long long)s->attempts,
	       (unsigned long long)s->ok, (unsigned long long)s->failed,
	       100.0 * rp_report_yield(s->ok, s->attempts));
	if (s->unverified)
		printf("Unverified: %llu written but not confirmed (their recovery.bin reports no "
		       "EEPROM_HASH)\n",
		       (unsigned long long)s->unverified);
	printf("Boards:   %llu seen, %llu provisioned\n", (unsigned long long)s->boards,
	       (unsigned long long)s->boards_ok);
	printf("Mean time per attempt: %.2f s   Boards per hour: %.1f\n", s->mean_ms / 1000.0,
	       s->boards_per_hour);

	printf("\nPer station:\n");
	printf("  %-20s %8s %8s %8s %7s %8s %10s\n", "STATION", "ATTEMPTS", "OK", "FAILED", "YIELD",
	       "BOARDS", "BOARDS/H");
	for (size_t i = 0; i < s->n_stations; i++) {
		const struct rp_report_station *st = &s->stations[i];
		printf("  %-20s %8llu %8llu %8llu %6.1f%% %8llu %10.1f\n", st->station,
		       (unsigned long long)st->t.attempts, (unsigned long long)st->t.ok,
		       (unsigned long long)st->t.failed, 100.0 * rp_report_yield(st->t.ok, st->t.attempts),
		       (unsigned long long)st->t.boards, st->boards_per_hour);
	}
	if (s->n_reasons) {
		printf("\nFailures by reason:\n");
		printf("  %4s %7s  %-8s %-20s %s\n", "RANK", "COUNT", "RESULT", "ERROR", "LATEST MESSAGE");
		for (size_t i = 0; i < s->n_reasons; i++)
			printf("  %4zu %7llu  %-8s %-20s %s\n", i + 1, (unsigned long long)s->reasons[i].count,
			       s->reasons[i].result, s->reasons[i].error_code[0] ? s->reasons[i].error_code : "-",
			       s->reasons[i].example);
	}
	printf("\nPer port:\n");
	printf("  %-20s %-16s %8s %8s %8s %10s %10s\n", "STATION", "PORT", "ATTEMPTS", "OK", "FAILED",
	       "MEAN", "MEAN OK");
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct rp_report_port *p = &s->ports[i];
		printf("  %-20s %-16s %8llu %8llu %8llu %9.2fs %9.2fs\n", p->station, p->port,
		       (unsigned long long)p->attempts, (unsigned long long)p->ok,
		       (unsigned long long)p->failed, p->mean_ms / 1000.0, p->mean_ok_ms / 1000.0);
	}
	printf("\nBoards per hour (UTC, by the hour attempts finished):\n");
	printf("  %-17s %8s %8s %8s %7s\n", "HOUR", "ATTEMPTS", "OK", "FAILED", "YIELD");
	for (size_t i = 0; i < s->n_hours; i++) {
		const struct rp_report_hour *h = &s->hours[i];
		if (iso_of(h->start_unix_ms, a))
			a[13] = '\0'; /* "YYYY-MM-DDTHH" */
		printf("  %s:00Z %8llu %8llu %8llu %6.1f%%\n", a, (unsigned long long)h->attempts,
		       (unsigned long long)h->ok, (unsigned long long)h->failed,
		       100.0 * rp_report_yield(h->ok, h->attempts));
	}
	if (s->n_serials) {
		printf("\nSerials seen at more than one station or passed more than once:\n");
		printf("  %-20s %8s %6s  %s\n", "SERIAL", "ATTEMPTS", "PASSED", "STATIONS");
		for (size_t i = 0; i < s->n_serials; i++) {
			const struct rp_report_serial *e = &s->serials[i];
			printf("  %-20s %8llu %6llu  ", e->serial, (unsigned long long)e->attempts,
			       (unsigned long long)e->ok);
			for (size_t j = 0; j < e->n_rows; j++)
				printf("%s%s", j ? ", " : "", s->serial_rows[e->first_row + j].station);
			putchar('\n');
		}
	}
}

/* RFC 4180: quote when needed, double the quotes. */
static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* One figure: section, the station it belongs to ("" for the line or a
 * figure without one), the item in the section, the metric and the value. */
struct csv_at {
	const char *section, *station, *item;
};

static void csv_row(const struct csv_at *at, const char *metric, const char *value)
{
	csv_field(at->section);
	putchar(',');
	csv_field(at->station);
	putchar(',');
	csv_field(at->item);
	putchar(',');
	csv_field(metric);
	putchar(',');
	csv_field(value);
	putchar('\n');
}

static void csv_u64(const struct csv_at *at, const char *metric, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	csv_row(at, metric, buf);
}

static void csv_f(const struct csv_at *at, const char *metric, double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f", v);
	csv_row(at, metric, buf);
}

/* An absent or unwritable time is an empty field, as null is in JSON. */
static void csv_time(const struct csv_at *at, const char *metric, bool present, int64_t unix_ms)
{
	char iso[RP_TIME_ISO_MAX];
	csv_row(at, metric, present && iso_of(unix_ms, iso) ? iso : "");
}

/* Attempts, OK, failed and yield: every section with counts has them. */
static void csv_counts(const struct csv_at *at, uint64_t attempts, uint64_t ok, uint64_t failed,
		       uint64_t unverified)
{
	csv_u64(at, "attempts", attempts);
	csv_u64(at, "ok", ok);
	csv_u64(at, "failed", failed);
	csv_u64(at, "unverified", unverified);
	csv_f(at, "yield", rp_report_yield(ok, attempts));
}

static void csv_totals(const struct csv_at *at, const struct rp_query_totals *t, double rate)
{
	csv_counts(at, t->attempts, t->ok, t->failed, t->unverified);
	csv_u64(at, "boards", t->boards);
	csv_u64(at, "boards_ok", t->boards_ok);
	csv_f(at, "mean_ms", t->mean_ms);
	csv_f(at, "boards_per_hour", rate);
	csv_time(at, "first", t->attempts > 0, t->first_unix_ms);
	csv_time(at, "last", t->attempts > 0, t->last_unix_ms);
}

static void summary_totals(const struct rp_report_summary *s, struct rp_query_totals *t)
{
	*t = (struct rp_query_totals){ s->attempts, s->ok, s->failed, s->unverified, s->boards,
				       s->boards_ok, s->first_unix_ms, s->last_unix_ms, s->mean_ms };
}

static void print_csv(const struct rp_report_summary *s)
{
	struct rp_query_totals t;
	char iso[RP_TIME_ISO_MAX];

	csv_row(&(struct csv_at){ "section", "station", "item" }, "metric", "value");
	csv_time(&(struct csv_at){ "window", "", "" }, "since", s->window.since != INT64_MIN,
		 s->window.since);
	csv_time(&(struct csv_at){ "window", "", "" }, "until", s->window.until != INT64_MAX,
		 s->window.until);
	summary_totals(s, &t);
	csv_totals(&(struct csv_at){ "total", "", "" }, &t, s->boards_per_hour);
	for (size_t i = 0; i < s->n_stations; i++)
		csv_totals(&(struct csv_at){ "station", s->stations[i].station, "" }, &s->stations[i].t,
			   s->stations[i].boards_per_hour);
	for (size_t i = 0; i < s->n_reasons; i++) {
		char item[64];
		struct csv_at at = { "reason", "", item };
		snprintf(item, sizeof(item), "%s/%s", s->reasons[i].result, s->reasons[i].error_code);
		csv_u64(&at, "rank", i + 1);
		csv_u64(&at, "count", s->reasons[i].count);
		csv_row(&at, "example", s->reasons[i].example);
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct rp_report_port *p = &s->ports[i];
		struct csv_at at = { "port", p->station, p->port };
		csv_counts(&at, p->attempts, p->ok, p->failed, p->unverified);
		csv_f(&at, "mean_ms", p->mean_ms);
		csv_f(&at, "mean_ok_ms", p->mean_ok_ms);
	}
	for (size_t i = 0; i < s->n_hours; i++) {
		if (!iso_of(s->hours[i].start_unix_ms, iso))
			snprintf(iso, sizeof(iso), "%lld", (long long)s->hours[i].start_unix_ms);
		csv_counts(&(struct csv_at){ "hour", "", iso }, s->hours[i].attempts, s->hours[i].ok,
			   s->hours[i].failed, s->hours[i].unverified);
	}
	for (size_t i = 0; i < s->n_serials; i++) {
		const struct rp_report_serial *e = &s->serials[i];
		struct csv_at at = { "serial", "", e->serial };
		csv_u64(&at, "attempts", e->attempts);
		csv_u64(&at, "ok", e->ok);
		csv_row(&at, "multi_station", e->multi_station ? "true" : "false");
		csv_row(&at, "passed_more_than_once", e->passed_more_than_once ? "true" : "false");
		for (size_t j = 0; j < e->n_rows; j++) {
			const struct rp_report_serial_station *r = &s->serial_rows[e->first_row + j];
			struct csv_at rs = { "serial", r->station, e->serial };
			csv_u64(&rs, "attempts", r->attempts);
			csv_u64(&rs, "ok", r->ok);
		}
	}
}

static struct json_object *json_time(bool present, int64_t unix_ms)
{
	char iso[RP_TIME_ISO_MAX];
	return present && iso_of(unix_ms, iso) ? json_object_new_string(iso) : NULL;
}

/* The JSON twin of csv_counts. */
static void json_counts(struct json_object *o, uint64_t attempts, uint64_t ok, uint64_t failed,
			uint64_t unverified)
{
	rp_json_add(o, "attempts", json_object_new_uint64(attempts));
	rp_json_add(o, "ok", json_object_new_uint64(ok));
	rp_json_add(o, "failed", json_object_new_uint64(failed));
	rp_json_add(o, "unverified", json_object_new_uint64(unverified));
	rp_json_add(o, "yield", json_object_new_double(rp_report_yield(ok, attempts)));
}

static void json_totals(struct json_object *o, const struct rp_query_totals *t, double rate)
{
	json_counts(o, t->attempts, t->ok, t->failed, t->unverified);
	rp_json_add(o, "boards", json_object_new_uint64(t->boards));
	rp_json_add(o, "boards_ok", json_object_new_uint64(t->boards_ok));
	rp_json_add(o, "mean_ms", json_object_new_double(t->mean_ms));
	rp_json_add(o, "boards_per_hour", json_object_new_double(rate));
	json_object_object_add(o, "first", json_time(t->attempts > 0, t->first_unix_ms));
	json_object_object_add(o, "last", json_time(t->attempts > 0, t->last_unix_ms));
}

static struct json_object *json_summary(const struct rp_report_summary *s, const char *db)
{
	struct json_object *o = json_object_new_object(), *arr;
	struct rp_query_totals t;

	if (!o)
		return NULL;
	rp_json_add(o, "database", json_object_new_string(db));
	json_object_object_add(o, "since", json_time(s->window.since != INT64_MIN, s->window.since));
	json_object_object_add(o, "until", json_time(s->window.until != INT64_MAX, s->window.until));
	summary_totals(s, &t);
	json_totals(o, &t, s->boards_per_hour);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_stations; i++) {
		struct json_object *r = json_object_new_object();
		rp_json_add(r, "station", json_object_new_string(s->stations[i].station));
		json_totals(r, &s->stations[i].t, s->stations[i].boards_per_hour);
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "stations", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_reasons; i++) {
		struct json_object *r = json_object_new_object();
		rp_json_add(r, "rank", json_object_new_uint64(i + 1));
		rp_json_add(r, "result", json_object_new_string(s->reasons[i].result));
		rp_json_add_string_or_null(r, "error_code", s->reasons[i].error_code);
		rp_json_add(r, "count", json_object_new_uint64(s->reasons[i].count));
		rp_json_add(r, "example", json_object_new_string(s->reasons[i].example));
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "failures", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_ports; i++) {
		const struct rp_report_port *p = &s->ports[i];
		struct json_object *r = json_object_new_object();
		rp_json_add(r, "station", json_object_new_string(p->station));
		rp_json_add(r, "port", json_object_new_string(p->port));
		json_counts(r, p->attempts, p->ok, p->failed, p->unverified);
		rp_json_add(r, "mean_ms", json_object_new_double(p->mean_ms));
		rp_json_add(r, "mean_ok_ms", json_object_new_double(p->mean_ok_ms));
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "ports", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_hours; i++) {
		struct json_object *r = json_object_new_object();
		json_object_object_add(r, "hour", json_time(true, s->hours[i].start_unix_ms));
		json_counts(r, s->hours[i].attempts, s->hours[i].ok, s->hours[i].failed,
			    s->hours[i].unverified);
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "hours", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_serials; i++) {
		const struct rp_report_serial *e = &s->serials[i];
		struct json_object *r = json_object_new_object(), *st = json_object_new_array();
		rp_json_add(r, "serial", json_object_new_string(e->serial));
		for (size_t j = 0; st && j < e->n_rows; j++) {
			const struct rp_report_serial_station *row = &s->serial_rows[e->first_row + j];
			struct json_object *x = json_object_new_object();
			rp_json_add(x, "station", json_object_new_string(row->station));
			rp_json_add(x, "attempts", json_object_new_uint64(row->attempts));
			rp_json_add(x, "ok", json_object_new_uint64(row->ok));
			json_object_array_add(st, x);
		}
		rp_json_add(r, "stations", st);
		rp_json_add(r, "attempts", json_object_new_uint64(e->attempts));
		rp_json_add(r, "ok", json_object_new_uint64(e->ok));
		rp_json_add(r, "multi_station", json_object_new_boolean(e->multi_station));
		rp_json_add(r, "passed_more_than_once", json_object_new_boolean(e->passed_more_than_once));
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "serials", arr);
	return o;
}

/* The real boards' summary; simulated boards' attempts apart: their own
 * summary under "simulated" (sim not NULL), else only how many were left out. */
static int print_json(const struct rp_report_summary *s, const struct rp_report_summary *sim,
		      uint64_t sim_left_out, const char *db)
{
	struct json_object *o = json_summary(s, db);
	const char *text = NULL;

	if (o && sim)
		rp_json_add(o, "simulated", json_summary(sim, db));
	else if (o)
		rp_json_add(o, "simulated_left_out", json_object_new_uint64(sim_left_out));
	if (o)
		text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text)
		printf("%s\n", text);
	json_object_put(o);
	return text ? 0 : -1;
}

int cmd_report(int argc, char **argv)
{
	enum { OPT_CSV = 256, OPT_JSON, OPT_INCLUDE_SIMULATED };
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "include-simulated", no_argument, NULL, OPT_INCLUDE_SIMULATED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db_path = RP_DB_DEFAULT_PATH;
	struct rp_query_window w = RP_QUERY_ALL;
	bool csv = false, json = false, include_sim = false;
	struct rp_report_summary s, sim;
	struct rp_query_window sim_w;
	struct rp_query_totals sim_t = { 0 };
	struct rp_query *q;
	char q_name[sizeof(q->name)];
	struct rp_diag d;
	int c, ret;

	rp_diag_clear(&d);
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:u:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_path = optarg;
			break;
		case 's':
			if (rp_time_parse(optarg, &w.since, &d) < 0)
				return cli_usage_error("report", "--since: %s", d.msg);
			break;
		case 'u':
			if (rp_time_parse(optarg, &w.until, &d) < 0)
				return cli_usage_error("report", "--until: %s", d.msg);
			break;
		case OPT_CSV:
			csv = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_INCLUDE_SIMULATED:
			include_sim = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("report");
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (csv && json)
		return cli_usage_error("report", "--csv and --json cannot be combined");
	if (csv && include_sim)
		return cli_usage_error("report", "--include-simulated shows simulated boards in a "
				       "section of their own: use it with the text report or --json");
	if (w.until <= w.since)
		return cli_usage_error("report", "--until must be after --since");

	if (rp_sink_target_is_postgres(db_path))
		ret = rp_pg_query_open(db_path, &q, &d);
	else
		ret = rp_sqlite_query_open(db_path, &q, &d);
	if (ret == RP_ERR_INVALID_ARG)
		return cli_usage_error("report", "%s", d.msg);
	if (ret < 0)
		return cli_fail(&d);
	/* Simulated boards (--simulate) are never production: left out, and
	 * counted apart when asked for. */
	sim_w = w;
	sim_w.simulated = true;
	memset(&sim, 0, sizeof(sim));
	ret = rp_report_summary_build(q, &w, &s, &d);
	if (ret == RP_OK && include_sim) {
		ret = rp_report_summary_build(q, &sim_w, &sim, &d);
		if (ret < 0)
			rp_report_summary_free(&s);
	} else if (ret == RP_OK) {
		ret = rp_query_totals(q, &sim_w, &sim_t, &d);
		if (ret < 0)
			rp_report_summary_free(&s);
	}
	/* Never the connection string as typed: it is shown without secrets. */
	snprintf(q_name, sizeof(q_name), "%s", q->name);
	rp_query_close(q);
	if (ret < 0)
		return cli_fail(&d);
	if (csv) {
		print_csv(&s);
	} else if (json) {
		ret = print_json(&s, include_sim ? &sim : NULL, sim_t.attempts, q_name);
	} else {
		print_text(&s, q_name);
		if (include_sim) {
			printf("\nSimulated boards (--simulate; not counted above):\n");
			print_text(&sim, q_name);
		} else if (sim_t.attempts) {
			printf("\n%llu attempt%s of simulated boards left out "
			       "(--include-simulated shows them apart).\n",
			       (unsigned long long)sim_t.attempts, sim_t.attempts == 1 ? "" : "s");
		}
	}
	rp_report_summary_free(&s);
	if (include_sim)
		rp_report_summary_free(&sim);
	if (ret < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		rp_diag_set(&d, RP_ERR_IO, "cannot write the report to standard output");
		return cli_fail(&d);
	}
	return CLI_EXIT_OK;
}
