/* The libusb device source against emulated boards, in-process. */
#include <pthread.h>
#include <string.h>

#include "testlib.h"
#include "usb/usb_source.h"
#include "usb_emu.h"
#include "util/clock.h"

static struct usb_emu_board_opts board_opts(unsigned n, const char *port)
{
	struct usb_emu_board_opts o;
	memset(&o, 0, sizeof(o));
	rp_sim_params_default(&o.params, n);
	o.port_path = port;
	return o;
}

static int next_of_type(struct rp_source *s, enum rp_source_event_type type,
			struct rp_source_event *ev, int timeout_ms)
{
	uint64_t deadline = rp_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = rp_now_ms();
		int r;
		if (now >= deadline)
			return RP_ERR_TIMEOUT;
		r = s->ops->next_event(s, ev, (int)(deadline - now));
		if (r < 0 || ev->type == type)
			return r;
	}
}

static void test_enumerate_existing(void)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o1 = board_opts(1, "1-1.3"), o2 = board_opts(2, "1-2");
	struct rp_usb_source_options uo = { .enumerate_existing = 1, .read_rom_serials = 1 };
	struct rp_source *src = NULL;
	struct rp_source_event ev[3];
	struct rp_diag d;
	int r, n = 0;

	CHECK(e != NULL);
	if (!e)
		return;
	o2.num_interfaces = 2;
	CHECK_EQ_INT(usb_emu_plug(e, &o1), 0);
	CHECK_EQ_INT(usb_emu_plug(e, &o2), 1);
	r = rp_usb_source_new(&uo, &src, &d);
	CHECK_EQ_INT(r, RP_OK);
	if (r < 0) {
		fprintf(stderr, "%s\n", d.msg);
		usb_emu_free(e);
		return;
	}
	CHECK(rp_usb_source_has_hotplug(src));
	/* Everything present is queued by the time the source exists. */
	while (n < 3 && src->ops->next_event(src, &ev[n], 0) == RP_OK)
		n++;
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++) {
		struct rp_device_info *in = &ev[i].info;
		bool first = !strcmp(in->port_path, "1-1.3");
		CHECK_EQ_INT(ev[i].type, RP_SOURCE_ARRIVED);
		CHECK(first || !strcmp(in->port_path, "1-2"));
		CHECK_EQ_INT(in->vid, 0x0a5c);
		CHECK_EQ_INT(in->pid, 0x2711);
		CHECK_EQ_INT(in->bus, 1);
		CHECK_EQ_INT(in->stage, RP_STAGE_ROM);
		/* F2, F3: index 3, the low 32 bits of the board serial as 8
		 * lowercase hex digits, which --serial matches at the ROM. */
		CHECK_EQ_INT(in->serial_index, 3);
		CHECK_EQ_INT(strlen(in->serial), 8);
		CHECK(strspn(in->serial, "0123456789abcdef") == 8);
		/* The one-interface ROM has the 2711 descriptor quirk (F4:
		 * claims 55 bytes and 2 interfaces, 32 bytes arrive): libusb
		 * still reads 1 interface. */
		CHECK_EQ_INT(in->num_interfaces, first ? 1 : 2);
		CHECK(in->address > 1);
	}
	if (n == 2) {
		CHECK(ev[0].info.address != ev[1].info.address);
		CHECK(ev[0].info.id != ev[1].info.id);
	}
	src->ops->destroy(src);
	usb_emu_free(e);
}

/* Arrival and departure as they happen, by hotplug or by polling. */
static void test_arrive_leave(bool polling)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o1 = board_opts(1, "1-4.1.2"), o2 = board_opts(2, "1-5");
	struct rp_usb_source_options uo = { .force_polling = polling, .poll_interval_ms = 20 };
	struct rp_source *src = NULL;
	struct rp_source_event ev, left;
	struct rp_diag d;
	int r;

	CHECK(e != NULL);
	/* Present before the source starts, not reported (enumerate_existing = 0). */
	CHECK_EQ_INT(usb_emu_plug(e, &o2), 0);
	r = rp_usb_source_new(&uo, &src, &d);
	CHECK_EQ_INT(r, RP_OK);
	if (r < 0) {
		usb_emu_free(e);
		return;
	}
	CHECK_EQ_INT(rp_usb_source_has_hotplug(src), !polling);
	CHECK_EQ_INT(src->ops->next_event(src, &ev, 0), RP_ERR_TIMEOUT);
	CHECK_EQ_INT(usb_emu_plug(e, &o1), 1);
	r = next_of_type(src, RP_SOURCE_ARRIVED, &ev, 5000);
	CHECK_EQ_INT(r, RP_OK);
	CHECK_STR_EQ(ev.info.port_path, "1-4.1.2");
	CHECK_EQ_INT(ev.info.stage, RP_STAGE_ROM);
	usb_emu_unplug(e, 1);
	r = next_of_type(src, RP_SOURCE_LEFT, &left, 5000);
	CHECK_EQ_INT(r, RP_OK);
	CHECK_STR_EQ(left.info.port_path, "1-4.1.2");
	CHECK_EQ_INT(left.info.id, ev.info.id);
	CHECK_EQ_INT(left.info.address, ev.info.address);
	/* The board present at start was never reported, so its departure is not either. */
	usb_emu_unplug(e, 0);
	CHECK(usb_emu_wait_settled(e, 5000));
	CHECK_EQ_INT(src->ops->next_event(src, &ev, polling ? 200 : 50), RP_ERR_TIMEOUT);
	src->ops->destroy(src);
	usb_emu_free(e);
}

