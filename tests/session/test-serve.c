/* The file server's verdict and its view of the files, against a scripted
 * board: requests in a fixed order, every reply recorded (header value,
 * bulk bytes and their digest). Covers what the device model does not do
 * on its own: a board that sizes the image and never reads it, an image
 * under a folder name, repeated or malformed EEPROM reports, and files
 * changing on disk between GetFileSize and ReadFile. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image/eeprom_image.h"
#include "image/sig.h"
#include "session/payload.h"
#include "session/session.h"
#include "testlib.h"
#include "util/clock.h"
#include "util/endian.h"
#include "util/fileio.h"

#define MAX_REPLIES 64
/* A step with this command makes the board stay silent for one request
 * read (the read times out), as a board busy writing its EEPROM does. */
#define STEP_SILENT 0xffffu
#define STEP_HANG 0xfffeu   /* times out for ever: the board hangs here */
#define STEP_STALL 0xfffdu  /* the endpoint stalls */

static char root[256];

struct step {
	uint32_t cmd;
	const char *name;
	void (*before)(void); /* run before the board hands this request over */
};

struct reply {
	uint32_t header;   /* wValue | wIndex << 16 */
	size_t bulk;       /* bytes of bulk OUT after it */
	char sha256[65];   /* of those bytes */
};

struct script_board {
	struct rp_transport base;
	const struct step *steps;
	size_t n_steps, next;
	struct reply replies[MAX_REPLIES];
	size_t n_replies;
	EVP_MD_CTX *md;
};

static void finish_reply(struct script_board *b)
{
	unsigned char md[32];
	unsigned int n = 0;
	struct reply *rp;
	if (!b->n_replies || !b->md)
		return;
	rp = &b->replies[b->n_replies - 1];
	EVP_DigestFinal_ex(b->md, md, &n);
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
	for (unsigned i = 0; i < 32; i++)
		snprintf(rp->sha256 + 2 * i, 3, "%02x", md[i]);
}

static int sb_control_out(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			  const void *data, size_t len, unsigned timeout_ms)
{
	struct script_board *b = (struct script_board *)t;
	finish_reply(b);
	if (b->n_replies == MAX_REPLIES)
		return RP_OK; /* only the first ones are kept */
	b->replies[b->n_replies].header = (uint32_t)value | (uint32_t)index << 16;
	b->replies[b->n_replies].bulk = 0;
	b->n_replies++;
	b->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(b->md, EVP_sha256(), NULL);
	return RP_OK;
}

static int sb_control_in(struct rp_transport *t, uint8_t request, uint16_t value, uint16_t index,
			 void *data, size_t len, size_t *actual, unsigned timeout_ms)
{
	struct script_board *b = (struct script_board *)t;
	const struct step *s;
	size_t nlen;

	finish_reply(b);
	*actual = 0;
	if (b->next == b->n_steps || len != RP_FILE_REQUEST_SIZE)
		return RP_ERR_NO_DEVICE;
	if (b->steps[b->next].cmd == STEP_HANG)
		return RP_ERR_TIMEOUT;
	if (b->steps[b->next].cmd == STEP_STALL)
		return RP_ERR_PIPE;
	s = &b->steps[b->next++];
	if (s->before)
		s->before();
	if (s->cmd == STEP_SILENT)
		return RP_ERR_TIMEOUT;
	memset(data, 0, len);
	rp_put_le32(data, s->cmd);
	nlen = s->name ? strlen(s->name) : 0;
	memcpy((uint8_t *)data + 4, s->name ? s->name : "", nlen < len - 5 ? nlen : len - 5);
	*actual = len;
	return RP_OK;
}

static int sb_bulk_out(struct rp_transport *t, const void *data, size_t len, size_t *actual,
		       unsigned timeout_ms)
{
	struct script_board *b = (struct script_board *)t;
	if (!b->n_replies || !b->md)
		return RP_ERR_PIPE;
	b->replies[b->n_replies - 1].bulk += len;
	EVP_DigestUpdate(b->md, data, len);
	*actual = len;
	return RP_OK;
}

