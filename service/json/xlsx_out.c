/* Implementation of json/xlsx_out.h on libxlsxwriter. */
#include "json/xlsx_out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "buf.h"
#include "domain/cell_guard.h"
#include "log.h"

#define MAX_CELL_BYTES 32767 /* Excel's limit is 32,767 characters; bytes are never fewer */
/* What libxlsxwriter may allocate at once while it starts or closes a workbook (a sheet's
 * column array, zlib's deflate state, the zip buffers), with room to spare. */
#define LIBRARY_ROOM (4 * 1024 * 1024)

enum { F_HEAD, F_TEXT, F_MONEY, F_INT, F_RATIO, F_DATE, F_TIMESTAMP, N_FORMATS };

struct xlsx_out {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *fmt[N_FORMATS];
	const struct xlsx_col *cols;
	int ncols;
	long rows;
	bool failed;
	int fd;
	bool named; /* path is a real name to unlink (no O_TMPFILE) */
	char path[PATH_MAX];
	struct buf cell; /* a guarded or shortened text cell */
};

static const char *tmpdir;

void xlsx_set_tmpdir(const char *dir)
{
	tmpdir = dir;
}

static const char *export_dir(void)
{
	const char *env = getenv("TMPDIR");

	if (tmpdir != NULL && tmpdir[0] != '\0')
		return tmpdir;
	return env != NULL && env[0] != '\0' ? env : "/tmp";
}

/* An unnamed file in the export directory (O_TMPFILE) that libxlsxwriter can open by a
 * /proc path; else a named one, unlinked when finished. */
static bool make_file(struct xlsx_out *x)
{
	const char *dir = export_dir();

	x->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (x->fd >= 0) {
		snprintf(x->path, sizeof x->path, "/proc/self/fd/%d", x->fd);
		return true;
	}
	snprintf(x->path, sizeof x->path, "%s/finreg-export-XXXXXX", dir);
	x->fd = mkostemp(x->path, O_CLOEXEC);
	if (x->fd < 0) {
		LOG_WARN("export file in %s: %s", dir, strerror(errno));
		return false;
	}
	x->named = true;
	return true;
}

static lxw_format *number_format(lxw_workbook *wb, const char *num)
{
	lxw_format *f = workbook_add_format(wb);

	format_set_num_format(f, num);
	return f;
}

static void add_formats(struct xlsx_out *x)
{
	x->fmt[F_HEAD] = workbook_add_format(x->wb);
	format_set_bold(x->fmt[F_HEAD]);
	x->fmt[F_TEXT] = number_format(x->wb, "@");
	x->fmt[F_MONEY] = number_format(x->wb, "#,##0.00");
	x->fmt[F_INT] = number_format(x->wb, "0");
	x->fmt[F_RATIO] = number_format(x->wb, "0.0000");
	x->fmt[F_DATE] = number_format(x->wb, "yyyy-mm-dd");
	x->fmt[F_TIMESTAMP] = number_format(x->wb, "yyyy-mm-dd hh:mm:ss");
}

static double column_width(const struct xlsx_col *c)
{
	/* about two units per Chinese character (three UTF-8 bytes) of the title */
	double title = (double)strlen(c->title) * 2.0 / 3.0 + 2.0;
	double value = c->kind == XK_TEXT        ? 20.0
		       : c->kind == XK_TIMESTAMP ? 20.0
		       : c->kind == XK_MONEY     ? 18.0
						 : 12.0;

	return title > value ? title : value;
}

/* libxlsxwriter 1.1.4 does not survive every allocation failure: a sheet that fails half
 * built in workbook_add_worksheet is freed through a list head it never allocated
 * (lxw_worksheet_free), and the process dies. So memory is tried first: when @a n bytes
 * cannot be had now, the library is not called at all. This narrows the window to what
 * other threads take meanwhile; it cannot close it. */
static bool library_room(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		LOG_WARN("XLSX export: not %zu bytes of memory free for the workbook", n);
		return false;
	}
	free(p);
	return true;
}

