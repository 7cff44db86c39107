#include "image/firmware.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "image/eeprom_image.h"
#include "image/second_stage.h"
#include "util/fileio.h"
#include "soc/soc.h"

#define MAX_PLACES 24
#define PATH_MAX_LEN 4096

/* The channels searched when no release status is configured; the newest
 * image of either wins. */
static const char *const channels[] = { "latest", "default" };

struct place {
	char dir[PATH_MAX_LEN];
	char channel[16];
	enum rp_fw_tier tier;
	bool recovery_only; /* usbboot's recovery/ folders hold no image we take */
};

struct places {
	struct place *v; /* MAX_PLACES */
	size_t n;
};

/* rpi-eeprom-update's two settings, from the environment or its file. */
struct eeprom_update_settings {
	char root[PATH_MAX_LEN];
	char status[32];
};

const char *rp_fw_tier_name(enum rp_fw_tier t)
{
	switch (t) {
	case RP_FW_TIER_GIVEN: return "given directory";
	case RP_FW_TIER_ENV: return "RPIPROV_FIRMWARE_DIR";
	case RP_FW_TIER_EEPROM_UPDATE: return "rpi-eeprom-update settings";
	case RP_FW_TIER_PACKAGE: return "rpi-eeprom package";
	case RP_FW_TIER_CACHE: return "fetch cache";
	}
	return "?";
}

static const char *sysroot(void)
{
	const char *s = getenv("RPIPROV_SYSROOT");
	return s ? s : "";
}

static void add(struct places *l, enum rp_fw_tier tier, const char *channel, bool recovery_only,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct places *l, enum rp_fw_tier tier, const char *channel, bool recovery_only,
		const char *fmt, ...)
{
	struct place *p;
	va_list ap;
	int n;

	if (l->n == MAX_PLACES)
		return;
	p = &l->v[l->n];
	va_start(ap, fmt);
	n = vsnprintf(p->dir, sizeof(p->dir), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(p->dir))
		return; /* a path that long cannot be opened anyway */
	snprintf(p->channel, sizeof(p->channel), "%s", channel ? channel : "");
	p->tier = tier;
	p->recovery_only = recovery_only;
	l->n++;
}

/* A directory the user named: every layout people keep firmware in. */
static void add_root(struct places *l, enum rp_fw_tier tier, const struct rp_soc *soc,
		     const char *root)
{
	add(l, tier, NULL, false, "%s/%s", root, soc->soc);
	add(l, tier, NULL, false, "%s", root);
	add(l, tier, NULL, false, "%s/firmware/%s", root, soc->rpiboot_dir); /* usbboot */
	for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) /* rpi-eeprom */
		add(l, tier, channels[i], false, "%s/%s/%s", root, soc->firmware_dir, channels[i]);
	add(l, tier, NULL, true, "%s/%s", root, soc->usbboot_recovery_dir);
}

/* VALUE, "VALUE" or 'VALUE' of a shell assignment, without a comment. */
static void shell_value(const char *v, char *out, size_t size)
{
	size_t n;
	char q = (*v == '"' || *v == '\'') ? *v++ : 0;

	n = q ? strcspn(v, (char[]){ q, '\n', 0 }) : strcspn(v, " \t#\n\r");
	if (n >= size)
		n = 0; /* longer than any path we could use: ignore it */
	memcpy(out, v, n);
	out[n] = '\0';
}

/* The environment first (it is what this run was given), then the
 * settings file that rpi-eeprom-update sources. */
static void read_eeprom_update(struct eeprom_update_settings *s)
{
	const char *root = getenv("FIRMWARE_ROOT"), *status = getenv("FIRMWARE_RELEASE_STATUS");
	char path[PATH_MAX_LEN], line[1024];
	FILE *f;

	memset(s, 0, sizeof(*s));
	if (root && *root)
		snprintf(s->root, sizeof(s->root), "%s", root);
	if (status && *status)
		snprintf(s->status, sizeof(s->status), "%s", status);
	snprintf(path, sizeof(path), "%s/etc/default/rpi-eeprom-update", sysroot());
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		char value[PATH_MAX_LEN];
		if (!strncmp(p, "export ", 7))
			p += 7;
		if (!strncmp(p, "FIRMWARE_ROOT=", 14) && !s->root[0]) {
			shell_value(p + 14, value, sizeof(value));
			if (value[0] == '/')
				snprintf(s->root, sizeof(s->root), "%s%s", sysroot(), value);
		} else if (!strncmp(p, "FIRMWARE_RELEASE_STATUS=", 24) && !s->status[0]) {
			shell_value(p + 24, s->status, sizeof(s->status));
		}
	}
	fclose(f);
}

/* A release status and the name it has had in the other era of the
 * package (critical became default, stable became latest). */
