#include "station/liveview.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/rate.h"
#include "util/port_path.h"
#include "util/timefmt.h"

#define BAR_WIDTH 20
#define ISO_PREFIX 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ " */
#define MAX_ROWS 512 /* more ports than any hub tree a station would have */

struct row {
	char port[RP_PORT_PATH_MAX];
	char serial[RP_SERIAL_MAX];
	bool busy;
	bool has_phase;
	enum rp_phase phase;
	char file[32];
	uint64_t done, total;
	uint64_t started_ms, finished_ms;
	bool has_last;
	enum rp_board_result last_result;
	char last_error[512];
};

static bool result_ok(enum rp_board_result r)
{
	return r == RP_RESULT_OK || r == RP_RESULT_SERVED;
}

struct rp_liveview {
	pthread_mutex_t lock;
	struct row *rows;
	unsigned n_rows;
	unsigned ok, failed, ignored, finished;
	unsigned unverified;
	struct rp_rate rate;
	unsigned lines_drawn;
	char status[200];
	char last_ignored[160];
};

struct rp_liveview *rp_liveview_new(void)
{
	struct rp_liveview *lv = calloc(1, sizeof(*lv));
	if (!lv)
		return NULL;
	lv->rows = calloc(MAX_ROWS, sizeof(*lv->rows));
	if (!lv->rows) {
		free(lv);
		return NULL;
	}
	pthread_mutex_init(&lv->lock, NULL);
	return lv;
}

void rp_liveview_free(struct rp_liveview *lv)
{
	if (!lv)
		return;
	pthread_mutex_destroy(&lv->lock);
	free(lv->rows);
	free(lv);
}

static struct row *row_for(struct rp_liveview *lv, const char *port)
{
	unsigned i;

	for (i = 0; i < lv->n_rows; i++) {
		int c = rp_port_path_cmp(lv->rows[i].port, port);
		if (c == 0)
			return &lv->rows[i];
		if (c > 0)
			break;
	}
	if (lv->n_rows == MAX_ROWS)
		return NULL;
	memmove(&lv->rows[i + 1], &lv->rows[i], (lv->n_rows - i) * sizeof(*lv->rows));
	memset(&lv->rows[i], 0, sizeof(*lv->rows));
	snprintf(lv->rows[i].port, sizeof(lv->rows[i].port), "%s", port);
	lv->n_rows++;
	return &lv->rows[i];
}

static const char *event_serial(const struct rp_runner_event *ev)
{
	if (ev->record && ev->record->serial[0])
		return ev->record->serial;
	if (ev->info && ev->info->serial[0])
		return ev->info->serial;
	return "";
}

static const char *event_port(const struct rp_runner_event *ev)
{
	if (ev->record && ev->record->port_path[0])
		return ev->record->port_path;
	if (ev->info)
		return ev->info->port_path;
	return "";
}

