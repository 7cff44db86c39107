#include "records/record_text.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (0: not one): no overlong
 * forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		unsigned char lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		unsigned char lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4 : 0;
	}
	return 0;
}

bool rp_text_make_utf8(char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char out[4096];
	size_t n = 0, i = 0, len;
	bool changed = false;

	if (!cap)
		return false;
	len = strnlen(s, cap);
	if (len == cap) { /* not terminated: the last byte goes */
		s[--len] = '\0';
		changed = true;
	}
	while (i < len) {
		size_t k = utf8_len((const unsigned char *)s + i);
		if (k && i + k > len) /* a sequence cut by the terminator */
			k = 0;
		if (k) {
			if (n + k >= cap || n + k >= sizeof(out))
				break;
			memcpy(out + n, s + i, k);
			n += k;
			i += k;
			continue;
		}
		changed = true;
		if (n + 4 >= cap || n + 4 >= sizeof(out))
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[(unsigned char)s[i] >> 4];
		out[n++] = hex[(unsigned char)s[i] & 15];
		i++;
	}
	if (!changed)
		return false;
	memcpy(s, out, n);
	s[n] = '\0';
	return true;
}

#define FIX(f) rp_text_make_utf8((f), sizeof(f))

void rp_record_make_utf8(struct rp_board_record *r)
{
	FIX(r->port_path);
	FIX(r->serial);
	FIX(r->soc);
	FIX(r->error);
	FIX(r->served_sha256);
	FIX(r->reported_hash);
	FIX(r->hash_matched);
	FIX(r->first_refused);
	for (unsigned i = 0; i < RP_META_MAX; i++) {
		FIX(r->meta[i].key);
		FIX(r->meta[i].value);
	}
}
