#include "cli/prepare_args.h"

#include <string.h>

#include "image/profiles.h"

/* Every payload option once: its long name, the short letter prepare and
 * flash give it, the commands that take it, and its station.conf key. */
struct payload_option {
	const char *name;
	int code;
	char letter;
	bool flag;         /* takes no argument */
	unsigned commands; /* enum cli_payload_command bits */
	const char *key;   /* NULL: not a station setting */
};

#define ALL_COMMANDS (CLI_PAYLOAD_PREPARE | CLI_PAYLOAD_FLASH | CLI_PAYLOAD_STATION)

static const struct payload_option payload_options[] = {
	{ "image", CLI_OPT_IMAGE, 'i', false, ALL_COMMANDS, "image" },
	{ "config", CLI_OPT_CONFIG, 'c', false, CLI_PAYLOAD_PREPARE | CLI_PAYLOAD_FLASH, "config" },
	/* station's --config is the station's own file */
	{ "boot-config", CLI_OPT_CONFIG, 0, false, CLI_PAYLOAD_STATION, "config" },
	{ "profile", CLI_OPT_PROFILE, 'P', false, ALL_COMMANDS, "profile" },
	{ "set", CLI_OPT_SET, 0, false, ALL_COMMANDS, "set" },
	{ "unset", CLI_OPT_UNSET, 0, false, ALL_COMMANDS, "unset" },
	{ "key", CLI_OPT_KEY, 'k', false, ALL_COMMANDS, "key" },
	{ "hsm-wrapper", CLI_OPT_HSM_WRAPPER, 'H', false, ALL_COMMANDS, "hsm_wrapper" },
	{ "pubkey", CLI_OPT_PUBKEY, 'p', false, ALL_COMMANDS, "pubkey" },
	{ "recovery", CLI_OPT_RECOVERY, 'r', false, ALL_COMMANDS, "recovery" },
	{ "recovery-config", CLI_OPT_RECOVERY_CONFIG, 0, false, ALL_COMMANDS, "recovery_config" },
	{ "allow-otp-permanent", CLI_OPT_ALLOW_OTP, 0, true, ALL_COMMANDS, "allow_otp_permanent" },
	{ "strict", CLI_OPT_STRICT, 0, true, CLI_PAYLOAD_PREPARE | CLI_PAYLOAD_STATION, "strict" },
	{ "force", CLI_OPT_FORCE, 0, true, ALL_COMMANDS, "force" },
	{ "soc", CLI_OPT_SOC, 0, false, CLI_PAYLOAD_PREPARE | CLI_PAYLOAD_FLASH, NULL },
};

#define N_PAYLOAD_OPTIONS (sizeof(payload_options) / sizeof(payload_options[0]))

void cli_payload_longopts(struct cli_longopts *t, enum cli_payload_command command)
{
	for (size_t i = 0; i < N_PAYLOAD_OPTIONS; i++) {
		const struct payload_option *p = &payload_options[i];
		struct option row = { p->name, p->flag ? no_argument : required_argument, NULL, p->code };
		if (p->commands & command)
			cli_longopts_add_one(t, &row);
	}
}

void cli_payload_help(FILE *out, enum cli_payload_command command)
{
	fprintf(out,
		"  -i, --image IMG|DIR      bootloader image, or a folder to search (default:\n"
		"                           the newest found; see 'rpiprov firmware --help')\n"
		"  -c, --config FILE        boot.conf to embed (default: the image's own)\n"
		"  -P, --profile NAME       a built-in boot.conf (or a path with '/' or .conf):\n"
		"                           ");
	for (size_t i = 0; i < rp_profile_count(); i++)
		fprintf(out, "%s%s", i ? ", " : "", rp_profile_name(i));
	fprintf(out,
		"\n"
		"      --set KEY=VALUE      set a key in the [all] section (repeatable); a key no\n"
		"                           bootloader knows is an error (a typo)\n"
		"      --force              write such a key anyway\n"
		"      --unset KEY          remove a key from the [all] section (repeatable)\n"
		"  -k, --key PEM            RSA-2048 private key: sign bootconf.txt (secure boot)\n"
		"  -H, --hsm-wrapper PROG   sign with 'PROG -a rsa2048-sha256 FILE' instead\n"
		"  -p, --pubkey PEM         the public key to embed (required with -H)\n"
		"  -r, --recovery FILE      recovery.bin (default: next to the image, then the\n"
		"                           firmware search path)\n"
		"      --recovery-config F  config.txt for recovery.bin (default: built-in)\n"
		"      --allow-otp-permanent  allow config.txt options that write OTP memory\n"
		"                           (program_pubkey, revoke_devkey, program_jtag_lock,\n"
		"                           program_rpiboot_gpio): PERMANENT, cannot be undone\n");
	if (command & CLI_PAYLOAD_PREPARE)
		fprintf(out, "      --strict             unknown boot.conf keys are errors, not warnings\n");
	fprintf(out, "      --soc SOC            2711 (default) or 2712, for the default image lookup\n");
}

