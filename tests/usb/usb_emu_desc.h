/* USB descriptors and sysfs records of the emulated devices: Raspberry Pi
 * boot ROMs / second stages and the hubs they hang off. */
#ifndef RP_TESTS_USB_EMU_DESC_H
#define RP_TESTS_USB_EMU_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_DESC_MAX 128
#define EMU_STRING_MANUFACTURER 1
#define EMU_STRING_PRODUCT 2

struct emu_desc {
	uint8_t bytes[EMU_DESC_MAX]; /* device descriptor then configuration: sysfs "descriptors" */
	size_t len;
	uint8_t num_interfaces;
	bool full_speed;             /* 12 Mbit/s link: bulk wMaxPacketSize 64 */
};

/* full_speed: the board enumerated at full speed (C11: endpoints declared
 * 512 bytes, which the kernel clamps to 64; sysfs shows the clamped
 * descriptors and speed 12). */
/* A board: 0a5c:<pid>, iSerialNumber = serial_index, one or two vendor
 * interfaces (interface 0: bulk IN 0x81 + OUT 0x01; with two, interface 1
 * has IN 0x83 + OUT 0x03, the layout rpiboot expects). short_config with
 * one interface: the BCM2711 ROM's quirk (doc/hardware.md F4), a
 * configuration header claiming wTotalLength 55 and 2 interfaces over the
 * 32 bytes of one interface that actually arrive. */
void emu_desc_board(struct emu_desc *d, uint16_t pid, uint8_t serial_index,
		    uint8_t num_interfaces, bool short_config, bool full_speed);
/* A root hub (1d6b:0002) or an external hub (05e3:0610). */
void emu_desc_hub(struct emu_desc *d, int root);

/* String descriptor n of a board (0: language IDs); 0 bytes when absent. */
size_t emu_desc_board_string(uint8_t *out, size_t cap, unsigned index, const char *product,
			     uint8_t serial_index, const char *serial);

/* umockdev_testbed_add_from_string() record of a USB device. serial may be NULL. */
char *emu_desc_record(const char *syspath, uint8_t bus, uint8_t address, const char *devpath,
		      const struct emu_desc *d, const char *product, const char *serial);

#endif