static size_t status_channels(const char *status, const char *out[2])
{
	static const char *const renamed[][2] = {
		{ "critical", "default" },
		{ "stable", "latest" },
	};
	size_t n = 0;

	if (!status[0] || strchr(status, '/') || !strcmp(status, "..") || !strcmp(status, "."))
		return 0;
	out[n++] = status;
	for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
		if (!strcmp(status, renamed[i][0]))
			out[n++] = renamed[i][1];
		else if (!strcmp(status, renamed[i][1]))
			out[n++] = renamed[i][0];
	}
	return n;
}

int rp_firmware_cache_root(bool system, char *out, size_t size, struct rp_diag *d)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (system)
		n = snprintf(out, size, "%s/var/cache/rpiprov/firmware", sysroot());
	else if (xdg && xdg[0] == '/') /* the spec says relative values are ignored */
		n = snprintf(out, size, "%s/rpiprov/firmware", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, size, "%s/.cache/rpiprov/firmware", home);
	else
		return rp_diag_set(d, RP_ERR_NOT_FOUND,
				   "no cache folder: neither XDG_CACHE_HOME nor HOME is an absolute path");
	if (n < 0 || (size_t)n >= size)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "cache folder path too long");
	return RP_OK;
}

static void add_channels(struct places *l, enum rp_fw_tier tier, const char *const *ch, size_t n,
			 const char *base)
{
	for (size_t i = 0; i < n; i++)
		add(l, tier, ch[i], false, "%s/%s", base, ch[i]);
}

static void search_places(const struct rp_soc *soc, const char *given_dir, struct places *l)
{
	static const char *const package_roots[] = { "/lib/firmware/raspberrypi",
						     "/usr/lib/firmware/raspberrypi" };
	const char *env = getenv("RPIPROV_FIRMWARE_DIR");
	struct eeprom_update_settings s;
	const char *status_ch[2];
	const char *const *ch = channels;
	size_t n_ch = sizeof(channels) / sizeof(channels[0]);
	char base[PATH_MAX_LEN];

	l->n = 0;
	if (given_dir) {
		add_root(l, RP_FW_TIER_GIVEN, soc, given_dir);
		return;
	}
	if (env && *env) {
		add_root(l, RP_FW_TIER_ENV, soc, env);
		return;
	}
	read_eeprom_update(&s);
	if (status_channels(s.status, status_ch)) {
		ch = status_ch;
		n_ch = status_channels(s.status, status_ch);
	}
	if (s.root[0])
		add_channels(l, RP_FW_TIER_EEPROM_UPDATE, ch, n_ch, s.root);
	for (size_t r = 0; r < sizeof(package_roots) / sizeof(package_roots[0]); r++) {
		snprintf(base, sizeof(base), "%s%s/%s", sysroot(), package_roots[r],
			 soc->bootloader_dir);
		add_channels(l, RP_FW_TIER_PACKAGE, ch, n_ch, base);
	}
	for (int system = 0; system <= 1; system++) {
		char root[PATH_MAX_LEN - 64];
		if (rp_firmware_cache_root(system, root, sizeof(root), NULL) < 0)
			continue;
		snprintf(base, sizeof(base), "%s/%s", root, soc->soc);
		add_channels(l, RP_FW_TIER_CACHE, channels, sizeof(channels) / sizeof(channels[0]),
			     base);
	}
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool rp_firmware_image_date(const char *name, char date[11])
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

static bool regular_file(const char *path, off_t *size)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	if (size)
		*size = st.st_size;
	return true;
}

/* usbboot names its image pieeprom.bin: its date is its BUILD_TIMESTAMP. */
static void build_date(const char *path, char date[11])
{
	struct rp_eeprom img;
	int64_t ts;
	time_t t;
	struct tm tm;

	date[0] = '\0';
	memset(&img, 0, sizeof(img));
	if (rp_eeprom_load(&img, path, NULL) < 0)
		return;
	ts = rp_eeprom_build_timestamp(&img);
	rp_eeprom_free(&img);
	t = (time_t)ts;
	if (ts > 0 && gmtime_r(&t, &tm))
		strftime(date, 11, "%Y-%m-%d", &tm);
}

/* An image of this SoC in `name` inside place p: fills f. */
static bool image_in(const struct rp_soc *soc, const struct place *p, const char *name,
		     struct rp_fw_file *f)
{
	char date[11];
	off_t size;
	bool dated = rp_firmware_image_date(name, date);
	size_t len = strlen(name);

	if (p->recovery_only || (!dated && strcmp(name, "pieeprom.bin")))
		return false;
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", p->dir, name) >= sizeof(f->path))
		return false;
	if (!regular_file(f->path, &size))
		return false;
	/* A folder may hold both SoCs' images; only .gz sizes are unknown. */
	if (!(len > 3 && !strcmp(name + len - 3, ".gz")) && (size_t)size != soc->eeprom_size)
		return false;
	if (dated)
		memcpy(f->date, date, sizeof(date));
	else
		build_date(f->path, f->date);
	return true;
}

