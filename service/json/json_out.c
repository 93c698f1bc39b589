/* JSON strings written into a buffer (json/json_out.h). */
#include "json/json_out.h"

#include <stdio.h>
#include <string.h>

/* The escape of control character @a c as jansson writes it, into @a out (7 bytes). */
static const char *control_escape(unsigned char c, char out[7])
{
	switch (c) {
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		snprintf(out, 7, "\\u%04X", c);
		return out;
	}
}

bool json_out_string(struct buf *b, const char *s)
{
	const char *run;
	char esc[7];

	if (s == NULL)
		return buf_append_str(b, "null");
	if (!buf_append(b, "\"", 1))
		return false;
	for (run = s; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			buf_append(b, "\\", 1);
			buf_append(b, s, 1);
		} else {
			buf_append_str(b, control_escape(c, esc));
		}
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	return buf_append(b, "\"", 1);
}
