/* The guarantee green channel (白名单): POST /v1/whitelist, GET /v1/whitelist (JSON pages
 * or ?format=csv for Excel), GET /v1/whitelist/{uscc} (listed or not; an unknown firm is
 * not listed), POST /v1/whitelist/{uscc}/remove and GET /v1/whitelist/{uscc}/history. The
 * regulator writes; every principal reads. Entries are never deleted. "Today" and the
 * default as_of are the registry's day (Asia/Shanghai). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/whitelist.h"
#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/uscc.h"
#include "handlers/common.h"
#include "handlers/export_stream.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"

#define REASON_MAX_CHARS 500

/* Columns of the CSV export: JSON field names of an entry, "firm.x" for the registry's
 * firm data (the loans CSV names nested fields the same way), in the order of the
 * whitelist_export_csv statement's columns (db/whitelist.c). */
static const char *const csv_columns[] = {
    "id",         "uscc",
    "name",       "status",
    "valid_from", "valid_to",
    "reason",     "county_code",
    "firm.name",  "firm.industry_code",
    "firm.size",  "listed_at",
    "listed_by",  "removed_at",
    "removed_by", "removal_reason",
};
#define N_CSV_COLUMNS ((int)(sizeof csv_columns / sizeof csv_columns[0]))
_Static_assert(N_CSV_COLUMNS == WL_EXPORT_COLUMNS, "the export statement's columns");

/* The USCC of the path, checked; replies 422 and returns NULL when it is not valid. */
static const char *path_uscc(struct request *req)
{
	const char *uscc = req_param(req, 0);

	return uscc_param_ok(req, "uscc", uscc) ? uscc : NULL;
}

void whitelist_post(struct request *req)
{
	static const char *const allowed[] = {"uscc",       "name",     "reason",
					      "valid_from", "valid_to", NULL};
	struct wl_entry_input in = {0};
	struct db_outcome o;
	struct field_error err;
	char from[DATE_BUF], to[DATE_BUF], today[DATE_BUF];
	int32_t dfrom, dto;
	bool has_from, has_to;

	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !field_uscc(req->json, "uscc", &in.uscc, &err) ||
	    !field_text(req->json, "name", true, FIRM_NAME_MAX_CHARS, false, &in.name, &err) ||
	    !field_text(req->json, "reason", true, REASON_MAX_CHARS, true, &in.reason, &err) ||
	    !field_date(req->json, "valid_from", true, &dfrom, &has_from, &err) ||
	    !field_date(req->json, "valid_to", false, &dto, &has_to, &err)) {
		reply_field_error(req, &err);
		return;
	}
	if (has_to && dto < dfrom) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "valid_to",
			    "valid_to: must not be before valid_from");
		return;
	}
	date_format(dfrom, from);
	in.valid_from = from;
	if (has_to) {
		date_format(dto, to);
		in.valid_to = to;
	}
	date_format(today_day(), today);
	reply_outcome(req, db_whitelist_add(&in, req->principal.code, today, &o), &o);
}

void whitelist_remove(struct request *req)
{
	static const char *const allowed[] = {"reason", NULL};
	const char *uscc = path_uscc(req), *reason;
	struct db_outcome o;
	struct field_error err;
	char today[DATE_BUF];

	if (uscc == NULL)
		return;
	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !field_text(req->json, "reason", true, REASON_MAX_CHARS, true, &reason, &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(today_day(), today);
	reply_outcome(req, db_whitelist_remove(uscc, reason, req->principal.code, today, &o), &o);
}

/* Who the entries are shown to (db/whitelist.h): NULL for the regulator, else the caller. */
static const char *viewer(const struct request *req)
{
	return req->principal.kind == PK_REGULATOR ? NULL : req->principal.code;
}

void whitelist_get(struct request *req)
{
	const char *uscc = path_uscc(req);
	char day[DATE_BUF], *json = NULL;
	enum db_rc rc;

	if (uscc == NULL || !query_as_of(req, day, NULL))
		return;
	rc = db_whitelist_check(uscc, day, viewer(req), &json);
	reply_json_text(req, rc, json);
}

void whitelist_history(struct request *req)
{
	const char *uscc = path_uscc(req);
	char today[DATE_BUF], *json = NULL;
	enum db_rc rc;

	if (uscc == NULL)
		return;
	date_format(today_day(), today);
	rc = db_whitelist_history(uscc, today, viewer(req), &json);
	reply_json_text(req, rc, json);
}

/* Reads ?active= (true, the default: in force on as_of; false: not in force; all) and
 * ?county= into @a f; replies 422 on a bad value. */
static bool list_filter(struct request *req, struct wl_filter *f)
{
	const char *active = req_query(req, "active");

	if (active == NULL || strcmp(active, "true") == 0) {
		f->active = "true";
	} else if (strcmp(active, "false") == 0) {
		f->active = "false";
	} else if (strcmp(active, "all") == 0) {
		f->active = NULL;
	} else {
		reply_error(req, ERR_INVALID_FIELD, NULL, "active", "active: true, false or all");
		return false;
	}
	f->county = req_query(req, "county");
	if (f->county != NULL && !county_code_valid(f->county)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "county",
			    "county: a 6-digit administrative division code");
		return false;
	}
	return true;
}

