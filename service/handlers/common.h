/* Helpers several handlers share: which bank a read is scoped to, list paging, boolean
 * query flags, today's date in the registry's time zone, and JSON list assembly. */
#ifndef FINREG_HANDLERS_COMMON_H
#define FINREG_HANDLERS_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

/** Today's day number in Asia/Shanghai (UTC+8, no daylight saving). */
int32_t today_day(void);

/**
 * The bank a read is scoped to. A bank principal reads its own: ?bank may be absent,
 * "self" or its own code (another code -> 404 as if nothing existed, *ok false). The
 * regulator names one with ?bank (required when @a regulator_needs_bank; NULL = all).
 * Replies and sets *ok false on a problem.
 */
const char *bank_scope(struct request *req, bool regulator_needs_bank, bool *ok);

/** Reads ?limit and ?cursor; replies 422 and returns false when malformed. */
bool page_params(struct request *req, int64_t *after_id, int *limit);

/** Reads boolean query flag @a name ("true"/"false", absent = false); replies 422 and
 *  returns false when malformed. */
bool query_flag(struct request *req, const char *name, bool *out);

/** Reads optional query date @a name; replies 422 and returns false when malformed. */
bool query_date(struct request *req, const char *name, const char **out);

/** Collects JSON texts into {"items": [...], "next_cursor": ...}; see list_add. */
struct json_list {
	char *buf;
	size_t len, cap;
	int count, limit;
	int64_t last_id;
	bool more;
};

void list_begin(struct json_list *l, int limit);
/** json_row_fn-compatible: appends one row unless the page is full (then notes more). */
void list_add(void *cls, int64_t id, const char *json);
/** Replies 200 with the list (ownership of the buffer passes to the reply). */
void list_reply(struct request *req, struct json_list *l);
void list_free(struct json_list *l);

#endif
