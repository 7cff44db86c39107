#include "usb_payload.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int usb_payload_init(struct usb_payload *pl)
{
	static const char config[] = "uart_2ndstage=0\n";
	unsigned char md[32];
	unsigned int n = 0;
	char hex[65];
	uint32_t x = 0x2711;
	struct rp_diag d;

	memset(pl, 0, sizeof(*pl));
	pl->image = malloc(USB_PAYLOAD_IMAGE_SIZE);
	pl->second = malloc(USB_PAYLOAD_SECOND_STAGE_SIZE);
	if (!pl->image || !pl->second)
		return -1;
	for (size_t i = 0; i < USB_PAYLOAD_IMAGE_SIZE; i++) {
		x = x * 1664525u + 1013904223u;
		pl->image[i] = (uint8_t)(x >> 24);
	}
	for (size_t i = 0; i < USB_PAYLOAD_SECOND_STAGE_SIZE; i++)
		pl->second[i] = (uint8_t)(i * 13 + 1);
	/* The .sig's update timestamp where recovery.bin writes it (F20: the
	 * last 8 bytes, ~ts then ts, little endian), as a host serves it. */
	for (unsigned i = 0; i < 4; i++) {
		pl->image[USB_PAYLOAD_IMAGE_SIZE - 8 + i] = (uint8_t)(~1700000000u >> (8 * i));
		pl->image[USB_PAYLOAD_IMAGE_SIZE - 4 + i] = (uint8_t)(1700000000u >> (8 * i));
	}
	EVP_Digest(pl->image, USB_PAYLOAD_IMAGE_SIZE, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(pl->sig, sizeof(pl->sig), "%s\nts: 1700000000\n", hex);
	if (rp_payload_new(NULL, &pl->p, &d) != RP_OK ||
	    rp_payload_add(pl->p, "bootcode4.bin", pl->second, USB_PAYLOAD_SECOND_STAGE_SIZE, &d) !=
		    RP_OK ||
	    rp_payload_add(pl->p, "pieeprom.bin", pl->image, USB_PAYLOAD_IMAGE_SIZE, &d) != RP_OK ||
	    rp_payload_add(pl->p, "pieeprom.sig", pl->sig, strlen(pl->sig), &d) != RP_OK ||
	    rp_payload_add(pl->p, "config.txt", config, strlen(config), &d) != RP_OK) {
		fprintf(stderr, "payload: %s\n", rp_diag_message(&d));
		return -1;
	}
	return 0;
}

void usb_payload_free(struct usb_payload *pl)
{
	rp_payload_free(pl->p);
	free(pl->image);
	free(pl->second);
}
