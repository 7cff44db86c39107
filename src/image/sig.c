#include "image/sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "image/hsm.h"
#include "soc/soc.h"
#include "util/hex.h"


void rp_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	SHA256(data, len, out);
}


void rp_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	uint8_t md[32];
	rp_sha256(data, len, md);
	rp_hex_encode(md, sizeof(md), out);
}


/* Decimal digits only, no sign, at most 18 of them (fits int64_t). */
static bool parse_uint(const char *s, size_t n, int64_t *v)
{
	int64_t x = 0;
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

int rp_sig_timestamp(int64_t requested, int64_t *ts, struct rp_diag *d)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	const char *from = "--timestamp";

	if (requested >= 0) {
		*ts = requested;
	} else if (sde && *sde) {
		if (!parse_uint(sde, strlen(sde), ts))
			return rp_diag_set(d, RP_ERR_INVALID_ARG,
					   "SOURCE_DATE_EPOCH='%.40s' is not a number of seconds since 1970",
					   sde);
		from = "SOURCE_DATE_EPOCH";
	} else {
		*ts = (int64_t)time(NULL);
		from = "the clock";
	}
	if (*ts < 0 || *ts > (int64_t)RP_SIG_TS_MAX)
		return rp_diag_set(d, RP_ERR_INVALID_ARG,
				   "timestamp %lld (from %s) does not fit the bootloader's 32-bit "
				   "update time (at most %u)",
				   (long long)*ts, from, RP_SIG_TS_MAX);
	return RP_OK;
}

int rp_sig_create(const uint8_t *data, size_t len, const struct rp_sig_create_opts *o,
		  char **text, size_t *text_len, struct rp_diag *d)
{
	char hash[65], rsa_hex[2 * RP_RSA_SIG_LEN + 1];
	uint8_t sig[RP_RSA_SIG_LEN];
	bool with_rsa = false;
	int64_t ts;
	int r;

	*text = NULL;
	*text_len = 0;
	r = rp_sig_timestamp(o->timestamp, &ts, d);
	if (r < 0)
		return r;
	if (o->target_soc &&
	    (strlen(o->target_soc) >= RP_SOC_NAME_MAX || strpbrk(o->target_soc, "\r\n")))
		return rp_diag_set(d, RP_ERR_INVALID_ARG, "target SoC '%.16s' is not valid",
				   o->target_soc);
	if (o->sha256_hex && strlen(o->sha256_hex) == 64)
		memcpy(hash, o->sha256_hex, sizeof(hash));
	else
		rp_sha256_hex(data, len, hash);
	if (o->private_key) {
		r = rp_rsa_sign(o->private_key, data, len, sig, d);
		if (r < 0)
			return r;
		with_rsa = true;
	} else if (o->hsm_wrapper) {
		r = o->hsm_file ? rp_hsm_sign_file(o->hsm_wrapper, o->hsm_file, o->hsm_timeout_ms, sig, d)
				: rp_hsm_sign_data(o->hsm_wrapper, data, len, o->hsm_timeout_ms, sig, d);
		if (r < 0)
			return r;
		if (o->public_key) {
			r = rp_rsa_verify(o->public_key, data, len, sig, d);
			if (r < 0)
				return rp_diag_set(d, RP_ERR_VERIFY,
						   "%s: the signature it printed does not verify with the given public key (wrong key or wrong wrapper?)",
						   o->hsm_wrapper);
		}
		with_rsa = true;
	}
	if (with_rsa)
		rp_hex_encode(sig, sizeof(sig), rsa_hex);

	size_t cap = 64 + 1 + 32 + 32 + 10 + sizeof(rsa_hex) + 1;
	char *t = malloc(cap);
	if (!t)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	int n = snprintf(t, cap, "%s\nts: %lld\n%s%s%s%s%s%s", hash, (long long)ts,
			 o->target_soc ? "target-soc: " : "", o->target_soc ? o->target_soc : "",
			 o->target_soc ? "\n" : "", with_rsa ? "rsa2048: " : "",
			 with_rsa ? rsa_hex : "", with_rsa ? "\n" : "");
	if (n < 0 || (size_t)n >= cap) {
		free(t);
		return rp_diag_set(d, RP_ERR_NOMEM, ".sig text does not fit");
	}
	*text = t;
	*text_len = (size_t)n;
	return RP_OK;
}

static bool starts(const uint8_t *l, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && !memcmp(l, prefix, p);
}

/* A target-soc: value names a chip whose EEPROM the .sig can be for. The
 * bytes come from the file: no NUL inside, and short enough for
 * rp_sig.target_soc (RP_SOC_NAME_MAX, which every table name fits). */
