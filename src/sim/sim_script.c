/* recovery.bin's requests, one table per firmware generation. A missing
 * file (size 0) is never read; the board goes on to the next name (F11). */
#include "sim/sim_script.h"

#include "sim/sim_second_stage.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define FILE_(name, role, step) { RP_SIM_ASK_FILE, name, role, step }
#define OTHER(name) { RP_SIM_ASK_FILE, name, RP_SIM_ROLE_NONE, RP_SIM_STEP_COUNT }
#define NOWHERE RP_SIM_STEP_COUNT
#define OR_HANG(name) { RP_SIM_ASK_FILE_OR_HANG, name, RP_SIM_ROLE_NONE, RP_SIM_STEP_COUNT }

/* BCM2711 recovery.bin from mid-2024 on (F12; C7 with rpiboot 2024-10
 * and firmware 2024-07-30, C8 with 2026 packages): config.txt, the size
 * of pieeprom.bin, the size of pieeprom.bin AGAIN (C7 shows the query
 * twice; why is open question 9), pieeprom.sig, pieeprom.bin, metadata
 * (from 2024-08-14 builds, table 2.3), Done. */
static const struct rp_sim_script_step bcm2711_bin[] = {
	FILE_("config.txt", RP_SIM_ROLE_CONFIG, RP_SIM_STEP_CONFIG),
	{ RP_SIM_ASK_SIZE, "pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE },
	{ RP_SIM_ASK_SIZE, "pieeprom.bin", RP_SIM_ROLE_IMAGE, NOWHERE },
	FILE_("pieeprom.sig", RP_SIM_ROLE_SIG, RP_SIM_STEP_SIG),
	FILE_("pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE),
	{ RP_SIM_ASK_FLASH, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_IMAGE },
	{ RP_SIM_ASK_METADATA, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
	{ RP_SIM_ASK_DONE, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
};

/* No DDR files for a 2711 recovery.bin: its 2026-08-04 build holds the
 * strings mcb.bin and memsys00..08.bin too, but no log shows a 2711
 * recovery.bin asking for them (C7, C8 end with the image and Done;
 * C24a's nine memsys files came from bootfiles.bin's bootsys), so the
 * model does not ask. */

/* BCM2711 recovery.bin of the .upd era (C6, a 2024-04 build with UART;
 * F13): config.txt, vl805.sig, pieeprom.sig, pieeprom.upd; a .upd is
 * written and the board reboots (C6: renamed to .upd it flashed and
 * rebooted; C27 "RESET"). Without one it falls through to the boot chain
 * (recover4.elf, fixup4rc.dat, recovery.elf, fixup_rc.dat, start4.elf,
 * fixup4.dat) and ends. pieeprom.bin is never asked for. Builds before
 * 2024-04 are assumed to behave the same (no rpiboot log shows them). */
static const struct rp_sim_script_step bcm2711_upd[] = {
	FILE_("config.txt", RP_SIM_ROLE_CONFIG, RP_SIM_STEP_CONFIG),
	OTHER("vl805.sig"),
	FILE_("pieeprom.sig", RP_SIM_ROLE_SIG, RP_SIM_STEP_SIG),
	FILE_("pieeprom.upd", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE),
	{ RP_SIM_ASK_FLASH_REBOOT, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_IMAGE },
	OTHER("recover4.elf"),
	OTHER("fixup4rc.dat"),
	OTHER("recovery.elf"),
	OTHER("fixup_rc.dat"),
	OTHER("start4.elf"),
	OTHER("fixup4.dat"),
	{ RP_SIM_ASK_DONE, NULL, RP_SIM_ROLE_NONE, NOWHERE },
};

/* BCM2712 recovery.bin: the flash part as on 2711 (config.txt,
 * pieeprom.bin size, pieeprom.sig, pieeprom.bin; a 2 MiB image). The
 * duplicated size query is only evidenced on 2711 (C7), so it is not
 * repeated here. */
static const struct rp_sim_script_step bcm2712[] = {
	FILE_("config.txt", RP_SIM_ROLE_CONFIG, RP_SIM_STEP_CONFIG),
	{ RP_SIM_ASK_SIZE, "pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE },
	FILE_("pieeprom.sig", RP_SIM_ROLE_SIG, RP_SIM_STEP_SIG),
	FILE_("pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE),
	{ RP_SIM_ASK_FLASH, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_IMAGE },
	{ RP_SIM_ASK_METADATA, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
	{ RP_SIM_ASK_DONE, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
};

/* BCM2712 recovery.bin from 2026-04-14 on (C19, F15; open question 7):
 * after its metadata (C19: metadata came before mcb.bin) it asks for the
 * DDR and RP1 files in bootfiles order (C18: mcb.bin, memsys00.bin,
 * memsys01.bin, rp1c0fw1.bin, memsys02.bin, rp1c0fw2.bin, memsys03.bin).
 * When one is missing it HANGS: C19 saw "Cannot open file mcb.bin" and
 * then nothing more, the board still on the bus. No bootmain: the C19
 * reporter claimed it, but no recovery.bin build holds the string (the
 * 2712 recovery.bin holds mcb.bin and memsys00..08.bin). With every file
 * served the model ends with Done (not evidenced either way). */
static const struct rp_sim_script_step bcm2712_ddr[] = {
	FILE_("config.txt", RP_SIM_ROLE_CONFIG, RP_SIM_STEP_CONFIG),
	{ RP_SIM_ASK_SIZE, "pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE },
	FILE_("pieeprom.sig", RP_SIM_ROLE_SIG, RP_SIM_STEP_SIG),
	FILE_("pieeprom.bin", RP_SIM_ROLE_IMAGE, RP_SIM_STEP_IMAGE),
	{ RP_SIM_ASK_FLASH, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_IMAGE },
	{ RP_SIM_ASK_METADATA, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
	OR_HANG("mcb.bin"),
	OR_HANG("memsys00.bin"),
	OR_HANG("memsys01.bin"),
	OR_HANG("rp1c0fw1.bin"),
	OR_HANG("memsys02.bin"),
	OR_HANG("rp1c0fw2.bin"),
	OR_HANG("memsys03.bin"),
	{ RP_SIM_ASK_DONE, NULL, RP_SIM_ROLE_NONE, RP_SIM_STEP_METADATA },
};

/* usbboot's bootcode4.bin (msd/, or the one embedded in rpiboot) on a
 * 2711 (F14; C1-C4, C13): config.txt, pieeprom.sig, recover4.elf,
 * recovery.elf, start4.elf, fixup4.dat, then it boots start4.elf and the
 * device leaves (C4). What start4.elf asks afterwards (the kernel files
 * of C1) is not modelled: it leaves after fixup4.dat. */
static const struct rp_sim_script_step bootcode_2711[] = {
	OTHER("config.txt"),
	OTHER("pieeprom.sig"),
	OTHER("recover4.elf"),
	OTHER("recovery.elf"),
	OTHER("start4.elf"),
	OTHER("fixup4.dat"),
	{ RP_SIM_ASK_LEAVE, NULL, RP_SIM_ROLE_NONE, NOWHERE },
};

/* bootfiles.bin's bootsys (F15). 2711 (C24a): mcb.bin, memsys00..08,
 * bootmain, config.txt, boot.img. 2712 (C18, C24b, C21): mcb.bin,
 * memsys00, memsys01, rp1c0fw1.bin, memsys02, rp1c0fw2.bin, memsys03,
 * bootmain, config.txt, boot.img. Then the gadget kernel runs and the
 * second stage leaves the bus (C20: boot.img read, then Linux); with
 * boot.img missing the model leaves all the same (what bootmain does
 * then is not in the evidence). */
static const struct rp_sim_script_step bootsys_2711[] = {
	OTHER("mcb.bin"),
	OTHER("memsys00.bin"), OTHER("memsys01.bin"), OTHER("memsys02.bin"),
	OTHER("memsys03.bin"), OTHER("memsys04.bin"), OTHER("memsys05.bin"),
	OTHER("memsys06.bin"), OTHER("memsys07.bin"), OTHER("memsys08.bin"),
	OTHER("bootmain"),
	OTHER("config.txt"),
	OTHER("boot.img"),
	{ RP_SIM_ASK_LEAVE, NULL, RP_SIM_ROLE_NONE, NOWHERE },
};

static const struct rp_sim_script_step bootsys_2712[] = {
	OTHER("mcb.bin"),
	OTHER("memsys00.bin"), OTHER("memsys01.bin"), OTHER("rp1c0fw1.bin"),
	OTHER("memsys02.bin"), OTHER("rp1c0fw2.bin"), OTHER("memsys03.bin"),
	OTHER("bootmain"),
	OTHER("config.txt"),
	OTHER("boot.img"),
	{ RP_SIM_ASK_LEAVE, NULL, RP_SIM_ROLE_NONE, NOWHERE },
};

static const struct {
	int kind;
	struct rp_sim_script script;
} chains[] = {
	{ RP_SIM_SS_BOOTCODE, { 0x2711, 0, "usbboot bootcode4.bin (F14)", bootcode_2711,
				N(bootcode_2711) } },
	{ RP_SIM_SS_BOOTSYS, { 0x2711, 0, "bootfiles.bin bootsys, 2711 (F15)", bootsys_2711,
			       N(bootsys_2711) } },
	{ RP_SIM_SS_BOOTSYS, { 0x2712, 0, "bootfiles.bin bootsys, 2712 (F15)", bootsys_2712,
			       N(bootsys_2712) } },
};

/* Newest first per chip: the first row whose `since` is not after the
 * date is the generation. The 2024-06 boundary between the .upd era (C6,
 * 2024-04-15) and the .bin era (C7, firmware 2024-07-30) is a choice
 * inside that gap. */
static const struct rp_sim_script scripts[] = {
	{ 0x2711, 20240601, "BCM2711 recovery.bin, pieeprom.bin era (F12)", bcm2711_bin,
	  N(bcm2711_bin) },
	{ 0x2711, 0, "BCM2711 recovery.bin, pieeprom.upd era (F13)", bcm2711_upd, N(bcm2711_upd) },
	{ 0x2712, 20260414, "BCM2712 recovery.bin with DDR files (C19)", bcm2712_ddr,
	  N(bcm2712_ddr) },
	{ 0x2712, 0, "BCM2712 recovery.bin", bcm2712, N(bcm2712) },
};

const struct rp_sim_script *rp_sim_script_for(uint16_t pid, uint32_t date)
{
	for (size_t i = 0; i < N(scripts); i++)
		if (scripts[i].pid == pid && scripts[i].since <= date)
			return &scripts[i];
	return NULL;
}

const struct rp_sim_script *rp_sim_script_chain(int kind, uint16_t pid)
{
	for (size_t i = 0; i < N(chains); i++)
		if (chains[i].kind == kind && chains[i].script.pid == pid)
			return &chains[i].script;
	return NULL;
}
