/* Unit tests for json/jsonb_out: values written as PostgreSQL's jsonb_out writes them (keys
 * shorter first then by bytes, ", " and ": ", PostgreSQL's escapes with lower-case \u00xx,
 * Chinese text and '/' untouched), reals refused. The byte-for-byte comparison with the
 * database itself is an API test (test_loans_ingest.py). */
#include "check.h"
#include "json/jsonb_out.h"

#include <jansson.h>
#include <stdlib.h>

/* The JSON text @a in as jsonb_out writes it (malloc'd), or NULL when it refused. */
static char *written(const char *in)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
	struct buf b = {0};
	char *out = NULL;

	if (v != NULL && jsonb_out(&b, v))
		out = buf_take(&b, NULL);
	buf_free(&b);
	json_decref(v);
	return out;
}

static void check_written(const char *in, const char *want)
{
	char *got = written(in);

	CHECK_STR(got, want);
	free(got);
}

static void test_keys_shorter_first_then_by_bytes(void)
{
	check_written("{\"bb\":1,\"a\":2,\"ab\":3,\"c\":{\"zz\":null,\"y\":true}}",
		      "{\"a\": 2, \"c\": {\"y\": true, \"zz\": null}, \"ab\": 3, \"bb\": 1}");
	check_written("{}", "{}");
	check_written("[]", "[]");
	check_written("[1,-2,\"x\",false,[],{}]", "[1, -2, \"x\", false, [], {}]");
}

static void test_strings_escaped_as_postgresql_escapes_them(void)
{
	check_written("\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\"",
		      "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\"");
	check_written("\"三明 é \\u007f\"", "\"三明 é \x7f\"");
	check_written("{\"键\":\"值\",\"ab\":0}", "{\"ab\": 0, \"键\": \"值\"}");
}

static void test_reals_are_refused(void)
{
	CHECK(written("1.5") == NULL);
	CHECK(written("{\"a\":[1.0]}") == NULL);
}

int main(void)
{
	RUN(test_keys_shorter_first_then_by_bytes);
	RUN(test_strings_escaped_as_postgresql_escapes_them);
	RUN(test_reals_are_refused);
	return CHECK_SUMMARY();
}
