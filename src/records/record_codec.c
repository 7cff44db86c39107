#include "records/record_codec.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "records/json_fields.h"

/* Fixed-size text fields, by name: encode and decode walk the same table. */
#define TEXT(f) { #f, offsetof(struct rp_board_record, f), sizeof(((struct rp_board_record *)0)->f) }
static const struct text_field {
	const char *name;
	size_t off, cap;
} texts[] = {
	TEXT(port_path), TEXT(serial), TEXT(soc), TEXT(error), TEXT(served_sha256),
	TEXT(reported_hash), TEXT(hash_matched), TEXT(first_refused),
};
#undef TEXT

char *rp_record_encode(const struct rp_board_record *r)
{
	struct json_object *o = json_object_new_object(), *phases, *meta;
	const char *text;
	char *out = NULL;
	bool ok = o != NULL;

	for (size_t i = 0; ok && i < sizeof(texts) / sizeof(texts[0]); i++)
		ok = rp_json_add_string_n(o, texts[i].name, (const char *)r + texts[i].off, texts[i].cap);
	ok = ok && rp_json_add(o, "attempt_id", json_object_new_uint64(r->attempt_id));
	ok = ok && rp_json_add(o, "pid", json_object_new_int(r->pid));
	ok = ok && rp_json_add(o, "start", json_object_new_int64(r->start_unix_ms));
	ok = ok && rp_json_add(o, "end", json_object_new_int64(r->end_unix_ms));
	ok = ok && rp_json_add(o, "result", json_object_new_string(rp_board_result_name(r->result)));
	ok = ok && rp_json_add(o, "error_code", json_object_new_string(rp_error_name(r->error_code)));
	ok = ok && rp_json_add(o, "bytes_served", json_object_new_uint64(r->bytes_served));
	ok = ok && rp_json_add(o, "files_served", json_object_new_int64(r->files_served));
	ok = ok && rp_json_add(o, "meta_dropped", json_object_new_int64(r->meta_dropped));
	ok = ok && rp_json_add(o, "open_retries", json_object_new_int64(r->open_retries));
	ok = ok && rp_json_add(o, "names_refused", json_object_new_int64(r->names_refused));
	if (r->simulated) /* absent in records spooled before the field existed */
		ok = ok && rp_json_add(o, "simulated", json_object_new_boolean(true));
	phases = ok ? json_object_new_array() : NULL;
	ok = ok && rp_json_add(o, "phase_ms", phases);
	for (int p = 0; ok && p < RP_PHASE_COUNT; p++)
		ok = json_object_array_add(phases, json_object_new_int64(r->phase_ms[p])) == 0;
	meta = ok ? json_object_new_array() : NULL;
	ok = ok && rp_json_add(o, "meta", meta);
	for (unsigned i = 0; ok && i < r->n_meta && i < RP_META_MAX; i++) {
		struct json_object *e = json_object_new_array();
		ok = e && json_object_array_add(meta, e) == 0;
		ok = ok && json_object_array_add(e, json_object_new_string_len(
			r->meta[i].key, (int)strnlen(r->meta[i].key, RP_META_KEY_MAX))) == 0;
		ok = ok && json_object_array_add(e, json_object_new_string_len(
			r->meta[i].value, (int)strnlen(r->meta[i].value, RP_META_VALUE_MAX))) == 0;
		ok = ok && json_object_array_add(e, json_object_new_boolean(r->meta[i].invalid)) == 0;
	}
	text = ok ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	if (text)
		out = strdup(text);
	json_object_put(o);
	return out;
}

static bool get_int(struct json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return false;
	*v = json_object_get_int64(x);
	return *v >= lo && *v <= hi;
}

static bool get_u64(struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return false;
	*v = json_object_get_uint64(x);
	return true;
}

/* A string that fits cap with its NUL, copied whole. */
static bool get_text(struct json_object *x, char *dst, size_t cap)
{
	int len;

	if (!json_object_is_type(x, json_type_string))
		return false;
	len = json_object_get_string_len(x);
	if (len < 0 || (size_t)len >= cap)
		return false;
	memcpy(dst, json_object_get_string(x), (size_t)len);
	dst[len] = '\0';
	return true;
}