void rp_liveview_event(struct rp_liveview *lv, const struct rp_runner_event *ev, uint64_t now_ms)
{
	struct row *r;

	pthread_mutex_lock(&lv->lock);
	if (ev->type == RP_RUNNER_DEVICE_IGNORED) {
		lv->ignored++;
		snprintf(lv->last_ignored, sizeof(lv->last_ignored), "%s: %s", event_port(ev),
			 ev->reason ? ev->reason : "");
		goto out;
	}
	if (ev->type == RP_RUNNER_IDLE_TIMEOUT || (!ev->info && !ev->record))
		goto out;
	r = row_for(lv, event_port(ev));
	if (!r)
		goto out;
	if (event_serial(ev)[0])
		snprintf(r->serial, sizeof(r->serial), "%s", event_serial(ev));
	switch (ev->type) {
	case RP_RUNNER_BOARD_STARTED:
		r->busy = true;
		r->has_phase = false;
		r->file[0] = '\0';
		r->done = r->total = 0;
		r->started_ms = now_ms;
		rp_rate_started(&lv->rate, now_ms);
		break;
	case RP_RUNNER_PHASE:
		r->has_phase = true;
		r->phase = ev->phase;
		break;
	case RP_RUNNER_PROGRESS:
		snprintf(r->file, sizeof(r->file), "%s", ev->file ? ev->file : "");
		r->done = ev->done;
		r->total = ev->total;
		break;
	case RP_RUNNER_BOARD_FINISHED:
		r->busy = false;
		r->finished_ms = now_ms;
		r->has_last = true;
		r->last_result = ev->record ? ev->record->result : RP_RESULT_FAILED;
		snprintf(r->last_error, sizeof(r->last_error), "%.*s", (int)sizeof(r->last_error) - 1,
			 ev->record ? ev->record->error : "");
		lv->finished++;
		if (result_ok(r->last_result))
			lv->ok++;
		else if (r->last_result == RP_RESULT_UNVERIFIED)
			lv->unverified++;
		else
			lv->failed++;
		/* A board written but not confirmed still left the line. */
		rp_rate_finished(&lv->rate, now_ms, result_ok(r->last_result) ||
							    r->last_result == RP_RESULT_UNVERIFIED);
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&lv->lock);
}

static void totals_locked(struct rp_liveview *lv, uint64_t now_ms, struct rp_liveview_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->ok = lv->ok;
	t->unverified = lv->unverified;
	t->failed = lv->failed;
	t->ignored = lv->ignored;
	t->finished = lv->finished;
	for (unsigned i = 0; i < lv->n_rows; i++)
		t->in_progress += lv->rows[i].busy;
	t->rate_known = rp_rate_per_hour(&lv->rate, now_ms, &t->boards_per_hour, &t->boards_in_window);
}

void rp_liveview_totals(struct rp_liveview *lv, uint64_t now_ms, struct rp_liveview_totals *t)
{
	pthread_mutex_lock(&lv->lock);
	totals_locked(lv, now_ms, t);
	pthread_mutex_unlock(&lv->lock);
}

void rp_liveview_last_ignored(struct rp_liveview *lv, char *buf, size_t cap)
{
	pthread_mutex_lock(&lv->lock);
	snprintf(buf, cap, "%s", lv->last_ignored);
	pthread_mutex_unlock(&lv->lock);
}

void rp_liveview_set_status(struct rp_liveview *lv, const char *text)
{
	pthread_mutex_lock(&lv->lock);
	snprintf(lv->status, sizeof(lv->status), "%s", text ? text : "");
	pthread_mutex_unlock(&lv->lock);
}

/* A growing output buffer; a failed allocation sticks and is reported once. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		size_t room = o->cap - o->len;
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->buf && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t cap = (o->cap ? o->cap * 2 : 4096) + (size_t)n;
			char *nb = realloc(o->buf, cap);
			if (!nb) {
				o->failed = true;
				return;
			}
			o->buf = nb;
			o->cap = cap;
		}
	}
}

#define RED "\x1b[31m"
#define GREEN "\x1b[32m"
#define BOLD_RED "\x1b[1;31m"
#define RESET "\x1b[0m"
/* A failure reason gets this many detail lines at most. */
#define DETAIL_LINES_MAX 4
#define DETAIL_INDENT "      -> "


/* One table line: erase the line, the text cut to width (colour added
 * after cutting, so escapes never count as columns), newline. `paint`
 * is coloured where it first appears after `after` (NULL: from the
 * start). */
static void out_line_paint(struct out *o, unsigned width, const char *text, const char *after,
			   const char *paint, const char *colour)
{
	size_t n = strlen(text);
	const char *at = NULL;

	if (width > 1 && n > width - 1)
		n = width - 1;
	if (colour && paint && paint[0]) {
		const char *from = after ? strstr(text, after) : text;
		if (from) {
			at = strstr(from + (after ? strlen(after) : 0), paint);
			if (at && (size_t)(at - text) + strlen(paint) > n)
				at = NULL;
		}
	}
	if (!at) {
		out_printf(o, "\x1b[2K%.*s\n", (int)n, text);
		return;
	}
	out_printf(o, "\x1b[2K%.*s%s%s%s%.*s\n", (int)(at - text), text, colour, paint, RESET,
		   (int)(n - (size_t)(at - text) - strlen(paint)), at + strlen(paint));
}

