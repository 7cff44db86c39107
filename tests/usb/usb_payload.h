/* A synthetic rpiboot payload of realistic size for the USB tests and
 * benchmark: a 512 KiB "pieeprom.bin" with its .sig, a 100140-byte
 * second stage (the size of the real recovery.bin) and a config.txt. The
 * device model only hashes and stores them, so any bytes do. */
#ifndef RP_TESTS_USB_PAYLOAD_H
#define RP_TESTS_USB_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "session/payload.h"

#define USB_PAYLOAD_IMAGE_SIZE (512u * 1024u)
#define USB_PAYLOAD_SECOND_STAGE_SIZE 100140u

struct usb_payload {
	uint8_t *image, *second;
	char sig[128];
	struct rp_payload *p;
};

int usb_payload_init(struct usb_payload *pl);
void usb_payload_free(struct usb_payload *pl);

#endif
