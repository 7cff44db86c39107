/* boot.conf, the bootloader configuration embedded as bootconf.txt
 * in a pieeprom image: `[filter]` section lines, KEY=VALUE lines and
 * `#` comment lines. Everything here keeps the user's text byte for byte
 * apart from the lines an edit names.
 *
 * Scope. Lines before the first section header and lines inside `[all]`
 * sections apply to every board ("all scope"). `[config.txt]` starts
 * config.txt text that runs to the end of the file: it is neither checked
 * against the bootloader key table nor edited.
 *
 * Edits (rp_bootconf_edit), applied in order, sets first:
 * - KEY=VALUE replaces the value of every all-scope KEY line in place
 *   (everything up to and including '=' and the line ending are kept);
 * - a KEY with no all-scope line is added as "KEY=VALUE\n":
 *   1. after the last non-blank line of the last explicit [all] section
 *      (right after the header when that section is empty); else
 *   2. when the file has no section header at all, after its last
 *      non-blank line; else
 *   3. after the last non-blank line before the first header, when that
 *      part holds at least one KEY=VALUE line; else
 *   4. as a new "[all]\nKEY=VALUE\n" at the end of the file, or just
 *      before the [config.txt] header when there is one (what follows it
 *      is config.txt text, never bootloader settings);
 * - unset KEY removes every all-scope KEY line (a warning when none). */
#ifndef RP_IMAGE_BOOTCONF_H
#define RP_IMAGE_BOOTCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Same limit as any modifiable file in the image. */
#define RP_BOOTCONF_MAX 4076u

/* Check a config before it is embedded: NUL bytes and more than 4076
 * bytes are refused, so is an invalid BOOT_ORDER. Unknown keys and lines
 * that are not KEY=VALUE are appended to `warn` (newline-separated
 * sentences, may be NULL) or, with `strict`, refused. `name` labels the
 * messages (a file name or "boot.conf"). */
int rp_bootconf_validate(const uint8_t *text, size_t len, const char *name, bool strict,
			 char *warn, size_t warn_size, struct rp_diag *d);

/* Apply --set KEY=VALUE and --unset KEY edits (see above). *out is a
 * malloc'ed, NUL-terminated copy. Malformed arguments (no '=', empty or
 * odd key, newline in a value) are RP_ERR_INVALID_ARG. */
int rp_bootconf_edit(const uint8_t *text, size_t len, const char *const *sets, unsigned n_sets,
		     const char *const *unsets, unsigned n_unsets, uint8_t **out, size_t *out_len,
		     char *warn, size_t warn_size, struct rp_diag *d);

/* The value of the last all-scope KEY line (not NUL-terminated), or NULL. */
const char *rp_bootconf_get(const uint8_t *text, size_t len, const char *key, size_t *vlen);

/* True when `key` is a documented bootloader setting (userdata0..7,
 * USB_MSD_*, HTTP_*, NVME_* and other families included). */
bool rp_bootconf_key_known(const char *key, size_t len);

/* --set KEY=VALUE edits whose KEY no bootloader knows (a typo the
 * bootloader would silently ignore): RP_ERR_INVALID_ARG naming the first
 * such key and the nearest known one. Malformed edits are left to
 * rp_bootconf_edit. */
int rp_bootconf_check_set_keys(const char *const *sets, unsigned n_sets, struct rp_diag *d);

/* Append one line to a warnings buffer, keeping it NUL-terminated. */
void rp_warn_append(char *warn, size_t warn_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
