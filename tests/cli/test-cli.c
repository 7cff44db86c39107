/* `rpiprov flash` and `rpiprov boot` end to end against --simulate: exit
 * status, the per-board lines, which file reached which port, and the
 * records (--report, --db, -j) they keep like the station does. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "testlib.h"

static char tmp[256];
static char out_path[300];
static char output[65536];

/* Start rpiprov with the arguments, output to out_path, and return at
 * once. */
static pid_t start(const char *const *args)
{
	const char *bin = getenv("RPIPROV_BIN");
	const char *argv[64];
	int n = 0;
	pid_t pid;

	argv[n++] = bin;
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Run rpiprov with the arguments (NULL-terminated); stdout+stderr go to
 * `output`. Returns the exit status, -1 if it did not exit normally. */
static int run(const char *first, ...)
{
	const char *argv[64];
	int n = 0, status = 0, fd;
	va_list ap;
	ssize_t got;

	va_start(ap, first);
	for (const char *a = first; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	waitpid(start(argv), &status, 0);
	fd = open(out_path, O_RDONLY);
	got = fd >= 0 ? read(fd, output, sizeof(output) - 1) : 0;
	output[got > 0 ? got : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(data, 1, len, f) == len);
	fclose(f);
}

static void mkd(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	CHECK(mkdir(path, 0755) == 0);
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* An image and its .sig (the model only checks the digest). */
static void write_image(const char *dir, uint8_t seed, char sha[65])
{
	static uint8_t img[512 * 1024];
	char rel[256], sig[128];
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 31 + seed * 17 + (i >> 9));
	/* The .sig's timestamp where recovery.bin writes it (F20: the last
	 * 8 bytes, ~ts then ts, little endian), as a host serves it. */
	for (unsigned i = 0; i < 4; i++) {
		img[sizeof(img) - 8 + i] = (uint8_t)(~1700000000u >> (8 * i));
		img[sizeof(img) - 4 + i] = (uint8_t)(1700000000u >> (8 * i));
	}
	sha256_hex(img, sizeof(img), sha);
	snprintf(rel, sizeof(rel), "%s%spieeprom.bin", dir, *dir ? "/" : "");
	write_file(rel, img, sizeof(img));
	snprintf(sig, sizeof(sig), "%s\nts: 1700000000\n", sha);
	snprintf(rel, sizeof(rel), "%s%spieeprom.sig", dir, *dir ? "/" : "");
	write_file(rel, sig, strlen(sig));
}

static const char *serial_of(unsigned n, char buf[32])
{
	/* The USB serial string: 8 hex digits (F3, F10). */
	snprintf(buf, 32, "%08x", 0x5eed0000u + n);
	return buf;
}

/* Value of a key in META/<serial>.json, into out. */
static void meta_value(const char *meta, unsigned board, const char *key, char *out, size_t size)
{
	char path[512], serial[32];
	json_object *o, *v;
	snprintf(path, sizeof(path), "%s/%s.json", meta, serial_of(board, serial));
	out[0] = '\0';
	o = json_object_from_file(path);
	CHECK(o != NULL);
	if (!o) {
		fprintf(stderr, "no metadata file %s\n", path);
		return;
	}
	if (json_object_object_get_ex(o, key, &v))
		snprintf(out, size, "%s", json_object_get_string(v));
	json_object_put(o);
}

static void test_flash(void)
{
	char path[512];

	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", NULL), 0);
	CHECK_CONTAINS(output, "3 boards: 3 OK, 0 failed");
	CHECK_CONTAINS(output, "5eed0002         1-1.2        OK");

	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", "--sim-fault",
			 "leave@image:3", NULL), 1);
	CHECK_CONTAINS(output, "1-1.3        LEFT");
	CHECK_CONTAINS(output, "left the bus while sending pieeprom.bin");
	CHECK_CONTAINS(output, "3 boards: 2 OK, 0 failed, 0 timed out, 1 left the bus");

	/* A board that takes part of a bulk transfer gets the rest, as
	 * rpiboot's chunk loop sends it (C11): written, not failed. */
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--profile", "netboot", "--sim-fault",
			 "short@image", NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK, 0 failed");

	/* A failed EEPROM write: the board gives up without a word (C9, C28). */
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--profile", "netboot", "--board-timeout",
			 "2s", "--sim-fault", "write_protected", NULL), 1);
	CHECK_CONTAINS(output, "board deadline passed while waiting for the next request");

	/* --count with simulated boards and a fault on a board never reached. */
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--count", "1", "--port", "1-1.1", "--profile",
			 "netboot", "--sim-fault", "short:2", NULL), 0);
	CHECK_CONTAINS(output, "1 board: 1 OK");

	/* Usage errors. */
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--sim-fault", "bogus", NULL), 64);
	CHECK_CONTAINS(output, "unknown fault");
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--sim-fault", "leave@image:3", NULL), 64);
	CHECK_EQ_INT(run("flash", "--sim-fault", "leave", NULL), 64);
	CHECK_EQ_INT(run("flash", "--count", "2", "--forever", NULL), 64);
	/* Combinations that could never finish are refused up front (issue
	 * #10), not waited on: more attempts than simulated boards match. */
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--count", "3", "--profile", "netboot", NULL), 64);
	CHECK_CONTAINS(output, "could never finish");
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--count", "2", "--serial", "5eed0001",
			 "--profile", "netboot", NULL), 64);
	CHECK_CONTAINS(output, "only 1 simulated board matches");
	CHECK_EQ_INT(run("station", "--simulate", "2", "--count", "3", "--profile", "netboot", NULL),
		     64);
	CHECK_CONTAINS(output, "could never finish");
	CHECK_EQ_INT(run("flash", "--help", NULL), 0);
	CHECK_CONTAINS(output, "leave@image:3");

	/* OTP-writing config.txt: refused unless explicitly allowed. */
	snprintf(path, sizeof(path), "%s/otp-config.txt", tmp);
	write_file("otp-config.txt", "program_pubkey=1\n", 17);
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--profile", "netboot", "--recovery-config", path,
			 NULL), 65);
	CHECK_CONTAINS(output, "--allow-otp-permanent");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--profile", "netboot", "--recovery-config", path,
			 "--allow-otp-permanent", NULL), 0);

	/* The same check for a prepared directory. */
	mkd("prepared");
	snprintf(path, sizeof(path), "%s/prepared", tmp);
	CHECK_EQ_INT(run("prepare", "-o", path, "--profile", "netboot", NULL), 0);
	CHECK_EQ_INT(run("flash", "--simulate", "2", "-d", path, NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK");
	write_file("prepared/config.txt", "revoke_devkey=1\n", 16);
	CHECK_EQ_INT(run("flash", "--simulate", "1", "-d", path, NULL), 65);
	CHECK_CONTAINS(output, "revoke_devkey");

	/* Waiting for boards that never come: exit 75. */
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--count", "1", "--profile", "netboot", "--port",
			 "9-9", "--timeout", "1", NULL), 75);
	CHECK_CONTAINS(output, "timed out");
}

