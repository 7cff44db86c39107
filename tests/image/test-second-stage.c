/* Second stages told apart by their bytes (image/second_stage.c): made-up
 * buffers everywhere, and the real recovery.bin files when the firmware
 * fixtures are at hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/second_stage.h"
#include "soc/soc.h"
#include "testlib.h"
#include "util/fileio.h"

static void identify_text(const char *text, struct rp_second_stage_info *i)
{
	rp_second_stage_identify((const uint8_t *)text, strlen(text), i);
}

static void test_markers(void)
{
	struct rp_second_stage_info i;
	char buf[96];

	identify_text("\x01\x02 garbage with no markers DATE: 2026/13/01", &i);
	CHECK_EQ_INT(i.kind, RP_SECOND_STAGE_UNKNOWN);
	CHECK(i.soc == NULL);
	CHECK_EQ_INT(i.build_date, 0); /* month 13 is no date */

	/* A recovery.bin names " RPIBOOT" too (the boot mode): RECOVERY wins. */
	identify_text("x RPIBOOT y RPi: RECOVERY DATE: 2025/01/01 gpio-rp1 *MAC_ADDR*%e", &i);
	CHECK_EQ_INT(i.kind, RP_SECOND_STAGE_RECOVERY);
	CHECK(i.soc && !strcmp(i.soc->soc, "2712"));
	CHECK_EQ_INT(i.build_date, 20250101);
	CHECK(i.sends_metadata);
	CHECK(!i.reports_hash);
	CHECK_STR_EQ(rp_second_stage_describe(&i, buf, sizeof(buf)),
		     "BCM2712 recovery.bin built 2025-01-01");

	identify_text(" BOOTSYS vc_driver_sdram_init_2711 rp1c0fw1.bin DATE: 2024/", &i);
	CHECK_EQ_INT(i.kind, RP_SECOND_STAGE_BOOTSYS);
	CHECK(i.soc && !strcmp(i.soc->soc, "2711")); /* rp1c0fw1.bin alone says nothing */
	CHECK_EQ_INT(i.build_date, 0);                /* cut short */

	identify_text(" RECOVERY *EEPROM_UPDATE*%s *EEPROM_HASH*%32H", &i);
	CHECK(i.reports_hash);
	rp_second_stage_identify(NULL, 0, &i);
	CHECK_EQ_INT(i.kind, RP_SECOND_STAGE_UNKNOWN);
}

static void test_real_recovery(const char *fw)
{
	static const struct {
		const char *rel, *soc;
	} files[] = { { "2711/recovery.bin", "2711" }, { "2712/recovery.bin", "2712" } };

	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		char path[4096];
		uint8_t *data = NULL;
		size_t len = 0;
		struct rp_second_stage_info i;

		snprintf(path, sizeof(path), "%s/%s", fw, files[k].rel);
		CHECK_EQ_INT(rp_file_read_all(path, 8u << 20, &data, &len, NULL), RP_OK);
		rp_second_stage_identify(data, len, &i);
		free(data);
		CHECK_EQ_INT(i.kind, RP_SECOND_STAGE_RECOVERY);
		CHECK(i.soc && !strcmp(i.soc->soc, files[k].soc));
		CHECK(i.build_date >= 20250101);
		CHECK(i.sends_metadata);
		CHECK(i.reports_hash);
	}
}

int main(void)
{
	const char *fw = test_firmware_dir();

	RUN(test_markers());
	if (fw && *fw)
		RUN(test_real_recovery(fw));
	else
		RUN_SKIPPED(test_real_recovery(fw), "RPIPROV_TEST_FIRMWARE is empty");
	return test_result();
}
