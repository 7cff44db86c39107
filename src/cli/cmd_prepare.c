/* rpiprov prepare: everything recovery.bin needs, in one directory that
 * rpiboot -d (or rpiprov boot) can serve. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/prepare_args.h"
#include "image/eeprom_image.h"
#include "image/sig.h"
#include "soc/soc.h"

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
		"  -o, --output DIR         where to write (created if needed)\n");
	cli_payload_help(out, CLI_PAYLOAD_PREPARE);
	fprintf(out,
		"  -t, --timestamp TS       ts: value of the .sig files (default: SOURCE_DATE_EPOCH,\n"
		"                           else now)\n");
}

/* prepare's own options; the payload ones are shared with flash and station. */
static int own_option(int opt, const char *arg, const char **dir, struct rp_prepare_opts *o)
{
	uint64_t v;

	switch (opt) {
	case 'o':
		*dir = arg;
		return 0;
	case 't':
		if (cli_option_u64("prepare", "--timestamp", arg, 0, RP_SIG_TS_MAX, &v))
			return CLI_EXIT_USAGE;
		o->timestamp = (int64_t)v;
		return 0;
	default:
		return cli_bad_option("prepare");
	}
}

int cmd_prepare(int argc, char **argv)
{
	static const struct option own[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "timestamp", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_longopts opts = { .n = 0 };
	struct rp_prepare_opts o;
	struct rp_prepared p;
	struct rp_diag d;
	const char *dir = NULL;
	int c, r;

	memset(&o, 0, sizeof(o));
	o.timestamp = -1;
	cli_longopts_add(&opts, own);
	cli_payload_longopts(&opts, CLI_PAYLOAD_PREPARE);
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:i:c:P:k:H:p:r:t:h", opts.v, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		r = cli_payload_option(c, optarg, &o, "prepare");
		if (r == CLI_OPTION_OTHER)
			r = own_option(c, optarg, &dir, &o);
		if (r)
			return r;
	}
	if (optind != argc)
		return cli_usage_error("prepare", "unexpected argument '%s'", argv[optind]);
	if (!dir)
		return cli_usage_error("prepare", "-o DIR is required");
	r = cli_payload_check(&o, "prepare");
	if (r)
		return r;

	rp_diag_clear(&d);
	r = cli_payload_build(&o, &p, &d);
	if (r < 0)
		return cli_fail(&d);
	cli_info("using recovery.bin %s", p.recovery_source);
	r = rp_prepare_write_dir(&p, dir, &d);
	if (r == RP_OK) {
		const struct rp_soc *soc = rp_soc_by_name(p.soc);
		printf("%s/%s\n%s/pieeprom.bin  sha256 %s\n%s/pieeprom.sig\n%s/config.txt\n", dir,
		       (soc ? soc : rp_soc_default())->second_stage, dir, p.image_sha256, dir, dir);
	}
	rp_prepared_free(&p);
	if (r < 0) {
		cli_fail(&d);
		return CLI_EXIT_CANTCREAT;
	}
	return CLI_EXIT_OK;
}
