/* rpiprov-usb-emu: put N emulated boards on a umockdev testbed, run a
 * program (normally the rpiprov CLI, unmodified) against them as a child
 * process, and report what every board went through.
 *
 * Why a separate process: the CLI is tested exactly as shipped (its own
 * main, signal handling, exit codes, output), which the in-process tests
 * (test-usb-source, test-usb-runner) cannot show. The child inherits the
 * testbed through UMOCKDEV_DIR and gets libumockdev-preload through
 * LD_PRELOAD; its ioctls come back here over umockdev's sockets and are
 * answered by the device models in this process.
 *
 *   rpiprov-usb-emu [OPTIONS] -- PROGRAM [ARGS...]
 *
 * The exit status is the child's (128+N if it died of signal N), 124 when
 * --timeout killed it, 70 on an emulator error, and 1 when --expect-eeprom
 * found an updated board whose EEPROM differs or when the program broke
 * the protocol against any board (the model's host_error, also in the
 * report): every test run through the emulator fails on it. */
#include <errno.h>
#include <getopt.h>
#include <glib-unix.h>
#include <glib.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soc/soc.h"
#include "usb_emu.h"
#include "util/fileio.h"

#define EMU_MAX_BOARDS 64
#define EXIT_EMU_ERROR 70
#define EXIT_CHILD_TIMEOUT 124

struct board_spec {
	struct usb_emu_board_opts o;
	char port[RP_PORT_PATH_MAX];
	bool delayed;             /* plug at trigger + delay */
	unsigned delay_ms;
	bool unplug;              /* pull out at trigger + unplug_ms */
	unsigned unplug_ms;
};

