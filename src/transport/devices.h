/* Hardware facts about the boot ROMs rpiprov talks to, kept in one table. */
#ifndef RP_TRANSPORT_DEVICES_H
#define RP_TRANSPORT_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_USB_VID_BROADCOM 0x0a5c

struct rp_device_desc {
	uint16_t pid;
	const char *chip;          /* "BCM2711" */
	const char *soc;           /* directory name used by rpiboot's lookup: "2711" */
	const char *second_stage;  /* the name stage 1 sends: "bootcode4.bin" */
	size_t eeprom_size;        /* SPI EEPROM image size, 0 when the board has none */
	bool has_eeprom;
};

/* NULL when the VID:PID is not a Raspberry Pi boot ROM. */
const struct rp_device_desc *rp_device_lookup(uint16_t vid, uint16_t pid);
/* The whole table, for `list`, udev rule checks and filters. */
const struct rp_device_desc *rp_device_table(size_t *count);

/* rpiboot's stage rule: iSerialNumber index 0 or 3 means the boot ROM is
 * running (send the second stage); any other index means the second stage
 * is up and serving files is expected. */
static inline bool rp_device_serial_index_is_rom(uint8_t serial_index)
{
	return serial_index == 0 || serial_index == 3;
}

/* Endpoint choice from the interface count of the active configuration:
 * one interface -> interface 0, bulk OUT endpoint 1; otherwise interface 1,
 * bulk OUT endpoint 3. */
struct rp_endpoint_choice {
	uint8_t interface;
	uint8_t out_ep; /* endpoint address, e.g. 0x01 */
};
struct rp_endpoint_choice rp_device_endpoints(uint8_t num_interfaces);

#endif
