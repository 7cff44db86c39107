/* The libusb device source. One libusb context per source (no globals):
 * an event thread runs libusb's event handling, so hotplug callbacks and
 * the completions of every worker's transfers are processed even when no
 * worker is waiting on the bus. Hotplug callbacks only queue a note
 * (libusb forbids I/O inside them); the event thread then describes the
 * device (descriptor, port path, interface count, serial string) and
 * publishes ARRIVED/LEFT to next_event. Where libusb has no hotplug the
 * event thread diffs the device list every poll interval instead.
 *
 * While exactly one board is open, its worker's synchronous transfers
 * handle libusb's events themselves, and the event thread stands back
 * (parks on an eventfd) instead of competing for libusb's event lock:
 * with one thread polling and another waiting for its completion, every
 * transfer was a hand-off between threads (a futex wake and wait,
 * hundreds per board) that a lone worker does not need. Hotplug messages
 * the worker handles meanwhile wake the event thread, which describes and
 * publishes them as usual, and it looks itself at least every
 * HOTPLUG_IDLE_MS. With several boards open the workers would only trade
 * the hand-off among themselves (libusb wakes every waiter whenever the
 * handler changes), so the event thread handles events as before. */
#include "usb/usb_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "soc/soc.h"
#include "util/clock.h"
#include "util/endian.h"

#define DEFAULT_POLL_MS 100u
/* Upper bound between two looks at the stop flag when nothing happens;
 * stopping does not wait for it (libusb_interrupt_event_handler). */
#define HOTPLUG_IDLE_MS 1000u
/* With hotplug, the device list is still compared this often: in a
 * container libusb may report hotplug support while no uevent ever
 * reaches it, and a board must not wait for an event that never comes. */
#define SAFETY_POLL_MS 1000u
/* USB allows 7 tiers below the root hub. */
#define MAX_PORT_DEPTH 7

struct known_dev {
	libusb_device *dev; /* one reference held */
	struct rp_device_info info;
	bool reported;      /* an ARRIVED was published (a LEFT will be) */
};

struct note {
	libusb_device *dev; /* one reference held */
	bool arrived;
};

struct usb_source {
	struct rp_source base;
	libusb_context *ctx;
	bool hotplug;
	bool read_rom_serials;
	char watch[160]; /* how devices are watched, for -v */
	bool cb_registered;
	libusb_hotplug_callback_handle cb;
	unsigned poll_ms;
	size_t bulk_chunk;
	uint64_t next_poll_ms; /* event thread only */

	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	atomic_bool interrupted;
	atomic_int fatal; /* rp_error that ended the event thread; 0 while it runs */
	int efd;          /* readable when an event was queued or wakeup() was called */
	int park_efd;     /* wakes the parked event thread: a note, the last close, stop */
	atomic_uint open_transports;

	pthread_mutex_t lock; /* notes, events, known, next_id */
	struct note *notes;
	size_t n_notes, cap_notes;
	struct rp_source_event *events;
	size_t n_events, cap_events;
	struct known_dev *known;
	size_t n_known, cap_known;
	uint64_t next_id;
};

static struct usb_source *to_usb_source(struct rp_source *s)
{
	return (struct usb_source *)s;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static void poke(int fd)
{
	uint64_t one = 1;
	/* Only fails when the counter is full, and a full eventfd is readable anyway. */
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
}

/* Whether the event thread should stand back with this many transports open. */
static bool lone_worker(unsigned open)
{
	return open == 1;
}

static void signal_consumer(struct usb_source *s)
{
	poke(s->efd);
}

static void set_fatal(struct usb_source *s, int code)
{
	int expected = 0;
	atomic_compare_exchange_strong(&s->fatal, &expected, code);
	signal_consumer(s);
}

/* --- describing a device ------------------------------------------------ */

/* Serials end up in file names (metadata, reports): keep [A-Za-z0-9._-],
 * replace anything else, and never start with a dot. */
static char serial_char(uint16_t c, bool first)
{
	if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    c == '-' || c == '_')
		return (char)c;
	if (c == '.' && !first)
		return '.';
	return '_';
}

/* A string descriptor is device data: check type and length, decode
 * UTF-16LE code units one by one. */
