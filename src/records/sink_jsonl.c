/* The JSON Lines report: one object per attempt, appended and flushed to
 * disk as each board finishes, so a crash or power cut loses at most the
 * board in flight. Several processes (or threads) may append to the same
 * file: each line goes out in one write() on an O_APPEND descriptor, which
 * the kernel never interleaves. */
#include "records/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/record_json.h"
#include "util/fileio.h"

struct jsonl_sink {
	struct rp_sink base;
	int fd;
	char *path;
};

/* Write all of buf with O_APPEND semantics. A regular file takes the whole
 * buffer in one call; the loop only matters for EINTR before anything was
 * written and for a full disk. */
static ssize_t write_full(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* A process killed in the middle of a line (full disk, power cut) leaves
 * a tail without '\n': end it, so our first line starts on its own. */
static int terminate_torn_tail(struct jsonl_sink *j, struct rp_diag *d)
{
	struct stat st;
	char last;

	if (fstat(j->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return RP_OK;
	if (pread(j->fd, &last, 1, st.st_size - 1) != 1 || last == '\n')
		return RP_OK;
	if (write_full(j->fd, "\n", 1) != 1)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot write: %s", j->path,
				   strerror(errno));
	return RP_OK;
}

static int jsonl_open(struct rp_sink *s, struct rp_diag *d)
{
	struct jsonl_sink *j = (struct jsonl_sink *)s;
	int ret;

	if (!*j->path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "report file name is empty");
	ret = rp_mkdir_parent(j->path, 0755, d);
	if (ret < 0)
		return ret;
	/* O_RDWR rather than O_WRONLY only to look at the last byte. */
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (j->fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open report: %s", j->path,
				   strerror(errno));
	return terminate_torn_tail(j, d);
}

static int jsonl_append(struct rp_sink *s, const struct rp_sink_entry *e, struct rp_diag *d)
{
	struct jsonl_sink *j = (struct jsonl_sink *)s;
	const struct rp_board_record *r = e->rec;
	size_t len = 0;
	char *line;
	ssize_t n;
	int err;

	if (j->fd < 0)
		return rp_diag_set(d, RP_ERR_IO, "%s: report is not open", j->path);
	line = rp_record_json_line(r, e->origin, &len);
	if (!line)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory encoding attempt %llu", j->path,
				   (unsigned long long)r->attempt_id);
	n = write_full(j->fd, line, len);
	err = errno;
	free(line);
	if (n != (ssize_t)len) {
		/* Keep the file line-structured for the next writer. */
		if (n > 0)
			(void)write_full(j->fd, "\n", 1);
		return rp_diag_set(d, rp_errno_to_error(n < 0 ? err : ENOSPC),
				   "%s: cannot append attempt %llu (board %s): %s", j->path,
				   (unsigned long long)r->attempt_id, r->serial[0] ? r->serial : r->port_path,
				   strerror(n < 0 ? err : ENOSPC));
	}
	if (fdatasync(j->fd) < 0 && errno != EINVAL)
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot sync: %s", j->path, strerror(errno));
	return RP_OK;
}

static void jsonl_close(struct rp_sink *s)
{
	struct jsonl_sink *j = (struct jsonl_sink *)s;

	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

static const struct rp_sink_ops jsonl_ops = {
	.open = jsonl_open,
	.append = jsonl_append,
	.close = jsonl_close,
};

int rp_sink_jsonl_new(const char *path, struct rp_sink **out, struct rp_diag *d)
{
	struct jsonl_sink *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (!j || !(j->path = strdup(path ? path : ""))) {
		free(j);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path ? path : "report");
	}
	j->fd = -1;
	j->base.ops = &jsonl_ops;
	rp_sink_set_name(&j->base, "report", j->path);
	*out = &j->base;
	return RP_OK;
}
