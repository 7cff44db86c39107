/* What the protocol code sees instead of libusb: a small vtable over one
 * opened device (libusb backend, in-process device model, ...). All calls
 * are blocking with a timeout and return RP_OK or a negative rp_error;
 * RP_ERR_NO_DEVICE means the board left the bus. */
#ifndef RP_TRANSPORT_TRANSPORT_H
#define RP_TRANSPORT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define RP_PORT_PATH_MAX 48 /* "bus-p1.p2...p7" fits with room to spare */
#define RP_SERIAL_MAX 64

enum rp_stage {
	RP_STAGE_ROM = 0,     /* boot ROM: expects the second stage */
	RP_STAGE_SECOND = 1,  /* second stage (recovery.bin, bootcode*.bin) running: file server */
};

/* Identity of one enumeration of a board, as a device source reports it. */
struct rp_device_info {
	uint16_t vid, pid;
	uint8_t bus;
	uint8_t address;
	uint8_t serial_index;           /* iSerialNumber */
	uint8_t num_interfaces;         /* of the active configuration */
	enum rp_stage stage;
	char port_path[RP_PORT_PATH_MAX]; /* "1-1.3.2": bus, then port numbers */
	char serial[RP_SERIAL_MAX];     /* string at iSerialNumber; "" when unreadable */
	uint64_t id;                    /* unique per enumeration within a source */
};

struct rp_transport;

struct rp_transport_ops {
	/* Vendor control OUT (bmRequestType 0x40) without data stage when len == 0. */
	int (*control_out)(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			   const void *data, size_t len, unsigned timeout_ms);
	/* Vendor control IN (bmRequestType 0xC0); *actual gets the bytes received. */
	int (*control_in)(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			  void *data, size_t len, size_t *actual, unsigned timeout_ms);
	/* Bulk OUT on the board's OUT endpoint; *actual gets the bytes sent. */
	int (*bulk_out)(struct rp_transport *t, const void *data, size_t len, size_t *actual,
			unsigned timeout_ms);
	/* Release the interface, close, free t. */
	void (*close)(struct rp_transport *t);
};

struct rp_transport {
	const struct rp_transport_ops *ops;
	struct rp_device_info info;
	/* Counters for benchmarks and tests: transfers submitted and bytes moved. */
	uint64_t n_control, n_bulk, bytes_out, bytes_in;
};

static inline int rp_transport_control_out(struct rp_transport *t, uint8_t request, uint16_t value,
					   uint16_t index, const void *data, size_t len,
					   unsigned timeout_ms)
{
	t->n_control++;
	t->bytes_out += len;
	return t->ops->control_out(t, request, value, index, data, len, timeout_ms);
}

static inline int rp_transport_control_in(struct rp_transport *t, uint8_t request, uint16_t value,
					  uint16_t index, void *data, size_t len, size_t *actual,
					  unsigned timeout_ms)
{
	int r;
	t->n_control++;
	r = t->ops->control_in(t, request, value, index, data, len, actual, timeout_ms);
	if (r == RP_OK)
		t->bytes_in += *actual;
	return r;
}

static inline int rp_transport_bulk_out(struct rp_transport *t, const void *data, size_t len,
					size_t *actual, unsigned timeout_ms)
{
	int r;
	t->n_bulk++;
	r = t->ops->bulk_out(t, data, len, actual, timeout_ms);
	if (r == RP_OK || r == RP_ERR_SHORT)
		t->bytes_out += *actual;
	return r;
}

static inline void rp_transport_close(struct rp_transport *t)
{
	if (t)
		t->ops->close(t);
}

#endif
