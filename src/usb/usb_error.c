/* libusb error codes -> rp_error, with the sentence the user sees. Kept in
 * one table so every libusb call site reports the same way. */
#include "usb/usb_internal.h"

#include <stdio.h>

struct usb_error_entry {
	int libusb_err;
	int rp_err;
	const char *reason;
	const char *fix; /* NULL when there is nothing the user can do */
};

static const struct usb_error_entry usb_errors[] = {
	{ LIBUSB_ERROR_IO, RP_ERR_USB, "USB input/output error", NULL },
	{ LIBUSB_ERROR_INVALID_PARAM, RP_ERR_INVALID_ARG, "invalid parameter passed to libusb", NULL },
	{ LIBUSB_ERROR_ACCESS, RP_ERR_ACCESS, "permission denied",
	  "install 60-rpiprov.rules ('meson install' does; by hand: copy the build's "
	  "udev/60-rpiprov.rules into /etc/udev/rules.d/ and run "
	  "'udevadm control --reload && udevadm trigger'), add your "
	  "user to the plugdev group ('sudo usermod -aG plugdev $USER', then log in again), and "
	  "replug the board; or run rpiprov as root" },
	{ LIBUSB_ERROR_NO_DEVICE, RP_ERR_NO_DEVICE, "board left the bus", NULL },
	{ LIBUSB_ERROR_NOT_FOUND, RP_ERR_USB, "interface or endpoint not found on the device", NULL },
	{ LIBUSB_ERROR_BUSY, RP_ERR_BUSY, "device or interface busy",
	  "another program (rpiboot, another rpiprov) is using this board: stop it" },
	{ LIBUSB_ERROR_TIMEOUT, RP_ERR_TIMEOUT, "USB transfer timed out", NULL },
	{ LIBUSB_ERROR_OVERFLOW, RP_ERR_OVERFLOW, "device sent more data than requested", NULL },
	{ LIBUSB_ERROR_PIPE, RP_ERR_PIPE, "endpoint stalled", NULL },
	{ LIBUSB_ERROR_INTERRUPTED, RP_ERR_INTERRUPTED, "interrupted", NULL },
	{ LIBUSB_ERROR_NO_MEM, RP_ERR_NOMEM, "out of memory for USB transfers",
	  "if many boards run at once, raise /sys/module/usbcore/parameters/usbfs_memory_mb" },
	{ LIBUSB_ERROR_NOT_SUPPORTED, RP_ERR_UNSUPPORTED, "operation not supported by this USB stack",
	  NULL },
	{ LIBUSB_ERROR_OTHER, RP_ERR_USB, "USB error", NULL },
};

static const struct usb_error_entry *usb_error_lookup(int libusb_err)
{
	for (size_t i = 0; i < sizeof(usb_errors) / sizeof(usb_errors[0]); i++)
		if (usb_errors[i].libusb_err == libusb_err)
			return &usb_errors[i];
	return &usb_errors[sizeof(usb_errors) / sizeof(usb_errors[0]) - 1]; /* OTHER */
}

int rp_usb_error(int libusb_err)
{
	if (libusb_err >= 0)
		return RP_OK;
	return usb_error_lookup(libusb_err)->rp_err;
}

void rp_usb_describe(const struct rp_device_info *info, char *buf, size_t len)
{
	snprintf(buf, len, "board on USB port %s (bus %u, address %u, /dev/bus/usb/%03u/%03u, %04x:%04x)",
		 info->port_path[0] ? info->port_path : "?", info->bus, info->address, info->bus,
		 info->address, info->vid, info->pid);
}

int rp_usb_diag(struct rp_diag *d, int libusb_err, const struct rp_device_info *info,
		const char *what)
{
	const struct usb_error_entry *e = usb_error_lookup(libusb_err);
	char board[160];

	if (!info)
		return rp_diag_set(d, e->rp_err, "%s: %s (%s)%s%s", what, e->reason,
				   libusb_error_name(libusb_err), e->fix ? ": " : "",
				   e->fix ? e->fix : "");
	rp_usb_describe(info, board, sizeof(board));
	return rp_diag_set(d, e->rp_err, "%s %s: %s (%s)%s%s", what, board, e->reason,
			   libusb_error_name(libusb_err), e->fix ? ": " : "", e->fix ? e->fix : "");
}
