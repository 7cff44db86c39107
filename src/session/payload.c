#include "session/payload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>


#include "image/prepare.h"
#include "image/recovery_config.h"
#include "image/sig.h"
#include "session/bootfiles.h"
#include "soc/soc.h"

#define DEFAULT_MAX_FILE (64u << 20)
/* A file rewritten while it is read is read again this many times before
 * the lookup gives up: torn contents are never served. */
#define READ_ATTEMPTS 3

/* A file's bytes, either an in-memory entry (lives as long as the
 * payload) or a directory file in the cache. Cache entries are reference
 * counted: a board keeps its bytes even if the file is replaced on disk
 * and the cache moves on to the new version. */
struct entry {
	struct entry *next;
	char *key;         /* memory: the name; directory: the resolved path */
	uint8_t *data;
	size_t len;
	char sha256[65];
	bool memory;
	bool borrowed;     /* data belongs to the caller (rp_payload_add_prepared_ref) */
	bool cached;       /* still in the cache list */
	unsigned refs;     /* boards holding it (directory entries) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct rp_payload {
	char *dir;         /* realpath of the served directory, or NULL */
	size_t dir_len;
	bool overlays;
	bool allow_otp;
	size_t max_file;
	struct entry *memory;
	/* usbboot's DIR/bootfiles.bin, one entry per file ("2712/mcb.bin"),
	 * borrowing the archive's bytes. */
	struct rp_bootfiles *archive;
	struct entry *archived;
	pthread_mutex_t lock; /* guards cache and refs */
	struct entry *cache;
	/* Chips this run refuses to serve, and why (rp_payload_set_unavailable). */
	struct {
		char soc_dir[8];
		char why[768];
	} unavailable[4];
	size_t n_unavailable;
};


static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->key);
	if (!e->borrowed)
		free(e->data);
	free(e);
}

void rp_payload_quote(const char *raw, size_t len, char *out, size_t out_size)
{
	size_t o = 0;
	if (!out_size)
		return;
	for (size_t i = 0; i < len && raw[i]; i++) {
		unsigned char c = (unsigned char)raw[i];
		char tmp[5];
		size_t n;
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			tmp[0] = (char)c;
			n = 1;
		} else {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		}
		if (o + n + 4 >= out_size) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
}

int rp_payload_check_name(const char *raw, size_t raw_len, char out[RP_PAYLOAD_NAME_MAX],
			  struct rp_diag *d)
{
	size_t limit = raw_len < RP_PAYLOAD_NAME_MAX ? raw_len : RP_PAYLOAD_NAME_MAX;
	const char *nul = memchr(raw, '\0', limit);
	char quoted[128];
	size_t len;

	out[0] = '\0';
	if (!nul) {
		rp_payload_quote(raw, limit, quoted, sizeof(quoted));
		return rp_diag_set(d, RP_ERR_PROTOCOL,
				   "file name is not NUL-terminated within %zu bytes (\"%s\")", limit,
				   quoted);
	}
	len = (size_t)(nul - raw);
	rp_payload_quote(raw, len, quoted, sizeof(quoted));
	if (!len)
		return rp_diag_set(d, RP_ERR_REFUSED, "empty file name");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			return rp_diag_set(d, RP_ERR_REFUSED,
					   "unsafe file name \"%s\": non-printable or backslash",
					   quoted);
	}
	if (raw[0] == '/')
		return rp_diag_set(d, RP_ERR_REFUSED, "unsafe file name \"%s\": absolute path",
				   quoted);
	for (const char *c = raw; c < nul;) {
		const char *slash = memchr(c, '/', (size_t)(nul - c));
		size_t clen = slash ? (size_t)(slash - c) : (size_t)(nul - c);
		if (clen == 0)
			return rp_diag_set(d, RP_ERR_REFUSED,
					   "unsafe file name \"%s\": empty path component", quoted);
		if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
			return rp_diag_set(d, RP_ERR_REFUSED,
					   "unsafe file name \"%s\": '.' or '..' component", quoted);
		if (!slash)
			break;
		c = slash + 1;
		if (c == nul)
			return rp_diag_set(d, RP_ERR_REFUSED,
					   "unsafe file name \"%s\": empty path component", quoted);
	}
	memcpy(out, raw, len + 1);
	return RP_OK;
}

