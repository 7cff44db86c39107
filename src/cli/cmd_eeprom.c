/* rpiprov eeprom info|config|set|extract: inspect and edit pieeprom images
 * like rpi-eeprom-config, with byte-identical output. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/verbosity.h"
#include "image/boot_order.h"
#include "image/bootconf.h"
#include "image/eeprom_image.h"
#include "image/pubkey.h"
#include "image/sig.h"
#include "records/json_fields.h"
#include "util/fileio.h"
#include "util/timefmt.h"

#define MAX_EDITS 64
#define CONFIG_MAX_INPUT (1u << 20)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov eeprom info IMAGE [--json] [--verbose]\n"
		"       rpiprov eeprom config IMAGE [-o FILE]\n"
		"       rpiprov eeprom set IMAGE -o OUT [--config FILE] [--set KEY=VALUE ...]\n"
		"                 [--unset KEY ...] [--digest SIG] [--pubkey PEM] [--cacert DER]\n"
		"                 [--timestamp TS] [--bootcode FILE] [--bootsys FILE] [--strict]\n"
		"       rpiprov eeprom extract IMAGE [-C DIR]\n\n"
		"Inspect and edit bootloader EEPROM images (pieeprom-*.bin, 512 KiB for\n"
		"BCM2711, 2 MiB for BCM2712). 'set' writes a new image byte-identical to what\n"
		"rpi-eeprom-config makes from the same inputs; the input is never modified.\n\n"
		"  info      size, SoC, build date, embedded files, signing state, BOOT_ORDER\n"
		"            --json       machine-readable output\n"
		"            --verbose    also list every section\n"
		"  config    print the embedded bootloader config (bootconf.txt) byte for byte\n"
		"            -o FILE      write it to FILE instead of stdout\n"
		"  set       -o OUT       the new image (must differ from IMAGE)\n"
		"            --config F   boot.conf to embed (default: the image's own)\n"
		"            --set K=V    set a key in the [all] section (repeatable)\n"
		"            --unset K    remove a key from the [all] section (repeatable)\n"
		"            --digest S   bootconf.sig made by 'rpiprov digest -k' for the new config\n"
		"            --pubkey P   RSA-2048 public key PEM, embedded as pubkey.bin\n"
		"            --cacert D   CA certificate (DER), embedded as cacert.der\n"
		"            --timestamp TS  update timestamp (seconds since 1970)\n"
		"            --bootcode F / --bootsys F   replace the bootloader code sections\n"
		"            --strict     unknown boot.conf keys are errors, not warnings\n"
		"  extract   write every embedded file and bootcode.bin into DIR (default .)\n"
		"            -C DIR       output directory\n");
}

static int load_image(const char *path, struct rp_eeprom *img)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	if (rp_eeprom_load(img, path, &d) < 0)
		return cli_fail(&d);
	return CLI_EXIT_OK;
}

static void utc(int64_t ts, char *buf, size_t size)
{
	time_t t = (time_t)ts;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "?");
}

/* Everything `info` reports, gathered once for both output formats. */
struct info {
	int64_t built;
	uint32_t update_ts;
	bool update_set;
	const char *signed_state;   /* "yes", "digest only", "no", "mismatch" */
	bool pubkey;
	bool has_order;
	struct rp_boot_order order;
	char order_text[16];
	char order_words[256];
	const char *order_error;
	struct rp_diag order_diag;
};

