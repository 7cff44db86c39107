/* The runner's hand-off of a second stage to the attempt that did stage 1,
 * driven by a scripted device source: the test decides exactly which
 * arrivals and departures happen and when, which the device model cannot
 * (its second stage always follows its own stage 1). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session/payload.h"
#include "runner/runner.h"
#include "testlib.h"
#include "util/clock.h"
#include "util/endian.h"

#define PORT "1-1.2"
#define MAX_EVENTS 32
#define MAX_OPENED 16

struct script_source {
	struct rp_source base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rp_source_event q[MAX_EVENTS];
	unsigned n;
	bool woken;
	/* the fake boards */
	int32_t rom_code;          /* stage-1 return code of every ROM */
	unsigned rom_delay_ms;     /* a ROM answers its return code this late */
	/* pushed when a ROM is asked for its return code (a second stage the
	 * ROM's board starts before the host hears back), one per ROM asked,
	 * in order: a ROM again, then the second stage, for a board that
	 * reset into its ROM once */
	struct rp_source_event on_rc[4];
	unsigned n_on_rc, next_on_rc;
	/* armed events come this long after the return code (a board off
	 * the bus for a while before it re-enumerates); 0: at once */
	unsigned on_rc_delay_ms;
	/* the ROM with this id never answers its status (stuck, C13) ... */
	uint64_t stuck_rom_id;
	struct rp_source_event pending; /* the delayed one (one at a time) */
	/* the first open_failures opens of the device with this id fail
	 * with open_error, as an open during enumeration does (F8) */
	uint64_t failing_open_id;
	unsigned open_failures;
	int open_error;
	uint64_t opened[MAX_OPENED];
	uint16_t opened_pid[MAX_OPENED];
	unsigned n_opened;
};

