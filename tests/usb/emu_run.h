/* Shared by the CLI test programs: run rpiprov-usb-emu with rpiprov as its
 * child, capture the exit status and output, and read the emulator's
 * per-board report. */
#ifndef RP_TESTS_USB_EMU_RUN_H
#define RP_TESTS_USB_EMU_RUN_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct ctx {
	const char *emu;
	const char *rpiprov;
	char *tmpdir;
};

struct result {
	int status; /* exit code, or 128+signal */
	char *out, *err;
	json_object *report; /* array of board objects, or NULL */
};

static inline void result_free(struct result *r)
{
	g_free(r->out);
	g_free(r->err);
	if (r->report)
		json_object_put(r->report);
	memset(r, 0, sizeof(*r));
}

static inline json_object *read_report(const char *path)
{
	json_object *arr = json_object_new_array();
	char *text = NULL;
	char **lines;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return arr;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++)
		if (**l)
			json_object_array_add(arr, json_tokener_parse(*l));
	g_strfreev(lines);
	g_free(text);
	return arr;
}

/* emu_args, then "--", then the rpiprov arguments; both NULL-terminated. */
static inline void run(struct ctx *c, struct result *r, const char *const *emu_args,
		const char *const *cli_args)
{
	GPtrArray *argv = g_ptr_array_new();
	char *report = g_build_filename(c->tmpdir, "report.jsonl", NULL);
	GError *err = NULL;
	int status = 0;

	memset(r, 0, sizeof(*r));
	unlink(report);
	g_ptr_array_add(argv, (char *)c->emu);
	g_ptr_array_add(argv, "--report");
	g_ptr_array_add(argv, report);
	for (const char *const *a = emu_args; *a; a++)
		g_ptr_array_add(argv, (char *)*a);
	g_ptr_array_add(argv, "--");
	g_ptr_array_add(argv, (char *)c->rpiprov);
	for (const char *const *a = cli_args; *a; a++)
		g_ptr_array_add(argv, (char *)*a);
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL, &r->out, &r->err,
			  &status, &err)) {
		fprintf(stderr, "cannot run %s: %s\n", c->emu, err->message);
		g_clear_error(&err);
		r->status = -1;
	} else if (WIFEXITED(status)) {
		r->status = WEXITSTATUS(status);
	} else {
		r->status = 128 + WTERMSIG(status);
	}
	r->report = read_report(report);
	/* A death by signal leaves nothing else to go on: always show it. */
	if (getenv("RPIPROV_TEST_VERBOSE") || r->status >= 128)
		fprintf(stderr, "--- status %d\n--- stdout:\n%s--- stderr:\n%s", r->status,
			r->out ? r->out : "", r->err ? r->err : "");
	g_free(report);
	g_ptr_array_free(argv, TRUE);
}

static inline json_object *board(struct result *r, int i)
{
	return r->report && i < (int)json_object_array_length(r->report)
		       ? json_object_array_get_idx(r->report, (size_t)i)
		       : NULL;
}

static inline const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static inline int64_t jint(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static inline bool jnull(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && v == NULL;
}

/* Position of needle in hay, or -1. */
static inline long find(const char *hay, const char *needle)
{
	const char *p = hay ? strstr(hay, needle) : NULL;
	return p ? (long)(p - hay) : -1;
}

/* A copy of the line of hay that contains needle ("" if none). */
static inline char *line_with(const char *hay, const char *needle)
{
	long at = find(hay, needle);
	const char *s, *e;
	if (at < 0)
		return g_strdup("");
	s = hay + at;
	while (s > hay && s[-1] != '\n')
		s--;
	e = strchr(hay + at, '\n');
	return g_strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static inline int ctx_init(struct ctx *c, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	if (argc < 2 || !getenv("RPIPROV_BIN")) {
		fprintf(stderr, "usage: %s PATH-TO-rpiprov-usb-emu (with RPIPROV_BIN set)\n", argv[0]);
		return -1;
	}
	c->emu = argv[1];
	c->rpiprov = getenv("RPIPROV_BIN");
	c->tmpdir = g_dir_make_tmp("rpiprov-usb-cli-XXXXXX", NULL);
	return c->tmpdir ? 0 : -1;
}

static inline void ctx_cleanup(struct ctx *c)
{
	char *cmd;
	if (!c->tmpdir)
		return;
	cmd = g_strdup_printf("rm -rf '%s'", c->tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", c->tmpdir);
	g_free(cmd);
	g_free(c->tmpdir);
}

#endif