static bool decode_meta(struct json_object *arr, struct rp_board_record *r)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return false;
	n = json_object_array_length(arr);
	if (n > RP_META_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *inv;
		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 3 ||
		    !get_text(json_object_array_get_idx(e, 0), r->meta[i].key, RP_META_KEY_MAX) ||
		    !get_text(json_object_array_get_idx(e, 1), r->meta[i].value, RP_META_VALUE_MAX))
			return false;
		inv = json_object_array_get_idx(e, 2);
		if (!json_object_is_type(inv, json_type_boolean))
			return false;
		r->meta[i].invalid = json_object_get_boolean(inv);
	}
	r->n_meta = (unsigned)n;
	return true;
}

static bool decode(struct json_object *o, struct rp_board_record *r)
{
	struct json_object *x;
	int64_t v;

	if (!json_object_is_type(o, json_type_object))
		return false;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!json_object_object_get_ex(o, texts[i].name, &x) ||
		    !get_text(x, (char *)r + texts[i].off, texts[i].cap))
			return false;
	if (!get_u64(o, "attempt_id", &r->attempt_id) || !get_u64(o, "bytes_served", &r->bytes_served))
		return false;
	if (!get_int(o, "pid", 0, UINT16_MAX, &v))
		return false;
	r->pid = (uint16_t)v;
	if (!get_int(o, "start", INT64_MIN, INT64_MAX, &r->start_unix_ms) ||
	    !get_int(o, "end", INT64_MIN, INT64_MAX, &r->end_unix_ms))
		return false;
#define UNSIGNED(key, field)                               \
	do {                                               \
		if (!get_int(o, key, 0, UINT32_MAX, &v))   \
			return false;                      \
		r->field = (unsigned)v;                    \
	} while (0)
	UNSIGNED("files_served", files_served);
	UNSIGNED("meta_dropped", meta_dropped);
	UNSIGNED("open_retries", open_retries);
	UNSIGNED("names_refused", names_refused);
#undef UNSIGNED
	if (!json_object_object_get_ex(o, "result", &x) || !json_object_is_type(x, json_type_string))
		return false;
	r->result = rp_board_result_from_name(json_object_get_string(x));
	if (r->result == RP_RESULT_PENDING)
		return false;
	if (json_object_object_get_ex(o, "simulated", &x)) {
		if (!json_object_is_type(x, json_type_boolean))
			return false;
		r->simulated = json_object_get_boolean(x);
	}
	if (!json_object_object_get_ex(o, "error_code", &x) || !json_object_is_type(x, json_type_string) ||
	    !rp_error_from_name(json_object_get_string(x), &r->error_code))
		return false;
	if (!json_object_object_get_ex(o, "phase_ms", &x) || !json_object_is_type(x, json_type_array) ||
	    json_object_array_length(x) != RP_PHASE_COUNT)
		return false;
	for (int p = 0; p < RP_PHASE_COUNT; p++) {
		struct json_object *e = json_object_array_get_idx(x, (size_t)p);
		if (!json_object_is_type(e, json_type_int))
			return false;
		v = json_object_get_int64(e);
		if (v < 0 || v > UINT32_MAX)
			return false;
		r->phase_ms[p] = (uint32_t)v;
	}
	return json_object_object_get_ex(o, "meta", &x) && decode_meta(x, r);
}

int rp_record_decode(const char *text, size_t len, struct rp_board_record *out, struct rp_diag *d)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (!tok)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	o = len <= INT32_MAX ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	/* The whole text, and nothing after the object. */
	ok = o && json_tokener_get_error(tok) == json_tokener_success &&
	     json_tokener_get_parse_end(tok) == len && decode(o, out);
	json_object_put(o);
	json_tokener_free(tok);
	if (!ok) {
		memset(out, 0, sizeof(*out));
		return rp_diag_set(d, RP_ERR_FORMAT, "not a valid spooled attempt record");
	}
	return RP_OK;
}
