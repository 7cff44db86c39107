/* Fields of a json-c object, the one way: a value json-c could not take is
 * freed rather than leaked, an allocation failure is reported, and an
 * absent string is JSON null (as records, events and reports all show
 * absent values). */
#ifndef RP_RECORDS_JSON_FIELDS_H
#define RP_RECORDS_JSON_FIELDS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Adds v under key and takes it. false when v is NULL (its allocation
 * failed) or json-c refused it. */
bool rp_json_add(struct json_object *o, const char *key, struct json_object *v);
bool rp_json_add_null(struct json_object *o, const char *key);
/* s, or null when s is NULL or "". */
bool rp_json_add_string_or_null(struct json_object *o, const char *key, const char *s);
/* At most cap bytes of s: for fixed-size fields that might lack their NUL. */
bool rp_json_add_string_n(struct json_object *o, const char *key, const char *s, size_t cap);

struct rp_board_record;
/* A stored metadata column (a JSON object of KEY: value strings) back into
 * the record's entries, in stored order; what does not fit is left out. */
void rp_json_meta_to_record(const char *text, struct rp_board_record *r);

#endif