struct fake_dev {
	struct rp_transport base;
	struct script_source *src;
	bool done_sent;
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void push(struct script_source *s, enum rp_source_event_type type, enum rp_stage stage,
		 uint16_t pid, uint64_t id)
{
	struct rp_source_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.info.vid = 0x0a5c;
	ev.info.pid = pid;
	ev.info.stage = stage;
	ev.info.serial_index = stage == RP_STAGE_ROM ? 0 : 5;
	ev.info.num_interfaces = stage == RP_STAGE_ROM ? 2 : 1;
	ev.info.id = id;
	ev.info.bus = 1;
	ev.info.address = (uint8_t)(id + 1);
	snprintf(ev.info.port_path, sizeof(ev.info.port_path), PORT);
	if (stage == RP_STAGE_SECOND)
		snprintf(ev.info.serial, sizeof(ev.info.serial), "10000000cafe%04x", (unsigned)id);
	pthread_mutex_lock(&s->lock);
	if (s->n < MAX_EVENTS)
		s->q[s->n++] = ev;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the boards: a ROM that takes anything, a second stage that says Done ---- */

static void *push_later(void *arg)
{
	struct script_source *s = arg;
	sleep_ms(s->on_rc_delay_ms);
	pthread_mutex_lock(&s->lock);
	if (s->n < MAX_EVENTS)
		s->q[s->n++] = s->pending;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int dev_control_out(struct rp_transport *t, uint8_t request, uint16_t value,
			   uint16_t index, const void *data, size_t len, unsigned timeout_ms)
{
	return RP_OK;
}

static int dev_bulk_out(struct rp_transport *t, const void *data, size_t len, size_t *actual,
			unsigned timeout_ms)
{
	*actual = len;
	return RP_OK;
}

static int dev_control_in(struct rp_transport *t, uint8_t request, uint16_t value,
			  uint16_t index, void *data, size_t len, size_t *actual, unsigned timeout_ms)
{
	struct fake_dev *dv = (struct fake_dev *)t;
	struct script_source *s = dv->src;

	*actual = 0;
	memset(data, 0, len);
	if (t->info.stage == RP_STAGE_ROM) {
		if (len != 4)
			return RP_ERR_PIPE;
		pthread_mutex_lock(&s->lock);
		if (t->info.id == s->stuck_rom_id) {
			/* ... and stays on the bus: its status read times out, and
			 * it comes up only when stage 1 is sent to it again. */
			s->stuck_rom_id = 0;
			pthread_mutex_unlock(&s->lock);
			return RP_ERR_TIMEOUT;
		}
		if (s->next_on_rc < s->n_on_rc && s->on_rc_delay_ms) {
			pthread_t th;
			s->pending = s->on_rc[s->next_on_rc++];
			if (pthread_create(&th, NULL, push_later, s) == 0)
				pthread_detach(th);
		} else if (s->next_on_rc < s->n_on_rc && s->n < MAX_EVENTS) {
			s->q[s->n++] = s->on_rc[s->next_on_rc++];
		}
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		if (s->rom_delay_ms)
			sleep_ms(s->rom_delay_ms);
		rp_put_le32(data, (uint32_t)s->rom_code);
		*actual = 4;
		return RP_OK;
	}
	if (dv->done_sent || len != RP_FILE_REQUEST_SIZE)
		return RP_ERR_NO_DEVICE;
	dv->done_sent = true;
	rp_put_le32(data, RP_CMD_DONE);
	*actual = len;
	return RP_OK;
}

static void dev_close(struct rp_transport *t)
{
	free(t);
}

static const struct rp_transport_ops dev_ops = {
	.control_out = dev_control_out,
	.control_in = dev_control_in,
	.bulk_out = dev_bulk_out,
	.close = dev_close,
};

/* ---- the source ---- */

static int src_next_event(struct rp_source *base, struct rp_source_event *ev, int timeout_ms)
{
	struct script_source *s = (struct script_source *)base;
	uint64_t until = timeout_ms < 0 ? rp_now_ms() + 3600000u : rp_now_ms() + (uint64_t)timeout_ms;
	int r = RP_ERR_TIMEOUT;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct timespec ts;
		uint64_t now;
		if (s->woken) {
			s->woken = false;
			r = RP_ERR_INTERRUPTED;
			break;
		}
		if (s->n) {
			*ev = s->q[0];
			memmove(s->q, s->q + 1, sizeof(s->q[0]) * --s->n);
			r = RP_OK;
			break;
		}
		now = rp_now_ms();
		if (now >= until)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)((until - now) / 1000);
		ts.tv_nsec += (long)((until - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int src_open(struct rp_source *base, const struct rp_device_info *info,
		    struct rp_transport **out, struct rp_diag *d)
{
	struct script_source *s = (struct script_source *)base;
	struct fake_dev *dv;

	pthread_mutex_lock(&s->lock);
	if (info->id == s->failing_open_id && s->open_failures) {
		s->open_failures--;
		pthread_mutex_unlock(&s->lock);
		return rp_diag_set(d, s->open_error, "cannot open the device on %s (still enumerating)",
				   info->port_path);
	}
	pthread_mutex_unlock(&s->lock);
	dv = calloc(1, sizeof(*dv));
	if (!dv)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory");
	dv->base.ops = &dev_ops;
	dv->base.info = *info;
	dv->src = s;
	pthread_mutex_lock(&s->lock);
	if (s->n_opened < MAX_OPENED) {
		s->opened[s->n_opened] = info->id;
		s->opened_pid[s->n_opened] = info->pid;
		s->n_opened++;
	}
	pthread_mutex_unlock(&s->lock);
	*out = &dv->base;
	return RP_OK;
}

static void src_wakeup(struct rp_source *base)
{
	struct script_source *s = (struct script_source *)base;
	pthread_mutex_lock(&s->lock);
	s->woken = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void src_destroy(struct rp_source *base)
{
	(void)base;
}

static const struct rp_source_ops src_ops = {
	.next_event = src_next_event,
	.open = src_open,
	.wakeup = src_wakeup,
	.destroy = src_destroy,
};

static void source_init(struct script_source *s)
{
	memset(s, 0, sizeof(*s));
	s->base.ops = &src_ops;
	s->base.name = "script";
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

/* When the ROM of the queued arrival is asked for its return code, the
 * board's second stage (device `id`) arrives on the same port. */
/* The next ROM asked for its return code brings device `id` up on its
 * port: a second stage, or (rom) the ROM again. */
static void arm_next(struct script_source *s, uint64_t id, bool rom)
{
	struct rp_source_event *ev;
	pthread_mutex_lock(&s->lock);
	ev = &s->on_rc[s->n_on_rc++];
	*ev = s->q[s->n - 1];
	pthread_mutex_unlock(&s->lock);
	ev->info.stage = rom ? RP_STAGE_ROM : RP_STAGE_SECOND;
	ev->info.serial_index = rom ? 0 : 5;
	ev->info.num_interfaces = rom ? 2 : 1;
	ev->info.id = id;
	ev->info.address = (uint8_t)(id + 1);
	snprintf(ev->info.serial, sizeof(ev->info.serial), rom ? "" : "cafe%04x", (unsigned)id);
}

static void arm_second_stage(struct script_source *s, uint64_t id)
{
	arm_next(s, id, false);
}

static bool was_opened(struct script_source *s, uint64_t id)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->n_opened; i++)
		found = found || s->opened[i] == id;
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* ---- what the runner said ---- */

#define MAX_FINISHED 8

struct observed {
	struct script_source *src;
	unsigned started, ignored;
	struct rp_board_record finished[MAX_FINISHED];
	uint64_t finished_dev[MAX_FINISHED]; /* id of the device the record ended on */
	unsigned n_finished;
	char ignored_reasons[1024];
	/* on the first FINISHED: this second stage arrives while the callback
	 * still runs (a slow database write, say) */
	bool arrive_in_finished;
	uint64_t arrive_id;
};

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct observed *o = ctx;
	switch (ev->type) {
	case RP_RUNNER_BOARD_STARTED:
		o->started++;
		break;
	case RP_RUNNER_BOARD_FINISHED:
		if (o->n_finished < MAX_FINISHED) {
			o->finished[o->n_finished] = *ev->record;
			o->finished_dev[o->n_finished] = ev->info->id;
		}
		o->n_finished++;
		if (o->arrive_in_finished && o->n_finished == 1) {
			push(o->src, RP_SOURCE_ARRIVED, RP_STAGE_SECOND, 0x2711, o->arrive_id);
			sleep_ms(300);
		}
		break;
	case RP_RUNNER_DEVICE_IGNORED:
		o->ignored++;
		strncat(o->ignored_reasons, ev->reason,
			sizeof(o->ignored_reasons) - strlen(o->ignored_reasons) - 2);
		strcat(o->ignored_reasons, "\n");
		break;
	default:
		break;
	}
}

static struct rp_payload *second_stages(void)
{
	static const uint8_t code[64] = { 1, 2, 3 };
	struct rp_payload *p = NULL;
	CHECK_EQ_INT(rp_payload_new(NULL, &p, NULL), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "bootcode4.bin", code, sizeof(code), NULL), RP_OK);
	CHECK_EQ_INT(rp_payload_add(p, "bootcode5.bin", code, sizeof(code), NULL), RP_OK);
	return p;
}

static void run(struct script_source *s, struct rp_payload *p, struct rp_runner_opts *ro,
		struct observed *o, struct rp_runner_summary *sum)
{
	struct rp_runner *r = NULL;
	o->src = s;
	ro->source = &s->base;
	ro->payload = p;
	ro->mode = RP_SESSION_SERVE;
	ro->on_event = on_event;
	ro->event_ctx = o;
	ro->transfer_timeout_ms = 500;
	ro->request_timeout_ms = 500;
	CHECK_EQ_INT(rp_runner_new(ro, &r, NULL), RP_OK);
	CHECK_EQ_INT(rp_runner_run(r, sum, NULL), RP_OK);
	rp_runner_free(r);
}

/* The ordinary hand-off still works: ROM, stage 1, same kind of second
 * stage on the same port: one attempt, served. */
static void test_handoff(void)
{
	struct script_source s;
	struct observed o = { 0 };
	struct rp_runner_opts ro = { .count = 1, .reenum_timeout_ms = 2000 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	arm_second_stage(&s, 2);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.started, 1);
	CHECK_EQ_INT(sum.served, 1);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_SERVED);
	CHECK_EQ_INT(o.finished_dev[0], 2);
	CHECK_STR_EQ(o.finished[0].serial, "cafe0002");
	rp_payload_free(p);
}

/* F8: the first opens of the re-enumerated second stage fail while it is
 * still enumerating (rpiboot: "Failed to open the requested device"); the
 * runner tries again within its retry window and serves the board. A
 * device that never opens fails with the source's own message. */
static void run_failing_opens(unsigned failures, int error, struct observed *o)
{
	struct script_source s;
	struct rp_runner_opts ro = { .count = 1, .reenum_timeout_ms = 2000 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	s.failing_open_id = 2;
	s.open_failures = failures;
	s.open_error = error;
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	arm_second_stage(&s, 2);
	run(&s, p, &ro, o, &sum);
	rp_payload_free(p);
}

static void test_open_fails_while_enumerating(void)
{
	static const int errors[] = { RP_ERR_ACCESS, RP_ERR_NO_DEVICE, RP_ERR_IO };
	struct observed o;

	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		memset(&o, 0, sizeof(o));
		run_failing_opens(3, errors[i], &o);
		CHECK_EQ_INT(o.finished[0].result, RP_RESULT_SERVED);
		CHECK_EQ_INT(o.finished[0].open_retries, 3);
	}
	memset(&o, 0, sizeof(o));
	run_failing_opens(1000, RP_ERR_ACCESS, &o);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_FAILED);
	CHECK_CONTAINS(o.finished[0].error, "still enumerating");
}

/* --serial at the ROM (issue #9): the BCM2711/2712 ROM's string is the
 * low 32 bits of the board serial as 8 lowercase hex digits (F2, F3); the
 * ROM string itself and the full 16-digit serial both select the board,
 * as rpiboot -i does with the ROM's string. */
static void test_serial_filter_at_rom(void)
{
	struct rp_device_info rom = { .vid = 0x0a5c, .pid = 0x2711, .serial_index = 3,
				      .stage = RP_STAGE_ROM };
	struct rp_device_info second = rom;
	const char *want[2];
	char why[256];

	snprintf(rom.port_path, sizeof(rom.port_path), "1-1.4");
	snprintf(rom.serial, sizeof(rom.serial), "5eed0002");
	second.stage = RP_STAGE_SECOND;
	second.serial_index = 4;
	snprintf(second.serial, sizeof(second.serial), "5eed0002");
	want[0] = "5eed0002";
	CHECK(rp_runner_filters_accept(NULL, 0, want, 1, false, &rom, why, sizeof(why)));
	want[0] = "100000005EED0002";
	CHECK(rp_runner_filters_accept(NULL, 0, want, 1, false, &rom, why, sizeof(why)));
	want[0] = "100000005eed0003";
	want[1] = "5eed0003";
	CHECK(!rp_runner_filters_accept(NULL, 0, want, 2, false, &rom, why, sizeof(why)));
	CHECK_CONTAINS(why, "serial 5eed0002 does not match");
	/* The second stage reports the same 8 digits (F10): the same rule. */
	want[0] = "100000005eed0002";
	CHECK(rp_runner_filters_accept(NULL, 0, want, 1, false, &second, why, sizeof(why)));
	snprintf(second.serial, sizeof(second.serial), "100000005eed0002");
	want[0] = "5EED0002";
	CHECK(rp_runner_filters_accept(NULL, 0, want, 1, false, &second, why, sizeof(why)));
	want[0] = "200000005eed0002"; /* same low half, other board: no */
	CHECK(!rp_runner_filters_accept(NULL, 0, want, 1, false, &second, why, sizeof(why)));
	/* An older ROM (index 0) has no string to match. */
	rom.serial[0] = '\0';
	rom.serial_index = 0;
	CHECK(!rp_runner_filters_accept(NULL, 0, want, 1, false, &rom, why, sizeof(why)));
	CHECK_CONTAINS(why, "select it with --port");
	/* boot -i compares as rpiboot does: the device's string, exactly. */
	snprintf(rom.serial, sizeof(rom.serial), "5eed0002");
	rom.serial_index = 3;
	want[0] = "5eed0002";
	CHECK(rp_runner_filters_accept(NULL, 0, want, 1, true, &rom, why, sizeof(why)));
	want[0] = "5EED0002";
	CHECK(!rp_runner_filters_accept(NULL, 0, want, 1, true, &rom, why, sizeof(why)));
	want[0] = "100000005eed0002";
	CHECK(!rp_runner_filters_accept(NULL, 0, want, 1, true, &rom, why, sizeof(why)));
}

/* The wait for the second stage timed out; the second stage then arrives
 * while the finished attempt is still being reported. It is not the dead
 * attempt's any more: it gets an attempt of its own, or an IGNORED event
 * saying why not. */
static void test_late_second_stage(unsigned count)
{
	struct script_source s;
	struct observed o = { .arrive_in_finished = true, .arrive_id = 2 };
	struct rp_runner_opts ro = { .count = count, .reenum_timeout_ms = 100,
				     .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	run(&s, p, &ro, &o, &sum);
	CHECK(o.n_finished >= 1);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_TIMEOUT);
	CHECK_CONTAINS(o.finished[0].error, "did not re-enumerate");
	if (count == 1) {
		/* Nothing more may start: said so. */
		CHECK_EQ_INT(o.n_finished, 1);
		CHECK_EQ_INT(o.ignored, 1);
		CHECK_CONTAINS(o.ignored_reasons, "requested number of boards");
	} else {
		CHECK_EQ_INT(o.n_finished, 2);
		CHECK_EQ_INT(o.started, 2);
		CHECK_EQ_INT(o.finished[1].result, RP_RESULT_SERVED);
		CHECK_EQ_INT(o.finished_dev[1], 2);
		CHECK(was_opened(&s, 2));
	}
	rp_payload_free(p);
}

/* Stage 1 failed (the ROM returned an error); a second stage on that port
 * arriving before the attempt is reported is served by a fresh attempt. */
static void test_second_stage_after_failed_stage1(void)
{
	struct script_source s;
	struct observed o = { .arrive_in_finished = true, .arrive_id = 2 };
	struct rp_runner_opts ro = { .count = 0, .reenum_timeout_ms = 2000, .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	s.rom_code = 1;
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.n_finished, 2);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_FAILED);
	CHECK_CONTAINS(o.finished[0].error, "boot ROM returned error code 1");
	CHECK_EQ_INT(o.finished[1].result, RP_RESULT_SERVED);
	CHECK_EQ_INT(o.finished_dev[1], 2);
	rp_payload_free(p);
}

/* A second stage handed over while stage 1 was still running, then stage
 * 1 fails: the board did start its second stage, so it is served by a
 * fresh attempt rather than dropped with the failed one. */
static void test_handed_over_then_stage1_failed(void)
{
	struct script_source s;
	struct observed o = { 0 };
	struct rp_runner_opts ro = { .count = 0, .reenum_timeout_ms = 2000, .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	s.rom_code = 1;
	s.rom_delay_ms = 200; /* the event thread hands the second stage over meanwhile */
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	arm_second_stage(&s, 2);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.n_finished, 2);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_FAILED);
	CHECK_EQ_INT(o.finished[1].result, RP_RESULT_SERVED);
	CHECK_EQ_INT(o.finished_dev[1], 2);
	CHECK(was_opened(&s, 2));
	rp_payload_free(p);
}

