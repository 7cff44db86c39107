/* The emulator behind usb_emu.h. Per board: the device model, the
 * enumeration currently on the bus (device node, address, descriptors,
 * ioctl handler) and one FIFO of URBs in submission order, which the model
 * answers strictly in turn (ep0 and the bulk endpoint of the rpiboot
 * protocol are never used concurrently, as on the real device).
 *
 * umockdev's worker thread runs the ioctl handler: it queues URBs, reaps
 * finished ones and answers everything else at once, never waiting. The
 * model itself runs on the emulator's loop thread: an URB it cannot answer
 * yet (RP_ERR_AGAIN) stays at the head of the FIFO and a GLib timeout
 * retries it when the model says it will be ready. Results are written
 * into the client's URB only when it is reaped, on the worker thread, so
 * the client's memory is only touched from there. */
#include "usb_emu.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <umockdev.h>
#include <unistd.h>
#include <linux/usbdevice_fs.h>

#include "sim/sim_second_stage.h"
#include "soc/soc.h"
#include "transport/devices.h"
#include "usb_emu_desc.h"
#include "util/clock.h"
#include "util/endian.h"

/* usbfs refuses bigger URBs (usbfs_memory_mb). */
#define MAX_URB_BUFFER (16u << 20)
/* A kernfs file that even root cannot open for writing: the device node of
 * a board with deny_access points there, so libusb's open() fails with
 * EACCES whoever runs the test (chmod alone does not stop root). */
#define DENY_TARGET "/sys/devices/system/cpu/online"
#define LINUX_USB_SPEED_FULL 2
#define LINUX_USB_SPEED_HIGH 3
/* open_fails_once (doc/hardware.md F8): the device node of a freshly
 * re-enumerated second stage is missing this long after its "add"
 * uevent, so the first open fails (libusb's own 10 ms ENOENT retry
 * included) and a later one succeeds. */
#define OPEN_FAIL_MS 300u

struct emu_board;

struct emu_enum {
	struct emu_board *board;
	unsigned gen;
	uint8_t address;
	char devnode[40];
	char serial[RP_SERIAL_MAX];
	uint8_t serial_index;
	struct emu_desc desc;
	UMockdevIoctlBase *handler;
	bool present;               /* on the bus: ioctls work */
	bool open_fails;            /* F8: the node appears OPEN_FAIL_MS after the uevent */
	UMockdevIoctlClient *claim[2]; /* not referenced: compared only */
};

struct emu_urb {
	struct emu_enum *en;
	UMockdevIoctlClient *client; /* ref */
	UMockdevIoctlData *data;     /* ref: the client's struct usbdevfs_urb */
	UMockdevIoctlData *buf;      /* ref, NULL without buffer */
	gulong user_addr;
	uint8_t type, ep;
	size_t len;
	bool done;
	int status;
	size_t actual;
	uint8_t *in;                 /* IN data, copied into the client buffer at reap */
	size_t in_len, in_off;
};

struct emu_board {
	struct usb_emu *emu;
	unsigned index;
	struct usb_emu_board_opts opts;
	char port_path[RP_PORT_PATH_MAX];
	char devpath[RP_PORT_PATH_MAX]; /* port path without "bus-" */
	char syspath[320];              /* "/sys/devices/..." */
	char product[32];
	uint8_t bus;
	struct rp_sim_board *model;
	struct emu_enum *cur;           /* NULL while off the bus */
	GPtrArray *enums;               /* every enumeration, freed at the end */
	GQueue urbs;
	GSource *retry;
	uint64_t retry_at;
	GSource *pump_src;
	GSource *bus_timer;
	bool plug_pending;
	bool detach_pending;            /* off the bus, testbed removal queued */
	struct usb_emu_stats st;
};

struct usb_emu {
	UMockdevTestbed *tb;
	char *root;
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	GMutex lock;
	GPtrArray *boards;
	/* Loop thread only: */
	GHashTable *hubs;               /* syspaths of hubs already added */
	uint8_t next_addr[256];
	bool addr_used[256][128];
};

/* --- running things on the emulator's loop -------------------------------- */

struct loop_call {
	void (*fn)(void *);
	void *arg;
	GMutex m;
	GCond c;
	bool done;
};

static gboolean loop_call_cb(gpointer p)
{
	struct loop_call *c = p;
	c->fn(c->arg);
	g_mutex_lock(&c->m);
	c->done = true;
	g_cond_signal(&c->c);
	g_mutex_unlock(&c->m);
	return G_SOURCE_REMOVE;
}

/* Testbed changes all happen on the loop thread, one at a time. */
static void run_on_loop(struct usb_emu *e, void (*fn)(void *), void *arg)
{
	struct loop_call c = { .fn = fn, .arg = arg };
	GSource *s;

	if (g_main_context_is_owner(e->ctx)) {
		fn(arg);
		return;
	}
	g_mutex_init(&c.m);
	g_cond_init(&c.c);
	s = g_idle_source_new();
	g_source_set_callback(s, loop_call_cb, &c, NULL);
	g_source_attach(s, e->ctx);
	g_source_unref(s);
	g_mutex_lock(&c.m);
	while (!c.done)
		g_cond_wait(&c.c, &c.m);
	g_mutex_unlock(&c.m);
	g_mutex_clear(&c.m);
	g_cond_clear(&c.c);
}

static GSource *add_timeout(struct usb_emu *e, uint64_t ms, GSourceFunc fn, void *data)
{
	GSource *s = g_timeout_source_new(ms > G_MAXUINT ? G_MAXUINT : (guint)ms);
	g_source_set_callback(s, fn, data, NULL);
	g_source_attach(s, e->ctx);
	return s;
}

static void cancel_source(GSource **s)
{
	if (*s) {
		g_source_destroy(*s);
		g_source_unref(*s);
		*s = NULL;
	}
}

static gpointer loop_thread(gpointer p)
{
	struct usb_emu *e = p;
	g_main_context_push_thread_default(e->ctx);
	g_main_loop_run(e->loop);
	g_main_context_pop_thread_default(e->ctx);
	return NULL;
}

