/* Metadata keys per chip, in the order of Raspberry Pi's examples
 * (HARDWARE-EVIDENCE.md 2.3; rpiboot writes them in arrival order), each
 * with the first recovery.bin build that sends it and its printf format.
 *
 * Where the examples are silent the order is a choice, said at the row:
 * the 2711 example has no USER_SERIAL_NUM, EEPROM_ERASE or
 * SECURE_BOOT_PROVISION although the 2711 binary has the keys (open
 * question 6), so they take their 2712 places; EEPROM_ERASE is in neither
 * example and follows EEPROM_HASH. Builds up to 2024-07 send nothing. */
#include "sim/sim_metadata.h"

#include <stdio.h>

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

struct key {
	const char *name;
	enum src src;
	uint32_t since;
};

static const struct key keys_2711[] = {
	{ "USER_SERIAL_NUM", S_USER_SERIAL, SINCE_METADATA },   /* 2712's place (not in the 2711 example) */
	{ "MAC_ADDR", S_MAC, SINCE_METADATA },
	{ "EEPROM_UPDATE", S_UPDATE, SINCE_EEPROM_KEYS },
	{ "EEPROM_HASH", S_HASH, SINCE_EEPROM_KEYS },
	{ "EEPROM_ERASE", S_ERASE, SINCE_EEPROM_KEYS },         /* in no example */
	{ "SECURE_BOOT_PROVISION", S_PROVISION, SINCE_EEPROM_KEYS }, /* 2712's place */
	{ "CUSTOMER_KEY_HASH", S_KEY_HASH, SINCE_METADATA },
	{ "BOOT_ROM", S_BOOT_ROM, SINCE_METADATA },
	{ "BOARD_ATTR", S_BOARD_ATTR, SINCE_METADATA },
	{ "USER_BOARDREV", S_BOARDREV, SINCE_METADATA },
	{ "JTAG_LOCKED", S_JTAG, SINCE_METADATA },
	{ "ADVANCED_BOOT", S_ADVANCED_BOOT, SINCE_METADATA },
};

static const struct key keys_2712[] = {
	{ "USER_SERIAL_NUM", S_USER_SERIAL, SINCE_METADATA },
	{ "MAC_ADDR", S_MAC, SINCE_METADATA },
	{ "EEPROM_UPDATE", S_UPDATE, SINCE_EEPROM_KEYS },
	{ "EEPROM_HASH", S_HASH, SINCE_EEPROM_KEYS },
	{ "EEPROM_ERASE", S_ERASE, SINCE_EEPROM_KEYS },         /* in no example */
	{ "SECURE_BOOT_PROVISION", S_PROVISION, SINCE_EEPROM_KEYS },
	{ "CUSTOMER_KEY_HASH", S_KEY_HASH, SINCE_METADATA },
	{ "BOOT_ROM", S_BOOT_ROM, SINCE_METADATA },
	{ "BOARD_ATTR", S_BOARD_ATTR, SINCE_METADATA },
	{ "USER_BOARDREV", S_BOARDREV, SINCE_METADATA },
	{ "JTAG_LOCKED", S_JTAG, SINCE_METADATA },
	{ "SIGNATURE_MODE", S_SIG_MODE, SINCE_EEPROM_KEYS },
	{ "MAC_WIFI_ADDR", S_MAC_WIFI, SINCE_METADATA },
	{ "MAC_BT_ADDR", S_MAC_BT, SINCE_METADATA },
	{ "FACTORY_UUID", S_UUID, SINCE_METADATA },
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

int rp_sim_metadata_next(uint16_t pid, uint32_t date, unsigned from)
{
	size_t n;
	const struct key *k = table(pid, &n);

	for (size_t i = from; i < n; i++)
		if (k[i].since <= date)
			return (int)i;
	return -1;
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
		snprintf(val, sizeof(val), "%08x_%08x_%08x", v->uuid[0], v->uuid[1], v->uuid[2]);
		break;
	}
	snprintf(out, size, "*%s*%s", k[i].name, val);
}