static void decode_string_descriptor(const uint8_t *buf, int got, char *out, size_t outlen)
{
	size_t len, j = 0;

	out[0] = '\0';
	if (got < 2 || buf[1] != LIBUSB_DT_STRING)
		return;
	len = buf[0] < (size_t)got ? buf[0] : (size_t)got;
	for (size_t i = 2; i + 1 < len && j + 1 < outlen; i += 2) {
		out[j] = serial_char(rp_get_le16(buf + i), j == 0);
		j++;
	}
	out[j] = '\0';
}

static void read_serial(libusb_device *dev, uint8_t index, char *out, size_t outlen)
{
	uint8_t buf[255];
	uint16_t langid = 0x0409; /* en-US, what every Raspberry Pi ROM/second stage reports */
	libusb_device_handle *h;
	int r;

	out[0] = '\0';
	if (libusb_open(dev, &h) < 0)
		return;
	/* libusb_get_string_descriptor_ascii has a fixed 1 s timeout: do it by hand. */
	r = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
				    LIBUSB_DT_STRING << 8, 0, buf, sizeof(buf), RP_USB_SERIAL_TIMEOUT_MS);
	if (r >= 4 && buf[1] == LIBUSB_DT_STRING && buf[0] >= 4)
		langid = rp_get_le16(buf + 2);
	r = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
				    (uint16_t)((LIBUSB_DT_STRING << 8) | index), langid, buf,
				    sizeof(buf), RP_USB_SERIAL_TIMEOUT_MS);
	if (r > 0)
		decode_string_descriptor(buf, r, out, outlen);
	libusb_close(h);
}

static int format_port_path(uint8_t bus, const uint8_t *ports, int n, char *out, size_t outlen)
{
	size_t used;
	int w = snprintf(out, outlen, "%u", bus);

	if (w < 0 || (size_t)w >= outlen)
		return -1;
	used = (size_t)w;
	for (int i = 0; i < n; i++) {
		w = snprintf(out + used, outlen - used, "%c%u", i == 0 ? '-' : '.', ports[i]);
		if (w < 0 || (size_t)w >= outlen - used)
			return -1;
		used += (size_t)w;
	}
	return 0;
}

/* false: not one of ours (not in the SoC table, a root hub, unreadable). */
static bool describe_device(libusb_device *dev, bool rom_serial, struct rp_device_info *info)
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg = NULL;
	uint8_t ports[MAX_PORT_DEPTH];
	int n;

	memset(info, 0, sizeof(*info));
	if (libusb_get_device_descriptor(dev, &dd) < 0 || !rp_soc_by_usb_id(dd.idVendor, dd.idProduct))
		return false;
	n = libusb_get_port_numbers(dev, ports, sizeof(ports));
	if (n <= 0)
		return false;
	info->vid = dd.idVendor;
	info->pid = dd.idProduct;
	info->bus = libusb_get_bus_number(dev);
	info->address = libusb_get_device_address(dev);
	info->serial_index = dd.iSerialNumber;
	info->stage = rp_soc_serial_index_is_rom(dd.iSerialNumber) ? RP_STAGE_ROM : RP_STAGE_SECOND;
	if (format_port_path(info->bus, ports, n, info->port_path, sizeof(info->port_path)) < 0)
		return false;
	if (libusb_get_active_config_descriptor(dev, &cfg) < 0)
		libusb_get_config_descriptor(dev, 0, &cfg);
	if (cfg) {
		info->num_interfaces = cfg->bNumInterfaces;
		libusb_free_config_descriptor(cfg);
	}
	/* The BCM2711/2712 ROM's string (index 3) is the low 32 bits of the
	 * board serial (F2, F3), which rpiboot -i matches; the older ROMs
	 * have none (index 0). Reading it opens the device, so a ROM is
	 * read only when asked: a board the filters leave alone is never
	 * opened. */
	if (dd.iSerialNumber != 0 && (info->stage == RP_STAGE_SECOND || rom_serial))
		read_serial(dev, dd.iSerialNumber, info->serial, sizeof(info->serial));
	return true;
}

/* --- the event queue ------------------------------------------------------ */

/* Called with s->lock held. */
static void push_event_locked(struct usb_source *s, enum rp_source_event_type type,
			      const struct rp_device_info *info)
{
	if (!grow((void **)&s->events, &s->cap_events, s->n_events + 1, sizeof(*s->events))) {
		set_fatal(s, RP_ERR_NOMEM);
		return;
	}
	s->events[s->n_events].type = type;
	s->events[s->n_events].info = *info;
	s->n_events++;
	signal_consumer(s);
}

static ssize_t find_known_locked(struct usb_source *s, libusb_device *dev)
{
	for (size_t i = 0; i < s->n_known; i++)
		if (s->known[i].dev == dev)
			return (ssize_t)i;
	return -1;
}

