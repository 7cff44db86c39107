#include "image/firmware.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "soc/soc.h"

#define MAX_DIRS 8

static const char *const system_roots[] = {
	"/lib/firmware/raspberrypi",
	"/usr/lib/firmware/raspberrypi",
};

static const char *const release_dirs[] = { "latest", "default" };

struct dirlist {
	char dir[MAX_DIRS][4096];
	size_t n;
};

/* Append a, or "a/b" when b is given. */
static void add_dir(struct dirlist *l, const char *a, const char *b)
{
	if (l->n < MAX_DIRS &&
	    snprintf(l->dir[l->n], sizeof(l->dir[0]), "%s%s%s", a, b ? "/" : "", b ? b : "") <
		    (int)sizeof(l->dir[0]))
		l->n++;
}

/* The folders to search, in order; false when RPIPROV_FIRMWARE_DIR is used. */
static bool search_dirs(const struct rp_soc *soc, struct dirlist *l)
{
	const char *env = getenv("RPIPROV_FIRMWARE_DIR");

	l->n = 0;
	if (env && *env) {
		add_dir(l, env, soc->soc);
		add_dir(l, env, NULL);
		return false;
	}
	for (size_t r = 0; r < sizeof(system_roots) / sizeof(system_roots[0]); r++)
		for (size_t i = 0; i < sizeof(release_dirs) / sizeof(release_dirs[0]); i++) {
			char base[4096];
			snprintf(base, sizeof(base), "%s/%s", system_roots[r], soc->bootloader_dir);
			add_dir(l, base, release_dirs[i]);
		}
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "pieeprom-YYYY-MM-DD.bin[.gz]": copies the date, else false. */
static bool image_date(const char *name, char date[11])
{
	static const char prefix[] = "pieeprom-";
	const char *p = name + sizeof(prefix) - 1;

	if (strncmp(name, prefix, sizeof(prefix) - 1))
		return false;
	for (int i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;
		if (dash ? p[i] != '-' : !is_digit(p[i]))
			return false;
	}
	if (strcmp(p + 10, ".bin") && strcmp(p + 10, ".bin.gz"))
		return false;
	memcpy(date, p, 10);
	date[10] = '\0';
	return true;
}

static bool regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void describe(const struct dirlist *l, char *out, size_t size)
{
	size_t u = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->n && u < size; i++) {
		int n = snprintf(out + u, size - u, "%s%s", i ? ", " : "", l->dir[i]);
		if (n < 0)
			break;
		u += (size_t)n;
	}
}

/* The chip named by `name` (the default one for NULL), if it has an EEPROM. */
static int chip(const char *name, const struct rp_soc **soc, struct rp_diag *d)
{
	char names[64];

	*soc = name ? rp_soc_eeprom_by_name(name) : rp_soc_default();
	if (*soc)
		return RP_OK;
	return rp_diag_set(d, RP_ERR_INVALID_ARG, "no bootloader firmware for SoC '%s' (%s)", name,
			   rp_soc_eeprom_names(names, sizeof(names)));
}

int rp_firmware_find_image(const char *name, char *path, size_t size, struct rp_diag *d)
{
	const struct rp_soc *soc;
	struct dirlist l;
	char best_date[11] = "", where[1024];
	bool found = false;
	int r = chip(name, &soc, d);

	if (r < 0)
		return r;
	search_dirs(soc, &l);
	for (size_t i = 0; i < l.n; i++) {
		DIR *dir = opendir(l.dir[i]);
		struct dirent *e;
		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			char date[11], full[4096 + 256];
			if (!image_date(e->d_name, date))
				continue;
			snprintf(full, sizeof(full), "%s/%s", l.dir[i], e->d_name);
			if (!regular_file(full))
				continue;
			/* Newest date wins; on a tie the first folder searched. */
			if (!found || strcmp(date, best_date) > 0) {
				if (strlen(full) >= size)
					continue;
				memcpy(best_date, date, sizeof(best_date));
				snprintf(path, size, "%s", full);
				found = true;
			}
		}
		closedir(dir);
	}
	if (found)
		return RP_OK;
	describe(&l, where, sizeof(where));
	return rp_diag_set(d, RP_ERR_NOT_FOUND,
			   "no pieeprom-YYYY-MM-DD.bin for %s found (looked in %s); pass --image FILE or set RPIPROV_FIRMWARE_DIR",
			   soc->soc, where);
}

int rp_firmware_find_recovery(const char *name, const char *image_path, char *path, size_t size,
			      struct rp_diag *d)
{
	const struct rp_soc *soc;
	struct dirlist l;
	char where[1024];
	int r = chip(name, &soc, d);

	if (r < 0)
		return r;
	search_dirs(soc, &l);
	if (image_path) {
		const char *slash = strrchr(image_path, '/');
		char full[4096];
		if (slash)
			snprintf(full, sizeof(full), "%.*s/recovery.bin", (int)(slash - image_path),
				 image_path);
		else
			snprintf(full, sizeof(full), "recovery.bin");
		if (regular_file(full) && strlen(full) < size) {
			snprintf(path, size, "%s", full);
			return RP_OK;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		char full[4096 + 16];
		snprintf(full, sizeof(full), "%s/recovery.bin", l.dir[i]);
		if (regular_file(full) && strlen(full) < size) {
			snprintf(path, size, "%s", full);
			return RP_OK;
		}
	}
	describe(&l, where, sizeof(where));
	return rp_diag_set(d, RP_ERR_NOT_FOUND,
			   "no recovery.bin for %s found (looked next to the image and in %s); pass --recovery FILE",
			   soc->soc, where);
}
