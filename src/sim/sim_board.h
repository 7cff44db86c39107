/* Device model of one Raspberry Pi board in USB boot mode, as real boards
 * are seen to behave (doc/hardware.md, F-numbers): the boot
 * ROM (iSerialNumber 3 with an 8-hex serial, boot message, second stage,
 * return code, then re-enumeration) and recovery.bin (the requests of its
 * firmware generation, sim_script.c; the .sig check, fatal when it fails;
 * sector-wise EEPROM writes with the update timestamp, sim_eeprom.c; the
 * metadata of its build date, sim_metadata.c; Done). It is the device side of the same wire protocol
 * the session speaks, and is driven by two hosts: the in-process transport
 * (sim_source.c, `--simulate`) and the umockdev harness in tests/usb.
 *
 * The model never blocks and owns no thread: a transfer the board is not
 * ready to answer returns RP_ERR_AGAIN with the milliseconds until it
 * will be, so an in-process host can wait and an emulator can hold the URB.
 * A board object is not thread-safe; its host serialises calls. */
#ifndef RP_SIM_SIM_BOARD_H
#define RP_SIM_SIM_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/transport.h"

/* Device-side delays. All zero by default. rp_sim_timing_realistic()
 * marks them realistic: each board then plays its own chip's figures
 * from the SoC table (soc.h model_timing; doc/hardware.md F19, 2.2).
 * erase_ms and write_ms are for the whole EEPROM; a board pays them in
 * proportion to the 4 KiB sectors that differ (F18). verify_ms is one read
 * of the whole EEPROM, paid before writing and again to verify. */
struct rp_sim_timing {
	unsigned stage1_ms;   /* ROM: from receiving the second stage to answering the return code */
	unsigned reenum_ms;   /* off the bus until the second stage enumerates */
	unsigned erase_ms;
	unsigned write_ms;
	unsigned verify_ms;
	bool realistic;       /* replace the figures with the board's chip's */
};

void rp_sim_timing_realistic(struct rp_sim_timing *t);

/* Faults the model can inject. The first group is what real boards have
 * been seen doing (each with its evidence in sim_fault.c and the README);
 * the second is a hostile device, not hardware behaviour: it exists to
 * test the host's input checks. */
enum rp_sim_fault {
	RP_SIM_FAULT_NONE = 0,
	/* hardware behaviour */
	RP_SIM_FAULT_LEAVE,                 /* leaves the bus at `fault_step` (@reenum: never comes back) */
	RP_SIM_FAULT_SILENT,                /* stops answering from `fault_step` on (hang) */
	RP_SIM_FAULT_SHORT,                 /* accepts fewer bulk bytes than sent at `fault_step` */
	RP_SIM_FAULT_STATUS_READ_FAILS,     /* resets before the 4-byte status read; comes back all the same */
	RP_SIM_FAULT_OPEN_FAILS_ONCE,       /* the first open of the second stage fails */
	RP_SIM_FAULT_WRITE_PROTECTED,       /* the EEPROM write fails; the board gives up (no metadata) */
	RP_SIM_FAULT_BAD_SIG,               /* pieeprom.sig rejected: FATAL, the board stops */
	RP_SIM_FAULT_SLOW_REQUEST,          /* the request after the flash comes slow_request_ms late */
	RP_SIM_FAULT_VANISH_AFTER_METADATA, /* leaves right after its metadata (recovery_reboot=1) */
	RP_SIM_FAULT_EMPTY_NAME_DONE,       /* ends with an empty name instead of Done */
	RP_SIM_FAULT_ROM_AGAIN,             /* after stage 1 comes back as the ROM once (C16, C17) */
	RP_SIM_FAULT_STATUS_STUCK,          /* status read fails, ROM stuck: next header times out once (C13) */
	RP_SIM_FAULT_CLAIM_FAILS,           /* the first two interface claims fail with EBUSY (C13) */
	/* hostile device (not hardware behaviour) */
	RP_SIM_FAULT_STALL,                 /* stalls the endpoint at `fault_step` */
	RP_SIM_FAULT_BAD_COMMAND,           /* sends a command number out of range */
	RP_SIM_FAULT_UNTERMINATED_NAME,     /* 256 name bytes without a NUL */
	RP_SIM_FAULT_HOSTILE_NAME,          /* asks for "../../etc/passwd" and "/etc/shadow" */
	RP_SIM_FAULT_GARBAGE_METADATA,      /* non-printable, oversize and malformed *KEY*VALUE messages */
	RP_SIM_FAULT_COUNT
};
#define RP_SIM_FAULT_FIRST_HOSTILE RP_SIM_FAULT_STALL

