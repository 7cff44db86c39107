#include "station/event_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "records/json_fields.h"
#include "util/timefmt.h"

static const char *const event_names[] = {
	[RP_RUNNER_DEVICE_IGNORED] = "ignored",
	[RP_RUNNER_BOARD_STARTED] = "started",
	[RP_RUNNER_PHASE] = "phase",
	[RP_RUNNER_PROGRESS] = "progress",
	[RP_RUNNER_BOARD_FINISHED] = "finished",
	[RP_RUNNER_IDLE_TIMEOUT] = "idle_timeout",
};


/* An absent value is null, as in records and reports, never "". */
static bool add_field(struct json_object *o, const char *key, const char *s, size_t cap)
{
	return s && s[0] ? rp_json_add_string_n(o, key, s, cap) : rp_json_add_null(o, key);
}

char *rp_event_json_line(const struct rp_runner_event *ev, const struct rp_record_origin *origin,
			 int64_t wall_ms, size_t *len)
{
	struct json_object *o = json_object_new_object();
	const struct rp_board_record *r = ev->record;
	char iso[RP_TIME_ISO_MAX];
	const char *name = (unsigned)ev->type < sizeof(event_names) / sizeof(event_names[0]) &&
				   event_names[ev->type] ? event_names[ev->type] : "unknown";
	bool ok;

	if (!o)
		return NULL;
	rp_time_format_iso(wall_ms, iso);
	ok = rp_json_add(o, "event", json_object_new_string(name)) &&
	     rp_json_add(o, "time", json_object_new_string(iso)) &&
	     rp_json_add(o, "unix_ms", json_object_new_int64(wall_ms));
	if (ok && (r || ev->info)) {
		const char *port = r && r->port_path[0] ? r->port_path : ev->info ? ev->info->port_path : "";
		const char *serial = r && r->serial[0] ? r->serial : ev->info ? ev->info->serial : "";
		ok = add_field(o, "port", port, RP_PORT_PATH_MAX) && add_field(o, "serial", serial, RP_SERIAL_MAX);
		if (ok && r)
			ok = rp_json_add(o, "attempt_id", json_object_new_uint64(r->attempt_id));
	}
	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		ok = ok && add_field(o, "reason", ev->reason, 512);
		break;
	case RP_RUNNER_PHASE:
		ok = ok && rp_json_add(o, "phase", json_object_new_string(rp_phase_name(ev->phase)));
		break;
	case RP_RUNNER_PROGRESS:
		ok = ok && add_field(o, "file", ev->file, 256) &&
		     rp_json_add(o, "done", json_object_new_uint64(ev->done)) &&
		     rp_json_add(o, "total", json_object_new_uint64(ev->total));
		break;
	case RP_RUNNER_BOARD_FINISHED:
		ok = ok && r && rp_json_add(o, "record", rp_record_json(r, origin));
		break;
	default:
		break;
	}
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return rp_json_line_take(o, len);
}
