/* The answer to a single post that created a loan, rendered by finregd instead of the
 * database (issue 11): the item it sent to loan_ingest (db/loan_item.h: the derived
 * fields), the content object that item's content text was written from (kept by
 * loan_prepare, so the text is not parsed again) and the few values the database returned
 * for it,
 * written as PostgreSQL wrote loan_to_json(l)::text, byte for byte (json/jsonb_out.h). */
#ifndef FINREG_LOAN_ANSWER_H
#define FINREG_LOAN_ANSWER_H

#include <jansson.h>
#include <stdbool.h>

#include "db/loan_item.h"

/** What the database stored for a new loan that the item does not hold. */
struct loan_stored {
	const char *created_at;   /* = updated_at, as ts_text writes it */
	bool registry_first_loan; /* no earlier loan of the registry to the borrower */
	const char *warnings;     /* its warnings as jsonb text; NULL: none */
};

/** The new loan of item @a it whose content object is @a loan, bank @a bank (version 1,
 *  active, nothing repaid, never renewed or voided), as malloc'd JSON text; NULL when
 *  memory ran out or a value could not be read. The answer's fields are added to @a loan
 *  (still the caller's; a NULL or non-object @a loan answers NULL). */
char *loan_answer_created(json_t *loan, const struct loan_item *it, const char *bank,
			  const struct loan_stored *st);

#endif
