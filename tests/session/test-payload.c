/* The payload: device-supplied name checks, rpiboot's lookup order,
 * symlinks out of the served tree, and the shared file cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image/prepare.h"
#include "session/payload.h"
#include "soc/soc.h"
#include "testlib.h"

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
	const struct rp_soc *dev = rp_soc_by_usb_id(0x0a5c, 0x2711);
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
	/* usbboot's folders link files to ../firmware/...: followed, as
	 * rpiboot follows them, wherever they point. */
	snprintf(path, sizeof(path), "%s.outside", root);
	{
		FILE *o = fopen(path, "w");
		CHECK(o != NULL);
		if (o) {
			fputs("linked from outside", o);
			fclose(o);
		}
	}
	lnk(path, "escape");
	lnk("config.txt", "inside");
	lnk("/etc", "2712");
	{
		char up[600];
		const char *name = strrchr(root, '/');
		snprintf(up, sizeof(up), "../..%s.outside", name);
		lnk(up, "sub/updir");
	}
	snprintf(path, sizeof(path), "%s/fifo", root);
	CHECK(mkfifo(path, 0644) == 0);

	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	po.overlays = true;
	CHECK_EQ_INT(rp_payload_new(&po, &po_overlay, &d), RP_OK);

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

	/* A file symlink is followed wherever it points (absolute or
	 * climbing); a folder symlinked out of the tree is refused, and so
	 * are names that climb. */
	lookup_text(p, "2711", NULL, "escape", RP_OK, "linked from outside", NULL);
	lookup_text(p, "2711", NULL, "sub/updir", RP_OK, "linked from outside", NULL);
	lookup_text(p, "2712", NULL, "passwd", RP_ERR_REFUSED, NULL, "outside the served directory");
	lookup_text(p, "2711", NULL, "../etc/passwd", RP_ERR_REFUSED, NULL, "'..'");
	lookup_text(p, "2711", NULL, "/etc/passwd", RP_ERR_REFUSED, NULL, "absolute");
	/* Not regular files: refused, and a FIFO does not hang the open. */
	lookup_text(p, NULL, NULL, "fifo", RP_ERR_REFUSED, NULL, "not a regular file");
	lookup_text(p, NULL, NULL, "sub", RP_ERR_REFUSED, NULL, "not a regular file");
	/* A hostile port path is never used as a folder. */
	lookup_text(po_overlay, "2711", "../..", "config.txt", RP_OK, "soc\n", NULL);

	/* The second stage by SoC through the SoC table. */
	CHECK_EQ_INT(rp_payload_second_stage(p, dev, "1-1.3", &f1, &d), RP_OK);
	CHECK_EQ_INT(f1.len, 12);
	rp_payload_file_release(p, &f1);
	CHECK_EQ_INT(rp_payload_second_stage(p, rp_soc_by_usb_id(0x0a5c, 0x2712), NULL, &f1, &d),
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
	CHECK_EQ_INT(rp_payload_add(p, "pieeprom.bin", "", 0, &d), RP_OK);
	lookup_text(p, NULL, NULL, "pieeprom.bin", RP_OK, "", NULL);
	lookup_text(p, NULL, NULL, "config.txt", RP_ERR_NOT_FOUND, NULL, NULL);
	rp_payload_free(p);

	po.dir = "/nonexistent/rpiprov-test";
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "/nonexistent/rpiprov-test");
}

/* A prepared payload: the image's digest comes from the build (hashed
 * once), and the _ref variant serves the prepared bytes themselves. */
