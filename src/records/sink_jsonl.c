/* The JSON Lines report: one object per attempt, appended and flushed to
 * disk as each board finishes. Several processes (or threads) may append
 * to the same file: each line goes out in one write() on an O_APPEND
 * descriptor, which the kernel never interleaves, under an exclusive
 * flock that rpiprov writers share, so a line that could not be written
 * whole (a full disk) is cut off again before anyone appends after it.
 *
 * Rotation: an administrator's logrotate renames the file (and may
 * create an empty one in its place): before each line the path is looked
 * at again, and when it no longer names the open file, it is opened (made)
 * anew, so new lines go where the name points, not into the rotated file.
 * copytruncate cuts the file to nothing under us: O_APPEND writes the
 * next line at the new end, never behind a hole (what logrotate copied
 * and then cut between its copy and its truncate is lost to copytruncate
 * itself: prefer create).
 *
 * Convergence: a line torn by a crash (no '\n' at the end of the file) is
 * truncated when the file is opened, and the attempts found in the last
 * TAIL_SCAN bytes are remembered, so records the spool hands us again
 * after a crash (at most one batch, spool.h) are not written twice. */
#include "records/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/record_json.h"
#include "util/fileio.h"

/* Far more than a replay can reach back (64 records, spool.h), with room
 * for other stations' lines in between. */
#define TAIL_SCAN (4u << 20)

struct seen_key {
	char run_id[RP_ORIGIN_RUN_ID_MAX];
	uint64_t attempt_id;
};

struct jsonl_sink {
	struct rp_sink base;
	int fd;
	char *path;
	/* Attempts at the end of the file when it was opened; dropped at
	 * the first append that is not among them (replays come first). */
	struct seen_key *seen;
	size_t n_seen;
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

static int io_fail(struct jsonl_sink *j, struct rp_diag *d, const char *what)
{
	int e = errno;
	return rp_diag_set(d, rp_errno_to_error(e), "%s: %s: %s", j->path, what, strerror(e));
}

/* A process killed in the middle of a line (full disk, power cut) leaves
 * a tail without '\n': cut it off, back to the end of the last whole
 * line. The attempt it held is still in the spool and comes again. */
static int truncate_torn_tail(struct jsonl_sink *j, off_t size, struct rp_diag *d)
{
	char buf[4096];
	off_t end = size;

	while (end > 0) {
		size_t n = end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		ssize_t got = pread(j->fd, buf, n, end - (off_t)n);
		if (got != (ssize_t)n)
			return io_fail(j, d, "cannot read");
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				end -= (off_t)(n - i);
				goto found;
			}
		end -= (off_t)n;
	}
found:
	if (end == size)
		return RP_OK;
	if (ftruncate(j->fd, end) < 0 || fdatasync(j->fd) < 0)
		return io_fail(j, d, "cannot cut off a torn last line");
	return RP_OK;
}

static void remember_line(struct jsonl_sink *j, const char *line, size_t len, size_t *cap)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL, *run, *id;

	if (o && json_object_object_get_ex(o, "run_id", &run) &&
	    json_object_is_type(run, json_type_string) &&
	    json_object_object_get_ex(o, "attempt_id", &id) && json_object_is_type(id, json_type_int)) {
		if (j->n_seen == *cap) {
			size_t ncap = *cap ? *cap * 2 : 128;
			struct seen_key *n = realloc(j->seen, ncap * sizeof(*n));
			if (!n)
				goto out;
			j->seen = n;
			*cap = ncap;
		}
		snprintf(j->seen[j->n_seen].run_id, RP_ORIGIN_RUN_ID_MAX, "%s", json_object_get_string(run));
		j->seen[j->n_seen].attempt_id = json_object_get_uint64(id);
		j->n_seen++;
	}
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

/* The attempts in the last TAIL_SCAN bytes (whole lines only). */
static int scan_tail(struct jsonl_sink *j, off_t size, struct rp_diag *d)
{
	size_t len = size > (off_t)TAIL_SCAN ? TAIL_SCAN : (size_t)size, cap = 0;
	char *buf, *p, *end;

	if (!len)
		return RP_OK;
	buf = malloc(len);
	if (!buf)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", j->path);
	if (pread(j->fd, buf, len, size - (off_t)len) != (ssize_t)len) {
		free(buf);
		return io_fail(j, d, "cannot read");
	}
	p = buf;
	end = buf + len;
	if (len < (size_t)size) { /* the first line is cut: skip it */
		p = memchr(p, '\n', len);
		p = p ? p + 1 : end;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n)
			remember_line(j, p, n, &cap);
		p += n + 1;
	}
	free(buf);
	return RP_OK;
}

