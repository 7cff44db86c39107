#include "util/fileio.h"

#include <dirent.h>
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

static int write_new_file(int dirfd, const char *shown, const struct rp_file_out *f, mode_t mode,
			  struct rp_diag *d)
{
	const uint8_t *p = f->data;
	size_t done = 0;
	int fd = openat(dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s/%s: cannot create: %s", shown,
				   f->name, strerror(errno));
	while (done < f->len) {
		ssize_t n = write(fd, p + done, f->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return rp_diag_set(d, rp_errno_to_error(e), "%s/%s: write failed: %s", shown,
					   f->name, strerror(e));
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return rp_diag_set(d, rp_errno_to_error(e), "%s/%s: cannot finish: %s", shown,
				   f->name, strerror(e));
	}
	if (close(fd) < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s/%s: cannot finish: %s", shown,
				   f->name, strerror(errno));
	return RP_OK;
}

static bool in_set(const char *name, const struct rp_file_out *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, files[i].name))
			return true;
	return false;
}

/* Recreate the tree at from (an fd) inside to: directories made anew,
 * regular files hard-linked, symlinks copied as links. depth bounds the
 * recursion on a hostile tree. */
static int carry_tree(int from, int to, const char *shown, const struct rp_file_out *skip,
		      size_t n_skip, unsigned depth, struct rp_diag *d)
{
	int dupfd = dup(from), r = RP_OK;
	DIR *dir = dupfd >= 0 ? fdopendir(dupfd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (dupfd >= 0)
			close(dupfd);
		return rp_diag_set(d, RP_ERR_IO, "%s: cannot list: %s", shown, strerror(errno));
	}
	if (depth > 32) {
		closedir(dir);
		return rp_diag_set(d, RP_ERR_REFUSED, "%s: nested more than 32 levels deep", shown);
	}
	while (r == RP_OK && (de = readdir(dir))) {
		struct stat st;
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") || (skip && in_set(nm, skip, n_skip)))
			continue;
		if (fstatat(from, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = rp_diag_set(d, RP_ERR_IO, "%s/%s: %s", shown, nm, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			int sub_from, sub_to;
			if (mkdirat(to, nm, st.st_mode & 07777) < 0) {
				r = rp_diag_set(d, rp_errno_to_error(errno), "%s/%s: %s", shown, nm,
						strerror(errno));
				break;
			}
			sub_from = openat(from, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			sub_to = openat(to, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub_from < 0 || sub_to < 0)
				r = rp_diag_set(d, RP_ERR_IO, "%s/%s: %s", shown, nm, strerror(errno));
			else
				r = carry_tree(sub_from, sub_to, shown, NULL, 0, depth + 1, d);
			if (sub_from >= 0)
				close(sub_from);
			if (sub_to >= 0)
				close(sub_to);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(from, nm, target, sizeof(target) - 1);
			if (len < 0 || (target[len] = '\0', symlinkat(target, to, nm) < 0))
				r = rp_diag_set(d, RP_ERR_IO, "%s/%s: cannot carry the link over: %s",
						shown, nm, strerror(errno));
		} else if (linkat(from, nm, to, nm, 0) < 0) {
			r = rp_diag_set(d, rp_errno_to_error(errno),
					"%s/%s: cannot carry it over: %s", shown, nm, strerror(errno));
		}
	}
	closedir(dir);
	return r;
}

/* rm -r of the tree under dirfd (never following symlinks), then of
 * name in parent. Best effort: a leftover is untidy, not wrong. */
static void remove_tree(int parent, const char *name, unsigned depth)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		unlinkat(parent, name, 0);
		return;
	}
	while ((de = readdir(dir))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (depth < 40 && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			remove_tree(fd, de->d_name, depth + 1);
		else
			unlinkat(fd, de->d_name, 0);
	}
	closedir(dir);
	unlinkat(parent, name, AT_REMOVEDIR);
}

int rp_dir_write_set(const char *dir, const struct rp_file_out *files, size_t n, mode_t mode,
		     struct rp_diag *d)
{
	char parent[PATH_MAX], base[NAME_MAX + 1], tmpname[NAME_MAX + 1], shown[PATH_MAX + NAME_MAX + 2];
	const char *slash;
	size_t dlen = strlen(dir);
	struct stat st;
	bool exists;
	int pfd = -1, tfd = -1, r = RP_OK;

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen == 0 || dlen >= sizeof(parent))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: not a usable directory name", dir);
	slash = memrchr(dir, '/', dlen);
	if (slash == dir)
		snprintf(parent, sizeof(parent), "/");
	else if (slash)
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir);
	else
		snprintf(parent, sizeof(parent), ".");
	snprintf(base, sizeof(base), "%.*s", (int)(dlen - (size_t)(slash ? slash + 1 - dir : 0)),
		 slash ? slash + 1 : dir);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !base[0])
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "%s: name the output directory itself, not \".\" or \"..\"", dir);
	for (size_t i = 0; i < n; i++)
		if (!files[i].name[0] || strchr(files[i].name, '/'))
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: bad file name in the set", dir);
	r = rp_mkdir_p(parent, 0755, d);
	if (r < 0)
		return r;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return rp_diag_set(d, rp_errno_to_error(errno), "%s: %s", parent, strerror(errno));
	exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !S_ISDIR(st.st_mode)) {
		close(pfd);
		return rp_diag_set(d, RP_ERR_REFUSED, "%s: exists and is not a directory%s", dir,
				   S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
	}
	for (unsigned attempt = 0;; attempt++) {
		snprintf(tmpname, sizeof(tmpname), ".%.200s.new-%ld-%u", base, (long)getpid(), attempt);
		if (mkdirat(pfd, tmpname, 0755) == 0)
			break;
		if (errno != EEXIST || attempt == 100) {
			r = rp_diag_set(d, rp_errno_to_error(errno), "%s/%s: cannot create: %s",
					parent, tmpname, strerror(errno));
			close(pfd);
			return r;
		}
	}
	snprintf(shown, sizeof(shown), "%s/%s", parent, tmpname);
	tfd = openat(pfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		r = rp_diag_set(d, RP_ERR_IO, "%s: %s", shown, strerror(errno));
	if (r == RP_OK && exists) {
		int ofd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ofd < 0) {
			r = rp_diag_set(d, rp_errno_to_error(errno), "%s: %s", dir, strerror(errno));
		} else {
			if (fchmod(tfd, st.st_mode & 07777) < 0)
				r = rp_diag_set(d, RP_ERR_IO, "%s: %s", shown, strerror(errno));
			if (r == RP_OK)
				r = carry_tree(ofd, tfd, dir, files, n, 0, d);
			close(ofd);
		}
	}
	for (size_t i = 0; r == RP_OK && i < n; i++)
		r = write_new_file(tfd, dir, &files[i], mode, d);
	if (r == RP_OK && fsync(tfd) < 0)
		r = rp_diag_set(d, RP_ERR_IO, "%s: %s", shown, strerror(errno));
	if (r == RP_OK) {
		int ok = exists ? renameat2(pfd, tmpname, pfd, base, RENAME_EXCHANGE)
				: renameat2(pfd, tmpname, pfd, base, RENAME_NOREPLACE);
		if (ok < 0)
			r = rp_diag_set(d, rp_errno_to_error(errno),
					"%s: cannot put the new files in place: %s", dir,
					strerror(errno));
	}
	if (r == RP_OK && fsync(pfd) < 0)
		r = rp_diag_set(d, RP_ERR_IO, "%s: %s", parent, strerror(errno));
	/* On success tmpname now holds the old tree; on failure, the new one. */
	if (tfd >= 0)
		close(tfd);
	remove_tree(pfd, tmpname, 0);
	close(pfd);
	return r;
}
