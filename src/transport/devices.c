#include "transport/devices.h"

struct rp_endpoint_choice rp_device_endpoints(uint8_t num_interfaces)
{
	if (num_interfaces == 1)
		return (struct rp_endpoint_choice){ .interface = 0, .out_ep = 0x01 };
	return (struct rp_endpoint_choice){ .interface = 1, .out_ep = 0x03 };
}
