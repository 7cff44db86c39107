/* The table of src/runner/port_fsm.h on its own: every state x event pair
 * has a defined outcome, the invariants the runner relies on hold for the
 * whole table, and the scenarios of test-runner.c walk through it as the
 * header documents. */
#include <stdio.h>

#include "runner/port_fsm.h"
#include "testlib.h"

#define FOR_PAIRS(s, e)                                                         \
	for (enum port_state s = PS_STAGE1; s < PS_COUNT; s++)                \
		for (enum port_event e = 0; e < PE_COUNT; e++)

static void fail_pair(enum port_state s, enum port_event e, const char *why)
{
	fprintf(stderr, "  %s x %s: %s\n", port_fsm_state_name(s), port_fsm_event_name(e), why);
	test_failures++;
}

/* A missing initializer would read as state 0, which is no state. */
static void test_every_pair_defined(void)
{
	unsigned pairs = 0;

	FOR_PAIRS(s, e) {
		struct port_step st = port_fsm_step(s, e);
		pairs++;
		if (st.next < PS_STAGE1 || st.next >= PS_COUNT)
			fail_pair(s, e, "no next state");
		if (st.actions & ~(unsigned)(PA_CLAIM | PA_WAKE))
			fail_pair(s, e, "unknown action bits");
	}
	CHECK_EQ_INT(pairs, (PS_COUNT - 1) * PE_COUNT);
	for (enum port_state s = PS_STAGE1; s < PS_COUNT; s++)
		CHECK(port_fsm_state_name(s)[0] != '?');
	for (enum port_event e = 0; e < PE_COUNT; e++)
		CHECK(port_fsm_event_name(e)[0] != '?');
}

/* Only a second stage of the same kind is ever claimed, and only by an
 * accepting state, except the ROM that comes back during the wait, which
 * is claimed for stage 1 again (C16, C17); the worker is woken only out of
 * a wait, and only stage 1 failing with a second stage in hand releases it. */
static void test_actions_where_allowed(void)
{
	FOR_PAIRS(s, e) {
		struct port_step st = port_fsm_step(s, e);
		bool rom_back = e == PE_ROM_ARRIVED && port_fsm_waiting(s) && st.next == PS_ROM_BACK;
		if ((st.actions & PA_CLAIM) && e != PE_SECOND_ARRIVED && !rom_back)
			fail_pair(s, e, "claims a device that is not a second stage of its kind");
		if ((st.actions & PA_CLAIM) && !port_fsm_accepting(s))
			fail_pair(s, e, "claims while not accepting");
		if ((st.actions & PA_WAKE) && !port_fsm_waiting(s))
			fail_pair(s, e, "wakes a worker that does not wait");
		if ((st.actions & PA_WAKE) && port_fsm_waiting(st.next))
			fail_pair(s, e, "wakes the worker into the same wait");
		if (e == PE_OTHER_ARRIVED && (st.next != s || st.actions))
			fail_pair(s, e, "another kind of device changed the attempt");
	}
	CHECK(port_fsm_accepting(PS_STAGE1));
	CHECK(port_fsm_accepting(PS_STAGE1_GONE));
	CHECK(port_fsm_accepting(PS_REENUM));
	CHECK(port_fsm_accepting(PS_REENUM_GONE));
	CHECK(!port_fsm_accepting(PS_STAGE1_HANDED));
	CHECK(!port_fsm_accepting(PS_SERVE));
	CHECK(!port_fsm_accepting(PS_ENDING));
	CHECK(!port_fsm_accepting(PS_ORPHAN));
	CHECK(!port_fsm_accepting(PS_DONE));
}

/* Every event that ends a wait either hands the second stage over or
 * says why not, and wakes the worker unless the worker fed it itself. */
