/* The hand-off of one board across its USB re-enumeration, as one
 * explicit state machine per attempt (struct board in runner.c). Stage 1
 * talks to the boot ROM; the ROM then leaves and the board comes back on
 * the same port path as the second stage, which the attempt must take
 * over. The event thread (arrivals, departures, abort) and the attempt's
 * worker (stage 1 done, wait over, finished) both drive it, always under
 * the runner's lock; the table decides, the callers only carry out the
 * actions it returns.
 *
 * "Same kind" = same vendor and product as the ROM the attempt started on
 * (the bootcode.bin family may swap 0x2763/0x2764); anything else on the
 * port is OTHER and never the attempt's.
 *
 * States (worker waits in REENUM*; "accepting" = a second stage of the
 * same kind on the port is handed to this attempt):
 *   STAGE1         stage 1 running, ROM still enumerated      accepting
 *   STAGE1_GONE    stage 1 running, ROM already left          accepting
 *   STAGE1_HANDED  stage 1 running, second stage handed over
 *   REENUM         waiting for the second stage                accepting
 *   REENUM_GONE    waiting, the ROM left the bus               accepting
 *   SERVE          the attempt owns a second stage and serves it
 *   ROM_BACK       the wait ended: a ROM came back on the port (reset, or
 *                  the second stage was rejected, C16/C17); it is claimed
 *                  and the worker runs stage 1 on it again (RESTART) while
 *                  the board's deadline and retries allow
 *   ABORTED        the wait ended: the run was aborted
 *   ENDING         the attempt fails (stage 1 failed, wait ran out) or
 *                  its released second stage was dealt with
 *   ORPHAN         stage 1 failed after a second stage was handed over:
 *                  that board did start its second stage, so it needs an
 *                  attempt of its own once this one is reported
 *   ORPHAN_DONE    ORPHAN, and the worker has finished: the event thread
 *                  starts the second stage's attempt (ADOPTED)
 *   DONE           the worker finished; the event thread joins it
 *
 * Events:
 *   ROM_ARRIVED     a boot ROM of the same kind arrived on the port
 *   SECOND_ARRIVED  a second stage of the same kind arrived on the port
 *   OTHER_ARRIVED   a device of another kind arrived on the port
 *   FIRST_LEFT      the device the attempt started on left the bus
 *   SECOND_LEFT     the second stage handed to the attempt left the bus
 *   STAGE1_OK       worker: stage 1 succeeded
 *   STAGE1_FAILED   worker: stage 1 failed (or was aborted)
 *   DEADLINE        worker: re-enumeration timeout or board deadline
 *   ABORT           event thread: rp_runner_abort / stop grace over
 *   ADOPTED         event thread: took the released second stage
 *   RESTART         worker: stage 1 again, on the ROM claimed in ROM_BACK
 *                   or on the ROM that never left after stage 1 (C13)
 *   WORKER_DONE     worker: finished, record reported
 *
 * Table (next state, actions: C = claim the arriving device, W = wake
 * the worker;
 * "-" = no change, no action; a device not claimed gets an attempt of its
 * own or an IGNORED event):
 *
 *               ROM_ARR     SECOND_ARR  OTHER FIRST_LEFT  SECOND_LEFT STAGE1_OK   STAGE1_FAILED DEADLINE ABORT     ADOPTED RESTART WORKER_DONE
 * STAGE1        -           S1_HANDED C -     STAGE1_GONE -           REENUM      ENDING        -        -         -       -       DONE
 * STAGE1_GONE   -           S1_HANDED C -     -           -           REENUM_GONE ENDING        -        -         -       -       DONE
 * STAGE1_HANDED -           -           -     -           -           SERVE       ORPHAN        -        -         -       -       DONE
 * REENUM        ROM_BACK CW SERVE CW    -     REENUM_GONE -           -           -             ENDING   ABORTED W -       STAGE1  DONE
 * REENUM_GONE   ROM_BACK CW SERVE CW    -     -           -           -           -             ENDING   ABORTED W -       -       DONE
 * SERVE         -           -           -     -           -           -           -             -        -         -       -       DONE
 * ROM_BACK      -           -           -     -           -           -           -             -        -         -       STAGE1  DONE
 * ABORTED       -           -           -     -           -           -           -             -        -         -       -       DONE
 * ENDING        -           -           -     -           -           -           -             -        -         -       -       DONE
 * ORPHAN        -           -           -     -           ENDING      -           -             -        -         -       -       ORPHAN_DONE
 * ORPHAN_DONE   -           -           -     -           DONE        -           -             -        -         DONE    -       -
 * DONE          -           -           -     -           -           -           -             -        -         -       -       -
 *
 * Pairs that cannot happen (a worker event from a state its worker has
 * left) are "-" too, so a late or duplicate event never undoes a
 * decision: whichever of the hand-off and the deadline is applied first
 * under the lock wins. A released second stage is adopted only once the
 * failed attempt is reported (ORPHAN_DONE), so records come in the order
 * things happened. A ROM arriving during stage 1 or a second stage of
 * the same kind arriving once one is handed over are not the attempt's
 * (two devices cannot be one board). */
#ifndef RP_RUNNER_PORT_FSM_H
#define RP_RUNNER_PORT_FSM_H

#include <stdbool.h>
#include <stdint.h>

/* 0 is no state, so a pair missing from the table shows as such. */
enum port_state {
	PS_STAGE1 = 1,
	PS_STAGE1_GONE,
	PS_STAGE1_HANDED,
	PS_REENUM,
	PS_REENUM_GONE,
	PS_SERVE,
	PS_ROM_BACK,
	PS_ABORTED,
	PS_ENDING,
	PS_ORPHAN,
	PS_ORPHAN_DONE,
	PS_DONE,
	PS_COUNT
};

enum port_event {
	PE_ROM_ARRIVED,
	PE_SECOND_ARRIVED,
	PE_OTHER_ARRIVED,
	PE_FIRST_LEFT,
	PE_SECOND_LEFT,
	PE_STAGE1_OK,
	PE_STAGE1_FAILED,
	PE_DEADLINE,
	PE_ABORT,
	PE_ADOPTED,
	PE_RESTART,
	PE_WORKER_DONE,
	PE_COUNT
};

enum port_action {
	PA_CLAIM = 1u << 0,  /* the arriving device is this attempt's second stage */
	PA_WAKE = 1u << 1,   /* signal the worker waiting in REENUM* */
};

struct port_step {
	uint8_t next;    /* enum port_state */
	uint8_t actions; /* enum port_action bits */
};

/* The table entry for (s, e); s and e must be in range. */
struct port_step port_fsm_step(enum port_state s, enum port_event e);
/* Whether a second stage of the same kind on the port goes to an attempt
 * in this state (the table claims it). */
bool port_fsm_accepting(enum port_state s);
/* The worker waits for the event thread in these. */
bool port_fsm_waiting(enum port_state s);
/* For tests and messages. */
const char *port_fsm_state_name(enum port_state s);
const char *port_fsm_event_name(enum port_event e);

#endif
