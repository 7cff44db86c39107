/* The bootloader settings we know, from the Raspberry Pi "bootloader
 * configuration" documentation. Anything else is most likely a typo that
 * the bootloader would silently ignore. */
#include <stdio.h>
#include <string.h>

#include "image/bootconf.h"
#include "util/suggest.h"

static const char *const known_keys[] = {
	"BOOT_UART", "UART_BAUD", "WAKE_ON_GPIO", "POWER_OFF_ON_HALT", "WAIT_FOR_POWER_BUTTON",
	"BOOT_ORDER", "BOOT_WATCHDOG_TIMEOUT", "BOOT_WATCHDOG_PARTITION", "MAX_RESTARTS",
	"SD_BOOT_MAX_RETRIES", "SD_OVERCURRENT_CHECK", "SD_QUIRKS", "NET_BOOT_MAX_RETRIES",
	"DHCP_TIMEOUT", "DHCP_REQ_TIMEOUT", "TFTP_FILE_TIMEOUT", "TFTP_IP", "TFTP_PREFIX",
	"TFTP_PREFIX_STR", "PXE_OPTION43", "DHCP_OPTION97", "MAC_ADDRESS", "MAC_ADDRESS_OTP",
	"CLIENT_IP", "SUBNET", "GATEWAY", "DISABLE_HDMI", "HDMI_DELAY", "ENABLE_SELF_UPDATE",
	"FREEZE_VERSION", "IMAGER_REPO_URL", "NETCONSOLE", "PARTITION", "PARTITION_WALK",
	"BOOTVAR0", "PSU_MAX_CURRENT", "VL805", "XHCI_DEBUG", "SDRAM_BANKLOW", "SIGNED_BOOT",
	"PCIE_PROBE", "BOOT_LOAD_FLAGS", "DIAGNOSTICS_DELAY", "HALT_ON_ERROR",
	"ENABLE_TRYBOOT", "EEPROM_WRITE_PROTECT",
};

/* Families documented as a prefix plus a suffix list that keeps growing. */
static const char *const known_prefixes[] = {
	"USB_MSD_", "HTTP_", "NVME_", "NET_INSTALL_",
};

bool rp_bootconf_key_known(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strlen(known_keys[i]) == len && !memcmp(known_keys[i], key, len))
			return true;
	for (size_t i = 0; i < sizeof(known_prefixes) / sizeof(known_prefixes[0]); i++) {
		size_t pl = strlen(known_prefixes[i]);
		if (len > pl && !memcmp(known_prefixes[i], key, pl))
			return true;
	}
	/* Customer data: userdata0, userdata1, ... */
	if (len > 8 && !memcmp(key, "userdata", 8)) {
		for (size_t i = 8; i < len; i++)
			if (key[i] < '0' || key[i] > '9')
				return false;
		return true;
	}
	return false;
}

int rp_bootconf_check_set_keys(const char *const *sets, unsigned n_sets, struct rp_diag *d)
{
	for (unsigned i = 0; i < n_sets; i++) {
		const char *eq = strchr(sets[i], '=');
		size_t len = eq ? (size_t)(eq - sets[i]) : 0;
		char key[64];
		const char *near;

		if (!len || rp_bootconf_key_known(sets[i], len))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)len, sets[i]);
		near = rp_suggest(key, known_keys, sizeof(known_keys) / sizeof(known_keys[0]));
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "--set %s: no bootloader knows the key '%s'%s%s%s; the bootloader "
				   "would ignore it (--force writes it anyway)",
				   sets[i], key, near ? " (did you mean " : "", near ? near : "",
				   near ? "?)" : "");
	}
	return RP_OK;
}