/* A 2711 ROM leaves and a 2712 second stage shows up on the same port:
 * another board, never opened under the 2711 attempt. */
static void test_other_kind_on_the_port(void)
{
	struct script_source s;
	struct observed o = { 0 };
	struct rp_runner_opts ro = { .count = 0, .reenum_timeout_ms = 300, .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	s.rom_delay_ms = 50;
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	push(&s, RP_SOURCE_LEFT, RP_STAGE_ROM, 0x2711, 1);
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_SECOND, 0x2712, 2);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.n_finished, 2);
	CHECK_EQ_INT(o.started, 2);
	for (unsigned i = 0; i < 2 && i < o.n_finished; i++) {
		if (o.finished[i].pid == 0x2711) {
			CHECK(o.finished[i].result != RP_RESULT_SERVED);
			CHECK_EQ_INT(o.finished_dev[i], 1);
		} else {
			CHECK_EQ_INT(o.finished[i].pid, 0x2712);
			CHECK_STR_EQ(o.finished[i].soc, "2712");
			CHECK_EQ_INT(o.finished[i].result, RP_RESULT_SERVED);
			CHECK_EQ_INT(o.finished_dev[i], 2);
		}
	}
	rp_payload_free(p);
}

/* ---- timeouts beyond 32-bit milliseconds ---- */

