#include "image/recovery_config.h"

#include <string.h>
#include <strings.h>

#include "image/embedded.h"

struct otp_option {
	const char *key;
	const char *effect;
};

/* recovery.bin options that burn OTP bits. */
static const struct otp_option otp_options[] = {
	{ "program_pubkey", "writes the customer public key hash into OTP, enabling secure boot" },
	{ "revoke_devkey", "revokes the Raspberry Pi development key in OTP" },
	{ "program_jtag_lock", "locks JTAG in OTP" },
	{ "program_rpiboot_gpio", "assigns the rpiboot GPIO in OTP" },
};

const char *rp_recovery_config_default(size_t *len)
{
	*len = rp_embedded_recovery_config_len;
	return rp_embedded_recovery_config;
}

static bool blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* "0", "00", "0x0": zero leaves OTP alone. */
static bool is_zero(const uint8_t *v, size_t n)
{
	size_t i = 0;
	if (n >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		i = 2;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (v[i] != '0')
			return false;
	return true;
}

/* The next "key=value" line from *pos: key and value trimmed, comments,
 * section headers and lines without '=' skipped. False at the end. */
struct setting {
	const uint8_t *key, *value;
	size_t key_len, value_len;
	unsigned lineno;
};

static bool next_setting(const uint8_t *t, size_t len, size_t *pos, unsigned *lineno,
			 struct setting *out)
{
	while (*pos < len) {
		const uint8_t *l = t + *pos, *nl = memchr(l, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - l) : len - *pos, s = 0, e, ke, vs;
		const uint8_t *eq;
		*pos += n + (nl ? 1 : 0);
		(*lineno)++;
		while (s < n && blank(l[s]))
			s++;
		eq = s < n ? memchr(l + s, '=', n - s) : NULL;
		if (s == n || l[s] == '#' || l[s] == '[' || !eq)
			continue;
		ke = (size_t)(eq - l);
		while (ke > s && blank(l[ke - 1]))
			ke--;
		vs = (size_t)(eq - l) + 1;
		e = n;
		while (e > vs && blank(l[e - 1]))
			e--;
		while (vs < e && blank(l[vs]))
			vs++;
		out->key = l + s;
		out->key_len = ke - s;
		out->value = l + vs;
		out->value_len = e - vs;
		out->lineno = *lineno;
		return true;
	}
	return false;
}

int rp_recovery_config_check(const uint8_t *t, size_t len, const char *name, bool allow_otp,
			     struct rp_diag *d)
{
	size_t pos = 0;
	unsigned lineno = 0;
	const uint8_t *nul;
	struct setting st;

	if (!name)
		name = "config.txt";
	if (len > RP_RECOVERY_CONFIG_MAX)
		return rp_diag_set(d, RP_ERR_TOO_LARGE, "%s: %zu bytes, more than %u for a config.txt",
				   name, len, RP_RECOVERY_CONFIG_MAX);
	if (len == 0)
		return RP_OK; /* an empty file may come with no buffer at all */
	nul = memchr(t, 0, len);
	if (nul)
		return rp_diag_set(d, RP_ERR_FORMAT,
				   "%s: NUL byte at offset %zu: config.txt must be plain text", name,
				   (size_t)(nul - t));
	while (next_setting(t, len, &pos, &lineno, &st)) {
		for (size_t i = 0; i < sizeof(otp_options) / sizeof(otp_options[0]); i++) {
			const struct otp_option *o = &otp_options[i];
			char shown[33];
			size_t k;
			/* Case-blind: refusing a spelling the firmware might
			 * ignore costs nothing; missing one it honours costs a board. */
			if (strlen(o->key) != st.key_len ||
			    strncasecmp(o->key, (const char *)st.key, st.key_len))
				continue;
			if (allow_otp || is_zero(st.value, st.value_len))
				continue;
			for (k = 0; k < st.value_len && k < sizeof(shown) - 1; k++)
				shown[k] = (st.value[k] >= 0x20 && st.value[k] < 0x7f) ? (char)st.value[k] : '?';
			shown[k] = '\0';
			return rp_diag_set(d, RP_ERR_REFUSED,
					   "%s line %u: %s=%s %s: this is permanent and cannot be undone on the board; pass --allow-otp-permanent to allow it",
					   name, st.lineno, o->key, shown, o->effect);
		}
	}
	return RP_OK;
}

bool rp_recovery_config_is_zero(const uint8_t *t, size_t len, const char *key)
{
	size_t pos = 0;
	unsigned lineno = 0;
	bool zero = false;
	struct setting st;

	while (t && next_setting(t, len, &pos, &lineno, &st))
		if (strlen(key) == st.key_len && !strncasecmp(key, (const char *)st.key, st.key_len))
			zero = is_zero(st.value, st.value_len); /* the last one counts */
	return zero;
}