static void sb_close(struct rp_transport *t)
{
	(void)t;
}

static const struct rp_transport_ops sb_ops = {
	.control_out = sb_control_out,
	.control_in = sb_control_in,
	.bulk_out = sb_bulk_out,
	.close = sb_close,
};

/* Serve the script to the end; the record and the board's replies are
 * left for the caller to check. */
static int serve(struct rp_payload *p, enum rp_session_mode mode, const struct step *steps,
		 size_t n, struct script_board *b, struct rp_board_record *rec)
{
	struct rp_device_info info = { .vid = 0x0a5c, .pid = 0x2711, .serial_index = 5,
				       .stage = RP_STAGE_SECOND, .id = 1 };
	struct rp_session_opts o = { .payload = p, .mode = mode, .transfer_timeout_ms = 1000,
				     .request_timeout_ms = 1000, .deadline_ms = rp_deadline_in(30000) };
	int r;

	snprintf(info.port_path, sizeof(info.port_path), "1-1.2");
	memset(b, 0, sizeof(*b));
	b->base.ops = &sb_ops;
	b->base.info = info;
	b->steps = steps;
	b->n_steps = n;
	rp_session_record_init(rec, &info, 1);
	r = rp_session_serve(&b->base, &o, rec);
	finish_reply(b);
	if (r != RP_OK)
		fprintf(stderr, "  (session: %s: %s)\n", rp_board_result_name(rec->result), rec->error);
	return r;
}

static void put(const char *rel, char fill, size_t n)
{
	char path[512], tmp[520];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	for (size_t i = 0; i < n; i++)
		fputc(fill, f);
	fclose(f);
	CHECK(rename(tmp, path) == 0);
}

static void sha_of_fill(char fill, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *buf = malloc(n);
	memset(buf, fill, n);
	EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL);
	free(buf);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct rp_payload *dir_payload(const char *sub)
{
	char dir[300];
	struct rp_payload_opts po = { .dir = dir };
	struct rp_payload *p = NULL;
	struct rp_diag d;
	snprintf(dir, sizeof(dir), "%s/%s", root, sub);
	if (rp_payload_new(&po, &p, &d) != RP_OK)
		fprintf(stderr, "payload: %s\n", rp_diag_message(&d));
	CHECK(p != NULL);
	return p;
}

/* ---- the image changes on disk between GetFileSize and ReadFile ---- */

static void replace_image(void)
{
	put("toctou/pieeprom.bin", 'B', 2000);
}