struct stopper {
	struct rp_runner *r;
	unsigned after_ms;
};

static void *stop_later(void *arg)
{
	struct stopper *st = arg;
	sleep_ms(st->after_ms);
	rp_runner_stop(st->r);
	return NULL;
}

static void test_long_timeouts(void)
{
	struct script_source s;
	struct observed o = { 0 };
	/* 2^32 ms + a little: 32 bits would make these 300 ms and 50 ms. */
	struct rp_runner_opts ro = { .count = 0,
				     .idle_timeout_ms = (uint64_t)UINT32_MAX + 1 + 300,
				     .board_timeout_ms = (uint64_t)UINT32_MAX + 1 + 50,
				     .reenum_timeout_ms = 2000 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();
	struct rp_runner *r = NULL;
	struct stopper st = { .after_ms = 1200 };
	pthread_t th;

	source_init(&s);
	/* Stage 1 takes 150 ms: past a 50 ms deadline, well inside the real one. */
	s.rom_delay_ms = 150;
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	arm_second_stage(&s, 2);
	o.src = &s;
	ro.source = &s.base;
	ro.payload = p;
	ro.mode = RP_SESSION_SERVE;
	ro.on_event = on_event;
	ro.event_ctx = &o;
	CHECK_EQ_INT(rp_runner_new(&ro, &r, NULL), RP_OK);
	st.r = r;
	CHECK_EQ_INT(pthread_create(&th, NULL, stop_later, &st), 0);
	CHECK_EQ_INT(rp_runner_run(r, &sum, NULL), RP_OK);
	pthread_join(th, NULL);
	rp_runner_free(r);
	CHECK(!sum.idle_timed_out);
	CHECK(sum.stopped);
	CHECK_EQ_INT(sum.served, 1);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_SERVED);
	rp_payload_free(p);
}

