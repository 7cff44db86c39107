#include "records/sink.h"

#include "records/pg_conn.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* target's absolute path with symlinks, "." and ".." resolved; a file not
 * made yet by its directory. As typed when even that cannot be resolved. */
static void resolve(const char *target, char *out, size_t cap)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	const char *base;
	size_t len = strlen(target);

	if (realpath(target, buf) && (size_t)snprintf(out, cap, "%s", buf) < cap)
		return;
	while (len > 1 && target[len - 1] == '/')
		len--;
	if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)len, target) >= sizeof(dir)) {
		snprintf(out, cap, "%s", target);
		return;
	}
	base = strrchr(dir, '/');
	if (!base) {
		base = dir;
		if (realpath(".", buf) &&
		    (size_t)snprintf(out, cap, "%s/%s", strcmp(buf, "/") ? buf : "", base) < cap)
			return;
	} else {
		char *slash = (char *)base++;
		*slash = '\0';
		if (realpath(dir[0] ? dir : "/", buf) &&
		    (size_t)snprintf(out, cap, "%s/%s", strcmp(buf, "/") ? buf : "", base) < cap)
			return;
	}
	snprintf(out, cap, "%s", target);
}

void rp_sink_set_name(struct rp_sink *s, const char *kind, const char *target)
{
	char path[PATH_MAX];

	snprintf(s->name, sizeof(s->name), "%s %s", kind, target);
	resolve(target, path, sizeof(path));
	if ((size_t)snprintf(s->key, sizeof(s->key), "%s %s", kind, path) >= sizeof(s->key))
		s->key[0] = '\0'; /* the name, then */
}

bool rp_sink_target_is_postgres(const char *t)
{
	if (!t)
		return false;
	return !strncmp(t, "postgresql://", 13) || !strncmp(t, "postgres://", 11) ||
	       strstr(t, "dbname=") || strstr(t, "service=");
}

int rp_sink_database_new(const char *target, struct rp_sink **out, struct rp_diag *d)
{
	return rp_sink_target_is_postgres(target) ? rp_sink_pg_new(target, out, d)
						   : rp_sink_sqlite_new(target, out, d);
}

void rp_sink_target_display(const char *target, char *buf, size_t cap)
{
	struct rp_diag d;

	if (!rp_sink_target_is_postgres(target)) {
		snprintf(buf, cap, "%s", target ? target : "");
		return;
	}
	rp_diag_clear(&d);
	if (rp_pg_conninfo_check(target, buf, cap, NULL, 0, &d) < 0)
		snprintf(buf, cap, "a PostgreSQL connection string (not shown)");
}