static void test_boot_dir(void)
{
	char dir[300], meta[300], sha_soc[65], sha_top[65], sha_port3[65], v[128];
	static uint8_t second[8192];

	/* DIR/bootcode4.bin, DIR/config.txt, DIR/pieeprom.* (must never be
	 * served to a 2711: DIR/2711 wins), DIR/2711/pieeprom.*, and
	 * overlays DIR/1-1.2/config.txt and DIR/1-1.3/pieeprom.*. */
	mkd("boot");
	mkd("boot/2711");
	mkd("boot/1-1.2");
	mkd("boot/1-1.3");
	for (size_t i = 0; i < sizeof(second); i++)
		second[i] = (uint8_t)i;
	write_file("boot/bootcode4.bin", second, sizeof(second));
	write_file("boot/config.txt", "erase_eeprom=0\n", 15);
	write_file("boot/1-1.2/config.txt", "erase_eeprom=1\n", 15);
	write_image("boot", 1, sha_top);
	write_image("boot/2711", 2, sha_soc);
	write_image("boot/1-1.3", 3, sha_port3);
	snprintf(dir, sizeof(dir), "%s/boot", tmp);
	snprintf(meta, sizeof(meta), "%s/meta", tmp);

	/* Board 2 gets its port's config.txt: erase_eeprom=1 erases instead
	 * of writing (EEPROM_ERASE=success, EEPROM_UPDATE=fail), a failure
	 * for a host that served an image. */
	CHECK_EQ_INT(run("boot", "-d", dir, "-o", "-j", meta, "--simulate", "3", NULL), 1);
	CHECK_CONTAINS(output, "EEPROM_UPDATE=fail");
	meta_value(meta, 1, "EEPROM_HASH", v, sizeof(v));
	CHECK_STR_EQ(v, sha_soc);
	/* EEPROM_ERASE only where erase_eeprom=1 asked for it. */
	meta_value(meta, 1, "EEPROM_ERASE", v, sizeof(v));
	CHECK_STR_EQ(v, "");
	meta_value(meta, 2, "EEPROM_ERASE", v, sizeof(v));
	CHECK_STR_EQ(v, "success");
	meta_value(meta, 3, "EEPROM_HASH", v, sizeof(v));
	CHECK_STR_EQ(v, sha_port3);
	meta_value(meta, 3, "EEPROM_ERASE", v, sizeof(v));
	CHECK_STR_EQ(v, "");

	/* Without -o the port folders are not looked at. */
	snprintf(meta, sizeof(meta), "%s/meta2", tmp);
	CHECK_EQ_INT(run("boot", "-d", dir, "-j", meta, "--simulate", "3", NULL), 0);
	meta_value(meta, 3, "EEPROM_HASH", v, sizeof(v));
	CHECK_STR_EQ(v, sha_soc);
	meta_value(meta, 2, "EEPROM_ERASE", v, sizeof(v));
	CHECK_STR_EQ(v, "");

	/* rpiboot's -N (port number on the hub) and -p (port path). */
	CHECK_EQ_INT(run("boot", "-d", dir, "-2", "-m", "500", "--simulate", "3", NULL), 0);
	CHECK_CONTAINS(output, "1 board: 0 served, 1 verified OK");
	CHECK_CONTAINS(output, "1-1.2        OK");
	CHECK_EQ_INT(run("boot", "-d", dir, "-p", "1-1.1", "-v", "--simulate", "2", NULL), 0);
	CHECK_CONTAINS(output, "1-1.1: sent pieeprom.bin");
	CHECK_CONTAINS(output, "ignoring 0a5c:2711 on 1-1.2");

	/* A symlinked file is followed wherever it points, as rpiboot does
	 * (usbboot's own folders link their files to ../firmware); a folder
	 * that leads out of the tree is refused: for a config.txt before any
	 * board is touched (every config.txt is looked up at start). */
	{
		char link[512], target[512];
		mkd("outside");
		write_file("outside/config.txt", "erase_eeprom=0\n", 15);
		snprintf(target, sizeof(target), "%s/outside/config.txt", tmp);
		snprintf(link, sizeof(link), "%s/boot/2711/config.txt", tmp);
		CHECK(symlink(target, link) == 0);
		CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "1", NULL), 0);
		CHECK_CONTAINS(output, "1 verified OK");
		CHECK(unlink(link) == 0);
		snprintf(target, sizeof(target), "%s/outside", tmp);
		snprintf(link, sizeof(link), "%s/boot/1-1.1", tmp);
		CHECK(symlink(target, link) == 0);
		CHECK_EQ_INT(run("boot", "-d", dir, "-o", "--simulate", "1", NULL), 65);
		CHECK_CONTAINS(output, "outside the served directory");
		CHECK(unlink(link) == 0);
	}
	/* -o never takes bootcode*.bin from a port folder (rpiboot): one
	 * there (here a CM5's, which a CM4 must never get) changes nothing. */
	mkd("boot/1-1.1");
	write_file("boot/1-1.1/bootcode4.bin", " RECOVERY RP1_BOOT", 18);
	CHECK_EQ_INT(run("boot", "-d", dir, "-o", "-p", "1-1.1", "--simulate", "1", NULL), 0);
	CHECK_CONTAINS(output, "1 verified OK");

	/* Usage. */
	CHECK_EQ_INT(run("boot", "--simulate", "1", NULL), 64);
	CHECK_EQ_INT(run("boot", "-d", dir, "-2", "-p", "1-1.2", NULL), 64);
}