/* Section names come from the image: printable ASCII only on output. */
static const char *shown_name(const struct rp_eeprom_section *s,
			      char out[RP_EEPROM_FILE_NAME_LEN + 1])
{
	size_t i = 0;
	for (; s->name[i]; i++)
		out[i] = (s->name[i] >= 0x20 && s->name[i] < 0x7f) ? s->name[i] : '?';
	out[i] = '\0';
	return out;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void gather(const struct rp_eeprom *img, struct info *in)
{
	const uint8_t *conf = NULL, *sig = NULL, *pub = NULL;
	size_t conf_len = 0, sig_len = 0, pub_len = 0;
	struct rp_sig s;

	memset(in, 0, sizeof(*in));
	in->built = rp_eeprom_build_timestamp(img);
	rp_eeprom_get_timestamp(img, &in->update_ts, &in->update_set);
	rp_eeprom_get_file(img, "bootconf.txt", &conf, &conf_len, NULL);
	in->signed_state = "no";
	if (conf && rp_eeprom_get_file(img, "bootconf.sig", &sig, &sig_len, NULL) == RP_OK &&
	    rp_sig_parse(sig, sig_len, "bootconf.sig", &s, NULL) == RP_OK) {
		if (rp_sig_verify(conf, conf_len, "bootconf.txt", &s, NULL, NULL) < 0)
			in->signed_state = "mismatch";
		else
			in->signed_state = s.has_rsa ? "yes" : "digest only";
	}
	if (rp_eeprom_get_file(img, "pubkey.bin", &pub, &pub_len, NULL) == RP_OK)
		in->pubkey = pub_len == RP_PUBKEY_BIN_LEN && !all_bytes(pub, pub_len, 0) &&
			     !all_bytes(pub, pub_len, 0xff);
	if (conf) {
		size_t vlen;
		const char *v = rp_bootconf_get(conf, conf_len, "BOOT_ORDER", &vlen);
		if (v) {
			in->has_order = true;
			snprintf(in->order_text, sizeof(in->order_text), "%.*s",
				 (int)(vlen > 15 ? 15 : vlen), v);
			rp_diag_clear(&in->order_diag);
			if (rp_boot_order_parse(v, vlen, &in->order, &in->order_diag) == RP_OK)
				rp_boot_order_describe(&in->order, in->order_words,
						       sizeof(in->order_words));
			else
				in->order_error = rp_diag_message(&in->order_diag);
		}
	}
}

static void info_text(const struct rp_eeprom *img, const struct info *in, bool verbose)
{
	char date[64];

	printf("image:        %s\n", img->label);
	printf("size:         %zu bytes (BCM%s)\n", img->size, img->soc->soc);
	if (in->built >= 0) {
		utc(in->built, date, sizeof(date));
		printf("built:        %s (BUILD_TIMESTAMP=%lld)\n", date, (long long)in->built);
	} else {
		printf("built:        unknown (no BUILD_TIMESTAMP)\n");
	}
	printf("secure boot:  %s\n", in->built >= RP_EEPROM_SECURE_BOOT_MIN_TS
					     ? "supported by this bootloader"
					     : "not supported (bootloader older than 2021-09-20)");
	if (img->ab)
		printf("layout:       A/B: %u-byte read-only area, partition at %u (%u bytes)\n",
		       img->part_start, img->part_start, img->part_end - img->part_start);
	if (in->update_set) {
		utc(in->update_ts, date, sizeof(date));
		printf("updated:      %s (ts %u)\n", date, in->update_ts);
	} else {
		printf("updated:      no timestamp set\n");
	}
	printf("files:\n");
	for (size_t i = 0; i < img->n_sec; i++) {
		const struct rp_eeprom_section *s = &img->sec[i];
		char nm[RP_EEPROM_FILE_NAME_LEN + 1];
		if (s->magic == RP_EEPROM_MAGIC_FILE)
			printf("  %-12s %6u bytes at offset %u\n", shown_name(s, nm), s->length - 16,
			       s->offset);
	}
	printf("config signed: %s\n", in->signed_state);
	printf("public key:   %s\n", in->pubkey ? "embedded (pubkey.bin)" : "not embedded");
	if (!in->has_order)
		printf("boot order:   not set (bootloader default)\n");
	else if (in->order_error)
		printf("boot order:   %s: INVALID: %s\n", in->order_text, in->order_error);
	else
		printf("boot order:   %s: %s\n", in->order_text, in->order_words);
	if (verbose) {
		printf("sections:\n  %8s  %-10s %8s  %s\n", "offset", "magic", "length", "kind");
		for (size_t i = 0; i < img->n_sec; i++) {
			const struct rp_eeprom_section *s = &img->sec[i];
			char nm[RP_EEPROM_FILE_NAME_LEN + 1];
			printf("  %8u  0x%08x %8u  %s%s%s\n", s->offset, s->magic, s->length,
			       rp_eeprom_magic_name(s->magic), s->name[0] ? " " : "",
			       shown_name(s, nm));
		}
		printf("  %8zu  end of section list\n", img->end_offset);
	}
}

static int info_json(const struct rp_eeprom *img, const struct info *in, bool verbose)
{
	json_object *root = json_object_new_object(), *files = json_object_new_array();
	char date[RP_TIME_ISO_MAX];

	rp_json_add(root, "image", json_object_new_string(img->label));
	rp_json_add(root, "size", json_object_new_int64((int64_t)img->size));
	rp_json_add(root, "soc", json_object_new_string(img->soc->soc));
	rp_json_add(root, "ab", json_object_new_boolean(img->ab));
	if (in->built >= 0) {
		/* ISO 8601 UTC, as every JSON time of rpiprov (README: JSON shapes). */
		rp_time_format_iso(in->built <= INT64_MAX / 1000 ? in->built * 1000 : INT64_MAX, date);
		rp_json_add(root, "build_timestamp", json_object_new_int64(in->built));
		rp_json_add(root, "build_date", json_object_new_string(date));
	} else {
		rp_json_add_null(root, "build_timestamp");
		rp_json_add_null(root, "build_date");
	}
	rp_json_add(root, "secure_boot_capable",
			       json_object_new_boolean(in->built >= RP_EEPROM_SECURE_BOOT_MIN_TS));
	if (in->update_set) {
		rp_time_format_iso((int64_t)in->update_ts * 1000, date);
		rp_json_add(root, "update_timestamp", json_object_new_int64(in->update_ts));
		rp_json_add(root, "update_date", json_object_new_string(date));
	} else {
		rp_json_add_null(root, "update_timestamp");
		rp_json_add_null(root, "update_date");
	}
	for (size_t i = 0; i < img->n_sec; i++) {
		const struct rp_eeprom_section *s = &img->sec[i];
		if (s->magic != RP_EEPROM_MAGIC_FILE)
			continue;
		json_object *f = json_object_new_object();
		char nm[RP_EEPROM_FILE_NAME_LEN + 1];
		rp_json_add(f, "name", json_object_new_string(shown_name(s, nm)));
		rp_json_add(f, "size", json_object_new_int64(s->length - 16));
		rp_json_add(f, "offset", json_object_new_int64(s->offset));
		json_object_array_add(files, f);
	}
	rp_json_add(root, "files", files);
	/* A boolean, as JSON booleans are; the detail beside it. */
	rp_json_add(root, "config_signed", json_object_new_boolean(!strcmp(in->signed_state, "yes")));
	rp_json_add(root, "config_signature",
		    json_object_new_string(!strcmp(in->signed_state, "yes") ? "rsa"
					   : !strcmp(in->signed_state, "no") ? "none"
					   : in->signed_state));
	rp_json_add(root, "pubkey_embedded", json_object_new_boolean(in->pubkey));
	if (in->has_order) {
		json_object *bo = json_object_new_object();
		rp_json_add(bo, "value", json_object_new_string(in->order_text));
		rp_json_add(bo, "valid", json_object_new_boolean(!in->order_error));
		rp_json_add(bo, in->order_error ? "error" : "description",
				       json_object_new_string(in->order_error ? in->order_error
									      : in->order_words));
		rp_json_add(root, "boot_order", bo);
	} else {
		rp_json_add_null(root, "boot_order");
	}
	if (verbose) {
		json_object *secs = json_object_new_array();
		for (size_t i = 0; i < img->n_sec; i++) {
			const struct rp_eeprom_section *s = &img->sec[i];
			json_object *o = json_object_new_object();
			rp_json_add(o, "offset", json_object_new_int64(s->offset));
			rp_json_add(o, "magic", json_object_new_int64(s->magic));
			rp_json_add(o, "length", json_object_new_int64(s->length));
			rp_json_add(o, "kind",
					       json_object_new_string(rp_eeprom_magic_name(s->magic)));
			char nm[RP_EEPROM_FILE_NAME_LEN + 1];
			if (s->name[0])
				rp_json_add(o, "name",
						       json_object_new_string(shown_name(s, nm)));
			json_object_array_add(secs, o);
		}
		rp_json_add(root, "sections", secs);
	}
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return CLI_EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, verbose = cli_verbosity() >= CLI_VERBOSE;
	struct rp_eeprom img;
	struct info in;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("eeprom info");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("eeprom info", "expected one IMAGE");
	r = load_image(argv[optind], &img);
	if (r)
		return r;
	gather(&img, &in);
	if (json)
		r = info_json(&img, &in, verbose);
	else
		info_text(&img, &in, verbose);
	rp_eeprom_free(&img);
	return r;
}

/* Any failure to write an output is "cannot create output" (73), even
 * when the cause is a missing directory. */
static int write_out(const char *path, const void *data, size_t len)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	if (rp_file_write_atomic(path, data, len, 0644, &d) < 0) {
		cli_fail(&d);
		return CLI_EXIT_CANTCREAT;
	}
	return CLI_EXIT_OK;
}

