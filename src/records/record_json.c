#include "records/record_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/metadata_json.h"
#include "util/timefmt.h"

/* Copy a fixed-size field that should be terminated, without trusting it. */
#define FIELD(buf, f) snprintf((buf), sizeof(buf), "%.*s", (int)sizeof(f) - 1, (f))

static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static struct json_object *str_or_null(const char *s)
{
	/* json_object_new_null does not exist in json-c 0.16: NULL is JSON null. */
	return s && *s ? json_object_new_string(s) : NULL;
}

static bool add_opt(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v = str_or_null(s);
	if (!v)
		return json_object_object_add(o, key, NULL) == 0;
	return add(o, key, v);
}

struct json_object *rp_record_json(const struct rp_board_record *r,
				   const struct rp_record_origin *origin)
{
	struct json_object *o = json_object_new_object(), *phases, *meta;
	char iso[RP_TIME_ISO_MAX], port[sizeof(r->port_path)], serial[sizeof(r->serial)];
	char soc[sizeof(r->soc)], err[sizeof(r->error)], sha[sizeof(r->served_sha256)];
	char hash[sizeof(r->reported_hash)], pid[8];
	int64_t duration = r->end_unix_ms - r->start_unix_ms;
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

	ok = ok && add_opt(o, "station", origin ? origin->station : NULL);
	ok = ok && add_opt(o, "run_id", origin ? origin->run_id : NULL);
	ok = ok && add(o, "attempt_id", json_object_new_uint64(r->attempt_id));
	rp_time_format_iso(r->start_unix_ms, iso);
	ok = ok && add(o, "start", json_object_new_string(iso));
	ok = ok && add(o, "start_unix_ms", json_object_new_int64(r->start_unix_ms));
	rp_time_format_iso(r->end_unix_ms, iso);
	ok = ok && add(o, "end", json_object_new_string(iso));
	ok = ok && add(o, "end_unix_ms", json_object_new_int64(r->end_unix_ms));
	ok = ok && add(o, "duration_ms", json_object_new_int64(duration > 0 ? duration : 0));
	ok = ok && add(o, "port", json_object_new_string(port));
	ok = ok && add_opt(o, "serial", serial);
	ok = ok && add_opt(o, "soc", soc);
	ok = ok && add(o, "pid", json_object_new_string(pid));
	ok = ok && add(o, "result", json_object_new_string(rp_board_result_name(r->result)));
	ok = ok && add_opt(o, "error_code", r->error_code ? rp_error_name(r->error_code) : NULL);
	ok = ok && add_opt(o, "error", err);

	phases = ok ? json_object_new_object() : NULL;
	ok = ok && add(o, "phase_ms", phases);
	for (int p = 0; ok && p < RP_PHASE_COUNT; p++)
		ok = add(phases, rp_phase_name((enum rp_phase)p), json_object_new_int64(r->phase_ms[p]));

	ok = ok && add_opt(o, "served_sha256", sha);
	ok = ok && add_opt(o, "eeprom_hash", hash);
	ok = ok && add(o, "bytes_served", json_object_new_uint64(r->bytes_served));
	ok = ok && add(o, "files_served", json_object_new_int64(r->files_served));
	meta = ok ? rp_metadata_json_object(r) : NULL;
	ok = ok && add(o, "metadata", meta);
	ok = ok && add(o, "metadata_dropped", json_object_new_int64(r->meta_dropped));
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