/* --ports/--serials beside --port/--serial, and --sim-timing fast beside
 * zero: one parser for flash, boot and station. */
/* One duration parser for every option that takes a time: `flash
 * --timeout 2m` was refused while `station --idle-timeout 2m` worked. */
static void test_durations(void)
{
	static const char *const timed[][2] = {
		{ "flash", "--timeout" }, { "flash", "--board-timeout" }, { "flash", "--reenum-timeout" },
		{ "boot", "--timeout" },
	};

	for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
		const char *cmd = timed[i][0], *opt = timed[i][1];
		int is_boot = !strcmp(cmd, "boot");
		CHECK_EQ_INT(run(cmd, "--simulate", "1", is_boot ? "-d" : "--profile",
				 is_boot ? tmp : "netboot", opt, "2m", NULL), is_boot ? 1 : 0);
		CHECK(strstr(output, "is not a duration") == NULL);
		CHECK_EQ_INT(run(cmd, "--simulate", "1", opt, "2 weeks", NULL), 64);
		CHECK_CONTAINS(output, "is not a duration (e.g. 90 or 90s for seconds, 1500ms, 2m, 1h)");
		CHECK_EQ_INT(run(cmd, "--simulate", "1", opt, "-1s", NULL), 64);
	}
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--board-timeout", "25h", NULL), 64);
	CHECK_CONTAINS(output, "'25h' is out of range (1 s to 24 h)");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--count", "-1", NULL), 64);
	CHECK_CONTAINS(output, "--count: '-1' is not a number from 1 to 1000000");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--count", "99999999999999999999", NULL), 64);
	CHECK_EQ_INT(run("list", "--timeout", "1x", NULL), 64);
	CHECK_CONTAINS(output, "is not a duration");
}