static void test_one_version_per_session(void)
{
	char sha_a[65], hash_report[128];
	struct rp_payload *p;
	struct script_board b;
	struct rp_board_record rec;

	CHECK(mkdir("toctou", 0755) == 0);
	put("toctou/pieeprom.bin", 'A', 1000);
	put("toctou/pieeprom.sig", 's', 10);
	put("toctou/config.txt", 'c', 5);
	sha_of_fill('A', 1000, sha_a);
	snprintf(hash_report, sizeof(hash_report), "*EEPROM_HASH*%s", sha_a);
	p = dir_payload("toctou");
	{
		/* The order a CM4 uses: the image is sized, the .sig read, then
		 * the image read; the file is replaced just before the read. */
		const struct step steps[] = {
			{ 0, "config.txt", NULL },   { 1, "config.txt", NULL },
			{ 0, "pieeprom.bin", NULL }, { 0, "pieeprom.sig", NULL },
			{ 1, "pieeprom.sig", NULL }, { 1, "pieeprom.bin", replace_image },
			{ 0, "*EEPROM_UPDATE*success", NULL }, { 0, hash_report, NULL },
			{ 2, "", NULL },
		};
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, sizeof(steps) / sizeof(steps[0]), &b,
				   &rec),
			     RP_OK);
	}
	CHECK_EQ_INT(rec.result, RP_RESULT_OK);
	CHECK(b.n_replies >= 6);
	/* replies: config size, config read, image size, sig size, sig read, image read */
	CHECK_EQ_INT(b.replies[2].header, 1000);
	CHECK_EQ_INT(b.replies[5].header, 1000);
	CHECK_EQ_INT(b.replies[5].bulk, 1000);
	CHECK_STR_EQ(b.replies[5].sha256, sha_a);
	CHECK_STR_EQ(rec.served_sha256, sha_a);
	rp_payload_free(p);

	/* The next board gets the new version, whole. */
	p = dir_payload("toctou");
	{
		const struct step steps[] = { { 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL },
					      { 2, "", NULL } };
		char sha_b[65];
		sha_of_fill('B', 2000, sha_b);
		serve(p, RP_SESSION_SERVE, steps, 3, &b, &rec);
		CHECK_EQ_INT(b.replies[0].header, 2000);
		CHECK_EQ_INT(b.replies[1].bulk, 2000);
		CHECK_STR_EQ(b.replies[1].sha256, sha_b);
		CHECK_STR_EQ(rec.served_sha256, sha_b);
	}
	rp_payload_free(p);
}

/* ---- boot -d: the verdict once the board went for an image ---- */