/* C16, C17: after stage 1 the board comes back as its boot ROM instead
 * of the second stage. The attempt claims that ROM, runs stage 1 on it
 * again and serves the second stage that follows: one attempt, served,
 * not a FAILED record and a new attempt. */
static void test_rom_came_back(void)
{
	struct script_source s;
	struct observed o = { 0 };
	struct rp_runner_opts ro = { .count = 0, .reenum_timeout_ms = 2000, .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	s.on_rc_delay_ms = 100;
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	arm_next(&s, 2, true);
	arm_second_stage(&s, 3);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.started, 1);
	CHECK_EQ_INT(o.n_finished, 1);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_SERVED);
	CHECK_EQ_INT(o.finished_dev[0], 3);
	CHECK(was_opened(&s, 2));
	rp_payload_free(p);
}

/* C13: the status read fails and the ROM stays on the bus, stuck: no
 * second stage comes. Once the re-enumeration wait is over, stage 1 runs
 * again on the same ROM, and the board comes up. */
static void test_rom_stuck_after_status(void)
{
	struct script_source s;
	struct observed o = { 0 };
	struct rp_runner_opts ro = { .count = 0, .reenum_timeout_ms = 300, .idle_timeout_ms = 600 };
	struct rp_runner_summary sum;
	struct rp_payload *p = second_stages();

	source_init(&s);
	push(&s, RP_SOURCE_ARRIVED, RP_STAGE_ROM, 0x2711, 1);
	s.stuck_rom_id = 1;
	arm_second_stage(&s, 2);
	run(&s, p, &ro, &o, &sum);
	CHECK_EQ_INT(o.started, 1);
	CHECK_EQ_INT(o.n_finished, 1);
	CHECK_EQ_INT(o.finished[0].result, RP_RESULT_SERVED);
	CHECK_EQ_INT(o.finished_dev[0], 2);
	rp_payload_free(p);
}

int main(void)
{
	RUN(test_handoff());
	RUN(test_open_fails_while_enumerating());
	RUN(test_serial_filter_at_rom());
	RUN(test_late_second_stage(0));
	RUN(test_late_second_stage(1));
	RUN(test_second_stage_after_failed_stage1());
	RUN(test_handed_over_then_stage1_failed());
	RUN(test_other_kind_on_the_port());
	RUN(test_long_timeouts());
	RUN(test_rom_came_back());
	RUN(test_rom_stuck_after_status());
	return test_result();
}
