#include "records/sink.h"

#include <stdio.h>
#include <string.h>

void rp_sink_set_name(struct rp_sink *s, const char *kind, const char *target)
{
	snprintf(s->name, sizeof(s->name), "%s %s", kind, target);
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
