#include "image/prepare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "image/bootconf.h"
#include "image/eeprom_image.h"
#include "image/firmware.h"
#include "image/profiles.h"
#include "image/pubkey.h"
#include "image/recovery_config.h"
#include "image/rsa.h"
#include "image/sig.h"
#include "image/synthetic.h"
#include "soc/soc.h"
#include "util/fileio.h"

#define MAX_SECOND_STAGE (8u << 20)

/* Everything a build holds on to until it either hands over or fails. */
struct build {
	struct rp_eeprom img;
	EVP_PKEY *priv, *pub;
	uint8_t *conf;
	size_t conf_len;
	char conf_name[4200];
	int64_t update_ts; /* the one ts: of both .sig files and the image's update time */
};

static void build_free(struct build *b)
{
	rp_eeprom_free(&b->img);
	EVP_PKEY_free(b->priv);
	EVP_PKEY_free(b->pub);
	free(b->conf);
}

static void utc_date(int64_t ts, char *buf, size_t size)
{
	time_t t = (time_t)ts;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d", &tm))
		snprintf(buf, size, "?");
}

static int check_args(const struct rp_prepare_opts *o, struct rp_diag *d)
{
	if (o->config_path && o->profile)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "a config file and a profile exclude each other");
	if (o->private_key_path && o->hsm_wrapper)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "sign with a private key or with an HSM wrapper, not both");
	if (o->hsm_wrapper && !o->public_key_path)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "signing with an HSM wrapper needs the public key PEM too (it is embedded as pubkey.bin)");
	if (o->n_sets > RP_PREPARE_MAX_SETS || o->n_unsets > RP_PREPARE_MAX_SETS)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "too many --set/--unset options (max %d)",
				   RP_PREPARE_MAX_SETS);
	if (o->soc) {
		const struct rp_soc *soc = rp_soc_by_name(o->soc);
		char names[64];
		if (!soc || !rp_soc_has_eeprom(soc))
			return rp_diag_set(d, RP_ERR_INVALID_ARG, "%s SoC '%s' (%s)",
					   soc ? "no bootloader EEPROM on" : "unknown", o->soc,
					   rp_soc_eeprom_names(names, sizeof(names)));
	}
	return RP_OK;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder to search instead of the default places: --image DIR. */
static const char *given_dir(const struct rp_prepare_opts *o)
{
	return is_dir(o->image_path) ? o->image_path : NULL;
}

/* No firmware anywhere and a simulation asked for it: the labelled
 * synthetic image and second stage (src/image/synthetic.h). */
static int load_synthetic(const struct rp_prepare_opts *o, struct build *b,
			  struct rp_prepared *out, struct rp_diag *d)
{
	const struct rp_soc *soc = o->soc ? rp_soc_eeprom_by_name(o->soc) : rp_soc_default();
	uint8_t *img;
	size_t len;
	int r;

	if (!soc)
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "no bootloader EEPROM on SoC '%s'", o->soc);
	r = rp_synth_firmware(soc->soc, &img, &len, &out->second_stage, &out->second_stage_len, d);
	if (r < 0)
		return r;
	snprintf(out->image_source, sizeof(out->image_source), "synthetic BCM%s image (" RP_SYNTHETIC_LABEL ")",
		 soc->soc);
	snprintf(out->image_why, sizeof(out->image_why),
		 "no %s firmware found and the boards are simulated", soc->soc);
	out->synthetic = true;
	r = rp_eeprom_parse(&b->img, img, len, "synthetic image", d);
	free(img);
	return r;
}

static int load_image(const struct rp_prepare_opts *o, struct build *b, struct rp_prepared *out,
		      struct rp_diag *d)
{
	int r;

