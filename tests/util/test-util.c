/* Error table, diagnostics, crash-safe file writes, the number and
 * duration parsers, deadlines and the port-path order. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "testlib.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/parse.h"
#include "util/port_path.h"

static void test_error_names(void)
{
	for (int e = 0; e > -RP_ERROR_COUNT; e--) {
		CHECK(strcmp(rp_error_name(e), "RP_ERR_UNKNOWN") != 0);
		CHECK(strcmp(rp_strerror(e), "unknown error") != 0);
	}
	CHECK_STR_EQ(rp_error_name(-RP_ERROR_COUNT), "RP_ERR_UNKNOWN");
	CHECK_STR_EQ(rp_error_name(5), "RP_ERR_UNKNOWN");
	CHECK_STR_EQ(rp_error_name(RP_ERR_TIMEOUT), "RP_ERR_TIMEOUT");
}

static void test_diag(void)
{
	struct rp_diag d;
	rp_diag_clear(&d);
	CHECK_EQ_INT(rp_diag_set(&d, RP_ERR_FORMAT, "bad %s at %d", "magic", 8), RP_ERR_FORMAT);
	CHECK_STR_EQ(rp_diag_message(&d), "bad magic at 8");
	rp_diag_prefix(&d, "%s", "img.bin");
	CHECK_STR_EQ(rp_diag_message(&d), "img.bin: bad magic at 8");
	rp_diag_clear(&d);
	d.code = RP_ERR_NO_DEVICE;
	CHECK_STR_EQ(rp_diag_message(&d), "board left the bus");
	CHECK_EQ_INT(rp_diag_set(NULL, RP_ERR_IO, "x"), RP_ERR_IO);
}

static void test_endian(void)
{
	uint8_t b[8];
	rp_put_be32(b, 0x55aaf11f);
	CHECK(b[0] == 0x55 && b[3] == 0x1f);
	CHECK_EQ_INT(rp_get_be32(b), 0x55aaf11f);
	rp_put_le32(b, 0x01020304);
	CHECK(b[0] == 4 && b[3] == 1);
	CHECK_EQ_INT(rp_get_le32(b), 0x01020304);
	rp_put_le64(b, 0x1122334455667788ull);
	CHECK(b[0] == 0x88 && b[7] == 0x11);
	rp_put_le16(b, 0xabcd);
	CHECK_EQ_INT(rp_get_le16(b), 0xabcd);
}

static void test_files(void)
{
	char dir[] = "/tmp/rpiprov-test-util-XXXXXX";
	char path[256], sub[256];
	struct rp_diag d;
	uint8_t *data;
	size_t len;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/out.bin", dir);
	CHECK_EQ_INT(rp_file_write_atomic(path, "hello", 5, 0644, &d), RP_OK);
	CHECK_EQ_INT(rp_file_read_all(path, 100, &data, &len, &d), RP_OK);
	CHECK_EQ_INT(len, 5);
	CHECK(memcmp(data, "hello", 5) == 0 && data[5] == 0);
	free(data);
	/* size limit */
	CHECK_EQ_INT(rp_file_read_all(path, 4, &data, &len, &d), RP_ERR_TOO_LARGE);
	CHECK_CONTAINS(d.msg, path);
	/* missing file names the path */
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	CHECK_EQ_INT(rp_file_read_all(sub, 100, &data, &len, &d), RP_ERR_NOT_FOUND);
	CHECK_CONTAINS(d.msg, "missing");
	/* writing into a missing directory fails and leaves nothing */
	snprintf(sub, sizeof(sub), "%s/nodir/out.bin", dir);
	CHECK(rp_file_write_atomic(sub, "x", 1, 0644, &d) < 0);
	CHECK_CONTAINS(d.msg, "nodir");
	CHECK(rp_file_same(path, path));
	CHECK(!rp_file_same(path, sub));
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	CHECK_EQ_INT(rp_mkdir_p(sub, 0755, &d), RP_OK);
	struct stat st;
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	unlink(path);
	rmdir(dir);
}

static void test_numbers(void)
{
	struct rp_diag d;
	uint64_t v = 7;
	unsigned u = 7;

	CHECK_EQ_INT(rp_parse_u64("0", 0, 10, &v, &d), RP_OK);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(rp_parse_u64("18446744073709551615", 0, UINT64_MAX, &v, &d), RP_OK);
	CHECK(v == UINT64_MAX);
	/* Out of range, wrapped by strtoull, signed, blank, hex, trailing junk. */
	static const char *const bad[] = { "18446744073709551616", "-1", "+1", " 1", "", "0x10",
					   "1 ", "1k", "11" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_diag_clear(&d);
		CHECK_EQ_INT(rp_parse_u64(bad[i], 0, i == 8 ? 10 : UINT64_MAX, &v, &d), RP_ERR_INVALID_ARG);
		CHECK_CONTAINS(d.msg, "is not a number from");
	}
	CHECK_EQ_INT(rp_parse_uint("0", 1, 5, &u, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "'0' is not a number from 1 to 5");
	CHECK_EQ_INT(rp_parse_uint("5", 1, 5, &u, &d), RP_OK);
	CHECK_EQ_INT(u, 5);
	CHECK_EQ_INT(rp_parse_uint("1", 0, 5, &u, NULL), RP_OK);
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{ "30s", 30000 }, { "2m", 120000 }, { "2min", 120000 }, { "1h", 3600000 },
		{ "500ms", 500 }, { "120", 120000 }, { "1.5s", 1500 }, { ".5s", 500 }, { "0", 0 },
	};
	static const char *const bad[] = { "", "s", "-1s", "1d", "inf", "nan", "0x10", " 5", "5 s",
					   "1e400", "2mm", "ms" };
	struct rp_diag d;
	uint64_t ms;
	char buf[32];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 1;
		CHECK_EQ_INT(rp_parse_duration_ms(good[i].text, 0, UINT64_MAX / 2, &ms, &d), RP_OK);
		CHECK_EQ_INT(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rp_diag_clear(&d);
		CHECK_EQ_INT(rp_parse_duration_ms(bad[i], 0, UINT64_MAX / 2, &ms, &d), RP_ERR_INVALID_ARG);
		CHECK_CONTAINS(d.msg, "is not a duration");
	}
	CHECK_EQ_INT(rp_parse_duration_ms("500ms", 1000, 86400000, &ms, &d), RP_ERR_INVALID_ARG);
	CHECK_CONTAINS(d.msg, "'500ms' is out of range (1 s to 24 h)");
	CHECK_EQ_INT(rp_parse_duration_ms("25h", 1000, 86400000, &ms, &d), RP_ERR_INVALID_ARG);
	CHECK_STR_EQ(rp_format_duration_ms(90000, buf, sizeof(buf)), "90 s");
	CHECK_STR_EQ(rp_format_duration_ms(120000, buf, sizeof(buf)), "2 min");
	CHECK_STR_EQ(rp_format_duration_ms(1500, buf, sizeof(buf)), "1500 ms");
}