static void handle_arrival(struct usb_source *s, libusb_device *dev, bool report)
{
	struct rp_device_info info;
	bool known;

	pthread_mutex_lock(&s->lock);
	known = find_known_locked(s, dev) >= 0;
	pthread_mutex_unlock(&s->lock);
	/* Enumeration and a hotplug message can both name the same device. */
	if (known || !describe_device(dev, s->read_rom_serials, &info))
		return;
	pthread_mutex_lock(&s->lock);
	if (!grow((void **)&s->known, &s->cap_known, s->n_known + 1, sizeof(*s->known))) {
		pthread_mutex_unlock(&s->lock);
		set_fatal(s, RP_ERR_NOMEM);
		return;
	}
	info.id = ++s->next_id;
	s->known[s->n_known].dev = libusb_ref_device(dev);
	s->known[s->n_known].info = info;
	s->known[s->n_known].reported = report;
	s->n_known++;
	if (report)
		push_event_locked(s, RP_SOURCE_ARRIVED, &info);
	pthread_mutex_unlock(&s->lock);
}

static void handle_departure(struct usb_source *s, libusb_device *dev)
{
	libusb_device *gone = NULL;
	ssize_t i;

	pthread_mutex_lock(&s->lock);
	i = find_known_locked(s, dev);
	if (i >= 0) {
		struct known_dev k = s->known[i];
		gone = k.dev;
		s->known[i] = s->known[s->n_known - 1];
		s->n_known--;
		if (k.reported)
			push_event_locked(s, RP_SOURCE_LEFT, &k.info);
	}
	pthread_mutex_unlock(&s->lock);
	if (gone)
		libusb_unref_device(gone);
}

/* --- hotplug -------------------------------------------------------------- */

/* Runs in whichever thread is handling libusb events (ours or a worker
 * inside a synchronous transfer), or in rp_usb_source_new for
 * LIBUSB_HOTPLUG_ENUMERATE: note the device, nothing more. */
static int LIBUSB_CALL hotplug_cb(libusb_context *ctx, libusb_device *dev,
				  libusb_hotplug_event event, void *user)
{
	struct usb_source *s = user;
	struct libusb_device_descriptor dd;
	bool arrived = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;

	(void)ctx;
	if (arrived && (libusb_get_device_descriptor(dev, &dd) < 0 ||
			!rp_soc_by_usb_id(dd.idVendor, dd.idProduct)))
		return 0;
	pthread_mutex_lock(&s->lock);
	if (grow((void **)&s->notes, &s->cap_notes, s->n_notes + 1, sizeof(*s->notes))) {
		s->notes[s->n_notes].dev = libusb_ref_device(dev);
		s->notes[s->n_notes].arrived = arrived;
		s->n_notes++;
	} else {
		set_fatal(s, RP_ERR_NOMEM);
	}
	pthread_mutex_unlock(&s->lock);
	/* Handled by the lone worker: the parked event thread has notes to process. */
	if (lone_worker(atomic_load(&s->open_transports)))
		poke(s->park_efd);
	return 0;
}

/* Describing a device does I/O, during which libusb may call hotplug_cb
 * again: take the notes out of the shared list first, work unlocked. */
static void process_notes(struct usb_source *s)
{
	for (;;) {
		struct note *notes;
		size_t n;

		pthread_mutex_lock(&s->lock);
		notes = s->notes;
		n = s->n_notes;
		s->notes = NULL;
		s->n_notes = s->cap_notes = 0;
		pthread_mutex_unlock(&s->lock);
		if (!n) {
			free(notes);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			if (notes[i].arrived)
				handle_arrival(s, notes[i].dev, true);
			else
				handle_departure(s, notes[i].dev);
			libusb_unref_device(notes[i].dev);
		}
		free(notes);
	}
}

/* --- polling fallback ------------------------------------------------------ */

static bool in_list(libusb_device **list, ssize_t n, libusb_device *dev)
{
	for (ssize_t i = 0; i < n; i++)
		if (list[i] == dev)
			return true;
	return false;
}