/* --- uevents ---------------------------------------------------------------- */

/* umockdev (0.17) hands each uevent to every listener's datagram socket
 * without blocking and aborts the whole emulator when one is full
 * ("sendmsg failed: Resource temporarily unavailable"): a listener that
 * has not yet read its last net.unix.max_dgram_qlen (often 10) events,
 * as a busy rpiprov under a loaded CI machine may not have, killed a test
 * run with SIGABRT. So before each uevent wait, bounded, until every
 * listener has room: a connected datagram socket polls writable exactly
 * when its peer's queue is not full, and every uevent is sent from the
 * emulator's one loop thread, so nothing fills the room in between. */
static void wait_listeners_have_room(struct usb_emu *e)
{
	char pattern[PATH_MAX];
	glob_t gl;

	snprintf(pattern, sizeof(pattern), "%s/event[0-9]*", e->root);
	if (glob(pattern, GLOB_NOSORT, NULL, &gl) != 0)
		return;
	for (size_t i = 0; i < gl.gl_pathc; i++) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		g_strlcpy(addr.sun_path, gl.gl_pathv[i], sizeof(addr.sun_path));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, 5000) == 0)
				fprintf(stderr, "usb_emu: %s has not read its uevents for 5 s\n",
					gl.gl_pathv[i]);
		}
		close(fd);
	}
	globfree(&gl);
}

static void send_uevent(struct usb_emu *e, const char *syspath, const char *action)
{
	wait_listeners_have_room(e);
	umockdev_testbed_uevent(e->tb, syspath, action);
}

/* --- testbed topology ------------------------------------------------------- */

static uint8_t alloc_address(struct usb_emu *e, uint8_t bus)
{
	for (unsigned tries = 0; tries < 126; tries++) {
		uint8_t a = e->next_addr[bus] < 2 || e->next_addr[bus] > 127 ? 2 : e->next_addr[bus];
		e->next_addr[bus] = (uint8_t)(a + 1);
		if (!e->addr_used[bus][a]) {
			e->addr_used[bus][a] = true;
			return a;
		}
	}
	g_error("usb_emu: no free address on bus %u", bus);
	return 0;
}

static bool add_record(struct usb_emu *e, const char *record, const char *syspath)
{
	GError *err = NULL;

	if (!umockdev_testbed_add_from_string(e->tb, record, &err)) {
		fprintf(stderr, "usb_emu: adding %s failed: %s\n", syspath, err ? err->message : "?");
		g_clear_error(&err);
		return false;
	}
	/* add_from_string writes the files but sends no uevent. */
	send_uevent(e, syspath, "add");
	return true;
}

/* "/sys/devices/pci0000:00/0000:00:14.0/usb1" */
static char *root_syspath(uint8_t bus)
{
	return g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb%u", bus);
}

static void ensure_root_hub(struct usb_emu *e, uint8_t bus)
{
	char *sys = root_syspath(bus);
	struct emu_desc d;
	char *rec;

	if (g_hash_table_contains(e->hubs, sys)) {
		g_free(sys);
		return;
	}
	emu_desc_hub(&d, 1);
	e->addr_used[bus][1] = true;
	rec = emu_desc_record(sys + 4, bus, 1, "0", &d, "xHCI Host Controller", NULL);
	add_record(e, rec, sys);
	g_free(rec);
	g_hash_table_add(e->hubs, sys);
}

/* Hubs for every tier above the board: "1-1.4.2" needs 1-1 and 1-1.4. */
static void ensure_hubs(struct usb_emu *e, struct emu_board *b)
{
	char *parent = root_syspath(b->bus);
	char prefix[RP_PORT_PATH_MAX];
	const char *p = b->port_path;

	ensure_root_hub(e, b->bus);
	for (;;) {
		const char *dot = strchr(p, '.');
		char *sys, *rec;
		struct emu_desc d;
		uint8_t addr;

		if (!dot)
			break;
		g_snprintf(prefix, sizeof(prefix), "%.*s", (int)(dot - b->port_path), b->port_path);
		sys = g_strdup_printf("%s/%s", parent, prefix);
		if (!g_hash_table_contains(e->hubs, sys)) {
			emu_desc_hub(&d, 0);
			addr = alloc_address(e, b->bus);
			rec = emu_desc_record(sys + 4, b->bus, addr, strchr(prefix, '-') + 1, &d, "USB2.0 Hub",
					      NULL);
			add_record(e, rec, sys);
			g_free(rec);
			g_hash_table_add(e->hubs, g_strdup(sys));
		}
		g_free(parent);
		parent = sys;
		p = dot + 1;
	}
	g_snprintf(b->syspath, sizeof(b->syspath), "%s/%s", parent, b->port_path);
	g_free(parent);
}

/* --- URBs ------------------------------------------------------------------ */

static void urb_free(struct emu_urb *u)
{
	if (u->client)
		g_object_unref(u->client);
	if (u->buf)
		g_object_unref(u->buf);
	if (u->data)
		g_object_unref(u->data);
	g_free(u->in);
	g_free(u);
}

static void urb_finish(struct emu_urb *u, int status, size_t actual)
{
	u->done = true;
	u->status = status;
	u->actual = actual;
}

static int model_status(int r)
{
	switch (r) {
	case RP_OK:
	case RP_ERR_SHORT:
		return 0;
	case RP_ERR_NO_DEVICE:
		return -ENODEV;
	case RP_ERR_PIPE:
		return -EPIPE;
	case RP_ERR_OVERFLOW:
		return -EOVERFLOW;
	default:
		return -EPROTO;
	}
}

static void set_in_data(struct emu_urb *u, const uint8_t *data, size_t len, size_t off)
{
	g_free(u->in);
	u->in = len ? g_memdup2(data, len) : NULL;
	u->in_len = len;
	u->in_off = off;
}

/* Standard requests are answered by the "USB controller" of the board,
 * from the descriptors of the current enumeration. */
