#include "image/second_stage.h"

#include <stdio.h>
#include <string.h>

#include "soc/soc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The banner word each kind prints after "RPi:" on its UART, in the order
 * they are tried: a recovery.bin also holds " RPIBOOT" (the boot mode's
 * name). */
static const struct {
	const char *marker;
	enum rp_second_stage_kind kind;
} kind_markers[] = {
	{ " RECOVERY", RP_SECOND_STAGE_RECOVERY },
	{ " BOOTSYS", RP_SECOND_STAGE_BOOTSYS },
	{ " RPIBOOT", RP_SECOND_STAGE_RPIBOOT },
};

/* Strings only one chip's second stage contains. Not every RP1 string
 * will do: the 2711 recovery.bin names rp1c0fw1.bin too. */
static const struct {
	const char *marker;
	const char *soc;
} soc_markers[] = {
	{ "RP1_BOOT", "2712" },
	{ "gpio-rp1", "2712" },
	{ "vc_driver_sdram_init_2711", "2711" },
};

static const char *const kind_names[] = {
	[RP_SECOND_STAGE_UNKNOWN] = "second stage of unknown kind",
	[RP_SECOND_STAGE_RECOVERY] = "recovery.bin",
	[RP_SECOND_STAGE_BOOTSYS] = "bootfiles.bin bootsys",
	[RP_SECOND_STAGE_RPIBOOT] = "usbboot mass-storage bootcode",
};

static bool contains(const uint8_t *data, size_t len, const char *s)
{
	return memmem(data, len, s, strlen(s)) != NULL;
}

static bool digits(const uint8_t *p, size_t n, uint32_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		*v = *v * 10 + (uint32_t)(p[i] - '0');
	}
	return true;
}

/* "DATE: YYYY/MM/DD" (the banner's build date). */
static uint32_t find_date(const uint8_t *data, size_t len)
{
	static const char tag[] = "DATE: ";
	const size_t tl = sizeof(tag) - 1, want = tl + 10;
	const uint8_t *p = data;
	size_t left = len;

	while (left >= want) {
		const uint8_t *hit = memmem(p, left, tag, tl);
		uint32_t y, m, d;
		if (!hit || (size_t)(data + len - hit) < want)
			return 0;
		if (digits(hit + tl, 4, &y) && hit[tl + 4] == '/' && digits(hit + tl + 5, 2, &m) &&
		    hit[tl + 7] == '/' && digits(hit + tl + 8, 2, &d) && y >= 2000 && m >= 1 &&
		    m <= 12 && d >= 1 && d <= 31)
			return y * 10000 + m * 100 + d;
		left = (size_t)(data + len - hit) - 1;
		p = hit + 1;
	}
	return 0;
}

void rp_second_stage_identify(const uint8_t *data, size_t len, struct rp_second_stage_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!data)
		return;
	for (size_t i = 0; i < N(kind_markers); i++)
		if (contains(data, len, kind_markers[i].marker)) {
			out->kind = kind_markers[i].kind;
			break;
		}
	for (size_t i = 0; i < N(soc_markers); i++)
		if (contains(data, len, soc_markers[i].marker)) {
			out->soc = rp_soc_by_name(soc_markers[i].soc);
			break;
		}
	out->build_date = find_date(data, len);
	out->sends_metadata = contains(data, len, "*MAC_ADDR*");
	out->reports_hash = contains(data, len, "*EEPROM_HASH*") &&
			    contains(data, len, "*EEPROM_UPDATE*");
}

const char *rp_second_stage_kind_name(enum rp_second_stage_kind k)
{
	return (unsigned)k < N(kind_names) ? kind_names[k] : kind_names[0];
}

const char *rp_second_stage_describe(const struct rp_second_stage_info *i, char *buf, size_t size)
{
	char date[24] = "";
	if (i->build_date)
		snprintf(date, sizeof(date), " built %04u-%02u-%02u", i->build_date / 10000,
			 (i->build_date / 100) % 100, i->build_date % 100);
	snprintf(buf, size, "%s%s%s", i->soc ? i->soc->chip : "", i->soc ? " " : "",
		 rp_second_stage_kind_name(i->kind));
	if (size > strlen(buf))
		snprintf(buf + strlen(buf), size - strlen(buf), "%s", date);
	return buf;
}