	if (o->image_path && !given_dir(o)) {
		snprintf(out->image_source, sizeof(out->image_source), "%s", o->image_path);
		r = rp_eeprom_load(&b->img, out->image_source, d);
	} else {
		struct rp_diag why;
		rp_diag_clear(&why);
		r = rp_firmware_find_image(o->soc, given_dir(o), out->image_source,
					   sizeof(out->image_source), out->image_why,
					   sizeof(out->image_why), &why);
		if (r == RP_OK)
			r = rp_eeprom_load(&b->img, out->image_source, d);
		else if (r == RP_ERR_NOT_FOUND && o->synthetic_fallback && !o->image_path)
			r = load_synthetic(o, b, out, d);
		else if (d)
			*d = why;
	}
	if (r < 0)
		return r;
	snprintf(out->soc, sizeof(out->soc), "%s", b->img.soc->soc);
	return RP_OK;
}

static int load_keys(const struct rp_prepare_opts *o, struct build *b, struct rp_diag *d)
{
	int r = RP_OK;
	if (o->private_key_path)
		r = rp_rsa_load_private(o->private_key_path, &b->priv, d);
	if (r == RP_OK && o->public_key_path)
		r = rp_rsa_load_public(o->public_key_path, &b->pub, d);
	return r;
}

static int secure_boot_checks(const struct build *b, struct rp_diag *d)
{
	int64_t built = rp_eeprom_build_timestamp(&b->img);
	char date[32], min_date[32];

	utc_date(RP_EEPROM_SECURE_BOOT_MIN_TS, min_date, sizeof(min_date));
	if (built < 0)
		return rp_diag_set(d, RP_ERR_REFUSED,
				   "%s: no BUILD_TIMESTAMP found, so it cannot be shown to support secure boot (needs a bootloader from %s or newer)",
				   b->img.label, min_date);
	if (built < RP_EEPROM_SECURE_BOOT_MIN_TS) {
		utc_date(built, date, sizeof(date));
		return rp_diag_set(d, RP_ERR_REFUSED,
				   "%s: bootloader built %s (BUILD_TIMESTAMP=%lld) is too old for secure boot; a signed config needs one from %s (%d) or newer",
				   b->img.label, date, (long long)built, min_date,
				   RP_EEPROM_SECURE_BOOT_MIN_TS);
	}
	if (!rp_eeprom_find_file(&b->img, "bootconf.sig") ||
	    !rp_eeprom_find_file(&b->img, "pubkey.bin"))
		return rp_diag_set(d, RP_ERR_REFUSED,
				   "%s: the image has no %s section, so it cannot carry a signed config",
				   b->img.label,
				   rp_eeprom_find_file(&b->img, "bootconf.sig") ? "pubkey.bin" : "bootconf.sig");
	return RP_OK;
}

/* The boot.conf to embed: file, profile or the image's own, then edits. */
static int load_config(const struct rp_prepare_opts *o, struct build *b, struct rp_prepared *out,
		       struct rp_diag *d)
{
	uint8_t *text = NULL, *edited = NULL;
	size_t len = 0, elen = 0;
	int r;

	if (o->config_path) {
		snprintf(b->conf_name, sizeof(b->conf_name), "%s", o->config_path);
		r = rp_file_read_all(o->config_path, 1u << 20, &text, &len, d);
	} else if (o->profile) {
		r = rp_profile_load(o->profile, &text, &len, b->conf_name, sizeof(b->conf_name), d);
	} else {
		const uint8_t *cur;
		snprintf(b->conf_name, sizeof(b->conf_name), "%s: bootconf.txt", b->img.label);
		r = rp_eeprom_get_file(&b->img, "bootconf.txt", &cur, &len, d);
		if (r == RP_OK) {
			text = malloc(len + 1);
			if (!text)
				return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
			memcpy(text, cur, len);
			text[len] = 0;
		}
	}
	if (r < 0)
		return r;
	if (r == RP_OK && !o->force)
		r = rp_bootconf_check_set_keys(o->sets, o->n_sets, d);
	if (r < 0) {
		free(text);
		return r;
	}
	r = rp_bootconf_edit(text, len, o->sets, o->n_sets, o->unsets, o->n_unsets, &edited, &elen,
			     out->warnings, sizeof(out->warnings), d);
	free(text);
	if (r < 0)
		return r;
	b->conf = edited;
	b->conf_len = elen;
	return rp_bootconf_validate(edited, elen, b->conf_name, o->strict, out->warnings,
				    sizeof(out->warnings), d);
}