static void test_waits_end(void)
{
	for (enum port_state s = PS_REENUM; s <= PS_REENUM_GONE; s++) {
		CHECK(port_fsm_waiting(s));
		CHECK_EQ_INT(port_fsm_step(s, PE_SECOND_ARRIVED).next, PS_SERVE);
		CHECK_EQ_INT(port_fsm_step(s, PE_ROM_ARRIVED).next, PS_ROM_BACK);
		CHECK_EQ_INT(port_fsm_step(s, PE_ABORT).next, PS_ABORTED);
		CHECK_EQ_INT(port_fsm_step(s, PE_DEADLINE).next, PS_ENDING);
		CHECK_EQ_INT(port_fsm_step(s, PE_DEADLINE).actions, 0);
	}
	FOR_PAIRS(s, e) {
		struct port_step st = port_fsm_step(s, e);
		bool by_worker = e == PE_DEADLINE || e == PE_WORKER_DONE || e == PE_RESTART;
		if (port_fsm_waiting(s) && !port_fsm_waiting(st.next) && !by_worker &&
		    !(st.actions & PA_WAKE))
			fail_pair(s, e, "ends the wait without waking the worker");
	}
}

/* The worker finishing always leads to DONE (joined), through
 * ORPHAN_DONE when its released second stage is not adopted yet; DONE
 * never leaves. */
static void test_done(void)
{
	for (enum port_state s = PS_STAGE1; s < PS_COUNT; s++) {
		enum port_state n = port_fsm_step(s, PE_WORKER_DONE).next;
		if (s == PS_ORPHAN || s == PS_ORPHAN_DONE)
			CHECK_EQ_INT(n, PS_ORPHAN_DONE);
		else
			CHECK_EQ_INT(n, PS_DONE);
	}
	for (enum port_event e = 0; e < PE_COUNT; e++) {
		CHECK_EQ_INT(port_fsm_step(PS_DONE, e).next, PS_DONE);
		CHECK_EQ_INT(port_fsm_step(PS_DONE, e).actions, 0);
	}
	CHECK_EQ_INT(port_fsm_step(PS_ORPHAN_DONE, PE_ADOPTED).next, PS_DONE);
	CHECK_EQ_INT(port_fsm_step(PS_ORPHAN_DONE, PE_SECOND_LEFT).next, PS_DONE);
}

/* Worker events arriving in a state the worker has already left (a
 * late or repeated one) change nothing: the first decision stands. */
static void test_stale_worker_events(void)
{
	static const enum port_state settled[] = { PS_SERVE, PS_ROM_BACK, PS_ABORTED, PS_ENDING };
	for (size_t i = 0; i < sizeof(settled) / sizeof(settled[0]); i++) {
		enum port_state s = settled[i];
		for (enum port_event e = 0; e < PE_COUNT; e++) {
			struct port_step st = port_fsm_step(s, e);
			if (e == PE_WORKER_DONE || (s == PS_ROM_BACK && e == PE_RESTART))
				continue;
			if (st.next != s || st.actions)
				fail_pair(s, e, "a settled attempt changed");
		}
	}
	/* The hand-off wins over a deadline fed after it, and vice versa. */
	CHECK_EQ_INT(port_fsm_step(PS_SERVE, PE_DEADLINE).next, PS_SERVE);
	CHECK_EQ_INT(port_fsm_step(PS_ENDING, PE_SECOND_ARRIVED).actions & PA_CLAIM, 0);
}

static enum port_state walk(enum port_state s, const enum port_event *ev, size_t n,
			    unsigned *actions)
{
	*actions = 0;
	for (size_t i = 0; i < n; i++) {
		struct port_step st = port_fsm_step(s, ev[i]);
		*actions |= st.actions;
		s = (enum port_state)st.next;
	}
	return s;
}

#define WALK(s, acts, ...)                                                              \
	walk((s), (const enum port_event[]){ __VA_ARGS__ },                           \
	     sizeof((const enum port_event[]){ __VA_ARGS__ }) / sizeof(enum port_event), (acts))

