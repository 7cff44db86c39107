#include "records/factory_uuid.h"
#include "util/hex.h"

#include <stdint.h>
#include <string.h>

/* C40 digits as the boot ROM packs them: 4..13 are '0'..'9', 14..39 are
 * 'A'..'Z'; 0..3 are shift codes a UUID never contains. */
static char c40_char(int v)
{
	if (v >= 4 && v <= 13)
		return (char)('0' + v - 4);
	if (v >= 14 && v <= 39)
		return (char)('A' + v - 14);
	return '\0';
}


/* One 16-bit group is three C40 digits: value = d0 * 1600 + d1 * 40 + d2 + 1. */
static int put_half_word(uint16_t hw, char *out, size_t out_size, size_t *n)
{
	int v, digits[3];

	if (hw == 0)
		return -1;
	v = hw - 1;
	digits[0] = v / 1600;
	digits[1] = (v % 1600) / 40;
	digits[2] = v % 40;
	for (int i = 0; i < 3; i++) {
		char c = c40_char(digits[i]);
		if (!c || *n >= RP_FACTORY_UUID_MAX || *n + 1 >= out_size)
			return -1;
		out[(*n)++] = c;
	}
	return 0;
}

int rp_factory_uuid_decode(const char *encoded, char *out, size_t out_size)
{
	const char *p = encoded;
	size_t n = 0;

	if (!out || out_size == 0)
		return -1;
	out[0] = '\0';
	if (!encoded || !*encoded)
		return -1;
	while (*p) {
		uint32_t word = 0;
		int ndigits = 0;

		while (*p && *p != '_') {
			int h = rp_hex_digit(*p++);
			if (h < 0 || ++ndigits > 8) {
				out[0] = '\0';
				return -1;
			}
			word = word << 4 | (uint32_t)h;
		}
		if (ndigits == 0) {
			out[0] = '\0';
			return -1;
		}
		if (*p == '_')
			p++;
		/* rpiboot stops at the first zero word: trailing padding. */
		if (word == 0)
			break;
		if (put_half_word((uint16_t)(word & 0xffff), out, out_size, &n) < 0 ||
		    ((word >> 16) && put_half_word((uint16_t)(word >> 16), out, out_size, &n) < 0)) {
			out[0] = '\0';
			return -1;
		}
	}
	out[n] = '\0';
	return n ? 0 : -1;
}
