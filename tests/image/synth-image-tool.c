/* Writes a synthetic bootloader image for shell tests:
 *   synth-image-tool OUT [2711|2712] [--build-ts N] [--no-bootconf]
 *                    [--no-pubkey] [--no-updatetime] [--bootconf TEXT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth-image.h"

int main(int argc, char **argv)
{
	struct rp_synth_opts o = rp_synth_defaults();

	if (argc < 2) {
		fprintf(stderr, "usage: %s OUT [2711|2712] [options]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "2711") || !strcmp(argv[i], "2712"))
			o.soc = argv[i];
		else if (!strcmp(argv[i], "--build-ts") && i + 1 < argc)
			o.build_timestamp = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--bootconf") && i + 1 < argc)
			o.bootconf = argv[++i];
		else if (!strcmp(argv[i], "--no-bootconf"))
			o.no_bootconf = true;
		else if (!strcmp(argv[i], "--no-pubkey"))
			o.no_pubkey = true;
		else if (!strcmp(argv[i], "--no-updatetime"))
			o.no_updatetime = true;
		else {
			fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	if (synth_image_file(&o, argv[1]) < 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