/* rpiboot's options that getopt cannot spell (issue #9): -j with no
 * directory prints each board's metadata on stdout, -vv and -V; -s and a
 * missing -d are refused clearly. */
static void test_boot_rpiboot_options(void)
{
	char path[300];

	mkd("rpiboot-opts");
	snprintf(path, sizeof(path), "%s/rpiboot-opts", tmp);
	CHECK_EQ_INT(run("prepare", "-o", path, "--profile", "netboot", NULL), 0);
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, "-j", NULL), 0);
	CHECK_CONTAINS(output, "\"EEPROM_HASH\": \"");
	CHECK_CONTAINS(output, "\"EEPROM_UPDATE\": \"success\"");
	/* -j followed by another option is still the stdout form. */
	CHECK_EQ_INT(run("boot", "-j", "--simulate", "1", "-d", path, NULL), 0);
	CHECK_CONTAINS(output, "\"EEPROM_HASH\"");
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, "-vv", NULL), 0);
	CHECK_CONTAINS(output, "arrived");
	CHECK_EQ_INT(run("boot", "-V", NULL), 0);
	CHECK_CONTAINS(output, "rpiboot-compatible");
	CHECK_EQ_INT(run("boot", "--version", NULL), 0);
	CHECK_CONTAINS(output, "rpiboot-compatible");
	/* Without -j rpiboot prints the metadata on stdout too. */
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, NULL), 0);
	CHECK_CONTAINS(output, "\"EEPROM_UPDATE\": \"success\"");
	/* rpiboot's -m takes a delay of at least 1 microsecond. */
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, "-m", "0", NULL), 64);
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, "-m", "fast", NULL), 64);
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-o", NULL), 64);
	CHECK_CONTAINS(output, "-o needs -d");
	CHECK_EQ_INT(run("boot", "--simulate", "1", "-d", path, "-s", NULL), 64);
	CHECK_CONTAINS(output, "-s (bootcode.sig");
	CHECK_EQ_INT(run("boot", "--simulate", "1", NULL), 64);
	CHECK_CONTAINS(output, "mass-storage gadget");
	/* ... unless ./mass-storage-gadget64 is there, which rpiboot then serves. */
	{
		char gadget[400], cwd[4096];
		snprintf(gadget, sizeof(gadget), "%s/mass-storage-gadget64", tmp);
		CHECK(symlink(path, gadget) == 0);
		CHECK(getcwd(cwd, sizeof(cwd)) != NULL && chdir(tmp) == 0);
		CHECK_EQ_INT(run("boot", "--simulate", "1", NULL), 0);
		CHECK_CONTAINS(output, "serving mass-storage-gadget64, as rpiboot does");
		CHECK(chdir(cwd) == 0);
		CHECK(unlink(gadget) == 0);
	}
}

