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

static int read_gz(const char *path, size_t max_size, uint8_t **data, size_t *len,
		   struct rp_diag *d)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 64 * 1024, used = 0;
	uint8_t *buf;

	if (!gz)
		return rp_diag_set(d, errno ? rp_errno_to_error(errno) : RP_ERR_IO,
				   "%s: cannot open: %s", path, errno ? strerror(errno) : "gzopen failed");
	buf = malloc(cap + 1);
	if (!buf) {
		gzclose(gz);
		return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
	}
	for (;;) {
		int n;
		if (used == cap) {
			uint8_t *nb;
			if (cap > max_size) {
				free(buf);
				gzclose(gz);
				return rp_diag_set(d, RP_ERR_TOO_LARGE,
						   "%s: inflates to more than %zu bytes", path, max_size);
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				gzclose(gz);
				return rp_diag_set(d, RP_ERR_NOMEM, "%s: out of memory", path);
			}
			buf = nb;
		}
		n = gzread(gz, buf + used, (unsigned)(cap - used > INT_MAX ? INT_MAX : cap - used));
		if (n < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			rp_diag_set(d, RP_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
			free(buf);
			gzclose(gz);
			return RP_ERR_FORMAT;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	gzclose(gz);
	if (used > max_size) {
		free(buf);
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: inflates to %zu bytes, more than %zu",
				   path, used, max_size);
	}
	buf[used] = 0;
	*data = buf;
	*len = used;
	return RP_OK;
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
	if (has_suffix(path, ".gz")) {
		close(fd);
		errno = 0;
		return read_gz(path, max_size, data, len, d);
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
