/* Whole-file reads (with transparent gzip) and crash-safe writes. */
#ifndef RP_UTIL_FILEIO_H
#define RP_UTIL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* Read all of `path` into a malloc'ed buffer (NUL-terminated one byte past
 * *len for the convenience of text parsers). A name ending in ".gz" is
 * inflated. Files larger than max_size (after inflation) are refused with
 * RP_ERR_TOO_LARGE. */
int rp_file_read_all(const char *path, size_t max_size, uint8_t **data, size_t *len,
		     struct rp_diag *d);

/* Write data to `path` through a temporary file in the same directory,
 * fsync and rename, so a reader sees the old file or the new one and never
 * half of either. `mode` is the final permission (e.g. 0644). */
int rp_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct rp_diag *d);

/* One file of a set written by rp_dir_write_set. */
struct rp_file_out {
	const char *name; /* a plain name inside the directory */
	const void *data;
	size_t len;
};

/* Write a set of files into `dir` all at once: the directory holds the
 * old set or the new one, never a mix, also after a crash or a failed
 * write. The files go into a new sibling directory, entries of `dir` that
 * are not part of the set are carried over (hard links, so nothing is
 * copied or lost), and the two directories are exchanged with one
 * rename (renameat2 RENAME_EXCHANGE); the old tree is then removed. A
 * missing `dir` is created. `dir` must not be a symlink or a mount
 * point. */
int rp_dir_write_set(const char *dir, const struct rp_file_out *files, size_t n, mode_t mode,
		     struct rp_diag *d);

/* True when both paths name the same existing file (same device and inode). */
bool rp_file_same(const char *a, const char *b);

/* The rp_error for an errno value from a file operation. */
int rp_errno_to_error(int e);

/* Create the directory that will hold `path` (a file), with its parents. */
int rp_mkdir_parent(const char *path, mode_t mode, struct rp_diag *d);

/* Create a directory and its parents (like mkdir -p). */
int rp_mkdir_p(const char *path, mode_t mode, struct rp_diag *d);

#endif