/* Port paths come from the USB source ("1-1.3.2"); checked anyway since
 * they become a directory name. */
static bool port_path_safe(const char *s)
{
	if (!s || !*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool soc_safe(const char *s)
{
	if (!s || !*s || strlen(s) > 8)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int add_to(struct entry **list, const char *name, const void *data, size_t len,
		  const char *sha256, bool borrow, struct rp_diag *d);

/* rpiboot serves DIR/bootfiles.bin's "<soc>/<name>" entries (F15). */
static int load_archive(struct rp_payload *p, struct rp_diag *d)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), "%s/bootfiles.bin", p->dir);
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? RP_OK : rp_diag_set(d, RP_ERR_IO, "%s: %s", path, strerror(errno));
	r = rp_bootfiles_load(path, &p->archive, d);
	for (size_t i = 0; r == RP_OK && i < rp_bootfiles_count(p->archive); i++) {
		const uint8_t *data;
		size_t len;
		const char *name = rp_bootfiles_entry(p->archive, i, &data, &len);
		r = add_to(&p->archived, name, data, len, NULL, true, d);
	}
	return r;
}

int rp_payload_new(const struct rp_payload_opts *opts, struct rp_payload **out,
		   struct rp_diag *d)
{
	struct rp_payload *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (!p)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	p->overlays = opts && opts->overlays;
	p->allow_otp = opts && opts->allow_otp;
	p->max_file = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE;
	if (opts && opts->dir) {
		struct stat st;
		p->dir = realpath(opts->dir, NULL);
		if (!p->dir) {
			int e = errno;
			free(p);
			return rp_diag_set(d, e == ENOENT ? RP_ERR_NOT_FOUND : RP_ERR_IO,
					   "%s: %s", opts->dir, strerror(e));
		}
		if (stat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rp_diag_set(d, RP_ERR_INVALID_ARG, "%s: not a directory", opts->dir);
			free(p->dir);
			free(p);
			return RP_ERR_INVALID_ARG;
		}
		p->dir_len = strlen(p->dir);
		/* "/" as the served tree: every prefix check below compares
		 * against "<dir>/", so strip the trailing slash once. */
		if (p->dir_len == 1)
			p->dir_len = 0;
	}
	pthread_mutex_init(&p->lock, NULL);
	if (p->dir) {
		int r = load_archive(p, d);
		if (r != RP_OK) {
			rp_payload_free(p);
			return r;
		}
	}
	*out = p;
	return RP_OK;
}

