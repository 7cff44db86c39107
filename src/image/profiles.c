#include "image/profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/bootconf.h"
#include "image/embedded.h"
#include "util/fileio.h"

size_t rp_profile_count(void)
{
	return rp_embedded_profiles_count;
}

const char *rp_profile_name(size_t i)
{
	return i < rp_embedded_profiles_count ? rp_embedded_profiles[i].name : NULL;
}

static bool is_path(const char *name)
{
	size_t n = strlen(name);
	return strchr(name, '/') || (n >= 5 && !strcmp(name + n - 5, ".conf"));
}

int rp_profile_load(const char *name, uint8_t **text, size_t *len, char *source,
		    size_t source_size, struct rp_diag *d)
{
	*text = NULL;
	*len = 0;
	if (is_path(name)) {
		if (source_size)
			snprintf(source, source_size, "%s", name);
		/* A little over the limit, so the checker can say how big it is. */
		return rp_file_read_all(name, 1u << 20, text, len, d);
	}
	for (size_t i = 0; i < rp_embedded_profiles_count; i++) {
		const struct rp_embedded_text *p = &rp_embedded_profiles[i];
		if (strcmp(p->name, name))
			continue;
		*text = malloc(p->len + 1);
		if (!*text)
			return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
		memcpy(*text, p->text, p->len);
		(*text)[p->len] = 0;
		*len = p->len;
		if (source_size)
			snprintf(source, source_size, "profile %s", name);
		return RP_OK;
	}
	char names[256] = "";
	for (size_t i = 0; i < rp_embedded_profiles_count; i++) {
		size_t u = strlen(names);
		snprintf(names + u, sizeof(names) - u, "%s%s", i ? ", " : "",
			 rp_embedded_profiles[i].name);
	}
	return rp_diag_set(d, RP_ERR_NOT_FOUND,
			   "no profile named '%s' (known: %s; a name with '/' or ending in .conf is read as a file)",
			   name, names);
}
