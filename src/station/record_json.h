/* The JSON form of one attempt record, shared by the JSON Lines report,
 * `rpiprov station --json` events and tests. */
#ifndef RP_STATION_RECORD_JSON_H
#define RP_STATION_RECORD_JSON_H

#include <stddef.h>

#include "session/record.h"

struct json_object;

/* Who wrote the record: the station's name and the id of this run of it
 * (attempt ids restart with every run; run_id + attempt_id is unique). */
struct rp_record_origin {
	const char *station;
	const char *run_id;
};

/* A new object with every field of the record (see report_jsonl.h for the
 * keys). NULL when out of memory. */
/* Plain one-line JSON text of o plus '\n' (malloc'ed; *len without the
 * NUL when len is not NULL). Takes ownership of o. NULL on failure. */
char *rp_json_line_take(struct json_object *o, size_t *len);

struct json_object *rp_record_json(const struct rp_board_record *r,
				   const struct rp_record_origin *origin);

/* The record as one line of JSON ending in '\n', malloc'ed; *len without
 * the terminating NUL. NULL when out of memory. */
char *rp_record_json_line(const struct rp_board_record *r, const struct rp_record_origin *origin,
			  size_t *len);

#endif
