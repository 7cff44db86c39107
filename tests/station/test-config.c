/* station.conf parsing: every key, overrides from the command line, and
 * errors that name the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/station_config.h"
#include "testlib.h"

static void test_all_keys(void)
{
	static const char text[] =
		"# a comment\n"
		"; another\n"
		"image = /srv/fw/pieeprom-2024.bin\n"
		"profile = netboot\n"
		"set = BOOT_ORDER=0xf21\n"
		"set = WAKE_ON_GPIO=0\n"
		"unset = HDMI_DELAY\n"
		"\n"
		"[station]\n"
		"key = /etc/rpiprov/private.pem\n"
		"recovery = /srv/fw/recovery.bin\n"
		"recovery_config = /srv/fw/config.txt\n"
		"ports = 1-1.* , 1-2.1\n"
		"ports = 3-*\n"
		"serials = 10000000aaaa0001 10000000aaaa0002\n"
		"report = /var/lib/rpiprov/report.jsonl\n"
		"database = /var/lib/rpiprov/boards.db\n"
		"metadata_dir = /var/lib/rpiprov/metadata\n"
		"board_timeout = 90s\n"
		"station = line-3\n"
		"allow_otp_permanent = no\n"
		"strict = yes\n";
	struct rp_station_config c;
	struct rp_diag d;
	struct rp_prepare_opts o;

	rp_station_config_init(&c);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_station_config_load_string(&c, "station.conf", text, &d), RP_OK);
	if (d.msg[0])
		fprintf(stderr, "%s\n", d.msg);
	CHECK_STR_EQ(c.image, "/srv/fw/pieeprom-2024.bin");
	CHECK_STR_EQ(c.profile, "netboot");
	CHECK_EQ_INT(c.n_sets, 2);
	CHECK_STR_EQ(c.sets[0], "BOOT_ORDER=0xf21");
	CHECK_STR_EQ(c.sets[1], "WAKE_ON_GPIO=0");
	CHECK_EQ_INT(c.n_unsets, 1);
	CHECK_STR_EQ(c.unsets[0], "HDMI_DELAY");
	CHECK_STR_EQ(c.key, "/etc/rpiprov/private.pem");
	CHECK_STR_EQ(c.recovery, "/srv/fw/recovery.bin");
	CHECK_STR_EQ(c.recovery_config, "/srv/fw/config.txt");
	CHECK_EQ_INT(c.n_ports, 3);
	CHECK_STR_EQ(c.ports[0], "1-1.*");
	CHECK_STR_EQ(c.ports[1], "1-2.1");
	CHECK_STR_EQ(c.ports[2], "3-*");
	CHECK_EQ_INT(c.n_serials, 2);
	CHECK_STR_EQ(c.serials[1], "10000000aaaa0002");
	CHECK_STR_EQ(c.report, "/var/lib/rpiprov/report.jsonl");
	CHECK_STR_EQ(c.database, "/var/lib/rpiprov/boards.db");
	CHECK_STR_EQ(c.metadata_dir, "/var/lib/rpiprov/metadata");
	CHECK_EQ_INT(c.board_timeout_ms, 90000);
	CHECK_STR_EQ(c.station, "line-3");
	CHECK(!c.allow_otp_permanent);
	CHECK(c.strict);
	CHECK_EQ_INT(rp_station_config_check(&c, &d), RP_OK);

	rp_station_config_prepare_opts(&c, &o);
	CHECK_STR_EQ(o.image_path, c.image);
	CHECK_STR_EQ(o.profile, "netboot");
	CHECK(o.config_path == NULL);
	CHECK_EQ_INT(o.n_sets, 2);
	CHECK_STR_EQ(o.sets[1], "WAKE_ON_GPIO=0");
	CHECK_EQ_INT(o.n_unsets, 1);
	CHECK_STR_EQ(o.private_key_path, c.key);
	CHECK_STR_EQ(o.recovery_path, c.recovery);
	CHECK_STR_EQ(o.recovery_config_path, c.recovery_config);
	CHECK(!o.allow_otp);
	CHECK(o.strict);
	CHECK(o.timestamp < 0);

	/* The command line overrides: a single value replaces, a list is
	 * replaced by the first command-line value, set lines add up. */
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "image", "/tmp/other.bin", &d), RP_OK);
	CHECK_STR_EQ(c.image, "/tmp/other.bin");
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "ports", "2-1", &d), RP_OK);
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "ports", "2-2", &d), RP_OK);
	CHECK_EQ_INT(c.n_ports, 2);
	CHECK_STR_EQ(c.ports[0], "2-1");
	CHECK_STR_EQ(c.ports[1], "2-2");
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "set", "BOOT_ORDER=0xf1", &d), RP_OK);
	CHECK_EQ_INT(c.n_sets, 3);
	CHECK_STR_EQ(c.sets[2], "BOOT_ORDER=0xf1");
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "board_timeout", "2m", &d), RP_OK);
	CHECK_EQ_INT(c.board_timeout_ms, 120000);
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "board_timeout", "1500ms", &d), RP_OK);
	CHECK_EQ_INT(c.board_timeout_ms, 1500);
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "allow_otp_permanent", "true", &d), RP_OK);
	CHECK(c.allow_otp_permanent);
	rp_station_config_free(&c);
	CHECK(c.image == NULL && c.n_sets == 0);
}

