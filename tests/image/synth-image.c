#include "synth-image.h"

#include <stdio.h>
#include <stdlib.h>

int synth_image_file(const struct rp_synth_opts *o, const char *path)
{
	uint8_t *img;
	size_t len;
	FILE *f;
	int r = -1;

	if (rp_synth_image(o, &img, &len) < 0)
		return -1;
	f = fopen(path, "wb");
	if (f) {
		r = fwrite(img, 1, len, f) == len ? 0 : -1;
		if (fclose(f) != 0)
			r = -1;
	}
	free(img);
	return r;
}
