/* config.txt for recovery.bin: the second stage reads it before it asks
 * for pieeprom.bin, and it holds options such as erase_eeprom,
 * recovery_metadata and recovery_reboot. Some options write the board's
 * OTP memory (program_pubkey, revoke_devkey, program_jtag_lock,
 * program_rpiboot_gpio), which can never be undone; they are refused
 * unless the user says so explicitly. */
#ifndef RP_IMAGE_RECOVERY_CONFIG_H
#define RP_IMAGE_RECOVERY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define RP_RECOVERY_CONFIG_MAX 16384u

/* The built-in default (recovery/config.txt). */
const char *rp_recovery_config_default(size_t *len);

/* Refuse NUL bytes, oversize text and, unless allow_otp, any OTP-writing
 * option set to a non-zero value (RP_ERR_REFUSED; the message names the
 * option, says it is permanent and names --allow-otp-permanent). */
int rp_recovery_config_check(const uint8_t *text, size_t len, const char *name, bool allow_otp,
			     struct rp_diag *d);

/* Whether config.txt sets `key` to zero ("recovery_metadata=0"): the
 * last setting of the key counts, case-blind as above. */
bool rp_recovery_config_is_zero(const uint8_t *text, size_t len, const char *key);

#endif
