/* From posted loan objects to ingest items: parse (json/loan_json), check the rules that
 * need no database (domain/loan), derive the registry's fields, and render the item the
 * database function loan_ingest takes. Shared by single posts, batches and corrections. */
#ifndef FINREG_LOAN_ITEMS_H
#define FINREG_LOAN_ITEMS_H

#include <jansson.h>
#include <stdbool.h>

#include "db/loans.h"
#include "json/fields.h"

/** One posted loan after preparation: rejected with @a err, or ready (in the items). */
struct loan_prep {
	bool rejected;
	struct field_error err;
	const char *loan_ref; /* borrowed from the input; NULL when absent or not a string */
};

/**
 * Prepares loan object @a obj (index @a idx; field paths get @a prefix). On success
 * appends its item to @a items (a JSON array) and returns true; otherwise fills p->err:
 * ERR_UNAVAILABLE when memory ran out (not the loan's fault: the caller answers 503).
 */
bool loan_prepare(const json_t *obj, int idx, const char *prefix, const struct refdata *ref,
		  json_t *items, struct loan_prep *p);

/** The error object of a batch result or the contract error body for @a err. */
json_t *field_error_json(const struct field_error *err);

#endif
