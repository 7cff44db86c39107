#include "firmware/index.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "image/firmware.h"
#include "util/hex.h"

static const char *string_field(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static bool is_hex40(const char *s)
{
	if (strlen(s) != 40)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* One array element into e: 1, or 0 when it is not a file entry (a
 * folder, a symlink), or an error. */
static int entry(json_object *o, const char *source, struct rp_index_entry *e, struct rp_diag *d)
{
	const char *name = string_field(o, "name"), *url = string_field(o, "download_url");
	const char *sha = string_field(o, "sha"), *type = string_field(o, "type");
	json_object *size;

	memset(e, 0, sizeof(*e));
	e->size = -1;
	if (!name || (type && strcmp(type, "file")) || strlen(name) >= sizeof(e->name))
		return 0;
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (url) {
		if (strlen(url) >= sizeof(e->url))
			return rp_diag_set(d, RP_ERR_FORMAT, "%s: download_url of %s is too long",
					   source, name);
		snprintf(e->url, sizeof(e->url), "%s", url);
	}
	if (json_object_object_get_ex(o, "size", &size) && json_object_is_type(size, json_type_int))
		e->size = json_object_get_int64(size);
	if (sha && is_hex40(sha))
		snprintf(e->git_sha, sizeof(e->git_sha), "%s", sha);
	return 1;
}

int rp_index_choose(const char *json, size_t len, const char *source,
		    struct rp_index_choice *out, struct rp_diag *d)
{
	json_tokener *tok = json_tokener_new();
	json_object *root;
	bool have_image = false, have_recovery = false;
	int r = RP_OK;

	memset(out, 0, sizeof(*out));
	if (!tok)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	root = len <= (size_t)INT32_MAX ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
	json_tokener_free(tok);
	if (!root || !json_object_is_type(root, json_type_array)) {
		json_object_put(root);
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: not a file list (expected a JSON array of {\"name\": ...})", source);
	}
	for (size_t i = 0; r == RP_OK && i < json_object_array_length(root); i++) {
		struct rp_index_entry e;
		int ok = entry(json_object_array_get_idx(root, i), source, &e, d);
		if (ok < 0)
			r = ok;
		else if (ok && !strcmp(e.name, "recovery.bin")) {
			out->recovery = e;
			have_recovery = true;
		} else if (ok && rp_firmware_image_date(e.name, e.date) &&
			   strcmp(e.name + strlen(e.name) - 3, ".gz") &&
			   (!have_image || strcmp(e.date, out->image.date) > 0)) {
			out->image = e;
			have_image = true;
		}
	}
	json_object_put(root);
	if (r == RP_OK && (!have_image || !have_recovery))
		r = rp_diag_set(d, RP_ERR_NOT_FOUND, "%s lists no %s", source,
				have_image ? "recovery.bin" : "pieeprom-YYYY-MM-DD.bin");
	return r;
}

bool rp_index_git_sha_matches(const uint8_t *data, size_t len, const char *sha)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char header[32], hex[41];
	int n = snprintf(header, sizeof(header), "blob %zu", len);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) &&
		  EVP_DigestUpdate(c, header, (size_t)n + 1) && EVP_DigestUpdate(c, data, len) &&
		  EVP_DigestFinal_ex(c, md, &md_len) && md_len == 20;

	EVP_MD_CTX_free(c);
	if (!ok)
		return false;
	rp_hex_encode(md, 20, hex);
	return !strcmp(hex, sha);
}
