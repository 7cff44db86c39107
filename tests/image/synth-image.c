#include "synth-image.h"

#include <stdio.h>
#include <stdlib.h>

#include "image/synthetic.h"

/* The tests' names for the library's builder (src/image/synthetic.c). */
static struct rp_synth_opts to_lib(const struct synth_opts *o)
{
	struct rp_synth_opts l = {
		.soc = o->soc,
		.build_timestamp = o->build_timestamp,
		.bootconf = o->bootconf,
		.no_updatetime = o->no_updatetime,
		.no_pubkey = o->no_pubkey,
		.no_cacert = o->no_cacert,
		.no_bootconf = o->no_bootconf,
	};
	return l;
}

struct synth_opts synth_defaults(void)
{
	struct rp_synth_opts l = rp_synth_defaults();
	struct synth_opts o = { .soc = l.soc, .build_timestamp = l.build_timestamp };
	return o;
}

int synth_image(const struct synth_opts *o, uint8_t **out, size_t *len)
{
	struct rp_synth_opts l = to_lib(o);
	return rp_synth_image(&l, out, len) < 0 ? -1 : 0;
}

int synth_image_file(const struct synth_opts *o, const char *path)
{
	uint8_t *img;
	size_t len;
	FILE *f;
	int r = -1;

	if (synth_image(o, &img, &len) < 0)
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
