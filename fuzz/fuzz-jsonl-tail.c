/* The JSON Lines report as the sink finds it when it opens: any bytes an
 * earlier run, another program or a crash left there. Opening cuts a torn
 * last line and scans the tail for attempts already written (so a replay
 * from the spool is not written twice); one append then runs against
 * what was found. After that the file must end with a newline. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rp_board_record rec;
	struct rp_record_origin origin = { .station = "fuzz", .run_id = "r" };
	struct rp_sink_entry e = { .origin = &origin, .rec = &rec, .seq = 1 };
	struct rp_sink *s = NULL;
	struct rp_diag d;
	struct stat st;
	char last = 0;
	int fd;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/rpiprov-fuzz-jsonl-%ld.jsonl", (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	memset(&rec, 0, sizeof(rec));
	/* The attempt id from the first bytes: sometimes one the tail holds. */
	rec.attempt_id = size ? data[0] % 4 : 1;
	snprintf(rec.serial, sizeof(rec.serial), "%s", "fuzz0001");
	snprintf(rec.port_path, sizeof(rec.port_path), "%s", "1-1");
	rp_diag_clear(&d);
	if (rp_sink_jsonl_new(path, &s, &d) < 0)
		return 0;
	if (s->ops->open(s, &d) == RP_OK && s->ops->append(s, &e, &d) == RP_OK) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
		    pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			__builtin_trap(); /* a torn line left behind */
		if (fd >= 0)
			close(fd);
	}
	s->ops->close(s);
	unlink(path);
	return 0;
}
