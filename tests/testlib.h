/* Minimal test helpers shared by the test programs, which speak TAP
 * (meson's `protocol : 'tap'`): each RUN(test_case(...)) prints one
 * "ok N - name" or "not ok N - name" line, so `meson test` lists every
 * scenario and a failure names it. A failed check prints where and why on
 * stderr. test_skip_all() skips a whole program (fixtures missing),
 * test_skip_case() the case being run. */
#ifndef RP_TESTS_TESTLIB_H
#define RP_TESTS_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_SKIP 77

static int test_failures;
static int tap_cases;
static int tap_case_failures; /* failed checks counted inside RUN() */
static const char *tap_skip_reason;

/* "test_flash_one(&c, &f)" is listed as "flash_one(&c, &f)", and a case
 * without arguments without its "()". */
static inline void tap_case_end(const char *call, int new_failures)
{
	const char *name = strncmp(call, "test_", 5) == 0 ? call + 5 : call;
	size_t len = strlen(name);

	if (len > 2 && strcmp(name + len - 2, "()") == 0)
		len -= 2;
	tap_cases++;
	tap_case_failures += new_failures;
	if (new_failures)
		printf("not ok %d - %.*s\n", tap_cases, (int)len, name);
	else if (tap_skip_reason)
		printf("ok %d - %.*s # SKIP %s\n", tap_cases, (int)len, name, tap_skip_reason);
	else
		printf("ok %d - %.*s\n", tap_cases, (int)len, name);
	tap_skip_reason = NULL;
	fflush(stdout);
	/* Keep stderr diagnostics next to the case they belong to. */
	fflush(stderr);
}

#define RUN_NAMED(name, call)                                                           \
	do {                                                                            \
		int before_ = test_failures;                                            \
		tap_skip_reason = NULL;                                                 \
		fflush(stdout);                                                         \
		call;                                                                   \
		tap_case_end((name), test_failures - before_);                          \
	} while (0)
#define RUN(call) RUN_NAMED(#call, call)

/* A case that cannot run here (fixture missing) is listed as skipped. */
#define RUN_SKIPPED_NAMED(name, reason)                                                 \
	do {                                                                            \
		tap_skip_reason = (reason);                                             \
		tap_case_end((name), 0);                                                \
	} while (0)
#define RUN_SKIPPED(call, reason) RUN_SKIPPED_NAMED(#call, reason)

/* Inside a case run by RUN(): the case is reported as skipped. */
static inline void test_skip_case(const char *reason)
{
	tap_skip_reason = reason;
	fprintf(stderr, "skipped: %s\n", reason);
}

/* From main(): the whole program is skipped; return its result. */
static inline int test_skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fprintf(stderr, "skipped: %s\n", reason);
	return EXIT_SUCCESS;
}

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                              \
	do {                                                                            \
		long long va_ = (long long)(a), vb_ = (long long)(b);                   \
		if (va_ != vb_) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",  \
				__FILE__, __LINE__, #a, #b, va_, vb_);                  \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                              \
	do {                                                                            \
		const char *sa_ = (a), *sb_ = (b);                                      \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
				__FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)",       \
				sb_ ? sb_ : "(null)");                                  \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                     \
	do {                                                                            \
		const char *h_ = (hay), *n_ = (needle);                                 \
		if (!h_ || !strstr(h_, n_)) {                                           \
			fprintf(stderr, "%s:%d: CHECK failed: \"%s\" contains \"%s\"\n",  \
				__FILE__, __LINE__, h_ ? h_ : "(null)", n_);            \
			test_failures++;                                                \
		}                                                                       \
	} while (0)

/* Ends the TAP stream. Checks failed outside any RUN() still fail the
 * program, as one extra case. */
static inline int test_result(void)
{
	if (test_failures > tap_case_failures)
		printf("not ok %d - checks outside a case\n", ++tap_cases);
	printf("1..%d\n", tap_cases);
	if (test_failures)
		fprintf(stderr, "%d check(s) failed\n", test_failures);
	fflush(stdout);
	return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A fresh scratch directory under $TMPDIR (or /tmp), named after the
 * test, made the current directory. NULL (and a message) on failure. */
static inline const char *test_scratch_enter(const char *name, char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/rpiprov-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(buf) || chdir(buf) != 0) {
		perror(buf);
		return NULL;
	}
	return buf;
}

/* Leave the scratch directory and remove it with everything in it. */
static inline void test_scratch_leave(const char *dir)
{
	char cmd[4200];

	if (chdir("/") != 0)
		perror("chdir /");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Directory with the real firmware fixtures, or NULL (callers skip). */
static inline const char *test_firmware_dir(void)
{
	const char *d = getenv("RPIPROV_TEST_FIRMWARE");
	return (d && *d) ? d : NULL;
}

#endif