void rp_payload_free(struct rp_payload *p)
{
	struct entry *e, *next;
	if (!p)
		return;
	for (e = p->memory; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	for (e = p->cache; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	for (e = p->archived; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	rp_bootfiles_free(p->archive);
	pthread_mutex_destroy(&p->lock);
	free(p->dir);
	free(p);
}

/* sha256: the digest of data when the caller has it, or NULL. borrow:
 * point at data instead of copying it. */
static int add_to(struct entry **list, const char *name, const void *data, size_t len,
		  const char *sha256, bool borrow, struct rp_diag *d)
{
	char checked[RP_PAYLOAD_NAME_MAX];
	struct entry *e;
	int r;

	if (!name || strlen(name) >= RP_PAYLOAD_NAME_MAX)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "payload entry name too long");
	r = rp_payload_check_name(name, strlen(name) + 1, checked, d);
	if (r != RP_OK)
		return r;
	if (len && !data)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "payload entry %s has no data", name);
	if ((uint64_t)len > UINT32_MAX)
		return rp_diag_set(d, RP_ERR_TOO_LARGE,
				   "payload entry %s: %zu bytes, more than the protocol's 32-bit length",
				   name, len);
	e = calloc(1, sizeof(*e));
	if (!e)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	e->key = strdup(checked);
	e->borrowed = borrow && len;
	e->data = e->borrowed ? (uint8_t *)(uintptr_t)data : malloc(len ? len : 1);
	if (!e->key || !e->data) {
		entry_free(e);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	if (len && !e->borrowed)
		memcpy(e->data, data, len);
	e->len = len;
	e->memory = true;
	if (sha256 && strlen(sha256) == 64)
		memcpy(e->sha256, sha256, sizeof(e->sha256));
	else
		rp_sha256_hex(e->data, len, e->sha256);
	/* A later entry of the same name wins: put it in front. */
	e->next = *list;
	*list = e;
	return RP_OK;
}

static int add_entry(struct rp_payload *p, const char *name, const void *data, size_t len,
		     const char *sha256, bool borrow, struct rp_diag *d)
{
	return add_to(&p->memory, name, data, len, sha256, borrow, d);
}


int rp_payload_add(struct rp_payload *p, const char *name, const void *data, size_t len,
		   struct rp_diag *d)
{
	return add_entry(p, name, data, len, NULL, false, d);
}

static int add_prepared(struct rp_payload *p, const struct rp_prepared *prep, bool borrow,
			struct rp_diag *d)
{
	const struct rp_soc *soc = rp_soc_by_name(prep->soc);
	int r;

	if (!soc)
		return rp_diag_set(d, RP_ERR_UNSUPPORTED,
				   "prepared payload is for SoC \"%s\", which no known boot ROM uses",
				   prep->soc);
	if (!prep->image || !prep->second_stage)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "prepared payload lacks the image or the second stage");
	/* Under the SoC's folder, so that one payload serves a mixed tray:
	 * a CM4 is sent the 2711 files, a CM5 the 2712 ones. */
	char name[4][RP_PAYLOAD_NAME_MAX];
	snprintf(name[0], sizeof(name[0]), "%s/%s", soc->rpiboot_dir, soc->second_stage);
	snprintf(name[1], sizeof(name[1]), "%s/pieeprom.bin", soc->rpiboot_dir);
	snprintf(name[2], sizeof(name[2]), "%s/pieeprom.sig", soc->rpiboot_dir);
	snprintf(name[3], sizeof(name[3]), "%s/config.txt", soc->rpiboot_dir);
	r = add_entry(p, name[0], prep->second_stage, prep->second_stage_len, NULL, borrow, d);
	if (r == RP_OK)
		r = add_entry(p, name[1], prep->image, prep->image_len, prep->image_sha256, borrow, d);
	if (r == RP_OK && prep->image_sig)
		r = add_entry(p, name[2], prep->image_sig, prep->image_sig_len, NULL, borrow, d);
	if (r == RP_OK && prep->recovery_config)
		r = add_entry(p, name[3], prep->recovery_config, prep->recovery_config_len, NULL,
			      borrow, d);
	return r;
}

int rp_payload_add_prepared(struct rp_payload *p, const struct rp_prepared *prep,
			    struct rp_diag *d)
{
	return add_prepared(p, prep, false, d);
}

int rp_payload_add_prepared_ref(struct rp_payload *p, const struct rp_prepared *prep,
				struct rp_diag *d)
{
	return add_prepared(p, prep, true, d);
}

static const struct entry *list_find(const struct entry *list, const char *name)
{
	for (const struct entry *e = list; e; e = e->next)
		if (!strcmp(e->key, name))
			return e;
	return NULL;
}

static bool inside_tree(const struct rp_payload *p, const char *path)
{
	return !strncmp(path, p->dir, p->dir_len) && path[p->dir_len] == '/';
}

static void fill_file(struct rp_payload_file *f, struct entry *e, const char *origin_prefix)
{
	f->data = e->data;
	f->len = e->len;
	memcpy(f->sha256, e->sha256, sizeof(f->sha256));
	snprintf(f->origin, sizeof(f->origin), "%s%s", origin_prefix, e->key);
	f->ref_ = e->memory ? NULL : e;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* ctime too: a rewrite in place that restores the size and mtime still
 * moves it. */
static bool same_version(const struct entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       same_time(&e->mtime, &st->st_mtim) && same_time(&e->ctime, &st->st_ctim);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       same_time(&a->st_mtim, &b->st_mtim) && same_time(&a->st_ctim, &b->st_ctim);
}

/* Take a reference on the cached version of `real` matching st, or NULL. */
static struct entry *cache_get(struct rp_payload *p, const char *real, const struct stat *st)
{
	for (struct entry *e = p->cache; e; e = e->next)
		if (!strcmp(e->key, real) && same_version(e, st)) {
			e->refs++;
			return e;
		}
	return NULL;
}

/* Insert a freshly read entry, retiring an older version of the same
 * path (freed once its last board lets go). Returns the entry to use
 * (another thread may have inserted the same version meanwhile). */
static struct entry *cache_put(struct rp_payload *p, struct entry *fresh, const struct stat *st)
{
	struct entry **pp = &p->cache;
	struct entry *hit = cache_get(p, fresh->key, st);
	if (hit) {
		entry_free(fresh);
		return hit;
	}
	while (*pp) {
		struct entry *e = *pp;
		if (!strcmp(e->key, fresh->key)) {
			*pp = e->next;
			e->cached = false;
			if (!e->refs)
				entry_free(e);
			continue;
		}
		pp = &e->next;
	}
	fresh->cached = true;
	fresh->refs = 1;
	fresh->next = p->cache;
	p->cache = fresh;
	return fresh;
}

/* Read the file's st->st_size bytes from offset 0. Then fstat again: a
 * file rewritten in place meanwhile (size, mtime or ctime moved) may have
 * given torn bytes, so it is read again under its new stat, at most
 * READ_ATTEMPTS times. On success *st is the stat the bytes belong to. */
static int read_fd(int fd, struct stat *st, const char *real, size_t max, struct entry **out,
		   struct rp_diag *d)
{
	struct entry *e;
	uint8_t *data = NULL;
	size_t len = 0;

	for (unsigned attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		struct stat after;
		size_t got = 0;
		uint8_t *grown;

		/* The wire protocol announces a size in 32 bits. */
		if ((uint64_t)st->st_size > UINT32_MAX || (uint64_t)st->st_size > max) {
			free(data);
			return rp_diag_set(d, RP_ERR_TOO_LARGE,
					   "%s: %lld bytes, more than the %zu served", real,
					   (long long)st->st_size,
					   max < UINT32_MAX ? max : (size_t)UINT32_MAX);
		}
		len = (size_t)st->st_size;
		grown = realloc(data, len ? len : 1);
		if (!grown) {
			free(data);
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory reading %s", real);
		}
		data = grown;
		while (got < len) {
			ssize_t n = pread(fd, data + got, len - got, (off_t)got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;
				free(data);
				return rp_diag_set(d, RP_ERR_IO, "%s: %s", real, strerror(err));
			}
			if (n == 0)
				break; /* shrank meanwhile: the fstat below tells */
			got += (size_t)n;
		}
		if (fstat(fd, &after) != 0) {
			int err = errno;
			free(data);
			return rp_diag_set(d, RP_ERR_IO, "%s: %s", real, strerror(err));
		}
		if (got == len && same_stat(st, &after))
			goto done;
		*st = after;
	}
	free(data);
	return rp_diag_set(d, RP_ERR_IO, "%s kept changing while being read (%d attempts)", real,
			   READ_ATTEMPTS);
done:
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(real))) {
		free(e);
		free(data);
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory reading %s", real);
	}
	e->data = data;
	e->len = len;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	rp_sha256_hex(e->data, len, e->sha256);
	*out = e;
	return RP_OK;
}