static bool already_there(struct jsonl_sink *j, const struct rp_sink_entry *e)
{
	const char *run = e->origin && e->origin->run_id ? e->origin->run_id : "";

	for (size_t i = j->n_seen; i > 0; i--)
		if (j->seen[i - 1].attempt_id == e->rec->attempt_id &&
		    !strncmp(j->seen[i - 1].run_id, run, RP_ORIGIN_RUN_ID_MAX - 1))
			return true;
	/* Replays come first and in order: past them, nothing is there. */
	free(j->seen);
	j->seen = NULL;
	j->n_seen = 0;
	return false;
}

static int jsonl_open(struct rp_sink *s, struct rp_diag *d)
{
	struct jsonl_sink *j = (struct jsonl_sink *)s;
	int ret;

	if (!*j->path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "report file name is empty");
	if (j->fd >= 0) { /* tried again after a failed open */
		close(j->fd);
		j->fd = -1;
	}
	ret = rp_mkdir_parent(j->path, 0755, d);
	if (ret < 0)
		return ret;
	/* O_RDWR rather than O_WRONLY only to look at the last byte. */
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (j->fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open report: %s", j->path,
				   strerror(errno));
	{
		struct stat st;
		if (fstat(j->fd, &st) < 0)
			return io_fail(j, d, "cannot open report");
		if (!S_ISREG(st.st_mode))
			return RP_OK; /* a pipe or /dev/stdout: nothing to repair or scan */
	}
	if (flock(j->fd, LOCK_EX) < 0)
		return io_fail(j, d, "cannot lock");
	{
		struct stat st;
		ret = fstat(j->fd, &st) < 0 ? io_fail(j, d, "cannot open report")
					    : truncate_torn_tail(j, st.st_size, d);
		if (ret == RP_OK && fstat(j->fd, &st) == 0)
			ret = scan_tail(j, st.st_size, d);
	}
	flock(j->fd, LOCK_UN);
	return ret;
}

/* The path names another file than the one open (renamed by logrotate,
 * or removed): open the path, made anew if need be. Under no lock; a
 * failure leaves the old descriptor, and the next line tries again. */
static int follow_rename(struct jsonl_sink *j, struct rp_diag *d)
{
	struct stat open_st, path_st;
	int fd;

	if (fstat(j->fd, &open_st) < 0 || !S_ISREG(open_st.st_mode))
		return RP_OK;
	if (stat(j->path, &path_st) == 0 && path_st.st_dev == open_st.st_dev &&
	    path_st.st_ino == open_st.st_ino)
		return RP_OK;
	fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno),
				   "%s: the report was moved away and cannot be made anew: %s", j->path,
				   strerror(errno));
	close(j->fd);
	j->fd = fd;
	return RP_OK;
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
	if (j->n_seen && already_there(j, e))
		return RP_OK;
	err = follow_rename(j, d);
	if (err < 0)
		return err;
	line = rp_record_json_line(r, e->origin, &len);
	if (!line)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory encoding attempt %llu", j->path,
				   (unsigned long long)r->attempt_id);
	{
		/* Writers of the same file wait for each other here, so a torn
		 * line is cut off before anyone appends behind it. */
		bool locked = flock(j->fd, LOCK_EX) == 0;
		struct stat st;
		off_t before = fstat(j->fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
		n = write_full(j->fd, line, len);
		err = errno;
		if (n != (ssize_t)len && n > 0 && before >= 0)
			(void)ftruncate(j->fd, before);
		if (locked)
			flock(j->fd, LOCK_UN);
	}
	free(line);
	if (n != (ssize_t)len)
		return rp_diag_set(d, rp_errno_to_error(n < 0 ? err : ENOSPC),
				   "%s: cannot append attempt %llu (board %s): %s", j->path,
				   (unsigned long long)r->attempt_id, r->serial[0] ? r->serial : r->port_path,
				   strerror(n < 0 ? err : ENOSPC));
	if (fdatasync(j->fd) < 0 && errno != EINVAL)
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot sync: %s", j->path, strerror(errno));
	return RP_OK;
}

static void jsonl_close(struct rp_sink *s)
{
	struct jsonl_sink *j = (struct jsonl_sink *)s;

	if (j->fd >= 0)
		close(j->fd);
	free(j->seen);
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