static int standard_request(struct emu_enum *en, const uint8_t *setup, uint8_t *data,
			    size_t wlength, size_t *actual)
{
	uint8_t type = setup[0], req = setup[1];
	uint16_t value = rp_get_le16(setup + 2);
	uint8_t tmp[256];
	size_t n = 0;

	*actual = 0;
	if (type == 0x80 && req == 6) { /* GET_DESCRIPTOR */
		switch (value >> 8) {
		case 1:
			n = 18;
			memcpy(tmp, en->desc.bytes, n);
			break;
		case 2:
			n = en->desc.len - 18;
			memcpy(tmp, en->desc.bytes + 18, n);
			break;
		case 3:
			n = emu_desc_board_string(tmp, sizeof(tmp), value & 0xff, en->board->product,
						  en->serial_index, en->serial);
			break;
		default:
			break;
		}
		if (!n)
			return -EPIPE;
		*actual = n < wlength ? n : wlength;
		memcpy(data, tmp, *actual);
		return 0;
	}
	if (type == 0x80 && req == 0) { /* GET_STATUS */
		memset(data, 0, wlength < 2 ? wlength : 2);
		*actual = wlength < 2 ? wlength : 2;
		return 0;
	}
	if ((type & 0x80) == 0 && (req == 9 || req == 11 || req == 1 || req == 3))
		return 0; /* SET_CONFIGURATION, SET_INTERFACE, CLEAR/SET_FEATURE */
	return -EPIPE;
}

static void unplug_locked(struct emu_board *b);

/* One URB against the model. RP_ERR_AGAIN (with *ready) leaves it pending. */
static int run_urb(struct emu_board *b, struct emu_urb *u, unsigned *ready)
{
	uint8_t *buf = u->buf ? u->buf->data : NULL;
	int r;

	*ready = 0;
	if (u->type == USBDEVFS_URB_TYPE_CONTROL) {
		uint8_t setup[8];
		uint16_t wlength;
		size_t actual = 0;

		if (!buf || u->len < 8) {
			urb_finish(u, -EINVAL, 0);
			return RP_OK;
		}
		memcpy(setup, buf, 8);
		wlength = rp_get_le16(setup + 6);
		if ((size_t)wlength + 8 > u->len) {
			urb_finish(u, -EINVAL, 0);
			return RP_OK;
		}
		if ((setup[0] & 0x60) != 0x40) {
			uint8_t tmp[256];
			int st = standard_request(u->en, setup, tmp, wlength < sizeof(tmp) ? wlength : sizeof(tmp),
						  &actual);
			if (st == 0 && (setup[0] & 0x80))
				set_in_data(u, tmp, actual, 8);
			urb_finish(u, st, (setup[0] & 0x80) ? actual : wlength);
			return RP_OK;
		}
		if (setup[0] & 0x80) {
			uint8_t *tmp = g_malloc(wlength ? wlength : 1);
			r = rp_sim_board_control_in(b->model, setup[1], rp_get_le16(setup + 2),
						    rp_get_le16(setup + 4), tmp, wlength, &actual, ready);
			if (r == RP_OK)
				set_in_data(u, tmp, actual, 8);
			g_free(tmp);
		} else {
			r = rp_sim_board_control_out(b->model, setup[1], rp_get_le16(setup + 2),
						     rp_get_le16(setup + 4), wlength ? buf + 8 : NULL,
						     wlength, ready);
			actual = wlength;
		}
		if (r == RP_ERR_AGAIN)
			return r;
		b->st.model_transfers++;
		urb_finish(u, model_status(r), r == RP_OK ? actual : 0);
		return RP_OK;
	}
	if (u->type == USBDEVFS_URB_TYPE_BULK && !(u->ep & 0x80)) {
		struct rp_endpoint_choice ep = rp_device_endpoints(u->en->desc.num_interfaces);
		size_t accepted = 0;

		if (u->ep != ep.out_ep) {
			urb_finish(u, -ENOENT, 0);
			return RP_OK;
		}
		if (b->opts.unplug_after_bulk_bytes &&
		    b->st.bulk_bytes + u->len >= b->opts.unplug_after_bulk_bytes) {
			/* Pulled out in the middle of this transfer. */
			unplug_locked(b);
			return RP_OK;
		}
		r = rp_sim_board_bulk_out(b->model, buf, u->len, &accepted, ready);
		if (r == RP_ERR_AGAIN)
			return r;
		b->st.model_transfers++;
		if (r == RP_OK)
			accepted = u->len;
		b->st.bulk_bytes += (r == RP_OK || r == RP_ERR_SHORT) ? accepted : 0;
		urb_finish(u, model_status(r), (r == RP_OK || r == RP_ERR_SHORT) ? accepted : 0);
		return RP_OK;
	}
	if (u->type == USBDEVFS_URB_TYPE_BULK) {
		/* The protocol never reads the bulk IN endpoint: nothing ever comes. */
		*ready = 24u * 3600u * 1000u;
		return RP_ERR_AGAIN;
	}
	urb_finish(u, -EINVAL, 0);
	return RP_OK;
}

static gboolean retry_cb(gpointer p);
static gboolean bus_change_cb(gpointer p);

static void schedule_retry(struct emu_board *b, unsigned ready_ms)
{
	uint64_t at = rp_now_ms() + (ready_ms ? ready_ms : 1);

	if (b->retry && b->retry_at <= at)
		return;
	cancel_source(&b->retry);
	b->retry_at = at;
	b->retry = add_timeout(b->emu, at - rp_now_ms(), retry_cb, b);
}

static void schedule_bus_change(struct emu_board *b)
{
	uint64_t at, now = rp_now_ms();
	bool attach;

	if (b->bus_timer || !rp_sim_board_bus_change(b->model, &at, &attach))
		return;
	b->bus_timer = add_timeout(b->emu, at > now ? at - now : 0, bus_change_cb, b);
}

