/* "Did you mean ...?": the known name nearest to a mistyped one, as git
 * suggests a command. */
#ifndef RP_UTIL_SUGGEST_H
#define RP_UTIL_SUGGEST_H

#include <stddef.h>

/* The name in names[0..n) nearest to word (case-insensitive edit
 * distance, a swap of two neighbours counting as one edit), or NULL when
 * none is near enough to be what was meant: at most 1 edit for words of
 * up to 4 letters, 2 for longer ones, or word a prefix of exactly one name. */
const char *rp_suggest(const char *word, const char *const *names, size_t n);

#endif
