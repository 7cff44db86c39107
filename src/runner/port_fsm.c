/* The table of port_fsm.h. Written out in full, one row per state and one
 * entry per event, so that every pair is a visible decision (and a test
 * checks none is missing) rather than a default of a switch. */
#include "runner/port_fsm.h"

#define KEEP(s) { s, 0 }
#define TO(s, a) { s, a }

/* A row where nothing but the worker finishing changes the state. */
#define SETTLED(s)                                                                    \
	{                                                                             \
		[PE_ROM_ARRIVED] = KEEP(s), [PE_SECOND_ARRIVED] = KEEP(s),            \
		[PE_OTHER_ARRIVED] = KEEP(s), [PE_FIRST_LEFT] = KEEP(s),              \
		[PE_SECOND_LEFT] = KEEP(s), [PE_STAGE1_OK] = KEEP(s),                 \
		[PE_STAGE1_FAILED] = KEEP(s), [PE_DEADLINE] = KEEP(s),                \
		[PE_ABORT] = KEEP(s), [PE_ADOPTED] = KEEP(s),                         \
		[PE_RESTART] = KEEP(s), [PE_WORKER_DONE] = TO(PS_DONE, 0),            \
	}

static const struct port_step table[PS_COUNT][PE_COUNT] = {
	[PS_STAGE1] = {
		[PE_ROM_ARRIVED] = KEEP(PS_STAGE1),
		[PE_SECOND_ARRIVED] = TO(PS_STAGE1_HANDED, PA_CLAIM),
		[PE_OTHER_ARRIVED] = KEEP(PS_STAGE1),
		[PE_FIRST_LEFT] = TO(PS_STAGE1_GONE, 0),
		[PE_SECOND_LEFT] = KEEP(PS_STAGE1),
		[PE_STAGE1_OK] = TO(PS_REENUM, 0),
		[PE_STAGE1_FAILED] = TO(PS_ENDING, 0),
		[PE_DEADLINE] = KEEP(PS_STAGE1),
		[PE_ABORT] = KEEP(PS_STAGE1), /* the session's cancel hook ends stage 1 */
		[PE_ADOPTED] = KEEP(PS_STAGE1),
		[PE_RESTART] = KEEP(PS_STAGE1),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_STAGE1_GONE] = {
		[PE_ROM_ARRIVED] = KEEP(PS_STAGE1_GONE),
		[PE_SECOND_ARRIVED] = TO(PS_STAGE1_HANDED, PA_CLAIM),
		[PE_OTHER_ARRIVED] = KEEP(PS_STAGE1_GONE),
		[PE_FIRST_LEFT] = KEEP(PS_STAGE1_GONE),
		[PE_SECOND_LEFT] = KEEP(PS_STAGE1_GONE),
		[PE_STAGE1_OK] = TO(PS_REENUM_GONE, 0),
		[PE_STAGE1_FAILED] = TO(PS_ENDING, 0),
		[PE_DEADLINE] = KEEP(PS_STAGE1_GONE),
		[PE_ABORT] = KEEP(PS_STAGE1_GONE),
		[PE_ADOPTED] = KEEP(PS_STAGE1_GONE),
		[PE_RESTART] = KEEP(PS_STAGE1_GONE),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_STAGE1_HANDED] = {
		[PE_ROM_ARRIVED] = KEEP(PS_STAGE1_HANDED),
		[PE_SECOND_ARRIVED] = KEEP(PS_STAGE1_HANDED),
		[PE_OTHER_ARRIVED] = KEEP(PS_STAGE1_HANDED),
		[PE_FIRST_LEFT] = KEEP(PS_STAGE1_HANDED),
		/* Opening it fails and says the board left. */
		[PE_SECOND_LEFT] = KEEP(PS_STAGE1_HANDED),
		[PE_STAGE1_OK] = TO(PS_SERVE, 0),
		[PE_STAGE1_FAILED] = TO(PS_ORPHAN, 0),
		[PE_DEADLINE] = KEEP(PS_STAGE1_HANDED),
		[PE_ABORT] = KEEP(PS_STAGE1_HANDED),
		[PE_ADOPTED] = KEEP(PS_STAGE1_HANDED),
		[PE_RESTART] = KEEP(PS_STAGE1_HANDED),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_REENUM] = {
		/* Claimed: stage 1 runs again on it (C16, C17). */
		[PE_ROM_ARRIVED] = TO(PS_ROM_BACK, PA_CLAIM | PA_WAKE),
		[PE_SECOND_ARRIVED] = TO(PS_SERVE, PA_CLAIM | PA_WAKE),
		[PE_OTHER_ARRIVED] = KEEP(PS_REENUM),
		[PE_FIRST_LEFT] = TO(PS_REENUM_GONE, 0),
		[PE_SECOND_LEFT] = KEEP(PS_REENUM),
		[PE_STAGE1_OK] = KEEP(PS_REENUM),
		[PE_STAGE1_FAILED] = KEEP(PS_REENUM),
		[PE_DEADLINE] = TO(PS_ENDING, 0),
		[PE_ABORT] = TO(PS_ABORTED, PA_WAKE),
		[PE_ADOPTED] = KEEP(PS_REENUM),
		[PE_RESTART] = TO(PS_STAGE1, 0),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_REENUM_GONE] = {
		[PE_ROM_ARRIVED] = TO(PS_ROM_BACK, PA_CLAIM | PA_WAKE),
		[PE_SECOND_ARRIVED] = TO(PS_SERVE, PA_CLAIM | PA_WAKE),
		[PE_OTHER_ARRIVED] = KEEP(PS_REENUM_GONE),
		[PE_FIRST_LEFT] = KEEP(PS_REENUM_GONE),
		[PE_SECOND_LEFT] = KEEP(PS_REENUM_GONE),
		[PE_STAGE1_OK] = KEEP(PS_REENUM_GONE),
		[PE_STAGE1_FAILED] = KEEP(PS_REENUM_GONE),
		[PE_DEADLINE] = TO(PS_ENDING, 0),
		[PE_ABORT] = TO(PS_ABORTED, PA_WAKE),
		[PE_ADOPTED] = KEEP(PS_REENUM_GONE),
		[PE_RESTART] = KEEP(PS_REENUM_GONE),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_SERVE] = SETTLED(PS_SERVE),
	[PS_ROM_BACK] = {
		[PE_ROM_ARRIVED] = KEEP(PS_ROM_BACK),
		[PE_SECOND_ARRIVED] = KEEP(PS_ROM_BACK),
		[PE_OTHER_ARRIVED] = KEEP(PS_ROM_BACK),
		[PE_FIRST_LEFT] = KEEP(PS_ROM_BACK),
		/* The claimed ROM left: opening it for stage 1 says so. */
		[PE_SECOND_LEFT] = KEEP(PS_ROM_BACK),
		[PE_STAGE1_OK] = KEEP(PS_ROM_BACK),
		[PE_STAGE1_FAILED] = KEEP(PS_ROM_BACK),
		[PE_DEADLINE] = KEEP(PS_ROM_BACK),
		[PE_ABORT] = KEEP(PS_ROM_BACK),
		[PE_ADOPTED] = KEEP(PS_ROM_BACK),
		[PE_RESTART] = TO(PS_STAGE1, 0),
		[PE_WORKER_DONE] = TO(PS_DONE, 0),
	},
	[PS_ABORTED] = SETTLED(PS_ABORTED),
	[PS_ENDING] = SETTLED(PS_ENDING),
	[PS_ORPHAN] = {
		[PE_ROM_ARRIVED] = KEEP(PS_ORPHAN),
		[PE_SECOND_ARRIVED] = KEEP(PS_ORPHAN),
		[PE_OTHER_ARRIVED] = KEEP(PS_ORPHAN),
		[PE_FIRST_LEFT] = KEEP(PS_ORPHAN),
		/* Gone before anyone could serve it: nothing to adopt. */
		[PE_SECOND_LEFT] = TO(PS_ENDING, 0),
		[PE_STAGE1_OK] = KEEP(PS_ORPHAN),
		[PE_STAGE1_FAILED] = KEEP(PS_ORPHAN),
		[PE_DEADLINE] = KEEP(PS_ORPHAN),
		[PE_ABORT] = KEEP(PS_ORPHAN),
		/* Not before the failed attempt is reported: see port_fsm.h. */
		[PE_ADOPTED] = KEEP(PS_ORPHAN),
		[PE_RESTART] = KEEP(PS_ORPHAN),
		[PE_WORKER_DONE] = TO(PS_ORPHAN_DONE, 0),
	},
	[PS_ORPHAN_DONE] = {
		[PE_ROM_ARRIVED] = KEEP(PS_ORPHAN_DONE),
		[PE_SECOND_ARRIVED] = KEEP(PS_ORPHAN_DONE),
		[PE_OTHER_ARRIVED] = KEEP(PS_ORPHAN_DONE),
		[PE_FIRST_LEFT] = KEEP(PS_ORPHAN_DONE),
		[PE_SECOND_LEFT] = TO(PS_DONE, 0),
		[PE_STAGE1_OK] = KEEP(PS_ORPHAN_DONE),
		[PE_STAGE1_FAILED] = KEEP(PS_ORPHAN_DONE),
		[PE_DEADLINE] = KEEP(PS_ORPHAN_DONE),
		[PE_ABORT] = KEEP(PS_ORPHAN_DONE),
		[PE_ADOPTED] = TO(PS_DONE, 0),
		[PE_RESTART] = KEEP(PS_ORPHAN_DONE),
		[PE_WORKER_DONE] = KEEP(PS_ORPHAN_DONE),
	},
	[PS_DONE] = {
		[PE_ROM_ARRIVED] = KEEP(PS_DONE),
		[PE_SECOND_ARRIVED] = KEEP(PS_DONE),
		[PE_OTHER_ARRIVED] = KEEP(PS_DONE),
		[PE_FIRST_LEFT] = KEEP(PS_DONE),
		[PE_SECOND_LEFT] = KEEP(PS_DONE),
		[PE_STAGE1_OK] = KEEP(PS_DONE),
		[PE_STAGE1_FAILED] = KEEP(PS_DONE),
		[PE_DEADLINE] = KEEP(PS_DONE),
		[PE_ABORT] = KEEP(PS_DONE),
		[PE_ADOPTED] = KEEP(PS_DONE),
		[PE_RESTART] = KEEP(PS_DONE),
		[PE_WORKER_DONE] = KEEP(PS_DONE),
	},
};

