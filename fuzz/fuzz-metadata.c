/* The metadata a board reports, as records and rpiboot-style JSON files
 * show it: arbitrary keys and values (FACTORY_UUID's C40 decoding
 * included) turned into a JSON object and back to text. */
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "records/metadata_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_board_record r;
	struct json_object *o;
	size_t at = 0;

	memset(&r, 0, sizeof(r));
	/* Entries separated by '\n', key and value by the first '='. */
	while (at < size && r.n_meta < RP_META_MAX) {
		const uint8_t *line = data + at, *nl = memchr(line, '\n', size - at);
		size_t len = nl ? (size_t)(nl - line) : size - at;
		const uint8_t *eq = memchr(line, '=', len);
		size_t klen = eq ? (size_t)(eq - line) : len;
		size_t vlen = eq ? len - klen - 1 : 0;
		struct rp_metadata_entry *e = &r.meta[r.n_meta++];

		if (klen >= sizeof(e->key))
			klen = sizeof(e->key) - 1;
		if (vlen >= sizeof(e->value))
			vlen = sizeof(e->value) - 1;
		memcpy(e->key, line, klen);
		if (eq)
			memcpy(e->value, eq + 1, vlen);
		at += len + 1;
	}
	o = rp_metadata_json_object(&r);
	if (o && !json_object_to_json_string(o))
		__builtin_trap();
	json_object_put(o);
	return 0;
}
