#include "firmware/fetch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/index.h"
#include "firmware/manifest.h"
#include "image/eeprom_image.h"
#include "image/firmware.h"
#include "image/second_stage.h"
#include "image/sig.h"
#include "soc/soc.h"
#include "util/fileio.h"

#define MAX_INDEX (1u << 20)
#define MAX_RECOVERY (8u << 20)

struct download {
	struct rp_index_entry *e;
	uint8_t *data;
	size_t len;
	size_t max;
};

static bool channel_ok(const char *c)
{
	if (!c[0] || strlen(c) > 15)
		return false;
	for (; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return true;
}

/* The index URL and the folder files are in when the index names no URL. */
static int urls(const struct rp_fetch_opts *o, const struct rp_soc *soc, char *index, size_t isz,
		char *folder, size_t fsz, struct rp_diag *d)
{
	const char *base = o->base_url ? o->base_url : getenv("RPIPROV_FIRMWARE_URL");
	size_t blen;
	bool github;

	if (!base || !*base)
		base = RP_FIRMWARE_GITHUB_API;
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	github = !strncmp(base, "https://api.github.com/", 23);
	if ((size_t)snprintf(folder, fsz, "%.*s/%s/%s", (int)blen, base, soc->firmware_dir,
			     o->channel) >= fsz ||
	    (size_t)snprintf(index, isz, "%s%s", folder, github ? "" : "/index.json") >= isz)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "base URL too long");
	return rp_http_url_allowed(index, d);
}

static int download(const struct rp_fetch_opts *o, const char *folder, struct download *dl,
		    struct rp_diag *d)
{
	struct rp_http_opts ho = {
		.max_size = dl->max,
		.connect_timeout_ms = o->connect_timeout_ms,
		.stall_timeout_ms = o->stall_timeout_ms,
		.what = dl->e->name,
		.progress = o->progress,
		.progress_ctx = o->progress_ctx,
	};
	int r;

	if (!dl->e->url[0] &&
	    (size_t)snprintf(dl->e->url, sizeof(dl->e->url), "%s/%s", folder, dl->e->name) >=
		    sizeof(dl->e->url))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "URL of %s too long", dl->e->name);
	r = rp_http_get(dl->e->url, &ho, &dl->data, &dl->len, d);
	if (r < 0)
		return r;
	if (dl->e->size >= 0 && (uint64_t)dl->e->size != dl->len)
		return rp_diag_set(d, dl->len < (uint64_t)dl->e->size ? RP_ERR_IO : RP_ERR_FORMAT,
				   "%s: %zu bytes arrived, the index says %lld: %s", dl->e->url,
				   dl->len, (long long)dl->e->size,
				   dl->len < (uint64_t)dl->e->size ? "download cut short" : "wrong file");
	if (dl->e->git_sha[0] && !rp_index_git_sha_matches(dl->data, dl->len, dl->e->git_sha))
		return rp_diag_set(d, RP_ERR_VERIFY, "%s: content does not match the index's git SHA-1 %s",
				   dl->e->url, dl->e->git_sha);
	return RP_OK;
}

/* The image must be what its name says before it may replace anything. */
static int check_image(const struct rp_soc *soc, const struct download *dl, int64_t *built,
		       struct rp_diag *d)
{
	struct rp_eeprom img;
	int r;

	memset(&img, 0, sizeof(img));
	r = rp_eeprom_parse(&img, dl->data, dl->len, dl->e->url, d);
	if (r < 0)
		return rp_diag_prefix(d, "not a bootloader image");
	*built = rp_eeprom_build_timestamp(&img);
	if (img.soc != soc)
		r = rp_diag_set(d, RP_ERR_FORMAT, "%s: a BCM%s image (by its size), not BCM%s",
				dl->e->url, img.soc->soc, soc->soc);
	else if (*built <= 0)
		r = rp_diag_set(d, RP_ERR_FORMAT, "%s: no BUILD_TIMESTAMP: not a bootloader image",
				dl->e->url);
	rp_eeprom_free(&img);
	return r;
}

/* What every second stage is: an ARM binary of some tens of KiB (the
 * releases so far are 60-200 KiB; they begin with a zeroed 512-byte block
 * and carry code, not text). A captive portal's or a proxy's HTML page,
 * an error page or an empty answer is none of that, and must never be
 * cached for `flash` to send to boards. */
#define RECOVERY_MIN (16u * 1024)

static int check_recovery(const struct rp_soc *soc, const struct download *dl,
			  struct rp_diag *d)
{
	size_t printable = 0, head = dl->len < 1024 ? dl->len : 1024, i = 0;
	struct rp_second_stage_info info;
	char what[96];