static void out_line(struct out *o, unsigned width, const char *text)
{
	out_line_paint(o, width, text, NULL, NULL, NULL);
}

static void format_elapsed(uint64_t ms, char *buf, size_t cap)
{
	if (ms < 60000)
		snprintf(buf, cap, "%5.1fs", (double)ms / 1000.0);
	else
		snprintf(buf, cap, "%2llu:%02llum", (unsigned long long)(ms / 3600000),
			 (unsigned long long)(ms / 60000 % 60));
}

static bool row_failed(const struct row *r)
{
	return !r->busy && r->has_last && !result_ok(r->last_result) &&
	       r->last_result != RP_RESULT_UNVERIFIED;
}

/* The row; the reason of a failure goes on detail lines below it. */
static void format_row(const struct row *r, uint64_t now_ms, char *buf, size_t cap)
{
	char bar[BAR_WIDTH + 3], elapsed[40], state[24], last[64];
	unsigned pct = 0, fill = 0;

	if (r->busy && r->total) {
		uint64_t done = r->done > r->total ? r->total : r->done;
		pct = (unsigned)(done * 100 / r->total);
		fill = (unsigned)(done * BAR_WIDTH / r->total);
	}
	bar[0] = '[';
	for (unsigned i = 0; i < BAR_WIDTH; i++)
		bar[1 + i] = i < fill ? '#' : (r->busy ? '-' : ' ');
	bar[BAR_WIDTH + 1] = ']';
	bar[BAR_WIDTH + 2] = '\0';

	if (r->busy)
		snprintf(state, sizeof(state), "%s", r->has_phase ? rp_phase_name(r->phase) : "start");
	else
		snprintf(state, sizeof(state), "idle");
	format_elapsed(r->busy ? now_ms - r->started_ms : (r->finished_ms > r->started_ms ?
							    r->finished_ms - r->started_ms : 0),
		       elapsed, sizeof(elapsed));
	if (r->has_last)
		snprintf(last, sizeof(last), "%s", rp_board_result_name(r->last_result));
	else
		snprintf(last, sizeof(last), "-");
	snprintf(buf, cap, "%-12s %-7s %s %3u%%  %-20s %s  last: %s", r->port, state, bar, pct,
		 r->serial[0] ? r->serial : "?", elapsed, last);
}

/* Lines the reason takes at this width (0: none to show). */
static unsigned detail_lines(const struct row *r, unsigned width)
{
	size_t room = width > sizeof(DETAIL_INDENT) + 10 ? width - sizeof(DETAIL_INDENT) : 10;
	size_t n = strlen(r->last_error);
	unsigned lines;

	if (!row_failed(r) || !n)
		return 0;
	lines = (unsigned)((n + room - 1) / room);
	return lines > DETAIL_LINES_MAX ? DETAIL_LINES_MAX : lines;
}

static void out_detail(struct out *o, const struct row *r, unsigned width, unsigned lines, bool colour)
{
	size_t room = width > sizeof(DETAIL_INDENT) + 10 ? width - sizeof(DETAIL_INDENT) : 10;
	const char *p = r->last_error;

	for (unsigned i = 0; i < lines && *p; i++) {
		size_t n = strlen(p);
		bool last = i + 1 == lines;
		if (n > room)
			n = last ? room - 3 : room;
		out_printf(o, "\x1b[2K%s%s%.*s%s%s\n", DETAIL_INDENT, colour ? RED : "", (int)n, p,
			   last && strlen(p) > n ? "..." : "", colour ? RESET : "");
		p += n;
	}
}

