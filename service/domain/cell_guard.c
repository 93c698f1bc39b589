/* Implementation of domain/cell_guard.h. */
#include "domain/cell_guard.h"

#include <string.h>

bool cell_plain_number(const char *s)
{
	const char *p = s + (*s == '+' || *s == '-');
	size_t digits = strspn(p, "0123456789");

	if (digits == 0)
		return false;
	p += digits;
	if (*p == '.') {
		digits = strspn(p + 1, "0123456789");
		if (digits == 0)
			return false;
		p += 1 + digits;
	}
	return *p == '\0';
}

bool cell_needs_guard(const char *text)
{
	return text != NULL && text[0] != '\0' && strchr("=+-@\t\r", text[0]) != NULL;
}
