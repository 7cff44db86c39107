/* rpiprov prepare: everything recovery.bin needs, in one directory that
 * rpiboot -d (or rpiprov boot) can serve. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "image/eeprom_image.h"
#include "image/prepare.h"
#include "image/profiles.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov prepare -o DIR [--image IMG] [--config FILE | --profile NAME]\n"
		"                       [--set KEY=VALUE ...] [--unset KEY ...]\n"
		"                       [-k PRIVATE.pem | -H WRAPPER -p PUBLIC.pem]\n"
		"                       [--recovery FILE] [--recovery-config FILE]\n"
		"                       [--allow-otp-permanent] [--strict] [--soc SOC]\n\n"
		"Build a recovery directory: pieeprom.bin with the wanted boot.conf (signed\n"
		"and with the public key embedded when a key is given), pieeprom.sig,\n"
		"config.txt for recovery.bin, and recovery.bin as bootcode4.bin (2711) or\n"
		"bootcode5.bin (2712).\n\n"
		"  -o, --output DIR         where to write (created if needed)\n"
		"  -i, --image IMG          bootloader image (default: newest pieeprom-*.bin in\n"
		"                           $RPIPROV_FIRMWARE_DIR or the rpi-eeprom package)\n"
		"  -c, --config FILE        boot.conf to embed (default: the image's own)\n"
		"  -P, --profile NAME       a built-in boot.conf (or a path with '/' or .conf):\n"
		"                           ");
	for (size_t i = 0; i < rp_profile_count(); i++)
		fprintf(out, "%s%s", i ? ", " : "", rp_profile_name(i));
	fprintf(out,
		"\n"
		"      --set KEY=VALUE      set a key in the [all] section (repeatable)\n"
		"      --unset KEY          remove a key from the [all] section (repeatable)\n"
		"  -k, --key PEM            RSA-2048 private key: sign bootconf.txt (secure boot)\n"
		"  -H, --hsm-wrapper PROG   sign with 'PROG -a rsa2048-sha256 FILE' instead\n"
		"  -p, --pubkey PEM         the public key to embed (required with -H)\n"
		"  -r, --recovery FILE      recovery.bin (default: next to the image, then the\n"
		"                           firmware search path)\n"
		"      --recovery-config F  config.txt for recovery.bin (default: built-in)\n"
		"      --allow-otp-permanent  allow config.txt options that write OTP memory\n"
		"                           (program_pubkey, revoke_devkey, ...): PERMANENT\n"
		"      --strict             unknown boot.conf keys are errors, not warnings\n"
		"      --soc SOC            2711 (default) or 2712, for the default image lookup\n"
		"  -t, --timestamp TS       ts: value of the .sig files (default: SOURCE_DATE_EPOCH,\n"
		"                           else now)\n");
}

static void print_warnings(char *warnings)
{
	for (char *line = warnings, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		cli_warn("%s", line);
		if (!nl)
			break;
	}
}

int cmd_prepare(int argc, char **argv)
{
	enum { O_SET = 256, O_UNSET, O_RECOVERY_CONFIG, O_ALLOW_OTP, O_STRICT, O_SOC };
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "image", required_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'P' },
		{ "set", required_argument, NULL, O_SET },
		{ "unset", required_argument, NULL, O_UNSET },
		{ "key", required_argument, NULL, 'k' },
		{ "hsm-wrapper", required_argument, NULL, 'H' },
		{ "pubkey", required_argument, NULL, 'p' },
		{ "recovery", required_argument, NULL, 'r' },
		{ "recovery-config", required_argument, NULL, O_RECOVERY_CONFIG },
		{ "allow-otp-permanent", no_argument, NULL, O_ALLOW_OTP },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "soc", required_argument, NULL, O_SOC },
		{ "timestamp", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rp_prepare_opts o;
	struct rp_prepared p;
	struct rp_diag d;
	const char *dir = NULL;
	int c, r;

	memset(&o, 0, sizeof(o));
	o.timestamp = -1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:i:c:P:k:H:p:r:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': dir = optarg; break;
		case 'i': o.image_path = optarg; break;
		case 'c': o.config_path = optarg; break;
		case 'P': o.profile = optarg; break;
		case O_SET:
			if (o.n_sets == RP_PREPARE_MAX_SETS)
				return cli_usage_error("prepare", "at most %d --set", RP_PREPARE_MAX_SETS);
			if (!strchr(optarg, '='))
				return cli_usage_error("prepare", "--set '%s': expected KEY=VALUE", optarg);
			o.sets[o.n_sets++] = optarg;
			break;
		case O_UNSET:
			if (o.n_unsets == RP_PREPARE_MAX_SETS)
				return cli_usage_error("prepare", "at most %d --unset", RP_PREPARE_MAX_SETS);
			o.unsets[o.n_unsets++] = optarg;
			break;
		case 'k': o.private_key_path = optarg; break;
		case 'H': o.hsm_wrapper = optarg; break;
		case 'p': o.public_key_path = optarg; break;
		case 'r': o.recovery_path = optarg; break;
		case O_RECOVERY_CONFIG: o.recovery_config_path = optarg; break;
		case O_ALLOW_OTP: o.allow_otp = true; break;
		case O_STRICT: o.strict = true; break;
		case O_SOC: o.soc = optarg; break;
		case 't': {
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (!*optarg || *end || v < 0)
				return cli_usage_error("prepare", "--timestamp '%s': expected seconds since 1970",
						       optarg);
			o.timestamp = v;
			break;
		}
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_usage_error("prepare", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("prepare", "unexpected argument '%s'", argv[optind]);
	if (!dir)
		return cli_usage_error("prepare", "-o DIR is required");
	if (o.config_path && o.profile)
		return cli_usage_error("prepare", "--config and --profile exclude each other");
	if (o.private_key_path && o.hsm_wrapper)
		return cli_usage_error("prepare", "use -k or -H, not both");
	if (o.hsm_wrapper && !o.public_key_path)
		return cli_usage_error("prepare", "-H needs -p PUBLIC.pem (embedded as pubkey.bin)");

	rp_diag_clear(&d);
	r = rp_prepare_build(&o, &p, &d);
	if (p.image_source[0])
		cli_info("using image %s", p.image_source);
	print_warnings(p.warnings);
	if (r < 0)
		return cli_fail(&d);
	cli_info("using recovery.bin %s", p.recovery_source);
	r = rp_prepare_write_dir(&p, dir, &d);
	if (r == RP_OK) {
		const struct rp_soc_info *soc = rp_soc_by_name(p.soc);
		printf("%s/%s\n%s/pieeprom.bin  sha256 %s\n%s/pieeprom.sig\n%s/config.txt\n", dir,
		       soc ? soc->second_stage : "bootcode4.bin", dir, p.image_sha256, dir, dir);
	}
	rp_prepared_free(&p);
	if (r < 0) {
		cli_fail(&d);
		return CLI_EXIT_CANTCREAT;
	}
	return CLI_EXIT_OK;
}