struct xlsx_out *xlsx_open(const char *sheet, const struct xlsx_col *cols, int ncols)
{
	struct xlsx_out *x;
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = (char *)export_dir()};

	if (!library_room(LIBRARY_ROOM))
		return NULL;
	x = calloc(1, sizeof *x);
	if (x == NULL)
		return NULL;
	x->cols = cols;
	x->ncols = ncols;
	if (!make_file(x)) {
		free(x);
		return NULL;
	}
	x->wb = workbook_new_opt(x->path, &opt);
	x->ws = x->wb != NULL ? workbook_add_worksheet(x->wb, sheet) : NULL;
	if (x->ws == NULL) {
		LOG_WARN("cannot start an XLSX workbook");
		xlsx_discard(x);
		return NULL;
	}
	add_formats(x);
	for (int i = 0; i < ncols; i++)
		worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i, column_width(&cols[i]),
				     cols[i].kind == XK_TEXT ? x->fmt[F_TEXT] : NULL);
	worksheet_freeze_panes(x->ws, 1, 0);
	for (int i = 0; i < ncols; i++)
		worksheet_write_string(x->ws, 0, (lxw_col_t)i, cols[i].title, x->fmt[F_HEAD]);
	return x;
}

static bool parse_datetime(const char *s, bool with_time, lxw_datetime *dt)
{
	int n = 0;

	memset(dt, 0, sizeof *dt);
	if (with_time) {
		int sec = 0;

		if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &dt->year, &dt->month, &dt->day,
			   &dt->hour, &dt->min, &sec, &n) != 6 ||
		    n != 19)
			return false;
		dt->sec = sec;
	} else if (sscanf(s, "%4d-%2d-%2d%n", &dt->year, &dt->month, &dt->day, &n) != 3 ||
		   n != 10 || s[10] != '\0') {
		return false;
	}
	return dt->year >= 1900 && dt->month >= 1 && dt->month <= 12 && dt->day >= 1 &&
	       dt->day <= 31;
}

/* The text as written: shortened to the cell limit (on a UTF-8 boundary) and guarded;
 * NULL when memory runs out. */
static const char *cell_text(struct xlsx_out *x, const char *s)
{
	bool guard = cell_needs_guard(s);
	size_t len = strlen(s), max = MAX_CELL_BYTES - (guard ? 1 : 0);

	if (!guard && len <= MAX_CELL_BYTES)
		return s;
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	buf_reset(&x->cell);
	if (!buf_printf(&x->cell, "%s%.*s", guard ? CELL_GUARD_PREFIX : "", (int)len, s))
		return NULL;
	return x->cell.data;
}

static lxw_error put_text(struct xlsx_out *x, lxw_col_t c, const char *s)
{
	const char *text = cell_text(x, s);

	if (text == NULL)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	return worksheet_write_string(x->ws, (lxw_row_t)x->rows, c, text, x->fmt[F_TEXT]);
}

static lxw_error put_number(struct xlsx_out *x, lxw_col_t c, const char *s, int f)
{
	if (!cell_plain_number(s))
		return put_text(x, c, s);
	return worksheet_write_number(x->ws, (lxw_row_t)x->rows, c, strtod(s, NULL),
				      f < 0 ? NULL : x->fmt[f]);
}

/* One cell from text @a s (not NULL, not empty) by the column's kind; a value that does
 * not read as its kind is written as text. */
static lxw_error put_cell(struct xlsx_out *x, int i, const char *s)
{
	lxw_col_t c = (lxw_col_t)i;
	lxw_row_t r = (lxw_row_t)x->rows;
	lxw_datetime dt;

	switch (x->cols[i].kind) {
	case XK_MONEY:
	case XK_VALUE:
		return put_number(x, c, s, F_MONEY);
	case XK_INT:
		return put_number(x, c, s, F_INT);
	case XK_RATIO:
		return put_number(x, c, s, F_RATIO);
	case XK_DECIMAL:
		return put_number(x, c, s, -1);
	case XK_DATE:
	case XK_TIMESTAMP:
		if (!parse_datetime(s, x->cols[i].kind == XK_TIMESTAMP, &dt))
			return put_text(x, c, s);
		return worksheet_write_datetime(
		    x->ws, r, c, &dt, x->fmt[x->cols[i].kind == XK_DATE ? F_DATE : F_TIMESTAMP]);
	case XK_BOOL:
		if (strcmp(s, "t") == 0 || strcmp(s, "true") == 0 || strcmp(s, "f") == 0 ||
		    strcmp(s, "false") == 0)
			return worksheet_write_boolean(x->ws, r, c, s[0] == 't', NULL);
		return put_text(x, c, s);
	case XK_TEXT:
		break;
	}
	return put_text(x, c, s);
}