/* Whether path is the served directory itself or inside it. */
static bool at_or_inside_tree(const struct rp_payload *p, const char *path)
{
	return !strcmp(path, p->dir) || inside_tree(p, path);
}

/* Try DIR/rel: RP_ERR_NOT_FOUND when it is not there.
 *
 * The name the board sent cannot leave the folder (rp_payload_check_name
 * refuses "..", absolute and odd names), and the folder it names must
 * really be inside the served tree: its directory is opened and where the
 * kernel says it is gets checked, so a directory symlink out of the tree
 * is refused. The last component may be a symlink to a file anywhere, as
 * rpiboot follows them: usbboot's own folders link bootcode4.bin to
 * ../firmware/2711/recovery.bin. What is opened must be a regular file. */
static int dir_try(struct rp_payload *p, const char *rel, const char *shown,
		   struct rp_payload_file *f, struct rp_diag *d)
{
	char path[PATH_MAX], parent[PATH_MAX], fdlink[64], where[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	struct stat st;
	struct entry *e;
	ssize_t n;
	int dfd, fd = -1, r;

	if ((size_t)snprintf(path, sizeof(path), "%.*s/%s", (int)p->dir_len, p->dir, rel) >=
	    sizeof(path))
		return rp_diag_set(d, RP_ERR_REFUSED, "file name \"%s\" too long", shown);
	snprintf(parent, sizeof(parent), "%.*s%s%.*s", (int)p->dir_len, p->dir, slash ? "/" : "",
		 slash ? (int)(slash - rel) : 0, rel);
	dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return RP_ERR_NOT_FOUND;
		return rp_diag_set(d, errno == EACCES ? RP_ERR_ACCESS : RP_ERR_IO, "%s: %s", parent,
				   strerror(errno));
	}
	/* Where the folder really is, as the kernel names it. Without that
	 * answer containment cannot be confirmed: refused, not trusted. */
	snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", dfd);
	n = readlink(fdlink, where, sizeof(where) - 1);
	if (n <= 0 || (size_t)n >= sizeof(where) - 1) {
		r = rp_diag_set(d, RP_ERR_REFUSED,
				"refusing \"%s\": cannot confirm that %s is inside the served "
				"directory (%s: %s)",
				shown, parent, fdlink, n < 0 ? strerror(errno) : "unusable answer");
		goto out;
	}
	where[n] = '\0';
	if (!at_or_inside_tree(p, where)) {
		/* Nothing there: the lookup goes on to the next place. */
		if (faccessat(dfd, base, F_OK, 0) != 0 && errno == ENOENT) {
			r = RP_ERR_NOT_FOUND;
			goto out;
		}
		r = rp_diag_set(d, RP_ERR_REFUSED,
				"refusing \"%s\": %s resolves to %s, outside the served directory %s",
				shown, parent, where, p->dir);
		goto out;
	}
	/* O_NONBLOCK so a FIFO planted in the tree cannot hang the open. */
	fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			r = RP_ERR_NOT_FOUND; /* also a symlink whose target is missing */
		else
			r = rp_diag_set(d, errno == EACCES ? RP_ERR_ACCESS : RP_ERR_IO, "%s: %s", path,
					strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = rp_diag_set(d, RP_ERR_REFUSED, "refusing \"%s\": %s is not a regular file",
				shown, path);
		goto out;
	}
	/* The file's own name (a symlink's target) keys the cache and the logs. */
	snprintf(fdlink, sizeof(fdlink), "/proc/self/fd/%d", fd);
	n = readlink(fdlink, where, sizeof(where) - 1);
	if (n <= 0 || (size_t)n >= sizeof(where) - 1)
		snprintf(where, sizeof(where), "%s", path);
	else
		where[n] = '\0';
	pthread_mutex_lock(&p->lock);
	e = cache_get(p, where, &st);
	pthread_mutex_unlock(&p->lock);
	if (!e) {
		struct entry *fresh = NULL;
		r = read_fd(fd, &st, where, p->max_file, &fresh, d);
		if (r != RP_OK)
			goto out;
		pthread_mutex_lock(&p->lock);
		e = cache_put(p, fresh, &st);
		pthread_mutex_unlock(&p->lock);
	}
	fill_file(f, e, "");
	r = RP_OK;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r;
}

