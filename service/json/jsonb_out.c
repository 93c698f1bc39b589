/* JSON values written as jsonb text (json/jsonb_out.h). */
#include "json/jsonb_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends @a s (@a n bytes) as PostgreSQL's escape_json writes a string. */
static bool string_out(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;
	char esc[8];

	buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e;

		switch (c) {
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		default:
			if (c >= 0x20)
				continue;
			snprintf(esc, sizeof esc, "\\u%04x", c);
			e = esc;
		}
		buf_append(b, s + run, i - run);
		buf_append_str(b, e);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
	return buf_append(b, "\"", 1);
}

/* jsonb's order of object keys: shorter first, then by bytes. */
static int key_order(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(a, b, la);
}

static bool object_out(struct buf *b, const json_t *v)
{
	size_t n = json_object_size(v), i = 0;
	const char **keys = malloc((n ? n : 1) * sizeof *keys);
	const char *key;
	json_t *member;
	bool ok = true;

	if (keys == NULL) {
		b->failed = true;
		return false;
	}
	json_object_foreach((json_t *)v, key, member) keys[i++] = key;
	qsort(keys, n, sizeof *keys, key_order);
	buf_append(b, "{", 1);
	for (i = 0; ok && i < n; i++) {
		if (i > 0)
			buf_append(b, ", ", 2);
		string_out(b, keys[i], strlen(keys[i]));
		buf_append(b, ": ", 2);
		ok = jsonb_out(b, json_object_get(v, keys[i]));
	}
	free(keys);
	return ok && buf_append(b, "}", 1);
}

bool jsonb_out(struct buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return object_out(b, v);
	case JSON_ARRAY:
		buf_append(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				buf_append(b, ", ", 2);
			if (!jsonb_out(b, json_array_get(v, i)))
				return false;
		}
		return buf_append(b, "]", 1);
	case JSON_STRING:
		return string_out(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	default:
		return false;
	}
}