static int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	struct rp_eeprom img;
	struct rp_diag d;
	const uint8_t *conf;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("eeprom config");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("eeprom config", "expected one IMAGE");
	if (out && (r = cli_output_not_input(out, argv[optind])) != 0)
		return r;
	r = load_image(argv[optind], &img);
	if (r)
		return r;
	rp_diag_clear(&d);
	if (rp_eeprom_get_file(&img, "bootconf.txt", &conf, &len, &d) < 0) {
		r = cli_fail(&d);
	} else if (out) {
		r = write_out(out, conf, len);
	} else if (fwrite(conf, 1, len, stdout) != len || fflush(stdout) != 0) {
		rp_diag_set(&d, RP_ERR_IO, "cannot write to standard output");
		r = cli_fail(&d);
	}
	rp_eeprom_free(&img);
	return r;
}

/* Read a whole input file or print why not. */
static int read_input(const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	if (rp_file_read_all(path, max, data, len, &d) < 0)
		return cli_fail(&d);
	return CLI_EXIT_OK;
}

struct set_args {
	const char *image, *out, *config, *digest, *pubkey, *cacert, *bootcode, *bootsys;
	const char *sets[MAX_EDITS];
	const char *unsets[MAX_EDITS];
	unsigned n_sets, n_unsets;
	bool has_ts, strict;
	uint32_t ts;
};

