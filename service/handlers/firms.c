/* GET /v1/firms/{uscc} (a firm across banks; a bank sees only its own relationship and
 * a firm it never lent to is 404), GET /v1/firms/{uscc}/history and GET /v1/firms (the
 * regulator's search by name fragment or USCC prefix, county, industry and size, keyset
 * pages, or every match as one workbook with ?format=xlsx). Figures come from
 * sql/firms.sql. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/firms.h"
#include "domain/codes.h"
#include "domain/uscc.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"

/* The USCC of the path, checked (L002, L003); replies 422 and returns NULL when invalid. */
static const char *path_uscc(struct request *req)
{
	const char *uscc = req_param(req, 0);

	return uscc_param_ok(req, "uscc", uscc) ? uscc : NULL;
}

void firms_get(struct request *req)
{
	const char *uscc = path_uscc(req);
	const char *bank = req->principal.kind == PK_BANK ? req->principal.code : NULL;
	char today[DATE_BUF], *json = NULL;
	enum db_rc rc;

	if (uscc == NULL)
		return;
	date_format(today_day(), today);
	rc = db_firm_get(uscc, bank, today, &json);
	if (rc == DB_NOT_FOUND) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such firm");
		return;
	}
	reply_json_text(req, rc, json);
}

/* Reads one whole number of 0 to INT64_MAX at @a s, up to @a stop; false otherwise. */
static bool cursor_part(const char *s, char stop, int64_t *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != stop)
		return false;
	*out = v;
	return true;
}

/* The latest time a history cursor may name: 9999-12-31T23:59:59.999999Z in microseconds
 * since the epoch (firm_history_position turns it into a timestamp). */
#define HISTORY_CURSOR_MAX_US INT64_C(253402300799999999)

/* Reads ?cursor, a next_cursor of the history ("<microseconds>.<position>",
 * firm_history_page); *has is false without one. Replies 422 and returns false when
 * malformed or past HISTORY_CURSOR_MAX_US. */
static bool history_cursor(struct request *req, bool *has, int64_t *us, int64_t *k)
{
	const char *c = req_query(req, "cursor"), *dot;

	*has = c != NULL;
	if (c == NULL)
		return true;
	dot = strchr(c, '.');
	if (dot == NULL || !cursor_part(c, '.', us) || !cursor_part(dot + 1, '\0', k) ||
	    *us > HISTORY_CURSOR_MAX_US) {
		reply_bad_cursor(req);
		return false;
	}
	return true;
}

void firms_history(struct request *req)
{
	const char *uscc = path_uscc(req);
	struct firm_history_page page = {0};
	char *json = NULL;
	enum db_rc rc;

	if (uscc == NULL || !page_limit(req, &page.limit) ||
	    !history_cursor(req, &page.after, &page.after_us, &page.after_k))
		return;
	rc = db_firm_history(uscc, &page, &json);
	if (rc == DB_NOT_FOUND) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such firm");
		return;
	}
	reply_json_text(req, rc, json);
}

/* Reads the list's filters; replies 422 and returns false on a malformed one. */
static bool firm_filter_read(struct request *req, struct firm_filter *f)
{
	enum firm_size size;
	const char *after = req_query(req, "after");
	char *end;

	memset(f, 0, sizeof *f);
	f->q = req_query(req, "q");
	f->county = req_query(req, "county");
	f->industry = req_query(req, "industry");
	f->size = req_query(req, "size");
	if (f->q != NULL && (f->q[0] == '\0' || strlen(f->q) > 200)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "q",
			    "q: 1 to 200 bytes of a name or USCC");
		return false;
	}
	if (f->county != NULL && !county_code_valid(f->county)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "county",
			    "county: a 6-digit division code");
		return false;
	}
	if (f->industry != NULL &&
	    !(industry_code_valid(f->industry) ||
	      (strlen(f->industry) == 2 && f->industry[0] >= '0' && f->industry[0] <= '9' &&
	       f->industry[1] >= '0' && f->industry[1] <= '9'))) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "industry",
			    "industry: a 4-digit class or a 2-digit division");
		return false;
	}
	if (f->size != NULL && !firm_size_parse(f->size, &size)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "size",
			    "size: large, medium, small or micro");
		return false;
	}
	if (!page_params(req, &f->after_id, &f->limit))
		return false;
	if (after != NULL) {
		long long v = strtoll(after, &end, 10);

		if (*after == '\0' || *end != '\0' || v < 0) {
			reply_error(req, ERR_INVALID_FIELD, NULL, "after",
				    "after: pass back the next_cursor of the previous page");
			return false;
		}
		f->after_id = v;
	}
	return true;
}

/* The workbook of the firm search: a list item's members, Chinese titles. */
static const struct xlsx_col firm_cols[] = {
    {"uscc", "统一社会信用代码", XK_TEXT},
    {"name", "企业名称", XK_TEXT},
    {"county_code", "区县代码", XK_TEXT},
    {"industry_code", "行业代码", XK_TEXT},
    {"size", "企业规模", XK_TEXT},
    {"manufacturing", "制造业", XK_BOOL},
    {"first_seen", "首次登记时间", XK_TIMESTAMP},
    {"updated_at", "更新时间", XK_TIMESTAMP},
};

static enum db_rc firm_page(void *f, struct xlsx_pages *p)
{
	return db_firm_list(f, xlsx_pages_add, p);
}

/* Every matching firm in one workbook, read a page at a time; memory stays flat. */
static void reply_firms_xlsx(struct request *req, struct firm_filter *f)
{
	struct xlsx_pages p;

	if (req_query(req, "after") != NULL) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "after",
			    "an export holds every matching firm; after pages the JSON list only");
		return;
	}
	if (!export_unpaged(req) ||
	    !xlsx_pages_begin(req, &p, "企业", firm_cols, sizeof firm_cols / sizeof firm_cols[0]))
		return;
	f->after_id = 0;
	f->limit = PAGE_MAX;
	xlsx_pages_run(req, &p, firm_page, f, &f->after_id, f->limit, "firms");
}

void firms_list(struct request *req)
{
	struct firm_filter f;
	struct json_list l;
	enum out_format fmt;

	if (!query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) || !firm_filter_read(req, &f))
		return;
	if (fmt == FMT_XLSX) {
		reply_firms_xlsx(req, &f);
		return;
	}
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_firm_list(&f, list_add, &l));
}
