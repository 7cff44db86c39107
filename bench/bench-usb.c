/* USB path figures through umockdev: whole boards (stage 1, re-enumeration,
 * 512 KiB image, metadata) flashed by the runner over the real libusb
 * backend against emulated boards (tests/usb/usb_emu.h), 1 and 8 at a
 * time, on an xHCI-like host (scatter-gather: one URB per bulk call) and
 * on a host without scatter-gather (libusb splits into 16 KiB URBs), and
 * with a few bulk chunk sizes.
 *
 * The device model answers instantly (no SPI time), so the wall time per
 * board is host overhead plus the emulation cost (~0.5-0.8 ms per URB
 * through umockdev's socket): an upper bound of what rpiprov adds per
 * board. URB counts are exact and do not depend on the machine. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "usb/usb_source.h"
#include "usb_emu.h"
#include "usb_payload.h"
#include "util/clock.h"

#define MAX_BOARDS 8
#define TARGET_MS_PER_BOARD 500.0

struct bench_case {
	const char *name;
	unsigned boards;
	uint32_t caps;
	size_t chunk; /* 0: backend default */
};

struct collected {
	pthread_mutex_t lock;
	unsigned ok;
	double board_ms_sum, board_ms_max;
};

static void on_event(void *ctx, const struct rp_runner_event *ev)
{
	struct collected *c = ctx;
	double ms;

	if (ev->type != RP_RUNNER_BOARD_FINISHED)
		return;
	ms = (double)(ev->record->end_unix_ms - ev->record->start_unix_ms);
	pthread_mutex_lock(&c->lock);
	if (ev->record->result == RP_RESULT_OK)
		c->ok++;
	c->board_ms_sum += ms;
	if (ms > c->board_ms_max)
		c->board_ms_max = ms;
	pthread_mutex_unlock(&c->lock);
}

static int run_case(const struct bench_case *bc, struct usb_payload *pl, bool *over_target)
{
	static const char *const ports[MAX_BOARDS] = { "1-1.1", "1-1.2", "1-1.3", "1-1.4",
						       "1-1.5", "1-1.6", "1-1.7", "1-1.8" };
	struct usb_emu *e = usb_emu_new();
	struct rp_usb_source_options uo = { .enumerate_existing = 1, .bulk_chunk = bc->chunk };
	struct collected col = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rp_runner_opts ro;
	struct rp_runner_summary sum;
	struct rp_source *src = NULL;
	struct rp_runner *r = NULL;
	struct usb_emu_stats st, tot = { 0 };
	struct rp_diag d;
	uint64_t t0, t1;
	int rc;

	if (!e)
		return -1;
	for (unsigned i = 0; i < bc->boards; i++) {
		struct usb_emu_board_opts o;
		memset(&o, 0, sizeof(o));
		rp_sim_params_default(&o.params, i + 1);
		o.port_path = ports[i];
		o.caps = bc->caps;
		if (usb_emu_plug(e, &o) < 0) {
			usb_emu_free(e);
			return -1;
		}
	}
	rc = rp_usb_source_new(&uo, &src, &d);
	if (rc < 0) {
		fprintf(stderr, "bench-usb: %s\n", rp_diag_message(&d));
		usb_emu_free(e);
		return -1;
	}
	memset(&ro, 0, sizeof(ro));
	ro.source = src;
	ro.payload = pl->p;
	ro.mode = RP_SESSION_FLASH;
	ro.count = bc->boards;
	ro.bulk_chunk = 1u << 20; /* the session's calls; the backend splits them into its chunks */
	ro.request_timeout_ms = 5000;
	ro.on_event = on_event;
	ro.event_ctx = &col;
	t0 = rp_now_us();
	rc = rp_runner_new(&ro, &r, &d);
	if (rc == RP_OK)
		rc = rp_runner_run(r, &sum, &d);
	t1 = rp_now_us();
	rp_runner_free(r);
	src->ops->destroy(src);
	if (rc < 0) {
		fprintf(stderr, "bench-usb: %s\n", rp_diag_message(&d));
		usb_emu_free(e);
		return -1;
	}
	for (unsigned i = 0; i < bc->boards; i++) {
		usb_emu_stats(e, i, &st);
		tot.urbs += st.urbs;
		tot.control_urbs += st.control_urbs;
		tot.bulk_urbs += st.bulk_urbs;
		tot.bulk_bytes += st.bulk_bytes;
		tot.ioctls += st.ioctls;
		if (st.max_bulk_urb > tot.max_bulk_urb)
			tot.max_bulk_urb = st.max_bulk_urb;
	}
	{
		double n = bc->boards, mean = col.board_ms_sum / n;
		printf("%-26s %2u  %4u/%-2u %8.1f %8.1f %8.1f  %6.1f %6.1f %6.1f %9.0f %8llu %7.0f\n",
		       bc->name, bc->boards, col.ok, bc->boards, (double)(t1 - t0) / 1000.0, mean,
		       col.board_ms_max, (double)tot.urbs / n, (double)tot.control_urbs / n,
		       (double)tot.bulk_urbs / n,
		       tot.bulk_urbs ? (double)tot.bulk_bytes / (double)tot.bulk_urbs : 0.0,
		       (unsigned long long)tot.max_bulk_urb, (double)tot.ioctls / n);
		if (col.ok != bc->boards || col.board_ms_max > TARGET_MS_PER_BOARD)
			*over_target = true;
	}
	usb_emu_free(e);
	return 0;
}

int main(void)
{
	static const struct bench_case cases[] = {
		{ "xhci, 128K chunks", 1, USB_EMU_CAPS_XHCI, 0 },
		{ "xhci, 128K chunks", 8, USB_EMU_CAPS_XHCI, 0 },
		{ "no-SG host, 128K chunks", 1, USB_EMU_CAPS_NO_SG, 0 },
		{ "no-SG host, 128K chunks", 8, USB_EMU_CAPS_NO_SG, 0 },
		{ "xhci, 16K chunks", 1, USB_EMU_CAPS_XHCI, 16u * 1024u },
		{ "xhci, 1M chunks", 1, USB_EMU_CAPS_XHCI, 1u << 20 },
	};
	struct usb_payload pl;
	bool over = false;

	if (usb_payload_init(&pl) < 0)
		return EXIT_FAILURE;
	printf("rpiprov USB path through umockdev: %u KiB image + %u-byte second stage per board\n",
	       USB_PAYLOAD_IMAGE_SIZE / 1024, USB_PAYLOAD_SECOND_STAGE_SIZE);
	printf("(board ms = its record's start to end, incl. re-enumeration; URBs and ioctls per "
	       "board)\n\n");
	printf("%-26s %2s  %7s %8s %8s %8s  %6s %6s %6s %9s %8s %7s\n", "case", "N", "ok", "wall ms",
	       "board ms", "max ms", "URBs", "ctrl", "bulk", "B/bulkURB", "maxURB", "ioctls");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (run_case(&cases[i], &pl, &over) < 0) {
			usb_payload_free(&pl);
			return EXIT_FAILURE;
		}
	printf("\ntarget: every board OK and < %.0f ms per board under emulation: %s\n",
	       TARGET_MS_PER_BOARD, over ? "MISSED" : "met");
	usb_payload_free(&pl);
	return over ? EXIT_FAILURE : EXIT_SUCCESS;
}
