/* rpiboot -j compatible metadata files: round trip through json-c, safe
 * names only, FACTORY_UUID decoding. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/factory_uuid.h"
#include "records/metadata_json.h"
#include "testlib.h"

static void add_meta(struct rp_board_record *r, const char *k, const char *v)
{
	snprintf(r->meta[r->n_meta].key, sizeof(r->meta[0].key), "%s", k);
	snprintf(r->meta[r->n_meta].value, sizeof(r->meta[0].value), "%s", v);
	r->n_meta++;
}

static void make_record(struct rp_board_record *r, const char *serial)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	snprintf(r->port_path, sizeof(r->port_path), "1-1.3");
	add_meta(r, "MAC_ADDR", "dc:a6:32:01:02:03");
	add_meta(r, "EEPROM_UPDATE", "success");
	add_meta(r, "EEPROM_HASH", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	add_meta(r, "USER_SERIAL_NUM", "a \"quoted\" \\ value/with slash");
}

static char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/rpiprov-test-meta-XXXXXX";
	char *p = mkdtemp(tmpl);
	return p ? strdup(p) : NULL;
}

static void test_round_trip(const char *dir)
{
	struct rp_board_record r;
	struct rp_diag d;
	char path[512];
	struct json_object *obj, *v;
	int n = 0;

	make_record(&r, "10000000abcdef01");
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_metadata_json_write(dir, &r, &d), RP_OK);
	snprintf(path, sizeof(path), "%s/10000000abcdef01.json", dir);
	obj = json_object_from_file(path);
	CHECK(obj != NULL);
	if (!obj)
		return;
	CHECK(json_object_is_type(obj, json_type_object));
	json_object_object_foreach(obj, key, val) {
		/* Every value is a string, as rpiboot writes them, in reported order. */
		CHECK(json_object_is_type(val, json_type_string));
		CHECK_STR_EQ(key, r.meta[n].key);
		CHECK_STR_EQ(json_object_get_string(val), r.meta[n].value);
		n++;
	}
	CHECK_EQ_INT(n, 4);
	CHECK(json_object_object_get_ex(obj, "MAC_ADDR", &v));
	CHECK_STR_EQ(json_object_get_string(v), "dc:a6:32:01:02:03");
	json_object_put(obj);

	/* A second attempt on the same board replaces the file whole. */
	memset(r.meta, 0, sizeof(r.meta));
	r.n_meta = 0;
	add_meta(&r, "MAC_ADDR", "dc:a6:32:99:99:99");
	CHECK_EQ_INT(rp_metadata_json_write(dir, &r, &d), RP_OK);
	obj = json_object_from_file(path);
	CHECK(obj && json_object_object_length(obj) == 1);
	CHECK(obj && json_object_object_get_ex(obj, "MAC_ADDR", &v) &&
	      !strcmp(json_object_get_string(v), "dc:a6:32:99:99:99"));
	json_object_put(obj);
}

static void test_no_metadata(const char *dir)
{
	struct rp_board_record r;
	char path[512];
	struct json_object *obj;

	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "empty-board_1");
	CHECK_EQ_INT(rp_metadata_json_write(dir, &r, NULL), RP_OK);
	snprintf(path, sizeof(path), "%s/empty-board_1.json", dir);
	obj = json_object_from_file(path);
	CHECK(obj && json_object_is_type(obj, json_type_object) && json_object_object_length(obj) == 0);
	json_object_put(obj);
}

static void test_unsafe_serials(const char *dir)
{
	static const char *const bad[] = {
		"", "../evil", "a/b", "..", ".", "x.json", "with space", "tab\there", "semi;colon",
		"\xc3\xa9t\xc3\xa9",
	};
	char longest[RP_SERIAL_MAX];
	struct rp_board_record r;
	struct rp_diag d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_record(&r, bad[i]);
		rp_diag_clear(&d);
		CHECK_EQ_INT(rp_metadata_json_write(dir, &r, &d), RP_ERR_REFUSED);
		CHECK_CONTAINS(d.msg, "not a safe file name");
		CHECK_CONTAINS(d.msg, "1-1.3");
		CHECK(!rp_serial_is_safe_filename(bad[i]));
	}
	/* Nothing escaped the directory. */
	CHECK(access("/tmp/evil.json", F_OK) != 0);

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	CHECK(rp_serial_is_safe_filename(longest));
	CHECK(rp_serial_is_safe_filename("0123-ABC_xyz"));
	CHECK(!rp_serial_is_safe_filename(NULL));
	{
		char too_long[RP_SERIAL_MAX + 1];
		memset(too_long, 'a', sizeof(too_long) - 1);
		too_long[sizeof(too_long) - 1] = '\0';
		CHECK(!rp_serial_is_safe_filename(too_long));
	}
}

/* Encode text as the boot ROM does (three C40 digits per 16-bit half) to
 * check the decoder against an independent encoder. */
