/* The payload: device-supplied name checks, rpiboot's lookup order,
 * symlinks out of the served tree, and the shared file cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "session/payload.h"
#include "testlib.h"
#include "transport/devices.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void mkd(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CHECK(mkdir(path, 0755) == 0);
}

static void lnk(const char *target, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CHECK(symlink(target, path) == 0);
}

static void check_name(const char *raw, size_t len, int expect, const char *msg)
{
	char out[RP_PAYLOAD_NAME_MAX];
	struct rp_diag d;
	int r;
	rp_diag_clear(&d);
	r = rp_payload_check_name(raw, len, out, &d);
	if (r != expect)
		fprintf(stderr, "name \"%.40s\": %d (%s)\n", raw, r, d.msg);
	CHECK_EQ_INT(r, expect);
	if (msg)
		CHECK_CONTAINS(d.msg, msg);
	if (expect == RP_OK)
		CHECK_STR_EQ(out, raw);
}

static void test_names(void)
{
	char big[300];
	check_name("config.txt", 11, RP_OK, NULL);
	check_name("2711/pieeprom.bin", 18, RP_OK, NULL);
	check_name("...", 4, RP_OK, NULL);
	check_name("..", 3, RP_ERR_REFUSED, "'..'");
	check_name("../x", 5, RP_ERR_REFUSED, "'..'");
	check_name("a/../b", 7, RP_ERR_REFUSED, "'..'");
	check_name("a/..", 5, RP_ERR_REFUSED, "'..'");
	check_name("./a", 4, RP_ERR_REFUSED, NULL);
	check_name("/etc/passwd", 12, RP_ERR_REFUSED, "absolute");
	check_name("a//b", 5, RP_ERR_REFUSED, "empty path component");
	check_name("a/", 3, RP_ERR_REFUSED, "empty path component");
	check_name("", 1, RP_ERR_REFUSED, "empty");
	check_name("a\\b", 4, RP_ERR_REFUSED, "backslash");
	check_name("a\x01", 3, RP_ERR_REFUSED, "\\x01");
	check_name("caf\xc3\xa9", 6, RP_ERR_REFUSED, NULL);
	/* No NUL within the bytes given: a device that fills the field. */
	memset(big, 'A', sizeof(big));
	check_name(big, 256, RP_ERR_PROTOCOL, "not NUL-terminated within 256");
	check_name(big, sizeof(big), RP_ERR_PROTOCOL, "256");
	check_name("config.txt", 5, RP_ERR_PROTOCOL, NULL);
	/* 255 characters + NUL is the longest name. */
	big[255] = '\0';
	check_name(big, 256, RP_OK, NULL);
}

static void lookup_text(struct rp_payload *p, const char *soc, const char *port, const char *name,
			int expect, const char *text, const char *msg)
{
	struct rp_payload_file f;
	struct rp_diag d;
	int r;
	rp_diag_clear(&d);
	r = rp_payload_lookup(p, soc, port, name, &f, &d);
	if (r != expect)
		fprintf(stderr, "lookup %s (%s, %s): %d (%s)\n", name, soc ? soc : "-",
			port ? port : "-", r, d.msg);
	CHECK_EQ_INT(r, expect);
	if (r == RP_OK && text) {
		CHECK_EQ_INT(f.len, strlen(text));
		CHECK(f.len == strlen(text) && !memcmp(f.data, text, f.len));
		CHECK_EQ_INT(strlen(f.sha256), 64);
	}
	if (msg)
		CHECK_CONTAINS(d.msg, msg);
	if (r == RP_OK)
		rp_payload_file_release(p, &f);
}