static void poll_devices(struct usb_source *s, bool report)
{
	libusb_device **list;
	ssize_t n = libusb_get_device_list(s->ctx, &list);

	if (n < 0)
		return; /* try again next interval */
	for (;;) {
		libusb_device *gone = NULL;

		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < s->n_known && !gone; i++)
			if (!in_list(list, n, s->known[i].dev))
				gone = libusb_ref_device(s->known[i].dev);
		pthread_mutex_unlock(&s->lock);
		if (!gone)
			break;
		handle_departure(s, gone);
		libusb_unref_device(gone);
	}
	for (ssize_t i = 0; i < n; i++)
		handle_arrival(s, list[i], report);
	libusb_free_device_list(list, 1);
}

/* --- event thread ---------------------------------------------------------- */

/* One transport is open, so its worker handles libusb's events: sleep
 * until a note, a change of the count or stop pokes park_efd. True when it timed out
 * instead (then events nobody handled are picked up without waiting). */
static bool park(struct usb_source *s, uint64_t wait_ms)
{
	struct pollfd pfd = { .fd = s->park_efd, .events = POLLIN };
	uint64_t count;
	int n = poll(&pfd, 1, (int)wait_ms);

	if (n > 0) {
		ssize_t got = read(s->park_efd, &count, sizeof(count));
		(void)got;
	}
	return n == 0;
}

/* The count moved from `was` to `now`: get the event thread out of
 * libusb's event handling (it parks) or out of its park (it handles). */
static void open_count_changed(struct usb_source *s, unsigned was, unsigned now)
{
	if (lone_worker(now) && !lone_worker(was))
		libusb_interrupt_event_handler(s->ctx);
	else if (!lone_worker(now) && lone_worker(was))
		poke(s->park_efd);
}

static void transport_closed(void *ctx)
{
	struct usb_source *s = ctx;
	unsigned was = atomic_fetch_sub(&s->open_transports, 1);

	open_count_changed(s, was, was - 1);
}

static void *event_thread(void *arg)
{
	struct usb_source *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t now = rp_now_ms();
		uint64_t wait_ms = HOTPLUG_IDLE_MS;
		struct timeval tv;
		int r = 0;

		wait_ms = s->next_poll_ms > now ? s->next_poll_ms - now : 0;
		if (wait_ms > HOTPLUG_IDLE_MS)
			wait_ms = HOTPLUG_IDLE_MS;
		/* Poked: straight to the notes. Timed out: a look of our own,
		 * without waiting, at events no worker happened to handle. */
		if (lone_worker(atomic_load(&s->open_transports)) && !park(s, wait_ms))
			goto notes;
		if (lone_worker(atomic_load(&s->open_transports)))
			wait_ms = 0;
		tv.tv_sec = (time_t)(wait_ms / 1000);
		tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
		r = libusb_handle_events_timeout_completed(s->ctx, &tv, NULL);
		if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED && r != LIBUSB_ERROR_TIMEOUT) {
			set_fatal(s, rp_usb_error(r));
			break;
		}
notes:
		process_notes(s);
		if (rp_now_ms() >= s->next_poll_ms) {
			poll_devices(s, true);
			s->next_poll_ms = rp_now_ms() + (s->hotplug ? SAFETY_POLL_MS : s->poll_ms);
		}
	}
	return NULL;
}

/* --- rp_source ops --------------------------------------------------------- */

static int usb_next_event(struct rp_source *base, struct rp_source_event *ev, int timeout_ms)
{
	struct usb_source *s = to_usb_source(base);
	uint64_t deadline = rp_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd pfd = { .fd = s->efd, .events = POLLIN };
		int fatal, wait = -1;
		uint64_t now;

		if (atomic_exchange(&s->interrupted, false))
			return RP_ERR_INTERRUPTED;
		pthread_mutex_lock(&s->lock);
		if (s->n_events) {
			*ev = s->events[0];
			memmove(s->events, s->events + 1, (s->n_events - 1) * sizeof(*s->events));
			s->n_events--;
			pthread_mutex_unlock(&s->lock);
			return RP_OK;
		}
		pthread_mutex_unlock(&s->lock);
		fatal = atomic_load(&s->fatal);
		if (fatal)
			return fatal;
		if (timeout_ms >= 0) {
			now = rp_now_ms();
			if (now >= deadline)
				return RP_ERR_TIMEOUT;
			wait = (int)(deadline - now);
		}
		if (poll(&pfd, 1, wait) > 0) {
			uint64_t count;
			/* Non-blocking: EAGAIN when another reader drained it first. */
			ssize_t got = read(s->efd, &count, sizeof(count));
			(void)got;
		}
	}
}