static bool next_row(struct xlsx_out *x)
{
	if (x->failed || x->rows >= XLSX_MAX_ROWS)
		return false;
	x->rows++;
	return true;
}

bool xlsx_text_row(struct xlsx_out *x, const char *const *cells)
{
	if (!next_row(x))
		return false;
	for (int i = 0; i < x->ncols && !x->failed; i++) {
		if (cells[i] != NULL && cells[i][0] != '\0' &&
		    put_cell(x, i, cells[i]) != LXW_NO_ERROR)
			x->failed = true;
	}
	return !x->failed;
}

/* Member @a path ("a" or "a.b") of @a obj, or NULL. */
static const json_t *member(const json_t *obj, const char *path)
{
	const char *dot = strchr(path, '.');
	char parent[64];

	if (dot == NULL)
		return json_object_get(obj, path);
	snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
	return member(json_object_get(obj, parent), dot + 1);
}

static lxw_error put_json(struct xlsx_out *x, int i, const json_t *v)
{
	lxw_col_t c = (lxw_col_t)i;
	lxw_row_t r = (lxw_row_t)x->rows;
	enum xlsx_kind k = x->cols[i].kind;
	char text[64];

	if (json_is_string(v))
		return json_string_length(v) > 0 ? put_cell(x, i, json_string_value(v))
						 : LXW_NO_ERROR;
	if (json_is_boolean(v))
		return k == XK_TEXT ? put_text(x, c, json_is_true(v) ? "true" : "false")
				    : worksheet_write_boolean(x->ws, r, c, json_is_true(v), NULL);
	if (json_is_integer(v)) {
		snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
		return k == XK_VALUE ? put_number(x, c, text, F_INT) : put_cell(x, i, text);
	}
	if (json_is_real(v)) {
		if (k == XK_TEXT) {
			snprintf(text, sizeof text, "%.15g", json_real_value(v));
			return put_text(x, c, text);
		}
		return worksheet_write_number(x->ws, r, c, json_real_value(v),
					      k == XK_RATIO ? x->fmt[F_RATIO] : NULL);
	}
	return LXW_NO_ERROR; /* null, absent, or an object: blank */
}

bool xlsx_json_row(struct xlsx_out *x, const json_t *row)
{
	if (!next_row(x))
		return false;
	for (int i = 0; i < x->ncols && !x->failed; i++) {
		if (put_json(x, i, member(row, x->cols[i].key)) != LXW_NO_ERROR)
			x->failed = true;
	}
	return !x->failed;
}

long xlsx_rows(const struct xlsx_out *x)
{
	return x->rows;
}

int xlsx_finish(struct xlsx_out *x, long long *size)
{
	lxw_error err;
	struct stat st;
	int fd = x->fd;

	if (x->failed || !library_room(LIBRARY_ROOM)) {
		xlsx_discard(x);
		return -1;
	}
	err = workbook_close(x->wb);
	x->wb = NULL;
	if (err != LXW_NO_ERROR || x->failed || fstat(fd, &st) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		LOG_WARN("XLSX export failed: %s", lxw_strerror(err));
		xlsx_discard(x);
		return -1;
	}
	if (x->named)
		unlink(x->path);
	*size = (long long)st.st_size;
	buf_free(&x->cell);
	free(x);
	return fd;
}

void xlsx_discard(struct xlsx_out *x)
{
	if (x == NULL)
		return;
	if (x->wb != NULL)
		lxw_workbook_free(x->wb);
	if (x->named)
		unlink(x->path);
	if (x->fd >= 0)
		close(x->fd);
	buf_free(&x->cell);
	free(x);
}
