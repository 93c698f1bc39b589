/* A jansson allocator that fails on purpose: after jansson_fail_after(n), n more
 * allocations succeed and every later one fails (returns NULL) until
 * jansson_fail_after(-1). For tests of what code does when jansson runs out of memory.
 * Header-only, as check.h. */
#ifndef FINREG_JANSSON_FAIL_H
#define FINREG_JANSSON_FAIL_H

#include <jansson.h>
#include <stdlib.h>

static long jansson_fail_left = -1; /* -1: never fail */

static void *jansson_failing_malloc(size_t n)
{
	if (jansson_fail_left == 0)
		return NULL;
	if (jansson_fail_left > 0)
		jansson_fail_left--;
	return malloc(n);
}

static inline void jansson_fail_after(long n)
{
	jansson_fail_left = n < 0 ? -1 : n;
	json_set_alloc_funcs(jansson_failing_malloc, free);
}

#endif