/* Answer what can be answered, in order. Called with the lock held. */
static void pump(struct emu_board *b)
{
	GList *l = b->urbs.head;

	while (l) {
		struct emu_urb *u = l->data;
		GList *next = l->next;
		unsigned ready = 0;

		if (u->done) {
			l = next;
			continue;
		}
		if (!umockdev_ioctl_client_get_connected(u->client)) {
			/* The client closed its fd with the URB in flight: nobody will reap it. */
			g_queue_delete_link(&b->urbs, l);
			urb_free(u);
			l = next;
			continue;
		}
		if (run_urb(b, u, &ready) == RP_ERR_AGAIN) {
			schedule_retry(b, ready);
			break;
		}
		if (!b->cur)
			break; /* unplugged by this URB: the rest were failed with it */
		l = next;
	}
	schedule_bus_change(b);
}

static gboolean pump_cb(gpointer p)
{
	struct emu_board *b = p;
	struct usb_emu *e = b->emu;

	g_mutex_lock(&e->lock);
	if (b->pump_src == g_main_current_source()) {
		g_source_unref(b->pump_src);
		b->pump_src = NULL;
		if (!b->retry)
			pump(b);
	}
	g_mutex_unlock(&e->lock);
	return G_SOURCE_REMOVE;
}

/* The model runs on the emulator's loop thread only, never on umockdev's
 * worker: it hashes with OpenSSL, whose per-thread state must belong to a
 * thread this program joins (and the worker must never be held up). */
static void schedule_pump(struct emu_board *b)
{
	if (b->pump_src)
		return;
	b->pump_src = g_idle_source_new();
	g_source_set_priority(b->pump_src, G_PRIORITY_HIGH);
	g_source_set_callback(b->pump_src, pump_cb, b, NULL);
	g_source_attach(b->pump_src, b->emu->ctx);
}

static gboolean retry_cb(gpointer p)
{
	struct emu_board *b = p;
	struct usb_emu *e = b->emu;

	g_mutex_lock(&e->lock);
	if (b->retry == g_main_current_source()) {
		g_source_unref(b->retry);
		b->retry = NULL;
		pump(b);
	}
	g_mutex_unlock(&e->lock);
	return G_SOURCE_REMOVE;
}

/* --- enumerations ---------------------------------------------------------- */

/* Every URB still pending on en fails as on a disconnect. Lock held. */
static void fail_pending(struct emu_board *b, struct emu_enum *en)
{
	for (GList *l = b->urbs.head; l; l = l->next) {
		struct emu_urb *u = l->data;
		if (u->en == en && !u->done)
			urb_finish(u, -ESHUTDOWN, 0);
	}
	cancel_source(&b->retry);
}

static void remove_enum(void *p)
{
	struct emu_enum *en = p;
	struct emu_board *b = en->board;
	struct usb_emu *e = b->emu;
	GError *err = NULL;

	/* umockdev sends no "remove" uevent by itself; the sysfs entry must
	 * still exist for the uevent to carry the device's properties. */
	send_uevent(e, b->syspath, "remove");
	umockdev_testbed_remove_device(e->tb, b->syspath);
	if (!umockdev_testbed_detach_ioctl(e->tb, en->devnode, &err))
		g_clear_error(&err);
	e->addr_used[b->bus][en->address] = false;
	g_mutex_lock(&e->lock);
	b->detach_pending = false;
	g_mutex_unlock(&e->lock);
}

static gboolean remove_enum_cb(gpointer p)
{
	remove_enum(p);
	return G_SOURCE_REMOVE;
}

/* Take the board off the bus (lock held): ioctls fail from now on. The
 * caller removes it from the testbed (remove_enum, on the loop). */
static struct emu_enum *detach_locked(struct emu_board *b)
{
	struct emu_enum *en = b->cur;

	if (!en)
		return NULL;
	en->present = false;
	b->cur = NULL;
	b->st.present = false;
	b->detach_pending = true;
	fail_pending(b, en);
	return en;
}

/* Pulled out, from any thread: the testbed removal is queued ahead of
 * every timer, so it can never race a re-enumeration on the same path. */
static void unplug_locked(struct emu_board *b)
{
	struct emu_enum *en;
	GSource *s;

	rp_sim_board_unplug(b->model);
	cancel_source(&b->bus_timer);
	en = detach_locked(b);
	if (!en)
		return;
	s = g_idle_source_new();
	g_source_set_priority(s, G_PRIORITY_HIGH);
	g_source_set_callback(s, remove_enum_cb, en, NULL);
	g_source_attach(s, b->emu->ctx);
	g_source_unref(s);
}

static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer user);

static void on_client_connected(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer user)
{
	struct emu_enum *en = user;
	struct usb_emu *e = en->board->emu;
	(void)h;
	(void)client;
	g_mutex_lock(&e->lock);
	en->board->st.opens++;
	g_mutex_unlock(&e->lock);
}

struct node_restore {
	char from[512], to[512];
};

static gboolean node_restore_cb(gpointer p)
{
	struct node_restore *nr = p;
	if (rename(nr->from, nr->to) != 0)
		fprintf(stderr, "usb_emu: cannot restore %s\n", nr->to);
	return G_SOURCE_REMOVE;
}

/* Put the board on the bus as the model currently is (ROM or second
 * stage): new address, same port and sysfs path. Runs on the loop. */
