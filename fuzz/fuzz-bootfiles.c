/* usbboot's bootfiles.bin (a tar archive) on arbitrary bytes: every entry
 * indexed must lie inside the archive and be found again by its path. */
#include <stdint.h>
#include <string.h>

#include "session/bootfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_bootfiles *b;
	struct rp_diag d;

	if (rp_bootfiles_parse(data, size, "fuzz.bin", &b, &d) != RP_OK)
		return 0;
	for (size_t i = 0; i < rp_bootfiles_count(b); i++) {
		const uint8_t *e, *found;
		size_t len, found_len;
		const char *p = rp_bootfiles_entry(b, i, &e, &len);
		volatile uint8_t sink = 0;

		if (!p || rp_bootfiles_find(b, NULL, p, &found, &found_len) != RP_OK)
			__builtin_trap();
		for (size_t j = 0; j < len; j++)
			sink ^= e[j]; /* ASan catches a read outside the archive */
		(void)sink;
	}
	rp_bootfiles_free(b);
	return 0;
}