struct emu_prog {
	struct usb_emu *emu;
	struct board_spec boards[EMU_MAX_BOARDS];
	unsigned n_boards;
	const char *start_on;
	const char *on_trigger;   /* shell command run at the trigger, before any plug */
	bool triggered;
	int sigint_after_ms;      /* < 0: never */
	unsigned pause_child_ms;  /* SIGSTOP PROGRAM at the trigger for this long */
	unsigned timeout_s;
	const char *report_path;
	const char *expect_eeprom;
	GMainLoop *loop;
	GPid child;
	bool child_done;
	int child_status;
	bool timed_out;
	unsigned open_pipes;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: rpiprov-usb-emu [OPTIONS] -- PROGRAM [ARGS...]\n\n"
		"Emulate Raspberry Pi boards in USB boot mode (umockdev + the rpiprov device\n"
		"model) and run PROGRAM against them.\n\n"
		"  -n, --boards N          N boards on ports 1-1.1 .. 1-1.N (default 1)\n"
		"  -b, --board I:SETTINGS  settings of board I (1-based), comma-separated:\n"
		"                            port=P  serial=S  interfaces=2  second-stage  deny\n"
		"                            fault=NAME[@STEP]  timing=realistic\n"
		"                            soc=2711|2712  firmware=YYYYMMDD (recovery.bin date)\n"
		"                            delay=MS (plug MS after the trigger)\n"
		"                            unplug=MS (pull out MS after the trigger)\n"
		"                            unplug-after-bytes=N (pull out mid-transfer)\n"
		"                            caps=HEX (usbdevfs capabilities)\n"
		"                            speed=full (full-speed link, 64-byte packets)\n"
		"  -s, --start-on TEXT     the trigger is the first output line of PROGRAM\n"
		"                          containing TEXT (default: when PROGRAM starts)\n"
		"  -T, --on-trigger CMD    run CMD with /bin/sh at the trigger, before the\n"
		"                          delayed boards are plugged\n"
		"  -P, --pause-child MS    stop PROGRAM (SIGSTOP) at the trigger, continue it\n"
		"                          MS later: boards arrive while it cannot read\n"
		"  -i, --sigint-after MS   send SIGINT to PROGRAM MS after the trigger\n"
		"  -t, --timeout S         kill PROGRAM after S seconds (default 120)\n"
		"  -r, --report FILE       write one JSON object per board (JSON lines)\n"
		"  -e, --expect-eeprom F   every updated board's EEPROM must equal file F\n"
		"  -h, --help\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_fault(struct rp_sim_params *p, const char *v)
{
	char name[64];
	const char *at = strchr(v, '@');
	int f, s = RP_SIM_STEP_STAGE1;

	g_strlcpy(name, v, at && (size_t)(at - v) < sizeof(name) ? (size_t)(at - v) + 1 : sizeof(name));
	f = rp_sim_fault_from_name(name);
	if (f >= 0)
		s = (int)rp_sim_fault_natural_step((enum rp_sim_fault)f);
	if (at)
		s = rp_sim_step_from_name(at + 1);
	if (f < 0 || s < 0)
		return -1;
	p->fault = (enum rp_sim_fault)f;
	p->fault_step = (enum rp_sim_step)s;
	return 0;
}

static int parse_board(struct emu_prog *p, const char *arg)
{
	unsigned long idx, v;
	char *colon, **items;
	char num[16];
	struct board_spec *b;
	int rc = 0;

	colon = strchr(arg, ':');
	if (!colon || (size_t)(colon - arg) >= sizeof(num))
		return -1;
	g_strlcpy(num, arg, (size_t)(colon - arg) + 1);
	if (parse_uint(num, EMU_MAX_BOARDS, &idx) < 0 || idx == 0)
		return -1;
	if (idx > p->n_boards)
		p->n_boards = (unsigned)idx;
	b = &p->boards[idx - 1];
	items = g_strsplit(colon + 1, ",", -1);
	for (char **it = items; *it && rc == 0; it++) {
		char *eq = strchr(*it, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (!strcmp(*it, "port") && eq)
			g_strlcpy(b->port, val, sizeof(b->port));
		else if (!strcmp(*it, "serial") && eq)
			g_strlcpy(b->o.params.serial, val, sizeof(b->o.params.serial));
		else if (!strcmp(*it, "interfaces") && eq && !parse_uint(val, 2, &v) && v >= 1)
			b->o.num_interfaces = (uint8_t)v;
		else if (!strcmp(*it, "second-stage") && !eq)
			b->o.second_stage = true;
		else if (!strcmp(*it, "deny") && !eq)
			b->o.deny_access = true;
		else if (!strcmp(*it, "fault") && eq)
			rc = parse_fault(&b->o.params, val);
		else if (!strcmp(*it, "soc") && eq && rp_soc_eeprom_by_name(val))
			b->o.params.pid = rp_soc_eeprom_by_name(val)->pid;
		else if (!strcmp(*it, "firmware") && eq && !parse_uint(val, 99991231, &v) && v >= 19700101)
			b->o.params.firmware_date = (uint32_t)v;
		else if (!strcmp(*it, "timing") && !strcmp(val, "realistic"))
			rp_sim_timing_realistic(&b->o.params.timing);
		else if (!strcmp(*it, "delay") && eq && !parse_uint(val, 3600000, &v)) {
			b->delayed = true;
			b->delay_ms = (unsigned)v;
		} else if (!strcmp(*it, "unplug") && eq && !parse_uint(val, 3600000, &v)) {
			b->unplug = true;
			b->unplug_ms = (unsigned)v;
		} else if (!strcmp(*it, "unplug-after-bytes") && eq && !parse_uint(val, 1ul << 40, &v))
			b->o.unplug_after_bulk_bytes = v;
		else if (!strcmp(*it, "caps") && eq && !parse_uint(val, 0xffffffffu, &v))
			b->o.caps = (uint32_t)v;
		else if (!strcmp(*it, "speed") && eq && (!strcmp(val, "full") || !strcmp(val, "high")))
			b->o.full_speed = !strcmp(val, "full");
		else
			rc = -1;
	}
	g_strfreev(items);
	return rc;
}

/* --- trigger: timed plugs, unplugs and SIGINT -------------------------------- */

struct timed {
	struct emu_prog *p;
	unsigned board;
};

static gboolean unplug_cb(gpointer data)
{
	struct timed *t = data;
	usb_emu_unplug(t->p->emu, t->board);
	return G_SOURCE_REMOVE;
}

static gboolean sigint_cb(gpointer data)
{
	struct emu_prog *p = data;
	if (!p->child_done)
		kill(p->child, SIGINT);
	return G_SOURCE_REMOVE;
}

static gboolean continue_cb(gpointer data)
{
	struct emu_prog *p = data;
	if (!p->child_done)
		kill(p->child, SIGCONT);
	return G_SOURCE_REMOVE;
}

static void fire_trigger(struct emu_prog *p)
{
	if (p->triggered)
		return;
	p->triggered = true;
	if (p->pause_child_ms && !p->child_done)
		kill(p->child, SIGSTOP);
	if (p->on_trigger) {
		/* Synchronous, so whatever it changes is in place before the
		 * delayed boards arrive. */
		const char *argv[] = { "/bin/sh", "-c", p->on_trigger, NULL };
		gint status = 0;
		if (!g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL, NULL, &status,
				  NULL) ||
		    !g_spawn_check_wait_status(status, NULL))
			fprintf(stderr, "rpiprov-usb-emu: --on-trigger command failed\n");
	}
	for (unsigned i = 0; i < p->n_boards; i++) {
		struct board_spec *b = &p->boards[i];
		if (b->delayed) {
			b->o.plug_delay_ms = b->delay_ms ? b->delay_ms : 1;
			if (usb_emu_plug(p->emu, &b->o) < 0)
				fprintf(stderr, "rpiprov-usb-emu: cannot plug board %u\n", i + 1);
		}
		if (b->unplug) {
			struct timed *t = g_new0(struct timed, 1);
			t->p = p;
			t->board = i;
			g_timeout_add_full(G_PRIORITY_DEFAULT, b->unplug_ms, unplug_cb, t, g_free);
		}
	}
	if (p->sigint_after_ms >= 0)
		g_timeout_add((guint)p->sigint_after_ms, sigint_cb, p);
	if (p->pause_child_ms)
		g_timeout_add(p->pause_child_ms, continue_cb, p);
}

/* --- the child ------------------------------------------------------------------ */

static void maybe_quit(struct emu_prog *p)
{
	if (p->child_done && p->open_pipes == 0)
		g_main_loop_quit(p->loop);
}

static void on_child_exit(GPid pid, gint status, gpointer data)
{
	struct emu_prog *p = data;
	p->child_done = true;
	p->child_status = status;
	g_spawn_close_pid(pid);
	maybe_quit(p);
}

static gboolean on_timeout(gpointer data)
{
	struct emu_prog *p = data;
	if (!p->child_done) {
		p->timed_out = true;
		kill(p->child, SIGKILL);
	}
	return G_SOURCE_REMOVE;
}

/* One of the child's output pipes, copied through line by line while
 * looking for the trigger text. */
struct pipe_watch {
	struct emu_prog *p;
	FILE *out;
	GString *line;
};

static gboolean on_output(gint fd, GIOCondition cond, gpointer data)
{
	struct pipe_watch *w = data;
	struct emu_prog *p = w->p;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	char *nl;

	(void)cond;
	if (n < 0 && errno == EINTR)
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		close(fd);
		g_string_free(w->line, TRUE);
		g_free(w);
		p->open_pipes--;
		maybe_quit(p);
		return G_SOURCE_REMOVE;
	}
	fwrite(buf, 1, (size_t)n, w->out);
	fflush(w->out);
	g_string_append_len(w->line, buf, n);
	if (p->start_on && strstr(w->line->str, p->start_on))
		fire_trigger(p);
	nl = strrchr(w->line->str, '\n');
	if (nl)
		g_string_erase(w->line, 0, nl - w->line->str + 1);
	return G_SOURCE_CONTINUE;
}