static void test_serve_verdicts(void)
{
	char sha[65], good_hash[128];
	struct rp_payload *p, *p_noimage;
	struct script_board b;
	struct rp_board_record rec;

	CHECK(mkdir("serve", 0755) == 0);
	CHECK(mkdir("serve/2711", 0755) == 0);
	CHECK(mkdir("noimage", 0755) == 0);
	put("serve/pieeprom.bin", 'I', 4096);
	put("serve/pieeprom.upd", 'I', 4096);
	put("serve/pieeprom.sig", 's', 10);
	put("serve/config.txt", 'c', 5);
	put("serve/2711/pieeprom.bin", 'I', 4096);
	put("noimage/bootcode4.bin", 'b', 64);
	put("noimage/config.txt", 'c', 5);
	sha_of_fill('I', 4096, sha);
	snprintf(good_hash, sizeof(good_hash), "*EEPROM_HASH*%s", sha);
	p = dir_payload("serve");
	p_noimage = dir_payload("noimage");

	/* Nothing about an EEPROM: served. */
	{
		const struct step s[] = { { 0, "config.txt", NULL }, { 1, "config.txt", NULL },
					  { 0, "start4.elf", NULL }, { 2, "", NULL } };
		CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, s, 4, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_SERVED);
	}
	/* Sized the image, never read it, said Done. */
	{
		const struct step s[] = { { 0, "pieeprom.bin", NULL }, { 0, "pieeprom.sig", NULL },
					  { 1, "pieeprom.sig", NULL }, { 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_SERVE, s, 4, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "asked for the size of pieeprom.bin but never read it");
	}
	/* Asked for the image, which the directory does not have (what
	 * `boot -d DIR` with only bootcode4.bin in DIR gives). */
	{
		const struct step s[] = { { 0, "config.txt", NULL }, { 1, "config.txt", NULL },
					  { 0, "pieeprom.bin", NULL },
					  { 0, "*EEPROM_UPDATE*missing-image", NULL }, { 2, "", NULL } };
		CHECK(serve(p_noimage, RP_SESSION_SERVE, s, 5, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "asked for pieeprom.bin, which is not in the served files");
		CHECK_CONTAINS(rec.error, "EEPROM_UPDATE=missing-image");
		/* ... and in flash mode. */
		CHECK(serve(p_noimage, RP_SESSION_FLASH, s, 5, &b, &rec) != RP_OK);
		CHECK_CONTAINS(rec.error, "without reading pieeprom.bin");
	}
	/* pieeprom.upd asked and missing fails the same way. */
	{
		const struct step s[] = { { 0, "pieeprom.upd", NULL }, { 1, "pieeprom.upd", NULL },
					  { 2, "", NULL } };
		CHECK(serve(p_noimage, RP_SESSION_SERVE, s, 3, &b, &rec) != RP_OK);
		CHECK_CONTAINS(rec.error, "asked for pieeprom.upd");
	}
	/* No image asked for, but the board says its update failed. */
	{
		const struct step s[] = { { 0, "*EEPROM_UPDATE*failed", NULL }, { 2, "", NULL } };
		CHECK(serve(p_noimage, RP_SESSION_SERVE, s, 2, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "EEPROM_UPDATE=failed");
	}
	/* The image under a folder name is verified like pieeprom.bin. */
	{
		const struct step s[] = {
			{ 0, "2711/pieeprom.bin", NULL }, { 1, "2711/pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*success", NULL },
			{ 0, "*EEPROM_HASH*0000000000000000000000000000000000000000000000000000000000000000",
			  NULL },
			{ 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_SERVE, s, 5, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "does not match served image");
		CHECK_STR_EQ(rec.served_sha256, sha);
	}
	{
		const struct step s[] = { { 0, "2711/pieeprom.bin", NULL },
					  { 1, "2711/pieeprom.bin", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 2, "", NULL } };
		CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, s, 5, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_OK);
		CHECK_STR_EQ(rec.reported_hash, sha);
	}
	/* pieeprom.upd read and confirmed. */
	{
		const struct step s[] = { { 0, "pieeprom.upd", NULL }, { 1, "pieeprom.upd", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 2, "", NULL } };
		CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, s, 5, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_OK);
	}
	rp_payload_free(p);
	rp_payload_free(p_noimage);
}

/* ---- metadata reported twice ---- */

static void test_repeated_metadata(void)
{
	char sha[65], good_hash[128], bad_update[64];
	struct rp_payload *p;
	struct script_board b;
	struct rp_board_record rec;

	sha_of_fill('I', 4096, sha);
	snprintf(good_hash, sizeof(good_hash), "*EEPROM_HASH*%s", sha);
	p = dir_payload("serve");

	/* success, then a malformed failure report: never a stale success. */
	{
		const struct step s[] = { { 1, "pieeprom.bin", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 0, "*EEPROM_UPDATE*failed\x01", NULL },
					  { 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_FLASH, s, 5, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "malformed EEPROM_UPDATE report");
		CHECK(strcmp(rp_board_record_meta(&rec, "EEPROM_UPDATE"), "success") != 0);
		CHECK_EQ_INT(rec.meta_dropped, 1);
	}
	/* ... one with a control character inside. */
	snprintf(bad_update, sizeof(bad_update), "*EEPROM_UPDATE*succ\tess");
	{
		const struct step s[] = { { 1, "pieeprom.bin", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 0, bad_update, NULL },
					  { 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_FLASH, s, 5, &b, &rec) != RP_OK);
		CHECK_CONTAINS(rec.error, "malformed EEPROM_UPDATE report");
	}
	/* ... a well-formed but different one. */
	{
		const struct step s[] = { { 1, "pieeprom.bin", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 0, "*EEPROM_UPDATE*failed", NULL },
					  { 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_FLASH, s, 5, &b, &rec) != RP_OK);
		CHECK_CONTAINS(rec.error, "EEPROM_UPDATE twice with different values");
	}
	/* A malformed EEPROM report even without an earlier value, in boot -d. */
	{
		const struct step s[] = { { 0, "*EEPROM_UPDATE\x02*success", NULL }, { 2, "", NULL } };
		CHECK(serve(p, RP_SESSION_SERVE, s, 2, &b, &rec) != RP_OK);
		CHECK_CONTAINS(rec.error, "malformed EEPROM report");
	}
	/* The same value twice is fine; another key's malformed repeat
	 * invalidates the earlier value instead of keeping it. */
	{
		const struct step s[] = { { 1, "pieeprom.bin", NULL },
					  { 0, "*MAC_ADDR*dc:a6:32:00:00:01", NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, good_hash, NULL },
					  { 0, "*EEPROM_UPDATE*success", NULL },
					  { 0, "*MAC_ADDR*dc:a6:32:00:00:02\x7f", NULL },
					  { 2, "", NULL } };
		const struct rp_metadata_entry *mac = NULL;
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, s, 7, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_OK);
		CHECK_EQ_INT(rec.meta_dropped, 1);
		for (unsigned i = 0; i < rec.n_meta; i++)
			if (!strcmp(rec.meta[i].key, "MAC_ADDR"))
				mac = &rec.meta[i];
		CHECK(mac != NULL);
		if (mac) {
			CHECK(mac->invalid);
			CHECK_STR_EQ(mac->value, "");
		}
	}
	/* A later good report makes it valid again. */
	{
		const struct step s[] = { { 0, "*MAC_ADDR*x\x01", NULL },
					  { 0, "*MAC_ADDR*dc:a6:32:00:00:03", NULL }, { 2, "", NULL } };
		CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, s, 3, &b, &rec), RP_OK);
		CHECK_STR_EQ(rp_board_record_meta(&rec, "MAC_ADDR"), "dc:a6:32:00:00:03");
		CHECK(!rec.meta[0].invalid);
	}
	rp_payload_free(p);
}