static void test_prepared(void)
{
	static uint8_t image[4096] = { 0x55, 0xaa }, second[512] = { 1, 2, 3 };
	static char sig[] = "fake\n", conf[] = "recovery_metadata=1\n";
	struct rp_prepared prep;
	struct rp_payload_file f;
	struct rp_payload *p = NULL;
	struct rp_diag d;

	memset(&prep, 0, sizeof(prep));
	prep.image = image;
	prep.image_len = sizeof(image);
	prep.image_sig = sig;
	prep.image_sig_len = strlen(sig);
	prep.second_stage = second;
	prep.second_stage_len = sizeof(second);
	prep.recovery_config = (uint8_t *)conf;
	prep.recovery_config_len = strlen(conf);
	snprintf(prep.soc, sizeof(prep.soc), "2711");
	/* Not the real digest: shows that it is carried, not recomputed. */
	memset(prep.image_sha256, 'a', 64);

	for (int ref = 0; ref < 2; ref++) {
		CHECK_EQ_INT(rp_payload_new(NULL, &p, &d), RP_OK);
		CHECK_EQ_INT(ref ? rp_payload_add_prepared_ref(p, &prep, &d)
				 : rp_payload_add_prepared(p, &prep, &d), RP_OK);
		CHECK_EQ_INT(rp_payload_lookup(p, "2711", NULL, "pieeprom.bin", &f, &d), RP_OK);
		CHECK_STR_EQ(f.sha256, prep.image_sha256);
		CHECK_EQ_INT(f.len, sizeof(image));
		CHECK(memcmp(f.data, image, sizeof(image)) == 0);
		CHECK(ref ? f.data == image : f.data != image);
		rp_payload_file_release(p, &f);
		CHECK_EQ_INT(rp_payload_lookup(p, "2711", NULL, "bootcode4.bin", &f, &d), RP_OK);
		CHECK(ref ? f.data == second : f.data != second);
		/* The second stage is hashed (once, here). */
		CHECK_EQ_INT(strlen(f.sha256), 64);
		rp_payload_file_release(p, &f);
		rp_payload_free(p);
	}
	/* The originals are untouched by rp_payload_free. */
	CHECK_EQ_INT(image[0], 0x55);
	CHECK_EQ_INT(second[2], 3);
}

/* ---- a file rewritten in place while it is read ---- */

/* Version v of the file is BASE + v bytes long and carries v (LE 64) in
 * its first and its last 8 bytes. The writer moves to v + 1 in place:
 * the new tail first (growing the file by one byte), then the head. So
 * every state the file passes through has tail == size - BASE and head
 * == tail or tail - 1; a read that mixes versions does not. */
#define TORN_BASE (4u << 20)

struct rewriter {
	int fd;
	atomic_bool stop;
	uint64_t version;
};

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void *rewrite_loop(void *arg)
{
	struct rewriter *w = arg;
	uint8_t b[8];
	while (!atomic_load(&w->stop)) {
		uint64_t v = ++w->version;
		put_le64(b, v);
		if (pwrite(w->fd, b, 8, (off_t)(TORN_BASE + v - 8)) != 8 || pwrite(w->fd, b, 8, 0) != 8)
			break;
	}
	return NULL;
}

static void sha_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Whether f is one state the file really was in. */
static bool consistent_version(const struct rp_payload_file *f)
{
	uint64_t head, tail;
	char sha[65];
	if (f->len < TORN_BASE || f->len > TORN_BASE + (1u << 30))
		return false;
	head = get_le64(f->data);
	tail = get_le64(f->data + f->len - 8);
	sha_hex(f->data, f->len, sha);
	return tail == f->len - TORN_BASE && (head == tail || head + 1 == tail) &&
	       !strcmp(sha, f->sha256);
}

/* A mixed tray (issue #9): one payload holds a prepared set per SoC, and
 * each board is served its own SoC's files. */
static void test_two_socs(void)
{
	static uint8_t img4[4096] = { 4 }, img5[8192] = { 5 }, s4[16] = { 4 }, s5[32] = { 5 };
	struct rp_prepared a, b;
	struct rp_payload_file f;
	struct rp_payload *p = NULL;
	struct rp_diag d;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.image = img4, a.image_len = sizeof(img4), a.second_stage = s4, a.second_stage_len = sizeof(s4);
	b.image = img5, b.image_len = sizeof(img5), b.second_stage = s5, b.second_stage_len = sizeof(s5);
	snprintf(a.soc, sizeof(a.soc), "2711");
	snprintf(b.soc, sizeof(b.soc), "2712");
	CHECK_EQ_INT(rp_payload_new(NULL, &p, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add_prepared_ref(p, &a, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add_prepared_ref(p, &b, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_lookup(p, "2711", NULL, "pieeprom.bin", &f, &d), RP_OK);
	CHECK_EQ_INT(f.len, sizeof(img4));
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_lookup(p, "2712", NULL, "pieeprom.bin", &f, &d), RP_OK);
	CHECK_EQ_INT(f.len, sizeof(img5));
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_second_stage(p, rp_soc_by_name("2712"), NULL, &f, &d), RP_OK);
	CHECK_EQ_INT(f.len, sizeof(s5));
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_second_stage(p, rp_soc_by_name("2711"), NULL, &f, &d), RP_OK);
	CHECK_EQ_INT(f.len, sizeof(s4));
	rp_payload_file_release(p, &f);
	/* A 2711 board never gets the 2712 second stage by its name. */
	CHECK_EQ_INT(rp_payload_lookup(p, "2711", NULL, "bootcode5.bin", &f, &d), RP_ERR_NOT_FOUND);
	rp_payload_free(p);
}