static int c40_of(char c)
{
	return (c >= '0' && c <= '9') ? 4 + c - '0' : 14 + c - 'A';
}

static void encode_uuid(const char *text, char *out, size_t out_size)
{
	size_t n = strlen(text), pos = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i += 6) {
		unsigned halves[2] = { 0, 0 };
		for (int h = 0; h < 2; h++) {
			if (i + 3 * (size_t)h >= n)
				break;
			halves[h] = (unsigned)(c40_of(text[i + 3 * h]) * 1600 +
					       c40_of(text[i + 3 * h + 1]) * 40 + c40_of(text[i + 3 * h + 2]) + 1);
		}
		pos += (size_t)snprintf(out + pos, out_size - pos, "%s%x", i ? "_" : "",
					halves[1] << 16 | halves[0]);
	}
}

static void test_factory_uuid(const char *dir)
{
	char enc[128], dec[RP_FACTORY_UUID_MAX + 1];
	const char *text = "ABC123XYZ789";
	struct rp_board_record r;
	struct json_object *obj, *v;

	encode_uuid(text, enc, sizeof(enc));
	CHECK_EQ_INT(rp_factory_uuid_decode(enc, dec, sizeof(dec)), 0);
	CHECK_STR_EQ(dec, text);
	/* Trailing zero words are padding. */
	strcat(enc, "_0_0");
	CHECK_EQ_INT(rp_factory_uuid_decode(enc, dec, sizeof(dec)), 0);
	CHECK_STR_EQ(dec, text);

	CHECK_EQ_INT(rp_factory_uuid_decode("", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(rp_factory_uuid_decode("zz", dec, sizeof(dec)), -1);
	CHECK_STR_EQ(dec, "");
	CHECK_EQ_INT(rp_factory_uuid_decode("123456789", dec, sizeof(dec)), -1); /* 9 hex digits */
	CHECK_EQ_INT(rp_factory_uuid_decode("1__2", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(rp_factory_uuid_decode("1", dec, sizeof(dec)), -1); /* C40 digit 0: not a character */
	{
		/* More than 36 characters: refused, not overflowed. */
		char big[256] = "";
		for (int i = 0; i < 7; i++)
			strcat(big, i ? "_" : ""), strcat(big, "41414141");
		CHECK_EQ_INT(rp_factory_uuid_decode(big, dec, sizeof(dec)), -1);
		CHECK_EQ_INT(rp_factory_uuid_decode("41414141", dec, 4), -1); /* out too small */
	}

	/* In the metadata file FACTORY_UUID is decoded; garbage stays as sent. */
	encode_uuid(text, enc, sizeof(enc));
	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "uuid-board");
	add_meta(&r, "FACTORY_UUID", enc);
	add_meta(&r, "OTHER", enc);
	CHECK_EQ_INT(rp_metadata_json_write(dir, &r, NULL), RP_OK);
	{
		char path[512];
		snprintf(path, sizeof(path), "%s/uuid-board.json", dir);
		obj = json_object_from_file(path);
	}
	CHECK(obj && json_object_object_get_ex(obj, "FACTORY_UUID", &v) &&
	      !strcmp(json_object_get_string(v), text));
	CHECK(obj && json_object_object_get_ex(obj, "OTHER", &v) &&
	      !strcmp(json_object_get_string(v), enc));
	json_object_put(obj);

	memset(&r, 0, sizeof(r));
	snprintf(r.serial, sizeof(r.serial), "uuid-bad");
	add_meta(&r, "FACTORY_UUID", "not-hex");
	obj = rp_metadata_json_object(&r);
	CHECK(obj && json_object_object_get_ex(obj, "FACTORY_UUID", &v) &&
	      !strcmp(json_object_get_string(v), "not-hex"));
	json_object_put(obj);
}

static void test_unwritable(void)
{
	struct rp_board_record r;
	struct rp_diag d;

	make_record(&r, "abc");
	rp_diag_clear(&d);
	/* A file where the directory should be. */
	CHECK(rp_metadata_json_write("/dev/null/sub", &r, &d) < 0);
	CHECK(d.msg[0] != '\0');
}

int main(void)
{
	char *dir = tmpdir_new();
	char cmd[600];

	CHECK(dir != NULL);
	if (!dir)
		return test_result();
	RUN(test_round_trip(dir));
	RUN(test_no_metadata(dir));
	RUN(test_unsafe_serials(dir));
	RUN(test_factory_uuid(dir));
	{
		/* The directory is created when missing. */
		char sub[512];
		struct rp_board_record r;
		snprintf(sub, sizeof(sub), "%s/new/deeper", dir);
		make_record(&r, "abc");
		CHECK_EQ_INT(rp_metadata_json_write(sub, &r, NULL), RP_OK);
		snprintf(sub, sizeof(sub), "%s/new/deeper/abc.json", dir);
		CHECK(access(sub, R_OK) == 0);
	}
	RUN(test_unwritable());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
	return test_result();
}
