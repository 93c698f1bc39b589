/* The one mapping of what a database write function answered to the HTTP reply. Every
 * write in sql/ answers a status ("created", "updated", "unchanged", ...) or "rejected"
 * with a code, an optional rule id, a field and a message; this is the only place that
 * turns that into the contract (docs/architecture.md, "Outcomes"):
 *
 *   rejected, code "invalid_field"  -> 422 invalid_field (with the rule, when one is named)
 *   rejected, code a rule id "L050" -> 422 invalid_field under that rule
 *   rejected, code "conflict"       -> 409 conflict
 *   rejected, code "not_found"      -> 404 not_found
 *   rejected, any other code        -> 500 internal (a function answered what no handler
 *                                       knows: a bug, logged)
 *   status "created"                -> 201 with the body; any other status -> 200
 *
 * The message is "<field path>: <message>" when a field is named (the contract's form),
 * the message alone otherwise. Pure (unit-tested in tests/unit/test_outcome.c); the
 * replies that use it are reply_outcome() and reply_outcome_error() of handlers/common.h. */
#ifndef FINREG_HANDLERS_OUTCOME_H
#define FINREG_HANDLERS_OUTCOME_H

#include "json/fields.h"

/**
 * Fills @a err from a rejection: @a code ("conflict", "not_found", "invalid_field" or a
 * rule id), @a rule (a catalog id, "" or NULL), the field (path @a prefix + @a field, ""
 * when none) and @a message (NULL: the error's default message).
 */
void outcome_error(const char *code, const char *rule, const char *prefix, const char *field,
		   const char *message, struct field_error *err);

#endif
