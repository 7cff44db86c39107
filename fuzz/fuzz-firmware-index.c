/* The channel listing `rpiprov firmware fetch` downloads (the GitHub
 * contents API's JSON, or a mirror's index.json): arbitrary bytes from the
 * network. What it chooses must be a file name the cache can take as it
 * is: never a path, never anything but recovery.bin and a dated image. */
#include <stdint.h>
#include <string.h>

#include "firmware/index.h"
#include "image/firmware.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_index_choice c;
	struct rp_diag d;
	char date[11];

	if (rp_index_choose((const char *)data, size, "fuzz index.json", &c, &d) != RP_OK)
		return 0;
	if (strcmp(c.recovery.name, "recovery.bin") || strchr(c.image.name, '/') ||
	    !rp_firmware_image_date(c.image.name, date) || strcmp(date, c.image.date))
		__builtin_trap();
	return 0;
}