static void test_option_aliases(void)
{
	static uint8_t second[4096];
	char dir[300], sha[65];

	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", "--ports", "1-1.1,1-1.3",
			 NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK");
	CHECK_CONTAINS(output, "1-1.1        OK");
	CHECK_CONTAINS(output, "1-1.3        OK");
	CHECK(strstr(output, "1-1.2        OK") == NULL);
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--profile", "netboot", "--port", "1-1.2",
			 "--port", "1-1.1", "--sim-timing", "fast", NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--profile", "netboot", "--sim-timing", "zero",
			 NULL), 0);
	/* --serial at the boot ROM (issue #9; F2, F3): the ROM's 8-hex string
	 * or the full serial selects the board, as rpiboot -i does. */
	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", "--serials",
			 "100000005eed0002, 5eed0003", NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK");
	CHECK(strstr(output, "1-1.1        OK") == NULL);
	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", "--serials",
			 "100000005eed0009", NULL), 64);
	CHECK_CONTAINS(output, "no simulated board matches");
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--profile", "netboot", "--serial",
			 "100000005eed0007", "--serials", "100000005eed0008", "--count", "1", "--timeout",
			 "1", NULL), 75);
	CHECK_CONTAINS(output, "ignoring 0a5c:2711 on 1-1.1: serial 5eed0001 does not match");
	CHECK_CONTAINS(output, "ignoring 0a5c:2711 on 1-1.2");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--sim-timing", "slow", NULL), 64);
	CHECK_CONTAINS(output, "expected zero (or fast) or realistic");
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--ports", " , ", NULL), 64);
	CHECK_CONTAINS(output, "--ports");
	CHECK_EQ_INT(run("flash", "--help", NULL), 0);
	CHECK_CONTAINS(output, "--ports GLOB,...");
	CHECK_CONTAINS(output, "--serials S,...");
	CHECK_CONTAINS(output, "zero|fast (default) or realistic");

	mkd("alias");
	for (size_t i = 0; i < sizeof(second); i++)
		second[i] = (uint8_t)(i * 7);
	write_file("alias/bootcode4.bin", second, sizeof(second));
	write_image("alias", 4, sha);
	snprintf(dir, sizeof(dir), "%s/alias", tmp);
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "3", "--ports", "1-1.2,1-1.3", "--sim-timing",
			 "fast", NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 0 served, 2 verified OK");
	CHECK(strstr(output, "1-1.1        OK") == NULL);
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "2", "-l", "--timeout", "1", "-i",
			 "5eed0007", "--serials", "5eed0008", NULL), 75);
	CHECK_CONTAINS(output, "ignoring 0a5c:2711 on 1-1.1");
	CHECK_CONTAINS(output, "ignoring 0a5c:2711 on 1-1.2");
	/* rpiboot -i compares the USB string exactly: the ROM's own string
	 * picks that board, the full serial or other case matches nothing. */
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "2", "-i", "100000005eed0002", NULL), 64);
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "2", "-i", "5EED0002", NULL), 64);
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "2", "-i", "5eed0002", NULL), 0);
	CHECK_CONTAINS(output, "5eed0002         1-1.2        OK");
	CHECK_EQ_INT(run("boot", "-d", dir, "-2", "--ports", "1-1.2", NULL), 64);
	CHECK_EQ_INT(run("boot", "--help", NULL), 0);
	CHECK_CONTAINS(output, "--ports LIST");
	CHECK_CONTAINS(output, "--serials LIST");
	CHECK_CONTAINS(output, "zero|fast (default) or realistic");
}

/* Lines of a JSON Lines file that parse and have this "result"
 * (NULL: any); -1 when the file is missing. */
static int jsonl_count(const char *path, const char *result)
{
	FILE *f = fopen(path, "r");
	char line[16384];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		json_object *o = json_tokener_parse(line), *v;
		if (o && (!result || (json_object_object_get_ex(o, "result", &v) &&
				      !strcmp(json_object_get_string(v), result))))
			n++;
		json_object_put(o);
	}
	fclose(f);
	return n;
}

