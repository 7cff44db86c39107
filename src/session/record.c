#include "session/record.h"

#include <string.h>

static const char *const result_names[] = {
	[RP_RESULT_PENDING] = "PENDING",
	[RP_RESULT_OK] = "OK",
	[RP_RESULT_SERVED] = "SERVED",
	[RP_RESULT_FAILED] = "FAILED",
	[RP_RESULT_TIMEOUT] = "TIMEOUT",
	[RP_RESULT_LEFT] = "LEFT",
	[RP_RESULT_UNVERIFIED] = "UNVERIFIED",
};

static const char *const phase_names[RP_PHASE_COUNT] = {
	[RP_PHASE_STAGE1] = "stage1",
	[RP_PHASE_REENUM] = "reenum",
	[RP_PHASE_SERVE] = "serve",
	[RP_PHASE_VERIFY] = "verify",
};

const char *rp_board_result_name(enum rp_board_result r)
{
	if ((unsigned)r >= sizeof(result_names) / sizeof(result_names[0]))
		return "UNKNOWN";
	return result_names[r];
}

enum rp_board_result rp_board_result_from_name(const char *name)
{
	for (size_t r = 0; r < sizeof(result_names) / sizeof(result_names[0]); r++)
		if (result_names[r] && !strcmp(result_names[r], name))
			return (enum rp_board_result)r;
	return RP_RESULT_PENDING;
}

const char *rp_phase_name(enum rp_phase p)
{
	if ((unsigned)p >= RP_PHASE_COUNT)
		return "unknown";
	return phase_names[p];
}

const char *rp_board_record_meta(const struct rp_board_record *r, const char *key)
{
	unsigned n = r->n_meta < RP_META_MAX ? r->n_meta : RP_META_MAX;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(r->meta[i].key, key))
			return r->meta[i].value;
	return NULL;
}
