/* The udev rules (generated into the build tree) must match exactly the
 * boot ROM ids of the SoC table: every row has a rule, no rule names
 * anything else, and every rule has the keys that make it work
 * (usb_device only, uaccess + plugdev; the systemd hand-off in the
 * auto-provisioning variant). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "soc/soc.h"
#include "util/fileio.h"

#define MAX_PAIRS 32

struct pair {
	char key[64];
	char op[3];
	char value[256];
};

/* Split `KEY{attr}=="value", KEY+="value"` into pairs; -1 on a syntax error. */
static int parse_rule(const char *line, struct pair *pairs, int max)
{
	const char *p = line;
	int n = 0;

	while (*p) {
		size_t k = 0, v = 0;
		struct pair *pr;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -1;
		pr = &pairs[n++];
		memset(pr, 0, sizeof(*pr));
		while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '{' || *p == '}') &&
		       k < sizeof(pr->key) - 1)
			pr->key[k++] = *p++;
		if (!k)
			return -1;
		if ((p[0] == '=' || p[0] == '!' || p[0] == '+' || p[0] == '-' || p[0] == ':') && p[1] == '=') {
			pr->op[0] = p[0];
			pr->op[1] = '=';
			p += 2;
		} else if (p[0] == '=') {
			pr->op[0] = '=';
			p++;
		} else {
			return -1;
		}
		if (*p++ != '"')
			return -1;
		while (*p && *p != '"' && v < sizeof(pr->value) - 1)
			pr->value[v++] = *p++;
		if (*p++ != '"')
			return -1;
		if (*p && *p != ',')
			return -1;
	}
	return n;
}

static const char *get(const struct pair *pairs, int n, const char *key, const char *op)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(pairs[i].key, key) && !strcmp(pairs[i].op, op))
			return pairs[i].value;
	return NULL;
}

static bool has(const struct pair *pairs, int n, const char *key, const char *op, const char *value)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(pairs[i].key, key) && !strcmp(pairs[i].op, op) && !strcmp(pairs[i].value, value))
			return true;
	return false;
}

static void check_file(const char *dir, const char *name, bool autoprovision)
{
	size_t n_dev, len;
	const struct rp_soc *table = rp_soc_table(&n_dev);
	unsigned matched[16] = { 0 };
	char path[1024];
	uint8_t *data;
	char *text, *line, *save = NULL;
	struct rp_diag d;
	int lineno = 0, rules = 0;

	CHECK(n_dev <= 16);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rp_file_read_all(path, 1 << 20, &data, &len, &d) < 0) {
		fprintf(stderr, "%s\n", d.msg);
		CHECK(0);
		return;
	}
	text = (char *)data;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct pair pairs[MAX_PAIRS];
		const char *vid, *pid;
		int np;
		bool known = false;

		lineno++;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		CHECK(line[strlen(line) - 1] != '\\'); /* no continuation lines to trip over */
		np = parse_rule(line, pairs, MAX_PAIRS);
		if (np < 0)
			fprintf(stderr, "%s:%d: cannot parse: %s\n", name, lineno, line);
		CHECK(np > 0);
		if (np <= 0)
			continue;
		rules++;
		CHECK_STR_EQ(get(pairs, np, "SUBSYSTEM", "=="), "usb");
		CHECK_STR_EQ(get(pairs, np, "ENV{DEVTYPE}", "=="), "usb_device");
		vid = get(pairs, np, "ATTR{idVendor}", "==");
		pid = get(pairs, np, "ATTR{idProduct}", "==");
		CHECK(vid && pid);
		if (!vid || !pid)
			continue;
		/* Exact lowercase hex as sysfs writes it; no globs that could catch other devices. */
		CHECK(strlen(vid) == 4 && strlen(pid) == 4 && strspn(vid, "0123456789abcdef") == 4 &&
		      strspn(pid, "0123456789abcdef") == 4);
		CHECK_EQ_INT(strtoul(vid, NULL, 16), RP_USB_VID_BROADCOM);
		for (size_t i = 0; i < n_dev; i++) {
			if (strtoul(vid, NULL, 16) == table[i].vid &&
			    strtoul(pid, NULL, 16) == table[i].pid) {
				matched[i]++;
				known = true;
			}
		}
		if (!known)
			fprintf(stderr, "%s:%d: product %s is not in the SoC table\n", name, lineno, pid);
		CHECK(known);
		CHECK(has(pairs, np, "TAG", "+=", "uaccess"));
		CHECK_STR_EQ(get(pairs, np, "MODE", "="), "0660");
		CHECK_STR_EQ(get(pairs, np, "GROUP", "="), "plugdev");
		if (autoprovision) {
			CHECK(has(pairs, np, "TAG", "+=", "systemd"));
			CHECK_STR_EQ(get(pairs, np, "ENV{SYSTEMD_WANTS}", "+="), "rpiprov-station.service");
		} else {
			CHECK(!has(pairs, np, "TAG", "+=", "systemd"));
			CHECK(!get(pairs, np, "ENV{SYSTEMD_WANTS}", "+="));
		}
		/* Nothing world-writable, no programs run from the rule. */
		CHECK(!get(pairs, np, "RUN", "+=") && !get(pairs, np, "RUN", "="));
	}
	/* Access for every chip; auto-provisioning only where there is an
	 * EEPROM to provision. */
	for (size_t i = 0; i < n_dev; i++) {
		unsigned want = !autoprovision || rp_soc_has_eeprom(&table[i]);
		if (matched[i] != want)
			fprintf(stderr, "%s: %04x (%s) matched by %u rules, want %u\n", name, table[i].pid,
				table[i].chip, matched[i], want);
		CHECK_EQ_INT(matched[i], want);
		rules -= (int)matched[i];
	}
	CHECK_EQ_INT(rules, 0);
	free(data);
}

static void test_parser(void)
{
	struct pair p[MAX_PAIRS];
	CHECK_EQ_INT(parse_rule("A==\"1\", B{x}+=\"2\"", p, MAX_PAIRS), 2);
	CHECK_STR_EQ(p[1].key, "B{x}");
	CHECK_STR_EQ(p[1].op, "+=");
	CHECK_EQ_INT(parse_rule("A==1", p, MAX_PAIRS), -1);
	CHECK_EQ_INT(parse_rule("A==\"1\" B=\"2\"", p, MAX_PAIRS), -1);
	CHECK_EQ_INT(parse_rule("==\"1\"", p, MAX_PAIRS), -1);
}

int main(void)
{
	const char *dir = getenv("RPIPROV_UDEV_DIR");

	if (!dir || !*dir)
		return test_skip_all("RPIPROV_UDEV_DIR (the build's udev folder) not set");
	RUN(test_parser());
	RUN(check_file(dir, "60-rpiprov.rules", false));
	RUN(check_file(dir, "61-rpiprov-autoprovision.rules", true));
	return test_result();
}
