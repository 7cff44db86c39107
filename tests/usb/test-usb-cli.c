/* The rpiprov CLI, unmodified, against emulated boards: each case runs
 * rpiprov-usb-emu (argv[1]) with rpiprov ($RPIPROV_BIN) as its child and
 * checks the exit status, the output and the emulator's per-board report. */
#include "emu_run.h"
#include "testlib.h"

static const char *const three_boards[] = {
	"-n", "3", "-b", "2:interfaces=2", "-b", "3:port=1-3,second-stage,serial=abc123", NULL
};

/* Scenario 1: `rpiprov list` shows the emulated boards with the right fields. */
static void test_list_table(struct ctx *c)
{
	static const char *const args[] = { "list", NULL };
	struct result r;
	char *l1, *l2, *l3;

	run(c, &r, three_boards, args);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "PORT");
	l1 = line_with(r.out, "1-1.1 ");
	l2 = line_with(r.out, "1-1.2 ");
	l3 = line_with(r.out, "1-3 ");
	CHECK_CONTAINS(l1, "0a5c:2711");
	CHECK_CONTAINS(l1, "BCM2711");
	CHECK_CONTAINS(l1, "ROM");
	CHECK_CONTAINS(l2, "ROM");
	CHECK_CONTAINS(l3, "second-stage");
	CHECK_CONTAINS(l3, "abc123");
	/* Sorted by port, numerically. */
	CHECK(find(r.out, "1-1.1 ") >= 0 && find(r.out, "1-1.1 ") < find(r.out, "1-1.2 "));
	CHECK(find(r.out, "1-1.2 ") < find(r.out, "1-3 "));
	/* list opens a board for its serial string only (F2, F3: the ROM's
	 * index 3 too), and sends it nothing. */
	CHECK_EQ_INT(jint(board(&r, 0), "opens"), 1);
	CHECK_EQ_INT(jint(board(&r, 0), "model_transfers"), 0);
	CHECK_EQ_INT(jint(board(&r, 2), "model_transfers"), 0);
	CHECK(jint(board(&r, 2), "control_urbs") >= 2);
	g_free(l1);
	g_free(l2);
	g_free(l3);
	result_free(&r);
}

static void test_list_json(struct ctx *c)
{
	static const char *const args[] = { "list", "--json", NULL };
	struct result r;
	json_object *arr, *b0, *b1, *b2;

	run(c, &r, three_boards, args);
	CHECK_EQ_INT(r.status, 0);
	arr = json_tokener_parse(r.out ? r.out : "");
	CHECK(arr && json_object_is_type(arr, json_type_array));
	if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != 3) {
		CHECK(!"three boards in the JSON array");
		json_object_put(arr);
		result_free(&r);
		return;
	}
	b0 = json_object_array_get_idx(arr, 0);
	b1 = json_object_array_get_idx(arr, 1);
	b2 = json_object_array_get_idx(arr, 2);
	CHECK_STR_EQ(jstr(b0, "port"), "1-1.1");
	CHECK_STR_EQ(jstr(b1, "port"), "1-1.2");
	CHECK_STR_EQ(jstr(b2, "port"), "1-3");
	CHECK_STR_EQ(jstr(b0, "vid"), "0a5c");
	CHECK_STR_EQ(jstr(b0, "pid"), "2711");
	CHECK_STR_EQ(jstr(b0, "chip"), "BCM2711");
	CHECK_STR_EQ(jstr(b0, "soc"), "2711");
	CHECK_STR_EQ(jstr(b0, "stage"), "rom");
	CHECK(!jnull(b0, "serial") && strlen(jstr(b0, "serial")) == 8);
	CHECK_EQ_INT(jint(b0, "bus"), 1);
	CHECK_EQ_INT(jint(b0, "interfaces"), 1);
	CHECK_EQ_INT(jint(b1, "interfaces"), 2);
	CHECK_STR_EQ(jstr(b2, "stage"), "second-stage");
	CHECK_STR_EQ(jstr(b2, "serial"), "abc123");
	CHECK(jint(b0, "address") > 1 && jint(b0, "address") != jint(b1, "address"));
	CHECK(jint(b1, "address") != jint(b2, "address"));
	json_object_put(arr);
	result_free(&r);
}

/* --watch prints arrivals and departures as they happen. */
static void test_list_watch(struct ctx *c)
{
	static const char *const emu[] = { "-n", "2", "-b", "2:delay=300,unplug=800", "--start-on",
					   "watching for boards", NULL };
	static const char *const args[] = { "list", "--watch", "--timeout", "3", NULL };
	struct result r;
	long present, arrived, left;
	char *la, *ll;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	present = find(r.out, "present");
	arrived = find(r.out, "arrived");
	left = find(r.out, "left");
	CHECK(present >= 0 && arrived > present && left > arrived);
	la = line_with(r.out, "present");
	CHECK_CONTAINS(la, "1-1.1 ");
	g_free(la);
	la = line_with(r.out, "arrived");
	ll = line_with(r.out, "left");
	CHECK_CONTAINS(la, "1-1.2 ");
	CHECK_CONTAINS(ll, "1-1.2 ");
	CHECK_CONTAINS(la, "ROM");
	g_free(la);
	g_free(ll);
	CHECK_EQ_INT(jint(board(&r, 1), "enumerations"), 1);
	result_free(&r);
}