struct port_step port_fsm_step(enum port_state s, enum port_event e)
{
	return table[s][e];
}

bool port_fsm_accepting(enum port_state s)
{
	return table[s][PE_SECOND_ARRIVED].actions & PA_CLAIM;
}

bool port_fsm_waiting(enum port_state s)
{
	return s == PS_REENUM || s == PS_REENUM_GONE;
}

const char *port_fsm_state_name(enum port_state s)
{
	static const char *const names[PS_COUNT] = {
		[PS_STAGE1] = "STAGE1",
		[PS_STAGE1_GONE] = "STAGE1_GONE",
		[PS_STAGE1_HANDED] = "STAGE1_HANDED",
		[PS_REENUM] = "REENUM",
		[PS_REENUM_GONE] = "REENUM_GONE",
		[PS_SERVE] = "SERVE",
		[PS_ROM_BACK] = "ROM_BACK",
		[PS_ABORTED] = "ABORTED",
		[PS_ENDING] = "ENDING",
		[PS_ORPHAN] = "ORPHAN",
		[PS_ORPHAN_DONE] = "ORPHAN_DONE",
		[PS_DONE] = "DONE",
	};
	return (unsigned)s < PS_COUNT && names[s] ? names[s] : "?";
}

const char *port_fsm_event_name(enum port_event e)
{
	static const char *const names[PE_COUNT] = {
		[PE_ROM_ARRIVED] = "ROM_ARRIVED",
		[PE_SECOND_ARRIVED] = "SECOND_ARRIVED",
		[PE_OTHER_ARRIVED] = "OTHER_ARRIVED",
		[PE_FIRST_LEFT] = "FIRST_LEFT",
		[PE_SECOND_LEFT] = "SECOND_LEFT",
		[PE_STAGE1_OK] = "STAGE1_OK",
		[PE_STAGE1_FAILED] = "STAGE1_FAILED",
		[PE_DEADLINE] = "DEADLINE",
		[PE_ABORT] = "ABORT",
		[PE_ADOPTED] = "ADOPTED",
		[PE_RESTART] = "RESTART",
		[PE_WORKER_DONE] = "WORKER_DONE",
	};
	return (unsigned)e < PE_COUNT && names[e] ? names[e] : "?";
}
