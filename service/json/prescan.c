/* Implementation of json/limits.h's pre-scan: one pass over the bytes that counts the
 * starts of values (outside strings) and the nesting depth. */
#include "json/limits.h"

/* Whether byte @a c starts a scalar that is not a string: a number or a literal. */
static bool starts_scalar(char c)
{
	return c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
}

/* Skips a string whose opening quote is at text[i]; returns the index past its end. */
static size_t skip_string(const char *text, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (text[i] == '\\')
			i++;
		else if (text[i] == '"')
			return i + 1;
	}
	return len;
}

/* Skips the rest of a number or literal starting at text[i]. */
static size_t skip_scalar(const char *text, size_t len, size_t i)
{
	while (i < len && text[i] != ',' && text[i] != ']' && text[i] != '}' && text[i] != ':' &&
	       text[i] != '"' && text[i] != '[' && text[i] != '{' && text[i] != ' ' &&
	       text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
		i++;
	return i;
}

enum prescan_rc json_prescan(const char *text, size_t len, size_t max_values, unsigned max_depth)
{
	size_t values = 0, i = 0;
	unsigned depth = 0;

	while (i < len) {
		char c = text[i];

		if (c == '"') {
			/* A key and its value count as one value; a string value counts here. */
			values++;
			i = skip_string(text, len, i);
		} else if (c == '[' || c == '{') {
			values++;
			if (++depth > max_depth)
				return PRESCAN_TOO_DEEP;
			i++;
		} else if (c == ']' || c == '}') {
			if (depth > 0)
				depth--;
			i++;
		} else if (starts_scalar(c)) {
			values++;
			i = skip_scalar(text, len, i);
		} else {
			i++;
		}
		if (values > max_values)
			return PRESCAN_TOO_MANY_VALUES;
	}
	return PRESCAN_OK;
}
