/* Unit tests for json/json_out: strings written as jansson's compact dump writes them
 * (quotes, backslashes and control characters escaped, Chinese text and '/' untouched),
 * NULL as null, and a failed buffer staying failed. */
#include "check.h"
#include "json/json_out.h"

#include <jansson.h>
#include <stdlib.h>

/* @a s written by json_out_string, as a malloc'd string. */
static char *written(const char *s)
{
	struct buf b;

	buf_init(&b, 0);
	json_out_string(&b, s);
	return buf_take(&b, NULL);
}

/* @a s as jansson dumps it (the text json_out_string must equal). */
static char *dumped(const char *s)
{
	json_t *v = json_string(s);
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(v);
	return text;
}

static void check_same(const char *s)
{
	char *got = written(s), *want = dumped(s);

	CHECK_STR(got, want);
	free(got);
	free(want);
}

static void test_strings_are_written_as_jansson_writes_them(void)
{
	check_same("");
	check_same("CIB-SM");
	check_same("三明子制造有限公司");
	check_same("a \"quoted\" \\ name / slash");
	check_same("tab\tline\nreturn\rfeed\fback\b");
	check_same("\x01\x1f\x7f end");
}

static void test_null_is_null_and_a_failed_buffer_stays_failed(void)
{
	struct buf b;
	char *text;

	buf_init(&b, 0);
	CHECK(json_out_string(&b, NULL));
	text = buf_take(&b, NULL);
	CHECK_STR(text, "null");
	free(text);
	buf_init(&b, 4);
	CHECK(!json_out_string(&b, "longer than four"));
	CHECK(!json_out_string(&b, ""));
	CHECK(buf_take(&b, NULL) == NULL);
}

int main(void)
{
	RUN(test_strings_are_written_as_jansson_writes_them);
	RUN(test_null_is_null_and_a_failed_buffer_stays_failed);
	return CHECK_SUMMARY();
}