/* bootcode.bin, bootcode4.bin, bootcode5.bin: rpiboot never takes them
 * from a port overlay, whoever asks. */
static bool is_second_stage_name(const char *name)
{
	size_t n;
	const struct rp_soc *t = rp_soc_table(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, t[i].second_stage))
			return true;
	return false;
}

static int find_file(struct rp_payload *p, const char *soc_dir, const char *port_path,
		     const char *name, struct rp_payload_file *f, struct rp_diag *d)
{
	char checked[RP_PAYLOAD_NAME_MAX], rel[RP_PAYLOAD_NAME_MAX + 80];
	const struct entry *m;
	int r;

	memset(f, 0, sizeof(*f));
	r = rp_payload_check_name(name, strlen(name) + 1, checked, d);
	if (r != RP_OK)
		return r;
	/* Memory: the board's SoC folder first (prepared payloads), then the
	 * plain name (entries any board may have). */
	m = NULL;
	if (soc_safe(soc_dir)) {
		snprintf(rel, sizeof(rel), "%s/%s", soc_dir, checked);
		m = list_find(p->memory, rel);
	}
	if (!m)
		m = list_find(p->memory, checked);
	if (m) {
		fill_file(f, (struct entry *)m, "memory:");
		return RP_OK;
	}
	if (!p->dir)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: not in the payload", checked);
	if (p->overlays && port_path_safe(port_path) && !is_second_stage_name(checked)) {
		snprintf(rel, sizeof(rel), "%s/%s", port_path, checked);
		r = dir_try(p, rel, checked, f, d);
		if (r != RP_ERR_NOT_FOUND)
			return r;
	}
	if (soc_safe(soc_dir)) {
		snprintf(rel, sizeof(rel), "%s/%s", soc_dir, checked);
		r = dir_try(p, rel, checked, f, d);
		if (r != RP_ERR_NOT_FOUND)
			return r;
		/* DIR/<soc>/NAME overrides the archive, as in rpiboot. */
		m = list_find(p->archived, rel);
		if (m) {
			fill_file(f, (struct entry *)m, "bootfiles.bin:");
			return RP_OK;
		}
	}
	r = dir_try(p, checked, checked, f, d);
	if (r == RP_ERR_NOT_FOUND)
		return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s: not found in %s", checked, p->dir);
	return r;
}