/* The config to embed (--config or the image's own) with edits, checked. */
static int new_config(struct rp_eeprom *img, const struct set_args *a, uint8_t **out,
		      size_t *out_len)
{
	struct rp_diag d;
	uint8_t *text = NULL;
	size_t len = 0;
	char warn[2048] = "", name[600];
	int r;

	rp_diag_clear(&d);
	if (a->config) {
		r = read_input(a->config, CONFIG_MAX_INPUT, &text, &len);
		if (r)
			return r;
		snprintf(name, sizeof(name), "%s", a->config);
	} else {
		const uint8_t *cur;
		if (rp_eeprom_get_file(img, "bootconf.txt", &cur, &len, &d) < 0)
			return cli_fail(&d);
		text = malloc(len + 1);
		if (!text) {
			rp_diag_set(&d, RP_ERR_NOMEM, "out of memory");
			return cli_fail(&d);
		}
		memcpy(text, cur, len);
		snprintf(name, sizeof(name), "%s: bootconf.txt", img->label);
	}
	r = rp_bootconf_edit(text, len, a->sets, a->n_sets, a->unsets, a->n_unsets, out, out_len,
			     warn, sizeof(warn), &d);
	free(text);
	if (r == RP_OK)
		r = rp_bootconf_validate(*out, *out_len, name, a->strict, warn, sizeof(warn), &d);
	for (char *line = warn, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		cli_warn("%s", line);
	}
	if (r < 0) {
		free(*out);
		*out = NULL;
		return cli_fail(&d);
	}
	return CLI_EXIT_OK;
}

/* --digest: must be a well-formed .sig for the config being embedded. */
static int check_digest(const uint8_t *sig, size_t sig_len, const struct set_args *a,
			const uint8_t *conf, size_t conf_len)
{
	struct rp_diag d;
	struct rp_sig s;
	EVP_PKEY *pub = NULL;
	int r;

	rp_diag_clear(&d);
	r = rp_sig_parse(sig, sig_len, a->digest, &s, &d);
	if (r == RP_OK && a->pubkey)
		r = rp_rsa_load_public(a->pubkey, &pub, &d);
	if (r == RP_OK)
		r = rp_sig_verify(conf, conf_len, "the new bootconf.txt", &s, pub, &d);
	EVP_PKEY_free(pub);
	if (r < 0) {
		rp_diag_prefix(&d, "--digest %s", a->digest);
		return cli_fail(&d);
	}
	return CLI_EXIT_OK;
}

/* Replace one embedded file with a file's bytes. */
static int replace_from(struct rp_eeprom *img, const char *name, const char *path)
{
	struct rp_diag d;
	uint8_t *data;
	size_t len;
	int r = read_input(path, 8u << 20, &data, &len);
	if (r)
		return r;
	rp_diag_clear(&d);
	if (!strcmp(name, "bootcode"))
		r = rp_eeprom_replace_bootcode(img, data, len, &d);
	else
		r = rp_eeprom_replace_file(img, name, data, len, &d);
	free(data);
	return r < 0 ? cli_fail(&d) : CLI_EXIT_OK;
}

