#include "records/record_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/json_fields.h"
#include "records/metadata_json.h"
#include "util/timefmt.h"

/* Copy a fixed-size field that should be terminated, without trusting it. */
#define FIELD(buf, f) snprintf((buf), sizeof(buf), "%.*s", (int)sizeof(f) - 1, (f))


int64_t rp_record_duration_ms(const struct rp_board_record *r)
{
	int64_t d;

	if (r->end_unix_ms <= r->start_unix_ms)
		return 0;
	return __builtin_sub_overflow(r->end_unix_ms, r->start_unix_ms, &d) ? INT64_MAX : d;
}

struct json_object *rp_record_json(const struct rp_board_record *r,
				   const struct rp_record_origin *origin)
{
	struct json_object *o = json_object_new_object(), *phases, *meta;
	char iso[RP_TIME_ISO_MAX], port[sizeof(r->port_path)], serial[sizeof(r->serial)];
	char soc[sizeof(r->soc)], err[sizeof(r->error)], sha[sizeof(r->served_sha256)];
	char hash[sizeof(r->reported_hash)], pid[8];
	int64_t duration = rp_record_duration_ms(r);
	bool ok = true;

	if (!o)
		return NULL;
	FIELD(port, r->port_path);
	FIELD(serial, r->serial);
	FIELD(soc, r->soc);
	FIELD(err, r->error);
	FIELD(sha, r->served_sha256);
	FIELD(hash, r->reported_hash);
	snprintf(pid, sizeof(pid), "%04x", r->pid);

	ok = ok && rp_json_add_string_or_null(o, "station", origin ? origin->station : NULL);
	ok = ok && rp_json_add_string_or_null(o, "run_id", origin ? origin->run_id : NULL);
	ok = ok && rp_json_add(o, "attempt_id", json_object_new_uint64(r->attempt_id));
	rp_time_format_iso(r->start_unix_ms, iso);
	ok = ok && rp_json_add(o, "start", json_object_new_string(iso));
	ok = ok && rp_json_add(o, "start_unix_ms", json_object_new_int64(r->start_unix_ms));
	rp_time_format_iso(r->end_unix_ms, iso);
	ok = ok && rp_json_add(o, "end", json_object_new_string(iso));
	ok = ok && rp_json_add(o, "end_unix_ms", json_object_new_int64(r->end_unix_ms));
	ok = ok && rp_json_add(o, "duration_ms", json_object_new_int64(duration > 0 ? duration : 0));
	ok = ok && rp_json_add(o, "port", json_object_new_string(port));
	ok = ok && rp_json_add_string_or_null(o, "serial", serial);
	ok = ok && rp_json_add_string_or_null(o, "soc", soc);
	ok = ok && rp_json_add(o, "pid", json_object_new_string(pid));
	ok = ok && rp_json_add(o, "result", json_object_new_string(rp_board_result_name(r->result)));
	ok = ok && rp_json_add_string_or_null(o, "error_code", r->error_code ? rp_error_name(r->error_code) : NULL);
	ok = ok && rp_json_add_string_or_null(o, "error", err);

	phases = ok ? json_object_new_object() : NULL;
	ok = ok && rp_json_add(o, "phase_ms", phases);
	for (int p = 0; ok && p < RP_PHASE_COUNT; p++)
		ok = rp_json_add(phases, rp_phase_name((enum rp_phase)p), json_object_new_int64(r->phase_ms[p]));

	ok = ok && rp_json_add_string_or_null(o, "served_sha256", sha);
	ok = ok && rp_json_add_string_or_null(o, "eeprom_hash", hash);
	ok = ok && rp_json_add(o, "bytes_served", json_object_new_uint64(r->bytes_served));
	ok = ok && rp_json_add(o, "files_served", json_object_new_int64(r->files_served));
	meta = ok ? rp_metadata_json_object(r) : NULL;
	ok = ok && rp_json_add(o, "metadata", meta);
	ok = ok && rp_json_add(o, "metadata_dropped", json_object_new_int64(r->meta_dropped));
	/* Its own field, not only the run id: a simulated board is never production. */
	ok = ok && rp_json_add(o, "simulated", json_object_new_boolean(r->simulated));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *rp_json_line_take(struct json_object *o, size_t *len)
{
	const char *text;
	char *line = NULL;

	if (!o)
		return NULL;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text) {
		size_t n = strlen(text);
		line = malloc(n + 2);
		if (line) {
			memcpy(line, text, n);
			line[n] = '\n';
			line[n + 1] = '\0';
			if (len)
				*len = n + 1;
		}
	}
	json_object_put(o);
	return line;
}

char *rp_record_json_line(const struct rp_board_record *r, const struct rp_record_origin *origin,
			  size_t *len)
{
	return rp_json_line_take(rp_record_json(r, origin), len);
}
