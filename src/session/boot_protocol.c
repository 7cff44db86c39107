/* rpiboot's ep_write/ep_read over the transport vtable. */
#include "session/session.h"

#include "util/clock.h"

/* The tighter of the per-transfer timeout and what is left of the
 * board's deadline; 0 when the deadline has already passed. */
static unsigned transfer_budget(unsigned timeout_ms, uint64_t deadline_ms)
{
	uint64_t now;
	if (!deadline_ms)
		return timeout_ms;
	now = rp_now_ms();
	if (now >= deadline_ms)
		return 0;
	if (deadline_ms - now < timeout_ms)
		return (unsigned)(deadline_ms - now);
	return timeout_ms;
}

int rp_ep_write(struct rp_transport *t, const void *data, size_t len, size_t chunk,
		unsigned timeout_ms, uint64_t deadline_ms, size_t *sent)
{
	const uint8_t *p = data;
	size_t done = 0;
	unsigned budget;
	int r;

	if (sent)
		*sent = 0;
	if (len > UINT32_MAX || (len && !data))
		return RP_ERR_INVALID_ARG;
	if (!chunk)
		chunk = RP_SESSION_DEFAULT_BULK_CHUNK;
	budget = transfer_budget(timeout_ms, deadline_ms);
	if (!budget)
		return RP_ERR_TIMEOUT;
	r = rp_transport_control_out(t, 0, (uint16_t)(len & 0xffff), (uint16_t)(len >> 16), NULL, 0,
				     budget);
	if (r != RP_OK)
		return r;
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		size_t actual = 0;
		budget = transfer_budget(timeout_ms, deadline_ms);
		if (!budget)
			return RP_ERR_TIMEOUT;
		r = rp_transport_bulk_out(t, p + done, n, &actual, budget);
		if (actual > n)
			actual = n; /* a backend must not claim more than it was given */
		done += actual;
		if (sent)
			*sent = done;
		if (r != RP_OK && r != RP_ERR_SHORT)
			return r;
		/* A board that took part of a chunk is still listening: send
		 * the rest, as rpiboot's chunk loop does (seen on real links,
		 * C11). Only a chunk that made no progress at all is a failure;
		 * the deadline bounds the loop. */
		if (actual == 0 && n)
			return RP_ERR_SHORT;
	}
	return RP_OK;
}

int rp_ep_read(struct rp_transport *t, void *buf, size_t len, unsigned timeout_ms,
	       uint64_t deadline_ms, size_t *got)
{
	size_t actual = 0;
	unsigned budget;
	int r;

	if (got)
		*got = 0;
	if (len > UINT16_MAX)
		return RP_ERR_INVALID_ARG; /* control transfers carry at most 64 KiB */
	budget = transfer_budget(timeout_ms, deadline_ms);
	if (!budget)
		return RP_ERR_TIMEOUT;
	r = rp_transport_control_in(t, 0, (uint16_t)len, 0, buf, len, &actual, budget);
	if (r != RP_OK)
		return r;
	if (actual > len)
		return RP_ERR_OVERFLOW;
	if (got)
		*got = actual;
	return actual == len ? RP_OK : RP_ERR_SHORT;
}

int rp_ep_write_header(struct rp_transport *t, uint32_t size, unsigned timeout_ms,
		       uint64_t deadline_ms)
{
	unsigned budget = transfer_budget(timeout_ms, deadline_ms);
	if (!budget)
		return RP_ERR_TIMEOUT;
	return rp_transport_control_out(t, 0, (uint16_t)(size & 0xffff), (uint16_t)(size >> 16),
					NULL, 0, budget);
}
