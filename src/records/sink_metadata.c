/* rpiboot -j: a directory of <serial>.json files, rewritten whole (through
 * a temporary file) on every attempt of the board, so a reader never sees
 * half of one. */
#include "records/sink.h"

#include <stdlib.h>
#include <string.h>

#include "records/metadata_json.h"
#include "util/fileio.h"

struct metadata_sink {
	struct rp_sink base;
	char *dir;
};

static int metadata_open(struct rp_sink *s, struct rp_diag *d)
{
	struct metadata_sink *m = (struct metadata_sink *)s;

	if (!*m->dir)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "metadata directory not given");
	return rp_mkdir_p(m->dir, 0755, d);
}

static int metadata_append(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d)
{
	struct metadata_sink *m = (struct metadata_sink *)s;

	/* rpiboot -j writes a file only for boards that told it something. */
	if (e->rec->n_meta == 0)
		return RP_OK;
	return rp_metadata_json_write(m->dir, e->rec, d);
}

static void metadata_close(struct rp_sink *s)
{
	struct metadata_sink *m = (struct metadata_sink *)s;

	free(m->dir);
	free(m);
}

static const struct rp_sink_ops metadata_ops = {
	.open = metadata_open,
	.append = metadata_append,
	.close = metadata_close,
};

int rp_sink_metadata_new(const char *dir, struct rp_sink **out, struct rp_diag *d)
{
	struct metadata_sink *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->dir = strdup(dir ? dir : ""))) {
		free(m);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", dir ? dir : "metadata");
	}
	m->base.ops = &metadata_ops;
	rp_sink_set_name(&m->base, "metadata", m->dir);
	*out = &m->base;
	return RP_OK;
}
