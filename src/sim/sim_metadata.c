/* Metadata keys per chip, in the order of Raspberry Pi's examples
 * (doc/hardware.md 2.3; rpiboot writes them in arrival order), each
 * with the first recovery.bin build that sends it and its printf format.
 *
 * Where the examples are silent the order is a choice, said at the row:
 * the 2711 example has no USER_SERIAL_NUM, EEPROM_ERASE or
 * SECURE_BOOT_PROVISION although the 2711 binary has the keys (open
 * question 6), so they take their 2712 places; EEPROM_ERASE is in neither
 * example and follows EEPROM_HASH. Builds up to 2024-07 send nothing. */
#include "sim/sim_metadata.h"

#include <stdio.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* First builds with metadata, and with the EEPROM_* / provisioning keys. */
#define SINCE_METADATA 20240814
#define SINCE_EEPROM_KEYS 20251127

enum src {
	S_MAC,          /* %e: lowercase, colon separated */
	S_MAC_WIFI,
	S_MAC_BT,
	S_BOOT_ROM,     /* %08x */
	S_BOARD_ATTR,   /* %08x */
	S_ADVANCED_BOOT,/* %08x */
	S_BOARDREV,     /* %x */
	S_USER_SERIAL,  /* %x, no zero padding */
	S_JTAG,         /* %d */
	S_SIG_MODE,     /* %d */
	S_KEY_HASH,     /* %32H: 32 bytes as 64 hex */
	S_UPDATE,       /* %s: "success" / "fail" */
	S_HASH,         /* %32H */
	S_ERASE,        /* %s: "success" / "fail" */
	S_PROVISION,    /* %s: "success" / "fail" */
	S_UUID,         /* raw hex words joined by '_' (rpiboot decodes C40) */
};

/* Keys sent only when config.txt asked for the action. The binaries hold
 * three "success"/"fail" pairs for EEPROM_UPDATE, EEPROM_ERASE and
 * SECURE_BOOT_PROVISION and nothing else for them; Raspberry Pi's plain
 * recovery example (usbboot Readme) has neither EEPROM_ERASE nor
 * SECURE_BOOT_PROVISION, its secure-boot-recovery example (program_pubkey)
 * has SECURE_BOOT_PROVISION "success". So a key for an action that was not
 * asked is not sent (ASSUMPTION for EEPROM_ERASE: in no example). */
enum when { W_ALWAYS = 0, W_ERASE, W_PROVISION };

struct key {
	const char *name;
	enum src src;
	uint32_t since;
	enum when when;
};

static const struct key keys_2711[] = {
	{ "USER_SERIAL_NUM", S_USER_SERIAL, SINCE_METADATA, W_ALWAYS },   /* 2712's place (not in the 2711 example) */
	{ "MAC_ADDR", S_MAC, SINCE_METADATA, W_ALWAYS },
	{ "EEPROM_UPDATE", S_UPDATE, SINCE_EEPROM_KEYS, W_ALWAYS },
	{ "EEPROM_HASH", S_HASH, SINCE_EEPROM_KEYS, W_ALWAYS },
	{ "EEPROM_ERASE", S_ERASE, SINCE_EEPROM_KEYS, W_ERASE },         /* in no example */
	{ "SECURE_BOOT_PROVISION", S_PROVISION, SINCE_EEPROM_KEYS, W_PROVISION }, /* 2712's place */
	{ "CUSTOMER_KEY_HASH", S_KEY_HASH, SINCE_METADATA, W_ALWAYS },
	{ "BOOT_ROM", S_BOOT_ROM, SINCE_METADATA, W_ALWAYS },
	{ "BOARD_ATTR", S_BOARD_ATTR, SINCE_METADATA, W_ALWAYS },
	{ "USER_BOARDREV", S_BOARDREV, SINCE_METADATA, W_ALWAYS },
	{ "JTAG_LOCKED", S_JTAG, SINCE_METADATA, W_ALWAYS },
	{ "ADVANCED_BOOT", S_ADVANCED_BOOT, SINCE_METADATA, W_ALWAYS },
};

static const struct key keys_2712[] = {
	{ "USER_SERIAL_NUM", S_USER_SERIAL, SINCE_METADATA, W_ALWAYS },
	{ "MAC_ADDR", S_MAC, SINCE_METADATA, W_ALWAYS },
	{ "EEPROM_UPDATE", S_UPDATE, SINCE_EEPROM_KEYS, W_ALWAYS },
	{ "EEPROM_HASH", S_HASH, SINCE_EEPROM_KEYS, W_ALWAYS },
	{ "EEPROM_ERASE", S_ERASE, SINCE_EEPROM_KEYS, W_ERASE },         /* in no example */
	{ "SECURE_BOOT_PROVISION", S_PROVISION, SINCE_EEPROM_KEYS, W_PROVISION },
	{ "CUSTOMER_KEY_HASH", S_KEY_HASH, SINCE_METADATA, W_ALWAYS },
	{ "BOOT_ROM", S_BOOT_ROM, SINCE_METADATA, W_ALWAYS },
	{ "BOARD_ATTR", S_BOARD_ATTR, SINCE_METADATA, W_ALWAYS },
	{ "USER_BOARDREV", S_BOARDREV, SINCE_METADATA, W_ALWAYS },
	{ "JTAG_LOCKED", S_JTAG, SINCE_METADATA, W_ALWAYS },
	{ "SIGNATURE_MODE", S_SIG_MODE, SINCE_EEPROM_KEYS, W_ALWAYS },
	{ "MAC_WIFI_ADDR", S_MAC_WIFI, SINCE_METADATA, W_ALWAYS },
	{ "MAC_BT_ADDR", S_MAC_BT, SINCE_METADATA, W_ALWAYS },
	{ "FACTORY_UUID", S_UUID, SINCE_METADATA, W_ALWAYS },
};

