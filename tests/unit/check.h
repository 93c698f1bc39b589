/* Minimal unit-test harness: CHECK() records a failure and goes on; each test file's
 * main() calls RUN(test_fn) for every test and ends with CHECK_SUMMARY(), which prints
 * "N passed, N failed" and returns the exit status. Header-only on purpose. */
#ifndef FINREG_CHECK_H
#define FINREG_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test;
static int check_tests_passed;
static int check_tests_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                                \
			check_failures_in_test++;                                \
		}                                                                \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *check_a_ = (a), *check_b_ = (b);                     \
		if (check_a_ == NULL || check_b_ == NULL ||                      \
		    strcmp(check_a_, check_b_) != 0) {                           \
			fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, check_a_ ? check_a_ : "(null)",        \
				check_b_ ? check_b_ : "(null)");                 \
			check_failures_in_test++;                                \
		}                                                                \
	} while (0)

#define RUN(fn)                                                                  \
	do {                                                                     \
		check_failures_in_test = 0;                                      \
		fn();                                                            \
		if (check_failures_in_test == 0) {                               \
			check_tests_passed++;                                    \
		} else {                                                         \
			check_tests_failed++;                                    \
			fprintf(stderr, "FAIL %s\n", #fn);                       \
		}                                                                \
	} while (0)

#define CHECK_SUMMARY()                                                          \
	(printf("%d passed, %d failed\n", check_tests_passed,                    \
		check_tests_failed),                                             \
	 check_tests_failed == 0 ? 0 : 1)

#endif