/* usbboot's bootfiles.bin in the served directory (F15): "<soc>/<name>"
 * inside it is served, DIR/<soc>/NAME overrides it, and a board of
 * another SoC does not see it. */
static void test_bootfiles_archive(void)
{
	char dir[300], cmd[2048];
	struct rp_payload_opts po = { .dir = dir };
	struct rp_payload_file f;
	struct rp_payload *p = NULL;
	struct rp_diag d;

	snprintf(dir, sizeof(dir), "%s/bf", root);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/src/2712' '%s/2712' && cd '%s/src' && printf five > 2712/bootcode5.bin &&"
		 " printf mcb-archive > 2712/mcb.bin && printf memsys > 2712/memsys00.bin &&"
		 " tar -cf '%s/bootfiles.bin' 2712 && printf mcb-override > '%s/2712/mcb.bin'",
		 dir, dir, dir, dir, dir);
	if (system(cmd) != 0) {
		test_skip_case("tar not available");
		return;
	}
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	if (!p)
		return;
	CHECK_EQ_INT(rp_payload_second_stage(p, rp_soc_by_name("2712"), "1-1.1", &f, &d), RP_OK);
	CHECK(f.len == 4 && !memcmp(f.data, "five", 4));
	CHECK_CONTAINS(f.origin, "bootfiles.bin:2712/bootcode5.bin");
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_lookup(p, "2712", NULL, "memsys00.bin", &f, &d), RP_OK);
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_lookup(p, "2712", NULL, "mcb.bin", &f, &d), RP_OK);
	CHECK(f.len == 12 && !memcmp(f.data, "mcb-override", 12));
	rp_payload_file_release(p, &f);
	CHECK_EQ_INT(rp_payload_lookup(p, "2711", NULL, "memsys00.bin", &f, &d), RP_ERR_NOT_FOUND);
	rp_payload_free(p);

	/* A broken archive is an error at start, naming it. */
	snprintf(cmd, sizeof(cmd), "printf garbage > '%s/bootfiles.bin'", dir);
	CHECK(system(cmd) == 0);
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "bootfiles.bin");
	CHECK(p == NULL);
}

static void test_rewritten_while_read(void)
{
	struct rp_payload_opts po = { .dir = root };
	struct rp_payload *p = NULL;
	struct rewriter w = { .version = 1 };
	struct rp_payload_file f;
	struct rp_diag d;
	char path[512];
	uint8_t *init;
	pthread_t th;
	unsigned ok = 0, changing = 0, torn = 0;

	snprintf(path, sizeof(path), "%s/rewritten.bin", root);
	w.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(w.fd >= 0);
	if (w.fd < 0)
		return;
	init = calloc(1, TORN_BASE + 1);
	put_le64(init, 1);
	put_le64(init + TORN_BASE + 1 - 8, 1);
	CHECK(write(w.fd, init, TORN_BASE + 1) == (ssize_t)(TORN_BASE + 1));
	free(init);
	atomic_init(&w.stop, false);
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	CHECK_EQ_INT(pthread_create(&th, NULL, rewrite_loop, &w), 0);
	for (int i = 0; i < 12; i++) {
		int r = rp_payload_lookup(p, NULL, NULL, "rewritten.bin", &f, &d);
		if (r == RP_OK) {
			if (consistent_version(&f))
				ok++;
			else
				torn++;
			rp_payload_file_release(p, &f);
		} else {
			CHECK_EQ_INT(r, RP_ERR_IO);
			CHECK_CONTAINS(d.msg, "kept changing while being read");
			changing++;
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	fprintf(stderr, "rewritten while read: %u consistent, %u refused as changing, %u torn\n", ok,
		changing, torn);
	CHECK_EQ_INT(torn, 0);
	/* Once it holds still it is served, whole. */
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "rewritten.bin", &f, &d), RP_OK);
	CHECK(consistent_version(&f));
	CHECK_EQ_INT(f.len, TORN_BASE + w.version);
	rp_payload_file_release(p, &f);
	rp_payload_free(p);
	close(w.fd);
	unlink(path);
}