/* Where each fault fires (a combination not listed does nothing):
 *  leave/stall/silent: stage1 = during the second-stage bulk data;
 *    reenum = leave: never comes back; stall/silent: comes back but its
 *    first request stalls / never comes; config, sig = at the step's
 *    first request; image = during the image's bulk data;
 *    metadata = at the first metadata report.
 *  short: the bulk data of stage1 (second stage), config, sig, image.
 *  status_read_fails: stage1. open_fails_once: reenum.
 *  write_protected, slow_request: the flash (image). bad_sig: sig.
 *  vanish_after_metadata, empty_name_done: metadata.
 *  rom_again, status_stuck, claim_fails: stage1 (claim_fails: the
 *    first two claims, whichever enumeration they are on).
 *  bad_command, unterminated_name, hostile_name: the first request of
 *    config, sig, image or metadata. garbage_metadata: metadata.
 * "Leaving" takes effect for transfers at once (RP_ERR_NO_DEVICE) and on
 * the bus when the host applies the change. */
enum rp_sim_step {
	RP_SIM_STEP_STAGE1 = 0,   /* during the second-stage download */
	RP_SIM_STEP_REENUM,       /* instead of coming back after stage 1 */
	RP_SIM_STEP_CONFIG,       /* while asking for config.txt */
	RP_SIM_STEP_SIG,          /* while asking for pieeprom.sig */
	RP_SIM_STEP_IMAGE,        /* the image read and the flash */
	RP_SIM_STEP_METADATA,     /* while reporting metadata */
	RP_SIM_STEP_COUNT
};

/* Names used by --sim-fault and test tables: "leave", "silent", ...;
 * steps: "stage1", "reenum", "config", "sig", "image", "metadata".
 * Return -1 when unknown. */
const char *rp_sim_fault_name(enum rp_sim_fault f);
int rp_sim_fault_from_name(const char *name);
const char *rp_sim_step_name(enum rp_sim_step s);
int rp_sim_step_from_name(const char *name);
/* Hardware behaviour (true) or a hostile device for host tests (false). */
bool rp_sim_fault_is_hardware(enum rp_sim_fault f);
/* The doc/hardware.md facts and cases behind a hardware fault
 * ("C22, F22"); NULL for the others. */
const char *rp_sim_fault_evidence(enum rp_sim_fault f);
/* The step where the fault means something when none is given. */
enum rp_sim_step rp_sim_fault_natural_step(enum rp_sim_fault f);

/* Firmware build dates (YYYYMMDD) of the recovery.bin being modelled. */
#define RP_SIM_FIRMWARE_NEWEST 20260812u  /* newest rpi-eeprom release in the evidence snapshot */
/* What a board plays when no date is given: the newest generation before
 * the 2712 recovery.bin of 2026-04-14, which asks for DDR files after its
 * metadata and hangs without them (C19). Every host this project tests can
 * finish with that one; C19's generation is had by giving a date from
 * 2026-04-14 on (firmware=YYYYMMDD), until the host turns a confirmed
 * write followed by a hang into OK (issue 16 item 2) and this can become
 * RP_SIM_FIRMWARE_NEWEST. It has every metadata key of table 2.3. */
#define RP_SIM_FIRMWARE_DEFAULT 20260301u
/* The Pi 5 flash gap of F19: more than 10 s, within 20 s. */
#define RP_SIM_SLOW_REQUEST_MS 15000u

struct rp_sim_params {
	uint16_t pid;                 /* 0x2711 by default */
	/* The 64-bit board serial as hex ("10000000abcdef01"). USB shows
	 * its low 32 bits, 8 lowercase hex digits (F3, F10). */
	char serial[RP_SERIAL_MAX];
	uint8_t mac[6];
	struct rp_sim_timing timing;
	enum rp_sim_fault fault;
	enum rp_sim_step fault_step;
	/* recovery.bin build date (YYYYMMDD) choosing the request script,
	 * the metadata keys and the second stage's serial index; 0:
	 * RP_SIM_FIRMWARE_DEFAULT. */
	uint32_t firmware_date;
	/* slow_request: how late the request after the flash comes; 0:
	 * RP_SIM_SLOW_REQUEST_MS. */
	unsigned slow_request_ms;
	/* Plugged in with its second stage already running (a host did stage
	 * 1 earlier): it enumerates as the second stage, with its serial,
	 * and asks for files at once. */
	bool second_stage;
};

/* The string a board's USB descriptor carries at index 3 (ROM) and in
 * the second stage: the low 32 bits of its serial as 8 lowercase hex
 * digits (F3, F10). */
#define RP_SIM_USB_SERIAL_LEN 8
void rp_sim_usb_serial(const char *serial, char out[RP_SIM_USB_SERIAL_LEN + 1]);

/* Fill defaults for board number n (distinct serial and MAC per n). */
void rp_sim_params_default(struct rp_sim_params *p, unsigned n);

struct rp_sim_board;

struct rp_sim_board *rp_sim_board_new(const struct rp_sim_params *p);
void rp_sim_board_free(struct rp_sim_board *b);

/* The USB identity the board currently enumerates with. */
enum rp_stage rp_sim_board_stage(const struct rp_sim_board *b);
uint16_t rp_sim_board_pid(const struct rp_sim_board *b);
/* iSerialNumber: the ROM's (3 on 2711/2712, F2) or the second stage's
 * for the firmware date (2711: 4, 1 before 2022, F9; 2712: 4, assumed). */
