/* Synthetic bootloader images for the tests, built by the library
 * (src/image/synthetic.h: struct rp_synth_opts, rp_synth_defaults,
 * rp_synth_image), so the image logic is tested everywhere and other areas
 * can serve a realistic pieeprom.bin. */
#ifndef RP_TESTS_SYNTH_IMAGE_H
#define RP_TESTS_SYNTH_IMAGE_H

#include "image/synthetic.h"

/* Write one to a file; returns 0 or -1. */
int synth_image_file(const struct rp_synth_opts *o, const char *path);

#endif
