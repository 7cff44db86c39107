/* What `rpiprov station` shows while it runs. The model follows runner
 * events; the CLI decides where the text goes:
 *  - a terminal gets a table redrawn in place (one row per port: phase,
 *    progress bar, serial, elapsed, last result; then a totals line),
 *    built with ANSI cursor movement by rp_liveview_render;
 *  - anything else (journald, a file) gets one timestamped line per event
 *    from rp_liveview_format_line.
 * The model locks internally: events may come from the runner's thread
 * while another thread renders. */
#ifndef RP_STATION_LIVEVIEW_H
#define RP_STATION_LIVEVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner/runner.h"

struct rp_liveview;

struct rp_liveview_totals {
	unsigned ok, failed, in_progress, ignored, finished;
	double boards_per_hour; /* ok boards per hour since the first board started; 0 in the first 2 s */
};

struct rp_liveview *rp_liveview_new(void);
void rp_liveview_free(struct rp_liveview *lv);

/* Feed one runner event; now_ms is rp_now_ms(). */
void rp_liveview_event(struct rp_liveview *lv, const struct rp_runner_event *ev, uint64_t now_ms);
void rp_liveview_totals(struct rp_liveview *lv, uint64_t now_ms, struct rp_liveview_totals *t);
/* A line under the totals ("stopping: ..."); NULL or "" removes it. */
void rp_liveview_set_status(struct rp_liveview *lv, const char *text);

/* The table as terminal output: moves the cursor back over the previous
 * frame (if any) and redraws every row, each cut to `width` columns so
 * nothing wraps. Returns a malloc'ed string (NULL when out of memory) and
 * its length. */
char *rp_liveview_render(struct rp_liveview *lv, uint64_t now_ms, unsigned width, size_t *len);

/* One line (with '\n') for an event in plain mode, prefixed with the
 * wall-clock time. Returns 0 for events not worth a line (progress). */
size_t rp_liveview_format_line(const struct rp_runner_event *ev, int64_t wall_ms, char *buf,
			       size_t cap);

#endif