static int sign_config(const struct rp_prepare_opts *o, struct build *b, struct rp_diag *d)
{
	struct rp_sig_create_opts so = {
		.timestamp = b->update_ts,
		.private_key = b->priv,
		.hsm_wrapper = o->hsm_wrapper,
		.public_key = b->pub,
		.hsm_timeout_ms = o->hsm_timeout_ms,
	};
	uint8_t pub[RP_PUBKEY_BIN_LEN];
	char *sig;
	size_t sig_len;
	int r;

	r = rp_pubkey_bin_from_key(b->pub ? b->pub : b->priv, pub, d);
	if (r < 0)
		return r;
	r = rp_sig_create(b->conf, b->conf_len, &so, &sig, &sig_len, d);
	if (r < 0)
		return r;
	r = rp_eeprom_replace_file(&b->img, "bootconf.sig", (const uint8_t *)sig, sig_len, d);
	free(sig);
	if (r == RP_OK)
		r = rp_eeprom_replace_file(&b->img, "pubkey.bin", pub, sizeof(pub), d);
	return r;
}

static int load_recovery(const struct rp_prepare_opts *o, struct rp_prepared *out,
			 struct rp_diag *d)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int r = RP_OK;

	if (o->recovery_path) {
		snprintf(out->recovery_source, sizeof(out->recovery_source), "%s", o->recovery_path);
		free(out->second_stage); /* the synthetic one, if any: the user's wins */
		out->second_stage = NULL;
	} else if (!out->second_stage) {
		struct rp_diag why;
		rp_diag_clear(&why);
		r = rp_firmware_find_recovery(out->soc, given_dir(o),
					      out->synthetic ? NULL : out->image_source,
					      out->recovery_source, sizeof(out->recovery_source), &why);
		/* Only with a synthetic image: a real image of this chip without
		 * its own recovery.bin is a set to refuse, simulated or not. */
		if (r == RP_ERR_NOT_FOUND && o->synthetic_fallback && out->synthetic) {
			uint8_t *img;
			size_t img_len;
			r = rp_synth_firmware(out->soc, &img, &img_len, &out->second_stage,
					      &out->second_stage_len, d);
			if (r < 0)
				return r;
			free(img);
			out->synthetic = true;
		} else if (r < 0) {
			if (d)
				*d = why;
			return r;
		}
	}
	if (out->second_stage)
		snprintf(out->recovery_source, sizeof(out->recovery_source),
			 "synthetic second stage (" RP_SYNTHETIC_LABEL ")");
	else
		r = rp_file_read_all(out->recovery_source, MAX_SECOND_STAGE, &out->second_stage,
				     &out->second_stage_len, d);
	if (r < 0)
		return r;
	if (out->second_stage_len == 0)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: empty file", out->recovery_source);
	rp_second_stage_identify(out->second_stage, out->second_stage_len, &out->recovery_info);
	{
		const struct rp_second_stage_info *i = &out->recovery_info;
		char what[96];
		rp_second_stage_describe(i, what, sizeof(what));
		/* The bytes decide, not the name: a CM4's recovery.bin in a
		 * folder of CM5 images must never reach a CM5. */
		if (i->soc && strcmp(i->soc->soc, out->soc) != 0)
			return rp_diag_set(d, RP_ERR_NOT_FOUND,
					   "%s is a %s, not one for the %s image; get a %s recovery.bin "
					   "with 'rpiprov firmware fetch --soc %s'",
					   out->recovery_source, what, out->soc, out->soc, out->soc);
		if (i->kind != RP_SECOND_STAGE_RECOVERY && i->kind != RP_SECOND_STAGE_UNKNOWN)
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "%s is a %s, not recovery.bin: it would never write the "
					   "EEPROM",
					   out->recovery_source, what);
		if (i->kind == RP_SECOND_STAGE_RECOVERY && !i->reports_hash) {
			size_t used = strnlen(out->warnings, sizeof(out->warnings));
			snprintf(out->warnings + used, sizeof(out->warnings) - used,
				 "%s%s (%s) cannot report EEPROM_HASH: boards will be written but "
				 "UNVERIFIED, not confirmed OK; 'rpiprov firmware fetch --soc %s' gets "
				 "one that can (built 2025-11-27 or later)",
				 used ? "\n" : "", out->recovery_source, what, out->soc);
		}
	}

	if (o->recovery_config_path) {
		r = rp_file_read_all(o->recovery_config_path, RP_RECOVERY_CONFIG_MAX, &text, &len, d);
		if (r < 0)
			return r;
	} else {
		const char *def = rp_recovery_config_default(&len);
		text = malloc(len + 1);
		if (!text)
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		memcpy(text, def, len);
		text[len] = 0;
	}
	out->recovery_config = text;
	out->recovery_config_len = len;
	return rp_recovery_config_check(text, len,
					o->recovery_config_path ? o->recovery_config_path
								: "built-in config.txt",
					o->allow_otp, d);
}

