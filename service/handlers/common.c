/* Implementation of handlers/common.h. */
#include "handlers/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/stats.h"
#include "domain/dates.h"
#include "domain/uscc.h"
#include "handlers/outcome.h"
#include "http/reply.h"

int32_t today_day(void)
{
	time_t now = time(NULL) + 8 * 3600;

	return (int32_t)(now / 86400);
}

/* "self" from a caller who is not of kind @a kind: it names no one (the regulator names a
 * bank's or guarantor's code); replies 422 and returns true. */
static bool self_of_another_kind(struct request *req, const char *noun, const char *named)
{
	if (named == NULL || strcmp(named, "self") != 0)
		return false;
	reply_error(req, ERR_INVALID_FIELD, NULL, noun,
		    "%s: self means the caller's own, and a %s has none; name the %s's code", noun,
		    principal_kind_name(req->principal.kind), noun);
	return true;
}

const char *owner_scope(struct request *req, enum principal_kind kind, const char *named,
			bool regulator_needs_one, bool *ok)
{
	const char *noun = principal_kind_name(kind);

	*ok = true;
	if (req->principal.kind == kind) {
		if (named == NULL || strcmp(named, "self") == 0 ||
		    strcmp(named, req->principal.code) == 0)
			return req->principal.code;
		*ok = false;
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "a %s reads only its own records",
			    noun);
		return NULL;
	}
	if (self_of_another_kind(req, noun, named)) {
		*ok = false;
		return NULL;
	}
	if (named == NULL && regulator_needs_one) {
		*ok = false;
		reply_error(req, ERR_INVALID_FIELD, NULL, noun,
			    "%s: the regulator names the %s with ?%s=CODE", noun, noun, noun);
		return NULL;
	}
	return named;
}

const char *bank_scope(struct request *req, bool regulator_needs_bank, bool *ok)
{
	return owner_scope(req, PK_BANK, req_query(req, "bank"), regulator_needs_bank, ok);
}

const char *stats_bank(struct request *req, bool *ok)
{
	const char *bank = req_query(req, "bank");

	*ok = true;
	if (req->principal.kind == PK_REGULATOR) {
		if (self_of_another_kind(req, "bank", bank)) {
			*ok = false;
			return NULL;
		}
		return bank == NULL ? "*" : bank;
	}
	if (bank != NULL && (strcmp(bank, "self") == 0 || strcmp(bank, req->principal.code) == 0))
		return req->principal.code;
	*ok = false;
	reply_error(req, ERR_FORBIDDEN, NULL, "bank",
		    "bank: a bank reads only its own figures, with bank=self");
	return NULL;
}

bool page_limit(struct request *req, int *limit)
{
	const char *l = req_query(req, "limit");
	char *end;

	*limit = PAGE_DEFAULT;
	if (l != NULL) {
		long v = strtol(l, &end, 10);

		if (*l == '\0' || *end != '\0' || v < 1 || v > PAGE_MAX) {
			reply_error(req, ERR_INVALID_FIELD, NULL, "limit",
				    "limit: a whole number from 1 to %d", PAGE_MAX);
			return false;
		}
		*limit = (int)v;
	}
	return true;
}

void reply_bad_cursor(struct request *req)
{
	reply_error(req, ERR_INVALID_FIELD, NULL, "cursor",
		    "cursor: pass back the next_cursor of the previous page");
}

bool page_params(struct request *req, int64_t *after_id, int *limit)
{
	const char *c = req_query(req, "cursor");
	char *end;

	*after_id = 0;
	if (!page_limit(req, limit))
		return false;
	if (c != NULL) {
		long long v = strtoll(c, &end, 10);

		if (*c == '\0' || *end != '\0' || v < 0) {
			reply_bad_cursor(req);
			return false;
		}
		*after_id = v;
	}
	return true;
}

bool query_flag(struct request *req, const char *name, bool *out)
{
	const char *v = req_query(req, name);

	*out = false;
	if (v == NULL || strcmp(v, "false") == 0)
		return true;
	if (strcmp(v, "true") == 0) {
		*out = true;
		return true;
	}
	reply_error(req, ERR_INVALID_FIELD, NULL, name, "%s: true or false", name);
	return false;
}

bool query_date(struct request *req, const char *name, const char **out)
{
	int32_t day;

	*out = req_query(req, name);
	if (*out == NULL || date_parse(*out, &day))
		return true;
	reply_error(req, ERR_INVALID_FIELD, NULL, name, "%s: a real date YYYY-MM-DD", name);
	return false;
}

