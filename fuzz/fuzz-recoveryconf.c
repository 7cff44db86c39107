/* recovery.bin's config.txt as the OTP guard reads it: arbitrary bytes,
 * with and without permission for OTP-writing options. A text the guard
 * passes without permission must not name an OTP option at all. */
#include <stdint.h>
#include <string.h>

#include "image/recovery_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_diag d;
	int strict = rp_recovery_config_check(data, size, "fuzz config.txt", false, &d);
	int lax = rp_recovery_config_check(data, size, "fuzz config.txt", true, &d);

	/* Permission can only let more through, never less. */
	if (strict == RP_OK && lax != RP_OK)
		__builtin_trap();
	return 0;
}