/* ---- a file the 32-bit wire length cannot announce ---- */

static void test_too_large_for_the_wire(void)
{
	struct rp_payload_opts po = { .dir = root, .max_file_size = (size_t)8 << 30 };
	struct rp_payload *p = NULL;
	struct rp_payload_file f;
	struct rp_diag d;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/huge.bin", root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	/* Sparse: no disk space, and never read (refused on its size). */
	if (ftruncate(fd, (off_t)UINT32_MAX + 1) != 0) {
		fprintf(stderr, "sparse 4 GiB file not possible here (%s): check skipped\n",
			strerror(errno));
		close(fd);
		unlink(path);
		return;
	}
	close(fd);
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "huge.bin", &f, &d), RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, "4294967296 bytes");
	rp_payload_free(p);
	unlink(path);
}

/* ---- no /proc: containment cannot be confirmed, so nothing is served ---- */

static void test_no_proc_fails_closed(void)
{
	pid_t pid;
	int status = 0;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rp_payload_opts po = { .dir = root };
		struct rp_payload *p = NULL;
		struct rp_payload_file f;
		struct rp_diag d;
		int r;
		/* A private mount namespace with an empty /proc. */
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("none", "/proc", "tmpfs", 0, NULL) != 0)
			_exit(TEST_SKIP);
		if (rp_payload_new(&po, &p, &d) != RP_OK)
			_exit(2);
		r = rp_payload_lookup(p, NULL, NULL, "config.txt", &f, &d);
		if (r != RP_ERR_REFUSED || !strstr(d.msg, "cannot confirm")) {
			fprintf(stderr, "without /proc: lookup gave %d (%s)\n", r, d.msg);
			_exit(1);
		}
		_exit(0);
	}
	if (pid < 0)
		return;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP) {
		test_skip_case("no mount namespace here (not root?): /proc check skipped");
		return;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The OTP guard sits in rp_payload_lookup, so every way a config.txt can
 * reach a board passes it: an in-memory entry (plain and under a SoC
 * folder), a per-port overlay (rpiboot -o), the SoC folder, usbboot's
 * bootfiles.bin, the top of the tree, any spelling of the name. Each is
 * refused without allow_otp and served with it, on the bytes returned;
 * an oversize or unreadable config.txt is an error, never "absent"
 * (issue #10: the overlay, >16 KiB and edited-while-running bypasses). */
static void check_guarded(struct rp_payload *p, struct rp_payload *allowed, const char *soc,
			  const char *port, const char *name, const char *where)
{
	struct rp_payload_file f;
	struct rp_diag d;
	int r;

	rp_diag_clear(&d);
	r = rp_payload_lookup(p, soc, port, name, &f, &d);
	if (r != RP_ERR_REFUSED)
		fprintf(stderr, "# %s: lookup gave %d (%s)\n", where, r, d.msg);
	CHECK_EQ_INT(r, RP_ERR_REFUSED);
	CHECK_CONTAINS(d.msg, "--allow-otp-permanent");
	CHECK(f.data == NULL && f.ref_ == NULL); /* nothing handed out */
	if (!allowed)
		return;
	r = rp_payload_lookup(allowed, soc, port, name, &f, &d);
	CHECK_EQ_INT(r, RP_OK);
	CHECK(r != RP_OK || memmem(f.data, f.len, "program_pubkey=1", 16) != NULL);
	if (r == RP_OK)
		rp_payload_file_release(allowed, &f);
}

static void test_otp_guard_every_source(void)
{
	static const char otp[] = "recovery_metadata=1\nprogram_pubkey=1\n";
	char dir[300], cmd[2400], big[20000];
	struct rp_payload_opts po = { .dir = dir, .overlays = true };
	struct rp_payload_opts allow = { .dir = dir, .overlays = true, .allow_otp = true };
	struct rp_payload *p = NULL, *pa = NULL, *m = NULL, *ma = NULL;
	struct rp_payload_opts mem_allow = { .allow_otp = true };
	struct rp_payload_file f;
	struct rp_diag d;

	snprintf(dir, sizeof(dir), "%s/otp", root);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/src/2712' '%s/2711' '%s/1-1.3' && cd '%s/src' &&"
		 " printf '%s' > 2712/config.txt && tar -cf '%s/bootfiles.bin' 2712 &&"
		 " printf '%s' > '%s/1-1.3/config.txt' && printf '%s' > '%s/2711/CONFIG.TXT'",
		 dir, dir, dir, dir, "program_pubkey=1\\n", dir, "program_pubkey=1\\n", dir,
		 "program_pubkey=1\\n", dir);
	if (system(cmd) != 0) {
		test_skip_case("tar not available");
		return;
	}
	CHECK_EQ_INT(rp_payload_new(&po, &p, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_new(&allow, &pa, &d), RP_OK);
	if (!p || !pa)
		goto out;
	/* The overlay, for the board on that port only. */
	check_guarded(p, pa, "2711", "1-1.3", "config.txt", "overlay");
	CHECK_EQ_INT(rp_payload_lookup(p, "2711", "1-1.4", "config.txt", &f, &d), RP_ERR_NOT_FOUND);
	/* The SoC folder, asked for in another case. */
	check_guarded(p, pa, "2711", NULL, "CONFIG.TXT", "soc folder");
	/* bootfiles.bin's 2712/config.txt. */
	check_guarded(p, pa, "2712", NULL, "config.txt", "bootfiles.bin");
	/* The top of the tree, and a config.txt written after start-up. */
	CHECK_EQ_INT(rp_payload_check_configs(p, &d), RP_ERR_REFUSED);
	put("otp/config.txt", "# harmless\n");
	CHECK_EQ_INT(rp_payload_lookup(p, NULL, NULL, "config.txt", &f, &d), RP_OK);
	rp_payload_file_release(p, &f);
	put("otp/config.txt", otp);
	check_guarded(p, pa, NULL, NULL, "config.txt", "top, rewritten after start");
	/* Oversize: an error, not "absent", and never served. */
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put("otp/config.txt", big);
	CHECK_EQ_INT(rp_payload_lookup(pa, NULL, NULL, "config.txt", &f, &d), RP_ERR_TOO_LARGE);
	CHECK(f.data == NULL);
	CHECK_EQ_INT(rp_payload_check_configs(pa, &d), RP_ERR_TOO_LARGE);
	/* Unreadable (here: not a regular file): an error too. */
	snprintf(cmd, sizeof(cmd), "rm '%s/config.txt' && mkfifo '%s/config.txt'", dir, dir);
	CHECK(system(cmd) == 0);
	CHECK_EQ_INT(rp_payload_lookup(pa, NULL, NULL, "config.txt", &f, &d), RP_ERR_REFUSED);
	CHECK_EQ_INT(rp_payload_check_configs(pa, &d), RP_ERR_REFUSED);

	/* In memory: plain and under the SoC folder, as prepared sets are kept. */
	CHECK_EQ_INT(rp_payload_new(NULL, &m, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_new(&mem_allow, &ma, &d), RP_OK);
	if (!m || !ma)
		goto out;
	CHECK_EQ_INT(rp_payload_add(m, "2712/config.txt", otp, sizeof(otp) - 1, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(ma, "2712/config.txt", otp, sizeof(otp) - 1, &d), RP_OK);
	check_guarded(m, ma, "2712", "1-1.1", "config.txt", "memory, soc folder");
	CHECK_EQ_INT(rp_payload_add(m, "config.txt", otp, sizeof(otp) - 1, &d), RP_OK);
	check_guarded(m, NULL, "2711", NULL, "config.txt", "memory");
	CHECK_EQ_INT(rp_payload_check_configs(m, &d), RP_ERR_REFUSED);
	/* Zero is not a write; other files are not config.txt. */
	CHECK_EQ_INT(rp_payload_add(ma, "x/config.txt", "program_pubkey=0\n", 17, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_add(m, "notes.txt", otp, sizeof(otp) - 1, &d), RP_OK);
	CHECK_EQ_INT(rp_payload_lookup(m, NULL, NULL, "notes.txt", &f, &d), RP_OK);
	rp_payload_file_release(m, &f);
out:
	rp_payload_free(p);
	rp_payload_free(pa);
	rp_payload_free(m);
	rp_payload_free(ma);
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
	RUN(test_names());
	RUN(test_directory());
	RUN(test_memory());
	RUN(test_prepared());
	RUN(test_two_socs());
	RUN(test_bootfiles_archive());
	RUN(test_no_proc_fails_closed());
	RUN(test_too_large_for_the_wire());
	RUN(test_rewritten_while_read());
	RUN(test_otp_guard_every_source());
	rc = test_result();
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.outside'", root, root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	return rc;
}
