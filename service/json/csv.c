/* Implementation of json/csv.h: a strict RFC 4180 record reader over a byte buffer and the
 * header-driven conversion of each record into a JSON object. */
#include "json/csv.h"

#include <stdint.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "domain/utf8.h"
#include "json/limits.h"

#define CSV_MAX_INTEGER_DIGITS 18

/* The cells of one record: their bytes in data, each followed by '\0'. Out of memory
 * sets data.failed or failed; read_record() then fails the whole text. */
struct cells {
	struct buf data;
	size_t *start, *size; /* per cell: offset in data, length in bytes */
	size_t n, n_cap;
	bool failed; /* start or size could not grow */
};

/* Position in the text and the physical line it is on. */
struct reader {
	const char *p, *end;
	const char *blank_tail; /* from here on there are only CR and LF bytes */
	unsigned long line;
};

enum column_kind { COL_STRING, COL_BOOL, COL_INTEGER };

/* One header column: its key in the row object, and the nested object it goes in. */
struct column {
	char *parent;    /* "borrower" for "borrower.uscc", else NULL; malloc'd */
	const char *key; /* "uscc"; points into the header's cells */
	enum column_kind kind;
};

static void cells_push_byte(struct cells *c, char b)
{
	buf_append(&c->data, &b, 1);
}

/* Grows *p (an array of @a n_cap size_t) to @a n elements; false when memory runs out. */
static bool grow_sizes(size_t **p, size_t n)
{
	size_t *grown = n <= SIZE_MAX / sizeof *grown ? realloc(*p, n * sizeof *grown) : NULL;

	if (grown == NULL)
		return false;
	*p = grown;
	return true;
}

static void cells_begin(struct cells *c)
{
	if (c->failed)
		return;
	if (c->n == c->n_cap) {
		size_t cap = c->n_cap ? c->n_cap * 2 : 32;

		if (!grow_sizes(&c->start, cap) || !grow_sizes(&c->size, cap)) {
			c->failed = true;
			return;
		}
		c->n_cap = cap;
	}
	c->start[c->n] = c->data.len;
}

static void cells_end(struct cells *c)
{
	if (c->failed)
		return;
	c->size[c->n] = c->data.len - c->start[c->n];
	cells_push_byte(c, '\0');
	c->n++;
}

static void cells_free(struct cells *c)
{
	buf_free(&c->data);
	free(c->start);
	free(c->size);
}

/* Records a problem on line; returns -1. */
static int line_fail(struct field_error *err, unsigned long line, const char *text)
{
	char where[32];

	snprintf(where, sizeof where, "line %lu", line);
	field_fail(err, ERR_BAD_JSON, NULL, "", where, "%s", text);
	return -1;
}

/* Records that memory ran out (503 unavailable); returns -1. */
static int memory_fail(struct field_error *err)
{
	field_out_of_memory(err);
	return -1;
}

/* Records a problem with the header row (line 1); returns false. */
static bool header_fail(struct field_error *err, const char *text)
{
	line_fail(err, 1, text);
	return false;
}

/* Consumes a line break at r->p if there is one: 1 when it did, 0 when r->p is not at
 * one, -1 (err filled) for a CR without LF. */
static int eat_line_break(struct reader *r, unsigned long record_line, struct field_error *err)
{
	if (*r->p == '\n') {
		r->p++;
	} else if (*r->p == '\r') {
		if (r->p + 1 == r->end || r->p[1] != '\n')
			return line_fail(err, record_line, "carriage return without line feed");
		r->p += 2;
	} else {
		return 0;
	}
	r->line++;
	return 1;
}

/* Reads a quoted cell's content; r->p is just past the opening quote. */
static int read_quoted(struct reader *r, struct cells *c, struct field_error *err)
{
	unsigned long quote_line = r->line;

	for (;;) {
		if (r->p == r->end)
			return line_fail(err, quote_line, "quoted field is not terminated");
		if (*r->p == '"') {
			if (r->p + 1 < r->end && r->p[1] == '"') {
				cells_push_byte(c, '"');
				r->p += 2;
				continue;
			}
			r->p++;
			return 0;
		}
		if (*r->p == '\n')
			r->line++;
		cells_push_byte(c, *r->p++);
	}
}

/* Reads an unquoted cell's content up to a comma, line break or the end. */
static int read_unquoted(struct reader *r, struct cells *c, unsigned long record_line,
			 struct field_error *err)
{
	while (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
		if (*r->p == '"')
			return line_fail(err, record_line,
					 "quote inside an unquoted field (quote the whole field "
					 "and double the quote)");
		cells_push_byte(c, *r->p++);
	}
	return 0;
}

/* Fails a record with more than CSV_MAX_COLUMNS cells as soon as it has one more, so that
 * a line of commas costs no more than a proper record (each cell takes two size_t). */
static int too_many_cells(unsigned long line, size_t header_n, struct field_error *err)
{
	char text[96];

	if (header_n == 0)
		snprintf(text, sizeof text, "more than %d columns", CSV_MAX_COLUMNS);
	else
		snprintf(text, sizeof text, "more than %d cells, the header has %zu",
			 CSV_MAX_COLUMNS, header_n);
	return line_fail(err, line, text);
}