/* Whether the second stage at path may serve `soc`: its bytes name no
 * other chip (a 2711 recovery.bin beside 2712 images is not the 2712's).
 * date gets its build date ("" when the bytes do not say). */
static bool recovery_for(const struct rp_soc *soc, const char *path, char date[11])
{
	struct rp_second_stage_info info;
	uint8_t *data = NULL;
	size_t len = 0;

	date[0] = '\0';
	if (rp_file_read_all(path, 8u << 20, &data, &len, NULL) != RP_OK)
		return true; /* unreadable: the load that follows says why */
	rp_second_stage_identify(data, len, &info);
	free(data);
	if (info.build_date && info.build_date <= 99991231)
		snprintf(date, 11, "%04u-%02u-%02u", (info.build_date / 10000) % 10000,
			 (info.build_date / 100) % 100, info.build_date % 100);
	return !info.soc || info.soc == soc;
}

static bool recovery_in(const struct rp_soc *soc, const struct place *p, struct rp_fw_file *f)
{
	/* usbboot's recovery folders name it after the second stage. */
	const char *names[] = { "recovery.bin", p->recovery_only ? soc->second_stage : NULL };

	for (size_t i = 0; i < 2 && names[i]; i++) {
		if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", p->dir, names[i]) >=
		    sizeof(f->path))
			continue;
		if (regular_file(f->path, NULL) && recovery_for(soc, f->path, f->date))
			return true;
	}
	return false;
}

static int list_push(struct rp_fw_list *l, const struct rp_fw_file *f, struct rp_diag *d)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rp_fw_file *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *f;
	return RP_OK;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of one place, images in name order, then recovery.bin. */
static int scan_place(const struct rp_soc *soc, const struct place *p, struct rp_fw_list *out,
		      struct rp_diag *d)
{
	struct rp_fw_file f;
	DIR *dir = opendir(p->dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = RP_OK;

	memset(&f, 0, sizeof(f));
	f.tier = p->tier;
	snprintf(f.soc, sizeof(f.soc), "%s", soc->soc);
	snprintf(f.channel, sizeof(f.channel), "%s", p->channel);
	if (!dir)
		return RP_OK;
	while (r == RP_OK && (e = readdir(dir))) {
		if (strncmp(e->d_name, "pieeprom", 8))
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!v)
				r = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
			else
				names = v;
		}
		if (r == RP_OK && !(names[n++] = strdup(e->d_name)))
			r = rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	}
	closedir(dir);
	if (r == RP_OK && n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n; i++) {
		f.kind = RP_FW_IMAGE;
		if (r == RP_OK && names[i] && image_in(soc, p, names[i], &f))
			r = list_push(out, &f, d);
		free(names[i]);
	}
	free(names);
	f.kind = RP_FW_RECOVERY;
	if (r == RP_OK && recovery_in(soc, p, &f))
		r = list_push(out, &f, d);
	return r;
}

static int scan_soc(const struct rp_soc *soc, const char *given_dir, struct rp_fw_list *out,
		    struct places *pl, struct rp_diag *d)
{
	int r = RP_OK;

	search_places(soc, given_dir, pl);
	for (size_t i = 0; r == RP_OK && i < pl->n; i++)
		r = scan_place(soc, &pl->v[i], out, d);
	return r;
}