struct waker {
	struct rp_source *src;
	int result;
};

static void *wait_forever(void *p)
{
	struct waker *w = p;
	struct rp_source_event ev;
	w->result = w->src->ops->next_event(w->src, &ev, -1);
	return NULL;
}

static void test_wakeup(void)
{
	struct usb_emu *e = usb_emu_new();
	struct rp_source *src = NULL;
	struct waker w = { .result = 1 };
	struct rp_diag d;
	pthread_t th;

	CHECK_EQ_INT(rp_usb_source_new(NULL, &src, &d), RP_OK);
	if (!src) {
		usb_emu_free(e);
		return;
	}
	w.src = src;
	pthread_create(&th, NULL, wait_forever, &w);
	src->ops->wakeup(src);
	pthread_join(th, NULL);
	CHECK_EQ_INT(w.result, RP_ERR_INTERRUPTED);
	src->ops->destroy(src);
	usb_emu_free(e);
}

/* The device node cannot be opened: the message names the board and the fix. */
static void test_permission_denied(void)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o = board_opts(1, "1-7");
	struct rp_usb_source_options uo = { .enumerate_existing = 1 };
	struct rp_source *src = NULL;
	struct rp_transport *t = NULL;
	struct rp_source_event ev;
	struct usb_emu_stats st;
	struct rp_diag d;
	int r;

	o.deny_access = true;
	CHECK_EQ_INT(usb_emu_plug(e, &o), 0);
	CHECK_EQ_INT(rp_usb_source_new(&uo, &src, &d), RP_OK);
	if (!src) {
		usb_emu_free(e);
		return;
	}
	CHECK_EQ_INT(src->ops->next_event(src, &ev, 0), RP_OK);
	rp_diag_clear(&d);
	r = src->ops->open(src, &ev.info, &t, &d);
	CHECK_EQ_INT(r, RP_ERR_ACCESS);
	CHECK(t == NULL);
	CHECK_EQ_INT(d.code, RP_ERR_ACCESS);
	CHECK_CONTAINS(d.msg, "permission denied");
	CHECK_CONTAINS(d.msg, "USB port 1-7");
	CHECK_CONTAINS(d.msg, "/dev/bus/usb/001/");
	CHECK_CONTAINS(d.msg, "60-rpiprov.rules");
	CHECK_CONTAINS(d.msg, "plugdev");
	usb_emu_stats(e, 0, &st);
	CHECK_EQ_INT(st.urbs, 0);
	CHECK_EQ_INT(st.ioctls, 0);
	/* A board that is gone cannot be opened either, and says so. */
	usb_emu_unplug(e, 0);
	CHECK_EQ_INT(next_of_type(src, RP_SOURCE_LEFT, &ev, 5000), RP_OK);
	r = src->ops->open(src, &ev.info, &t, &d);
	CHECK_EQ_INT(r, RP_ERR_NO_DEVICE);
	CHECK_CONTAINS(d.msg, "left the bus");
	src->ops->destroy(src);
	usb_emu_free(e);
}

/* Raw transfers through the transport: the vendor requests reach the model. */
static void test_transport(void)
{
	struct usb_emu *e = usb_emu_new();
	struct usb_emu_board_opts o = board_opts(1, "1-2.2");
	struct rp_usb_source_options uo = { .enumerate_existing = 1 };
	struct rp_source *src = NULL;
	struct rp_transport *t = NULL;
	struct rp_source_event ev;
	struct usb_emu_stats st;
	uint8_t msg[24] = { 0 };
	struct rp_diag d;
	size_t sent = 0;
	int r;

	o.num_interfaces = 2; /* interface 1, endpoint 3 */
	CHECK_EQ_INT(usb_emu_plug(e, &o), 0);
	CHECK_EQ_INT(rp_usb_source_new(&uo, &src, &d), RP_OK);
	if (!src) {
		usb_emu_free(e);
		return;
	}
	CHECK_EQ_INT(src->ops->next_event(src, &ev, 0), RP_OK);
	r = src->ops->open(src, &ev.info, &t, &d);
	CHECK_EQ_INT(r, RP_OK);
	if (r == RP_OK) {
		/* The ep_write header of a 24-byte boot message, then its bytes. */
		msg[0] = 16; /* second stage length 16, little-endian */
		CHECK_EQ_INT(rp_transport_control_out(t, 0, sizeof(msg), 0, NULL, 0, 1000), RP_OK);
		CHECK_EQ_INT(rp_transport_bulk_out(t, msg, sizeof(msg), &sent, 1000), RP_OK);
		CHECK_EQ_INT(sent, sizeof(msg));
		usb_emu_stats(e, 0, &st);
		/* ROM serials are read only when asked (--serial, list): a
		 * board no filter selects is never opened. */
		CHECK_EQ_INT(st.opens, 1);
		CHECK_EQ_INT(st.model_transfers, 2);
		CHECK_EQ_INT(st.bulk_bytes, sizeof(msg));
		CHECK_EQ_INT(st.bulk_urbs, 1);
		rp_transport_close(t);
	}
	src->ops->destroy(src);
	usb_emu_free(e);
}

int main(void)
{
	RUN(test_enumerate_existing());
	RUN(test_arrive_leave(false));
	RUN(test_arrive_leave(true));
	RUN(test_wakeup());
	RUN(test_permission_denied());
	RUN(test_transport());
	return test_result();
}
