/* One step from "image + config + key" to the files recovery.bin asks for:
 * pieeprom.bin (with the wanted boot.conf, optionally signed config and
 * embedded public key), pieeprom.sig, config.txt and the second stage
 * (recovery.bin served as bootcode4.bin / bootcode5.bin). Used by
 * `rpiprov prepare` (writes a directory) and by `rpiprov flash` (serves
 * the result from memory). */
#ifndef RP_IMAGE_PREPARE_H
#define RP_IMAGE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/second_stage.h"
#include "util/error.h"

#define RP_PREPARE_MAX_SETS 64

struct rp_prepare_opts {
	const char *image_path;     /* NULL: newest pieeprom-*.bin from the firmware search path
				     * (image/firmware.h); a directory: searched like one */
	const char *config_path;    /* boot.conf to embed; NULL: keep the image's own (or profile) */
	const char *profile;        /* profile name ("netboot") or NULL; exclusive with config_path */
	const char *sets[RP_PREPARE_MAX_SETS];   /* "KEY=VALUE" edits */
	unsigned n_sets;
	const char *unsets[RP_PREPARE_MAX_SETS]; /* "KEY" removals */
	unsigned n_unsets;
	const char *private_key_path; /* sign bootconf.txt with this RSA-2048 key */
	const char *hsm_wrapper;      /* or with this wrapper program ... */
	const char *public_key_path;  /* ... whose public key is this PEM */
	const char *recovery_path;    /* NULL: recovery.bin from the firmware search path */
	const char *recovery_config_path; /* config.txt for recovery.bin; NULL: built-in default */
	bool allow_otp;               /* permit config.txt options that write OTP (irreversible) */
	bool strict;                  /* unknown boot.conf keys are errors, not warnings */
	bool force;                   /* write a --set key no bootloader knows (else an error) */
	int64_t timestamp;            /* for .sig files; < 0: SOURCE_DATE_EPOCH or now */
	const char *soc;              /* "2711"/"2712" for the default image and recovery.bin
					 lookups; NULL: 2711. An explicit image decides itself. */
	unsigned hsm_timeout_ms;      /* 0: RP_HSM_TIMEOUT_MS */
	/* Simulation only: when the search finds no image (or no
	 * recovery.bin), use the synthetic ones (image/synthetic.h) instead
	 * of failing. Never set for real boards. */
	bool synthetic_fallback;
};

struct rp_prepared {
	uint8_t *image;             /* pieeprom.bin as it will be served */
	size_t image_len;
	char image_sha256[65];
	char *image_sig;            /* pieeprom.sig text */
	size_t image_sig_len;
	uint8_t *recovery_config;   /* config.txt */
	size_t recovery_config_len;
	uint8_t *second_stage;      /* recovery.bin bytes */
	size_t second_stage_len;
	char soc[8];                /* "2711" or "2712", from the image */
	char image_source[4096];    /* which file was used (for "using ..." messages) */
	char image_why[512];        /* why the search chose it; "" when given */
	bool synthetic;             /* image or second stage is synthetic: simulation only */
	char recovery_source[4096];
	struct rp_second_stage_info recovery_info; /* what the second stage's bytes say */
	char warnings[2048];        /* newline-separated warnings (unknown keys, ...) for the CLI */
};

/* Everything happens in memory (the HSM wrapper alone needs a temporary
 * file, as its interface takes a path); no globals, so threads may build
 * in parallel. On failure *out holds no data (safe to free) but keeps
 * image_source, recovery_source and warnings for messages. Secure boot
 * (a key or wrapper) refuses images with BUILD_TIMESTAMP < 1632136573. */
int rp_prepare_build(const struct rp_prepare_opts *opts, struct rp_prepared *out,
		     struct rp_diag *d);
/* One set per SoC a run may meet. With an image path or a SoC given, the
 * one set rp_prepare_build makes. Otherwise a set for every SoC with an
 * EEPROM whose firmware is found, so that one run serves a mixed tray
 * (each board gets its own SoC's files); RP_ERR_NOT_FOUND with the first
 * SoC's message when no firmware is found at all. out[0..*n) must be
 * freed with rp_prepared_free, also on failure. */
#define RP_PREPARE_MAX_SOCS 4
/* A SoC left out of rp_prepare_build_each_soc: why, and whether an image
 * for it was found (then its recovery.bin was missing or of another chip,
 * which the user should hear about at start). */
struct rp_prepare_skipped {
	char soc[8];
	bool image_found;
	char why[768];
};
/* Whether opts make a set for one SoC (an image file, or --soc) rather
 * than one per SoC found (the search path, or --image DIR): boards of
 * another SoC are then not this run's. */
bool rp_prepare_one_soc(const struct rp_prepare_opts *opts);
int rp_prepare_build_each_soc(const struct rp_prepare_opts *opts,
			      struct rp_prepared out[RP_PREPARE_MAX_SOCS], size_t *n,
			      struct rp_prepare_skipped skipped[RP_PREPARE_MAX_SOCS],
			      size_t *n_skipped, struct rp_diag *d);

/* Write bootcode4.bin (or bootcode5.bin), pieeprom.bin, pieeprom.sig and
 * config.txt into dir (created if needed) all at once (rp_dir_write_set):
 * the directory holds the old set or the new one, never a mix; its other
 * entries are kept. */
int rp_prepare_write_dir(const struct rp_prepared *p, const char *dir, struct rp_diag *d);
void rp_prepared_free(struct rp_prepared *p);

#endif
