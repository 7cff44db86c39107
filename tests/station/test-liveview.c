/* The live view's model and text: rows per port in port order, progress,
 * totals, redraw over the previous frame, width limits; the plain lines
 * and JSON events for non-terminals. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "station/event_json.h"
#include "station/liveview.h"
#include "station/rate.h"
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
	struct rp_liveview_frame wide = { .width = 200 }, narrow = { .width = 40 };
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
	frame = rp_liveview_render(lv, 2000, &wide, &len);
	CHECK(frame != NULL && strlen(frame) == len);
	/* The first frame starts where the cursor is: no movement up. */
	CHECK(frame && strstr(frame, "\x1b[") && !strstr(frame, "A\x1b[2K"));
	/* No colour asked for: none given. */
	CHECK(frame && !strstr(frame, "\x1b[3") && !strstr(frame, "\x1b[1;3"));
	n = frame_lines(frame, lines, 16);
	CHECK_EQ_INT(n, 6); /* header, 3 rows, the failure's reason, totals */
	CHECK_CONTAINS(lines[0], "PORT");
	/* Port order is numeric: 1-1.2, 1-1.3, 1-1.10. */
	CHECK(!strncmp(lines[1], "1-1.2 ", 6));
	CHECK(!strncmp(lines[2], "1-1.3 ", 6));
	CHECK(!strncmp(lines[4], "1-1.10 ", 7));
	CHECK_CONTAINS(lines[1], "serve");
	CHECK_CONTAINS(lines[1], "[##########----------]  50%");
	CHECK_CONTAINS(lines[1], "10000000aaaa0002");
	CHECK_CONTAINS(lines[1], "1.0s"); /* elapsed at now = 2000 */
	CHECK_CONTAINS(lines[2], "idle");
	CHECK_CONTAINS(lines[2], "last: FAILED");
	CHECK_STR_EQ(lines[3], "      -> EEPROM_HASH mismatch");
	CHECK_CONTAINS(lines[4], "start");
	CHECK_CONTAINS(lines[5], "ok 0  failed 1  in progress 2  ignored 1  - boards/h");
	free(frame);

	feed(lv, RP_RUNNER_BOARD_FINISHED, &b, &rb, 4000);
	rp_liveview_set_status(lv, "stopping");
	frame = rp_liveview_render(lv, 5000, &narrow, &len);
	/* The next frame goes back over the six lines of the first. */
	CHECK(frame && !strncmp(frame, "\r\x1b[6A", 5));
	n = frame_lines(frame ? frame : "", lines, 16);
	CHECK_EQ_INT(n, 7);
	for (int i = 0; i < n && i < 16; i++)
		CHECK(strlen(lines[i]) <= 39); /* cut to the width: no wrapping */
	CHECK_STR_EQ(lines[6], "stopping");
	free(frame);
	rp_liveview_set_status(lv, NULL);
	frame = rp_liveview_render(lv, 5000, &wide, &len);
	CHECK(frame && !strncmp(frame, "\r\x1b[7A", 5));
	n = frame_lines(frame ? frame : "", lines, 16);
	/* A shorter frame erases what was below it. */
	CHECK_EQ_INT(n, 6);
	CHECK(frame && len >= 3 && !strcmp(frame + len - 3, "\x1b[J"));
	CHECK_CONTAINS(lines[5], "ok 1  failed 1  in progress 1");
	CHECK(!strstr(lines[5], "records waiting"));
	free(frame);
	/* Records held in the spool (a database down, #12) show on the
	 * totals line, with the age of the oldest. */
	wide.records_pending = 12;
	wide.oldest_pending_ms = 95000;
	frame = rp_liveview_render(lv, 5000, &wide, &len);
	n = frame_lines(frame ? frame : "", lines, 16);
	CHECK_EQ_INT(n, 6);
	CHECK_CONTAINS(n == 6 ? lines[5] : "", "records waiting 12 (oldest 95s)");
	free(frame);
	wide.records_pending = 0;

	rp_liveview_totals(lv, 5000, &t);
	CHECK_EQ_INT(t.ok, 1);
	CHECK_EQ_INT(t.failed, 1);
	CHECK_EQ_INT(t.in_progress, 1);
	CHECK_EQ_INT(t.finished, 2);
	/* 4 s is too short to measure a rate. */
	CHECK(!t.rate_known);
	rp_liveview_totals(lv, 1000 + 120000, &t);
	/* 1 OK board finished in the 2 minutes since the first start. */
	CHECK(t.rate_known && t.boards_per_hour > 29.9 && t.boards_per_hour < 30.1);
	rp_liveview_free(lv);
}

/* 64 boards on a 40-line terminal: the frame stays within 39 lines (the
 * cursor's line is the 40th), boards in flight and failures are shown
 * first, the totals stay, and one line says what was left out. */
