/* The SQLite manufacturing database as a sink: one transaction per
 * attempt, committed (and synced) before append returns; a replayed
 * attempt changes nothing. */
#include "records/sink.h"

#include <stdlib.h>
#include <string.h>

#include "records/sqlite_db.h"

struct sqlite_sink {
	struct rp_sink base;
	char *path;
	struct rp_db *db;
	unsigned busy_ms;
};

static int sqlite_open(struct rp_sink *s, struct rp_diag *d)
{
	struct sqlite_sink *q = (struct sqlite_sink *)s;
	int ret;

	if (q->db)
		return RP_OK;
	ret = rp_db_open(q->path, RP_DB_READWRITE, &q->db, d);
	if (ret == RP_OK && q->busy_ms)
		rp_db_set_busy_timeout(q->db, q->busy_ms);
	return ret;
}

void rp_sink_sqlite_set_busy_timeout(struct rp_sink *s, unsigned ms)
{
	struct sqlite_sink *q = (struct sqlite_sink *)s;

	q->busy_ms = ms;
	if (q->db)
		rp_db_set_busy_timeout(q->db, ms);
}

static int sqlite_append(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d)
{
	struct sqlite_sink *q = (struct sqlite_sink *)s;

	if (!q->db)
		return rp_diag_set(d, RP_ERR_IO, "%s: database is not open", q->path);
	return rp_db_add_attempt(q->db, e->rec, e->origin, d);
}

static int sqlite_last_attempt_id(struct rp_sink *s, const char *station, uint64_t *out,
				  struct rp_diag *d)
{
	struct sqlite_sink *q = (struct sqlite_sink *)s;

	*out = 0;
	return q->db ? rp_db_last_attempt_id(q->db, station, out, d) : RP_OK;
}

static void sqlite_close(struct rp_sink *s)
{
	struct sqlite_sink *q = (struct sqlite_sink *)s;

	rp_db_close(q->db);
	free(q->path);
	free(q);
}

static const struct rp_sink_ops sqlite_ops = {
	.open = sqlite_open,
	.append = sqlite_append,
	.close = sqlite_close,
	.last_attempt_id = sqlite_last_attempt_id,
};

int rp_sink_sqlite_new(const char *path, struct rp_sink **out, struct rp_diag *d)
{
	struct sqlite_sink *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q || !(q->path = strdup(path ? path : ""))) {
		free(q);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path ? path : "database");
	}
	q->base.ops = &sqlite_ops;
	rp_sink_set_name(&q->base, "database", q->path);
	*out = &q->base;
	return RP_OK;
}
