/* What the board commands (flash, boot, station) print while boards are
 * in flight goes through this queue to one output thread, so that a
 * stdout nobody reads (a full pipe, a terminal paused with Ctrl-S) never
 * holds up a board: the runner's event callback runs with a lock every
 * worker needs between transfers, and must only copy and return.
 *
 * Memory stays bounded while the output is stuck: progress lines are
 * dropped first, then other event lines; what a run is for (a finished
 * board's line, warnings) is never dropped. Records (report, database,
 * metadata files) are not written here but by the recorder
 * (records/recorder.h). */
#ifndef RP_CLI_OUT_QUEUE_H
#define RP_CLI_OUT_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Bytes queued beyond which new lines of a kind are dropped. */
#define CLI_OUTQ_PROGRESS_LIMIT (64u * 1024u)
#define CLI_OUTQ_EVENT_LIMIT (1024u * 1024u)

enum cli_out_stream { CLI_OUT_STDOUT, CLI_OUT_STDERR };

enum cli_out_kind {
	CLI_OUT_PROGRESS, /* dropped once CLI_OUTQ_PROGRESS_LIMIT bytes wait */
	CLI_OUT_EVENT,    /* dropped once CLI_OUTQ_EVENT_LIMIT bytes wait */
	CLI_OUT_KEEP,     /* never dropped */
};

struct cli_out_item;

struct cli_outq {
	pthread_mutex_t lock;    /* the list, the counters */
	pthread_mutex_t io_lock; /* one writer of the streams at a time */
	pthread_cond_t wake;
	pthread_t thread;
	bool started, closing, busy;
	struct cli_out_item *head, *tail;
	size_t bytes;
	unsigned dropped_progress, dropped_events;
	/* A status line on stderr (a terminal), redrawn below whatever is
	 * written: cli_outq_status. */
	char status[512];
	bool status_dirty, status_shown;
};

/* Start the output thread. Should the thread not start, output is
 * written by the caller as before, and the run goes on. */
void cli_outq_start(struct cli_outq *q);
/* Queue len bytes of text as they are. */
void cli_outq_put(struct cli_outq *q, enum cli_out_stream stream, enum cli_out_kind kind,
		  const char *text, size_t len);
/* "rpiprov: <message>\n" on stderr, like cli_info. */
void cli_outq_info(struct cli_outq *q, enum cli_out_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "rpiprov: warning: <message>\n" on stderr, like cli_warn; kept. */
void cli_outq_warn(struct cli_outq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replace the status line: drawn on stderr with "\r" and erased before
 * any other line is written, then drawn again below it. Only for a
 * terminal; "" removes it. Ignored when the output thread did not start. */
void cli_outq_status(struct cli_outq *q, const char *text);
/* True when everything queued so far has been written. */
bool cli_outq_idle(struct cli_outq *q);
/* Write everything still queued, end the thread, and say how many lines
 * were dropped, if any. Blocks as long as stdout does. */
void cli_outq_finish(struct cli_outq *q);

#endif
