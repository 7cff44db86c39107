/* Hexadecimal digits of untrusted text (signatures, hashes, BOOT_ORDER,
 * device-reported values) and of digests we print. */
#ifndef RP_UTIL_HEX_H
#define RP_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit (either case), or -1 when c is not one. */
static inline int rp_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lower-case hex of n bytes into out, which must hold 2 * n + 1 chars. */
static inline void rp_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

#endif
