/* The live view's model and text: rows per port in port order, progress,
 * totals, redraw over the previous frame, width limits; the plain lines
 * and JSON events for non-terminals. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/event_json.h"
#include "station/liveview.h"
#include "testlib.h"

static void make_info(struct rp_device_info *i, const char *port, const char *serial)
{
	memset(i, 0, sizeof(*i));
	i->vid = 0x0a5c;
	i->pid = 0x2711;
	snprintf(i->port_path, sizeof(i->port_path), "%s", port);
	snprintf(i->serial, sizeof(i->serial), "%s", serial);
}

static void make_rec(struct rp_board_record *r, const struct rp_device_info *i, uint64_t id)
{
	memset(r, 0, sizeof(*r));
	r->attempt_id = id;
	snprintf(r->port_path, sizeof(r->port_path), "%s", i->port_path);
	snprintf(r->serial, sizeof(r->serial), "%s", i->serial);
	r->start_unix_ms = 1714566896000LL;
}

static void feed(struct rp_liveview *lv, enum rp_runner_event_type t, const struct rp_device_info *i,
		 const struct rp_board_record *r, uint64_t now)
{
	struct rp_runner_event ev = { .type = t, .info = i, .record = r };
	rp_liveview_event(lv, &ev, now);
}

/* Lines of a frame without escape sequences. */
static int frame_lines(const char *frame, char lines[][512], int max)
{
	int n = 0;
	size_t k = 0;
	for (const char *p = frame; *p; p++) {
		if (*p == '\x1b') {
			p++;
			if (*p == '[') {
				p++;
				while (*p && !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
					p++;
			}
			if (!*p)
				break;
			continue;
		}
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			if (n < max)
				lines[n][k] = '\0';
			n++;
			k = 0;
			continue;
		}
		if (n < max && k < 511)
			lines[n][k++] = *p;
	}
	return n;
}

static void test_table(void)
{
	struct rp_liveview *lv = rp_liveview_new();
	struct rp_device_info a, b, c;
	struct rp_board_record ra, rb, rc;
	struct rp_liveview_totals t;
	char lines[16][512];
	char *frame;
	size_t len;
	int n;

	CHECK(lv != NULL);
	if (!lv)
		return;
	make_info(&a, "1-1.10", "10000000aaaa0010");
	make_info(&b, "1-1.2", "10000000aaaa0002");
	make_info(&c, "1-1.3", "10000000aaaa0003");
	make_rec(&ra, &a, 1);
	make_rec(&rb, &b, 2);
	make_rec(&rc, &c, 3);
	feed(lv, RP_RUNNER_BOARD_STARTED, &a, &ra, 1000);
	feed(lv, RP_RUNNER_BOARD_STARTED, &b, &rb, 1000);
	feed(lv, RP_RUNNER_BOARD_STARTED, &c, &rc, 1000);
	{
		struct rp_runner_event ev = { .type = RP_RUNNER_PHASE, .info = &b, .record = &rb,
					      .phase = RP_PHASE_SERVE };
		rp_liveview_event(lv, &ev, 1100);
		ev.type = RP_RUNNER_PROGRESS;
		ev.file = "pieeprom.bin";
		ev.done = 262144;
		ev.total = 524288;
		rp_liveview_event(lv, &ev, 1200);
	}
	rb.result = RP_RESULT_OK;
	rc.result = RP_RESULT_FAILED;
	snprintf(rc.error, sizeof(rc.error), "EEPROM_HASH mismatch");
	feed(lv, RP_RUNNER_BOARD_FINISHED, &c, &rc, 3000);
	{
		struct rp_runner_event ev = { .type = RP_RUNNER_DEVICE_IGNORED, .info = &c, .reason = "filtered" };
		rp_liveview_event(lv, &ev, 3000);
	}
	frame = rp_liveview_render(lv, 2000, 200, &len);
	CHECK(frame != NULL && strlen(frame) == len);
	/* The first frame starts where the cursor is: no movement up. */
	CHECK(frame && strstr(frame, "\x1b[") && !strstr(frame, "A\x1b[2K"));
	n = frame_lines(frame, lines, 16);
	CHECK_EQ_INT(n, 5); /* header, 3 rows, totals */
	CHECK_CONTAINS(lines[0], "PORT");
	/* Port order is numeric: 1-1.2, 1-1.3, 1-1.10. */
	CHECK(!strncmp(lines[1], "1-1.2 ", 6));
	CHECK(!strncmp(lines[2], "1-1.3 ", 6));
	CHECK(!strncmp(lines[3], "1-1.10 ", 7));
	CHECK_CONTAINS(lines[1], "serve");
	CHECK_CONTAINS(lines[1], "[##########----------]  50%");
	CHECK_CONTAINS(lines[1], "10000000aaaa0002");
	CHECK_CONTAINS(lines[1], "1.0s"); /* elapsed at now = 2000 */
	CHECK_CONTAINS(lines[2], "idle");
	CHECK_CONTAINS(lines[2], "last: FAILED: EEPROM_HASH mismatch");
	CHECK_CONTAINS(lines[3], "start");
	CHECK_CONTAINS(lines[4], "ok 0  failed 1  in progress 2  ignored 1");
	free(frame);

	feed(lv, RP_RUNNER_BOARD_FINISHED, &b, &rb, 4000);
	rp_liveview_set_status(lv, "stopping");
	frame = rp_liveview_render(lv, 5000, 40, &len);
	/* The next frame goes back over the five lines of the first. */
	CHECK(frame && !strncmp(frame, "\r\x1b[5A", 5));
	n = frame_lines(frame ? frame : "", lines, 16);
	CHECK_EQ_INT(n, 6);
	for (int i = 0; i < n && i < 16; i++)
		CHECK(strlen(lines[i]) <= 39); /* cut to the width: no wrapping */
	CHECK_STR_EQ(lines[5], "stopping");
	free(frame);
	rp_liveview_set_status(lv, NULL);
	frame = rp_liveview_render(lv, 5000, 200, &len);
	CHECK(frame && !strncmp(frame, "\r\x1b[6A", 5));
	n = frame_lines(frame ? frame : "", lines, 16);
	/* The frame does not shrink (the old status line is blanked). */
	CHECK_EQ_INT(n, 6);
	CHECK_STR_EQ(lines[5], "");
	CHECK_CONTAINS(lines[4], "ok 1  failed 1  in progress 1");
	free(frame);

	rp_liveview_totals(lv, 5000, &t);
	CHECK_EQ_INT(t.ok, 1);
	CHECK_EQ_INT(t.failed, 1);
	CHECK_EQ_INT(t.in_progress, 1);
	CHECK_EQ_INT(t.finished, 2);
	/* 1 OK board in 4 s since the first start: 900 an hour. */
	CHECK(t.boards_per_hour > 899.9 && t.boards_per_hour < 900.1);
	rp_liveview_free(lv);
}

