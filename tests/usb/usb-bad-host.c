/* usb-bad-host: a host that breaks the rpiboot protocol on purpose, run
 * as rpiprov-usb-emu's child by test-usb-cli: it opens the first BCM2711
 * boot ROM and sends a control OUT with bRequest 1 (rpiboot's are all 0),
 * then exits 0. The emulator must report the board's host_error and exit
 * non-zero all the same, so that no emulator test can pass over a
 * protocol error. */
#include <libusb.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	libusb_context *ctx = NULL;
	libusb_device_handle *h = NULL;
	int r;

	if (libusb_init(&ctx) != 0)
		return 2;
	for (int i = 0; i < 500 && !h; i++) {
		h = libusb_open_device_with_vid_pid(ctx, 0x0a5c, 0x2711);
		if (!h)
			usleep(10000);
	}
	if (!h) {
		fprintf(stderr, "usb-bad-host: no board\n");
		libusb_exit(ctx);
		return 3;
	}
	if (libusb_claim_interface(h, 0) != 0) {
		libusb_close(h);
		libusb_exit(ctx);
		return 4;
	}
	r = libusb_control_transfer(h, LIBUSB_REQUEST_TYPE_VENDOR, 1, 24, 0, NULL, 0, 1000);
	printf("usb-bad-host: control transfer with bRequest 1: %d\n", r);
	libusb_release_interface(h, 0);
	libusb_close(h);
	libusb_exit(ctx);
	return 0;
}
