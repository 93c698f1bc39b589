/* Implementation of handlers/outcome.h: database outcomes to contract errors, in one place. */
#include "handlers/outcome.h"

#include <stdio.h>
#include <string.h>

#include "domain/loan.h"
#include "log.h"

/* The contract error of rejection code @a code; *rule set when the code is a rule id. */
static enum api_error code_error(const char *code, const char **rule)
{
	if (strcmp(code, "invalid_field") == 0)
		return ERR_INVALID_FIELD;
	if (strcmp(code, "conflict") == 0)
		return ERR_CONFLICT;
	if (strcmp(code, "not_found") == 0)
		return ERR_NOT_FOUND;
	if (rule_find(code) != NULL) {
		*rule = rule_find(code)->id;
		return ERR_INVALID_FIELD;
	}
	LOG_BUG("a database function answered the unknown rejection code \"%s\"", code);
	return ERR_INTERNAL;
}

void outcome_error(const char *code, const char *rule, const char *prefix, const char *field,
		   const char *message, struct field_error *err)
{
	const struct rule *r = rule != NULL && rule[0] != '\0' ? rule_find(rule) : NULL;

	err->rule = r != NULL ? r->id : NULL;
	err->code = code_error(code != NULL ? code : "", &err->rule);
	field_path(err->field, sizeof err->field, prefix, field != NULL ? field : "");
	if (message == NULL)
		message = api_error_message(err->code);
	if (err->field[0] != '\0')
		snprintf(err->message, sizeof err->message, "%s: %s", err->field, message);
	else
		snprintf(err->message, sizeof err->message, "%s", message);
}
