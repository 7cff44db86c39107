/* The .sig parser on arbitrary bytes, and verification of the parsed
 * result against the input itself. */
#include <stdint.h>
#include <string.h>

#include "image/sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_sig sig;
	struct rp_diag d;

	if (rp_sig_parse(data, size, "fuzz.sig", &sig, &d) == RP_OK) {
		if (strlen(sig.sha256) != 64)
			__builtin_trap();
		rp_sig_verify(data, size, "fuzz", &sig, NULL, &d);
	}
	return 0;
}