/* recovery.bin and the 2712 second stage read "config.txt"; a FAT-minded
 * board may ask in any case. */
static bool is_config_txt(const char *name)
{
	const char *slash = strrchr(name, '/');
	return !strcasecmp(slash ? slash + 1 : name, "config.txt");
}

int rp_payload_lookup(struct rp_payload *p, const char *soc_dir, const char *port_path,
		      const char *name, struct rp_payload_file *f, struct rp_diag *d)
{
	int r = find_file(p, soc_dir, port_path, name, f, d);

	if (r != RP_OK || !is_config_txt(name))
		return r;
	r = rp_recovery_config_check(f->data, f->len, f->origin, p->allow_otp, d);
	if (r != RP_OK)
		rp_payload_file_release(p, f);
	return r;
}

static int check_config_at(struct rp_payload *p, const char *soc_dir, const char *port_path,
			   struct rp_diag *d)
{
	struct rp_payload_file f;
	int r = rp_payload_lookup(p, soc_dir, port_path, "config.txt", &f, d);
	if (r == RP_OK)
		rp_payload_file_release(p, &f);
	return r == RP_ERR_NOT_FOUND ? RP_OK : r;
}

int rp_payload_check_configs(struct rp_payload *p, struct rp_diag *d)
{
	size_t n;
	const struct rp_soc *table = rp_soc_table(&n);
	int r = check_config_at(p, NULL, NULL, d);

	for (size_t i = 0; r == RP_OK && i < n; i++)
		r = check_config_at(p, table[i].rpiboot_dir, NULL, d);
	if (r == RP_OK && p->dir && p->overlays) {
		DIR *dir = opendir(p->dir);
		struct dirent *de;
		if (!dir)
			return rp_diag_set(d, RP_ERR_IO, "%s: %s", p->dir, strerror(errno));
		while (r == RP_OK && (de = readdir(dir)))
			if (port_path_safe(de->d_name) && strchr(de->d_name, '-'))
				r = check_config_at(p, NULL, de->d_name, d);
		closedir(dir);
	}
	return r;
}

