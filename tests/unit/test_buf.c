/* Unit tests for buf: appends of bytes, strings and printf text, the NUL after the
 * contents, exact reserve, the cap, reset and take, and an allocation failure (simulated
 * with buf_test_fail_after) that fails the buffer instead of aborting. */
#include "check.h"
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>

static void test_appends_join_bytes_strings_and_printf_text(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(buf_append(&b, "ab\0c", 4));
	CHECK(buf_append_str(&b, "de"));
	CHECK(buf_printf(&b, "%d-%s", 42, "x"));
	CHECK(b.len == 10);
	CHECK(memcmp(b.data, "ab\0cde42-x", 11) == 0);
	CHECK(!b.failed);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0);
}

static void test_zero_initialised_buffer_takes_as_empty_string(void)
{
	struct buf b = {0};
	size_t len = 99;
	char *text = buf_take(&b, &len);

	CHECK_STR(text, "");
	CHECK(len == 0);
	free(text);
}

static void test_many_appends_grow_and_keep_every_byte(void)
{
	struct buf b;
	size_t len;
	char *text;
	int ok = 1;

	buf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		ok &= buf_printf(&b, "%04d,", i % 10000);
	CHECK(ok);
	CHECK(b.len == 50000);
	CHECK(b.cap >= b.len + 1);
	text = buf_take(&b, &len);
	CHECK(len == 50000);
	CHECK(strncmp(text, "0000,0001,", 10) == 0);
	CHECK(strcmp(text + len - 5, "9999,") == 0);
	CHECK(b.data == NULL);
	free(text);
}

static void test_reserve_allocates_exactly_and_append_then_fits(void)
{
	struct buf b;
	char *before;

	buf_init(&b, 0);
	CHECK(buf_reserve(&b, 1000));
	CHECK(b.cap == 1001);
	before = b.data;
	CHECK(buf_append(&b, "x", 1));
	CHECK(buf_reserve(&b, 999));
	CHECK(b.data == before && b.cap == 1001);
	CHECK(buf_reserve(&b, 1000));
	CHECK(b.cap == 1002);
	buf_free(&b);
}

static void test_cap_refuses_what_would_pass_it_and_fails_the_buffer(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK(buf_append_str(&b, "12345678"));
	CHECK(b.cap <= 9);
	CHECK(!buf_append(&b, "9", 1));
	CHECK(b.failed);
	CHECK(b.len == 8);
	CHECK_STR(b.data, "12345678");
	CHECK(!buf_append(&b, "", 0)); /* failed is sticky */
	CHECK(buf_take(&b, NULL) == NULL);
	CHECK(b.data == NULL && !b.failed && b.max == 8);
	CHECK(!buf_reserve(&b, 9));
	buf_reset(&b);
	CHECK(buf_reserve(&b, 8));
	CHECK(!buf_printf(&b, "%s", "123456789"));
	buf_free(&b);
}

static void test_size_overflow_fails_instead_of_wrapping(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(buf_append_str(&b, "a"));
	CHECK(!buf_reserve(&b, SIZE_MAX));
	CHECK(!buf_append(&b, "b", SIZE_MAX - 1));
	CHECK(b.failed);
	CHECK_STR(b.data, "a");
	buf_free(&b);
}

static void test_allocation_failure_fails_the_buffer_without_aborting(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(buf_append_str(&b, "kept"));
	buf_test_fail_after(0);
	CHECK(!buf_reserve(&b, 100000));
	buf_test_fail_after(-1);
	CHECK(b.failed);
	CHECK_STR(b.data, "kept");
	CHECK(!buf_append_str(&b, "more"));
	CHECK(buf_take(&b, NULL) == NULL);

	buf_init(&b, 0);
	buf_test_fail_after(1); /* the first growth succeeds, the second fails */
	CHECK(buf_append_str(&b, "x"));
	CHECK(!buf_reserve(&b, 100000));
	CHECK(!buf_printf(&b, "%d", 1));
	buf_test_fail_after(-1);
	CHECK(b.failed);
	buf_free(&b);

	buf_init(&b, 0);
	buf_test_fail_after(0);
	CHECK(!buf_printf(&b, "%s", "first"));
	buf_test_fail_after(-1);
	CHECK(b.data == NULL);
	CHECK(buf_take(&b, NULL) == NULL);
}

static void test_reset_empties_and_clears_failure_keeping_memory(void)
{
	struct buf b;
	char *mem;

	buf_init(&b, 4);
	CHECK(buf_append_str(&b, "abcd"));
	CHECK(!buf_append_str(&b, "e"));
	mem = b.data;
	buf_reset(&b);
	CHECK(!b.failed && b.len == 0 && b.data == mem);
	CHECK_STR(b.data, "");
	CHECK(buf_append_str(&b, "xy"));
	CHECK_STR(b.data, "xy");
	buf_free(&b);
}

int main(void)
{
	RUN(test_appends_join_bytes_strings_and_printf_text);
	RUN(test_zero_initialised_buffer_takes_as_empty_string);
	RUN(test_many_appends_grow_and_keep_every_byte);
	RUN(test_reserve_allocates_exactly_and_append_then_fits);
	RUN(test_cap_refuses_what_would_pass_it_and_fails_the_buffer);
	RUN(test_size_overflow_fails_instead_of_wrapping);
	RUN(test_allocation_failure_fails_the_buffer_without_aborting);
	RUN(test_reset_empties_and_clears_failure_keeping_memory);
	return CHECK_SUMMARY();
}
