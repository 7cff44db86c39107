/* One opened board behind libusb: the transport vtable over a claimed
 * interface. Used by one worker thread at a time. */
#include "usb/usb_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include "transport/devices.h"
#include "util/clock.h"

/* Bytes per libusb bulk transfer (one URB on a host controller with
 * scatter-gather, i.e. every xHCI/EHCI host of the last decade).
 * - Each call is a submit/reap round trip with a gap on the bus before
 *   the next one, so bigger is better: a 512 KiB image is 4 calls,
 *   recovery.bin (~100 KB) 1.
 * - usbfs caps the memory of URBs in flight for the whole system
 *   (usbcore.usbfs_memory_mb, 16 MiB by default). A 64-board tray at
 *   128 KiB holds 8 MiB; at 1 MiB (another host's choice) it would need
 *   64 MiB and boards would fail with ENOMEM.
 * - A chunk has to fit in one transfer timeout even on a full-speed link
 *   (~1 MB/s): 128 KiB is ~0.13 s there.
 * Without scatter-gather libusb splits each call into 16 KiB URBs
 * submitted together, so the chunk then bounds memory, not throughput.
 * On ENOMEM anyway (a bigger tray, a smaller usbfs limit) the chunk is
 * halved down to MIN_CHUNK before the transfer is given up. */
#define DEFAULT_CHUNK (128u * 1024u)
#define MIN_CHUNK (16u * 1024u)

#define REQTYPE_VENDOR_OUT (LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE)
#define REQTYPE_VENDOR_IN (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE)

struct usb_transport {
	struct rp_transport base;
	libusb_device_handle *handle;
	uint8_t iface;
	uint8_t out_ep;
	size_t chunk;
	struct rp_usb_close_hook on_close;
};

static struct usb_transport *to_usb(struct rp_transport *t)
{
	return (struct usb_transport *)t;
}

/* libusb treats 0 as "no timeout": never pass it by accident. */
static unsigned nonzero_timeout(unsigned ms)
{
	return ms ? ms : 1;
}

static int usb_control_out(struct rp_transport *t, uint8_t request, uint16_t value,
			   uint16_t index, const void *data, size_t len, unsigned timeout_ms)
{
	struct usb_transport *u = to_usb(t);
	int r;

	if (len > UINT16_MAX)
		return RP_ERR_INVALID_ARG;
	/* libusb takes a non-const buffer for both directions; OUT data is only read. */
	r = libusb_control_transfer(u->handle, REQTYPE_VENDOR_OUT, request, value, index,
				    (unsigned char *)(uintptr_t)data, (uint16_t)len,
				    nonzero_timeout(timeout_ms));
	if (r < 0)
		return rp_usb_error(r);
	return (size_t)r == len ? RP_OK : RP_ERR_SHORT;
}

static int usb_control_in(struct rp_transport *t, uint8_t request, uint16_t value,
			  uint16_t index, void *data, size_t len, size_t *actual,
			  unsigned timeout_ms)
{
	struct usb_transport *u = to_usb(t);
	int r;

	*actual = 0;
	if (len > UINT16_MAX)
		return RP_ERR_INVALID_ARG;
	r = libusb_control_transfer(u->handle, REQTYPE_VENDOR_IN, request, value, index, data,
				    (uint16_t)len, nonzero_timeout(timeout_ms));
	if (r < 0)
		return rp_usb_error(r);
	*actual = (size_t)r;
	return RP_OK;
}

/* timeout_ms bounds the whole call, however many chunks it takes. */
static int usb_bulk_out(struct rp_transport *t, const void *data, size_t len, size_t *actual,
			unsigned timeout_ms)
{
	struct usb_transport *u = to_usb(t);
	const unsigned char *p = data;
	uint64_t deadline = rp_now_ms() + nonzero_timeout(timeout_ms);
	size_t sent = 0;

	*actual = 0;
	while (sent < len) {
		size_t n = len - sent < u->chunk ? len - sent : u->chunk;
		uint64_t now = rp_now_ms();
		int done = 0, r;

		if (now >= deadline)
			return RP_ERR_TIMEOUT;
		r = libusb_bulk_transfer(u->handle, u->out_ep, (unsigned char *)(uintptr_t)(p + sent),
					 (int)n, &done, (unsigned)(deadline - now));
		if (done > 0)
			sent += (size_t)done;
		*actual = sent;
		if (r == LIBUSB_ERROR_NO_MEM && done == 0 && u->chunk > MIN_CHUNK) {
			u->chunk /= 2;
			continue;
		}
		if (r < 0)
			return rp_usb_error(r);
		if ((size_t)done < n)
			return RP_ERR_SHORT;
	}
	return RP_OK;
}

