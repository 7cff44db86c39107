/* The spool's record decoder (record_codec.h): a body read back from the
 * spool file, which a damaged disk or an edit may have made anything.
 * What decodes must encode, made valid UTF-8 (record_text.h), and decode
 * again to the same text: the spool's round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/record_codec.h"
#include "records/record_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_board_record r, again;
	struct rp_diag d;
	char *text, *text2;

	rp_diag_clear(&d);
	if (rp_record_decode((const char *)data, size, &r, &d) < 0) {
		if (!d.msg[0]) /* every refusal says why */
			__builtin_trap();
		return 0;
	}
	rp_record_make_utf8(&r);
	text = rp_record_encode(&r);
	if (!text)
		return 0;
	rp_diag_clear(&d);
	if (rp_record_decode(text, strlen(text), &again, &d) < 0)
		__builtin_trap(); /* what was encoded must decode */
	text2 = rp_record_encode(&again);
	if (text2 && strcmp(text, text2))
		__builtin_trap();
	free(text);
	free(text2);
	return 0;
}
