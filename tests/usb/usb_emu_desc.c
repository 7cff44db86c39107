#include "usb_emu_desc.h"

#include <glib.h>
#include <string.h>

#include "util/endian.h"

static void put(struct emu_desc *d, const uint8_t *b, size_t n)
{
	g_assert(d->len + n <= sizeof(d->bytes));
	memcpy(d->bytes + d->len, b, n);
	d->len += n;
}

static void device_descriptor(struct emu_desc *d, uint8_t cls, uint16_t vid, uint16_t pid,
			      uint8_t imanufacturer, uint8_t iproduct, uint8_t iserial)
{
	uint8_t dev[18] = { 18, 1, 0x00, 0x02, cls, 0, cls == 9 ? 1 : 0, 64 };
	rp_put_le16(dev + 8, vid);
	rp_put_le16(dev + 10, pid);
	rp_put_le16(dev + 12, 0x0000);
	dev[14] = imanufacturer;
	dev[15] = iproduct;
	dev[16] = iserial;
	dev[17] = 1;
	put(d, dev, sizeof(dev));
}

static void config_header(struct emu_desc *d, uint8_t num_interfaces, uint16_t total)
{
	uint8_t cfg[9] = { 9, 2, 0, 0, num_interfaces, 1, 0, 0x80, 50 };
	rp_put_le16(cfg + 2, total);
	put(d, cfg, sizeof(cfg));
}

static void interface(struct emu_desc *d, uint8_t number, uint8_t n_ep, uint8_t cls,
		      uint8_t subcls, uint8_t proto)
{
	uint8_t itf[9] = { 9, 4, number, 0, n_ep, cls, subcls, proto, 0 };
	put(d, itf, sizeof(itf));
}

static void endpoint(struct emu_desc *d, uint8_t address, uint8_t attributes, uint16_t maxp,
		     uint8_t interval)
{
	uint8_t ep[7] = { 7, 5, address, attributes, 0, 0, interval };
	rp_put_le16(ep + 4, maxp);
	put(d, ep, sizeof(ep));
}

void emu_desc_board(struct emu_desc *d, uint16_t pid, uint8_t serial_index,
		    uint8_t num_interfaces, bool short_config, bool full_speed)
{
	/* F5: 512-byte bulk packets at high speed; C11: 64 at full speed. */
	const uint16_t maxp = full_speed ? 64 : 512;

	memset(d, 0, sizeof(*d));
	d->full_speed = full_speed;
	d->num_interfaces = num_interfaces == 2 ? 2 : 1;
	device_descriptor(d, 0, 0x0a5c, pid, EMU_STRING_MANUFACTURER, EMU_STRING_PRODUCT,
			  serial_index);
	if (short_config && d->num_interfaces == 1)
		/* F4: what the kernel logs as "config index 0 descriptor too
		 * short (expected 55, got 32)"; sysfs keeps the 32 bytes with
		 * this header, and reports bNumInterfaces 1 (what it parsed). */
		config_header(d, 2, 55);
	else
		config_header(d, d->num_interfaces, (uint16_t)(9 + d->num_interfaces * (9 + 2 * 7)));
	if (d->num_interfaces == 1) {
		interface(d, 0, 2, 0xff, 0, 0);
		endpoint(d, 0x81, 2, maxp, 0);
		endpoint(d, 0x01, 2, maxp, 0);
	} else {
		/* The 2837 layout: mass storage first, the boot interface second. */
		interface(d, 0, 2, 0x08, 0x06, 0x50);
		endpoint(d, 0x82, 2, maxp, 0);
		endpoint(d, 0x02, 2, maxp, 0);
		interface(d, 1, 2, 0xff, 0, 0);
		endpoint(d, 0x83, 2, maxp, 0);
		endpoint(d, 0x03, 2, maxp, 0);
	}
}

void emu_desc_hub(struct emu_desc *d, int root)
{
	memset(d, 0, sizeof(*d));
	d->num_interfaces = 1;
	if (root)
		device_descriptor(d, 9, 0x1d6b, 0x0002, 3, 2, 1);
	else
		device_descriptor(d, 9, 0x05e3, 0x0610, 0, 1, 0);
	config_header(d, 1, 9 + 9 + 7);
	interface(d, 0, 1, 9, 0, 0);
	endpoint(d, 0x81, 3, 4, 12);
}

static size_t string_descriptor(uint8_t *out, size_t cap, const char *s)
{
	size_t n = strlen(s), len = 2 + 2 * n;
	if (len > 255 || len > cap)
		return 0;
	out[0] = (uint8_t)len;
	out[1] = 3;
	for (size_t i = 0; i < n; i++)
		rp_put_le16(out + 2 + 2 * i, (uint8_t)s[i]);
	return len;
}

size_t emu_desc_board_string(uint8_t *out, size_t cap, unsigned index, const char *product,
			     uint8_t serial_index, const char *serial)
{
	if (index == 0) {
		if (cap < 4)
			return 0;
		out[0] = 4;
		out[1] = 3;
		rp_put_le16(out + 2, 0x0409);
		return 4;
	}
	if (index == EMU_STRING_MANUFACTURER)
		return string_descriptor(out, cap, "Broadcom");
	if (index == EMU_STRING_PRODUCT)
		return string_descriptor(out, cap, product);
	if (serial_index && index == serial_index && serial)
		return string_descriptor(out, cap, serial);
	return 0;
}

char *emu_desc_record(const char *syspath, uint8_t bus, uint8_t address, const char *devpath,
		      const struct emu_desc *d, const char *product, const char *serial)
{
	GString *s = g_string_new(NULL);
	uint16_t vid = rp_get_le16(d->bytes + 8), pid = rp_get_le16(d->bytes + 10);

	/* sysfs attribute values end in a newline, like the kernel's (libusb warns otherwise). */
	g_string_append_printf(s, "P: %s\nN: bus/usb/%03u/%03u\n", syspath, bus, address);
	g_string_append_printf(s,
		"E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
		"E: DEVNAME=/dev/bus/usb/%03u/%03u\nE: BUSNUM=%03u\nE: DEVNUM=%03u\n"
		"E: PRODUCT=%x/%x/0\nE: TYPE=%u/0/0\n",
		bus, address, bus, address, vid, pid, d->bytes[4]);
	g_string_append_printf(s,
		"A: busnum=%u\\n\nA: devnum=%u\\n\nA: devpath=%s\\n\n"
		"A: idVendor=%04x\\n\nA: idProduct=%04x\\n\nA: bcdDevice=0000\\n\n"
		"A: bDeviceClass=%02x\\n\nA: bNumConfigurations=1\\n\nA: bNumInterfaces=%2u\\n\n"
		"A: bConfigurationValue=1\\n\nA: bMaxPacketSize0=64\\n\nA: speed=%s\\n\n"
		"A: version= 2.00\\n\nA: product=%s\\n\n",
		bus, address, devpath, vid, pid, d->bytes[4], d->num_interfaces,
		d->full_speed ? "12" : "480", product);
	if (serial)
		g_string_append_printf(s, "A: serial=%s\\n\n", serial);
	g_string_append(s, "H: descriptors=");
	for (size_t i = 0; i < d->len; i++)
		g_string_append_printf(s, "%02X", d->bytes[i]);
	g_string_append(s, "\n");
	return g_string_free(s, FALSE);
}
