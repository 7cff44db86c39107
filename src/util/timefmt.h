/* Wall-clock times as records and reports show them: ISO 8601 in UTC with
 * milliseconds, and the forms `rpiprov report --since` accepts. */
#ifndef RP_UTIL_TIMEFMT_H
#define RP_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "util/clock.h"

#include "util/error.h"

#define RP_TIME_ISO_MAX 32


/* "2024-05-01T12:34:56.789Z" into buf (RP_TIME_ISO_MAX bytes). */
void rp_time_format_iso(int64_t unix_ms, char buf[RP_TIME_ISO_MAX]);

/* Parse a point in time: unix seconds ("1714566896", "@1714566896"), or
 * an ISO date "YYYY-MM-DD" optionally followed by 'T' or ' ' and
 * "HH:MM[:SS[.fff]]" and an optional "Z" or "+HH:MM"/"-HH:MM" offset.
 * Without an offset the time is UTC (a station log should not depend on
 * the host's time zone). */
int rp_time_parse(const char *text, int64_t *unix_ms, struct rp_diag *d);

#endif
