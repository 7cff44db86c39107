/* `rpiprov station --json`: runner events as JSON Lines for other
 * programs. Every line has "event" (ignored, started, phase, progress,
 * finished, idle_timeout), "time" (ISO 8601 UTC) and "unix_ms"; board
 * events add "port", "serial" and "attempt_id"; phase adds "phase";
 * progress adds "file", "done" and "total" (bytes); ignored adds
 * "reason"; finished adds "record", the object the JSONL report stores.
 * An absent value (a serial the board did not give) is null, not "". */
#ifndef RP_STATION_EVENT_JSON_H
#define RP_STATION_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "records/record_json.h"
#include "runner/runner.h"

/* A malloc'ed line ending in '\n' (NULL when out of memory). */
char *rp_event_json_line(const struct rp_runner_event *ev, const struct rp_record_origin *origin,
			 int64_t wall_ms, size_t *len);

#endif
