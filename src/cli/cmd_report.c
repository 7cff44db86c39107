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
#include "util/timefmt.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov report [OPTIONS]\n\n"
		"Summarise what the station recorded: totals, failures by reason, figures per\n"
		"USB port and boards per hour.\n\n"
		"Options:\n"
		"      --db FILE     the database (default %s)\n"
		"  -s, --since TIME  only attempts that started at or after TIME: unix seconds\n"
		"                    or an ISO date/time (2024-05-01, 2024-05-01T14:00:00Z; UTC\n"
		"                    unless an offset is given)\n"
		"      --csv         machine-readable CSV: section,item,metric,value\n"
		"      --json        the summary as one JSON object\n"
		"  -h, --help        show this help\n\n"
		"Exit status: 0 success; 64 usage; 65 not an rpiprov database; 66 no database.\n",
		RP_DB_DEFAULT_PATH);
}

static void print_text(const struct rp_report_summary *s, const char *db)
{
	char a[RP_TIME_ISO_MAX], b[RP_TIME_ISO_MAX];

	printf("Database: %s\n", db);
	if (s->since_unix_ms != INT64_MIN) {
		rp_time_format_iso(s->since_unix_ms, a);
		printf("Since:    %s\n", a);
	}
	if (!s->attempts) {
		printf("No attempts recorded.\n");
		return;
	}
	rp_time_format_iso(s->first_unix_ms, a);
	rp_time_format_iso(s->last_unix_ms, b);
	{
		int64_t span = s->last_unix_ms - s->first_unix_ms;
		if (span >= 3600000)
			printf("Period:   %s .. %s (%.2f h)\n", a, b, (double)span / 3600000.0);
		else
			printf("Period:   %s .. %s (%lld min %02lld s)\n", a, b, (long long)(span / 60000),
			       (long long)(span / 1000 % 60));
	}
	printf("\nAttempts: %llu  OK: %llu  failed: %llu  (%.1f%% OK)\n", (unsigned long long)s->attempts,
	       (unsigned long long)s->ok, (unsigned long long)s->failed,
	       100.0 * (double)s->ok / (double)s->attempts);
	printf("Boards:   %llu seen, %llu provisioned\n", (unsigned long long)s->boards,
	       (unsigned long long)s->boards_ok);
	printf("Mean time per attempt: %.2f s   Boards per hour: %.1f\n", s->mean_ms / 1000.0,
	       s->boards_per_hour);

	if (s->n_reasons) {
		printf("\nFailures by reason:\n");
		printf("  %7s  %-8s %-20s %s\n", "COUNT", "RESULT", "ERROR", "LATEST MESSAGE");
		for (size_t i = 0; i < s->n_reasons; i++)
			printf("  %7llu  %-8s %-20s %s\n", (unsigned long long)s->reasons[i].count,
			       s->reasons[i].result, s->reasons[i].error_code[0] ? s->reasons[i].error_code : "-",
			       s->reasons[i].example);
	}
	printf("\nPer port:\n");
	printf("  %-16s %8s %8s %8s %10s %10s\n", "PORT", "ATTEMPTS", "OK", "FAILED", "MEAN", "MEAN OK");
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct rp_report_port *p = &s->ports[i];
		printf("  %-16s %8llu %8llu %8llu %9.2fs %9.2fs\n", p->port, (unsigned long long)p->attempts,
		       (unsigned long long)p->ok, (unsigned long long)p->failed, p->mean_ms / 1000.0,
		       p->mean_ok_ms / 1000.0);
	}
	printf("\nBoards per hour (UTC):\n");
	printf("  %-17s %8s %8s %8s\n", "HOUR", "ATTEMPTS", "OK", "FAILED");
	for (size_t i = 0; i < s->n_hours; i++) {
		rp_time_format_iso(s->hours[i].start_unix_ms, a);
		a[13] = '\0'; /* "YYYY-MM-DDTHH" */
		printf("  %s:00Z %8llu %8llu %8llu\n", a, (unsigned long long)s->hours[i].attempts,
		       (unsigned long long)s->hours[i].ok, (unsigned long long)s->hours[i].failed);
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

static void csv_row(const char *section, const char *item, const char *metric, const char *value)
{
	csv_field(section);
	putchar(',');
	csv_field(item);
	putchar(',');
	csv_field(metric);
	putchar(',');
	csv_field(value);
	putchar('\n');
}

static void csv_u64(const char *section, const char *item, const char *metric, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	csv_row(section, item, metric, buf);
}

static void csv_f(const char *section, const char *item, const char *metric, double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f", v);
	csv_row(section, item, metric, buf);
}

/* Attempts, OK and failed: the totals, each port and each hour have them. */
static void csv_counts(const char *section, const char *item, uint64_t attempts, uint64_t ok,
		       uint64_t failed)
{
	csv_u64(section, item, "attempts", attempts);
	csv_u64(section, item, "ok", ok);
	csv_u64(section, item, "failed", failed);
}

static void print_csv(const struct rp_report_summary *s)
{
	char iso[RP_TIME_ISO_MAX];

	csv_row("section", "item", "metric", "value");
	csv_counts("total", "", s->attempts, s->ok, s->failed);
	csv_u64("total", "", "boards", s->boards);
	csv_u64("total", "", "boards_ok", s->boards_ok);
	csv_f("total", "", "mean_ms", s->mean_ms);
	csv_f("total", "", "boards_per_hour", s->boards_per_hour);
	if (s->attempts) {
		rp_time_format_iso(s->first_unix_ms, iso);
		csv_row("total", "", "first", iso);
		rp_time_format_iso(s->last_unix_ms, iso);
		csv_row("total", "", "last", iso);
	}
	for (size_t i = 0; i < s->n_reasons; i++) {
		char item[64];
		snprintf(item, sizeof(item), "%s/%s", s->reasons[i].result, s->reasons[i].error_code);
		csv_u64("reason", item, "count", s->reasons[i].count);
		csv_row("reason", item, "example", s->reasons[i].example);
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct rp_report_port *p = &s->ports[i];
		csv_counts("port", p->port, p->attempts, p->ok, p->failed);
		csv_f("port", p->port, "mean_ms", p->mean_ms);
		csv_f("port", p->port, "mean_ok_ms", p->mean_ok_ms);
	}
	for (size_t i = 0; i < s->n_hours; i++) {
		rp_time_format_iso(s->hours[i].start_unix_ms, iso);
		csv_counts("hour", iso, s->hours[i].attempts, s->hours[i].ok, s->hours[i].failed);
	}
}

/* The JSON twin of csv_counts. */
static void json_counts(struct json_object *o, uint64_t attempts, uint64_t ok, uint64_t failed)
{
	rp_json_add(o, "attempts", json_object_new_uint64(attempts));
	rp_json_add(o, "ok", json_object_new_uint64(ok));
	rp_json_add(o, "failed", json_object_new_uint64(failed));
}

static int print_json(const struct rp_report_summary *s, const char *db)
{
	struct json_object *o = json_object_new_object(), *arr;
	char iso[RP_TIME_ISO_MAX];
	const char *text;

	if (!o)
		return -1;
	rp_json_add(o, "database", json_object_new_string(db));
	if (s->since_unix_ms != INT64_MIN)
		rp_json_add(o, "since_unix_ms", json_object_new_int64(s->since_unix_ms));
	json_counts(o, s->attempts, s->ok, s->failed);
	rp_json_add(o, "boards", json_object_new_uint64(s->boards));
	rp_json_add(o, "boards_ok", json_object_new_uint64(s->boards_ok));
	rp_json_add(o, "mean_ms", json_object_new_double(s->mean_ms));
	rp_json_add(o, "boards_per_hour", json_object_new_double(s->boards_per_hour));
	if (s->attempts) {
		rp_time_format_iso(s->first_unix_ms, iso);
		rp_json_add(o, "first", json_object_new_string(iso));
		rp_time_format_iso(s->last_unix_ms, iso);
		rp_json_add(o, "last", json_object_new_string(iso));
	}
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_reasons; i++) {
		struct json_object *r = json_object_new_object();
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
		rp_json_add(r, "port", json_object_new_string(p->port));
		json_counts(r, p->attempts, p->ok, p->failed);
		rp_json_add(r, "mean_ms", json_object_new_double(p->mean_ms));
		rp_json_add(r, "mean_ok_ms", json_object_new_double(p->mean_ok_ms));
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "ports", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < s->n_hours; i++) {
		struct json_object *r = json_object_new_object();
		rp_time_format_iso(s->hours[i].start_unix_ms, iso);
		rp_json_add(r, "hour", json_object_new_string(iso));
		json_counts(r, s->hours[i].attempts, s->hours[i].ok, s->hours[i].failed);
		json_object_array_add(arr, r);
	}
	rp_json_add(o, "hours", arr);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text)
		printf("%s\n", text);
	json_object_put(o);
	return text ? 0 : -1;
}