static void test_directory(void)
{
	struct rp_payload_opts po = { .dir = root };
	struct rp_payload *p = NULL, *po_overlay = NULL;
	struct rp_payload_file f1, f2, f3;
	const struct rp_device_desc *dev = rp_device_lookup(0x0a5c, 0x2711);
	struct rp_diag d;
	char path[512];

	mkd("2711");
	mkd("1-1.3");
	mkd("sub");
	put("config.txt", "base\n");
	put("2711/config.txt", "soc\n");
	put("1-1.3/config.txt", "port\n");
	put("bootcode4.bin", "second stage");
	put("sub/file", "in sub");
	lnk("/etc/passwd", "escape");
	lnk("config.txt", "inside");
	lnk("/etc", "2712");
	lnk("../../../../../../../../etc/hostname", "sub/updir");
	snprintf(path, sizeof(path), "%s/fifo", root);
	CHECK(mkfifo(path, 0644) == 0);

	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	po.overlays = true;
	CHECK_EQ_INT(rp_payload_new(&po, &po_overlay, &d), RP_OK);
	CHECK(rp_payload_has_dir(p));

	/* rpiboot order: <soc>/NAME, then NAME; overlays put <port>/NAME first. */
	lookup_text(p, "2711", "1-1.3", "config.txt", RP_OK, "soc\n", NULL);
	lookup_text(p, "2712", "1-1.3", "config.txt", RP_OK, "base\n", NULL);
	lookup_text(p, NULL, NULL, "config.txt", RP_OK, "base\n", NULL);
	lookup_text(po_overlay, "2711", "1-1.3", "config.txt", RP_OK, "port\n", NULL);
	lookup_text(po_overlay, "2711", "1-1.4", "config.txt", RP_OK, "soc\n", NULL);
	lookup_text(po_overlay, "2835", "1-1.4", "config.txt", RP_OK, "base\n", NULL);
	lookup_text(p, "2711", NULL, "sub/file", RP_OK, "in sub", NULL);
	lookup_text(p, "2711", NULL, "inside", RP_OK, "base\n", NULL);
	lookup_text(p, "2711", NULL, "missing.bin", RP_ERR_NOT_FOUND, NULL, "not found");

	/* Escapes: a symlink pointing out, a symlinked soc folder pointing
	 * out, a relative symlink climbing out, names that climb. */
	lookup_text(p, "2711", NULL, "escape", RP_ERR_REFUSED, NULL, "outside the served directory");
	lookup_text(p, "2712", NULL, "passwd", RP_ERR_REFUSED, NULL, "outside the served directory");
	lookup_text(p, "2711", NULL, "sub/updir", RP_ERR_REFUSED, NULL, NULL);
	lookup_text(p, "2711", NULL, "../etc/passwd", RP_ERR_REFUSED, NULL, "'..'");
	lookup_text(p, "2711", NULL, "/etc/passwd", RP_ERR_REFUSED, NULL, "absolute");
	/* Not regular files: refused, and a FIFO does not hang the open. */
	lookup_text(p, NULL, NULL, "fifo", RP_ERR_REFUSED, NULL, "not a regular file");
	lookup_text(p, NULL, NULL, "sub", RP_ERR_REFUSED, NULL, "not a regular file");
	/* A hostile port path is never used as a folder. */
	lookup_text(po_overlay, "2711", "../..", "config.txt", RP_OK, "soc\n", NULL);

	/* The second stage by SoC through the device table. */
	CHECK_EQ_INT(rp_payload_second_stage(p, dev, "1-1.3", &f1, &d), RP_OK);
	CHECK_EQ_INT(f1.len, 12);
	rp_payload_file_release(p, &f1);
	CHECK_EQ_INT(rp_payload_second_stage(p, rp_device_lookup(0x0a5c, 0x2712), NULL, &f1, &d),
		     RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "bootcode5.bin");

	/* Cache: one copy shared while unchanged; a replaced file is served
	 * fresh while boards holding the old one keep valid bytes. */
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "sub/file", &f1, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "sub/file", &f2, &d), RP_OK);
	CHECK(f1.data == f2.data);
	{
		struct timeval tv[2] = { { 1000, 0 }, { 1000, 0 } };
		put("sub/file", "changed!");
		snprintf(path, sizeof(path), "%s/sub/file", root);
		utimes(path, tv);
	}
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "sub/file", &f3, &d), RP_OK);
	CHECK(f3.len == 8 && !memcmp(f3.data, "changed!", 8));
	CHECK(f1.len == 6 && !memcmp(f1.data, "in sub", 6));
	rp_payload_file_release(p, &f1);
	CHECK(!memcmp(f2.data, "in sub", 6));
	rp_payload_file_release(p, &f2);
	rp_payload_file_release(p, &f3);

	rp_payload_free(p);
	rp_payload_free(po_overlay);
}

static void test_memory(void)
{
	struct rp_payload_opts po = { .dir = root };
	struct rp_payload *p = NULL;
	struct rp_diag d;

	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "config.txt", "memory\n", 7, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "../bad", "x", 1, &d), RP_ERR_REFUSED);
	/* Memory entries come before the directory. */
	lookup_text(p, "2711", NULL, "config.txt", RP_OK, "memory\n", NULL);
	lookup_text(p, "2711", NULL, "bootcode4.bin", RP_OK, "second stage", NULL);
	rp_payload_free(p);

	CHECK_EQ_INT(rp_payload_new(NULL, &p, &d), RP_OK);
	CHECK(!rp_payload_has_dir(p));
	CHECK_EQ_INT(rp_payload_add(p, "pieeprom.bin", "", 0, &d), RP_OK);
	lookup_text(p, NULL, NULL, "pieeprom.bin", RP_OK, "", NULL);
	lookup_text(p, NULL, NULL, "config.txt", RP_ERR_NOT_FOUND, NULL, NULL);
	rp_payload_free(p);

	po.dir = "/nonexistent/rpiprov-test";
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "/nonexistent/rpiprov-test");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	int rc;
	snprintf(root, sizeof(root), "%s/rpiprov-payload-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_directory();
	test_memory();
	rc = test_result();
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	return rc;
}
