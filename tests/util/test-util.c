/* Error table, diagnostics and crash-safe file writes. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/fileio.h"

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

int main(void)
{
	RUN(test_error_names());
	RUN(test_diag());
	RUN(test_endian());
	RUN(test_files());
	return test_result();
}
