/* PostgreSQL sink: not built yet (issue #12). */
#include "records/sink.h"

int rp_sink_pg_new(const char *conninfo, struct rp_sink **out, struct rp_diag *d)
{
	(void)conninfo;
	*out = NULL;
	return rp_diag_set(d, RP_ERR_UNSUPPORTED, "PostgreSQL records are not supported by this build");
}