/* ---- a board asking for ever more names ---- */

static void test_many_names(void)
{
	enum { N = 600 };
	static struct step steps[N + 1];
	static char names[N][16];
	struct rp_payload *p = dir_payload("serve");
	struct script_board b;
	struct rp_board_record rec;

	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "f%u", i);
		steps[i].cmd = 0;
		steps[i].name = names[i];
	}
	steps[N].cmd = 2;
	steps[N].name = "";
	CHECK(serve(p, RP_SESSION_SERVE, steps, N + 1, &b, &rec) != RP_OK);
	CHECK_CONTAINS(rec.error, "more than 512 different files");
	rp_payload_free(p);
}

/* ---- where real boards differ from a tidy script (issue #9) ---- */

static size_t n_replies_with_header(const struct script_board *b, uint32_t header)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n_replies; i++)
		n += b->replies[i].header == header && b->replies[i].bulk == 0;
	return n;
}

/* recovery.bin writes the .sig's ts into the EEPROM (F20), and what
 * EEPROM_HASH covers is open: the hash of the served bytes and the hash of
 * those bytes with that update time are both a board that flashed right;
 * any other hash is not. */
static void test_hash_with_update_time(void)
{
	const char *fw = test_firmware_dir();
	char path[600], served[65], stamped[65], in_file[65], sig[128], report[128];
	struct rp_eeprom ee;
	struct rp_payload *p;
	struct script_board b;
	struct rp_board_record rec;
	uint8_t *img;
	size_t len;

	if (!fw) {
		test_skip_case("RPIPROV_TEST_FIRMWARE not set (needs a real image)");
		return;
	}
	/* A 2711 image of 2026: it has an updatetime file. */
	snprintf(path, sizeof(path), "%s/2711/pieeprom-2026-08-04.bin", fw);
	if (rp_file_read_all(path, 1u << 22, &img, &len, NULL) != RP_OK) {
		CHECK(!"fixture image readable");
		return;
	}
	rp_sha256_hex(img, len, served);
	CHECK_EQ_INT(rp_eeprom_parse(&ee, img, len, path, NULL), RP_OK);
	CHECK_EQ_INT(rp_eeprom_set_timestamp(&ee, 1700000000u, NULL), RP_OK);
	rp_sha256_hex(ee.data, ee.size, stamped);
	rp_eeprom_free(&ee);
	/* The 2711 image's updatetime file, where older tools put it. */
	CHECK_EQ_INT(rp_eeprom_parse(&ee, img, len, path, NULL), RP_OK);
	CHECK_EQ_INT(rp_eeprom_set_timestamp_in_files(&ee, 1700000000u, NULL), RP_OK);
	rp_sha256_hex(ee.data, ee.size, in_file);
	rp_eeprom_free(&ee);
	CHECK(strcmp(served, stamped) != 0);
	CHECK(strcmp(in_file, stamped) != 0);
	CHECK(mkdir("stamp", 0755) == 0);
	snprintf(path, sizeof(path), "%s/stamp/pieeprom.bin", root);
	CHECK_EQ_INT(rp_file_write_atomic(path, img, len, 0644, NULL), RP_OK);
	snprintf(sig, sizeof(sig), "%s\nts: 1700000000\n", served);
	snprintf(path, sizeof(path), "%s/stamp/pieeprom.sig", root);
	CHECK_EQ_INT(rp_file_write_atomic(path, sig, strlen(sig), 0644, NULL), RP_OK);
	free(img);

	static const char *const kinds[] = { "flashed", "served", "other", "in-file" };
	for (unsigned k = 0; k < 4; k++) {
		snprintf(report, sizeof(report), "*EEPROM_HASH*%s",
			 k == 0 ? stamped : k == 1 ? served : k == 3 ? in_file
			 : "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 0, "pieeprom.sig", NULL },
			{ 1, "pieeprom.sig", NULL }, { 0, "pieeprom.bin", NULL },
			{ 1, "pieeprom.bin", NULL }, { 0, "*EEPROM_UPDATE*success", NULL },
			{ 0, report, NULL },         { 2, "", NULL },
		};
		p = dir_payload("stamp");
		serve(p, RP_SESSION_FLASH, steps, sizeof(steps) / sizeof(steps[0]), &b, &rec);
		fprintf(stderr, "  EEPROM_HASH of the %s image: %s %s\n", kinds[k],
			rp_board_result_name(rec.result), rec.hash_matched);
		if (k == 0 || k == 3) {
			CHECK_EQ_INT(rec.result, RP_RESULT_OK);
			CHECK_STR_EQ(rec.hash_matched, "served image with the .sig's update time");
		} else if (k == 1) {
			CHECK_EQ_INT(rec.result, RP_RESULT_OK);
			CHECK_STR_EQ(rec.hash_matched, "served image");
		} else {
			CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
			CHECK_CONTAINS(rec.error, "nor the image with its update time");
			CHECK_CONTAINS(rec.error, stamped);
		}
		rp_payload_free(p);
	}
}