uint8_t rp_sim_board_serial_index(const struct rp_sim_board *b);
/* The string at iSerialNumber, at either stage: the low 32 bits of the
 * board serial as 8 lowercase hex digits (F3, F10). */
const char *rp_sim_board_serial(const struct rp_sim_board *b);
/* The ROM's configuration descriptor claims 55 bytes and returns 32
 * (2711, F4): true while this board is in a ROM with that quirk. */
bool rp_sim_board_short_config(const struct rp_sim_board *b);
/* open_fails_once (F8): true, once, for the first open of the second
 * stage's enumeration; a host's open must then fail. */
bool rp_sim_board_take_open_failure(struct rp_sim_board *b);
/* The recovery.bin build date being modelled (YYYYMMDD). */
uint32_t rp_sim_board_firmware_date(const struct rp_sim_board *b);

/* Bus presence. After the stage-1 return code is read the board detaches;
 * it attaches again as the second stage reenum_ms later (unless a fault
 * keeps it away). rp_sim_board_bus_change() tells a host when the next
 * change is due: returns true and sets *at_ms (monotonic, rp_now_ms clock)
 * and *attach when one is scheduled or already due. */
bool rp_sim_board_attached(const struct rp_sim_board *b);
bool rp_sim_board_bus_change(const struct rp_sim_board *b, uint64_t *at_ms, bool *attach);
/* The host applies a due change (it decides when to publish it). */
void rp_sim_board_apply_bus_change(struct rp_sim_board *b);
/* The board was unplugged by the test/host (pulled out). */
void rp_sim_board_unplug(struct rp_sim_board *b);

/* Device side of the transfers (host-to-device and device-to-host from
 * the host's point of view). Return RP_OK, RP_ERR_AGAIN (with
 * *ready_in_ms), RP_ERR_NO_DEVICE when detached, RP_ERR_PIPE for a stall,
 * RP_ERR_SHORT with *accepted < len for a short bulk transfer. */
int rp_sim_board_control_out(struct rp_sim_board *b, uint8_t request, uint16_t value,
			     uint16_t index, const void *data, size_t len, unsigned *ready_in_ms);
int rp_sim_board_control_in(struct rp_sim_board *b, uint8_t request, uint16_t value,
			    uint16_t index, void *buf, size_t len, size_t *actual,
			    unsigned *ready_in_ms);
int rp_sim_board_bulk_out(struct rp_sim_board *b, const void *data, size_t len, size_t *accepted,
			  unsigned *ready_in_ms);

/* What the board ended with. */
enum rp_sim_outcome {
	RP_SIM_RUNNING = 0,
	RP_SIM_UPDATED,        /* EEPROM written and verified */
	RP_SIM_REFUSED,        /* bad or missing pieeprom.sig, digest mismatch: FATAL, stopped */
	RP_SIM_WRITE_FAILED,   /* the write failed (write-protected): gave up, stopped */
	RP_SIM_GONE,           /* left the bus */
	RP_SIM_ERASED,         /* erase_eeprom=1 done */
	RP_SIM_NOT_UPDATED,    /* finished without an image to write */
	RP_SIM_BOOTED,         /* ran a second stage that is not recovery.bin (bootsys, bootcode) and left */
};
enum rp_sim_outcome rp_sim_board_outcome(const struct rp_sim_board *b);
/* The virtual SPI EEPROM (512 KiB for 2711, 2 MiB for 2712; erased 0xff at start). */
const uint8_t *rp_sim_board_eeprom(const struct rp_sim_board *b, size_t *len);
/* Give the EEPROM contents before a run (len bytes, the rest erased). */
int rp_sim_board_set_eeprom(struct rp_sim_board *b, const uint8_t *data, size_t len);
/* SPI work of the last flash: 4 KiB sectors rewritten (or erased) and
 * full reads (the read before writing plus the verify read, F18). */
void rp_sim_board_flash_stats(const struct rp_sim_board *b, size_t *sectors, unsigned *reads);
/* The second stage the ROM received (to check recovery.bin arrived intact). */
const uint8_t *rp_sim_board_second_stage(const struct rp_sim_board *b, size_t *len);
/* What the ROM made of the second stage it received (an enum
 * rp_sim_second_stage_kind, sim_second_stage.h; unknown before stage 1),
 * and whether it ran it: false when it is another chip's (the ROM came
 * back as the ROM instead, F22). */
int rp_sim_board_second_stage_kind(const struct rp_sim_board *b, bool *ran);
/* FACTORY_UUID as rpiboot decodes it (2712 boards; 18 characters). */
const char *rp_sim_board_factory_uuid(const struct rp_sim_board *b);
/* claim_fails (C13): true for each of the first two claims of the
 * interface; a host's claim must then fail with EBUSY. */
bool rp_sim_board_take_claim_failure(struct rp_sim_board *b);

/* The first way the host broke the protocol (a reply out of turn, a
 * header with a data stage, a size that does not match, serving a
 * hostile name, ...), or NULL: the model is a test oracle of the host. */
const char *rp_sim_board_host_error(const struct rp_sim_board *b);

#endif