/* recovery.bin writes the .sig's ts into the EEPROM where
 * rpi-eeprom-config puts it (F20), whatever the served image holds there.
 * Stamping the image with the same value first makes the served bytes the
 * flashed bytes, so an EEPROM_HASH over either is the same hash. */
static int stamp_update_time(struct build *b, struct rp_diag *d)
{
	if (b->update_ts < 0 || b->update_ts > (int64_t)RP_SIG_TS_MAX)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "timestamp %lld does not fit the bootloader's 32-bit update time",
				   (long long)b->update_ts);
	return rp_eeprom_set_timestamp(&b->img, (uint32_t)b->update_ts, d);
}

int rp_prepare_build(const struct rp_prepare_opts *o, struct rp_prepared *out,
		     struct rp_diag *d)
{
	struct build b;
	bool signing = o->private_key_path || o->hsm_wrapper;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	r = check_args(o, d);
	if (r == RP_OK)
		r = load_image(o, &b, out, d);
	if (r == RP_OK)
		r = load_keys(o, &b, d);
	if (r == RP_OK && signing)
		r = secure_boot_checks(&b, d);
	if (r == RP_OK)
		r = load_config(o, &b, out, d);
	if (r == RP_OK)
		r = rp_eeprom_replace_file(&b.img, "bootconf.txt", b.conf, b.conf_len, d);
	if (r == RP_OK)
		r = rp_sig_timestamp(o->timestamp, &b.update_ts, d);
	if (r == RP_OK && signing)
		r = sign_config(o, &b, d);
	if (r == RP_OK)
		r = stamp_update_time(&b, d);
	if (r == RP_OK) {
		struct rp_sig_create_opts so = { .timestamp = b.update_ts,
						 .sha256_hex = out->image_sha256 };
		rp_sha256_hex(b.img.data, b.img.size, out->image_sha256);
		r = rp_sig_create(b.img.data, b.img.size, &so, &out->image_sig, &out->image_sig_len, d);
	}
	if (r == RP_OK)
		r = load_recovery(o, out, d);
	if (r == RP_OK) {
		out->image = b.img.data;
		out->image_len = b.img.size;
		b.img.data = NULL;
	}
	build_free(&b);
	if (r < 0) {
		/* Keep what the CLI reports ("using image ...", warnings). */
		struct rp_prepared keep;
		memcpy(keep.image_source, out->image_source, sizeof(keep.image_source));
		memcpy(keep.recovery_source, out->recovery_source, sizeof(keep.recovery_source));
		memcpy(keep.warnings, out->warnings, sizeof(keep.warnings));
		memcpy(keep.image_why, out->image_why, sizeof(keep.image_why));
		rp_prepared_free(out);
		memcpy(out->image_why, keep.image_why, sizeof(keep.image_why));
		memcpy(out->image_source, keep.image_source, sizeof(keep.image_source));
		memcpy(out->recovery_source, keep.recovery_source, sizeof(keep.recovery_source));
		memcpy(out->warnings, keep.warnings, sizeof(keep.warnings));
	}
	return r;
}