/* Reads one record's cells into c, as read_record(). */
static int read_cells(struct reader *r, struct cells *c, size_t header_n, unsigned long *line,
		      struct field_error *err)
{
	buf_reset(&c->data);
	c->n = 0;
	*line = r->line;
	if (r->p >= r->blank_tail)
		return 0;
	for (;;) {
		bool quoted = r->p < r->end && *r->p == '"';
		int rc;

		if (c->n == CSV_MAX_COLUMNS)
			return too_many_cells(*line, header_n, err);
		cells_begin(c);
		if (quoted) {
			r->p++;
			rc = read_quoted(r, c, err);
		} else {
			rc = read_unquoted(r, c, *line, err);
		}
		if (rc < 0)
			return -1;
		cells_end(c);
		if (r->p == r->end)
			return 1;
		if (*r->p == ',') {
			r->p++;
			if (r->p == r->end) { /* "a,b," ends with an empty cell */
				if (c->n == CSV_MAX_COLUMNS)
					return too_many_cells(*line, header_n, err);
				cells_begin(c);
				cells_end(c);
				return 1;
			}
			continue;
		}
		rc = eat_line_break(r, *line, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return line_fail(err, *line,
					 "text after a closing quote (expected a comma or a line "
					 "end)");
		return 1;
	}
}

/* Reads one record into c: the header when @a header_n is 0, else a row under a header of
 * header_n columns. Returns 1 for a record (its first line in *line), 0 at the end of the
 * text (only empty lines left), -1 on error (memory_fail when memory ran out). */
static int read_record(struct reader *r, struct cells *c, size_t header_n, unsigned long *line,
		       struct field_error *err)
{
	int rc = read_cells(r, c, header_n, line, err);

