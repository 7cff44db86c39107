#include "records/json_fields.h"

#include <string.h>

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
