#include "transport/devices.h"

static const struct rp_device_desc device_table[] = {
	{ 0x2763, "BCM2835", "2835", "bootcode.bin", 0, false },
	{ 0x2764, "BCM2837", "2837", "bootcode.bin", 0, false },
	{ 0x2711, "BCM2711", "2711", "bootcode4.bin", 512 * 1024, true },
	{ 0x2712, "BCM2712", "2712", "bootcode5.bin", 2 * 1024 * 1024, true },
};

const struct rp_device_desc *rp_device_lookup(uint16_t vid, uint16_t pid)
{
	if (vid != RP_USB_VID_BROADCOM)
		return NULL;
	for (size_t i = 0; i < sizeof(device_table) / sizeof(device_table[0]); i++)
		if (device_table[i].pid == pid)
			return &device_table[i];
	return NULL;
}

const struct rp_device_desc *rp_device_table(size_t *count)
{
	*count = sizeof(device_table) / sizeof(device_table[0]);
	return device_table;
}

struct rp_endpoint_choice rp_device_endpoints(uint8_t num_interfaces)
{
	if (num_interfaces == 1)
		return (struct rp_endpoint_choice){ .interface = 0, .out_ep = 0x01 };
	return (struct rp_endpoint_choice){ .interface = 1, .out_ep = 0x03 };
}