int cmd_report(int argc, char **argv)
{
	enum { OPT_CSV = 256, OPT_JSON };
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db_path = RP_DB_DEFAULT_PATH;
	int64_t since = INT64_MIN;
	bool csv = false, json = false;
	struct rp_report_summary s;
	struct rp_query *q;
	struct rp_diag d;
	int c, ret;

	rp_diag_clear(&d);
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db_path = optarg;
			break;
		case 's':
			if (rp_time_parse(optarg, &since, &d) < 0)
				return cli_usage_error("report", "--since: %s", d.msg);
			break;
		case OPT_CSV:
			csv = true;
			break;
		case OPT_JSON:
			json = true;
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

	ret = rp_sqlite_query_open(db_path, &q, &d);
	if (ret < 0)
		return cli_fail(&d);
	ret = rp_report_summary_build(q, since, &s, &d);
	rp_query_close(q);
	if (ret < 0)
		return cli_fail(&d);
	if (csv)
		print_csv(&s);
	else if (json)
		ret = print_json(&s, db_path);
	else
		print_text(&s, db_path);
	rp_report_summary_free(&s);
	if (ret < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		rp_diag_set(&d, RP_ERR_IO, "cannot write the report to standard output");
		return cli_fail(&d);
	}
	return CLI_EXIT_OK;
}