static int open_counted(struct usb_source *s, libusb_device *dev,
			const struct rp_device_info *info, libusb_context *own_ctx,
			struct rp_transport **out, struct rp_diag *d)
{
	struct rp_usb_close_hook hook = { .fn = transport_closed, .ctx = s, .own_ctx = own_ctx };
	/* Counted before the first transfer, so that a lone worker finds
	 * libusb's event handling free from the start. */
	unsigned was = atomic_fetch_add(&s->open_transports, 1);
	int r;

	open_count_changed(s, was, was + 1);
	r = rp_usb_transport_open(dev, info, s->bulk_chunk, &hook, out, d);
	if (r != RP_OK)
		transport_closed(s);
	return r;
}

/* The board again, by what stays the same across libusb losing it: its
 * bus, port path, ids and stage. An open that fails with ENOENT while the
 * node is still being created (F8, C1) makes libusb take the device off
 * its list for good, and no new uevent brings it back; a fresh context
 * scans the bus anew. The transport keeps that context until it closes. */
static int reopen_by_port(struct usb_source *s, const struct rp_device_info *info,
			  struct rp_transport **out, struct rp_diag *d)
{
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	ssize_t n;
	int r = RP_ERR_NO_DEVICE;

	if (libusb_init(&ctx) < 0)
		return RP_ERR_NO_DEVICE;
	n = libusb_get_device_list(ctx, &list);
	for (ssize_t i = 0; i < n && r == RP_ERR_NO_DEVICE; i++) {
		struct rp_device_info now;
		if (!describe_device(list[i], false, &now) || now.vid != info->vid ||
		    now.pid != info->pid || now.bus != info->bus || now.stage != info->stage ||
		    strcmp(now.port_path, info->port_path) != 0)
			continue;
		snprintf(now.serial, sizeof(now.serial), "%s", info->serial);
		now.id = info->id;
		r = open_counted(s, list[i], &now, ctx, out, d);
		if (r == RP_OK)
			ctx = NULL; /* the transport's now */
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	if (ctx)
		libusb_exit(ctx);
	return r;
}

static int usb_open(struct rp_source *base, const struct rp_device_info *info,
		    struct rp_transport **out, struct rp_diag *d)
{
	struct usb_source *s = to_usb_source(base);
	struct rp_device_info kinfo;
	libusb_device *dev = NULL;
	char board[160];
	int r = RP_ERR_NO_DEVICE;

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_known; i++)
		if (s->known[i].info.id == info->id) {
			dev = libusb_ref_device(s->known[i].dev);
			kinfo = s->known[i].info;
		}
	pthread_mutex_unlock(&s->lock);
	if (dev) {
		r = open_counted(s, dev, &kinfo, NULL, out, d);
		libusb_unref_device(dev);
	}
	if (r == RP_ERR_NO_DEVICE && reopen_by_port(s, info, out, d) == RP_OK)
		return RP_OK;
	if (r == RP_ERR_NO_DEVICE) {
		rp_usb_describe(info, board, sizeof(board));
		return rp_diag_set(d, RP_ERR_NO_DEVICE, "%s left the bus before it could be opened",
				   board);
	}
	return r;
}

static void usb_wakeup(struct rp_source *base)
{
	struct usb_source *s = to_usb_source(base);

	atomic_store(&s->interrupted, true);
	signal_consumer(s);
}

static void usb_destroy(struct rp_source *base)
{
	struct usb_source *s = to_usb_source(base);

	if (!s)
		return;
	atomic_store(&s->stop, true);
	if (s->thread_started) {
		libusb_interrupt_event_handler(s->ctx);
		poke(s->park_efd);
		pthread_join(s->thread, NULL);
	}
	if (s->cb_registered)
		libusb_hotplug_deregister_callback(s->ctx, s->cb);
	for (size_t i = 0; i < s->n_notes; i++)
		libusb_unref_device(s->notes[i].dev);
	for (size_t i = 0; i < s->n_known; i++)
		libusb_unref_device(s->known[i].dev);
	if (s->ctx)
		libusb_exit(s->ctx);
	if (s->efd >= 0)
		close(s->efd);
	if (s->park_efd >= 0)
		close(s->park_efd);
	pthread_mutex_destroy(&s->lock);
	free(s->notes);
	free(s->events);
	free(s->known);
	free(s);
}

static const struct rp_source_ops usb_source_ops = {
	.next_event = usb_next_event,
	.open = usb_open,
	.wakeup = usb_wakeup,
	.destroy = usb_destroy,
};

