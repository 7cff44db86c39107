#include "util/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int rp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, struct rp_diag *d)
{
	unsigned long long v;

	if (!text || !all_digits(text))
		goto bad;
	errno = 0;
	v = strtoull(text, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		goto bad;
	*out = v;
	return RP_OK;
bad:
	return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s' is not a number from %" PRIu64 " to %" PRIu64,
			   text ? text : "", min, max);
}

int rp_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out, struct rp_diag *d)
{
	uint64_t v;
	int r = rp_parse_u64(text, min, max, &v, d);

	if (r == RP_OK)
		*out = (unsigned)v;
	return r;
}

/* Longest suffixes first where one is a prefix of another ("ms" vs "m",
 * "min" vs "m"). */
static const struct {
	const char *suffix;
	double ms;
} duration_units[] = {
	{ "ms", 1 }, { "min", 60000 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 },
};

int rp_parse_duration_ms(const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *out,
			 struct rp_diag *d)
{
	char lo[32], hi[32];
	const char *p = text;
	char *end;
	double x;

	/* Only digits with at most one decimal point: strtod alone would also
	 * take "inf", "0x10", "1e3", " 5" and "-1". */
	if (!text)
		goto bad;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (p == text || (p == text + 1 && *text == '.'))
		goto bad;
	errno = 0;
	x = strtod(text, &end);
	if (errno || end != p || !isfinite(x))
		goto bad;
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(end, duration_units[i].suffix) != 0)
			continue;
		double ms = x * duration_units[i].ms;
		if (ms < (double)min_ms || ms > (double)max_ms) {
			rp_format_duration_ms(min_ms, lo, sizeof(lo));
			rp_format_duration_ms(max_ms, hi, sizeof(hi));
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "'%s' is out of range (%s to %s)", text, lo,
					   hi);
		}
		*out = (uint64_t)(ms + 0.5);
		return RP_OK;
	}
bad:
	return rp_diag_set(d, RP_ERR_INVALID_ARG,
			   "'%s' is not a duration (e.g. 90 or 90s for seconds, 1500ms, 2m, 1h)",
			   text ? text : "");
}

const char *rp_format_duration_ms(uint64_t ms, char *buf, unsigned size)
{
	if (ms % 3600000 == 0 && ms >= 3600000)
		snprintf(buf, size, "%" PRIu64 " h", ms / 3600000);
	else if (ms % 60000 == 0 && ms >= 60000)
		snprintf(buf, size, "%" PRIu64 " min", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%" PRIu64 " s", ms / 1000);
	else
		snprintf(buf, size, "%" PRIu64 " ms", ms);
	return buf;
}
