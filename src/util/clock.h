#ifndef RP_UTIL_CLOCK_H
#define RP_UTIL_CLOCK_H

#include <pthread.h>
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

/* The deadline `timeout_ms` from now; saturates instead of wrapping, so
 * "wait for ever" (UINT64_MAX) stays for ever. */
static inline uint64_t rp_deadline_in(uint64_t timeout_ms)
{
	uint64_t now = rp_now_ms();
	return timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
}

/* Milliseconds left until `deadline` (0 once it has passed). */
static inline uint64_t rp_ms_until(uint64_t deadline)
{
	uint64_t now = rp_now_ms();
	return deadline > now ? deadline - now : 0;
}

/* A monotonic millisecond time as the timespec pthread_cond_timedwait
 * wants, for a condition variable made by rp_cond_init_monotonic: a wall
 * clock step must not stretch or cut a board's timeout. */
static inline struct timespec rp_ms_to_timespec(uint64_t ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return ts;
}

static inline void rp_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
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
