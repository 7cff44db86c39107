/* Private to src/usb: the pieces of the libusb backend share these. This
 * header and the .c files beside it are the only places that see
 * libusb.h; the rest of rpiprov talks to struct rp_source and struct
 * rp_transport. */
#ifndef RP_USB_USB_INTERNAL_H
#define RP_USB_USB_INTERNAL_H

#include <libusb.h>

#include "usb/usb_source.h"

/* Reads of the serial string descriptor at arrival. A second stage
 * answers standard requests at once (the USB controller does, not the
 * firmware), so a board that takes longer is treated as having no
 * serial rather than holding up every other arrival. */
#define RP_USB_SERIAL_TIMEOUT_MS 500u

/* Map a libusb error code to the rpiprov error space. The only such
 * mapping in the code base. */
int rp_usb_error(int libusb_err);

/* Fill d with "<what> <board>: <reason>[: <fix>]" for a libusb failure
 * and return the mapped code. info may be NULL (context-wide failures). */
int rp_usb_diag(struct rp_diag *d, int libusb_err, const struct rp_device_info *info,
		const char *what);

/* "board on USB port 1-1.3 (bus 1, address 7, 0a5c:2711)" */
void rp_usb_describe(const struct rp_device_info *info, char *buf, size_t len);

/* Called once when a transport closes (the source's event thread takes
 * libusb's event handling back then: see usb_source.c). */
struct rp_usb_close_hook {
	void (*fn)(void *ctx);
	void *ctx;
	/* A context of the transport's own (a device found again by a fresh
	 * scan, see usb_source.c): exited once its handle is closed. */
	libusb_context *own_ctx;
};

/* Open an enumerated device as a transport: claim the interface the
 * device table picks for its interface count (detaching a kernel driver
 * if one is bound) and check it has the bulk OUT endpoint. on_close (may
 * be NULL) is copied; it runs only for a transport that was opened. */
int rp_usb_transport_open(libusb_device *dev, const struct rp_device_info *info,
			  size_t bulk_chunk, const struct rp_usb_close_hook *on_close,
			  struct rp_transport **out, struct rp_diag *d);

#endif