static const struct payload_option *find(int opt)
{
	for (size_t i = 0; i < N_PAYLOAD_OPTIONS; i++)
		if (payload_options[i].code == opt)
			return &payload_options[i];
	return NULL;
}

/* A short letter of prepare and flash to its long option's value. */
static int from_letter(int opt)
{
	for (size_t i = 0; i < N_PAYLOAD_OPTIONS; i++)
		if (payload_options[i].letter && payload_options[i].letter == opt)
			return payload_options[i].code;
	return opt;
}

/* --set and --unset fill bounded lists. */
static int add_edit(const char **list, unsigned *n, const char *arg, bool is_set, const char *cmd)
{
	if (*n == RP_PREPARE_MAX_SETS)
		return cli_usage_error(cmd, "at most %d %s", RP_PREPARE_MAX_SETS,
				       is_set ? "--set" : "--unset");
	if (is_set && !strchr(arg, '='))
		return cli_usage_error(cmd, "--set '%s': expected KEY=VALUE", arg);
	list[(*n)++] = arg;
	return CLI_OPTION_TAKEN;
}

int cli_payload_option(int opt, const char *arg, struct rp_prepare_opts *o, const char *cmd)
{
	switch (from_letter(opt)) {
	case CLI_OPT_IMAGE: o->image_path = arg; break;
	case CLI_OPT_CONFIG: o->config_path = arg; break;
	case CLI_OPT_PROFILE: o->profile = arg; break;
	case CLI_OPT_SET: return add_edit(o->sets, &o->n_sets, arg, true, cmd);
	case CLI_OPT_UNSET: return add_edit(o->unsets, &o->n_unsets, arg, false, cmd);
	case CLI_OPT_KEY: o->private_key_path = arg; break;
	case CLI_OPT_HSM_WRAPPER: o->hsm_wrapper = arg; break;
	case CLI_OPT_PUBKEY: o->public_key_path = arg; break;
	case CLI_OPT_RECOVERY: o->recovery_path = arg; break;
	case CLI_OPT_RECOVERY_CONFIG: o->recovery_config_path = arg; break;
	case CLI_OPT_ALLOW_OTP: o->allow_otp = true; break;
	case CLI_OPT_STRICT: o->strict = true; break;
	case CLI_OPT_FORCE: o->force = true; break;
	case CLI_OPT_SOC: o->soc = arg; break;
	default: return CLI_OPTION_OTHER;
	}
	return CLI_OPTION_TAKEN;
}

int cli_payload_check(const struct rp_prepare_opts *o, const char *cmd)
{
	if (o->config_path && o->profile)
		return cli_usage_error(cmd, "--config and --profile exclude each other");
	if (o->private_key_path && o->hsm_wrapper)
		return cli_usage_error(cmd, "use -k or -H, not both");
	if (o->hsm_wrapper && !o->public_key_path)
		return cli_usage_error(cmd, "-H needs -p PUBLIC.pem (embedded as pubkey.bin)");
	return 0;
}

bool cli_payload_config_key(int opt, const char *arg, const char **key, const char **value)
{
	const struct payload_option *p = find(opt);
	if (!p || !p->key)
		return false;
	*key = p->key;
	*value = p->flag ? "yes" : arg;
	return true;
}

void cli_prepared_say(const struct rp_prepared *p)
{
	if (p->image_source[0])
		cli_info("using image %s%s%s", p->image_source, p->image_why[0] ? ": " : "",
			 p->image_why);
	cli_print_warnings(p->warnings);
}

int cli_payload_build(const struct rp_prepare_opts *o, struct rp_prepared *p, struct rp_diag *d)
{
	int r = rp_prepare_build(o, p, d);
	cli_prepared_say(p);
	return r;
}

void cli_print_warnings(const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (len)
			cli_warn("%.*s", (int)len, text);
		text += len;
		text += *text == '\n';
	}
}