static void enumerate(void *p)
{
	struct emu_board *b = p;
	struct usb_emu *e = b->emu;
	struct emu_enum *en = g_new0(struct emu_enum, 1);
	GError *err = NULL;
	char node[64];
	char *rec;

	ensure_hubs(e, b);
	g_mutex_lock(&e->lock);
	en->board = b;
	en->gen = b->enums->len + 1;
	en->address = alloc_address(e, b->bus);
	g_snprintf(en->devnode, sizeof(en->devnode), "/dev/bus/usb/%03u/%03u", b->bus, en->address);
	en->serial_index = rp_sim_board_serial_index(b->model);
	if (en->serial_index)
		g_strlcpy(en->serial, rp_sim_board_serial(b->model), sizeof(en->serial));
	emu_desc_board(&en->desc, rp_sim_board_pid(b->model), en->serial_index,
		       b->opts.num_interfaces, rp_sim_board_short_config(b->model),
		       b->opts.full_speed);
	en->open_fails = rp_sim_board_take_open_failure(b->model);
	g_ptr_array_add(b->enums, en);
	g_mutex_unlock(&e->lock);

	/* The handler must be in place before the node appears. */
	en->handler = umockdev_ioctl_base_new();
	g_signal_connect(en->handler, "handle-ioctl", G_CALLBACK(on_ioctl), en);
	g_signal_connect(en->handler, "client-connected", G_CALLBACK(on_client_connected), en);
	if (!umockdev_testbed_attach_ioctl(e->tb, en->devnode, en->handler, &err)) {
		fprintf(stderr, "usb_emu: attach_ioctl %s: %s\n", en->devnode, err ? err->message : "?");
		g_clear_error(&err);
	}
	rec = emu_desc_record(b->syspath + 4, b->bus, en->address, b->devpath, &en->desc,
			      b->product, en->serial_index ? en->serial : NULL);
	g_mutex_lock(&e->lock);
	en->present = true;
	b->cur = en;
	b->st.present = true;
	b->st.enumerations++;
	b->st.address = en->address;
	b->plug_pending = false;
	g_mutex_unlock(&e->lock);
	if (b->opts.deny_access) {
		/* Written before the uevent so that no client can open the real node. */
		if (!umockdev_testbed_add_from_string(e->tb, rec, &err)) {
			fprintf(stderr, "usb_emu: %s\n", err ? err->message : "?");
			g_clear_error(&err);
		}
		g_snprintf(node, sizeof(node), "%s%s", e->root, en->devnode);
		if (unlink(node) != 0 || symlink(DENY_TARGET, node) != 0)
			fprintf(stderr, "usb_emu: cannot deny access to %s\n", node);
		send_uevent(e, b->syspath, "add");
	} else if (en->open_fails) {
		struct node_restore *nr = g_new0(struct node_restore, 1);
		if (!umockdev_testbed_add_from_string(e->tb, rec, &err)) {
			fprintf(stderr, "usb_emu: %s\n", err ? err->message : "?");
			g_clear_error(&err);
		}
		g_snprintf(nr->to, sizeof(nr->to), "%s%s", e->root, en->devnode);
		g_snprintf(nr->from, sizeof(nr->from), "%s.enumerating", nr->to);
		if (rename(nr->to, nr->from) != 0)
			fprintf(stderr, "usb_emu: cannot hide %s\n", nr->to);
		send_uevent(e, b->syspath, "add");
		{
			GSource *t = g_timeout_source_new(OPEN_FAIL_MS);
			g_source_set_callback(t, node_restore_cb, nr, g_free);
			g_source_attach(t, e->ctx);
			g_source_unref(t);
		}
	} else {
		add_record(e, rec, b->syspath);
	}
	g_free(rec);
}

static gboolean bus_change_cb(gpointer p)
{
	struct emu_board *b = p;
	struct usb_emu *e = b->emu;
	struct emu_enum *gone = NULL;
	uint64_t at;
	bool attach, was, now_attached, do_enumerate = false;

	g_mutex_lock(&e->lock);
	if (b->bus_timer != g_main_current_source()) {
		g_mutex_unlock(&e->lock);
		return G_SOURCE_REMOVE;
	}
	g_source_unref(b->bus_timer);
	b->bus_timer = NULL;
	if (rp_sim_board_bus_change(b->model, &at, &attach)) {
		if (at > rp_now_ms()) {
			schedule_bus_change(b);
			g_mutex_unlock(&e->lock);
			return G_SOURCE_REMOVE;
		}
		was = rp_sim_board_attached(b->model);
		rp_sim_board_apply_bus_change(b->model);
		now_attached = rp_sim_board_attached(b->model);
		if (was && !now_attached)
			gone = detach_locked(b);
		else if (!was && now_attached)
			do_enumerate = true;
		if (do_enumerate)
			b->plug_pending = true;
	}
	g_mutex_unlock(&e->lock);
	if (gone)
		remove_enum(gone);
	if (do_enumerate)
		enumerate(b);
	g_mutex_lock(&e->lock);
	schedule_bus_change(b);
	g_mutex_unlock(&e->lock);
	return G_SOURCE_REMOVE;
}

/* --- ioctls ------------------------------------------------------------------ */

static int submit(struct emu_enum *en, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	struct emu_board *b = en->board;
	struct usb_emu *e = b->emu;
	UMockdevIoctlData *data, *buf = NULL;
	struct usbdevfs_urb urb;
	struct emu_urb *u;

	data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
	if (!data)
		return -EFAULT;
	memcpy(&urb, data->data, sizeof(urb));
	if (urb.buffer_length < 0 || (unsigned)urb.buffer_length > MAX_URB_BUFFER) {
		g_object_unref(data);
		return -ENOMEM;
	}
	if (urb.buffer_length > 0) {
		buf = umockdev_ioctl_data_resolve(data, offsetof(struct usbdevfs_urb, buffer),
						  (gsize)urb.buffer_length, NULL);
		if (!buf) {
			g_object_unref(data);
			return -EFAULT;
		}
	}
	u = g_new0(struct emu_urb, 1);
	u->en = en;
	u->client = g_object_ref(client);
	u->data = data;
	u->buf = buf;
	u->user_addr = data->client_addr;
	u->type = urb.type;
	u->ep = urb.endpoint;
	u->len = (size_t)urb.buffer_length;

	g_mutex_lock(&e->lock);
	if (!en->present) {
		g_mutex_unlock(&e->lock);
		urb_free(u);
		return -ENODEV;
	}
	b->st.urbs++;
	if (u->type == USBDEVFS_URB_TYPE_CONTROL)
		b->st.control_urbs++;
	if (u->type == USBDEVFS_URB_TYPE_BULK) {
		b->st.bulk_urbs++;
		if (u->len > b->st.max_bulk_urb)
			b->st.max_bulk_urb = u->len;
	}
	g_queue_push_tail(&b->urbs, u);
	/* Only the head may run: anything queued behind a waiting URB waits too. */
	if (!b->retry)
		schedule_pump(b);
	g_mutex_unlock(&e->lock);
	return 0;
}