void rp_payload_file_release(struct rp_payload *p, struct rp_payload_file *f)
{
	struct entry *e;
	if (!f)
		return;
	e = f->ref_;
	if (e) {
		pthread_mutex_lock(&p->lock);
		if (e->refs)
			e->refs--;
		if (!e->refs && !e->cached)
			entry_free(e);
		pthread_mutex_unlock(&p->lock);
	}
	memset(f, 0, sizeof(*f));
}

int rp_payload_second_stage(struct rp_payload *p, const struct rp_soc *dev,
			    const char *port_path, struct rp_payload_file *f, struct rp_diag *d)
{
	int r;
	if (!dev)
		return rp_diag_set(d, RP_ERR_UNSUPPORTED, "unknown boot ROM: no second stage");
	for (size_t i = 0; i < p->n_unavailable; i++)
		if (!strcmp(p->unavailable[i].soc_dir, dev->rpiboot_dir))
			return rp_diag_set(d, RP_ERR_NOT_FOUND, "%s", p->unavailable[i].why);
	r = rp_payload_lookup(p, dev->rpiboot_dir, port_path, dev->second_stage, f, d);
	if (r == RP_ERR_NOT_FOUND && rp_soc_has_eeprom(dev))
		return rp_diag_set(d, RP_ERR_NOT_FOUND,
				   "no %s recovery.bin to send (%s%s%s); get the %s files with "
				   "'rpiprov firmware fetch --soc %s'",
				   dev->chip, dev->second_stage,
				   p->dir ? " is not in " : " is not in this run's files",
				   p->dir ? p->dir : "", dev->soc, dev->soc);
	if (r == RP_ERR_NOT_FOUND)
		return rp_diag_set(d, RP_ERR_NOT_FOUND,
				   "no %s (the second stage for %s boards) in the payload%s%s",
				   dev->second_stage, dev->chip, p->dir ? " or in " : "",
				   p->dir ? p->dir : "");
	return r;
}

int rp_payload_refuse_skipped(struct rp_payload *p, const struct rp_prepare_skipped *skipped,
			      size_t n, struct rp_diag *d)
{
	size_t max = sizeof(p->unavailable) / sizeof(p->unavailable[0]);

	for (size_t i = 0; i < n; i++) {
		const struct rp_soc *soc = rp_soc_by_name(skipped[i].soc);
		if (!soc)
			continue;
		if (p->n_unavailable == max)
			return rp_diag_set(d, RP_ERR_TOO_LARGE, "more than %zu chips refused", max);
		snprintf(p->unavailable[p->n_unavailable].soc_dir,
			 sizeof(p->unavailable[0].soc_dir), "%s", soc->rpiboot_dir);
		snprintf(p->unavailable[p->n_unavailable].why, sizeof(p->unavailable[0].why), "%s",
			 skipped[i].why);
		p->n_unavailable++;
	}
	return RP_OK;
}
