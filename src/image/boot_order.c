#include "image/boot_order.h"
#include "util/hex.h"

#include <stdio.h>
#include <string.h>

struct boot_mode {
	unsigned digit;
	const char *words;
};

/* From the bootloader documentation's BOOT_ORDER table. */
static const struct boot_mode boot_modes[] = {
	{ 0x0, "SD card (then wait for card detect)" },
	{ 0x1, "SD card/eMMC" },
	{ 0x2, "network boot" },
	{ 0x3, "USB device boot (rpiboot)" },
	{ 0x4, "USB mass storage" },
	{ 0x5, "USB 2.0 mass storage (BCM controller)" },
	{ 0x6, "NVMe" },
	{ 0x7, "HTTP boot" },
	{ 0xe, "stop" },
	{ 0xf, "restart" },
};

static const struct boot_mode *mode_of(unsigned digit)
{
	for (size_t i = 0; i < sizeof(boot_modes) / sizeof(boot_modes[0]); i++)
		if (boot_modes[i].digit == digit)
			return &boot_modes[i];
	return NULL;
}


int rp_boot_order_parse(const char *text, size_t len, struct rp_boot_order *out,
			struct rp_diag *d)
{
	char shown[40];
	size_t n = len;

	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r'))
		n--;
	/* The value is untrusted text: show it printable and short. */
	size_t k = 0;
	for (; k < n && k < 24; k++)
		shown[k] = (text[k] >= 0x20 && text[k] < 0x7f) ? text[k] : '?';
	snprintf(shown + k, sizeof(shown) - k, "%s", n > 24 ? "..." : "");
	if (n < 2 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "BOOT_ORDER=%s: must be hexadecimal with a 0x prefix, e.g. 0xf21", shown);
	const char *digits = text + 2;
	size_t nd = n - 2;
	if (nd == 0)
		return rp_diag_set(d, RP_ERR_FORMAT, "BOOT_ORDER=%s: no digits after 0x", shown);
	for (size_t i = 0; i < nd; i++)
		if (rp_hex_digit(digits[i]) < 0)
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "BOOT_ORDER=%s: '%c' is not a hexadecimal digit", shown,
					   digits[i] >= 0x20 && digits[i] < 0x7f ? digits[i] : '?');
	if (nd > 8)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "BOOT_ORDER=%s: %zu digits, at most 8 boot modes fit in 32 bits", shown, nd);
	uint32_t v = 0;
	for (size_t i = 0; i < nd; i++)
		v = (v << 4) | (uint32_t)rp_hex_digit(digits[i]);
	for (size_t pos = 1; pos <= nd; pos++) {
		char c = digits[nd - pos];
		if (!mode_of((unsigned)rp_hex_digit(c)))
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "BOOT_ORDER=%s: digit %zu from the right is '%c', which is not a boot mode (valid: 0-7, e, f)",
					   shown, pos, c);
	}
	out->value = v;
	out->ndigits = (unsigned)nd;
	return RP_OK;
}

size_t rp_boot_order_describe(const struct rp_boot_order *o, char *buf, size_t size)
{
	size_t used = 0;
	if (size)
		buf[0] = '\0';
	for (unsigned i = 0; i < o->ndigits && i < 8; i++) {
		const struct boot_mode *m = mode_of((o->value >> (4 * i)) & 0xfu);
		int n = snprintf(buf + used, used < size ? size - used : 0, "%s%s", i ? ", then " : "",
				 m ? m->words : "?");
		if (n < 0)
			break;
		used += (size_t)n;
		if (used >= size)
			used = size ? size - 1 : 0;
	}
	return used;
}
