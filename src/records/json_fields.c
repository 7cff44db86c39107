#include "records/json_fields.h"

#include <stdio.h>
#include <string.h>

#include "session/record.h"

bool rp_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

bool rp_json_add_null(struct json_object *o, const char *key)
{
	/* json-c has no null object: a NULL value is JSON null. */
	return json_object_object_add(o, key, NULL) == 0;
}

bool rp_json_add_string_or_null(struct json_object *o, const char *key, const char *s)
{
	return s && *s ? rp_json_add(o, key, json_object_new_string(s)) : rp_json_add_null(o, key);
}

bool rp_json_add_string_n(struct json_object *o, const char *key, const char *s, size_t cap)
{
	return rp_json_add(o, key, json_object_new_string_len(s, (int)strnlen(s, cap)));
}

void rp_json_meta_to_record(const char *text, struct rp_board_record *r)
{
	struct json_object *o = text ? json_tokener_parse(text) : NULL;

	if (o && json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val)
		{
			struct rp_metadata_entry *e;
			if (r->n_meta == RP_META_MAX)
				break;
			e = &r->meta[r->n_meta++];
			snprintf(e->key, sizeof(e->key), "%s", key);
			snprintf(e->value, sizeof(e->value), "%s", json_object_get_string(val));
		}
	}
	json_object_put(o);
}
