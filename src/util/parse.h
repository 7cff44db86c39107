/* Numbers and durations from the command line and from config files: one
 * parser each, so that every option that takes a time accepts the same
 * forms and every count is range-checked the same way. */
#ifndef RP_UTIL_PARSE_H
#define RP_UTIL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/* A decimal integer in [min, max]: digits only (no sign, no space, no
 * hex), so "-1" is refused rather than wrapped to a huge count. On error
 * `d` says "'TEXT' is not a number from MIN to MAX". */
int rp_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, struct rp_diag *d);
int rp_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out, struct rp_diag *d);

/* A duration: "500ms", "30s", "1.5s", "2m" (or "2min"), "1h", or plain
 * seconds ("120"), in [min_ms, max_ms]. On error `d` gives the accepted
 * forms and the range. */
int rp_parse_duration_ms(const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *out,
			 struct rp_diag *d);

/* "30 s", "2 min", "1 h", "1500 ms": a duration as people write it, for
 * messages and --help defaults. Returns buf. */
const char *rp_format_duration_ms(uint64_t ms, char *buf, unsigned size);

#endif
