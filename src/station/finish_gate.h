/* Holds each board's "finished" event back until its record is durable
 * (#12: every record is committed locally, with fsync, before the board
 * is reported). The station hands runner events through the gate: a
 * FINISHED event is copied and held; the recorder's on_durable releases
 * it to the real event callback. Every event reaches that callback under
 * one lock, so a released event never overlaps a runner event. */
#ifndef RP_STATION_FINISH_GATE_H
#define RP_STATION_FINISH_GATE_H

#include <stdbool.h>

#include "runner/runner.h"

struct rp_finish_gate;

/* fn may be NULL (events are then only tracked). NULL: out of memory. */
struct rp_finish_gate *rp_finish_gate_new(rp_runner_event_fn fn, void *ctx);
/* A runner event: FINISHED ones with a record are held, the rest pass. */
void rp_finish_gate_event(struct rp_finish_gate *g, const struct rp_runner_event *ev);
/* rec (by attempt id) is durable, or will never be: its event goes on. */
void rp_finish_gate_release(struct rp_finish_gate *g, const struct rp_board_record *rec);
/* Releases whatever is still held (nothing should be), then frees. */
void rp_finish_gate_free(struct rp_finish_gate *g);

#endif
