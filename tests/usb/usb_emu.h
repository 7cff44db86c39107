/* USB board emulator for tests: a umockdev testbed holding N Raspberry Pi
 * boards in USB boot mode, each driven by the device model
 * (src/sim/sim_board.h) and answered live at the usbdevfs ioctl level, so
 * the real libusb backend (and the unmodified rpiprov CLI, in a child
 * process that inherits UMOCKDEV_DIR and the preload) talks to them as to
 * hardware.
 *
 * Threads: umockdev runs the ioctl handlers on its own worker thread; the
 * emulator runs a GLib main loop on a thread of its own for everything
 * timed (URBs the model is not ready to answer, re-enumeration) and for
 * every change to the testbed. All of it is serialised by one mutex; the
 * functions below may be called from any thread.
 *
 * The process using it must have libumockdev-preload loaded (LD_PRELOAD,
 * or linked with -Wl,--no-as-needed -lumockdev-preload). */
#ifndef RP_TESTS_USB_EMU_H
#define RP_TESTS_USB_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim_board.h"

/* usbdevfs capabilities (linux/usbdevice_fs.h USBDEVFS_CAP_*). */
#define USB_EMU_CAP_ZERO_PACKET 0x01u
#define USB_EMU_CAP_BULK_CONTINUATION 0x02u
#define USB_EMU_CAP_NO_PACKET_SIZE_LIM 0x04u
#define USB_EMU_CAP_BULK_SCATTER_GATHER 0x08u
#define USB_EMU_CAP_REAP_AFTER_DISCONNECT 0x10u
/* What an xHCI host reports: libusb sends each bulk transfer as one URB. */
#define USB_EMU_CAPS_XHCI 0x1fu
/* A host without scatter-gather: libusb splits bulk transfers into 16 KiB URBs. */
#define USB_EMU_CAPS_NO_SG 0x17u

struct usb_emu_board_opts {
	struct rp_sim_params params;  /* the device model (pid, serial, timing, fault) */
	const char *port_path;        /* "1-3", "1-1.4.2"; NULL: "1-<n>" for board n (1-based) */
	uint8_t num_interfaces;       /* 1 (interface 0, OUT ep 1) or 2 (interface 1, OUT ep 3); 0: 1 */
	bool deny_access;             /* opening the device node fails with EACCES */
	uint32_t caps;                /* usbdevfs capabilities; 0: USB_EMU_CAPS_XHCI */
	uint64_t unplug_after_bulk_bytes; /* pulled out once this many bulk bytes arrived; 0: never */
	unsigned plug_delay_ms;       /* usb_emu_plug: appear this long after the call (0: now) */
	bool second_stage;            /* appear already running the second stage (the ROM got a
				       * dummy second stage before the board was "plugged") */
	bool full_speed;              /* enumerate at full speed: 64-byte bulk packets (C11) */
};

/* What one board saw, over all its enumerations. */
struct usb_emu_stats {
	uint64_t ioctls;
	uint64_t opens;               /* open attempts on its device nodes (umockdev connects
				       * the client before the real open, so failed ones count) */
	uint64_t urbs;                /* URBs submitted */
	uint64_t control_urbs, bulk_urbs;
	uint64_t bulk_bytes;          /* bulk OUT bytes accepted */
	uint64_t max_bulk_urb;        /* largest bulk URB buffer */
	uint64_t model_transfers;     /* transfers handed to the device model */
	uint64_t reaps, reaps_empty;  /* REAPURB(NDELAY) calls; those that found nothing */
	uint64_t discards;
	unsigned enumerations;        /* times it appeared on the bus */
	bool present;                 /* on the bus right now */
	uint8_t address;              /* current (or last) device address */
};

struct usb_emu;

/* Creates the testbed (sets UMOCKDEV_DIR in the environment: call before
 * starting threads that read the environment) with root hub 1. NULL on
 * failure, with a message on stderr. */
struct usb_emu *usb_emu_new(void);
void usb_emu_free(struct usb_emu *e);
const char *usb_emu_root_dir(const struct usb_emu *e);

/* Add a board; returns its index (0-based) or -1. It is on the bus (ROM
 * stage) when this returns, unless opts->plug_delay_ms is set. */
int usb_emu_plug(struct usb_emu *e, const struct usb_emu_board_opts *opts);
/* Pull board i out now (any stage). */
void usb_emu_unplug(struct usb_emu *e, unsigned i);

unsigned usb_emu_count(struct usb_emu *e);
void usb_emu_stats(struct usb_emu *e, unsigned i, struct usb_emu_stats *out);
enum rp_sim_outcome usb_emu_outcome(struct usb_emu *e, unsigned i);
enum rp_stage usb_emu_stage(struct usb_emu *e, unsigned i);
const char *usb_emu_port_path(struct usb_emu *e, unsigned i);
/* Copies (g_free/free) of the virtual EEPROM and of the second stage received. */
uint8_t *usb_emu_eeprom(struct usb_emu *e, unsigned i, size_t *len);
uint8_t *usb_emu_second_stage(struct usb_emu *e, unsigned i, size_t *len);

/* The first protocol error the host made against board i (copy, g_free),
 * or NULL: see rp_sim_board_host_error. */
char *usb_emu_host_error(struct usb_emu *e, unsigned i);
/* What the board's ROM made of its second stage (sim_second_stage.h kind
 * name, "unknown" before stage 1) and whether it ran it. */
const char *usb_emu_second_stage_kind(struct usb_emu *e, unsigned i, bool *ran);
/* FACTORY_UUID as rpiboot decodes it (copy, g_free). */
char *usb_emu_factory_uuid(struct usb_emu *e, unsigned i);

/* Wait until no board has a pending bus change or plug (re-enumerations
 * done); false on timeout. */
bool usb_emu_wait_settled(struct usb_emu *e, unsigned timeout_ms);

#endif
