/* From posted loan objects to ingest items: parse (json/loan_json), check the rules that
 * need no database (domain/loan), derive the registry's fields, and render the item the
 * database function loan_ingest takes. Shared by single posts, batches and corrections. */
#ifndef FINREG_LOAN_ITEMS_H
#define FINREG_LOAN_ITEMS_H

#include <jansson.h>
#include <stdbool.h>

#include "db/loan_item.h"
#include "db/loans.h"
#include "json/fields.h"

/** The most loans one batch holds (POST /v1/loans/batch). */
#define LOAN_BATCH_MAX 1000

/** One posted loan after preparation: rejected with @a err, or ready (in the items). */
struct loan_prep {
	bool rejected;
	struct field_error err;
	const char *loan_ref; /* borrowed from the input; NULL when absent or not a string */
};

/**
 * Prepares loan object @a obj (field paths get @a prefix). On success fills @a item (set
 * up with loan_item_init; emptied first) and returns true; otherwise leaves it empty and
 * fills p->err: ERR_UNAVAILABLE when memory ran out (not the loan's fault: 503).
 * A non-NULL @a content gets, on success, the item's content as a JSON object (the
 * caller's to decref), which the answer of a created single post is rendered from
 * (json/loan_answer.h); NULL otherwise. The item itself carries no content: the database
 * builds it from the fields (loan_content in sql/loans.sql).
 */
bool loan_prepare(const json_t *obj, const char *prefix, const struct refdata *ref,
		  struct loan_item *item, struct loan_prep *p, json_t **content);

/** The error object of a batch result or the contract error body for @a err. */
json_t *field_error_json(const struct field_error *err);

#endif
