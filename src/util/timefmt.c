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

/* Whether s starts with the shape of mask, where 'd' is a digit and any
 * other character stands for itself: strptime alone would also take
 * "2024-5-1" and blanks before a field. */
static bool has_shape(const char *s, const char *mask)
{
	for (; *mask; s++, mask++) {
		if (*mask == 'd' ? !isdigit((unsigned char)*s) : *s != *mask)
			return false;
	}
	return true;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.fff...]]][Z|(+|-)HH[[:]MM]]": strptime reads
 * the fields, timegm does the calendar in UTC, whatever TZ says. */
static int parse_iso(const char *s, int64_t *unix_ms)
{
	struct tm tm = { 0 };
	const char *p;
	int ms = 0, off_min = 0;
	int year, mon, mday;
	time_t t;

	if (!has_shape(s, "dddd-dd-dd") || !(p = strptime(s, "%Y-%m-%d", &tm)) || p != s + 10)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (has_shape(p, "dd:dd:dd")) {
			if (strptime(p, "%H:%M:%S", &tm) != p + 8)
				return -1;
			p += 8;
			if (*p == '.') {
				int scale = 100;
				if (!isdigit((unsigned char)*++p))
					return -1;
				for (; isdigit((unsigned char)*p); p++, scale /= 10)
					ms += (*p - '0') * scale;
			}
		} else if (!has_shape(p, "dd:dd") || strptime(p, "%H:%M", &tm) != p + 5) {
			return -1;
		} else {
			p += 5;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!has_shape(p, "dd"))
				return -1;
			oh = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
			if (*p == ':')
				p++;
			if (*p) {
				if (!has_shape(p, "dd"))
					return -1;
				om = (p[0] - '0') * 10 + (p[1] - '0');
				p += 2;
			}
			if (oh > 23 || om > 59)
				return -1;
			off_min = sign * (oh * 60 + om);
		}
	}
	if (*p)
		return -1;
	year = tm.tm_year;
	mon = tm.tm_mon;
	mday = tm.tm_mday;
	tm.tm_isdst = 0;
	t = timegm(&tm);
	/* timegm normalises 2023-02-29 into March: such a date does not exist. */
	if (tm.tm_year != year || tm.tm_mon != mon || tm.tm_mday != mday)
		return -1;
	*unix_ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + ms;
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