bool uscc_param_ok(struct request *req, const char *name, const char *uscc)
{
	const char *problem = uscc != NULL ? uscc_problem(uscc) : NULL;

	if (problem == NULL)
		return true;
	reply_error(req, ERR_INVALID_FIELD, uscc_rule(problem), name, "%s: %s", name, problem);
	return false;
}

bool query_as_of(struct request *req, char out[DATE_BUF], int32_t *day)
{
	const char *as_of;
	int32_t d = today_day();

	if (!query_date(req, "as_of", &as_of))
		return false;
	if (as_of != NULL && !date_parse(as_of, &d))
		return false;
	date_format(d, out);
	if (day != NULL)
		*day = d;
	return true;
}

bool query_year(struct request *req, int *year)
{
	const char *ys = req_query(req, "year");
	char *end;
	long y = ys ? strtol(ys, &end, 10) : 0;

	if (ys == NULL || *ys == '\0' || *end != '\0' || y < 1990 || y > 2999) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "year",
			    "year: a year such as 2020 is required");
		return false;
	}
	*year = (int)y;
	return true;
}

void reply_json_text(struct request *req, enum db_rc rc, char *json)
{
	if (rc != DB_OK || json == NULL) {
		free(json);
		reply_db_error(req, rc == DB_OK ? DB_ERROR : rc);
		return;
	}
	reply_text(req, 200, "application/json", json, strlen(json));
}

int list_begin(struct json_list *l, int limit)
{
	memset(l, 0, sizeof *l);
	l->limit = limit;
	buf_append_str(&l->text, "{\"items\":[");
	return limit + 1;
}

void list_add(void *cls, int64_t id, const char *json)
{
	struct json_list *l = cls;

	if (json == NULL) { /* the walk stopped before the page filled: resume after @a id */
		l->more = true;
		l->last_id = id;
		return;
	}
	if (l->count == l->limit) {
		l->more = true;
		return;
	}
	if (l->count > 0)
		buf_append_str(&l->text, ",");
	buf_append_str(&l->text, json); /* a failure is sticky: list_finish answers 503 */
	l->count++;
	l->last_id = id;
}

void list_finish(struct request *req, struct json_list *l, enum db_rc rc)
{
	char tail[64], *text;
	size_t len = 0;

	if (rc != DB_OK) {
		buf_free(&l->text);
		reply_db_error(req, rc);
		return;
	}
	if (l->more)
		snprintf(tail, sizeof tail, "],\"next_cursor\":\"%lld\"}", (long long)l->last_id);
	else
		snprintf(tail, sizeof tail, "],\"next_cursor\":null}");
	buf_append_str(&l->text, tail);
	text = buf_take(&l->text, &len);
	reply_text(req, 200, "application/json", text, len); /* NULL text: 503 */
}

static void name_add(void *cls, const char *code, const char *name)
{
	json_object_set_new(cls, code, json_string(name));
}

json_t *bank_names(struct request *req)
{
	json_t *names = json_object();
	enum db_rc rc = db_bank_names(name_add, names);

	if (rc != DB_OK) {
		json_decref(names);
		reply_db_error(req, rc);
		return NULL;
	}
	return names;
}

void add_bank_names(json_t *rows, const json_t *names)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
	{
		const char *code = json_string_value(json_object_get(row, "bank_code"));
		const json_t *name = code != NULL ? json_object_get(names, code) : NULL;

		json_object_set_new(row, "bank_name", name ? json_deep_copy(name) : json_null());
	}
}

void reply_outcome_error(struct request *req, const struct field_error *err)
{
	reply_error(req, err->code, err->rule, err->field[0] != '\0' ? err->field : NULL, "%s",
		    err->message);
}

void reply_outcome(struct request *req, enum db_rc rc, struct db_outcome *o)
{
	struct field_error err;

	if (rc != DB_OK) {
		reply_db_error(req, rc);
	} else if (strcmp(o->status, "rejected") == 0) {
		outcome_error(o->code, NULL, NULL, o->field, o->message, &err);
		reply_outcome_error(req, &err);
	} else if (o->body == NULL) {
		reply_error(req, ERR_INTERNAL, NULL, NULL, "%s without a body", o->status);
	} else {
		reply_text(req, strcmp(o->status, "created") == 0 ? 201 : 200, "application/json",
			   o->body, strlen(o->body));
		o->body = NULL;
	}
	db_outcome_clear(o);
}