/* F17: an empty name means Done, and rpiboot answers it with a
 * zero-length write. rpiboot looks at the name before the command, so
 * Done itself (command 2, whose name is empty) is answered the same way;
 * only a command 2 carrying a name goes unanswered. */
static void test_empty_name_is_acknowledged(void)
{
	struct rp_payload *p = dir_payload("toctou");
	struct script_board b;
	struct rp_board_record rec;
	const struct step empty[] = { { 0, "config.txt", NULL }, { 1, "", NULL } };
	const struct step done[] = { { 0, "config.txt", NULL }, { 2, "", NULL } };
	const struct step named_done[] = { { 0, "config.txt", NULL }, { 2, "bye", NULL } };

	CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, empty, 2, &b, &rec), RP_OK);
	CHECK_EQ_INT(rec.result, RP_RESULT_SERVED);
	CHECK_EQ_INT(b.n_replies, 2); /* the size of config.txt, then the empty name's ack */
	CHECK_EQ_INT(b.replies[1].header, 0);
	CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, done, 2, &b, &rec), RP_OK);
	CHECK_EQ_INT(b.n_replies, 2);
	CHECK_EQ_INT(b.replies[1].header, 0);
	CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, named_done, 2, &b, &rec), RP_OK);
	CHECK_EQ_INT(b.n_replies, 1);
	rp_payload_free(p);
}