/* Hand a finished URB of this client back: status and length into the
 * client's struct, IN data into its buffer, and the URB's address into
 * the reap argument. */
static int reap(struct emu_enum *en, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	struct emu_board *b = en->board;
	struct usb_emu *e = b->emu;
	struct emu_urb *found = NULL;
	UMockdevIoctlData *ptr;
	struct usbdevfs_urb *urb;

	g_mutex_lock(&e->lock);
	b->st.reaps++;
	for (GList *l = b->urbs.head; l; l = l->next) {
		struct emu_urb *u = l->data;
		if (u->done && u->client == client) {
			found = u;
			g_queue_delete_link(&b->urbs, l);
			break;
		}
	}
	if (!found) {
		bool gone = !en->present;
		b->st.reaps_empty++;
		g_mutex_unlock(&e->lock);
		return gone ? -ENODEV : -EAGAIN;
	}
	g_mutex_unlock(&e->lock);

	urb = (struct usbdevfs_urb *)found->data->data;
	urb->status = found->status;
	urb->actual_length = (int)found->actual;
	if (found->in && found->buf && found->in_off + found->in_len <= found->len)
		memcpy(found->buf->data + found->in_off, found->in, found->in_len);
	ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
	if (!ptr) {
		urb_free(found);
		return -EFAULT;
	}
	umockdev_ioctl_data_set_ptr(ptr, 0, found->data);
	g_object_unref(ptr);
	urb_free(found);
	return 0;
}

static int discard(struct emu_enum *en, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
	struct emu_board *b = en->board;
	struct usb_emu *e = b->emu;
	gulong addr = *(gulong *)arg->data;
	int r = -EINVAL;

	g_mutex_lock(&e->lock);
	b->st.discards++;
	for (GList *l = b->urbs.head; l; l = l->next) {
		struct emu_urb *u = l->data;
		if (u->client == client && u->user_addr == addr) {
			if (!u->done) {
				urb_finish(u, -ENOENT, 0);
				/* It may have been the one the retry waits for: the
				 * next may run now (a waiting URB asked again is
				 * answered AGAIN again, the model does not change). */
				cancel_source(&b->retry);
				schedule_pump(b);
				r = 0;
			}
			break;
		}
	}
	g_mutex_unlock(&e->lock);
	return r;
}

static int claim(struct emu_enum *en, UMockdevIoctlClient *client, UMockdevIoctlData *arg,
		 bool release)
{
	struct usb_emu *e = en->board->emu;
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned int), NULL);
	unsigned int itf;
	int r = 0;

	if (!d)
		return -EFAULT;
	memcpy(&itf, d->data, sizeof(itf));
	g_object_unref(d);
	g_mutex_lock(&e->lock);
	if (!en->present)
		r = -ENODEV;
	else if (itf >= en->desc.num_interfaces)
		r = -ENOENT;
	else if (release && en->claim[itf] != client)
		r = -EINVAL;
	else if (release)
		en->claim[itf] = NULL;
	else if (rp_sim_board_take_claim_failure(en->board->model))
		r = -EBUSY; /* claim_fails (C13): "Failed to claim interface" */
	else if (en->claim[itf] && en->claim[itf] != client &&
		 umockdev_ioctl_client_get_connected(en->claim[itf]))
		r = -EBUSY;
	else
		en->claim[itf] = client;
	g_mutex_unlock(&e->lock);
	return r;
}

/* USBDEVFS_CONTROL: synchronous, so only what needs no waiting. */
static int sync_control(struct emu_enum *en, UMockdevIoctlData *arg)
{
	struct usbdevfs_ctrltransfer ct;
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(ct), NULL), *buf = NULL;
	uint8_t setup[8];
	uint8_t tmp[256];
	size_t actual = 0;
	int st;

	if (!d)
		return -EFAULT;
	memcpy(&ct, d->data, sizeof(ct));
	setup[0] = ct.bRequestType;
	setup[1] = ct.bRequest;
	rp_put_le16(setup + 2, ct.wValue);
	rp_put_le16(setup + 4, ct.wIndex);
	rp_put_le16(setup + 6, ct.wLength);
	if ((setup[0] & 0x60) == 0x40 || ct.wLength > sizeof(tmp)) {
		g_object_unref(d);
		return -ETIMEDOUT;
	}
	st = standard_request(en, setup, tmp, ct.wLength, &actual);
	if (st == 0 && (setup[0] & 0x80) && actual) {
		buf = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_ctrltransfer, data), actual,
						  NULL);
		if (buf) {
			memcpy(buf->data, tmp, actual);
			g_object_unref(buf);
		}
	}
	g_object_unref(d);
	return st < 0 ? st : (int)actual;
}

