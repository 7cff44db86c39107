#include "firmware/manifest.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/fileio.h"
#include "util/timefmt.h"

static json_object *file_object(const struct rp_manifest_file *f)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(f->name));
	json_object_object_add(o, "url", json_object_new_string(f->url));
	json_object_object_add(o, "size", json_object_new_uint64(f->size));
	json_object_object_add(o, "sha256", json_object_new_string(f->sha256));
	if (f->build_timestamp >= 0)
		json_object_object_add(o, "build_timestamp", json_object_new_int64(f->build_timestamp));
	return o;
}

int rp_manifest_write(const char *dir, const char *soc, const char *channel,
		      const char *index_url, const struct rp_manifest_file *files, size_t n,
		      struct rp_diag *d)
{
	json_object *root = json_object_new_object(), *list = json_object_new_array();
	struct timespec now;
	char when[RP_TIME_ISO_MAX], path[4200];
	const char *text;
	int r;

	if (!root || !list) {
		json_object_put(root);
		json_object_put(list);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	clock_gettime(CLOCK_REALTIME, &now);
	rp_time_format_iso((int64_t)now.tv_sec * 1000, when);
	json_object_object_add(root, "soc", json_object_new_string(soc));
	json_object_object_add(root, "channel", json_object_new_string(channel));
	json_object_object_add(root, "index", json_object_new_string(index_url));
	json_object_object_add(root, "fetched", json_object_new_string(when));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, file_object(&files[i]));
	json_object_object_add(root, "files", list);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	r = text ? rp_file_write_atomic(path, text, strlen(text), 0644, d)
		 : rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	json_object_put(root);
	return r;
}