	while (i < head && (dl->data[i] == ' ' || dl->data[i] == '\t' || dl->data[i] == '\r' ||
			    dl->data[i] == '\n' || dl->data[i] == 0xef || dl->data[i] == 0xbb ||
			    dl->data[i] == 0xbf))
		i++; /* whitespace and a UTF-8 byte order mark */
	if (i < head && (dl->data[i] == '<' || dl->data[i] == '{'))
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: an HTML, XML or JSON page, not a recovery.bin (a captive "
				   "portal or a proxy answering instead of the mirror?)",
				   dl->e->url);
	if (dl->len < RECOVERY_MIN || dl->len > MAX_RECOVERY)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: %zu bytes: a recovery.bin (an ARM second stage) is %u KiB to "
				   "%u KiB",
				   dl->e->url, dl->len, RECOVERY_MIN / 1024, MAX_RECOVERY / 1024);
	for (i = 0; i < dl->len; i++)
		if ((dl->data[i] >= 0x20 && dl->data[i] < 0x7f) || dl->data[i] == '\n' ||
		    dl->data[i] == '\r' || dl->data[i] == '\t')
			printable++;
	if (printable * 10 > dl->len * 9)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: text, not a recovery.bin (an ARM binary)",
				   dl->e->url);
	/* What the bytes say they are (image/second_stage.h): a recovery.bin
	 * of this chip, or at least of no other. */
	rp_second_stage_identify(dl->data, dl->len, &info);
	rp_second_stage_describe(&info, what, sizeof(what));
	if (info.kind != RP_SECOND_STAGE_RECOVERY)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: a %s, not a recovery.bin", dl->e->url, what);
	if (info.soc && info.soc != soc)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: a %s, not one for BCM%s", dl->e->url, what,
				   soc->soc);
	return RP_OK;
}

/* Older images of this channel go once the new one is in place: the
 * cache holds what a fetch chose, not a history. */
static void remove_older(const char *dir, const char *keep)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char date[11], path[4400];

	if (!dp)
		return;
	while ((e = readdir(dp)))
		if (rp_firmware_image_date(e->d_name, date) && strcmp(e->d_name, keep)) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(dp);
}

static int store(const struct rp_fetch_opts *o, const struct download *img,
		 const struct download *rec, int64_t built, struct rp_fetch_result *res,
		 struct rp_diag *d)
{
	struct rp_manifest_file files[2] = {
		{ .name = img->e->name, .url = img->e->url, .size = img->len, .build_timestamp = built },
		{ .name = "recovery.bin", .url = rec->e->url, .size = rec->len, .build_timestamp = -1 },
	};
	int r = rp_mkdir_p(res->dir, 0755, d);

	rp_sha256_hex(img->data, img->len, files[0].sha256);
	rp_sha256_hex(rec->data, rec->len, files[1].sha256);
	snprintf(res->image_path, sizeof(res->image_path), "%s/%s", res->dir, img->e->name);
	snprintf(res->recovery_path, sizeof(res->recovery_path), "%s/recovery.bin", res->dir);
	if (r == RP_OK)
		r = rp_file_write_atomic(res->image_path, img->data, img->len, 0644, d);
	if (r == RP_OK)
		r = rp_file_write_atomic(res->recovery_path, rec->data, rec->len, 0644, d);
	if (r == RP_OK)
		r = rp_manifest_write(res->dir, o->soc, o->channel, res->index_url, files, 2, d);
	if (r < 0)
		return r;
	remove_older(res->dir, img->e->name);
	memcpy(res->image_sha256, files[0].sha256, sizeof(res->image_sha256));
	return RP_OK;
}

int rp_firmware_fetch(const struct rp_fetch_opts *o, struct rp_fetch_result *res,
		      struct rp_diag *d)
{
	const struct rp_soc *soc = o->soc ? rp_soc_eeprom_by_name(o->soc) : NULL;
	struct rp_http_opts io = {
		.max_size = MAX_INDEX,
		.connect_timeout_ms = o->connect_timeout_ms,
		.stall_timeout_ms = o->stall_timeout_ms,
		.accept = "application/vnd.github+json, application/json",
		.what = "index",
	};
	struct rp_index_choice choice;
	struct download img = { .e = &choice.image }, rec = { .e = &choice.recovery };
	char folder[2048];
	uint8_t *index = NULL;
	size_t index_len;
	int64_t built = -1;
	int r;

	memset(res, 0, sizeof(*res));
	if (!soc)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "no bootloader firmware for SoC '%s'",
				   o->soc ? o->soc : "(none)");
	if (!o->channel || !channel_ok(o->channel))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "bad channel name '%s'",
				   o->channel ? o->channel : "");
	if ((size_t)snprintf(res->dir, sizeof(res->dir), "%s/%s/%s", o->cache_root, soc->soc,
			     o->channel) >= sizeof(res->dir))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "cache folder path too long");
	r = urls(o, soc, res->index_url, sizeof(res->index_url), folder, sizeof(folder), d);
	if (r == RP_OK)
		r = rp_http_get(res->index_url, &io, &index, &index_len, d);
	if (r == RP_OK)
		r = rp_index_choose((const char *)index, index_len, res->index_url, &choice, d);
	free(index);
	img.max = soc->eeprom_size;
	rec.max = MAX_RECOVERY;
	if (r == RP_OK)
		r = download(o, folder, &img, d);
	if (r == RP_OK)
		r = check_image(soc, &img, &built, d);
	if (r == RP_OK)
		r = download(o, folder, &rec, d);
	if (r == RP_OK)
		r = check_recovery(soc, &rec, d);
	if (r == RP_OK)
		r = store(o, &img, &rec, built, res, d);
	if (r == RP_OK) {
		memcpy(res->image_date, choice.image.date, sizeof(res->image_date));
		snprintf(res->image_url, sizeof(res->image_url), "%s", choice.image.url);
	}
	free(img.data);
	free(rec.data);
	return r;
}
