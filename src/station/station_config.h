/* Settings of `rpiprov station`, from /etc/rpiprov/station.conf (INI) and
 * the command line, which overrides the file. The keys mirror the long
 * options:
 *
 *   image = /path/pieeprom.bin     profile = netboot   | config = boot.conf
 *   set = KEY=VALUE (repeatable)   unset = KEY (repeatable)
 *   key = private.pem  | hsm_wrapper = /path/prog  with  pubkey = public.pem
 *   recovery = /path/recovery.bin  recovery_config = config.txt
 *   ports = 1-1.* 1-2.*  (fnmatch globs, space or comma separated, repeatable)
 *   serials = 10000000abcdef01 ... (repeatable)
 *   report = /var/lib/rpiprov/report.jsonl   database = /var/lib/rpiprov/boards.db
 *   metadata_dir = /var/lib/rpiprov/metadata
 *   board_timeout = 120 (seconds; "90s", "1500ms", "2m" also accepted)
 *   station = line-3 (name written into every record)
 *   allow_otp_permanent = no
 *   require_verified = no (a write recovery.bin cannot confirm fails, not UNVERIFIED)
 *   strict = no (unknown boot.conf keys are errors)
 *   force = no (a 'set' key no bootloader knows is written anyway)
 *   http = 127.0.0.1:8080 (web dashboard and /metrics; station/http_server.h)
 *   http_token_file = /etc/rpiprov/http-token (needed to listen beyond loopback)
 *
 * Keys may stand before any section or in [station]; anything else,
 * unknown keys and repeated single-valued keys are errors that name the
 * file and line. */
#ifndef RP_STATION_STATION_CONFIG_H
#define RP_STATION_STATION_CONFIG_H

#include <stdbool.h>

#include "image/prepare.h"
#include "util/error.h"

#define RP_STATION_DEFAULT_CONFIG "/etc/rpiprov/station.conf"
#define RP_STATION_MAX_GLOBS 64
/* The size of the largest configuration file we read. */
#define RP_STATION_CONFIG_MAX (1024 * 1024)

enum rp_config_origin {
	RP_CONFIG_FILE = 0,
	RP_CONFIG_CLI, /* the first CLI value of a list key replaces the file's list */
};

struct rp_station_config {
	char *image, *profile, *config, *key, *hsm_wrapper, *pubkey, *recovery, *recovery_config;
	char *sets[RP_PREPARE_MAX_SETS];
	unsigned n_sets;
	char *unsets[RP_PREPARE_MAX_SETS];
	unsigned n_unsets;
	char *ports[RP_STATION_MAX_GLOBS];
	unsigned n_ports;
	char *serials[RP_STATION_MAX_GLOBS];
	unsigned n_serials;
	char *report, *database, *metadata_dir, *station;
	char *spool;                   /* the record spool file (records/spool.h) */
	bool allow_db_offline;         /* start even when a record sink cannot open yet */
	char *http, *http_token_file;
	unsigned board_timeout_ms;     /* 0: the runner's default */
	bool allow_otp_permanent;
	bool require_verified;
	bool strict;
	bool force;                    /* write a 'set' key no bootloader knows */
	/* private: which keys were given, and by whom (duplicate and override rules) */
	unsigned given_file_[32], given_cli_[32];
};

void rp_station_config_init(struct rp_station_config *c);
void rp_station_config_free(struct rp_station_config *c);

/* Read an INI file into c. Errors read "FILE:LINE: what is wrong". A
 * missing file is RP_ERR_NOT_FOUND. */
int rp_station_config_load(struct rp_station_config *c, const char *path, struct rp_diag *d);
/* The same from text (tests); `name` stands for the file in messages. */
int rp_station_config_load_string(struct rp_station_config *c, const char *name,
				  const char *text, struct rp_diag *d);
/* Set one key as the file or the command line would. RP_ERR_INVALID_ARG
 * (unknown key or bad value) with a message naming the key. */
int rp_station_config_set(struct rp_station_config *c, enum rp_config_origin origin,
			  const char *key, const char *value, struct rp_diag *d);
/* Cross-key rules (profile vs config, key vs hsm_wrapper, ...), checked
 * once everything is in. */
int rp_station_config_check(const struct rp_station_config *c, struct rp_diag *d);
/* Durations in the file and on the station's command line: 1 s to 24 h
 * (a day is beyond any board; below a second is a typo). */
#define RP_STATION_MAX_DURATION_MS 86400000ull
/* Fill prepare options pointing into c (valid while c lives). */
void rp_station_config_prepare_opts(const struct rp_station_config *c,
				    struct rp_prepare_opts *o);

#endif