static int apply_set(struct rp_eeprom *img, const struct set_args *a)
{
	struct rp_diag d;
	uint8_t *conf = NULL, *sig = NULL;
	size_t conf_len = 0, sig_len = 0;
	int r;

	rp_diag_clear(&d);
	r = new_config(img, a, &conf, &conf_len);
	if (r)
		return r;
	if (a->digest) {
		r = read_input(a->digest, CONFIG_MAX_INPUT, &sig, &sig_len);
		if (!r)
			r = check_digest(sig, sig_len, a, conf, conf_len);
	}
	if (!r && rp_eeprom_replace_file(img, "bootconf.txt", conf, conf_len, &d) < 0)
		r = cli_fail(&d);
	if (!r && sig && rp_eeprom_replace_file(img, "bootconf.sig", sig, sig_len, &d) < 0)
		r = cli_fail(&d);
	free(conf);
	free(sig);
	if (!r && a->pubkey) {
		uint8_t pub[RP_PUBKEY_BIN_LEN];
		if (rp_pubkey_bin_from_pem(a->pubkey, pub, &d) < 0 ||
		    rp_eeprom_replace_file(img, "pubkey.bin", pub, sizeof(pub), &d) < 0)
			r = cli_fail(&d);
	}
	if (!r && a->cacert)
		r = replace_from(img, "cacert.der", a->cacert);
	if (!r && a->bootcode)
		r = replace_from(img, "bootcode", a->bootcode);
	if (!r && a->bootsys)
		r = replace_from(img, "bootsys", a->bootsys);
	if (!r && a->has_ts && rp_eeprom_set_timestamp(img, a->ts, &d) < 0)
		r = cli_fail(&d);
	return r;
}