/* F17 / recovery_reboot=1: the board reports its metadata and reboots
 * without Done. It finished; the verdict comes from its reports. */
static void test_leaves_after_metadata(void)
{
	char sha[65], report[128];
	struct rp_payload *p;
	struct script_board b;
	struct rp_board_record rec;

	CHECK(mkdir("reboot", 0755) == 0);
	put("reboot/pieeprom.bin", 'R', 4096);
	sha_of_fill('R', 4096, sha);
	snprintf(report, sizeof(report), "*EEPROM_HASH*%s", sha);
	p = dir_payload("reboot");
	{
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*success", NULL }, { 0, report, NULL },
		};
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, 4, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_OK);
	}
	{
		/* Gone before any report: that is still a board that left. */
		const struct step steps[] = { { 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL } };
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, 2, &b, &rec), RP_ERR_NO_DEVICE);
		CHECK_EQ_INT(rec.result, RP_RESULT_LEFT);
	}
	{
		/* It reported a failed update, then rebooted: FAILED, not OK. */
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*fail", NULL },
		};
		serve(p, RP_SESSION_FLASH, steps, 3, &b, &rec);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
		CHECK_CONTAINS(rec.error, "EEPROM_UPDATE=fail");
	}
	rp_payload_free(p);
}

/* An EEPROM that already held the image: recovery.bin reports only
 * "success" or "fail" for EEPROM_UPDATE, and which one it says then is not
 * known. With the served image's hash, "fail" is not a failed board:
 * UNVERIFIED. With another hash it is. Without EEPROM_UPDATE, a matching
 * hash alone is UNVERIFIED too. */
static void test_update_fail_with_served_hash(void)
{
	char sha[65], report[128];
	struct rp_payload *p = dir_payload("reboot");
	struct script_board b;
	struct rp_board_record rec;

	sha_of_fill('R', 4096, sha);
	snprintf(report, sizeof(report), "*EEPROM_HASH*%s", sha);
	{
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL },   { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*fail", NULL }, { 0, report, NULL }, { 2, "", NULL },
		};
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, 5, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_UNVERIFIED);
		CHECK_CONTAINS(rec.error, "already held it");
	}
	{
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*fail", NULL },
			{ 0, "*EEPROM_HASH*0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			  NULL },
			{ 2, "", NULL },
		};
		serve(p, RP_SESSION_FLASH, steps, 5, &b, &rec);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
	}
	{
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL }, { 0, report, NULL },
			{ 2, "", NULL },
		};
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, 4, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_UNVERIFIED);
		CHECK_CONTAINS(rec.error, "did not report EEPROM_UPDATE");
	}
	rp_payload_free(p);
}

/* F19: a board writing its EEPROM can be silent for longer than one
 * request timeout; the host waits up to the board's deadline. */
static void test_slow_request(void)
{
	char sha[65], report[128];
	struct rp_payload *p = dir_payload("reboot");
	struct script_board b;
	struct rp_board_record rec;

	sha_of_fill('R', 4096, sha);
	snprintf(report, sizeof(report), "*EEPROM_HASH*%s", sha);
	const struct step steps[] = {
		{ 0, "pieeprom.bin", NULL },          { 1, "pieeprom.bin", NULL },
		{ STEP_SILENT, NULL, NULL },          { STEP_SILENT, NULL, NULL },
		{ STEP_SILENT, NULL, NULL },          { 0, "*EEPROM_UPDATE*success", NULL },
		{ 0, report, NULL },                  { 2, "", NULL },
	};
	CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, sizeof(steps) / sizeof(steps[0]), &b, &rec),
		     RP_OK);
	CHECK_EQ_INT(rec.result, RP_RESULT_OK);
	rp_payload_free(p);
}

