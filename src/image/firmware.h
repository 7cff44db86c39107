/* Where the default inputs come from when the user names none: a
 * bootloader image (pieeprom-YYYY-MM-DD.bin, or usbboot's undated
 * pieeprom.bin) and recovery.bin, for one SoC.
 *
 * Places, in this order; the first that holds an image for the SoC wins,
 * and within it the newest date (from the name, else BUILD_TIMESTAMP):
 *  1. a directory given as --image DIR, else $RPIPROV_FIRMWARE_DIR: only
 *     that one (so a test or a factory setup is never surprised by system
 *     files). Any of these layouts: DIR/<soc>/, DIR/, a usbboot checkout
 *     (DIR/firmware/<soc>/, recovery.bin also in DIR/recovery/ or
 *     DIR/recovery5/), an rpi-eeprom checkout (DIR/firmware-<soc>/{latest,default}/);
 *  2. rpi-eeprom-update's settings: FIRMWARE_ROOT/<FIRMWARE_RELEASE_STATUS>
 *     from the environment, else from /etc/default/rpi-eeprom-update;
 *  3. Raspberry Pi OS's package folders
 *     /lib/firmware/raspberrypi/bootloader-<soc>/{latest,default} (and
 *     /usr/lib/...), only the configured release status when one is set;
 *  4. the `rpiprov firmware fetch` cache: $XDG_CACHE_HOME/rpiprov/firmware
 *     (or ~/.cache/...), then /var/cache/rpiprov/firmware (the station
 *     service's), each <soc>/{latest,default}/.
 * $RPIPROV_SYSROOT, when set, is put in front of the system paths
 * (/etc, /lib, /usr/lib, /var/cache) and of a FIRMWARE_ROOT read from the
 * /etc file, so tests and chroots control what is "installed".
 * An image counts for a SoC only if its size is that SoC's EEPROM size
 * (.gz files are not checked: they are read inflated later). */
#ifndef RP_IMAGE_FIRMWARE_H
#define RP_IMAGE_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum rp_fw_kind { RP_FW_IMAGE, RP_FW_RECOVERY };

/* The search order above. */
enum rp_fw_tier {
	RP_FW_TIER_GIVEN,         /* --image DIR */
	RP_FW_TIER_ENV,           /* RPIPROV_FIRMWARE_DIR */
	RP_FW_TIER_EEPROM_UPDATE, /* FIRMWARE_ROOT / /etc/default/rpi-eeprom-update */
	RP_FW_TIER_PACKAGE,       /* /lib/firmware/raspberrypi/bootloader-<soc> */
	RP_FW_TIER_CACHE,         /* rpiprov firmware fetch */
};

/* "RPIPROV_FIRMWARE_DIR", "fetch cache", ...: for messages. */
const char *rp_fw_tier_name(enum rp_fw_tier t);

struct rp_fw_file {
	enum rp_fw_kind kind;
	enum rp_fw_tier tier;
	char soc[8];
	char date[11];     /* YYYY-MM-DD; "" when unknown (recovery.bin) */
	char channel[16];  /* "latest", "default", ...; "" when the folder has none */
	char path[4096];
};

struct rp_fw_list {
	struct rp_fw_file *v;
	size_t n, cap;
};

/* Every image and recovery.bin of every SoC with an EEPROM, in search
 * order. given_dir: as --image DIR (NULL: none). Free with rp_fw_list_free. */
int rp_firmware_scan(const char *given_dir, struct rp_fw_list *out, struct rp_diag *d);
void rp_fw_list_free(struct rp_fw_list *l);

/* soc: "2711", "2712"; NULL: the default chip. Other names:
 * RP_ERR_INVALID_ARG. why (optional) says why this one was chosen. Not
 * found: RP_ERR_NOT_FOUND naming the fetch command that fixes it and
 * every place looked in. */
int rp_firmware_find_image(const char *soc, const char *given_dir, char *path, size_t size,
			   char *why, size_t why_size, struct rp_diag *d);
/* recovery.bin: next to `image_path` first (when given), then the places
 * above. */
int rp_firmware_find_recovery(const char *soc, const char *given_dir, const char *image_path,
			      char *path, size_t size, struct rp_diag *d);

/* Where `rpiprov firmware fetch` keeps its files (then <soc>/<channel>/):
 * $XDG_CACHE_HOME/rpiprov/firmware or ~/.cache/rpiprov/firmware; with
 * `system`, [$RPIPROV_SYSROOT]/var/cache/rpiprov/firmware. */
int rp_firmware_cache_root(bool system, char *out, size_t size, struct rp_diag *d);

/* "pieeprom-YYYY-MM-DD.bin[.gz]": copies the date, else false. */
bool rp_firmware_image_date(const char *name, char date[11]);

#endif
