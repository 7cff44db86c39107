/* What `rpiprov station` shows while it runs. The model follows runner
 * events; the CLI decides where the text goes:
 *  - a terminal gets a table redrawn in place (one row per port: phase,
 *    progress bar, serial, elapsed, last result, the reason of a failure
 *    on detail lines; then a totals line), built with ANSI cursor
 *    movement by rp_liveview_render, never taller than the terminal;
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
	unsigned unverified; /* written, not confirmed: in neither ok nor failed */
	/* Measured from finished attempts (station/rate.h); none yet when
	 * !rate_known. */
	bool rate_known;
	double boards_per_hour;
	unsigned boards_in_window;
};

struct rp_liveview_frame {
	unsigned width, height; /* the terminal's; height 0: no limit */
	bool colour;            /* FAILED in red, OK in green */
	/* Records not yet in every sink (the recorder's backlog) and the age
	 * of the oldest: shown on the totals line when there are any. */
	uint64_t records_pending;
	int64_t oldest_pending_ms;
};

struct rp_liveview *rp_liveview_new(void);
void rp_liveview_free(struct rp_liveview *lv);

/* Feed one runner event; now_ms is rp_now_ms(). */
void rp_liveview_event(struct rp_liveview *lv, const struct rp_runner_event *ev, uint64_t now_ms);
void rp_liveview_totals(struct rp_liveview *lv, uint64_t now_ms, struct rp_liveview_totals *t);
/* A line under the totals ("stopping: ..."); NULL or "" removes it. */
void rp_liveview_set_status(struct rp_liveview *lv, const char *text);

/* "PORT: reason" of the last device ignored ("" if none), for the summary. */
void rp_liveview_last_ignored(struct rp_liveview *lv, char *buf, size_t cap);

/* The table as terminal output: moves the cursor back over the previous
 * frame (if any), redraws it with every line cut to the width so nothing
 * wraps, and erases what is below. When the rows do not fit the height,
 * boards in flight come first, then failures, then the rest, and one line
 * says how many are left out; the totals stay visible. Returns a
 * malloc'ed string (NULL when out of memory) and its length. */
char *rp_liveview_render(struct rp_liveview *lv, uint64_t now_ms, const struct rp_liveview_frame *f,
			 size_t *len);

/* One line (with '\n') for an event in plain mode, prefixed with the
 * wall-clock time unless wall_ms is RP_LIVEVIEW_NO_TIME (journald stamps
 * its own). Returns 0 for events not worth a line (progress). */
#define RP_LIVEVIEW_NO_TIME INT64_MIN
size_t rp_liveview_format_line(const struct rp_runner_event *ev, int64_t wall_ms, char *buf,
			       size_t cap);

#endif
