/* The libusb device source: hotplug-driven arrivals of Raspberry Pi boot
 * ROMs and second stages. The only part of rpiprov that includes libusb.h
 * is behind this header. */
#ifndef RP_USB_USB_SOURCE_H
#define RP_USB_USB_SOURCE_H

#include "transport/source.h"

struct rp_usb_source_options {
	/* Report devices already on the bus at start as arrivals. */
	int enumerate_existing;
	/* Bulk chunk size in bytes (0: backend default). */
	size_t bulk_chunk;
};

/* Create a source; fails with a clear message when libusb cannot start
 * (no usbfs, no permission). */
int rp_usb_source_new(const struct rp_usb_source_options *opts, struct rp_source **out,
		      struct rp_diag *d);

#endif
