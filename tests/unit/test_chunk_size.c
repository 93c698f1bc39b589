/* Unit tests for chunk_size: the compactor's chunk halves on a statement timeout down to
 * one row, doubles back to 5,000 when a chunk folds in a quarter of the timeout, and holds
 * otherwise. */
#include "check.h"
#include "chunk_size.h"

#define MS(n) ((uint64_t)(n)*1000u)

static void test_a_timeout_halves_the_chunk_down_to_one_row(void)
{
	long long c = CHUNK_SIZE_MAX;
	int steps = 0;

	CHECK(chunk_size_next(5000, false, true, MS(5000), MS(5000)) == 2500);
	CHECK(chunk_size_next(3, false, true, MS(5000), MS(5000)) == 1);
	CHECK(chunk_size_next(1, false, true, MS(5000), MS(5000)) == 1);
	while (c > 1 && steps < 100) {
		c = chunk_size_next(c, false, true, MS(5000), MS(5000));
		steps++;
	}
	CHECK(c == 1);
	CHECK(steps == 12); /* 5000 2500 1250 625 312 156 78 39 19 9 4 2 1 */
}

static void test_a_quick_chunk_doubles_up_to_the_maximum(void)
{
	CHECK(chunk_size_next(1, true, false, MS(10), MS(5000)) == 2);
	CHECK(chunk_size_next(2500, true, false, MS(1250), MS(5000)) == 5000);
	CHECK(chunk_size_next(4000, true, false, 0, MS(5000)) == CHUNK_SIZE_MAX);
	CHECK(chunk_size_next(5000, true, false, 0, MS(5000)) == CHUNK_SIZE_MAX);
}

static void test_a_chunk_past_a_quarter_of_the_timeout_holds(void)
{
	CHECK(chunk_size_next(625, true, false, MS(1251), MS(5000)) == 625);
	CHECK(chunk_size_next(625, true, false, MS(4999), MS(5000)) == 625);
}

static void test_no_timeout_is_room_to_grow(void)
{
	CHECK(chunk_size_next(100, true, false, MS(60000), 0) == 200);
}

static void test_another_failure_leaves_the_chunk(void)
{
	CHECK(chunk_size_next(625, false, false, MS(1), MS(5000)) == 625);
}

static void test_out_of_range_chunks_are_clamped(void)
{
	CHECK(chunk_size_next(0, false, false, 0, MS(5000)) == 1);
	CHECK(chunk_size_next(-7, true, false, MS(5000), MS(5000)) == 1);
	CHECK(chunk_size_next(1000000, false, false, 0, MS(5000)) == CHUNK_SIZE_MAX);
	CHECK(chunk_size_next(1000000, false, true, 0, MS(5000)) == 2500);
}

int main(void)
{
	RUN(test_a_timeout_halves_the_chunk_down_to_one_row);
	RUN(test_a_quick_chunk_doubles_up_to_the_maximum);
	RUN(test_a_chunk_past_a_quarter_of_the_timeout_holds);
	RUN(test_no_timeout_is_room_to_grow);
	RUN(test_another_failure_leaves_the_chunk);
	RUN(test_out_of_range_chunks_are_clamped);
	return CHECK_SUMMARY();
}
