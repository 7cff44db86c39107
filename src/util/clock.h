#ifndef RP_UTIL_CLOCK_H
#define RP_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds: for timeouts and durations, never wall time. */
static inline uint64_t rp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t rp_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Wall-clock milliseconds since 1970: for records people read, never for
 * timeouts. */
static inline int64_t rp_wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
