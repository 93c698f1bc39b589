/* Helpers several handlers share: which bank (or guarantor) a read is scoped to, list
 * paging, boolean, date and year query parameters, today's date in the registry's time
 * zone, JSON list assembly, replies of JSON text from the database and of write outcomes. */
#ifndef FINREG_HANDLERS_COMMON_H
#define FINREG_HANDLERS_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "db/db.h"
#include "domain/dates.h"
#include "http/request.h"
#include "json/fields.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

/** Today's day number in Asia/Shanghai (UTC+8, no daylight saving). */
int32_t today_day(void);

/**
 * The bank a read is scoped to. A bank principal reads its own: ?bank may be absent,
 * "self" or its own code (another code -> 404 as if nothing existed, *ok false). The
 * regulator names one with ?bank (required when @a regulator_needs_bank; NULL = all).
 * Replies and sets *ok false on a problem. owner_scope() for banks, named by ?bank.
 */
const char *bank_scope(struct request *req, bool regulator_needs_bank, bool *ok);

/**
 * The owner a read is scoped to, for principals of @a kind (PK_BANK, PK_GUARANTOR) who
 * read their own: @a named (a query or path value) may be absent, "self" or their own
 * code (another code -> 404 as if nothing existed, *ok false). The regulator (or another
 * kind) gets @a named: NULL = all, an error when @a regulator_needs_one. Replies and sets
 * *ok false on a problem. The result is borrowed from the request.
 */
const char *owner_scope(struct request *req, enum principal_kind kind, const char *named,
			bool regulator_needs_one, bool *ok);

/** The bank whose figures a statistic is asked for: "*" for all (the regulator without
 *  ?bank), a code otherwise; a bank must say bank=self (or its own code), else 403.
 *  Replies and sets *ok false on a problem. Borrowed from the request (or static). */
const char *stats_bank(struct request *req, bool *ok);

/** Reads ?limit (default PAGE_DEFAULT); replies 422 and returns false when malformed. */
bool page_limit(struct request *req, int *limit);

/** Replies 422 invalid_field on "cursor" (not a next_cursor this endpoint gave). */
void reply_bad_cursor(struct request *req);

/** Reads ?limit and ?cursor; replies 422 and returns false when malformed. */
bool page_params(struct request *req, int64_t *after_id, int *limit);

/** Reads boolean query flag @a name ("true"/"false", absent = false); replies 422 and
 *  returns false when malformed. */
bool query_flag(struct request *req, const char *name, bool *out);

/** Reads optional query date @a name; replies 422 and returns false when malformed. */
bool query_date(struct request *req, const char *name, const char **out);

/** Checks @a uscc, a query or path parameter called @a name: true when it is NULL (not
 *  given) or a valid USCC; otherwise replies 422 with rule L002 or L003 (uscc_rule) and
 *  field @a name, and returns false. */
bool uscc_param_ok(struct request *req, const char *name, const char *uscc);

/** Reads ?as_of= (default today) into @a out as canonical text and, when @a day is not
 *  NULL, its day number; replies 422 and returns false when malformed. */
bool query_as_of(struct request *req, char out[DATE_BUF], int32_t *day);

/** Reads the required ?year= (1990-2999); replies 422 and returns false otherwise. */
bool query_year(struct request *req, int *year);

/** Replies 200 with JSON text from the database (ownership of @a json taken), or the
 *  error of @a rc when it is not DB_OK. */
void reply_json_text(struct request *req, enum db_rc rc, char *json);

/** Replies with @a err (from outcome_error(), handlers/outcome.h): its field member left
 *  out when it names none. */
void reply_outcome_error(struct request *req, const struct field_error *err);

/**
 * Replies to a write: the error of @a rc when it is not DB_OK, the rejection of @a o
 * (mapped by handlers/outcome.h), or its body (ownership taken) with 201 when o->status is
 * "created" and 200 otherwise. Clears @a o.
 */
void reply_outcome(struct request *req, enum db_rc rc, struct db_outcome *o);

/** Every bank's name by code, as a JSON object; NULL (replied) when the database fails.
 *  For names beside codes in statistics. */
json_t *bank_names(struct request *req);

/** Sets member "bank_name" of each row of @a rows to the name of its "bank_code" (null when
 *  unknown). */
void add_bank_names(json_t *rows, const json_t *names);

/** Collects JSON texts into {"items": [...], "next_cursor": ...}; see list_add. */
struct json_list {
	struct buf text;
	int count, limit;
	int64_t last_id;
	bool more;
};

/** Starts a page of at most @a limit items; returns how many rows to ask the database
 *  for: one more, which tells whether there is a next page. */
int list_begin(struct json_list *l, int limit);
/** json_row_fn-compatible: appends one row unless the page is full (then notes more); a
 *  row without text (the walk's bound) notes more, resuming after its id. */
void list_add(void *cls, int64_t id, const char *json);
/** Replies 200 with the list when @a rc is DB_OK (the buffer passes to the reply), else
 *  frees it and replies the error of @a rc. */
void list_finish(struct request *req, struct json_list *l, enum db_rc rc);

#endif