static void usb_close(struct rp_transport *t)
{
	struct usb_transport *u = to_usb(t);

	/* Errors are expected here (the board may have left): nothing to do about them. */
	libusb_release_interface(u->handle, u->iface);
	libusb_close(u->handle);
	if (u->on_close.own_ctx)
		libusb_exit(u->on_close.own_ctx);
	if (u->on_close.fn)
		u->on_close.fn(u->on_close.ctx);
	free(u);
}

static const struct rp_transport_ops usb_transport_ops = {
	.control_out = usb_control_out,
	.control_in = usb_control_in,
	.bulk_out = usb_bulk_out,
	.close = usb_close,
};

/* The configuration comes from the device: check the endpoint the table
 * promises is really there before trusting it. */
static int check_endpoint(libusb_device *dev, const struct rp_device_info *info,
			  struct rp_endpoint_choice ep, struct rp_diag *d)
{
	struct libusb_config_descriptor *cfg = NULL;
	char board[160];
	bool found = false;
	int r;

	r = libusb_get_active_config_descriptor(dev, &cfg);
	if (r < 0)
		return rp_usb_diag(d, r, info, "reading the configuration of");
	if (ep.interface < cfg->bNumInterfaces && cfg->interface[ep.interface].num_altsetting > 0) {
		const struct libusb_interface_descriptor *alt = &cfg->interface[ep.interface].altsetting[0];
		for (uint8_t i = 0; i < alt->bNumEndpoints; i++)
			if (alt->endpoint[i].bEndpointAddress == ep.out_ep &&
			    (alt->endpoint[i].bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) ==
				    LIBUSB_TRANSFER_TYPE_BULK)
				found = true;
	}
	libusb_free_config_descriptor(cfg);
	if (found)
		return RP_OK;
	rp_usb_describe(info, board, sizeof(board));
	return rp_diag_set(d, RP_ERR_PROTOCOL,
			   "%s: interface %u has no bulk OUT endpoint 0x%02x (the device reports %u "
			   "interface(s)); not a Raspberry Pi boot device?",
			   board, ep.interface, ep.out_ep, info->num_interfaces);
}

int rp_usb_transport_open(libusb_device *dev, const struct rp_device_info *info,
			  size_t bulk_chunk, const struct rp_usb_close_hook *on_close,
			  struct rp_transport **out, struct rp_diag *d)
{
	struct rp_endpoint_choice ep = rp_device_endpoints(info->num_interfaces);
	libusb_device_handle *h = NULL;
	struct usb_transport *u;
	int r;

	*out = NULL;
	r = check_endpoint(dev, info, ep, d);
	if (r < 0)
		return r;
	r = libusb_open(dev, &h);
	if (r < 0)
		return rp_usb_diag(d, r, info, "cannot open");
	/* A board in mass-storage mode (2837) or a generic driver may hold the
	 * interface; usbfs can take it over. Not available on every OS. */
	r = libusb_kernel_driver_active(h, ep.interface);
	if (r == 1) {
		r = libusb_detach_kernel_driver(h, ep.interface);
		if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND) {
			libusb_close(h);
			return rp_usb_diag(d, r, info, "cannot detach the kernel driver from");
		}
	} else if (r == LIBUSB_ERROR_NO_DEVICE) {
		libusb_close(h);
		return rp_usb_diag(d, r, info, "cannot query the kernel driver of");
	}
	/* Any other failure to ask only means we do not know: claiming is
	 * the real test, and fails with BUSY (named below) if a driver holds
	 * the interface. Giving up here failed boards whose query hit a
	 * transient usbfs error. */
	r = libusb_claim_interface(h, ep.interface);
	if (r < 0) {
		libusb_close(h);
		return rp_usb_diag(d, r, info, "cannot claim the interface of");
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		libusb_release_interface(h, ep.interface);
		libusb_close(h);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory opening a USB board");
	}
	u->base.ops = &usb_transport_ops;
	u->base.info = *info;
	u->handle = h;
	u->iface = ep.interface;
	u->out_ep = ep.out_ep;
	u->chunk = bulk_chunk ? bulk_chunk : DEFAULT_CHUNK;
	if (on_close)
		u->on_close = *on_close;
	if (u->chunk > INT32_MAX)
		u->chunk = DEFAULT_CHUNK;
	*out = &u->base;
	return RP_OK;
}
