#include "records/sink.h"

#include <stdio.h>

void rp_sink_set_name(struct rp_sink *s, const char *kind, const char *target)
{
	snprintf(s->name, sizeof(s->name), "%s %s", kind, target);
}
