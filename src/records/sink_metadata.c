/* rpiboot -j: a directory of <serial>.json files, rewritten whole (through
 * a temporary file) on every attempt of the board, so a reader never sees
 * half of one. A replayed attempt (spool.h) rewrites the same file with
 * the same contents; replays come in order, so the last one stays.
 *
 * A process killed between creating its temporary file and renaming it
 * leaves <serial>.json.tmp.XXXXXX behind: opening the sink removes them.
 * Another station writing into the same directory at that moment loses
 * its rename, which is a failure that passes: its recorder tries again. */
#include "records/sink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/metadata_json.h"
#include "util/fileio.h"

struct metadata_sink {
	struct rp_sink base;
	char *dir;
};

/* "<anything>.json.tmp.XXXXXX", as rp_file_write_atomic names them. */
static bool is_stale_tmp(const char *name)
{
	const char *t = strstr(name, ".json.tmp.");
	return t && t != name && strlen(t + 10) == 6 && !strchr(t + 10, '/');
}

static int remove_stale_tmp(struct metadata_sink *m, struct rp_diag *d)
{
	DIR *dir = opendir(m->dir);
	struct dirent *e;
	int ret = RP_OK;

	if (!dir)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot read directory: %s", m->dir,
				   strerror(errno));
	while ((e = readdir(dir)))
		if (is_stale_tmp(e->d_name) && unlinkat(dirfd(dir), e->d_name, 0) < 0 && errno != ENOENT) {
			ret = rp_diag_set(d, rp_errno_to_error(errno), "%s/%s: cannot remove: %s", m->dir,
					  e->d_name, strerror(errno));
			break;
		}
	closedir(dir);
	return ret;
}

static int metadata_open(struct rp_sink *s, struct rp_diag *d)
{
	struct metadata_sink *m = (struct metadata_sink *)s;
	int ret;

	if (!*m->dir)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "metadata directory not given");
	ret = rp_mkdir_p(m->dir, 0755, d);
	return ret < 0 ? ret : remove_stale_tmp(m, d);
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
