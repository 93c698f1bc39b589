/* Implementation of json/csv_out.h. */
#include "json/csv_out.h"

#include <string.h>

#include "domain/cell_guard.h"

static void append(struct csv_out *b, const char *s, size_t n)
{
	buf_append(&b->text, s, n); /* a failure is sticky: csv_take answers NULL */
}

void csv_begin(struct csv_out *b, bool bom)
{
	memset(b, 0, sizeof *b);
	if (bom)
		append(b, CSV_BOM, strlen(CSV_BOM));
}

void csv_field(struct csv_out *b, const char *text)
{
	const char *t = text != NULL ? text : "";
	bool guard = cell_needs_guard(t);
	bool quote = strpbrk(t, ",\"\r\n") != NULL;

	if (b->row_open)
		append(b, ",", 1);
	b->row_open = true;
	if (quote)
		append(b, "\"", 1);
	if (guard)
		append(b, CELL_GUARD_PREFIX, 1);
	if (!quote) {
		append(b, t, strlen(t));
		return;
	}
	for (const char *q; (q = strchr(t, '"')) != NULL; t = q + 1) {
		append(b, t, (size_t)(q - t) + 1); /* up to and including the quote */
		append(b, "\"", 1);
	}
	append(b, t, strlen(t));
	append(b, "\"", 1);
}

void csv_end_row(struct csv_out *b)
{
	append(b, "\r\n", 2);
	b->row_open = false;
}

void csv_row(struct csv_out *b, const char *const *cells, size_t n)
{
	for (size_t i = 0; i < n; i++)
		csv_field(b, cells[i]);
	csv_end_row(b);
}

char *csv_take(struct csv_out *b, size_t *len)
{
	b->row_open = false;
	return buf_take(&b->text, len);
}

void csv_free(struct csv_out *b)
{
	buf_free(&b->text);
	b->row_open = false;
}