/* Each case: text, expected line, words the message must contain. */
static void expect_error(const char *text, int line, const char *needle)
{
	struct rp_station_config c;
	struct rp_diag d;
	char where[64];

	rp_station_config_init(&c);
	rp_diag_clear(&d);
	CHECK(rp_station_config_load_string(&c, "/etc/rpiprov/station.conf", text, &d) < 0);
	snprintf(where, sizeof(where), "/etc/rpiprov/station.conf:%d: ", line);
	if (strncmp(d.msg, where, strlen(where)) != 0)
		fprintf(stderr, "for %s: message \"%s\" does not start with \"%s\"\n", text, d.msg, where);
	CHECK(strncmp(d.msg, where, strlen(where)) == 0);
	CHECK_CONTAINS(d.msg, needle);
	CHECK(d.code != RP_OK);
	rp_station_config_free(&c);
}

static void test_errors(void)
{
	char long_line[400];

	expect_error("image = a\nimagee = b\n", 2, "unknown key 'imagee'");
	expect_error("image = a\n\n\n[other]\nimage = b\n", 5, "unknown section [other]");
	expect_error("image = a\nimage = b\n", 2, "'image' is given more than once");
	expect_error("board_timeout = soon\n", 1, "not a duration");
	expect_error("board_timeout = 0\n", 1, "out of range");
	expect_error("board_timeout = 3d\n", 1, "not a duration");
	expect_error("allow_otp_permanent = perhaps\n", 1, "not yes or no");
	expect_error("set = BOOT_ORDER\n", 1, "expected KEY=VALUE");
	expect_error("set = =5\n", 1, "expected KEY=VALUE");
	expect_error("unset = A=B\n", 1, "boot.conf key");
	expect_error("station = line 3\n", 1, "may only contain");
	expect_error("# ok\nreport =\n", 2, "has no value");
	expect_error("image = a\nthis is not ini\n", 2, "syntax error");
	expect_error("[station\n", 1, "syntax error");
	expect_error("image = caf\xc3\xa9\n", 1, "non-ASCII");
	/* A "#" comment after a value would become part of it (a report
	 * named "r.jsonl # comment"; issue #10): refused. */
	expect_error("station = s\nreport = /var/r.jsonl # daily\n", 2, "comment after a value");
	expect_error("profile = netboot\t#x\n", 1, "\"#x\"");
	/* The first error wins even if later lines are also wrong. */
	expect_error("x = 1\ny = 2\n", 1, "unknown key 'x'");
	/* A line too long for inih's buffer is refused, not cut short. */
	memset(long_line, 'a', sizeof(long_line));
	memcpy(long_line, "image = /", 9);
	memcpy(long_line + sizeof(long_line) - 2, "\n", 2);
	{
		char text[600];
		snprintf(text, sizeof(text), "station = s\n%s", long_line);
		expect_error(text, 2, "line longer than");
	}
}

static void test_checks(void)
{
	struct rp_station_config c;
	struct rp_diag d;

	rp_station_config_init(&c);
	CHECK_EQ_INT(rp_station_config_load_string(&c, "x", "profile = a\nconfig = b.conf\n", NULL), RP_OK);
	rp_diag_clear(&d);
	CHECK(rp_station_config_check(&c, &d) < 0);
	CHECK_CONTAINS(d.msg, "'profile' and 'config'");
	rp_station_config_free(&c);

	rp_station_config_init(&c);
	CHECK_EQ_INT(rp_station_config_load_string(&c, "x", "hsm_wrapper = /bin/sign\n", NULL), RP_OK);
	CHECK(rp_station_config_check(&c, &d) < 0);
	CHECK_CONTAINS(d.msg, "pubkey");
	rp_station_config_free(&c);

	rp_station_config_init(&c);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_station_config_set(&c, RP_CONFIG_CLI, "nonsense", "1", &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "unknown key 'nonsense'");
	rp_station_config_free(&c);
}

static void test_files(void)
{
	struct rp_station_config c;
	struct rp_diag d;
	const char *src = getenv("RPIPROV_SRCDIR");
	char path[1024];

	rp_station_config_init(&c);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_station_config_load(&c, "/nonexistent/station.conf", &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "/nonexistent/station.conf");
	rp_station_config_free(&c);

	/* The sample shipped in udev/ must load and pass the checks. */
	if (src) {
		snprintf(path, sizeof(path), "%s/udev/station.conf.example", src);
		rp_station_config_init(&c);
		rp_diag_clear(&d);
		CHECK_EQ_INT(rp_station_config_load(&c, path, &d), RP_OK);
		if (d.msg[0])
			fprintf(stderr, "%s\n", d.msg);
		CHECK_EQ_INT(rp_station_config_check(&c, &d), RP_OK);
		CHECK(c.database != NULL && c.report != NULL);
		rp_station_config_free(&c);
	}
}

int main(void)
{
	RUN(test_all_keys());
	RUN(test_errors());
	RUN(test_checks());
	RUN(test_files());
	return test_result();
}
