/* Second-stage classification by marker strings.
 *
 * Which strings the real binaries hold (checked with `strings` on
 * rpi-eeprom's recovery.bin builds and usbboot's bootcode4.bin and
 * bootfiles.bin; dates are their build banners; doc/hardware.md):
 *
 *   marker                 2711       2712       usbboot   bootfiles  bootfiles
 *                          recovery   recovery   bootcode4 2711/      2712/
 *                          2026-08-04 2026-08-12 2023-01-11 bootcode4 bootcode5
 *   "RECOVERY.%03d"        yes        yes        -         -          -
 *   "BOOTSYS"              -          -          -         yes        yes
 *   " RPIBOOT"             yes        -          yes       -          -
 *   "recover4.elf"         yes        yes        yes       -          -
 *   "GLOBAL_RESET: "       yes        -          yes       yes        -
 *   "RP1_BOOT"             -          yes        -         -          yes
 *
 * "RECOVERY.%03d" is the name recovery.bin renames itself to after an SD
 * card update (C27 shows the rename in a 2022 build), so it marks every
 * recovery.bin generation, not only those with metadata. "BOOTSYS" is the
 * banner word of bootfiles.bin's second stage (F21: "RPi: BOOTSYS
 * release"). usbboot's own bootcode4.bin (msd/, and embedded in rpiboot)
 * has the RPIBOOT banner and the recover4.elf boot chain but neither of
 * the above. The chip: "GLOBAL_RESET: " (a BCM2711 reset register print,
 * in all three 2711 binaries) against "RP1_BOOT" (the BCM2712's RP1
 * south bridge, in both 2712 binaries). msd/bootcode.bin (BCM2835/2837)
 * matches no row: unknown.
 *
 * rpiprov's synthetic second stage (src/image/synthetic.c) says what it
 * is in its first line; a chip name "BCM2711"/"BCM2712" in its text, if
 * any, gives its chip. */
#include "sim/sim_second_stage.h"

#include <stdbool.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	enum rp_sim_second_stage_kind kind;
	const char *marker;
} kinds[] = {
	/* Order matters: recovery.bin holds " RPIBOOT" too. */
	{ RP_SIM_SS_SYNTHETIC, "rpiprov synthetic second stage" },
	{ RP_SIM_SS_RECOVERY, "RECOVERY.%03d" },
	{ RP_SIM_SS_BOOTSYS, "BOOTSYS" },
	{ RP_SIM_SS_BOOTCODE, " RPIBOOT" },
};

static const struct {
	const char *soc;
	const char *marker;
} chips[] = {
	{ "2711", "GLOBAL_RESET: " },
	{ "2712", "RP1_BOOT" },
	{ "2711", "BCM2711" },   /* the synthetic stage's text */
	{ "2712", "BCM2712" },
};

static bool contains(const uint8_t *data, size_t len, const char *s)
{
	size_t n = strlen(s);
	if (!data || n == 0 || len < n)
		return false;
	for (const uint8_t *p = data, *end = data + len - n + 1; p < end;) {
		const uint8_t *q = memchr(p, (unsigned char)s[0], (size_t)(end - p));
		if (!q)
			return false;
		if (!memcmp(q, s, n))
			return true;
		p = q + 1;
	}
	return false;
}

enum rp_sim_second_stage_kind rp_sim_second_stage_kind(const uint8_t *data, size_t len,
							const char **soc)
{
	enum rp_sim_second_stage_kind k = RP_SIM_SS_UNKNOWN;

	if (soc)
		*soc = NULL;
	for (size_t i = 0; i < N(kinds) && k == RP_SIM_SS_UNKNOWN; i++)
		if (contains(data, len, kinds[i].marker))
			k = kinds[i].kind;
	if (k == RP_SIM_SS_UNKNOWN || !soc)
		return k;
	for (size_t i = 0; i < N(chips); i++)
		if (contains(data, len, chips[i].marker)) {
			*soc = chips[i].soc;
			break;
		}
	return k;
}

const char *rp_sim_second_stage_kind_name(enum rp_sim_second_stage_kind k)
{
	switch (k) {
	case RP_SIM_SS_RECOVERY:
		return "recovery";
	case RP_SIM_SS_BOOTSYS:
		return "bootsys";
	case RP_SIM_SS_BOOTCODE:
		return "bootcode";
	case RP_SIM_SS_SYNTHETIC:
		return "synthetic";
	default:
		return "unknown";
	}
}
