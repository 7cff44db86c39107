#include "station/rate.h"

void rp_rate_started(struct rp_rate *r, uint64_t now_ms)
{
	if (!r->first_start_ms)
		r->first_start_ms = now_ms ? now_ms : 1;
}

void rp_rate_finished(struct rp_rate *r, uint64_t now_ms, bool ok)
{
	uint64_t minute = now_ms / RP_RATE_BUCKET_MS;
	unsigned i = (unsigned)(minute % RP_RATE_BUCKETS);

	r->any_finished = true;
	if (!ok)
		return;
	if (r->bucket_minute[i] != minute) {
		r->bucket_minute[i] = minute;
		r->bucket_count[i] = 0;
	}
	r->bucket_count[i]++;
}

bool rp_rate_per_hour(const struct rp_rate *r, uint64_t now_ms, double *per_hour, unsigned *count)
{
	uint64_t minute = now_ms / RP_RATE_BUCKET_MS;
	uint64_t window = r->first_start_ms && now_ms > r->first_start_ms ? now_ms - r->first_start_ms : 0;
	unsigned n = 0;

	*per_hour = 0;
	*count = 0;
	if (!r->any_finished || window < RP_RATE_MIN_WINDOW_MS)
		return false;
	if (window > (uint64_t)RP_RATE_BUCKETS * RP_RATE_BUCKET_MS)
		window = (uint64_t)RP_RATE_BUCKETS * RP_RATE_BUCKET_MS;
	for (unsigned i = 0; i < RP_RATE_BUCKETS; i++)
		if (r->bucket_count[i] && r->bucket_minute[i] + RP_RATE_BUCKETS > minute)
			n += r->bucket_count[i];
	*count = n;
	*per_hour = (double)n * 3600000.0 / (double)window;
	return true;
}