static void test_deadlines(void)
{
	uint64_t now = rp_now_ms();
	uint64_t dl = rp_deadline_in(1000);
	struct timespec ts = rp_ms_to_timespec(1234567);

	CHECK(dl >= now + 1000 && dl < now + 60000);
	CHECK(rp_deadline_in(UINT64_MAX) == UINT64_MAX); /* saturates: for ever stays for ever */
	CHECK(rp_ms_until(dl) <= 1000 && rp_ms_until(dl) > 0);
	CHECK_EQ_INT(rp_ms_until(now > 0 ? now - 1 : 0), 0);
	CHECK_EQ_INT(ts.tv_sec, 1234);
	CHECK_EQ_INT(ts.tv_nsec, 567000000);
}

static void test_port_paths(void)
{
	CHECK(rp_port_path_cmp("1-1.2", "1-1.10") < 0);
	CHECK(rp_port_path_cmp("1-1.10", "1-1.9") > 0);
	CHECK(rp_port_path_cmp("1-1.3", "1-1.3") == 0);
	CHECK(rp_port_path_cmp("1-1", "1-1.1") < 0);
	CHECK(rp_port_path_cmp("2-1", "10-1") < 0);
	CHECK(rp_port_path_cmp("1-1.007", "1-1.7") == 0);
	/* Longer than any unsigned long: still ordered by value. */
	CHECK(rp_port_path_cmp("1-99999999999999999999999", "1-100000000000000000000000") < 0);
	CHECK(rp_port_path_cmp("1-1.a", "1-1.b") < 0);
}

static size_t gzip_bytes(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	CHECK_EQ_INT(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	CHECK_EQ_INT(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static int read_variant(const char *dir, const uint8_t *bytes, size_t len, struct rp_diag *d)
{
	char path[256];
	uint8_t *data = NULL;
	size_t got = 0;
	int r;
	snprintf(path, sizeof(path), "%s/in.bin.gz", dir);
	CHECK_EQ_INT(rp_file_write_atomic(path, bytes, len, 0644, d), RP_OK);
	r = rp_file_read_all(path, 1 << 20, &data, &got, d);
	if (r == RP_OK)
		CHECK(got == 4096 && data[4095] == (uint8_t)(4095 * 7));
	free(data);
	return r;
}

/* A .gz input is checked to its last byte (issue #10: integrity checks
 * that stopped at the data): not gzip, truncated, a bad CRC or length,
 * and trailing bytes are errors naming the file, never data. */
static void test_gzip_integrity(void)
{
	char dir[] = "/tmp/rpiprov-test-gz-XXXXXX", cmd[300];
	static uint8_t plain[4096], gz[8192], bad[8192 + 16];
	struct rp_diag d;
	size_t n;

	CHECK(mkdtemp(dir) != NULL);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	n = gzip_bytes(plain, sizeof(plain), gz, sizeof(gz));
	CHECK_EQ_INT(read_variant(dir, gz, n, &d), RP_OK);
	/* Not gzip: zlib's gzread would have passed it through. */
	CHECK_EQ_INT(read_variant(dir, plain, sizeof(plain), &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "not gzip data");
	CHECK_EQ_INT(read_variant(dir, gz, n - 9, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "truncated");
	memcpy(bad, gz, n);
	bad[n - 8] ^= 1;
	CHECK_EQ_INT(read_variant(dir, bad, n, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "incorrect data check");
	memcpy(bad, gz, n);
	bad[n - 1] ^= 1;
	CHECK_EQ_INT(read_variant(dir, bad, n, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "incorrect length check");
	memcpy(bad, gz, n);
	memcpy(bad + n, "trailing", 8);
	CHECK_EQ_INT(read_variant(dir, bad, n + 8, &d), RP_ERR_FORMAT);
	CHECK_CONTAINS(d.msg, "8 bytes of trailing data");
	CHECK_CONTAINS(d.msg, "in.bin.gz");
	CHECK_EQ_INT(read_variant(dir, gz, 0, &d), RP_ERR_FORMAT);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	RUN(test_error_names());
	RUN(test_diag());
	RUN(test_endian());
	RUN(test_files());
	RUN(test_gzip_integrity());
	RUN(test_numbers());
	RUN(test_durations());
	RUN(test_deadlines());
	RUN(test_port_paths());
	return test_result();
}
