#include "station/report_jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

struct rp_jsonl_report {
	int fd;
	char *path;
	char station[128];
	char run_id[64];
	struct rp_record_origin origin;
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
static int terminate_torn_tail(struct rp_jsonl_report *j, struct rp_diag *d)
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

int rp_jsonl_report_open(const char *path, const struct rp_record_origin *origin,
			 struct rp_jsonl_report **out, struct rp_diag *d)
{
	struct rp_jsonl_report *j;
	int ret;

	*out = NULL;
	if (!path || !*path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "report file name is empty");
	ret = rp_mkdir_parent(path, 0755, d);
	if (ret < 0)
		return ret;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	/* O_RDWR rather than O_WRONLY only to look at the last byte. */
	j->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (j->fd < 0) {
		ret = rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open report: %s", path,
				  strerror(errno));
		free(j->path);
		free(j);
		return ret;
	}
	ret = terminate_torn_tail(j, d);
	if (ret < 0) {
		rp_jsonl_report_close(j);
		return ret;
	}
	if (origin && origin->station)
		snprintf(j->station, sizeof(j->station), "%s", origin->station);
	if (origin && origin->run_id)
		snprintf(j->run_id, sizeof(j->run_id), "%s", origin->run_id);
	j->origin.station = j->station;
	j->origin.run_id = j->run_id;
	*out = j;
	return RP_OK;
}

int rp_jsonl_report_append(struct rp_jsonl_report *j, const struct rp_board_record *r,
			   struct rp_diag *d)
{
	size_t len = 0;
	char *line = rp_record_json_line(r, &j->origin, &len);
	ssize_t n;
	int e;

	if (!line)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory encoding attempt %llu", j->path,
				   (unsigned long long)r->attempt_id);
	n = write_full(j->fd, line, len);
	e = errno;
	free(line);
	if (n != (ssize_t)len) {
		/* Keep the file line-structured for the next writer. */
		if (n > 0)
			(void)write_full(j->fd, "\n", 1);
		return rp_diag_set(d, rp_errno_to_error(n < 0 ? e : ENOSPC),
				   "%s: cannot append attempt %llu (board %s): %s", j->path,
				   (unsigned long long)r->attempt_id, r->serial[0] ? r->serial : r->port_path,
				   strerror(n < 0 ? e : ENOSPC));
	}
	if (fdatasync(j->fd) < 0 && errno != EINVAL)
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot sync: %s", j->path, strerror(errno));
	return RP_OK;
}

void rp_jsonl_report_close(struct rp_jsonl_report *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}
