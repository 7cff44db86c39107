#include "records/metadata_json.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/factory_uuid.h"
#include "records/json_fields.h"
#include "util/fileio.h"

bool rp_serial_is_safe_filename(const char *serial)
{
	size_t n = 0;

	if (!serial)
		return false;
	for (const char *p = serial; *p; p++, n++) {
		char c = *p;
		if (n >= RP_SERIAL_MAX - 1)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

struct json_object *rp_metadata_json_object(const struct rp_board_record *r)
{
	struct json_object *obj = json_object_new_object();
	unsigned n = r->n_meta < RP_META_MAX ? r->n_meta : RP_META_MAX;

	if (!obj)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		const struct rp_metadata_entry *e = &r->meta[i];
		char key[RP_META_KEY_MAX], value[RP_META_VALUE_MAX];
		char uuid[RP_FACTORY_UUID_MAX + 1];
		const char *v = value;

		/* The record promises terminated strings; do not rely on it. */
		snprintf(key, sizeof(key), "%.*s", (int)sizeof(e->key) - 1, e->key);
		snprintf(value, sizeof(value), "%.*s", (int)sizeof(e->value) - 1, e->value);
		if (!key[0])
			continue;
		if (!strcmp(key, "FACTORY_UUID") && rp_factory_uuid_decode(value, uuid, sizeof(uuid)) == 0)
			v = uuid;
		if (!rp_json_add(obj, key, json_object_new_string(v))) {
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

int rp_metadata_json_write(const char *dir, const struct rp_board_record *r, struct rp_diag *d)
{
	struct json_object *obj;
	const char *text;
	char *buf;
	char path[4096];
	size_t len;
	int ret;

	if (!dir || !*dir)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "metadata directory not given");
	if (!rp_serial_is_safe_filename(r->serial))
		return rp_diag_set(d, RP_ERR_REFUSED,
				   "board on port %s: serial \"%.*s\" is not a safe file name "
				   "(1 to %d characters of 0-9, A-Z, a-z, '_', '-'): metadata not written",
				   r->port_path[0] ? r->port_path : "?", RP_SERIAL_MAX - 1, r->serial,
				   RP_SERIAL_MAX - 1);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.json", dir, r->serial) >= sizeof(path))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: metadata directory name too long", dir);
	ret = rp_mkdir_p(dir, 0755, d);
	if (ret < 0)
		return ret;

	obj = rp_metadata_json_object(r);
	if (!obj)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory building metadata", path);
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB |
						   JSON_C_TO_STRING_SPACED |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(obj);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory encoding metadata", path);
	}
	len = strlen(text);
	/* rpiboot's files end at "}" without a newline; one is kinder to cat
	 * and changes nothing for a JSON reader. */
	buf = malloc(len + 2);
	if (!buf) {
		json_object_put(obj);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	memcpy(buf, text, len);
	buf[len] = '\n';
	ret = rp_file_write_atomic(path, buf, len + 1, 0644, d);
	free(buf);
	json_object_put(obj);
	return ret;
}
