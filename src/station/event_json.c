#include "station/event_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/timefmt.h"

static const char *const event_names[] = {
	[RP_RUNNER_DEVICE_IGNORED] = "ignored",
	[RP_RUNNER_BOARD_STARTED] = "started",
	[RP_RUNNER_PHASE] = "phase",
	[RP_RUNNER_PROGRESS] = "progress",
	[RP_RUNNER_BOARD_FINISHED] = "finished",
	[RP_RUNNER_IDLE_TIMEOUT] = "idle_timeout",
};

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

static bool add_str(struct json_object *o, const char *key, const char *s, size_t cap)
{
	return add(o, key, json_object_new_string_len(s, (int)strnlen(s, cap)));
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
	ok = add(o, "event", json_object_new_string(name)) &&
	     add(o, "time", json_object_new_string(iso)) &&
	     add(o, "unix_ms", json_object_new_int64(wall_ms));
	if (ok && (r || ev->info)) {
		const char *port = r && r->port_path[0] ? r->port_path : ev->info ? ev->info->port_path : "";
		const char *serial = r && r->serial[0] ? r->serial : ev->info ? ev->info->serial : "";
		ok = add_str(o, "port", port, RP_PORT_PATH_MAX) &&
		     add_str(o, "serial", serial, RP_SERIAL_MAX);
		if (ok && r)
			ok = add(o, "attempt_id", json_object_new_uint64(r->attempt_id));
	}
	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		ok = ok && add(o, "reason", json_object_new_string(ev->reason ? ev->reason : ""));
		break;
	case RP_RUNNER_PHASE:
		ok = ok && add(o, "phase", json_object_new_string(rp_phase_name(ev->phase)));
		break;
	case RP_RUNNER_PROGRESS:
		ok = ok && add(o, "file", json_object_new_string(ev->file ? ev->file : "")) &&
		     add(o, "done", json_object_new_uint64(ev->done)) &&
		     add(o, "total", json_object_new_uint64(ev->total));
		break;
	case RP_RUNNER_BOARD_FINISHED:
		ok = ok && r && add(o, "record", rp_record_json(r, origin));
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