bool rp_prepare_one_soc(const struct rp_prepare_opts *o)
{
	return o->soc || (o->image_path && !given_dir(o));
}

int rp_prepare_build_each_soc(const struct rp_prepare_opts *o,
			      struct rp_prepared out[RP_PREPARE_MAX_SOCS], size_t *n,
			      struct rp_prepare_skipped skipped[RP_PREPARE_MAX_SOCS],
			      size_t *n_skipped, struct rp_diag *d)
{
	size_t n_socs;
	const struct rp_soc *socs = rp_soc_table(&n_socs);
	struct rp_diag first = { 0 };
	int r;

	*n = 0;
	if (n_skipped)
		*n_skipped = 0;
	if (rp_prepare_one_soc(o)) {
		r = rp_prepare_build(o, &out[0], d);
		*n = 1;
		return r;
	}
	for (size_t i = 0; i < n_socs && *n < RP_PREPARE_MAX_SOCS; i++) {
		struct rp_prepare_opts po = *o;
		struct rp_diag why;

		if (!rp_soc_has_eeprom(&socs[i]))
			continue;
		po.soc = socs[i].soc;
		rp_diag_clear(&why);
		r = rp_prepare_build(&po, &out[*n], &why);
		if (r == RP_ERR_NOT_FOUND) {
			/* No firmware for this SoC here: its boards fail loudly
			 * (no second stage in the payload) if one turns up. */
			if (!first.msg[0])
				first = why;
			if (skipped && n_skipped) {
				struct rp_prepare_skipped *k = &skipped[(*n_skipped)++];
				snprintf(k->soc, sizeof(k->soc), "%s", socs[i].soc);
				k->image_found = out[*n].image_source[0] != '\0';
				snprintf(k->why, sizeof(k->why), "%s", why.msg);
			}
			rp_prepared_free(&out[*n]);
			continue;
		}
		(*n)++;
		if (r != RP_OK) {
			if (d)
				*d = why;
			return r;
		}
	}
	if (*n)
		return RP_OK;
	if (d)
		*d = first;
	return first.code ? first.code : RP_ERR_NOT_FOUND;
}

int rp_prepare_write_dir(const struct rp_prepared *p, const char *dir, struct rp_diag *d)
{
	const struct rp_soc *soc = rp_soc_by_name(p->soc);
	const struct rp_file_out files[] = {
		{ (soc ? soc : rp_soc_default())->second_stage, p->second_stage, p->second_stage_len },
		{ "pieeprom.bin", p->image, p->image_len },
		{ "pieeprom.sig", p->image_sig, p->image_sig_len },
		{ "config.txt", p->recovery_config, p->recovery_config_len },
	};

	/* All four at once: a new pieeprom.bin beside the old .sig would be
	 * served as a set that does not belong together. */
	return rp_dir_write_set(dir, files, sizeof(files) / sizeof(files[0]), 0644, d);
}

void rp_prepared_free(struct rp_prepared *p)
{
	if (!p)
		return;
	free(p->image);
	free(p->image_sig);
	free(p->recovery_config);
	free(p->second_stage);
	memset(p, 0, sizeof(*p));
}
