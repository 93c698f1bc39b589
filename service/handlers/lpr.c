/* The LPR table: GET /v1/lpr (any principal) and PUT /v1/lpr/{date} (the regulator). */
#include "db/loans.h"
#include "db/lpr.h"
#include "domain/dates.h"
#include "domain/money.h"
#include "handlers/handlers.h"
#include "http/reply.h"

static void add_row(void *cls, const char *from, const char *one_year, const char *five_year)
{
	json_array_append_new(cls, json_pack("{s:s, s:s, s:s}", "effective_from", from, "one_year",
					     one_year, "five_year", five_year));
}

void lpr_list(struct request *req)
{
	json_t *items = json_array();
	enum db_rc rc = db_lpr_list(add_row, items);

	if (rc != DB_OK) {
		json_decref(items);
		reply_db_error(req, rc);
		return;
	}
	reply_json(req, 200, json_pack("{s:o}", "items", items));
}

/* Reads a rate field into its canonical four-decimal text. */
static bool read_rate(const json_t *body, const char *name, char out[RATE_BUF],
		      struct field_error *err)
{
	const char *text;
	int32_t r4;

	if (!field_string(body, name, true, NULL, &text, err))
		return false;
	if (!rate_parse(text, &r4) || r4 == 0)
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name,
				  "must be a percent string above 0 with at most four decimals, "
				  "like \"3.8500\"");
	rate_format(r4, out);
	return true;
}

void lpr_put(struct request *req)
{
	static const char *const allowed[] = {"one_year", "five_year", NULL};
	struct field_error err;
	char one[RATE_BUF], five[RATE_BUF], date[DATE_BUF];
	int32_t day;
	bool created;
	long long repriced;
	enum db_rc rc;

	if (!date_parse(req_param(req, 0), &day)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "date",
			    "date: the path must end in a real date YYYY-MM-DD");
		return;
	}
	date_format(day, date);
	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !read_rate(req->json, "one_year", one, &err) ||
	    !read_rate(req->json, "five_year", five, &err)) {
		reply_field_error(req, &err);
		return;
	}
	rc = db_lpr_put(date, one, five, req->principal.code, &created, &repriced);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	db_refdata_invalidate();
	reply_json(req, created ? 201 : 200,
		   json_pack("{s:s, s:s, s:s, s:I}", "effective_from", date, "one_year", one,
			     "five_year", five, "repriced", (json_int_t)repriced));
}
