/* rpiprov list: the boards that are in USB boot mode right now (boot ROM
 * or second stage), and with --watch the arrivals and departures as they
 * happen. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/signals.h"
#include "cli/source_args.h"
#include "records/json_fields.h"
#include "soc/soc.h"
#include "util/clock.h"
#include "util/parse.h"
#include "util/port_path.h"

#define LIST_MAX_TIMEOUT_MS (86400000ull * 365u)

struct list_opts {
	bool json;
	bool watch;
	bool has_timeout;
	uint64_t timeout_ms;
};

/* Boards seen during the initial drain, sorted for printing. */
struct board_list {
	struct rp_device_info *v;
	size_t n, cap;
};

static void list_help(FILE *out)
{
	fprintf(out,
		"Usage: rpiprov list [--json] [--watch] [--timeout DUR]\n\n"
		"List Raspberry Pi boards in USB boot mode: bus, USB port path, address,\n"
		"VID:PID, chip, stage (ROM = boot ROM waiting for a second stage,\n"
		"second-stage = recovery.bin/bootcode running) and serial (second stage only).\n\n"
		"Options:\n"
		"      --json         print JSON (an array; with --watch one object per line)\n"
		"  -w, --watch        keep running and print arrivals and departures as they\n"
		"                     happen, until Ctrl-C or --timeout\n"
		"  -T, --timeout DUR  with --watch: stop after DUR; without: wait up to DUR\n"
		"                     for a board when none is present (exit 75 if none)\n"
		"  -h, --help         show this help\n\n"
		"DUR is a duration: 30s, 2m, 1h, 500ms, or plain seconds.\n\n"
		"Exit status: 0 success; 64 usage; 69 USB not available; 75 no board within\n"
		"--timeout.\n");
}

static const char *stage_name(enum rp_stage st)
{
	return st == RP_STAGE_ROM ? "ROM" : "second-stage";
}

static const char *chip_name(const struct rp_device_info *info)
{
	const struct rp_soc *desc = rp_soc_by_usb_id(info->vid, info->pid);
	return desc ? desc->chip : "?";
}

static int info_cmp(const void *pa, const void *pb)
{
	const struct rp_device_info *a = pa, *b = pb;
	int c = rp_port_path_cmp(a->port_path, b->port_path);
	if (c)
		return c;
	return (int)a->address - (int)b->address;
}

static json_object *info_json(const struct rp_device_info *info, const char *event)
{
	const struct rp_soc *desc = rp_soc_by_usb_id(info->vid, info->pid);
	json_object *o = json_object_new_object();
	char hex[8];

	if (!o)
		return NULL;
	if (event)
		rp_json_add(o, "event", json_object_new_string(event));
	rp_json_add(o, "bus", json_object_new_int(info->bus));
	rp_json_add(o, "port", json_object_new_string(info->port_path));
	rp_json_add(o, "address", json_object_new_int(info->address));
	snprintf(hex, sizeof(hex), "%04x", info->vid);
	rp_json_add(o, "vid", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%04x", info->pid);
	rp_json_add(o, "pid", json_object_new_string(hex));
	rp_json_add(o, "chip", json_object_new_string(desc ? desc->chip : "?"));
	rp_json_add(o, "soc", json_object_new_string(desc ? desc->soc : "?"));
	rp_json_add(o, "stage", json_object_new_string(
		info->stage == RP_STAGE_ROM ? "rom" : "second-stage"));
	rp_json_add(o, "interfaces", json_object_new_int(info->num_interfaces));
	rp_json_add_string_or_null(o, "serial", info->serial);
	return o;
}

static void print_table_header(bool watch)
{
	if (watch)
		printf("%-8s ", "EVENT");
	printf("%-3s %-16s %-4s %-9s %-8s %-12s %s\n", "BUS", "PORT", "ADDR", "VID:PID", "CHIP",
	       "STAGE", "SERIAL");
}

static void print_table_row(const struct rp_device_info *info, const char *event)
{
	if (event)
		printf("%-8s ", event);
	printf("%-3u %-16s %-4u %04x:%04x %-8s %-12s %s\n", info->bus, info->port_path,
	       info->address, info->vid, info->pid, chip_name(info), stage_name(info->stage),
	       info->serial[0] ? info->serial : "-");
}

static void print_event(const struct list_opts *o, const struct rp_device_info *info,
			const char *event)
{
	if (o->json) {
		json_object *j = info_json(info, event);
		if (j) {
			puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
			json_object_put(j);
		}
	} else {
		print_table_row(info, event);
	}
	fflush(stdout);
}

static int board_list_add(struct board_list *l, const struct rp_device_info *info)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct rp_device_info *p = realloc(l->v, ncap * sizeof(*p));
		if (!p)
			return RP_ERR_NOMEM;
		l->v = p;
		l->cap = ncap;
	}
	l->v[l->n++] = *info;
	return RP_OK;
}

static void board_list_remove(struct board_list *l, uint64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].id == id) {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
			l->n--;
			return;
		}
}

/* Apply one source event to the list. */
static int board_list_apply(struct board_list *l, const struct rp_source_event *ev)
{
	if (ev->type == RP_SOURCE_ARRIVED)
		return board_list_add(l, &ev->info);
	board_list_remove(l, ev->info.id);
	return RP_OK;
}