static const struct {
	uint16_t pid;
	const struct key *keys;
	size_t n;
} tables[] = {
	{ 0x2711, keys_2711, N(keys_2711) },
	{ 0x2712, keys_2712, N(keys_2712) },
};

static const struct key *table(uint16_t pid, size_t *n)
{
	for (size_t i = 0; i < N(tables); i++)
		if (tables[i].pid == pid) {
			*n = tables[i].n;
			return tables[i].keys;
		}
	*n = 0;
	return NULL;
}

static bool asked(const struct key *k, const struct rp_sim_meta_values *v)
{
	switch (k->when) {
	case W_ERASE:
		return v->erase_asked;
	case W_PROVISION:
		return v->provision_asked;
	default:
		return true;
	}
}

int rp_sim_metadata_next(uint16_t pid, uint32_t date, unsigned from,
			 const struct rp_sim_meta_values *v)
{
	size_t n;
	const struct key *k = table(pid, &n);

	for (size_t i = from; i < n; i++)
		if (k[i].since <= date && asked(&k[i], v))
			return (int)i;
	return -1;
}

void rp_sim_factory_uuid(uint32_t user_serial, char duid[RP_SIM_DUID_LEN + 1])
{
	snprintf(duid, RP_SIM_DUID_LEN + 1, "001000%012u", user_serial);
}

static int c40(char ch)
{
	if (ch >= '0' && ch <= '9')
		return 4 + ch - '0';
	if (ch >= 'A' && ch <= 'Z')
		return 14 + ch - 'A';
	return -1;
}

int rp_sim_factory_uuid_encode(const char *duid, char raw[RP_SIM_DUID_RAW_LEN + 1])
{
	uint32_t half[RP_SIM_DUID_LEN / 3];

	if (strlen(duid) != RP_SIM_DUID_LEN)
		return -1;
	for (size_t h = 0; h < RP_SIM_DUID_LEN / 3; h++) {
		int a = c40(duid[3 * h]), b = c40(duid[3 * h + 1]), c = c40(duid[3 * h + 2]);
		if (a < 0 || b < 0 || c < 0)
			return -1;
		half[h] = (uint32_t)(a * 1600 + b * 40 + c + 1);
	}
	snprintf(raw, RP_SIM_DUID_RAW_LEN + 1, "%08x_%08x_%08x", half[1] << 16 | half[0],
		 half[3] << 16 | half[2], half[5] << 16 | half[4]);
	return 0;
}

static const char *status(bool ok)
{
	return ok ? "success" : "fail";
}

void rp_sim_metadata_format(uint16_t pid, unsigned i, const struct rp_sim_meta_values *v,
			    char *out, size_t size)
{
	size_t n;
	const struct key *k = table(pid, &n);
	const uint8_t *m = v->mac;
	char val[80];
	uint8_t last = m[5];

	if (i >= n) {
		snprintf(out, size, "%s", "");
		return;
	}
	switch (k[i].src) {
	case S_MAC_WIFI:
	case S_MAC_BT:
		/* Derived from the Ethernet address (+1, +2) so each board's
		 * are distinct; the real offsets are not in the evidence. */
		last = (uint8_t)(m[5] + (k[i].src == S_MAC_WIFI ? 1 : 2));
		/* fall through */
	case S_MAC:
		snprintf(val, sizeof(val), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], last);
		break;
	case S_BOOT_ROM:
		snprintf(val, sizeof(val), "%08x", v->boot_rom);
		break;
	case S_BOARD_ATTR:
	case S_ADVANCED_BOOT:
		snprintf(val, sizeof(val), "%08x", 0u);
		break;
	case S_BOARDREV:
		snprintf(val, sizeof(val), "%x", v->board_rev);
		break;
	case S_USER_SERIAL:
		snprintf(val, sizeof(val), "%x", v->user_serial);
		break;
	case S_JTAG:
	case S_SIG_MODE:
		snprintf(val, sizeof(val), "%d", 0);
		break;
	case S_KEY_HASH:
		/* No customer key programmed: 32 zero bytes. */
		snprintf(val, sizeof(val), "%064d", 0);
		break;
	case S_UPDATE:
		snprintf(val, sizeof(val), "%s", status(v->updated));
		break;
	case S_HASH:
		snprintf(val, sizeof(val), "%s", v->eeprom_hash);
		break;
	case S_ERASE:
		snprintf(val, sizeof(val), "%s", status(v->erased));
		break;
	case S_PROVISION:
		snprintf(val, sizeof(val), "%s", status(v->provisioned));
		break;
	case S_UUID:
		if (!v->factory_uuid || rp_sim_factory_uuid_encode(v->factory_uuid, val) < 0)
			snprintf(val, sizeof(val), "%s", "");
		break;
	}
	snprintf(out, size, "*%s*%s", k[i].name, val);
}
