/* How to talk to a boot device once the SoC table (soc/soc.h) has said
 * what it is: the interface and endpoint to use. */
#ifndef RP_TRANSPORT_DEVICES_H
#define RP_TRANSPORT_DEVICES_H

#include <stdint.h>

/* Endpoint choice from the interface count of the active configuration:
 * one interface -> interface 0, bulk OUT endpoint 1; otherwise interface 1,
 * bulk OUT endpoint 3. */
struct rp_endpoint_choice {
	uint8_t interface;
	uint8_t out_ep; /* endpoint address, e.g. 0x01 */
};
struct rp_endpoint_choice rp_device_endpoints(uint8_t num_interfaces);

#endif