char *rp_liveview_render(struct rp_liveview *lv, uint64_t now_ms, const struct rp_liveview_frame *f,
			 size_t *len)
{
	struct out o = { 0 };
	struct rp_liveview_totals t;
	char line[512], rate[64];
	unsigned width = f->width ? f->width : 80;
	/* The cursor ends on the line after the frame: it must stay on screen. */
	unsigned budget = f->height > 1 ? f->height - 1 : 0;
	unsigned fixed, shown = 0, hidden_ok = 0, hidden_failed = 0, hidden_other = 0;
	unsigned char *show = NULL, *details = NULL;
	const char *colour = f->colour ? RED : NULL;

	pthread_mutex_lock(&lv->lock);
	show = calloc(lv->n_rows + 1, 1);
	details = calloc(lv->n_rows + 1, 1);
	if (!show || !details) {
		pthread_mutex_unlock(&lv->lock);
		free(show);
		free(details);
		return NULL;
	}
	fixed = 2 + (lv->status[0] ? 1 : 0); /* header, totals, status */
	{
		unsigned need = fixed;
		for (unsigned i = 0; i < lv->n_rows; i++)
			need += 1 + detail_lines(&lv->rows[i], width);
		if (!budget || need <= budget) {
			memset(show, 1, lv->n_rows);
			for (unsigned i = 0; i < lv->n_rows; i++)
				details[i] = (unsigned char)detail_lines(&lv->rows[i], width);
			shown = lv->n_rows;
		} else {
			/* Too tall: boards in flight first, then failures with
			 * their reasons, then the rest; one line says what is left
			 * out. The totals always stay. */
			unsigned room = budget > fixed + 1 ? budget - fixed - 1 : 0;
			for (int pass = 0; pass < 3; pass++)
				for (unsigned i = 0; i < lv->n_rows && room; i++) {
					const struct row *r = &lv->rows[i];
					bool want = pass == 0 ? r->busy : pass == 1 ? row_failed(r) : !show[i];
					if (show[i] || !want)
						continue;
					show[i] = 1;
					shown++;
					room--;
					if (pass == 1) {
						unsigned dl = detail_lines(r, width);
						details[i] = (unsigned char)(dl < room ? dl : room);
						room -= details[i];
					}
				}
		}
	}
	/* Back to the first line of the previous frame; what is below the
	 * new one is erased at the end, so the frame may shrink. */
	if (lv->lines_drawn)
		out_printf(&o, "\r\x1b[%uA", lv->lines_drawn);
	else
		out_printf(&o, "%s", "");
	lv->lines_drawn = 0;
	out_line(&o, width, "PORT         PHASE   PROGRESS                     SERIAL               ELAPSED  RESULT");
	lv->lines_drawn++;
	for (unsigned i = 0; i < lv->n_rows; i++) {
		const struct row *r = &lv->rows[i];
		if (!show[i]) {
			if (r->has_last && result_ok(r->last_result))
				hidden_ok++;
			else if (row_failed(r))
				hidden_failed++;
			else
				hidden_other++;
			continue;
		}
		format_row(r, now_ms, line, sizeof(line));
		if (r->has_last)
			out_line_paint(&o, width, line, "last: ", rp_board_result_name(r->last_result),
				       f->colour ? (result_ok(r->last_result) ? GREEN : BOLD_RED) : NULL);
		else
			out_line(&o, width, line);
		lv->lines_drawn++;
		out_detail(&o, r, width, details[i], f->colour);
		lv->lines_drawn += details[i];
	}
	if (shown < lv->n_rows) {
		snprintf(line, sizeof(line), "... %u more ports not shown (%u last OK, %u last failed, %u idle): "
			 "the terminal is %u lines high", lv->n_rows - shown, hidden_ok, hidden_failed, hidden_other,
			 f->height);
		out_line(&o, width, line);
		lv->lines_drawn++;
	}
	totals_locked(lv, now_ms, &t);
	if (t.rate_known)
		snprintf(rate, sizeof(rate), "%.0f boards/h", t.boards_per_hour);
	else
		snprintf(rate, sizeof(rate), "- boards/h");
	{
		char unverified[32] = "";
		int n;
		if (t.unverified)
			snprintf(unverified, sizeof(unverified), "  unverified %u", t.unverified);
		n = snprintf(line, sizeof(line), "ok %u%s  failed %u  in progress %u  ignored %u  %s", t.ok,
			     unverified, t.failed, t.in_progress, t.ignored, rate);
		/* A database that is down must show: the line keeps going, the
		 * records wait in the spool. */
		if (f->records_pending && n > 0 && (size_t)n < sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n,
				 "  records waiting %llu (oldest %llds)",
				 (unsigned long long)f->records_pending,
				 (long long)(f->oldest_pending_ms > 0 ? f->oldest_pending_ms / 1000 : 0));
	}
	out_line_paint(&o, width, line, NULL, t.failed ? "failed" : NULL, colour);
	lv->lines_drawn++;
	if (lv->status[0]) {
		out_line(&o, width, lv->status);
		lv->lines_drawn++;
	}
	out_printf(&o, "\x1b[J");
	pthread_mutex_unlock(&lv->lock);
	free(show);
	free(details);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

size_t rp_liveview_format_line(const struct rp_runner_event *ev, int64_t wall_ms, char *buf,
			       size_t cap)
{
	char iso[RP_TIME_ISO_MAX];
	const char *port = event_port(ev), *serial = event_serial(ev);
	const struct rp_board_record *r = ev->record;
	int n;

	if (cap == 0)
		return 0;
	if (wall_ms == RP_LIVEVIEW_NO_TIME) {
		/* The same lines, without the time and its space. */
		n = (int)rp_liveview_format_line(ev, 0, buf, cap);
		if (n > ISO_PREFIX && (size_t)n < cap - 1) {
			memmove(buf, buf + ISO_PREFIX, (size_t)n - ISO_PREFIX + 1);
			return (size_t)n - ISO_PREFIX;
		}
		return (size_t)n;
	}
	rp_time_format_iso(wall_ms, iso);
	switch (ev->type) {
	case RP_RUNNER_DEVICE_IGNORED:
		n = snprintf(buf, cap, "%s %s ignored: %s\n", iso, port, ev->reason ? ev->reason : "");
		break;
	case RP_RUNNER_BOARD_STARTED:
		n = snprintf(buf, cap, "%s %s %s started (attempt %llu)\n", iso, port,
			     serial[0] ? serial : "?", r ? (unsigned long long)r->attempt_id : 0ULL);
		break;
	case RP_RUNNER_PHASE:
		n = snprintf(buf, cap, "%s %s %s %s\n", iso, port, serial[0] ? serial : "?",
			     rp_phase_name(ev->phase));
		break;
	case RP_RUNNER_BOARD_FINISHED: {
		double secs = r ? (double)(r->end_unix_ms - r->start_unix_ms) / 1000.0 : 0.0;
		if (r && r->error[0])
			n = snprintf(buf, cap, "%s %s %s %s after %.2f s: %s\n", iso, port,
				     serial[0] ? serial : "?", rp_board_result_name(r->result), secs, r->error);
		else
			n = snprintf(buf, cap, "%s %s %s %s after %.2f s\n", iso, port, serial[0] ? serial : "?",
				     r ? rp_board_result_name(r->result) : "?", secs);
		break;
	}
	case RP_RUNNER_IDLE_TIMEOUT:
		n = snprintf(buf, cap, "%s no board for the idle timeout: stopping\n", iso);
		break;
	default:
		return 0;
	}
	if (n < 0)
		return 0;
	if ((size_t)n >= cap) {
		/* Cut, but keep the line a line. */
		buf[cap - 2 < cap ? cap - 2 : 0] = '\n';
		buf[cap - 1] = '\0';
		return cap - 1;
	}
	return (size_t)n;
}