static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer user)
{
	struct emu_enum *en = user;
	struct emu_board *b = en->board;
	struct usb_emu *e = b->emu;
	gulong req = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	bool present;
	long r = 0;

	(void)h;
	g_mutex_lock(&e->lock);
	b->st.ioctls++;
	present = en->present;
	g_mutex_unlock(&e->lock);

	switch (req) {
	case USBDEVFS_GET_CAPABILITIES: {
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
		guint32 caps = b->opts.caps ? b->opts.caps : USB_EMU_CAPS_XHCI;
		if (!d) {
			r = -EFAULT;
			break;
		}
		memcpy(d->data, &caps, sizeof(caps));
		g_object_unref(d);
		break;
	}
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_DISCONNECT_CLAIM: /* starts with the interface number too */
		r = claim(en, client, arg, false);
		break;
	case USBDEVFS_RELEASEINTERFACE:
		r = claim(en, client, arg, true);
		break;
	case USBDEVFS_SUBMITURB:
		r = submit(en, client, arg);
		break;
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		/* Nothing blocks here: with nothing to reap REAPURB answers
		 * EAGAIN as well (libusb only uses the NDELAY form). */
		r = reap(en, client, arg);
		break;
	case USBDEVFS_DISCARDURB:
		r = discard(en, client, arg);
		break;
	case USBDEVFS_CONTROL:
		r = present ? sync_control(en, arg) : -ENODEV;
		break;
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		r = present ? -ENODATA : -ENODEV; /* no kernel driver bound */
		break;
	case USBDEVFS_GET_SPEED:
		r = !present ? -ENODEV : b->opts.full_speed ? LINUX_USB_SPEED_FULL : LINUX_USB_SPEED_HIGH;
		break;
	case USBDEVFS_CONNECTINFO: {
		struct usbdevfs_connectinfo ci = { .devnum = en->address, .slow = 0 };
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(ci), NULL);
		if (!d) {
			r = -EFAULT;
			break;
		}
		memcpy(d->data, &ci, sizeof(ci));
		g_object_unref(d);
		break;
	}
	case USBDEVFS_SETCONFIGURATION:
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_RESET:
		r = present ? 0 : -ENODEV;
		break;
	default:
		r = -ENOTTY;
		break;
	}
	if (r < 0)
		umockdev_ioctl_client_complete(client, -1, (int)-r);
	else
		umockdev_ioctl_client_complete(client, r, 0);
	return TRUE;
}

/* --- public API ---------------------------------------------------------------- */

static void add_root_hub_1(void *p)
{
	ensure_root_hub(p, 1);
}

struct usb_emu *usb_emu_new(void)
{
	struct usb_emu *e = g_new0(struct usb_emu, 1);

	e->tb = umockdev_testbed_new();
	e->root = umockdev_testbed_get_root_dir(e->tb);
	g_mutex_init(&e->lock);
	e->boards = g_ptr_array_new();
	e->hubs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	e->ctx = g_main_context_new();
	e->loop = g_main_loop_new(e->ctx, FALSE);
	e->thread = g_thread_new("usb-emu", loop_thread, e);
	run_on_loop(e, add_root_hub_1, e);
	return e;
}

const char *usb_emu_root_dir(const struct usb_emu *e)
{
	return e->root;
}

static gboolean delayed_plug_cb(gpointer p)
{
	enumerate(p);
	return G_SOURCE_REMOVE;
}

/* Walk the model through stage 1 directly (no USB), so that it comes up
 * as the second stage. Only with zero stage-1/re-enumeration times. */
static bool boot_model(struct rp_sim_board *m)
{
	uint8_t msg[24] = { 0 }, ss[64], rc[4];
	size_t n = 0;
	unsigned ready = 0;
	uint64_t at;
	bool attach;

	memset(ss, 0x5a, sizeof(ss));
	rp_put_le32(msg, sizeof(ss));
	if (rp_sim_board_control_out(m, 0, sizeof(msg), 0, NULL, 0, &ready) != RP_OK ||
	    rp_sim_board_bulk_out(m, msg, sizeof(msg), &n, &ready) != RP_OK ||
	    rp_sim_board_control_out(m, 0, sizeof(ss), 0, NULL, 0, &ready) != RP_OK ||
	    rp_sim_board_bulk_out(m, ss, sizeof(ss), &n, &ready) != RP_OK ||
	    rp_sim_board_control_in(m, 0, sizeof(rc), 0, rc, sizeof(rc), &n, &ready) != RP_OK)
		return false;
	for (int i = 0; i < 4 && rp_sim_board_bus_change(m, &at, &attach); i++)
		rp_sim_board_apply_bus_change(m);
	return rp_sim_board_attached(m) && rp_sim_board_stage(m) == RP_STAGE_SECOND;
}

int usb_emu_plug(struct usb_emu *e, const struct usb_emu_board_opts *opts)
{
	struct emu_board *b = g_new0(struct emu_board, 1);
	const char *dash;
	unsigned long bus;

	b->emu = e;
	b->opts = *opts;
	b->opts.port_path = NULL;
	b->enums = g_ptr_array_new_with_free_func(g_free);
	g_queue_init(&b->urbs);
	b->model = rp_sim_board_new(&opts->params);
	if (!b->model || (opts->second_stage && !boot_model(b->model))) {
		fprintf(stderr, "usb_emu: cannot create the device model\n");
		rp_sim_board_free(b->model);
		g_ptr_array_unref(b->enums);
		g_free(b);
		return -1;
	}
	g_mutex_lock(&e->lock);
	b->index = e->boards->len;
	if (opts->port_path)
		g_strlcpy(b->port_path, opts->port_path, sizeof(b->port_path));
	else
		g_snprintf(b->port_path, sizeof(b->port_path), "1-%u", b->index + 1);
	dash = strchr(b->port_path, '-');
	bus = strtoul(b->port_path, NULL, 10);
	if (!dash || bus < 1 || bus > 255) {
		g_mutex_unlock(&e->lock);
		fprintf(stderr, "usb_emu: bad port path '%s'\n", b->port_path);
		rp_sim_board_free(b->model);
		g_ptr_array_unref(b->enums);
		g_free(b);
		return -1;
	}
	b->bus = (uint8_t)bus;
	g_strlcpy(b->devpath, dash + 1, sizeof(b->devpath));
	g_snprintf(b->product, sizeof(b->product), "%s Boot",
		   rp_soc_by_usb_id(RP_USB_VID_BROADCOM, rp_sim_board_pid(b->model))->chip);
	b->plug_pending = true;
	g_ptr_array_add(e->boards, b);
	g_mutex_unlock(&e->lock);
	if (opts->plug_delay_ms)
		g_source_unref(add_timeout(e, opts->plug_delay_ms, delayed_plug_cb, b));
	else
		run_on_loop(e, enumerate, b);
	return (int)b->index;
}

static struct emu_board *board(struct usb_emu *e, unsigned i)
{
	g_assert(i < e->boards->len);
	return g_ptr_array_index(e->boards, i);
}

