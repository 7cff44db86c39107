#include "util/suggest.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Names and words longer than this are not compared (no table has them). */
#define MAX_LEN 64

/* Optimal string alignment distance, case-insensitive; > MAX_LEN when a
 * string is too long to compare. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[MAX_LEN + 1][MAX_LEN + 1];

	if (la > MAX_LEN || lb > MAX_LEN)
		return MAX_LEN + 1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

const char *rp_suggest(const char *word, const char *const *names, size_t n)
{
	size_t len = word ? strlen(word) : 0, limit = len <= 4 ? 1 : 2, best_d = (size_t)-1;
	const char *best = NULL, *prefix_of = NULL;
	unsigned prefixes = 0;

	if (!len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t dist = distance(word, names[i]);
		if (dist < best_d) {
			best_d = dist;
			best = names[i];
		}
		if (strlen(names[i]) > len && !strncasecmp(names[i], word, len)) {
			prefixes++;
			prefix_of = names[i];
		}
	}
	if (best && best_d <= limit && strcmp(best, word))
		return best;
	return prefixes == 1 && len >= 2 ? prefix_of : NULL;
}