static void watch_pipe(struct emu_prog *p, int fd, FILE *out)
{
	struct pipe_watch *w = g_new0(struct pipe_watch, 1);
	w->p = p;
	w->out = out;
	w->line = g_string_new(NULL);
	p->open_pipes++;
	g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, w);
}

static char *prepend_env(const char *name, const char *value, const char *sep)
{
	const char *old = g_getenv(name);
	return old && *old ? g_strconcat(value, sep, old, NULL) : g_strdup(value);
}

static int run_child(struct emu_prog *p, char **argv)
{
	GError *err = NULL;
	char **envp = g_get_environ();
	char *preload = prepend_env("LD_PRELOAD", "libumockdev-preload.so.0", " ");
	const char *asan = g_getenv("ASAN_OPTIONS");
	char *asan_opts = NULL;
	gint out_fd = -1, err_fd = -1;
	gboolean ok;

	envp = g_environ_setenv(envp, "LD_PRELOAD", preload, TRUE);
	/* A sanitized child gets the preload before libasan: allowed here. */
	if (!asan || !strstr(asan, "verify_asan_link_order")) {
		asan_opts = asan && *asan ? g_strconcat(asan, ":verify_asan_link_order=0", NULL)
					  : g_strdup("verify_asan_link_order=0");
		envp = g_environ_setenv(envp, "ASAN_OPTIONS", asan_opts, TRUE);
	}
	ok = g_spawn_async_with_pipes(NULL, argv, envp,
				      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
				      &p->child, NULL, p->start_on ? &out_fd : NULL,
				      p->start_on ? &err_fd : NULL, &err);
	g_strfreev(envp);
	g_free(preload);
	g_free(asan_opts);
	if (!ok) {
		fprintf(stderr, "rpiprov-usb-emu: cannot run %s: %s\n", argv[0], err->message);
		g_clear_error(&err);
		return -1;
	}
	g_child_watch_add(p->child, on_child_exit, p);
	if (p->start_on) {
		watch_pipe(p, out_fd, stdout);
		watch_pipe(p, err_fd, stderr);
	} else {
		fire_trigger(p);
	}
	g_timeout_add_seconds(p->timeout_s, on_timeout, p);
	return 0;
}