	if (c->data.failed || c->failed)
		return memory_fail(err);
	return rc;
}

/* Fails on the first NUL byte of the text, naming its line. */
static bool check_no_nul(const char *text, size_t len, struct field_error *err)
{
	const char *nul = memchr(text, '\0', len);
	unsigned long line = 1;

	if (nul == NULL)
		return true;
	for (const char *p = text; p < nul; p++)
		line += *p == '\n';
	line_fail(err, line, "contains a NUL byte");
	return false;
}

static enum column_kind column_kind(const char *name)
{
	if (strcmp(name, "first_loan") == 0 || strcmp(name, "renewal") == 0 ||
	    strcmp(name, "relief_fund") == 0)
		return COL_BOOL;
	if (strcmp(name, "scf_program_id") == 0)
		return COL_INTEGER;
	return COL_STRING;
}

/* Checks the header row in h and fills cols[0..h->n). */
static bool read_header(const struct cells *h, struct column *cols, struct field_error *err)
{
	char text[FIELD_PATH_MAX + 64];

	/* At most CSV_MAX_COLUMNS: read_cells() stops at one more. */
	for (size_t i = 0; i < h->n; i++) {
		const char *name = h->data.data + h->start[i];
		const char *dot = strchr(name, '.');

		if (!utf8_valid(name, h->size[i]))
			return header_fail(err, "not valid UTF-8");
		if (name[0] == '\0') {
			snprintf(text, sizeof text, "column %zu has an empty name", i + 1);
			return header_fail(err, text);
		}
		if (dot == name || (dot != NULL && dot[1] == '\0')) {
			snprintf(text, sizeof text, "column name \"%.*s\" has an empty part",
				 FIELD_PATH_MAX, name);
			return header_fail(err, text);
		}
		cols[i].kind = column_kind(name);
		cols[i].key = dot != NULL ? dot + 1 : name;
		cols[i].parent = dot != NULL ? strndup(name, (size_t)(dot - name)) : NULL;
		if (dot != NULL && cols[i].parent == NULL) {
			memory_fail(err);
			return false;
		}
	}
	for (size_t i = 0; i < h->n; i++) {
		const char *a = h->data.data + h->start[i];

		for (size_t j = 0; j < h->n; j++) {
			const char *b = h->data.data + h->start[j];

			if (j > i && strcmp(a, b) == 0) {
				snprintf(text, sizeof text, "column \"%.*s\" appears twice",
					 FIELD_PATH_MAX, a);
				return header_fail(err, text);
			}
			if (cols[i].parent == NULL && cols[j].parent != NULL &&
			    strcmp(a, cols[j].parent) == 0) {
				snprintf(text, sizeof text,
					 "column \"%.*s\" conflicts with \"%.*s\"",
					 FIELD_PATH_MAX / 2, a, FIELD_PATH_MAX / 2, b);
				return header_fail(err, text);
			}
		}
	}
	return true;
}

/* The JSON value of a non-empty, valid UTF-8 cell in a column of kind; NULL when memory
 * runs out. */
static json_t *cell_value(enum column_kind kind, const char *s, size_t len)
{
	if (kind == COL_BOOL && strcmp(s, "true") == 0)
		return json_true();
	if (kind == COL_BOOL && strcmp(s, "false") == 0)
		return json_false();
	if (kind == COL_INTEGER && len <= CSV_MAX_INTEGER_DIGITS && strspn(s, "0123456789") == len)
		return json_integer(strtoll(s, NULL, 10));
	return json_stringn(s, len);
}

/* Sets @a key of @a obj to @a v (taken); false when memory runs out (v is freed). */
static bool set_member(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

/* Builds the object of the data row in c (as many cells as columns). A cell that is not
 * UTF-8 fails the line; memory that runs out fails with ERR_UNAVAILABLE, never with a row
 * short of a member. */
static json_t *row_object(const struct cells *c, const struct column *cols, unsigned long line,
			  struct field_error *err)
{
	json_t *row = json_object();
	bool ok = row != NULL;

	for (size_t i = 0; ok && i < c->n; i++) {
		if (cols[i].parent != NULL && json_object_get(row, cols[i].parent) == NULL)
			ok = set_member(row, cols[i].parent, json_object());
	}
	for (size_t i = 0; ok && i < c->n; i++) {
		const char *s = c->data.data + c->start[i];
		json_t *target = row;

		if (c->size[i] == 0)
			continue;
		if (!utf8_valid(s, c->size[i])) {
			json_decref(row);
			line_fail(err, line, "not valid UTF-8");
			return NULL;
		}
		if (cols[i].parent != NULL)
			target = json_object_get(row, cols[i].parent);
		ok = set_member(target, cols[i].key, cell_value(cols[i].kind, s, c->size[i]));
	}
	if (!ok) {
		json_decref(row);
		memory_fail(err);
		return NULL;
	}
	return row;
}

/* The JSON values row object @a c will make: its non-empty cells and its nested objects. */
static size_t row_values(const struct cells *c, const struct column *cols)
{
	size_t n = 1;

	for (size_t i = 0; i < c->n; i++)
		n += (c->size[i] != 0) + (cols[i].parent != NULL);
	return n;
}

/* Fails when one more row would pass @a max_rows or the values' limit (counted in *values). */
static bool within_limits(const struct cells *c, const struct column *cols, size_t n_rows,
			  size_t max_rows, size_t *values, struct field_error *err)
{
	*values += row_values(c, cols);
	if (n_rows >= max_rows)
		return field_fail(err, ERR_INVALID_FIELD, NULL, "", "loans",
				  "a batch holds 1 to %zu loans; the CSV has more rows", max_rows);
	if (*values > JSON_MAX_VALUES)
		return field_fail(err, ERR_PAYLOAD_TOO_LARGE, NULL, "", "loans",
				  "the CSV holds more than %d values", JSON_MAX_VALUES);
	return true;
}

json_t *csv_to_rows(const char *text, size_t len, struct field_error *err)
{
	return csv_to_rows_max(text, len, SIZE_MAX, err);
}

json_t *csv_to_rows_max(const char *text, size_t len, size_t max_rows, struct field_error *err)
{
	size_t values = 0;
	struct reader r = {.p = text, .end = text + len, .line = 1};
	struct cells header = {0}, row = {0};
	struct column *cols = NULL;
	json_t *rows = NULL;
	unsigned long line;
	int rc;

	if (!check_no_nul(text, len, err))
		goto out;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		r.p += 3;
	r.blank_tail = r.end;
	while (r.blank_tail > r.p && (r.blank_tail[-1] == '\n' || r.blank_tail[-1] == '\r'))
		r.blank_tail--;
	rc = read_record(&r, &header, 0, &line, err);
	if (rc <= 0) {
		if (rc == 0)
			line_fail(err, 1, "no header row");
		goto out;
	}
	cols = calloc(header.n, sizeof *cols);
	if (cols == NULL) {
		memory_fail(err);
		goto out;
	}
	if (!read_header(&header, cols, err))
		goto out;
	rows = json_array();
	if (rows == NULL) {
		memory_fail(err);
		goto out;
	}
	while ((rc = read_record(&r, &row, header.n, &line, err)) > 0) {
		json_t *obj;

		if (row.n != header.n) {
			char msg[96];

			snprintf(msg, sizeof msg, "%zu cells, the header has %zu", row.n, header.n);
			rc = line_fail(err, line, msg);
			break;
		}
		if (!within_limits(&row, cols, json_array_size(rows), max_rows, &values, err)) {
			rc = -1;
			break;
		}
		obj = row_object(&row, cols, line, err);
		if (obj == NULL) {
			rc = -1;
			break;
		}
		if (json_array_append_new(rows, obj) != 0) {
			rc = memory_fail(err);
			break;
		}
	}
	if (rc < 0) {
		json_decref(rows);
		rows = NULL;
	}
out:
	if (cols != NULL) {
		for (size_t i = 0; i < header.n; i++)
			free(cols[i].parent);
		free(cols);
	}
	cells_free(&header);
	cells_free(&row);
	return rows;
}
