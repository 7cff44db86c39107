/* boot.conf checker and editor on arbitrary text. The first line (if any)
 * is used as a --set argument, the second as an --unset key, so edits see
 * odd keys and values too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/boot_order.h"
#include "image/bootconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *take_line(const uint8_t **p, size_t *left)
{
	const uint8_t *nl = memchr(*p, '\n', *left);
	size_t n = nl ? (size_t)(nl - *p) : *left;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	*left -= nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char warn[512] = "";
	struct rp_diag d;
	const uint8_t *p = data;
	size_t left = size, vlen;

	rp_bootconf_validate(data, size, "fuzz", false, warn, sizeof(warn), &d);
	rp_bootconf_validate(data, size, "fuzz", true, NULL, 0, &d);
	const char *v = rp_bootconf_get(data, size, "BOOT_ORDER", &vlen);
	if (v) {
		struct rp_boot_order bo;
		char words[128];
		if (rp_boot_order_parse(v, vlen, &bo, &d) == RP_OK)
			rp_boot_order_describe(&bo, words, sizeof(words));
	}

	char *set = take_line(&p, &left);
	char *unset = take_line(&p, &left);
	if (set && unset) {
		const char *sets[] = { set, "BOOT_ORDER=0xf21" };
		const char *unsets[] = { unset, "BOOT_UART" };
		uint8_t *out = NULL;
		size_t out_len;
		if (rp_bootconf_edit(p, left, sets, 2, unsets, 2, &out, &out_len, warn, sizeof(warn),
				     &d) == RP_OK) {
			rp_bootconf_validate(out, out_len, "edited", false, warn, sizeof(warn), &d);
			free(out);
		}
		rp_bootconf_edit(p, left, sets + 1, 1, NULL, 0, &out, &out_len, NULL, 0, &d);
		free(out);
	}
	free(set);
	free(unset);
	return 0;
}
