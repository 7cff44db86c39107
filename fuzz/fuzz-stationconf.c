/* station.conf (INI through inih) on arbitrary text, then the cross-key
 * checks on whatever was accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "station/station_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_station_config c;
	struct rp_diag d;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rp_station_config_init(&c);
	if (rp_station_config_load_string(&c, "fuzz.conf", text, &d) == RP_OK)
		rp_station_config_check(&c, &d);
	rp_station_config_free(&c);
	free(text);
	return 0;
}
