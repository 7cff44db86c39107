/* Where boards come from: a source reports arrivals and departures of boot
 * ROM / second-stage devices and opens them into transports. Implemented by
 * the libusb backend (hotplug) and the device model (--simulate). The
 * runner calls next_event from one thread; open() may be called from any
 * thread; wakeup() from any thread or a signal-safe context makes a
 * blocked next_event return RP_ERR_INTERRUPTED. */
#ifndef RP_TRANSPORT_SOURCE_H
#define RP_TRANSPORT_SOURCE_H

#include "transport/transport.h"

enum rp_source_event_type {
	RP_SOURCE_ARRIVED = 1,
	RP_SOURCE_LEFT = 2,
};

struct rp_source_event {
	enum rp_source_event_type type;
	struct rp_device_info info; /* for LEFT: at least port_path, bus, address, id */
};

struct rp_source;

struct rp_source_ops {
	/* Wait up to timeout_ms (negative: forever) for the next event.
	 * RP_ERR_TIMEOUT when none came, RP_ERR_INTERRUPTED after wakeup(). */
	int (*next_event)(struct rp_source *s, struct rp_source_event *ev, int timeout_ms);
	/* Open the device of an ARRIVED event. RP_ERR_NO_DEVICE if it is gone,
	 * RP_ERR_ACCESS with a message naming the fix when permission is denied. */
	int (*open)(struct rp_source *s, const struct rp_device_info *info,
		    struct rp_transport **out, struct rp_diag *d);
	void (*wakeup)(struct rp_source *s);
	void (*destroy)(struct rp_source *s);
};

struct rp_source {
	const struct rp_source_ops *ops;
	const char *name; /* "usb", "sim" */
};

#endif