void usb_emu_unplug(struct usb_emu *e, unsigned i)
{
	struct emu_board *b = board(e, i);
	g_mutex_lock(&e->lock);
	unplug_locked(b);
	g_mutex_unlock(&e->lock);
}

unsigned usb_emu_count(struct usb_emu *e)
{
	unsigned n;
	g_mutex_lock(&e->lock);
	n = e->boards->len;
	g_mutex_unlock(&e->lock);
	return n;
}

void usb_emu_stats(struct usb_emu *e, unsigned i, struct usb_emu_stats *out)
{
	g_mutex_lock(&e->lock);
	*out = board(e, i)->st;
	g_mutex_unlock(&e->lock);
}

enum rp_sim_outcome usb_emu_outcome(struct usb_emu *e, unsigned i)
{
	enum rp_sim_outcome o;
	g_mutex_lock(&e->lock);
	o = rp_sim_board_outcome(board(e, i)->model);
	g_mutex_unlock(&e->lock);
	return o;
}

enum rp_stage usb_emu_stage(struct usb_emu *e, unsigned i)
{
	enum rp_stage s;
	g_mutex_lock(&e->lock);
	s = rp_sim_board_stage(board(e, i)->model);
	g_mutex_unlock(&e->lock);
	return s;
}

const char *usb_emu_port_path(struct usb_emu *e, unsigned i)
{
	return board(e, i)->port_path;
}

/* A copy taken under the emulator lock, since the model keeps changing
 * on the loop thread. */
static uint8_t *copy_model_bytes(struct usb_emu *e, unsigned i,
				 const uint8_t *(*get)(const struct rp_sim_board *, size_t *),
				 size_t *len)
{
	const uint8_t *p;
	uint8_t *copy = NULL;

	g_mutex_lock(&e->lock);
	p = get(board(e, i)->model, len);
	if (p && *len) {
		copy = malloc(*len);
		if (copy)
			memcpy(copy, p, *len);
	}
	g_mutex_unlock(&e->lock);
	return copy;
}

uint8_t *usb_emu_eeprom(struct usb_emu *e, unsigned i, size_t *len)
{
	return copy_model_bytes(e, i, rp_sim_board_eeprom, len);
}

uint8_t *usb_emu_second_stage(struct usb_emu *e, unsigned i, size_t *len)
{
	return copy_model_bytes(e, i, rp_sim_board_second_stage, len);
}

char *usb_emu_host_error(struct usb_emu *e, unsigned i)
{
	char *r;
	g_mutex_lock(&e->lock);
	r = g_strdup(rp_sim_board_host_error(board(e, i)->model));
	g_mutex_unlock(&e->lock);
	return r;
}

const char *usb_emu_second_stage_kind(struct usb_emu *e, unsigned i, bool *ran)
{
	int k;
	g_mutex_lock(&e->lock);
	k = rp_sim_board_second_stage_kind(board(e, i)->model, ran);
	g_mutex_unlock(&e->lock);
	return rp_sim_second_stage_kind_name((enum rp_sim_second_stage_kind)k);
}

char *usb_emu_factory_uuid(struct usb_emu *e, unsigned i)
{
	char *r;
	g_mutex_lock(&e->lock);
	r = g_strdup(rp_sim_board_factory_uuid(board(e, i)->model));
	g_mutex_unlock(&e->lock);
	return r;
}

static bool settled_locked(struct usb_emu *e)
{
	for (unsigned i = 0; i < e->boards->len; i++) {
		struct emu_board *b = g_ptr_array_index(e->boards, i);
		if (b->plug_pending || b->detach_pending || b->bus_timer)
			return false;
	}
	return true;
}

struct settle_wait {
	struct usb_emu *e;
	bool settled;
};

static void check_settled(void *p)
{
	struct settle_wait *w = p;
	g_mutex_lock(&w->e->lock);
	w->settled = settled_locked(w->e);
	g_mutex_unlock(&w->e->lock);
}

bool usb_emu_wait_settled(struct usb_emu *e, unsigned timeout_ms)
{
	uint64_t deadline = rp_now_ms() + timeout_ms;
	struct settle_wait w = { .e = e };

	/* Each check is a round trip through the loop, which runs the
	 * pending removals and timers before it; no sleeping. */
	for (;;) {
		run_on_loop(e, check_settled, &w);
		if (w.settled)
			return true;
		if (rp_now_ms() >= deadline)
			return false;
		g_thread_yield();
	}
}

static void teardown(void *p)
{
	struct usb_emu *e = p;

	g_mutex_lock(&e->lock);
	for (unsigned i = 0; i < e->boards->len; i++) {
		struct emu_board *b = g_ptr_array_index(e->boards, i);
		cancel_source(&b->retry);
		cancel_source(&b->bus_timer);
		cancel_source(&b->pump_src);
	}
	g_mutex_unlock(&e->lock);
	g_main_loop_quit(e->loop);
}

void usb_emu_free(struct usb_emu *e)
{
	if (!e)
		return;
	run_on_loop(e, teardown, e);
	g_thread_join(e->thread);
	for (unsigned i = 0; i < e->boards->len; i++) {
		struct emu_board *b = g_ptr_array_index(e->boards, i);
		struct emu_urb *u;
		while ((u = g_queue_pop_head(&b->urbs)))
			urb_free(u);
		for (unsigned j = 0; j < b->enums->len; j++) {
			struct emu_enum *en = g_ptr_array_index(b->enums, j);
			if (en->handler)
				g_object_unref(en->handler);
		}
		g_ptr_array_unref(b->enums);
		rp_sim_board_free(b->model);
		g_free(b);
	}
	g_ptr_array_unref(e->boards);
	g_hash_table_unref(e->hubs);
	g_object_unref(e->tb);
	g_free(e->root);
	g_main_loop_unref(e->loop);
	g_main_context_unref(e->ctx);
	g_mutex_clear(&e->lock);
	g_free(e);
}