/* --watch --json: JSON lines; Ctrl-C ends it cleanly. */
static void test_list_watch_json_sigint(struct ctx *c)
{
	static const char *const emu[] = { "-n", "2", "-b", "2:delay=200", "--start-on",
					   "watching for boards", "--sigint-after", "700", NULL };
	static const char *const args[] = { "list", "--watch", "--json", NULL };
	struct result r;
	char **lines;
	unsigned n = 0;

	run(c, &r, emu, args);
	CHECK_EQ_INT(r.status, 0);
	lines = g_strsplit(r.out ? r.out : "", "\n", -1);
	for (char **l = lines; *l; l++) {
		json_object *o;
		if (!**l)
			continue;
		o = json_tokener_parse(*l);
		CHECK(o != NULL);
		if (n == 0) {
			CHECK_STR_EQ(jstr(o, "event"), "present");
			CHECK_STR_EQ(jstr(o, "port"), "1-1.1");
		} else if (n == 1) {
			CHECK_STR_EQ(jstr(o, "event"), "arrived");
			CHECK_STR_EQ(jstr(o, "port"), "1-1.2");
		}
		json_object_put(o);
		n++;
	}
	CHECK_EQ_INT(n, 2);
	g_strfreev(lines);
	result_free(&r);
}

/* --timeout without --watch waits for a first board, or gives up with 75. */
static void test_list_wait(struct ctx *c)
{
	static const char *const none[] = { "-n", "0", NULL };
	static const char *const later[] = { "-n", "1", "-b", "1:delay=300", NULL };
	static const char *const args[] = { "list", "--timeout", "1", NULL };
	static const char *const args5[] = { "list", "--timeout", "5", NULL };
	struct result r;

	run(c, &r, none, args);
	CHECK_EQ_INT(r.status, 75);
	CHECK_CONTAINS(r.err, "no board in USB boot mode appeared within 1 s");
	result_free(&r);

	run(c, &r, later, args5);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "1-1.1 ");
	result_free(&r);
}

static void test_list_usage(struct ctx *c)
{
	static const char *const none[] = { "-n", "0", NULL };
	static const char *const bogus[] = { "list", "--bogus", NULL };
	static const char *const badtime[] = { "list", "--timeout", "soon", NULL };
	static const char *const help[] = { "list", "--help", NULL };
	struct result r;

	run(c, &r, none, bogus);
	CHECK_EQ_INT(r.status, 64);
	result_free(&r);
	run(c, &r, none, badtime);
	CHECK_EQ_INT(r.status, 64);
	CHECK_CONTAINS(r.err, "--timeout");
	result_free(&r);
	run(c, &r, none, help);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "--watch");
	result_free(&r);
}

/* Outside the testbed, on a machine without USB (like the CI machines):
 * a clear message and 69, not a crash or an empty list. */
static void test_list_no_usb(struct ctx *c)
{
	char *argv[] = { (char *)c->rpiprov, "list", NULL };
	char **envp;
	char *out = NULL, *err = NULL;
	int status = 0;

	if (g_file_test("/sys/bus/usb", G_FILE_TEST_EXISTS) ||
	    g_file_test("/dev/bus/usb", G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "this machine has USB: skipping the no-USB check\n");
		return;
	}
	envp = g_get_environ();
	envp = g_environ_unsetenv(envp, "UMOCKDEV_DIR");
	envp = g_environ_unsetenv(envp, "LD_PRELOAD");
	CHECK(g_spawn_sync(NULL, argv, envp, 0, NULL, NULL, &out, &err, &status, NULL));
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 69);
	CHECK_CONTAINS(err, "rpiprov: error: USB is not available");
	g_strfreev(envp);
	g_free(out);
	g_free(err);
}

/* A protocol error by the program under test fails the emulator run
 * (exit 1) and is in the board's report, even when the program itself
 * exits 0: no emulator test can pass over one. */
static void test_host_error_fails_run(struct ctx *c, const char *bad_host)
{
	static const char *const none[] = { NULL };
	const char *rpiprov = c->rpiprov;
	struct result r;

	if (!bad_host) {
		CHECK(!"usb-bad-host given as argv[2]");
		return;
	}
	c->rpiprov = bad_host;
	run(c, &r, none, none);
	c->rpiprov = rpiprov;
	CHECK_CONTAINS(r.out, "usb-bad-host: control transfer");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(jstr(board(&r, 0), "host_error"), "bRequest 1");
	CHECK_CONTAINS(r.err, "host error");
	result_free(&r);
}

int main(int argc, char **argv)
{
	struct ctx c;

	if (ctx_init(&c, argc, argv) < 0)
		return EXIT_FAILURE;
	RUN(test_host_error_fails_run(&c, argc > 2 ? argv[2] : NULL));
	RUN(test_list_table(&c));
	RUN(test_list_json(&c));
	RUN(test_list_watch(&c));
	RUN(test_list_watch_json_sigint(&c));
	RUN(test_list_wait(&c));
	RUN(test_list_usage(&c));
	RUN(test_list_no_usb(&c));
	ctx_cleanup(&c);
	return test_result();
}