static void print_list(const struct list_opts *o, struct board_list *l)
{
	qsort(l->v, l->n, sizeof(*l->v), info_cmp);
	if (o->json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; arr && i < l->n; i++)
			json_object_array_add(arr, info_json(&l->v[i], NULL));
		if (arr) {
			puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED));
			json_object_put(arr);
		}
	} else if (l->n) {
		print_table_header(false);
		for (size_t i = 0; i < l->n; i++)
			print_table_row(&l->v[i], NULL);
	} else {
		cli_info("no boards in USB boot mode");
	}
	fflush(stdout);
}

/* Ctrl-C wakes the source, whose wait then ends with RP_ERR_INTERRUPTED. */
static void on_signal(void *ctx, unsigned nth)
{
	struct rp_source *src = ctx;
	(void)nth;
	src->ops->wakeup(src);
}

/* Initial state: everything the source reported by the time it was created. */
static int drain_existing(struct rp_source *src, struct board_list *l)
{
	struct rp_source_event ev;
	int r;

	while ((r = src->ops->next_event(src, &ev, 0)) == RP_OK)
		if (board_list_apply(l, &ev) < 0)
			return RP_ERR_NOMEM;
	return r == RP_ERR_TIMEOUT ? RP_OK : r;
}

static int watch_events(const struct list_opts *o, struct rp_source *src)
{
	uint64_t deadline = rp_deadline_in(o->timeout_ms);

	cli_info("watching for boards (Ctrl-C to stop)");
	for (;;) {
		struct rp_source_event ev;
		int wait = -1, r;

		if (o->has_timeout) {
			uint64_t now = rp_now_ms();
			if (now >= deadline)
				return CLI_EXIT_OK;
			wait = (int)(deadline - now);
		}
		r = src->ops->next_event(src, &ev, wait);
		if (r == RP_ERR_TIMEOUT)
			continue;
		if (r == RP_ERR_INTERRUPTED)
			return CLI_EXIT_OK;
		if (r < 0) {
			struct rp_diag d;
			rp_diag_set(&d, r, "watching USB devices failed: %s", rp_strerror(r));
			return cli_fail(&d);
		}
		print_event(o, &ev.info, ev.type == RP_SOURCE_ARRIVED ? "arrived" : "left");
	}
}

/* Without --watch, --timeout: wait for a first board when there is none. */
static int wait_first(const struct list_opts *o, struct rp_source *src, struct board_list *l)
{
	uint64_t deadline = rp_deadline_in(o->timeout_ms);

	while (l->n == 0) {
		struct rp_source_event ev;
		uint64_t now = rp_now_ms();
		int r;

		if (now >= deadline)
			return RP_ERR_TIMEOUT;
		r = src->ops->next_event(src, &ev, (int)(deadline - now));
		if (r == RP_ERR_TIMEOUT)
			continue;
		if (r < 0)
			return r;
		if (board_list_apply(l, &ev) < 0)
			return RP_ERR_NOMEM;
	}
	/* Boards plugged together arrive together: take what is already queued. */
	return drain_existing(src, l);
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* list looks at USB only, and shows every board's serial */
	struct cli_source_opts so = { .sim = NULL, .read_rom_serials = true };
	struct list_opts o = { 0 };
	struct cli_signals sig;
	struct board_list boards = { 0 };
	char dur[32];
	struct rp_source *src = NULL;
	struct rp_diag d;
	int c, r, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "wT:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'w':
			o.watch = true;
			break;
		case 'T':
			if (rp_parse_duration_ms(optarg, 0, LIST_MAX_TIMEOUT_MS, &o.timeout_ms, &d) < 0)
				return cli_usage_error("list", "--timeout: %s", d.msg);
			o.has_timeout = true;
			break;
		case 'h':
			list_help(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("list");
		}
	}
	if (optind < argc)
		return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);

	rp_diag_clear(&d);
	r = cli_signals_init(&sig, &d); /* before the USB source starts its thread */
	if (r == RP_OK)
		r = cli_source_new(&so, &src, &d);
	if (r < 0) {
		ret = cli_fail(&d);
		goto out;
	}
	cli_signals_start(&sig, on_signal, NULL, -1, src);
	r = drain_existing(src, &boards);
	if (r == RP_OK && !o.watch && o.has_timeout)
		r = wait_first(&o, src, &boards);
	if (r == RP_ERR_TIMEOUT) {
		rp_diag_set(&d, r, "no board in USB boot mode appeared within %s",
			    rp_format_duration_ms(o.timeout_ms, dur, sizeof(dur)));
		ret = cli_fail(&d);
		goto out;
	}
	if (r == RP_ERR_INTERRUPTED) {
		ret = CLI_EXIT_OK;
		goto out;
	}
	if (r < 0) {
		rp_diag_set(&d, r, "listing USB devices failed: %s", rp_strerror(r));
		ret = cli_fail(&d);
		goto out;
	}
	if (!o.watch) {
		print_list(&o, &boards);
		ret = CLI_EXIT_OK;
		goto out;
	}
	qsort(boards.v, boards.n, sizeof(*boards.v), info_cmp);
	if (!o.json)
		print_table_header(true);
	for (size_t i = 0; i < boards.n; i++)
		print_event(&o, &boards.v[i], "present");
	ret = watch_events(&o, src);
out:
	cli_signals_close(&sig);
	if (src)
		src->ops->destroy(src);
	free(boards.v);
	return ret;
}