void rp_fw_list_free(struct rp_fw_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int rp_firmware_scan(const char *given_dir, struct rp_fw_list *out, struct rp_diag *d)
{
	size_t n;
	const struct rp_soc *socs = rp_soc_table(&n);
	struct places pl = { .v = malloc(MAX_PLACES * sizeof(struct place)) };
	int r = RP_OK;

	memset(out, 0, sizeof(*out));
	if (!pl.v)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	for (size_t i = 0; r == RP_OK && i < n; i++)
		if (rp_soc_has_eeprom(&socs[i]))
			r = scan_soc(&socs[i], given_dir, out, &pl, d);
	free(pl.v);
	if (r < 0)
		rp_fw_list_free(out);
	return r;
}

/* "a/{x,y}, b": the places in order, channels of one folder together. */
static void describe(const struct places *l, enum rp_fw_kind kind, char *out, size_t size)
{
	size_t u = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && u < size; i++) {
		const struct place *p = &l->v[i];
		size_t blen = strlen(p->dir) - strlen(p->channel);
		int n;

		if (p->recovery_only && kind == RP_FW_IMAGE)
			continue;
		if (p->channel[0] && i + 1 < l->n && l->v[i + 1].channel[0] &&
		    strlen(l->v[i + 1].dir) - strlen(l->v[i + 1].channel) == blen &&
		    !strncmp(p->dir, l->v[i + 1].dir, blen)) {
			n = snprintf(out + u, size - u, "%s%.*s{%s,%s}", u ? ", " : "", (int)blen,
				     p->dir, p->channel, l->v[i + 1].channel);
			i++;
		} else {
			n = snprintf(out + u, size - u, "%s%s", u ? ", " : "", p->dir);
		}
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

/* Scan one SoC's places; *pl keeps them for the message. */
static int scan_one(const char *name, const char *given_dir, const struct rp_soc **soc,
		    struct rp_fw_list *files, struct places *pl, struct rp_diag *d)
{
	int r = chip(name, soc, d);

	memset(files, 0, sizeof(*files));
	if (r < 0)
		return r;
	pl->n = 0;
	pl->v = malloc(MAX_PLACES * sizeof(struct place));
	if (!pl->v)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	return scan_soc(*soc, given_dir, files, pl, d);
}

static int not_found(const struct rp_soc *soc, const char *what, enum rp_fw_kind kind,
		     const struct places *pl, const char *extra, struct rp_diag *d)
{
	char where[600];

	describe(pl, kind, where, sizeof(where));
	/* The fix first: a long list of places must not crowd it out. */
	return rp_diag_set(d, RP_ERR_NOT_FOUND,
			   "no %s for BCM%s found; get it with 'rpiprov firmware fetch --soc %s', "
			   "or pass %s or set RPIPROV_FIRMWARE_DIR; looked %sin %s",
			   what, soc->soc, soc->soc, kind == RP_FW_IMAGE ? "--image" : "--recovery",
			   extra, where[0] ? where : "(no folder)");
}

int rp_firmware_find_image(const char *name, const char *given_dir, char *path, size_t size,
			   char *why, size_t why_size, struct rp_diag *d)
{
	const struct rp_soc *soc;
	struct rp_fw_list files;
	struct places pl = { 0 };
	const struct rp_fw_file *best = NULL;
	int r = scan_one(name, given_dir, &soc, &files, &pl, d);

	for (size_t i = 0; r == RP_OK && i < files.n; i++) {
		const struct rp_fw_file *f = &files.v[i];
		if (f->kind != RP_FW_IMAGE || strlen(f->path) >= size)
			continue;
		/* An earlier place wins; within one tier the newest date, and
		 * on a tie the first found. */
		if (!best || (f->tier == best->tier && strcmp(f->date, best->date) > 0))
			best = f;
	}
	if (r == RP_OK && best) {
		snprintf(path, size, "%s", best->path);
		if (why)
			snprintf(why, why_size, "newest (%s) in %s%s%s, the first place searched with a BCM%s image",
				 best->date[0] ? best->date : "undated", rp_fw_tier_name(best->tier),
				 best->channel[0] ? ", channel " : "", best->channel, soc->soc);
	} else if (r == RP_OK) {
		r = not_found(soc, "bootloader image (pieeprom-YYYY-MM-DD.bin)", RP_FW_IMAGE, &pl, "",
			      d);
	}
	rp_fw_list_free(&files);
	free(pl.v);
	return r;
}

int rp_firmware_find_recovery(const char *name, const char *given_dir, const char *image_path,
			      char *path, size_t size, struct rp_diag *d)
{
	const struct rp_soc *soc;
	struct rp_fw_list files;
	struct places pl = { 0 };
	int r;

	if (image_path) {
		const char *slash = strrchr(image_path, '/');
		char full[PATH_MAX_LEN + 16];
		if (slash)
			snprintf(full, sizeof(full), "%.*s/recovery.bin", (int)(slash - image_path),
				 image_path);
		else
			snprintf(full, sizeof(full), "recovery.bin");
		char date[11];
		const struct rp_soc *want = rp_soc_eeprom_by_name(name);
		if (regular_file(full, NULL) && strlen(full) < size &&
		    (!want || recovery_for(want, full, date))) {
			snprintf(path, size, "%s", full);
			return RP_OK;
		}
	}
	r = scan_one(name, given_dir, &soc, &files, &pl, d);
	for (size_t i = 0; r == RP_OK && i < files.n; i++)
		if (files.v[i].kind == RP_FW_RECOVERY && strlen(files.v[i].path) < size) {
			snprintf(path, size, "%s", files.v[i].path);
			rp_fw_list_free(&files);
			free(pl.v);
			return RP_OK;
		}
	if (r == RP_OK)
		r = not_found(soc, "recovery.bin", RP_FW_RECOVERY, &pl,
			      image_path ? "next to the image and " : "", d);
	rp_fw_list_free(&files);
	free(pl.v);
	return r;
}