static void test_fits_height(void)
{
	struct rp_liveview *lv = rp_liveview_new();
	struct rp_liveview_frame f = { .width = 120, .height = 40, .colour = true };
	static struct rp_device_info info[64];
	static struct rp_board_record rec[64];
	static char lines[128][512];
	size_t len;
	char *frame;
	int n, prev = 0, busy_rows = 0, failed_rows = 0;

	CHECK(lv != NULL);
	if (!lv)
		return;
	for (int i = 0; i < 64; i++) {
		char port[16], serial[24];
		snprintf(port, sizeof(port), "1-%d.%d", 1 + i / 8, 1 + i % 8);
		snprintf(serial, sizeof(serial), "5eed%04x", i);
		make_info(&info[i], port, serial);
		make_rec(&rec[i], &info[i], (uint64_t)i + 1);
		feed(lv, RP_RUNNER_BOARD_STARTED, &info[i], &rec[i], 1000);
		if (i % 4 == 0)
			continue; /* still in flight */
		rec[i].result = i % 9 == 0 ? RP_RESULT_FAILED : RP_RESULT_OK;
		if (rec[i].result == RP_RESULT_FAILED)
			snprintf(rec[i].error, sizeof(rec[i].error), "board %d: EEPROM_UPDATE reported failure", i);
		feed(lv, RP_RUNNER_BOARD_FINISHED, &info[i], &rec[i], 2000);
	}
	for (int round = 0; round < 2; round++) {
		frame = rp_liveview_render(lv, 3000, &f, &len);
		CHECK(frame != NULL);
		n = frame_lines(frame ? frame : "", lines, 128);
		CHECK(n <= 39);
		/* The next frame moves up over exactly the lines drawn before. */
		if (round == 1 && frame) {
			char up[16];
			snprintf(up, sizeof(up), "\r\x1b[%dA", prev);
			CHECK(!strncmp(frame, up, strlen(up)));
		}
		prev = n;
		CHECK_CONTAINS(lines[n - 1], "ok 42  failed 6  in progress 16");
		CHECK_CONTAINS(lines[n - 2], "more ports not shown");
		busy_rows = failed_rows = 0;
		for (int i = 0; i < n; i++) {
			busy_rows += strstr(lines[i], " start ") != NULL;
			failed_rows += strstr(lines[i], "last: FAILED") != NULL;
		}
		CHECK_EQ_INT(busy_rows, 16);
		CHECK_EQ_INT(failed_rows, 6);
		/* Colour is added after cutting: FAILED in bold red, then reset. */
		CHECK(frame && strstr(frame, "last: \x1b[1;31mFAILED\x1b[0m"));
		CHECK(frame && strstr(frame, "\x1b[31mboard 9: EEPROM_UPDATE reported failure\x1b[0m"));
		free(frame);
	}
	/* No height known (not a terminal size): everything, with reasons. */
	f.height = 0;
	frame = rp_liveview_render(lv, 3000, &f, &len);
	n = frame_lines(frame ? frame : "", lines, 128);
	CHECK_EQ_INT(n, 1 + 64 + 6 + 1);
	free(frame);
	rp_liveview_free(lv);
}

/* Boards per hour counts finished OK attempts in the trailing hour. */
static void test_rate(void)
{
	struct rp_rate r = { 0 };
	double per_hour;
	unsigned count;

	CHECK(!rp_rate_per_hour(&r, 1000, &per_hour, &count));
	rp_rate_started(&r, 1000);
	for (int i = 0; i < 10; i++)
		rp_rate_finished(&r, 5000 + (uint64_t)i * 1000, true);
	rp_rate_finished(&r, 20000, false);
	/* Finished, but under a minute: no figure yet. */
	CHECK(!rp_rate_per_hour(&r, 30000, &per_hour, &count));
	CHECK(rp_rate_per_hour(&r, 1000 + 120000, &per_hour, &count));
	CHECK_EQ_INT(count, 10);
	CHECK(per_hour > 299.9 && per_hour < 300.1);
	/* Two hours later those boards are out of the window. */
	CHECK(rp_rate_per_hour(&r, 2 * 3600000 + 5000, &per_hour, &count));
	CHECK_EQ_INT(count, 0);
	CHECK(per_hour == 0);
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

	/* No serial: null, as records have it, not "". */
	make_info(&i, "1-1.4", "");
	make_rec(&r, &i, 9);
	line = rp_event_json_line(&ev, &origin, 0, &len);
	o = line ? json_tokener_parse(line) : NULL;
	CHECK(o && json_object_object_get_ex(o, "serial", &v) && json_object_is_type(v, json_type_null));
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
	RUN(test_fits_height());
	RUN(test_rate());
	RUN(test_plain_lines());
	RUN(test_json_events());
	return test_result();
}
