#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int rp_errno_to_error(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return RP_ERR_NOT_FOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return RP_ERR_ACCESS;
	case ENOMEM:
		return RP_ERR_NOMEM;
	case EEXIST:
		return RP_ERR_EXISTS;
	default:
		return RP_ERR_IO;
	}
}

/* Inflate one whole gzip member from `in`. Every byte is accounted for:
 * a file that is not gzip at all (zlib's gz* functions would pass it
 * through as if it were), a truncated stream, a bad CRC or length, and
 * bytes after the end are errors, not data. */
static int inflate_gz(const char *path, const uint8_t *in, size_t in_len, size_t max_size,
		      uint8_t **data, size_t *len, struct rp_diag *d)
{
	z_stream z;
	size_t cap = 64 * 1024;
	uint8_t *buf;
	int zr;

	if (in_len < 2 || in[0] != 0x1f || in[1] != 0x8b)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: not gzip data (a name ending in .gz is read as gzip)", path);
	if (in_len > UINT_MAX)
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: too large", path);
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: cannot start zlib", path);
	buf = malloc(cap + 1);
	if (!buf) {
		inflateEnd(&z);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	do {
		if (z.total_out == cap) {
			uint8_t *nb;
			if (cap > max_size) {
				zr = rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: inflates to more than %zu bytes",
						 path, max_size);
				goto fail;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				zr = rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out > UINT_MAX ? UINT_MAX : cap - z.total_out);
		zr = inflate(&z, Z_NO_FLUSH);
	} while (zr == Z_OK);
	if (zr != Z_STREAM_END) {
		zr = rp_diag_set(d, RP_ERR_FORMAT, "%s: corrupt gzip data: %s", path,
				 zr == Z_BUF_ERROR ? "truncated (the stream ends early)"
				 : z.msg	   ? z.msg
						   : "inflate failed");
		goto fail;
	}
	if (z.avail_in) {
		zr = rp_diag_set(d, RP_ERR_FORMAT,
				 "%s: %u bytes of trailing data after the gzip stream", path,
				 z.avail_in);
		goto fail;
	}
	if (z.total_out > max_size) {
		zr = rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: inflates to %lu bytes, more than %zu",
				 path, z.total_out, max_size);
		goto fail;
	}
	*len = z.total_out;
	buf[*len] = 0;
	*data = buf;
	inflateEnd(&z);
	return RP_OK;
fail:
	free(buf);
	inflateEnd(&z);
	return zr;
}

int rp_file_read_all(const char *path, size_t max_size, uint8_t **data, size_t *len,
		     struct rp_diag *d)
{
	struct stat st;
	uint8_t *buf;
	size_t used = 0;
	int fd;

	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO (or a device) must not hang the command
	 * before it can say what is wrong; only regular files are read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: cannot open: %s", path,
				   strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rp_diag_set(d, RP_ERR_IO, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max_size) {
		close(fd);
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: %lld bytes, more than the %zu allowed",
				   path, (long long)st.st_size, max_size);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	while (used < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return rp_diag_set(d, RP_ERR_IO, "%s: read failed: %s", path, strerror(e));
		}
		if (n == 0)
			break; /* file shrank under us: take what is there */
		used += (size_t)n;
	}
	close(fd);
	if (has_suffix(path, ".gz")) {
		int r = inflate_gz(path, buf, used, max_size, data, len, d);
		free(buf);
		return r;
	}
	buf[used] = 0;
	*data = buf;
	*len = used;
	return RP_OK;
}

int rp_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct rp_diag *d)
{
	size_t plen = strlen(path);
	const uint8_t *p = data;
	size_t done = 0;
	struct stat st;
	char *tmp;
	int fd;

	/* Renaming over a device node or a symlink would replace it with a
	 * regular file (as root, -o /dev/null would replace the real one). */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return rp_diag_set(d, RP_ERR_REFUSED,
				   "%s: not a regular file (%s); rpiprov writes outputs as regular "
				   "files only",
				   path, S_ISLNK(st.st_mode) ? "a symbolic link"
				   : S_ISDIR(st.st_mode) ? "a directory" : "a device or special file");
	tmp = malloc(plen + 16);
	if (!tmp)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return rp_diag_set(d, rp_errno_to_error(e), "%s: cannot create output: %s", path,
				   strerror(e));
	}
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			unlink(tmp);
			free(tmp);
			return rp_diag_set(d, rp_errno_to_error(e), "%s: write failed: %s", path, strerror(e));
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return rp_diag_set(d, rp_errno_to_error(e), "%s: cannot finish output: %s", path,
				   strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return rp_diag_set(d, rp_errno_to_error(e), "%s: cannot rename into place: %s", path,
				   strerror(e));
	}
	free(tmp);
	return RP_OK;
}

bool rp_file_same(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int rp_mkdir_p(const char *path, mode_t mode, struct rp_diag *d)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: bad directory name", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST) {
			int e = errno;
			return rp_diag_set(d, rp_errno_to_error(e), "%s: cannot create directory: %s", buf,
					   strerror(e));
		}
		buf[i] = saved;
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return rp_diag_set(d, RP_ERR_IO, "%s: not a directory", path);
	return RP_OK;
}

int rp_mkdir_parent(const char *path, mode_t mode, struct rp_diag *d)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash || slash == path)
		return RP_OK;
	dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	ret = rp_mkdir_p(dir, mode, d);
	free(dir);
	return ret;
}
