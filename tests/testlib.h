/* Minimal test helpers shared by the test programs. A failed check prints
 * where and why and makes the program exit non-zero at the end; exit code
 * 77 tells meson the test was skipped. */
#ifndef RP_TESTS_TESTLIB_H
#define RP_TESTS_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77

static int test_failures;

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

static inline int test_result(void)
{
	if (test_failures)
		fprintf(stderr, "%d check(s) failed\n", test_failures);
	return test_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Directory with the real firmware fixtures, or NULL (callers skip). */
static inline const char *test_firmware_dir(void)
{
	const char *d = getenv("RPIPROV_TEST_FIRMWARE");
	return (d && *d) ? d : NULL;
}

#endif
