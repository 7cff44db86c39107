/* Test helper: write attempts described on stdin into record sinks, the
 * same way the recorder does (open, append, flush), so the report tests
 * can load known attempts into PostgreSQL and SQLite alike.
 *
 *   records-load TARGET...   (a --db target each: a connection string or a file)
 *
 * One attempt per line, tab-separated:
 *   station run_id attempt_id serial port result error_code start_ms end_ms message
 * result is a name (OK, FAILED, ...), error_code an rp_error name or "-". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/sink.h"

static int error_of(const char *name)
{
	for (int e = 0; e > -RP_ERROR_COUNT; e--)
		if (!strcmp(rp_error_name(e), name))
			return e;
	return RP_OK;
}


static char *field(char **p)
{
	char *f = strsep(p, "\t");
	return f ? f : "";
}

int main(int argc, char **argv)
{
	struct rp_sink *sinks[8];
	int n = 0, ret = 0;
	struct rp_diag d;
	char line[2048];
	uint64_t seq = 0;

	for (int i = 1; i < argc && n < 8; i++) {
		if (rp_sink_database_new(argv[i], &sinks[n], &d) < 0 ||
		    sinks[n]->ops->open(sinks[n], &d) < 0) {
			fprintf(stderr, "records-load: %s\n", d.msg);
			return 1;
		}
		n++;
	}
	while (fgets(line, sizeof(line), stdin)) {
		struct rp_board_record r;
		char *p = line, *station, *run;
		struct rp_record_origin origin;
		struct rp_sink_entry e = { &origin, &r, ++seq };

		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		memset(&r, 0, sizeof(r));
		station = field(&p);
		run = field(&p);
		origin = (struct rp_record_origin){ station, run };
		r.attempt_id = strtoull(field(&p), NULL, 10);
		snprintf(r.serial, sizeof(r.serial), "%s", field(&p));
		snprintf(r.port_path, sizeof(r.port_path), "%s", field(&p));
		r.result = rp_board_result_from_name(field(&p));
		r.error_code = error_of(field(&p));
		r.start_unix_ms = strtoll(field(&p), NULL, 10);
		r.end_unix_ms = strtoll(field(&p), NULL, 10);
		snprintf(r.error, sizeof(r.error), "%s", field(&p));
		snprintf(r.soc, sizeof(r.soc), "2711");
		r.pid = 0x2711;
		for (int i = 0; i < n; i++)
			if (sinks[i]->ops->append(sinks[i], &e, &d) < 0) {
				fprintf(stderr, "records-load: %s\n", d.msg);
				ret = 1;
			}
	}
	for (int i = 0; i < n; i++) {
		if (sinks[i]->ops->flush && sinks[i]->ops->flush(sinks[i], &d) < 0) {
			fprintf(stderr, "records-load: %s\n", d.msg);
			ret = 1;
		}
		sinks[i]->ops->close(sinks[i]);
	}
	return ret;
}