/* --- report ------------------------------------------------------------------------ */

static const char *outcome_name(enum rp_sim_outcome o)
{
	static const char *const names[] = {
		[RP_SIM_RUNNING] = "running",       [RP_SIM_UPDATED] = "updated",
		[RP_SIM_REFUSED] = "refused",       [RP_SIM_WRITE_FAILED] = "write_failed",
		[RP_SIM_GONE] = "gone",             [RP_SIM_ERASED] = "erased",
		[RP_SIM_NOT_UPDATED] = "not_updated", [RP_SIM_BOOTED] = "booted",
	};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_object *board_json(struct emu_prog *p, unsigned i, const uint8_t *expect,
			       size_t expect_len, bool *mismatch, bool *host_error)
{
	json_object *o = json_object_new_object();
	struct usb_emu_stats st;
	enum rp_sim_outcome oc = usb_emu_outcome(p->emu, i);
	size_t len = 0;
	uint8_t *ee = usb_emu_eeprom(p->emu, i, &len);
	char hex[65] = "";

	usb_emu_stats(p->emu, i, &st);
	json_object_object_add(o, "board", json_object_new_int((int)i + 1));
	json_object_object_add(o, "port", json_object_new_string(usb_emu_port_path(p->emu, i)));
	json_object_object_add(o, "outcome", json_object_new_string(outcome_name(oc)));
	json_object_object_add(o, "stage", json_object_new_string(
		usb_emu_stage(p->emu, i) == RP_STAGE_ROM ? "rom" : "second-stage"));
	json_object_object_add(o, "present", json_object_new_boolean(st.present));
	json_object_object_add(o, "enumerations", json_object_new_int((int)st.enumerations));
	json_object_object_add(o, "opens", json_object_new_int64((int64_t)st.opens));
	json_object_object_add(o, "ioctls", json_object_new_int64((int64_t)st.ioctls));
	json_object_object_add(o, "urbs", json_object_new_int64((int64_t)st.urbs));
	json_object_object_add(o, "control_urbs", json_object_new_int64((int64_t)st.control_urbs));
	json_object_object_add(o, "bulk_urbs", json_object_new_int64((int64_t)st.bulk_urbs));
	json_object_object_add(o, "bulk_bytes", json_object_new_int64((int64_t)st.bulk_bytes));
	json_object_object_add(o, "max_bulk_urb", json_object_new_int64((int64_t)st.max_bulk_urb));
	json_object_object_add(o, "model_transfers",
			       json_object_new_int64((int64_t)st.model_transfers));
	json_object_object_add(o, "reaps", json_object_new_int64((int64_t)st.reaps));
	json_object_object_add(o, "discards", json_object_new_int64((int64_t)st.discards));
	if (ee)
		sha256_hex(ee, len, hex);
	json_object_object_add(o, "eeprom_sha256", json_object_new_string(hex));
	{
		size_t ss_len = 0;
		uint8_t *ss = usb_emu_second_stage(p->emu, i, &ss_len);
		char ss_hex[65] = "";
		if (ss)
			sha256_hex(ss, ss_len, ss_hex);
		json_object_object_add(o, "second_stage_sha256", json_object_new_string(ss_hex));
		free(ss);
	}
	{
		bool ran = false;
		const char *kind = usb_emu_second_stage_kind(p->emu, i, &ran);
		char *herr = usb_emu_host_error(p->emu, i);
		char *duid = usb_emu_factory_uuid(p->emu, i);
		json_object_object_add(o, "second_stage", json_object_new_string(kind));
		json_object_object_add(o, "second_stage_ran", json_object_new_boolean(ran));
		json_object_object_add(o, "factory_uuid", json_object_new_string(duid ? duid : ""));
		json_object_object_add(o, "host_error", herr ? json_object_new_string(herr) : NULL);
		if (herr) {
			*host_error = true;
			fprintf(stderr, "rpiprov-usb-emu: board %u: host error: %s\n", i + 1, herr);
		}
		g_free(herr);
		g_free(duid);
	}
	if (expect) {
		bool same = ee && len == expect_len && !memcmp(ee, expect, len);
		json_object_object_add(o, "eeprom_matches", json_object_new_boolean(same));
		if (oc == RP_SIM_UPDATED && !same)
			*mismatch = true;
	}
	free(ee);
	return o;
}

static int write_report(struct emu_prog *p, bool *mismatch, bool *host_error)
{
	uint8_t *expect = NULL;
	size_t expect_len = 0;
	struct rp_diag d;
	FILE *f = NULL;

	if (p->expect_eeprom &&
	    rp_file_read_all(p->expect_eeprom, 64u << 20, &expect, &expect_len, &d) < 0) {
		fprintf(stderr, "rpiprov-usb-emu: %s\n", rp_diag_message(&d));
		return -1;
	}
	if (p->report_path) {
		f = fopen(p->report_path, "w");
		if (!f) {
			fprintf(stderr, "rpiprov-usb-emu: cannot write %s: %s\n", p->report_path,
				strerror(errno));
			free(expect);
			return -1;
		}
	}
	for (unsigned i = 0; i < usb_emu_count(p->emu); i++) {
		json_object *o = board_json(p, i, expect, expect_len, mismatch, host_error);
		if (f)
			fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	if (f)
		fclose(f);
	free(expect);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "boards", required_argument, NULL, 'n' },
		{ "board", required_argument, NULL, 'b' },
		{ "start-on", required_argument, NULL, 's' },
		{ "on-trigger", required_argument, NULL, 'T' },
		{ "pause-child", required_argument, NULL, 'P' },
		{ "sigint-after", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "report", required_argument, NULL, 'r' },
		{ "expect-eeprom", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct emu_prog *p = g_new0(struct emu_prog, 1);
	unsigned long v;
	bool mismatch = false, host_error = false;
	int c, rc = EXIT_EMU_ERROR;

	p->n_boards = 1;
	p->timeout_s = 120;
	p->sigint_after_ms = -1;
	for (unsigned i = 0; i < EMU_MAX_BOARDS; i++)
		rp_sim_params_default(&p->boards[i].o.params, i + 1);
	while ((c = getopt_long(argc, argv, "+n:b:s:T:P:i:t:r:e:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint(optarg, EMU_MAX_BOARDS, &v) < 0)
				goto usage_error;
			p->n_boards = (unsigned)v;
			break;
		case 'b':
			if (parse_board(p, optarg) < 0) {
				fprintf(stderr, "rpiprov-usb-emu: bad --board '%s'\n", optarg);
				goto usage_error;
			}
			break;
		case 's':
			p->start_on = optarg;
			break;
		case 'T':
			p->on_trigger = optarg;
			break;
		case 'P':
			if (parse_uint(optarg, 600000, &v) < 0)
				goto usage_error;
			p->pause_child_ms = (unsigned)v;
			break;
		case 'i':
			if (parse_uint(optarg, 3600000, &v) < 0)
				goto usage_error;
			p->sigint_after_ms = (int)v;
			break;
		case 't':
			if (parse_uint(optarg, 86400, &v) < 0 || v == 0)
				goto usage_error;
			p->timeout_s = (unsigned)v;
			break;
		case 'r':
			p->report_path = optarg;
			break;
		case 'e':
			p->expect_eeprom = optarg;
			break;
		case 'h':
			usage(stdout);
			g_free(p);
			return 0;
		default:
			goto usage_error;
		}
	}
	if (optind >= argc)
		goto usage_error;

	p->emu = usb_emu_new();
	if (!p->emu)
		goto out;
	for (unsigned i = 0; i < p->n_boards; i++) {
		struct board_spec *b = &p->boards[i];
		if (!b->port[0])
			g_snprintf(b->port, sizeof(b->port), "1-1.%u", i + 1);
		b->o.port_path = b->port;
		if (!b->delayed && usb_emu_plug(p->emu, &b->o) < 0)
			goto out;
	}
	p->loop = g_main_loop_new(NULL, FALSE);
	if (run_child(p, argv + optind) < 0)
		goto out;
	g_main_loop_run(p->loop);
	/* Let in-flight re-enumerations and removals land before looking. */
	usb_emu_wait_settled(p->emu, 2000);
	if (write_report(p, &mismatch, &host_error) < 0)
		goto out;
	if (p->timed_out) {
		fprintf(stderr, "rpiprov-usb-emu: %s did not finish within %u s: killed\n",
			argv[optind], p->timeout_s);
		rc = EXIT_CHILD_TIMEOUT;
	} else if (mismatch) {
		fprintf(stderr, "rpiprov-usb-emu: an updated board's EEPROM differs from %s\n",
			p->expect_eeprom);
		rc = 1;
	} else if (host_error) {
		/* A protocol error against the model fails the run even when the
		 * program under test claims success. */
		rc = 1;
	} else if (WIFEXITED(p->child_status)) {
		rc = WEXITSTATUS(p->child_status);
	} else if (WIFSIGNALED(p->child_status)) {
		rc = 128 + WTERMSIG(p->child_status);
	}
out:
	usb_emu_free(p->emu);
	if (p->loop)
		g_main_loop_unref(p->loop);
	g_free(p);
	return rc;
usage_error:
	usage(stderr);
	g_free(p);
	return 64;
}
