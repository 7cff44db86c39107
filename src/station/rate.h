/* Boards per hour as measured, not extrapolated: the OK attempts that
 * really finished in the trailing hour, counted in one-minute buckets.
 * Before the station has run an hour the window is the time since the
 * first attempt started, and there is no figure at all until an attempt
 * has finished and a minute has passed (two boards in the first three
 * seconds are not "2400 boards/h"). Not locked: the owner locks. */
#ifndef RP_STATION_RATE_H
#define RP_STATION_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define RP_RATE_BUCKETS 60
#define RP_RATE_BUCKET_MS 60000u
#define RP_RATE_MIN_WINDOW_MS 60000u

struct rp_rate {
	uint64_t first_start_ms; /* monotonic; 0: no attempt yet */
	uint64_t bucket_minute[RP_RATE_BUCKETS];
	unsigned bucket_count[RP_RATE_BUCKETS];
	bool any_finished;
};

void rp_rate_started(struct rp_rate *r, uint64_t now_ms);
/* One attempt finished; only OK ones count as boards. */
void rp_rate_finished(struct rp_rate *r, uint64_t now_ms, bool ok);
/* false when there is no measurement yet; else *per_hour and the OK
 * attempts in the window (*count). */
bool rp_rate_per_hour(const struct rp_rate *r, uint64_t now_ms, double *per_hour, unsigned *count);

#endif