/* The runner's scenarios, event by event. */
static void test_scenarios(void)
{
	unsigned a;

	/* Ordinary hand-off: the ROM leaves, the second stage arrives. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_STAGE1_OK, PE_FIRST_LEFT, PE_SECOND_ARRIVED),
		     PS_SERVE);
	CHECK_EQ_INT(a, PA_CLAIM | PA_WAKE);
	/* The LEFT and the second stage come before stage 1 has its answer. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_FIRST_LEFT, PE_SECOND_ARRIVED, PE_STAGE1_OK),
		     PS_SERVE);
	CHECK_EQ_INT(a, PA_CLAIM);
	/* Late second stage: the deadline came first; the arrival is not claimed. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_STAGE1_OK, PE_DEADLINE, PE_SECOND_ARRIVED), PS_ENDING);
	CHECK_EQ_INT(a, 0);
	/* Second stage after a failed stage 1: not claimed (a fresh attempt). */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_STAGE1_FAILED, PE_SECOND_ARRIVED), PS_ENDING);
	CHECK_EQ_INT(a, 0);
	/* Handed over, then stage 1 failed: released, adopted once the
	 * failed attempt is reported, joined. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_SECOND_ARRIVED, PE_STAGE1_FAILED), PS_ORPHAN);
	CHECK_EQ_INT(a, PA_CLAIM);
	CHECK_EQ_INT(WALK(PS_ORPHAN, &a, PE_ADOPTED), PS_ORPHAN);
	CHECK_EQ_INT(WALK(PS_ORPHAN, &a, PE_WORKER_DONE, PE_ADOPTED), PS_DONE);
	/* Released but gone before it was adopted. */
	CHECK_EQ_INT(WALK(PS_ORPHAN, &a, PE_SECOND_LEFT, PE_WORKER_DONE), PS_DONE);
	/* Another kind of board on the port, then the wait runs out, the
	 * ROM having left: a "left the bus" failure. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_FIRST_LEFT, PE_OTHER_ARRIVED, PE_STAGE1_OK),
		     PS_REENUM_GONE);
	CHECK_EQ_INT(WALK(PS_REENUM_GONE, &a, PE_DEADLINE), PS_ENDING);
	/* The board reset into its ROM (C16, C17): the ROM is claimed and
	 * stage 1 runs again on it; the second stage that then comes is
	 * handed over. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_STAGE1_OK, PE_ROM_ARRIVED), PS_ROM_BACK);
	CHECK_EQ_INT(a, PA_CLAIM | PA_WAKE);
	CHECK_EQ_INT(WALK(PS_ROM_BACK, &a, PE_RESTART, PE_STAGE1_OK, PE_SECOND_ARRIVED), PS_SERVE);
	/* The ROM never left after stage 1 (stuck, C13): stage 1 again on it. */
	CHECK_EQ_INT(WALK(PS_REENUM, &a, PE_RESTART), PS_STAGE1);
	/* Once it left, there is nothing to restart on. */
	CHECK_EQ_INT(WALK(PS_REENUM_GONE, &a, PE_RESTART), PS_REENUM_GONE);
	/* Abort during stage 1 waits for the session; during the wait it ends it. */
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_ABORT), PS_STAGE1);
	CHECK_EQ_INT(WALK(PS_STAGE1, &a, PE_STAGE1_OK, PE_ABORT), PS_ABORTED);
	CHECK_EQ_INT(a, PA_WAKE);
	/* A board that arrived as a second stage serves whatever else happens. */
	CHECK_EQ_INT(WALK(PS_SERVE, &a, PE_SECOND_ARRIVED, PE_ROM_ARRIVED, PE_FIRST_LEFT, PE_ABORT),
		     PS_SERVE);
	CHECK_EQ_INT(a, 0);
}

int main(void)
{
	RUN(test_every_pair_defined());
	RUN(test_actions_where_allowed());
	RUN(test_waits_end());
	RUN(test_done());
	RUN(test_stale_worker_events());
	RUN(test_scenarios());
	return test_result();
}