/* The first column of the first row of sql on the database; -1 on error. */
static long long db_value(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* A mixed tray (issue #9): with neither --image nor --soc, flash builds a
 * set for each SoC whose firmware it finds, and every board is served
 * its own SoC's image, checked by the hash it reports. --soc narrows the
 * run to one SoC and says why the others are left alone. */
static void test_mixed_tray(void)
{
	char report[300];
	unsigned socs[2] = { 0, 0 };
	char sha[2][65] = { "", "" };
	FILE *f;
	char line[16384];

	snprintf(report, sizeof(report), "%s/mixed.jsonl", tmp);
	CHECK_EQ_INT(run("flash", "--simulate", "4", "--sim-soc", "2711,2712", "--profile", "netboot",
			 "--report", report, NULL), 0);
	CHECK_CONTAINS(output, "4 boards: 4 OK");
	CHECK_CONTAINS(output, "BCM2711: using recovery.bin");
	CHECK_CONTAINS(output, "BCM2712: using recovery.bin");
	f = fopen(report, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		json_object *o = json_tokener_parse(line), *soc, *served;
		if (o && json_object_object_get_ex(o, "soc", &soc) &&
		    json_object_object_get_ex(o, "served_sha256", &served)) {
			unsigned k = !strcmp(json_object_get_string(soc), "2712");
			socs[k]++;
			if (!sha[k][0])
				snprintf(sha[k], sizeof(sha[k]), "%s", json_object_get_string(served));
			CHECK_STR_EQ(json_object_get_string(served), sha[k]);
		}
		json_object_put(o);
	}
	if (f)
		fclose(f);
	CHECK_EQ_INT(socs[0], 2);
	CHECK_EQ_INT(socs[1], 2);
	CHECK(strcmp(sha[0], sha[1]) != 0);
	CHECK_EQ_INT(run("flash", "--simulate", "4", "--sim-soc", "2711,2712", "--profile", "netboot",
			 "--soc", "2712", NULL), 0);
	CHECK_CONTAINS(output, "2 boards: 2 OK");
	CHECK_CONTAINS(output, "BCM2711 board, but the payload is for BCM2712");
	CHECK_EQ_INT(run("flash", "--simulate", "2", "--sim-soc", "2713", NULL), 64);
	CHECK_CONTAINS(output, "--sim-soc: '2713'");
}

/* flash and boot keep the same records as the station: N simulated boards
 * are N report lines and N database rows, a second run adds its own under
 * a new run id with the attempt numbers continued, `rpiprov report` reads
 * them, and a record that cannot be opened stops the run before a board
 * is touched. */
static void test_flash_records(void)
{
	char report[300], db[300], meta[300], bad[300], dir[300], sha[65];
	static uint8_t second[4096];
	json_object *o = NULL, *v;

	snprintf(report, sizeof(report), "%s/records/attempts.jsonl", tmp);
	snprintf(db, sizeof(db), "%s/records/boards.db", tmp);
	snprintf(meta, sizeof(meta), "%s/records/meta", tmp);

	CHECK_EQ_INT(run("flash", "--simulate", "4", "--profile", "netboot", "--report", report, "--db",
			 db, NULL), 0);
	CHECK_CONTAINS(output, "4 boards: 4 OK");
	CHECK_EQ_INT(jsonl_count(report, NULL), 4);
	CHECK_EQ_INT(jsonl_count(report, "OK"), 4);
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM attempts"), 4);
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM attempts WHERE result = 'OK'"), 4);
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM boards"), 4);
	CHECK_EQ_INT(db_value(db, "SELECT count(DISTINCT run_id) FROM attempts"), 1);
	CHECK_EQ_INT(db_value(db, "SELECT max(attempt_id) FROM attempts"), 4);

	/* Again, with one failure and the metadata directory as well. */
	CHECK_EQ_INT(run("flash", "--simulate", "3", "--profile", "netboot", "--report", report, "--db",
			 db, "-j", meta, "--sim-fault", "stall@image:2", NULL), 1);
	CHECK_EQ_INT(jsonl_count(report, NULL), 7);
	CHECK_EQ_INT(jsonl_count(report, "FAILED"), 1);
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM attempts"), 7);
	CHECK_EQ_INT(db_value(db, "SELECT count(DISTINCT run_id) FROM attempts"), 2);
	CHECK_EQ_INT(db_value(db, "SELECT count(DISTINCT attempt_id) FROM attempts"), 7);
	/* The second run numbers its boards 5, 6, 7 (in the order they start). */
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM attempts WHERE attempt_id BETWEEN 5 AND 7"), 3);
	CHECK_EQ_INT(db_value(db, "SELECT attempts FROM boards WHERE serial = '5eed0001'"), 2);
	{
		char path[400], serial[32];
		snprintf(path, sizeof(path), "%s/%s.json", meta, serial_of(3, serial));
		CHECK(access(path, R_OK) == 0);
	}

	/* `rpiprov report` reads what flash wrote: simulated boards, apart. */
	CHECK_EQ_INT(run("report", "--db", db, "--json", "--include-simulated", NULL), 0);
	o = json_tokener_parse(output);
	CHECK(o != NULL);
	CHECK(o && json_object_object_get_ex(o, "attempts", &v) && json_object_get_int(v) == 0);
	{
		struct json_object *sim = NULL;
		CHECK(o && json_object_object_get_ex(o, "simulated", &sim));
		CHECK(sim && json_object_object_get_ex(sim, "attempts", &v) && json_object_get_int(v) == 7);
		CHECK(sim && json_object_object_get_ex(sim, "failed", &v) && json_object_get_int(v) == 1);
	}
	json_object_put(o);

	/* boot keeps them too. */
	mkd("recboot");
	for (size_t i = 0; i < sizeof(second); i++)
		second[i] = (uint8_t)(i * 3);
	write_file("recboot/bootcode4.bin", second, sizeof(second));
	write_image("recboot", 5, sha);
	snprintf(dir, sizeof(dir), "%s/recboot", tmp);
	CHECK_EQ_INT(run("boot", "-d", dir, "--simulate", "2", "--report", report, "--db", db, NULL), 0);
	CHECK_EQ_INT(jsonl_count(report, NULL), 9);
	CHECK_EQ_INT(db_value(db, "SELECT count(*) FROM attempts"), 9);

	/* A report that cannot be created: no board is touched. */
	snprintf(bad, sizeof(bad), "%s/records/attempts.jsonl/x.jsonl", tmp);
	CHECK(run("flash", "--simulate", "1", "--profile", "netboot", "--report", bad, NULL) > 1);
	CHECK_CONTAINS(output, "attempts.jsonl");
	CHECK(strstr(output, "1 board") == NULL);
	CHECK_EQ_INT(run("flash", "--simulate", "1", "--report", "", NULL), 64);
	CHECK_EQ_INT(run("flash", "--help", NULL), 0);
	CHECK_CONTAINS(output, "--report FILE");
	CHECK_CONTAINS(output, "--db FILE");
	CHECK_EQ_INT(run("boot", "--help", NULL), 0);
	CHECK_CONTAINS(output, "--report FILE");
}

/* A stdout nobody reads (a full pipe, a paused terminal) must not hold up
 * the boards: with output written from the runner's event callback, every
 * board waited for the pipe and ran past its 1 s deadline. The pipe is
 * filled before rpiprov starts and read only after 3 s; then every board
 * must have ended OK and every line and metadata file must be there. */
/* Issue #10: `flash --json | head -c1` must not let SIGPIPE kill flash
 * with boards in flight: every board still gets its metadata file, and
 * the exit status is the boards' (0), not a signal. */
static void test_reader_goes_away(void)
{
	const char *bin = getenv("RPIPROV_BIN");
	char meta[300], cmd[1200], path[600], serial[32];
	unsigned files = 0;
	int status;

	snprintf(meta, sizeof(meta), "%s/meta-sigpipe", tmp);
	snprintf(cmd, sizeof(cmd),
		 "bash -c 'set -o pipefail; \"%s\" flash --simulate 15 --json --profile netboot "
		 "--metadata-dir \"%s\" 2>/dev/null | head -c1 >/dev/null; exit ${PIPESTATUS[0]}'",
		 bin, meta);
	status = system(cmd);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	for (unsigned i = 1; i <= 15; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", meta, serial_of(i, serial));
		files += access(path, R_OK) == 0;
	}
	CHECK_EQ_INT(files, 15);
}

static void test_blocked_stdout(void)
{
	const char *bin = getenv("RPIPROV_BIN");
	char meta[300], chunk[4096], serial[32], path[512];
	static char got[256 * 1024];
	size_t filled = 0, n_got = 0, ok = 0;
	int p[2], status = 0, flags;
	pid_t pid;
	ssize_t w;

	snprintf(meta, sizeof(meta), "%s/meta-blocked", tmp);
	CHECK(pipe(p) == 0);
	flags = fcntl(p[1], F_GETFL);
	fcntl(p[1], F_SETFL, flags | O_NONBLOCK);
	memset(chunk, 'x', sizeof(chunk));
	while ((w = write(p[1], chunk, sizeof(chunk))) > 0)
		filled += (size_t)w;
	fcntl(p[1], F_SETFL, flags);
	CHECK(filled >= 4096);
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(p[1], 1);
		dup2(fd, 2);
		close(p[0]);
		execl(bin, bin, "flash", "--simulate", "8", "--json", "--profile", "netboot",
		      "--board-timeout", "1", "--metadata-dir", meta, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	sleep(3);
	for (;;) {
		ssize_t r = read(p[0], got + n_got, sizeof(got) - 1 - n_got);
		if (r <= 0)
			break;
		n_got += (size_t)r;
	}
	close(p[0]);
	got[n_got] = '\0';
	waitpid(pid, &status, 0);
	CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	CHECK(n_got > filled);
	if (n_got > filled) {
		/* stdout: 8 JSON lines, each of a board that ended OK. */
		for (const char *l = got + filled; *l;) {
			const char *nl = strchr(l, '\n');
			ok += strstr(l, "\"result\":\"OK\"") && (!nl || strstr(l, "\"result\":\"OK\"") < nl);
			if (!nl)
				break;
			l = nl + 1;
		}
		snprintf(output, sizeof(output), "%s", got + filled);
	}
	CHECK_EQ_INT(ok, 8);
	for (unsigned b = 1; b <= 8; b++) {
		snprintf(path, sizeof(path), "%s/%s.json", meta, serial_of(b, serial));
		CHECK(access(path, R_OK) == 0);
	}
}

/* Wait for pid until the deadline: its wait status, or -1 (then it is
 * killed and reaped). */
static int wait_until(pid_t pid, unsigned ms)
{
	int status;
	for (unsigned waited = 0; waited < ms; waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A signal works from the start (issue #10): SIGTERM while flash or
 * station is still preparing (here: an HSM wrapper that takes 60 s to
 * sign; its timeout is 30 s) ends the process at once, by that signal,
 * with no board touched, instead of waiting for start-up to finish. */
static void test_signal_during_startup(void)
{
	char wrapper[300], mark[300], pub[300], cmd[2400], pidtext[32] = "";
	static const char *const cmds[] = { "flash", "station" };

	snprintf(wrapper, sizeof(wrapper), "%s/slow-hsm.sh", tmp);
	snprintf(mark, sizeof(mark), "%s/slow-hsm.pid", tmp);
	snprintf(pub, sizeof(pub), "%s/hsm-pub.pem", tmp);
	snprintf(cmd, sizeof(cmd),
		 "printf '#!/bin/sh\\necho $$ > %s\\nexec sleep 60\\n' > '%s' && chmod +x '%s' &&"
		 " openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |"
		 " openssl pkey -pubout -out '%s'",
		 mark, wrapper, wrapper, pub);
	CHECK(system(cmd) == 0);
	for (size_t i = 0; i < 2; i++) {
		const char *args[] = { cmds[i], "--simulate", "1", "--profile", "netboot", "--hsm-wrapper",
				       wrapper, "--pubkey", pub, NULL };
		pid_t pid;
		int status, fd;
		ssize_t got;

		unlink(mark);
		pid = start(args);
		/* Until the wrapper runs: start-up is under way. */
		for (unsigned waited = 0; waited < 20000 && access(mark, F_OK) != 0; waited += 20)
			usleep(20 * 1000);
		CHECK(access(mark, F_OK) == 0);
		usleep(100 * 1000); /* let the pid be written whole */
		kill(pid, SIGTERM);
		status = wait_until(pid, 10000);
		if (status == -1 || !WIFSIGNALED(status))
			fprintf(stderr, "# %s: status %d\n", cmds[i], status);
		CHECK(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
		fd = open(mark, O_RDONLY);
		got = fd >= 0 ? read(fd, pidtext, sizeof(pidtext) - 1) : 0;
		if (fd >= 0)
			close(fd);
		pidtext[got > 0 ? got : 0] = '\0';
		if (atoi(pidtext) > 1)
			kill(atoi(pidtext), SIGKILL); /* the wrapper, left in its own group */
	}
}

int main(void)
{
	const char *fw = test_firmware_dir();
	const char *t = getenv("TMPDIR");
	int rc;

	if (!getenv("RPIPROV_BIN")) {
		fprintf(stderr, "RPIPROV_BIN not set\n");
		return 1;
	}
	if (!fw) {
		return test_skip_all("RPIPROV_TEST_FIRMWARE not set: the CLI tests need real firmware");
	}
	setenv("RPIPROV_FIRMWARE_DIR", fw, 1);
	snprintf(tmp, sizeof(tmp), "%s/rpiprov-cli-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(out_path, sizeof(out_path), "%s/output.txt", tmp);
	RUN(test_flash());
	RUN(test_boot_dir());
	RUN(test_option_aliases());
	RUN(test_durations());
	RUN(test_boot_rpiboot_options());
	RUN(test_mixed_tray());
	RUN(test_flash_records());
	RUN(test_reader_goes_away());
	RUN(test_blocked_stdout());
	RUN(test_signal_during_startup());
	rc = test_result();
	if (rc)
		fprintf(stderr, "last output:\n%s\n", output);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	return rc;
}
