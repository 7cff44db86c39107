/* rpiprov digest: write or verify a .sig file, like rpi-eeprom-digest. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "image/rsa.h"
#include "image/sig.h"
#include "soc/soc.h"
#include "util/fileio.h"

#define DIGEST_MAX_INPUT (64u << 20)

static void usage(FILE *out)
{
	char names[64];

	fprintf(out,
		"Usage: rpiprov digest -i FILE -o SIG [-k PRIVATE.pem | -H WRAPPER [-p PUBLIC.pem]]\n"
		"                      [--soc SOC] [-t TS]\n"
		"       rpiprov digest --verify SIG -i FILE [-k PUBLIC.pem]\n\n"
		"Write a .sig file: the sha256 of FILE, a timestamp and optionally an RSA-2048\n"
		"signature (PKCS#1 v1.5 over SHA-256), as rpi-eeprom-digest does. Or check one.\n\n"
		"  -i, --input FILE       the file to digest (e.g. pieeprom.bin, bootconf.txt)\n"
		"  -o, --output SIG       the .sig file to write\n"
		"  -k, --key PEM          RSA-2048 private key (signing) or public key (--verify)\n"
		"  -H, --hsm-wrapper PROG sign with 'PROG -a rsa2048-sha256 FILE' (prints hex)\n"
		"  -p, --pubkey PEM       check the wrapper's signature with this public key\n"
		"      --soc SOC          add a 'target-soc: SOC' line (%s)\n"
		"  -t, --timestamp TS     ts: value (default: SOURCE_DATE_EPOCH, else now)\n"
		"  -v, --verify SIG       verify FILE against SIG instead; with -k the rsa2048\n"
		"                         line must be present and valid\n",
		rp_soc_eeprom_names(names, sizeof(names)));
}

static bool has_gz_suffix(const char *s)
{
	size_t n = strlen(s);
	return n >= 3 && !strcmp(s + n - 3, ".gz");
}

static int verify(const char *input, const char *sigpath, const char *key)
{
	struct rp_diag d;
	struct rp_sig sig;
	uint8_t *data = NULL, *text = NULL;
	size_t len, tlen;
	EVP_PKEY *pub = NULL;
	int r;

	rp_diag_clear(&d);
	r = rp_file_read_all(input, DIGEST_MAX_INPUT, &data, &len, &d);
	if (r == RP_OK)
		r = rp_file_read_all(sigpath, RP_SIG_MAX_TEXT, &text, &tlen, &d);
	if (r == RP_OK)
		r = rp_sig_parse(text, tlen, sigpath, &sig, &d);
	if (r == RP_OK && key)
		r = rp_rsa_load_public(key, &pub, &d);
	if (r == RP_OK)
		r = rp_sig_verify(data, len, input, &sig, pub, &d);
	EVP_PKEY_free(pub);
	free(data);
	free(text);
	if (r < 0)
		return cli_fail(&d);
	printf("%s: OK (sha256 %s%s)\n", input, sig.sha256,
	       key ? ", RSA-2048 signature verified" : "");
	return CLI_EXIT_OK;
}

static int create(const char *input, const char *output, const char *key, const char *wrapper,
		  const char *pubkey, const char *soc, int64_t ts)
{
	struct rp_sig_create_opts o = { .timestamp = ts, .target_soc = soc };
	struct rp_diag d;
	uint8_t *data = NULL;
	size_t len, tlen = 0;
	char *text = NULL;
	EVP_PKEY *priv = NULL, *pub = NULL;
	int r;

	rp_diag_clear(&d);
	r = rp_file_read_all(input, DIGEST_MAX_INPUT, &data, &len, &d);
	if (r == RP_OK && key)
		r = rp_rsa_load_private(key, &priv, &d);
	if (r == RP_OK && pubkey)
		r = rp_rsa_load_public(pubkey, &pub, &d);
	if (r == RP_OK) {
		o.private_key = priv;
		o.hsm_wrapper = wrapper;
		/* The wrapper reads the file itself, unless it is compressed. */
		o.hsm_file = has_gz_suffix(input) ? NULL : input;
		o.public_key = pub;
		r = rp_sig_create(data, len, &o, &text, &tlen, &d);
	}
	bool writing = r == RP_OK;
	if (r == RP_OK)
		r = rp_file_write_atomic(output, text, tlen, 0644, &d);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	free(data);
	free(text);
	if (r < 0) {
		int code = cli_fail(&d);
		return writing ? CLI_EXIT_CANTCREAT : code;
	}
	return CLI_EXIT_OK;
}

int cmd_digest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "hsm-wrapper", required_argument, NULL, 'H' },
		{ "pubkey", required_argument, NULL, 'p' },
		{ "soc", required_argument, NULL, 'S' }, /* long only: -c is boot.conf elsewhere */
		{ "timestamp", required_argument, NULL, 't' },
		{ "verify", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *input = NULL, *output = NULL, *key = NULL, *wrapper = NULL, *pubkey = NULL;
	const char *soc = NULL, *verify_sig = NULL;
	int64_t ts = -1;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "i:o:k:H:p:t:v:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'o': output = optarg; break;
		case 'k': key = optarg; break;
		case 'H': wrapper = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'S': soc = optarg; break;
		case 'v': verify_sig = optarg; break;
		case 't': {
			uint64_t v;
			if (cli_option_u64("digest", "--timestamp", optarg, 0, RP_SIG_TS_MAX, &v))
				return CLI_EXIT_USAGE;
			ts = (int64_t)v;
			break;
		}
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: return cli_bad_option("digest");
		}
	}
	if (optind != argc)
		return cli_usage_error("digest", "unexpected argument '%s'", argv[optind]);
	if (!input)
		return cli_usage_error("digest", "-i FILE is required");
	if (verify_sig) {
		if (output || wrapper || soc)
			return cli_usage_error("digest", "--verify takes only -i and -k");
		return verify(input, verify_sig, key);
	}
	if (!output)
		return cli_usage_error("digest", "-o SIG is required");
	if (key && wrapper)
		return cli_usage_error("digest", "use -k or -H, not both");
	if (pubkey && !wrapper)
		return cli_usage_error("digest", "-p checks an HSM wrapper's output; it needs -H");
	if (soc && !rp_soc_eeprom_by_name(soc)) {
		char names[64];
		return cli_usage_error("digest", "-c '%s': expected %s", soc,
				       rp_soc_eeprom_names(names, sizeof(names)));
	}
	{
		int r = cli_output_not_input(output, input);
		if (r)
			return r;
	}
	return create(input, output, key, wrapper, pubkey, soc, ts);
}