/* libusb starts happily on a machine without any USB (it then just
 * finds nothing), which would make `list` look like "no boards". Say
 * what is missing instead. */
static int check_usb_present(struct rp_diag *d)
{
#ifdef __linux__
	if (access("/sys/bus/usb", F_OK) != 0 && access("/dev/bus/usb", F_OK) != 0)
		return rp_diag_set(d, RP_ERR_UNSUPPORTED,
				   "USB is not available on this machine: neither /sys/bus/usb nor "
				   "/dev/bus/usb exists (no USB host controller is visible; in a "
				   "container or VM, pass the host's USB devices through)");
	if (access("/dev/bus/usb", F_OK) != 0)
		return rp_diag_set(d, RP_ERR_UNSUPPORTED,
				   "USB devices cannot be opened: /dev/bus/usb does not exist (in a "
				   "container, pass it through, e.g. --device /dev/bus/usb)");
#else
	(void)d;
#endif
	return RP_OK;
}

int rp_usb_source_new(const struct rp_usb_source_options *opts, struct rp_source **out,
		      struct rp_diag *d)
{
	struct rp_usb_source_options defaults = { 0 };
	struct usb_source *s;
	int r;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	r = check_usb_present(d);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return rp_diag_set(d, RP_ERR_NOMEM, "out of memory creating the USB source");
	s->base.ops = &usb_source_ops;
	s->base.name = "usb";
	s->efd = -1;
	s->park_efd = -1;
	atomic_init(&s->open_transports, 0);
	s->poll_ms = opts->poll_interval_ms ? opts->poll_interval_ms : DEFAULT_POLL_MS;
	s->read_rom_serials = opts->read_rom_serials != 0;
	s->bulk_chunk = opts->bulk_chunk;
	pthread_mutex_init(&s->lock, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->park_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0 || s->park_efd < 0) {
		r = rp_diag_set(d, RP_ERR_IO, "cannot create an eventfd for the USB source: %s",
				strerror(errno));
		goto fail;
	}
	r = libusb_init(&s->ctx);
	if (r < 0) {
		s->ctx = NULL;
		r = rp_usb_diag(d, r, NULL, "libusb could not start");
		goto fail;
	}
	s->hotplug = !opts->force_polling && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG);
	snprintf(s->watch, sizeof(s->watch), "polling the USB device list every %u ms (%s)",
		 s->poll_ms, opts->force_polling ? "asked for" : "libusb has no hotplug here");
	if (s->hotplug) {
		r = libusb_hotplug_register_callback(
			s->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
			opts->enumerate_existing ? LIBUSB_HOTPLUG_ENUMERATE : 0, RP_USB_VID_BROADCOM,
			LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, hotplug_cb, s, &s->cb);
		if (r < 0) {
			/* Containers and some hosts refuse hotplug: poll instead
			 * of giving up, as rpiboot always does. */
			s->hotplug = false;
			snprintf(s->watch, sizeof(s->watch),
				 "polling the USB device list every %u ms (hotplug unavailable: %s)",
				 s->poll_ms, libusb_strerror(r));
		} else {
			s->cb_registered = true;
			snprintf(s->watch, sizeof(s->watch),
				 "USB hotplug events, and the device list every %u ms in case "
				 "they do not arrive", SAFETY_POLL_MS);
			process_notes(s);
		}
	}
	/* Both modes: the diff also catches what hotplug did not report. */
	poll_devices(s, opts->enumerate_existing != 0);
	s->next_poll_ms = rp_now_ms() + (s->hotplug ? SAFETY_POLL_MS : s->poll_ms);
	r = atomic_load(&s->fatal);
	if (r < 0) {
		r = rp_diag_set(d, r, "enumerating USB devices failed: %s", rp_strerror(r));
		goto fail;
	}
	r = pthread_create(&s->thread, NULL, event_thread, s);
	if (r != 0) {
		r = rp_diag_set(d, RP_ERR_NOMEM, "cannot start the USB event thread: %s", strerror(r));
		goto fail;
	}
	s->thread_started = true;
	*out = &s->base;
	return RP_OK;
fail:
	usb_destroy(&s->base);
	return r;
}

const char *rp_usb_source_watch_mode(const struct rp_source *s)
{
	return s && s->ops == &usb_source_ops ? ((const struct usb_source *)s)->watch : "";
}

int rp_usb_source_has_hotplug(const struct rp_source *s)
{
	return s && s->ops == &usb_source_ops && ((const struct usb_source *)s)->hotplug;
}
