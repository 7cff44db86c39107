#include "records/origin.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/hex.h"

static void make_run_id(char out[RP_ORIGIN_RUN_ID_MAX])
{
	uint8_t b[8];
	ssize_t n = getrandom(b, sizeof(b), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(b)) {
		/* Early boot without entropy: still unique enough per station. */
		uint64_t v = rp_now_us() ^ ((uint64_t)getpid() << 40);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)(v >> (8 * i));
	}
	rp_hex_encode(b, sizeof(b), out);
}

void rp_origin_buf_init(struct rp_origin_buf *b, const char *station, const char *run_id)
{
	memset(b, 0, sizeof(*b));
	if (run_id && *run_id)
		snprintf(b->run_id, sizeof(b->run_id), "%s", run_id);
	else
		make_run_id(b->run_id);
	if (station && *station)
		snprintf(b->station, sizeof(b->station), "%s", station);
	else if (gethostname(b->station, sizeof(b->station) - 1) < 0 || !b->station[0])
		snprintf(b->station, sizeof(b->station), "station");
	b->origin.station = b->station;
	b->origin.run_id = b->run_id;
}
