#include "util/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rp_time_format_iso(int64_t unix_ms, char buf[RP_TIME_ISO_MAX])
{
	int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
	time_t t;
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(buf, RP_TIME_ISO_MAX, "invalid");
		return;
	}
	/* The narrowing casts tell the compiler the fields are small. */
	snprintf(buf, RP_TIME_ISO_MAX, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned char)(tm.tm_mon + 1),
		 (unsigned char)tm.tm_mday, (unsigned char)tm.tm_hour, (unsigned char)tm.tm_min,
		 (unsigned char)tm.tm_sec, (unsigned)ms % 1000u);
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so parsing does not depend on TZ or timegm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool take_digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_iso(const char *s, int64_t *unix_ms)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, da, h = 0, mi = 0, se = 0, ms = 0, off_min = 0;
	const char *p = s;

	if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
	    !take_digits(&p, 2, &da))
		return -1;
	if (mo < 1 || mo > 12 || da < 1 || da > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (!take_digits(&p, 2, &se))
				return -1;
			if (*p == '.') {
				int scale = 100;
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					ms += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!take_digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (*p && !take_digits(&p, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			off_min = sign * (oh * 60 + om);
		}
	}
	if (*p)
		return -1;
	*unix_ms = ((days_from_civil(y, (unsigned)mo, (unsigned)da) * 86400 + h * 3600 + mi * 60 +
		     se - off_min * 60) * 1000) + ms;
	return 0;
}

int rp_time_parse(const char *text, int64_t *unix_ms, struct rp_diag *d)
{
	const char *s = text;
	bool all_digits = true;

	if (!s || !*s)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "empty time");
	if (*s == '@')
		s++;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			all_digits = false;
	if (*s && all_digits && strlen(s) <= 12) {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && !*end) {
			*unix_ms = (int64_t)v * 1000;
			return RP_OK;
		}
	}
	if (text[0] != '@' && parse_iso(s, unix_ms) == 0)
		return RP_OK;
	return rp_diag_set(d, RP_ERR_INVALID_ARG,
			   "'%s' is not a time: give unix seconds or an ISO date such as "
			   "2024-05-01 or 2024-05-01T14:30:00Z",
			   text);
}