/* Every matching entry in one CSV file (UTF-8 with BOM, CRLF, a header row), streamed from
 * one query on a connection of its own (handlers/export_stream.h) holding an export slot:
 * memory stays flat and the statement timeout bounds it. Until 3 December 2026 it was
 * built whole in memory, page by page, outside the export cap (found by review). */
static void reply_csv(struct request *req, struct wl_filter *f)
{
	static const struct export_stream_spec spec = {"whitelist export", false, csv_columns,
						       N_CSV_COLUMNS};
	struct db_stream *s;
	char filename[48];
	enum db_rc rc;

	if (!export_begin(req))
		return;
	s = db_whitelist_export_open(f, &rc);
	if (s == NULL) {
		export_end();
		reply_db_error(req, rc);
		return;
	}
	snprintf(filename, sizeof filename, "whitelist-%s.csv", f->day);
	reply_export_stream(req, s, &spec, filename);
}

/* The same columns as XLSX, with Chinese titles. */
static const struct xlsx_col xlsx_columns[] = {
    {"id", "编号", XK_INT},
    {"uscc", "统一社会信用代码", XK_TEXT},
    {"name", "企业名称", XK_TEXT},
    {"status", "状态", XK_TEXT},
    {"valid_from", "有效期起", XK_DATE},
    {"valid_to", "有效期止", XK_DATE},
    {"reason", "列入理由", XK_TEXT},
    {"county_code", "区县代码", XK_TEXT},
    {"firm.name", "登记企业名称", XK_TEXT},
    {"firm.industry_code", "行业代码", XK_TEXT},
    {"firm.size", "企业规模", XK_TEXT},
    {"listed_at", "列入时间", XK_TIMESTAMP},
    {"listed_by", "列入人", XK_TEXT},
    {"removed_at", "移出时间", XK_TIMESTAMP},
    {"removed_by", "移出人", XK_TEXT},
    {"removal_reason", "移出理由", XK_TEXT},
};

static enum db_rc whitelist_page(void *f, struct xlsx_pages *p)
{
	return db_whitelist_list(f, xlsx_pages_add, p);
}

static void reply_whitelist_xlsx(struct request *req, struct wl_filter *f)
{
	struct xlsx_pages p;

	if (!xlsx_pages_begin(req, &p, "白名单", xlsx_columns,
			      sizeof xlsx_columns / sizeof xlsx_columns[0]))
		return;
	f->limit = PAGE_MAX;
	xlsx_pages_run(req, &p, whitelist_page, f, &f->after_id, f->limit, "whitelist");
}

void whitelist_list(struct request *req)
{
	struct wl_filter f = {0};
	struct json_list l;
	char day[DATE_BUF];
	enum out_format fmt;

	if (!query_as_of(req, day, NULL) || !list_filter(req, &f) ||
	    !query_format(req, FMT_JSON | FMT_CSV | FMT_XLSX, FMT_JSON, &fmt))
		return;
	f.day = day;
	f.viewer = viewer(req);
	if (fmt != FMT_JSON) {
		if (!export_unpaged(req))
			return;
		if (fmt == FMT_CSV)
			reply_csv(req, &f);
		else
			reply_whitelist_xlsx(req, &f);
		return;
	}
	if (!page_params(req, &f.after_id, &f.limit))
		return;
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_whitelist_list(&f, list_add, &l));
}