static bool target_soc_known(const uint8_t *v, size_t n)
{
	char name[RP_SOC_NAME_MAX];

	if (n >= sizeof(name) || memchr(v, '\0', n))
		return false;
	memcpy(name, v, n);
	name[n] = '\0';
	return rp_soc_eeprom_by_name(name) != NULL;
}

int rp_sig_parse(const uint8_t *t, size_t len, const char *name, struct rp_sig *out,
		 struct rp_diag *d)
{
	size_t pos = 0;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	if (!name)
		name = ".sig";
	if (len > RP_SIG_MAX_TEXT)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: %zu bytes, too large for a .sig file", name,
				   len);
	while (pos < len) {
		const uint8_t *l = t + pos;
		const uint8_t *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (lineno == 1) {
			if (n != 64)
				return rp_diag_set(d, RP_ERR_FORMAT,
						   "%s line 1: expected the 64-hex-digit sha256, got %zu characters",
						   name, n);
			for (size_t i = 0; i < 64; i++) {
				int v = rp_hex_digit(l[i]);
				if (v < 0)
					return rp_diag_set(d, RP_ERR_FORMAT,
							   "%s line 1: the sha256 has a non-hex character at column %zu",
							   name, i + 1);
				out->sha256[i] = "0123456789abcdef"[v];
			}
			out->sha256[64] = '\0';
			continue;
		}
		if (n == 0 && pos >= len)
			break; /* one trailing empty line */
		if (starts(l, n, "ts: ")) {
			if (out->has_ts)
				return rp_diag_set(d, RP_ERR_FORMAT, "%s line %u: second ts: line", name,
						   lineno);
			if (!parse_uint((const char *)l + 4, n - 4, &out->ts))
				return rp_diag_set(d, RP_ERR_FORMAT,
						   "%s line %u: ts: must be a decimal number of seconds",
						   name, lineno);
			out->has_ts = true;
		} else if (starts(l, n, "target-soc: ")) {
			if (out->target_soc[0])
				return rp_diag_set(d, RP_ERR_FORMAT, "%s line %u: second target-soc: line",
						   name, lineno);
			if (!target_soc_known(l + 12, n - 12)) {
				char names[64];
				return rp_diag_set(d, RP_ERR_FORMAT,
						   "%s line %u: target-soc: must be %s", name, lineno,
						   rp_soc_eeprom_names(names, sizeof(names)));
			}
			memcpy(out->target_soc, l + 12, n - 12);
			out->target_soc[n - 12] = '\0';
		} else if (starts(l, n, "rsa2048: ")) {
			if (out->has_rsa)
				return rp_diag_set(d, RP_ERR_FORMAT, "%s line %u: second rsa2048: line",
						   name, lineno);
			if (n - 9 != 2 * RP_RSA_SIG_LEN)
				return rp_diag_set(d, RP_ERR_FORMAT,
						   "%s line %u: rsa2048: needs 512 hex digits, found %zu characters",
						   name, lineno, n - 9);
			for (size_t i = 0; i < RP_RSA_SIG_LEN; i++) {
				int hi = rp_hex_digit(l[9 + 2 * i]), lo = rp_hex_digit(l[9 + 2 * i + 1]);
				if (hi < 0 || lo < 0)
					return rp_diag_set(d, RP_ERR_FORMAT,
							   "%s line %u: rsa2048: has a non-hex character",
							   name, lineno);
				out->rsa[i] = (uint8_t)(hi << 4 | lo);
			}
			out->has_rsa = true;
		} else {
			return rp_diag_set(d, RP_ERR_FORMAT,
					   "%s line %u: unexpected line (expected ts:, target-soc: or rsa2048:)",
					   name, lineno);
		}
	}
	if (lineno == 0)
		return rp_diag_set(d, RP_ERR_FORMAT, "%s: empty .sig file", name);
	return RP_OK;
}

int rp_sig_verify(const uint8_t *data, size_t len, const char *name, const struct rp_sig *sig,
		  EVP_PKEY *public_key, struct rp_diag *d)
{
	char hash[65];

	rp_sha256_hex(data, len, hash);
	if (strcmp(hash, sig->sha256))
		return rp_diag_set(d, RP_ERR_VERIFY,
				   "%s: sha256 %s does not match the .sig file (%s)", name, hash,
				   sig->sha256);
	if (!public_key)
		return RP_OK;
	if (!sig->has_rsa)
		return rp_diag_set(d, RP_ERR_VERIFY,
				   "%s: the .sig file has no rsa2048: line to check against the public key",
				   name);
	if (rp_rsa_verify(public_key, data, len, sig->rsa, d) < 0)
		return rp_diag_set(d, RP_ERR_VERIFY,
				   "%s: the RSA signature does not verify with the public key", name);
	return RP_OK;
}