static int cmd_set(int argc, char **argv)
{
	enum { O_CONFIG = 256, O_SET, O_UNSET, O_DIGEST, O_PUBKEY, O_CACERT, O_TS, O_BOOTCODE,
	       O_BOOTSYS, O_STRICT };
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "set", required_argument, NULL, O_SET },
		{ "unset", required_argument, NULL, O_UNSET },
		{ "digest", required_argument, NULL, O_DIGEST },
		{ "pubkey", required_argument, NULL, O_PUBKEY },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "cacertder", required_argument, NULL, O_CACERT }, /* rpi-eeprom-config's name */
		{ "timestamp", required_argument, NULL, O_TS },
		{ "bootcode", required_argument, NULL, O_BOOTCODE },
		{ "bootsys", required_argument, NULL, O_BOOTSYS },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct set_args a;
	struct rp_eeprom img;
	int c, r;

	memset(&a, 0, sizeof(a));
	/* -c -d -p -t mean what they mean to rpi-eeprom-config. */
	while ((c = getopt_long(argc, argv, "o:c:d:p:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': c = O_CONFIG; break;
		case 'd': c = O_DIGEST; break;
		case 'p': c = O_PUBKEY; break;
		case 't': c = O_TS; break;
		}
		switch (c) {
		case 'o': a.out = optarg; break;
		case O_CONFIG: a.config = optarg; break;
		case O_SET:
			if (a.n_sets == MAX_EDITS)
				return cli_usage_error("eeprom set", "at most %d --set", MAX_EDITS);
			if (!strchr(optarg, '='))
				return cli_usage_error("eeprom set", "--set '%s': expected KEY=VALUE",
						       optarg);
			a.sets[a.n_sets++] = optarg;
			break;
		case O_UNSET:
			if (a.n_unsets == MAX_EDITS)
				return cli_usage_error("eeprom set", "at most %d --unset", MAX_EDITS);
			a.unsets[a.n_unsets++] = optarg;
			break;
		case O_DIGEST: a.digest = optarg; break;
		case O_PUBKEY: a.pubkey = optarg; break;
		case O_CACERT: a.cacert = optarg; break;
		case O_TS: {
			uint64_t ts;
			if (cli_option_u64("eeprom set", "--timestamp", optarg, 0, RP_SIG_TS_MAX, &ts))
				return CLI_EXIT_USAGE;
			a.ts = (uint32_t)ts;
			a.has_ts = true;
			break;
		}
		case O_BOOTCODE: a.bootcode = optarg; break;
		case O_BOOTSYS: a.bootsys = optarg; break;
		case O_STRICT: a.strict = true; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("eeprom set");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("eeprom set", "expected one IMAGE");
	a.image = argv[optind];
	if (!a.out)
		return cli_usage_error("eeprom set", "-o OUT is required");
	r = cli_output_not_input(a.out, a.image);
	if (r)
		return r;
	r = load_image(a.image, &img);
	if (r)
		return r;
	r = apply_set(&img, &a);
	if (!r)
		r = write_out(a.out, img.data, img.size);
	rp_eeprom_free(&img);
	return r;
}

/* Names come from the image: only plain file names are written. */
static bool safe_name(const char *n)
{
	if (!n[0] || n[0] == '.')
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static int cmd_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ".";
	struct rp_eeprom img;
	struct rp_diag d;
	char path[4096];
	const uint8_t *data;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "C:h", opts, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("eeprom extract");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("eeprom extract", "expected one IMAGE");
	r = load_image(argv[optind], &img);
	if (r)
		return r;
	rp_diag_clear(&d);
	if (rp_mkdir_p(dir, 0755, &d) < 0) {
		rp_eeprom_free(&img);
		return cli_fail(&d);
	}
	if (rp_eeprom_get_bootcode(&img, &data, &len, &d) == RP_OK) {
		snprintf(path, sizeof(path), "%s/bootcode.bin", dir);
		r = write_out(path, data, len);
		if (!r)
			printf("%s\n", path);
	}
	for (size_t i = 0; !r && i < img.n_sec; i++) {
		const struct rp_eeprom_section *s = &img.sec[i];
		/* One copy per name: the one an edit would change. */
		if (s->magic != RP_EEPROM_MAGIC_FILE || rp_eeprom_find_file(&img, s->name) != s)
			continue;
		if (!safe_name(s->name)) {
			cli_warn("%s: skipping a file with an unsafe name at offset %u", img.label,
				 s->offset);
			continue;
		}
		rp_eeprom_get_file(&img, s->name, &data, &len, NULL);
		snprintf(path, sizeof(path), "%s/%s", dir, s->name);
		r = write_out(path, data, len);
		if (!r)
			printf("%s\n", path);
	}
	rp_eeprom_free(&img);
	return r;
}

/* `rpiprov eeprom [OPTIONS] IMAGE`, no subcommand: rpi-eeprom-config's
 * command line. With -c/--config (or -d, -p, -t, --cacertder) it makes a
 * new image (our `set`; --out is required, as we never write an image to
 * a terminal); with nothing but --out it extracts the config (our
 * `config`). Its -e/--edit and -a/--apply act on the running Pi's EEPROM
 * through rpi-eeprom-update, which is not ours to drive. */
static int rpi_eeprom_config(int argc, char **argv)
{
	static const char *const makes_image[] = { "-c", "--config", "-d", "--digest", "-p",
						   "--pubkey", "-t", "--timestamp", "--cacertder" };
	bool set = false;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-e") || !strcmp(a, "--edit") || !strcmp(a, "-a") ||
		    !strncmp(a, "--apply", 7))
			return cli_usage_error("eeprom", "%s edits or applies the EEPROM of the Pi this "
					       "runs on (rpi-eeprom-config with rpi-eeprom-update); rpiprov "
					       "edits image files: use -c FILE -o OUT IMAGE",
					       a);
		for (size_t k = 0; k < sizeof(makes_image) / sizeof(makes_image[0]); k++) {
			size_t n = strlen(makes_image[k]);
			if (!strncmp(a, makes_image[k], n) && (a[n] == '\0' || a[n] == '=' || n == 2))
				set = true;
		}
	}
	if (argv[1][0] != '-' && argc == 2 && access(argv[1], F_OK) != 0)
		return cli_usage_error("eeprom", "unknown subcommand '%s'", argv[1]);
	optind = 0;
	return set ? cmd_set(argc, argv) : cmd_config(argc, argv);
}

int cmd_eeprom(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} subs[] = {
		{ "info", cmd_info },
		{ "config", cmd_config },
		{ "set", cmd_set },
		{ "extract", cmd_extract },
	};

	if (argc < 2)
		return cli_usage_error("eeprom", "expected a subcommand: info, config, set, extract");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char name[64];
		if (strcmp(argv[1], subs[i].name))
			continue;
		snprintf(name, sizeof(name), "rpiprov eeprom %s", subs[i].name);
		argv[1] = name; /* getopt's messages: "rpiprov eeprom set: ..." */
		optind = 0;
		return subs[i].run(argc - 1, argv + 1);
	}
	return rpi_eeprom_config(argc, argv);
}