/* An unsafe name (absolute, "..", backslash) is answered as a missing
 * file, as rpiboot answers any name it cannot open, and noted; the board
 * goes on. */
static void test_unsafe_names_answered_missing(void)
{
	struct rp_payload *p = dir_payload("toctou");
	struct script_board b;
	struct rp_board_record rec;
	const struct step steps[] = {
		{ 0, "../../etc/passwd", NULL }, { 1, "/etc/shadow", NULL },
		{ 0, "a\\b", NULL },           { 0, "config.txt", NULL },
		{ 1, "config.txt", NULL },       { 2, "", NULL },
	};

	CHECK_EQ_INT(serve(p, RP_SESSION_SERVE, steps, sizeof(steps) / sizeof(steps[0]), &b, &rec),
		     RP_OK);
	CHECK_EQ_INT(rec.result, RP_RESULT_SERVED);
	CHECK_EQ_INT(rec.names_refused, 3);
	CHECK_CONTAINS(rec.first_refused, "../../etc/passwd");
	CHECK(n_replies_with_header(&b, 0) >= 3);
	CHECK_EQ_INT(rec.files_served, 1);
	rp_payload_free(p);
}

/* C19: once the board reported EEPROM_UPDATE=success and the hash of the
 * served image, it may ask for files nobody has (mcb.bin on a CM5) and
 * hang, stall or leave: the board is OK, at once, not after the deadline. */
static void test_verdict_once_confirmed(void)
{
	char sha[65], report[128];
	struct rp_payload *p;
	struct script_board b;
	struct rp_board_record rec;
	static const uint32_t endings[] = { STEP_HANG, STEP_STALL };

	CHECK(mkdir("confirmed", 0755) == 0);
	put("confirmed/pieeprom.bin", 'C', 4096);
	sha_of_fill('C', 4096, sha);
	snprintf(report, sizeof(report), "*EEPROM_HASH*%s", sha);
	p = dir_payload("confirmed");
	for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL },   { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*success", NULL }, { 0, report, NULL },
			{ 0, "*BOOT_ROM*0000000a", NULL }, { 0, "mcb.bin", NULL },
			{ endings[i], NULL, NULL },
		};
		uint64_t t0 = rp_now_ms();
		CHECK_EQ_INT(serve(p, RP_SESSION_FLASH, steps, 7, &b, &rec), RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_OK);
		CHECK_STR_EQ(rp_board_record_meta(&rec, "BOOT_ROM"), "0000000a");
		/* the serve() deadline is 30 s: well before it */
		CHECK(rp_now_ms() - t0 < 10000);
	}
	{
		/* Not confirmed (no hash yet) and then hanging: still a timeout. */
		const struct step steps[] = {
			{ 0, "pieeprom.bin", NULL }, { 1, "pieeprom.bin", NULL },
			{ 0, "*EEPROM_UPDATE*success", NULL }, { STEP_STALL, NULL, NULL },
		};
		CHECK(serve(p, RP_SESSION_FLASH, steps, 4, &b, &rec) != RP_OK);
		CHECK_EQ_INT(rec.result, RP_RESULT_FAILED);
	}
	rp_payload_free(p);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(root, sizeof(root), "%s/rpiprov-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root) || chdir(root) != 0) {
		perror(root);
		return 1;
	}
	RUN(test_one_version_per_session());
	RUN(test_serve_verdicts());
	RUN(test_repeated_metadata());
	RUN(test_many_names());
	RUN(test_hash_with_update_time());
	RUN(test_empty_name_is_acknowledged());
	RUN(test_leaves_after_metadata());
	RUN(test_slow_request());
	RUN(test_unsafe_names_answered_missing());
	RUN(test_verdict_once_confirmed());
	RUN(test_update_fail_with_served_hash());
	rc = test_result();
	{
		char cmd[300];
		if (chdir("/") != 0)
			return 1;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
	return rc;
}
