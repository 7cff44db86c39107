/* Replays every file of a corpus directory through LLVMFuzzerTestOneInput,
 * so fuzz targets also run (under the sanitizers) in the normal suite. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	unsigned n = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *dir = opendir(argv[1]);
	if (!dir) {
		fprintf(stderr, "%s: cannot open corpus\n", argv[1]);
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(dir))) {
		char path[4096];
		uint8_t *data;
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		if (rp_file_read_all(path, 16u << 20, &data, &len, NULL) != 0)
			continue;
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		n++;
	}
	closedir(dir);
	printf("replayed %u inputs\n", n);
	return n ? 0 : 1;
}
