/* Implementation of handlers/formats.h. */
#include "handlers/formats.h"

#include <stdio.h>
#include <string.h>

#include "domain/dates.h"
#include "exports.h"
#include "handlers/common.h"
#include "http/reply.h"

#define TOTAL_LABEL "合计"

static const struct {
	enum out_format fmt;
	const char *name;
} formats[] = {{FMT_JSON, "json"}, {FMT_CSV, "csv"}, {FMT_XLSX, "xlsx"}};

#define N_FORMATS (sizeof formats / sizeof formats[0])

bool query_format(struct request *req, unsigned allowed, enum out_format dflt, enum out_format *out)
{
	const char *v = req_query(req, "format");
	char list[32] = "";

	*out = dflt;
	if (v == NULL)
		return true;
	for (size_t i = 0; i < N_FORMATS; i++) {
		if ((allowed & formats[i].fmt) == 0)
			continue;
		if (strcmp(v, formats[i].name) == 0) {
			*out = formats[i].fmt;
			return true;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 list[0] ? ", " : "", formats[i].name);
	}
	reply_error(req, ERR_INVALID_FIELD, NULL, "format", "format: one of %s", list);
	return false;
}

bool export_begin(struct request *req)
{
	if (exports_take())
		return true;
	reply_db_error(req, DB_BUSY);
	return false;
}

void export_end(void)
{
	exports_give();
}

void reply_workbook_failed(struct request *req)
{
	reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
		    "the workbook could not be written (the server is short of memory or disk "
		    "space); retry later");
}

struct xlsx_out *export_xlsx_open(struct request *req, const char *sheet,
				  const struct xlsx_col *cols, int ncols)
{
	struct xlsx_out *x;

	if (!export_begin(req))
		return NULL;
	x = xlsx_open(sheet, cols, ncols);
	if (x == NULL) {
		export_end();
		reply_workbook_failed(req);
	}
	return x;
}

void export_xlsx_discard(struct xlsx_out *x)
{
	if (x == NULL)
		return;
	xlsx_discard(x);
	export_end();
}

void reply_xlsx(struct request *req, struct xlsx_out *x, const char *name)
{
	char disposition[128], day[DATE_BUF];
	long long size;
	int fd = xlsx_finish(x, &size);

	if (fd < 0) {
		export_end();
		reply_workbook_failed(req);
		return;
	}
	date_format(today_day(), day);
	snprintf(disposition, sizeof disposition, "attachment; filename=\"%s-%s.xlsx\"", name, day);
	reply_fd(req, 200, XLSX_CONTENT_TYPE, fd, size, export_end); /* the slot until sent */
	reply_header(req, "Content-Disposition", disposition);
}

/* The total row: the total's members, its first column's key set to "合计". */
static bool total_row(struct xlsx_out *x, const struct xlsx_table *t, json_t *total)
{
	json_t *row = json_deep_copy(total);
	const char *first = t->cols[0].key;
	bool ok = row != NULL;

	if (ok && strchr(first, '.') == NULL)
		ok = json_object_set_new(row, first, json_string(TOTAL_LABEL)) == 0;
	ok = ok && xlsx_json_row(x, row);
	json_decref(row);
	return ok;
}

void reply_answer(struct request *req, enum out_format fmt, json_t *body,
		  const struct xlsx_table *t)
{
	struct xlsx_out *x;
	json_t *rows, *row, *total;
	size_t i;

	if (body == NULL || fmt == FMT_JSON) {
		reply_json(req, 200, body);
		return;
	}
	x = export_xlsx_open(req, t->sheet, t->cols, t->ncols);
	if (x == NULL) {
		json_decref(body);
		return;
	}
	rows = json_object_get(body, t->rows_key);
	json_array_foreach(rows, i, row)
	{
		if (!xlsx_json_row(x, row))
			break;
	}
	total = t->total_key != NULL ? json_object_get(body, t->total_key) : NULL;
	if (json_is_object(total) && !total_row(x, t, total)) {
		json_decref(body);
		export_xlsx_discard(x);
		reply_workbook_failed(req);
		return;
	}
	json_decref(body);
	reply_xlsx(req, x, t->name); /* a row that failed fails the finish: 503 */
}

bool xlsx_pages_begin(struct request *req, struct xlsx_pages *p, const char *sheet,
		      const struct xlsx_col *cols, int ncols)
{
	memset(p, 0, sizeof *p);
	p->x = export_xlsx_open(req, sheet, cols, ncols);
	return p->x != NULL;
}

void xlsx_pages_add(void *cls, int64_t id, const char *json)
{
	struct xlsx_pages *p = cls;
	json_t *item;

	p->last_id = id;
	if (json == NULL) { /* the walk's bound: the next page resumes after @a id */
		p->walk_stopped = true;
		return;
	}
	p->count++;
	if (p->broken)
		return;
	item = json_loads(json, 0, NULL);
	if (item == NULL || !xlsx_json_row(p->x, item))
		p->broken = true;
	json_decref(item);
}

void xlsx_pages_finish(struct request *req, struct xlsx_pages *p, enum db_rc rc, const char *name)
{
	bool full = xlsx_rows(p->x) >= XLSX_MAX_ROWS;

	if (rc == DB_OK && !p->broken) {
		reply_xlsx(req, p->x, name);
		return;
	}
	export_xlsx_discard(p->x);
	if (rc != DB_OK)
		reply_db_error(req, rc);
	else if (full)
		reply_error(req, ERR_INVALID_FIELD, NULL, "format",
			    "more rows than a sheet holds (%ld); narrow the filters",
			    XLSX_MAX_ROWS);
	else /* a row not JSON (the list item came back cut) or a failed write */
		reply_workbook_failed(req);
}

void xlsx_pages_run(struct request *req, struct xlsx_pages *p, xlsx_page_fn page, void *filter,
		    int64_t *after_id, int limit, const char *name)
{
	enum db_rc rc;

	do {
		p->count = 0;
		p->walk_stopped = false;
		rc = page(filter, p);
		*after_id = p->last_id;
	} while (rc == DB_OK && !p->broken && (p->count == limit || p->walk_stopped));
	xlsx_pages_finish(req, p, rc, name);
}

bool export_unpaged(struct request *req)
{
	const char *field = req_query(req, "limit") ? "limit" : "cursor";

	if (req_query(req, field) == NULL)
		return true;
	reply_error(req, ERR_INVALID_FIELD, NULL, field,
		    "an export holds every matching item; limit and cursor page the JSON list "
		    "only");
	return false;
}
