/* Image parser and editor on arbitrary bytes. Inputs rarely have one of
 * the two valid sizes, so the bytes are also laid over an erased 512 KiB
 * (or, when the first byte is odd, 2 MiB) image: small seeds then reach the
 * section walker, file lookup and the replace logic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/eeprom_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const uint8_t *buf, size_t len, const uint8_t *payload, size_t plen)
{
	static const char *const names[] = { "bootconf.txt", "bootconf.sig", "pubkey.bin",
					     "updatetime", "bootsys" };
	struct rp_eeprom img;
	struct rp_diag d;

	if (rp_eeprom_parse(&img, buf, len, "fuzz", &d) != RP_OK)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const uint8_t *f;
		size_t flen;
		if (rp_eeprom_get_file(&img, names[i], &f, &flen, NULL) == RP_OK && flen) {
			volatile uint8_t sink = f[0] ^ f[flen - 1];
			(void)sink;
		}
	}
	rp_eeprom_replace_file(&img, "bootconf.txt", payload, plen, NULL);
	rp_eeprom_replace_file(&img, "bootconf.sig", payload, plen / 2, NULL);
	/* Rewriting a file with its own bytes (aliasing the image). */
	const uint8_t *cur;
	size_t clen;
	if (rp_eeprom_get_file(&img, "pubkey.bin", &cur, &clen, NULL) == RP_OK)
		rp_eeprom_replace_file(&img, "pubkey.bin", cur, clen, NULL);
	rp_eeprom_replace_bootcode(&img, payload, plen, NULL);
	rp_eeprom_set_timestamp(&img, (uint32_t)plen * 2654435761u, NULL);
	uint32_t ts;
	bool set;
	rp_eeprom_get_timestamp(&img, &ts, &set);
	rp_eeprom_build_timestamp(&img);
	rp_eeprom_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t big = (size && (data[0] & 1)) ? 2u << 20 : 512u << 10;
	uint8_t *img = malloc(big);
	size_t body = size > 1 ? size - 1 : 0;
	const uint8_t *payload = data + (size ? 1 : 0);

	exercise(data, size, payload, body > 300 ? 300 : body);
	if (!img)
		return 0;
	memset(img, 0xff, big);
	memcpy(img, payload, body < big ? body : big);
	exercise(img, big, payload + body / 2, body - body / 2 > 5000 ? 5000 : body - body / 2);
	free(img);
	return 0;
}
