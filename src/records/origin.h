/* Who wrote a record: the station's name and the id of one run of it.
 * Attempt ids restart with every run, so (run_id, attempt_id) is what
 * identifies an attempt in every sink. */
#ifndef RP_RECORDS_ORIGIN_H
#define RP_RECORDS_ORIGIN_H

struct rp_record_origin {
	const char *station;
	const char *run_id;
};

#define RP_ORIGIN_STATION_MAX 64
#define RP_ORIGIN_RUN_ID_MAX 40

/* An origin with its own storage, for whoever keeps one for a whole run. */
struct rp_origin_buf {
	char station[RP_ORIGIN_STATION_MAX];
	char run_id[RP_ORIGIN_RUN_ID_MAX];
	struct rp_record_origin origin; /* points into the two above */
};

/* Fill b: station NULL or "": the host name ("station" if it has none);
 * run_id NULL or "": 16 random hex digits. Longer names are cut. b must
 * stay where it is (origin points into it). */
void rp_origin_buf_init(struct rp_origin_buf *b, const char *station, const char *run_id);

#endif