static void test_plain_lines(void)
{
	struct rp_device_info i;
	struct rp_board_record r;
	struct rp_runner_event ev = { .type = RP_RUNNER_BOARD_STARTED, .info = &i, .record = &r };
	char buf[256], small[24];
	size_t n;

	make_info(&i, "1-1.4", "");
	make_rec(&r, &i, 9);
	n = rp_liveview_format_line(&ev, 1714566896789LL, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "2024-05-01T12:34:56.789Z 1-1.4 ? started (attempt 9)\n");
	CHECK_EQ_INT(n, strlen(buf));
	snprintf(r.serial, sizeof(r.serial), "abc");
	r.result = RP_RESULT_TIMEOUT;
	r.end_unix_ms = r.start_unix_ms + 2500;
	snprintf(r.error, sizeof(r.error), "no answer");
	ev.type = RP_RUNNER_BOARD_FINISHED;
	rp_liveview_format_line(&ev, 1714566896789LL, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "2024-05-01T12:34:56.789Z 1-1.4 abc TIMEOUT after 2.50 s: no answer\n");
	ev.type = RP_RUNNER_PROGRESS;
	CHECK_EQ_INT(rp_liveview_format_line(&ev, 0, buf, sizeof(buf)), 0);
	ev.type = RP_RUNNER_PHASE;
	ev.phase = RP_PHASE_VERIFY;
	rp_liveview_format_line(&ev, 0, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "1970-01-01T00:00:00.000Z 1-1.4 abc verify\n");
	/* Cut lines still end in a newline. */
	n = rp_liveview_format_line(&ev, 0, small, sizeof(small));
	CHECK_EQ_INT(n, sizeof(small) - 1);
	CHECK(small[n - 1] == '\n' && small[n] == '\0');
}

static void test_json_events(void)
{
	struct rp_device_info i;
	struct rp_board_record r;
	struct rp_record_origin origin = { "st", "run1" };
	struct rp_runner_event ev = { .type = RP_RUNNER_PROGRESS, .info = &i, .record = &r,
				      .file = "pieeprom.bin", .done = 100, .total = 200 };
	struct json_object *o, *v, *rec;
	size_t len;
	char *line;

	make_info(&i, "1-1.4", "abc");
	make_rec(&r, &i, 9);
	line = rp_event_json_line(&ev, &origin, 1714566896789LL, &len);
	CHECK(line && line[len - 1] == '\n' && !strchr(line, '\n')[1]);
	o = line ? json_tokener_parse(line) : NULL;
	CHECK(o != NULL);
	CHECK(o && json_object_object_get_ex(o, "event", &v) && !strcmp(json_object_get_string(v), "progress"));
	CHECK(o && json_object_object_get_ex(o, "done", &v) && json_object_get_int64(v) == 100);
	CHECK(o && json_object_object_get_ex(o, "port", &v) && !strcmp(json_object_get_string(v), "1-1.4"));
	CHECK(o && json_object_object_get_ex(o, "time", &v) &&
	      !strcmp(json_object_get_string(v), "2024-05-01T12:34:56.789Z"));
	json_object_put(o);
	free(line);

	r.result = RP_RESULT_OK;
	ev.type = RP_RUNNER_BOARD_FINISHED;
	line = rp_event_json_line(&ev, &origin, 0, &len);
	o = line ? json_tokener_parse(line) : NULL;
	CHECK(o && json_object_object_get_ex(o, "record", &rec));
	CHECK(o && json_object_object_get_ex(rec, "result", &v) && !strcmp(json_object_get_string(v), "OK"));
	CHECK(o && json_object_object_get_ex(rec, "run_id", &v) && !strcmp(json_object_get_string(v), "run1"));
	json_object_put(o);
	free(line);

	ev = (struct rp_runner_event){ .type = RP_RUNNER_IDLE_TIMEOUT };
	line = rp_event_json_line(&ev, &origin, 0, &len);
	o = line ? json_tokener_parse(line) : NULL;
	CHECK(o && json_object_object_get_ex(o, "event", &v) && !strcmp(json_object_get_string(v), "idle_timeout"));
	CHECK(o && !json_object_object_get_ex(o, "port", &v));
	json_object_put(o);
	free(line);
}

int main(void)
{
	RUN(test_table());
	RUN(test_plain_lines());
	RUN(test_json_events());
	return test_result();
}
