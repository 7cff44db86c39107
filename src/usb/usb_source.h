/* The libusb device source: hotplug-driven arrivals of Raspberry Pi boot
 * ROMs and second stages. The only part of rpiprov that includes libusb.h
 * is behind this header.
 *
 * Events: ARRIVED carries bus, address, port path ("BUS-P1.P2..."),
 * VID:PID, stage (from iSerialNumber), interface count and, for a second
 * stage, the serial string (read at arrival with a short timeout; reduced
 * to file-name-safe ASCII). A board that re-enumerates after stage 1
 * arrives again with the same port_path and a new address and id. LEFT
 * carries the info of the matching ARRIVED.
 *
 * Threads: the source runs one event thread (libusb event handling plus
 * hotplug processing, or list polling where libusb has no hotplug).
 * next_event is for one consumer thread; open may be called from any
 * thread; wakeup is async-signal-safe. Every transport opened from the
 * source must be closed before rp_source destroy. */
#ifndef RP_USB_USB_SOURCE_H
#define RP_USB_USB_SOURCE_H

#include "transport/source.h"

struct rp_usb_source_options {
	/* Report devices already on the bus at start as arrivals; they are
	 * all queued by the time rp_usb_source_new returns, so a caller can
	 * drain them with next_event(timeout 0) (this is what `list` does). */
	int enumerate_existing;
	/* Bulk chunk size in bytes (0: backend default, 128 KiB; see
	 * usb_transport.c for why). */
	size_t bulk_chunk;
	/* Diff the device list every poll_interval_ms even where libusb has
	 * hotplug (tests use it to cover the fallback). */
	int force_polling;
	/* Polling fallback interval (0: 100 ms). */
	unsigned poll_interval_ms;
	/* Read the serial string of boot ROMs too (F2, F3: 8 hex digits on
	 * BCM2711/2712), which opens them; for --serial and `list`. Second
	 * stages are always read. */
	int read_rom_serials;
};

/* Create a source; fails with a clear message when libusb cannot start
 * (no usbfs, no permission) or the machine has no USB at all
 * (RP_ERR_UNSUPPORTED). */
int rp_usb_source_new(const struct rp_usb_source_options *opts, struct rp_source **out,
		      struct rp_diag *d);

/* Whether the source gets hotplug events from libusb (false: it polls).
 * Where hotplug cannot be had the source polls by itself; with hotplug it
 * still compares the device list every second. */
int rp_usb_source_has_hotplug(const struct rp_source *s);
/* How devices are watched, in words, for -v. */
const char *rp_usb_source_watch_mode(const struct rp_source *s);

#endif
