#include "cli/out_queue.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

struct cli_out_item {
	struct cli_out_item *next;
	enum cli_out_stream stream;
	size_t cost;                 /* what it adds to cli_outq.bytes */
	size_t len;
	char text[];
};

static struct cli_out_item *item_new(enum cli_out_stream stream, size_t len)
{
	struct cli_out_item *it;

	if (len > SIZE_MAX - sizeof(*it) - 1)
		return NULL;
	it = malloc(sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	it->next = NULL;
	it->stream = stream;
	it->cost = sizeof(*it) + len;
	it->len = len;
	it->text[len] = '\0';
	return it;
}

/* The only place that writes: the output thread, or the caller when the
 * thread did not start or there was no memory for a copy. */
static void emit(struct cli_outq *q, enum cli_out_stream stream, const char *text, size_t len)
{
	FILE *f = stream == CLI_OUT_STDOUT ? stdout : stderr;

	pthread_mutex_lock(&q->io_lock);
	if (len) {
		fwrite(text, 1, len, f);
		fflush(f);
	}
	pthread_mutex_unlock(&q->io_lock);
}

/* The status line, from the output thread only: erase what is shown, and
 * draw `text` (may be "") in its place. */
static void draw_status(struct cli_outq *q, const char *text, bool was_shown)
{
	pthread_mutex_lock(&q->io_lock);
	if (was_shown)
		fputs("\r\033[K", stderr);
	fputs(text, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&q->io_lock);
}

static void *out_thread(void *arg)
{
	struct cli_outq *q = arg;
	char status[sizeof(q->status)];

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct cli_out_item *it;
		bool shown;
		while (!q->head && !q->status_dirty && !q->closing)
			pthread_cond_wait(&q->wake, &q->lock);
		it = q->head;
		shown = q->status_shown;
		if (!it && q->status_dirty) {
			memcpy(status, q->status, sizeof(status));
			q->status_dirty = false;
			q->status_shown = status[0] != '\0';
			pthread_mutex_unlock(&q->lock);
			draw_status(q, status, shown);
			pthread_mutex_lock(&q->lock);
			continue;
		}
		if (!it)
			break; /* closing, and everything written */
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		q->busy = true;
		memcpy(status, q->status, sizeof(status));
		q->status_dirty = false;
		pthread_mutex_unlock(&q->lock);
		/* A line goes above the status line: erase it, write, draw it again. */
		if (shown)
			draw_status(q, "", true);
		emit(q, it->stream, it->text, it->len);
		if (status[0])
			draw_status(q, status, false);
		pthread_mutex_lock(&q->lock);
		q->status_shown = status[0] != '\0';
		q->busy = false;
		q->bytes -= it->cost;
		free(it);
	}
	if (q->status_shown)
		draw_status(q, "", true);
	q->status_shown = false;
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void cli_outq_status(struct cli_outq *q, const char *text)
{
	if (!q->started)
		return;
	pthread_mutex_lock(&q->lock);
	if (strcmp(q->status, text)) {
		snprintf(q->status, sizeof(q->status), "%s", text);
		q->status_dirty = true;
		pthread_cond_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->lock);
}

void cli_outq_start(struct cli_outq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->io_lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	q->started = pthread_create(&q->thread, NULL, out_thread, q) == 0;
}

/* Takes it: queued, written at once (no thread), or dropped. */
static void push(struct cli_outq *q, struct cli_out_item *it, enum cli_out_kind kind)
{
	size_t limit = kind == CLI_OUT_PROGRESS ? CLI_OUTQ_PROGRESS_LIMIT
		       : kind == CLI_OUT_EVENT  ? CLI_OUTQ_EVENT_LIMIT
						: SIZE_MAX;

	if (!q->started) {
		emit(q, it->stream, it->text, it->len);
		free(it);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (q->bytes > limit || limit - q->bytes < it->cost) {
		if (kind == CLI_OUT_PROGRESS)
			q->dropped_progress++;
		else
			q->dropped_events++;
		pthread_mutex_unlock(&q->lock);
		free(it);
		return;
	}
	q->bytes += it->cost;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

void cli_outq_put(struct cli_outq *q, enum cli_out_stream stream, enum cli_out_kind kind,
		  const char *text, size_t len)
{
	struct cli_out_item *it = item_new(stream, len);

	if (!it) {
		/* No memory for a copy: what must not be lost is written here. */
		if (kind == CLI_OUT_KEEP)
			emit(q, stream, text, len);
		return;
	}
	memcpy(it->text, text, len);
	push(q, it, kind);
}

static void put_vprintf(struct cli_outq *q, enum cli_out_kind kind, const char *prefix,
			const char *fmt, va_list ap)
{
	size_t plen = strlen(prefix);
	struct cli_out_item *it;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	it = item_new(CLI_OUT_STDERR, plen + (size_t)n + 1);
	if (!it) {
		if (kind == CLI_OUT_KEEP) {
			pthread_mutex_lock(&q->io_lock);
			fputs(prefix, stderr);
			vfprintf(stderr, fmt, ap);
			fputc('\n', stderr);
			pthread_mutex_unlock(&q->io_lock);
		}
		return;
	}
	memcpy(it->text, prefix, plen);
	vsnprintf(it->text + plen, (size_t)n + 1, fmt, ap);
	it->text[it->len - 1] = '\n';
	push(q, it, kind);
}

void cli_outq_info(struct cli_outq *q, enum cli_out_kind kind, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%srpiprov: ", cli_journal_prefix(STDERR_FILENO, CLI_PRIO_INFO));
	va_start(ap, fmt);
	put_vprintf(q, kind, prefix, fmt, ap);
	va_end(ap);
}

void cli_outq_warn(struct cli_outq *q, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%srpiprov: warning: ",
		 cli_journal_prefix(STDERR_FILENO, CLI_PRIO_WARNING));
	va_start(ap, fmt);
	put_vprintf(q, CLI_OUT_KEEP, prefix, fmt, ap);
	va_end(ap);
}

bool cli_outq_idle(struct cli_outq *q)
{
	bool idle;

	pthread_mutex_lock(&q->lock);
	idle = !q->head && !q->busy;
	pthread_mutex_unlock(&q->lock);
	return idle;
}

void cli_outq_finish(struct cli_outq *q)
{
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->closing = true;
		pthread_cond_signal(&q->wake);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
		q->started = false;
	}
	if (q->dropped_progress || q->dropped_events) {
		char progress[64] = "", other[64] = "";
		if (q->dropped_progress)
			snprintf(progress, sizeof(progress), "%u progress line%s", q->dropped_progress,
				 q->dropped_progress == 1 ? "" : "s");
		if (q->dropped_events)
			snprintf(other, sizeof(other), "%u %sline%s", q->dropped_events,
				 q->dropped_progress ? "other " : "", q->dropped_events == 1 ? "" : "s");
		cli_warn("output could not keep up: %s%s%s left out", progress,
			 *progress && *other ? " and " : "", other);
	}
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->io_lock);
	pthread_mutex_destroy(&q->lock);
}
