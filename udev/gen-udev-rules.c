/* Writes the udev rules from the SoC table, so the ids udev grants access
 * to are the ids rpiprov looks for:
 *   gen-udev-rules access OUT         -> 60-rpiprov.rules
 *   gen-udev-rules autoprovision OUT  -> 61-rpiprov-autoprovision.rules
 *   gen-udev-rules metainfo OUT       -> rpiprov.metainfo.xml
 * The AppStream metainfo names the same ids as modaliases, so software
 * centres and isenkram can suggest rpiprov when such a board is plugged in
 * (and lintian can check that every rule's device is declared).
 * Run by meson at build time; the output is installed, never edited. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "soc/soc.h"

/* What every rule matches and grants; autoprovision also starts the
 * station service. */
#define MATCH "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\""
#define ACCESS "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\""
#define START_STATION "TAG+=\"systemd\", ENV{SYSTEMD_WANTS}+=\"rpiprov-station.service\""

#define GENERATED \
	"# Generated at build time from rpiprov's SoC table (src/soc/soc.c), one\n" \
	"# line per USB product id: add a chip there, not here.\n"

struct flavour {
	const char *name;
	const char *header;
	const char *extra;  /* appended to ACCESS, or NULL */
	bool eeprom_only;   /* only chips with a bootloader EEPROM (nothing to provision on the others) */
};

static const struct flavour flavours[] = {
	{
		"access",
		"# rpiprov: Raspberry Pi boards in USB boot mode (the boot ROM and the\n"
		"# second stage that re-enumerates with the same ids).\n"
		"#\n"
		"# Give the user logged in at the seat (uaccess) and members of the plugdev\n"
		"# group read/write access to the USB device node, so rpiprov (and rpiboot)\n"
		"# run without root. The station service (rpiprov-station.service) gets in\n"
		"# through the plugdev group.\n"
		"#\n" GENERATED,
		NULL,
		false,
	},
	{
		"autoprovision",
		"# rpiprov auto-provisioning: when a Raspberry Pi board appears in USB boot\n"
		"# mode, start the station service (rpiprov-station.service), which then\n"
		"# provisions it and every board after it as configured in\n"
		"# /etc/rpiprov/station.conf.\n"
		"#\n"
		"# Not active by default: a workstation that only sometimes flashes a board\n"
		"# must not start writing EEPROMs on its own. On a station, copy this file\n"
		"# (and 60-rpiprov.rules, which grants the access) to /etc/udev/rules.d/ and\n"
		"# run `udevadm control --reload`.\n"
		"#\n"
		"# Only for the chips that have a bootloader EEPROM: a board without one\n"
		"# (BCM2835/2837 and the like) has nothing to provision. The access rules\n"
		"# are repeated so this file works on its own.\n"
		"#\n" GENERATED,
		START_STATION,
		true,
	},
};

static int write_rules(FILE *f, const struct flavour *fl)
{
	size_t n;
	const struct rp_soc *socs = rp_soc_table(&n);

	fputs(fl->header, f);
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		if (fl->eeprom_only && !rp_soc_has_eeprom(&socs[i]))
			continue;
		fprintf(f, "# %s (%s)\n", socs[i].chip, socs[i].boards);
		fprintf(f, MATCH ", ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", " ACCESS "%s%s\n",
			socs[i].vid, socs[i].pid, fl->extra ? ", " : "", fl->extra ? fl->extra : "");
	}
	return ferror(f) ? -1 : 0;
}

static int write_metainfo(FILE *f)
{
	size_t n;
	const struct rp_soc *socs = rp_soc_table(&n);

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!-- Generated at build time from rpiprov's SoC table (src/soc/soc.c). -->\n"
	      "<component type=\"console-application\">\n"
	      "  <id>rpiprov</id>\n"
	      "  <metadata_license>CC0-1.0</metadata_license>\n"
	      "  <project_license>BSD-3-Clause</project_license>\n"
	      "  <name>rpiprov</name>\n"
	      "  <summary>Provision the bootloader EEPROM of Raspberry Pi boards over USB</summary>\n"
	      "  <description>\n"
	      "    <p>Edits, signs and writes the bootloader EEPROM of Raspberry Pi boards in USB\n"
	      "    boot mode, one board or a factory tray at a time, and checks each write.</p>\n"
	      "  </description>\n"
	      "  <provides>\n"
	      "    <binary>rpiprov</binary>\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "    <modalias>usb:v%04Xp%04Xd*</modalias>\n", socs[i].vid, socs[i].pid);
	fputs("  </provides>\n"
	      "</component>\n", f);
	return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
	const struct flavour *fl = NULL;
	int metainfo = argc == 3 && !strcmp(argv[1], "metainfo");
	FILE *f;
	int r;

	for (size_t i = 0; argc == 3 && i < sizeof(flavours) / sizeof(flavours[0]); i++)
		if (!strcmp(argv[1], flavours[i].name))
			fl = &flavours[i];
	if (!fl && !metainfo) {
		fprintf(stderr, "usage: %s access|autoprovision|metainfo OUT\n", argv[0]);
		return 2;
	}
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	r = metainfo ? write_metainfo(f) : write_rules(f, fl);
	if (fclose(f) != 0 || r < 0) {
		perror(argv[2]);
		remove(argv[2]);
		return 1;
	}
	return 0;
}
