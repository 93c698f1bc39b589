/* Implementation of json/fields.h: the one family of JSON member readers. */
#include "json/fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/money.h"
#include "domain/uscc.h"

void field_path(char *out, size_t len, const char *prefix, const char *name)
{
	if (prefix == NULL || prefix[0] == '\0')
		snprintf(out, len, "%s", name);
	else if (name == NULL || name[0] == '\0')
		snprintf(out, len, "%s", prefix);
	else
		snprintf(out, len, "%s.%s", prefix, name);
}

bool field_fail(struct field_error *err, enum api_error code, const char *rule, const char *prefix,
		const char *name, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	err->code = code;
	err->rule = rule;
	field_path(err->field, sizeof err->field, prefix, name);
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(err->message, sizeof err->message, "%s: %s", err->field, text);
	return false;
}

bool fields_only(const json_t *obj, const char *const *allowed, const char *prefix,
		 struct field_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)obj, key, value)
	{
		bool known = false;

		for (const char *const *a = allowed; *a != NULL && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known)
			return field_fail(err, ERR_UNKNOWN_FIELD, NULL, prefix, key,
					  "unknown field");
	}
	return true;
}

/* Member @a name of @a obj in *v, NULL when absent or null: then an error (false) when
 * @a required. */
static bool member(const json_t *obj, const char *name, bool required, struct field_at at,
		   const json_t **v, struct field_error *err)
{
	*v = json_object_get(obj, name);
	if (*v != NULL && !json_is_null(*v))
		return true;
	*v = NULL;
	if (required)
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name, "is required");
	return true;
}

bool field_read_string(const json_t *obj, const char *name, bool required, struct field_at at,
		       const char *type_text, const char **out, size_t *len,
		       struct field_error *err)
{
	const json_t *v;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (!member(obj, name, required, at, &v, err))
		return false;
	if (v == NULL)
		return true;
	if (!json_is_string(v))
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name, "%s",
				  type_text);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must not contain NUL characters");
	*out = json_string_value(v);
	if (len != NULL)
		*len = json_string_length(v);
	return true;
}

bool field_read_text(const json_t *obj, const char *name, bool required, struct field_at at,
		     long max, bool breaks, const char **out, struct field_error *err)
{
	size_t len;
	long n;

	if (!field_read_string(obj, name, required, at, "must be a string", out, &len, err))
		return false;
	if (*out == NULL)
		return true;
	n = text_chars(*out, len, breaks);
	if (n < 0)
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  breaks ? "must not contain control characters"
					 : "must be printable text without control characters");
	if (n == 0)
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must not be empty");
	if (n > max)
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must be at most %ld characters (has %ld)", max, n);
	return true;
}

bool field_read_bool(const json_t *obj, const char *name, bool required, bool def,
		     struct field_at at, bool *out, struct field_error *err)
{
	const json_t *v;

	*out = def;
	if (!member(obj, name, required, at, &v, err))
		return false;
	if (v == NULL)
		return true;
	if (!json_is_boolean(v))
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must be true or false");
	*out = json_is_true(v);
	return true;
}

bool field_read_date(const json_t *obj, const char *name, bool required, struct field_at at,
		     int32_t *day, bool *present, struct field_error *err)
{
	const char *s;

	if (present != NULL)
		*present = false;
	if (!field_read_string(obj, name, required, at, "must be a string like \"2020-05-12\"", &s,
			       NULL, err))
		return false;
	if (s == NULL)
		return true;
	if (!date_parse(s, day))
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must be a real date YYYY-MM-DD");
	if (present != NULL)
		*present = true;
	return true;
}

bool field_read_money(const json_t *obj, const char *name, bool required, struct field_at at,
		      int64_t *fen, bool *present, struct field_error *err)
{
	const char *s;

	*fen = 0;
	if (present != NULL)
		*present = false;
	if (!field_read_string(obj, name, required, at, "must be a string like \"5000000.00\"", &s,
			       NULL, err))
		return false;
	if (s == NULL)
		return true;
	if (!money_parse(s, fen))
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must be yuan with at most two decimals, like \"5000000.00\"");
	if (*fen <= 0)
		return field_fail(err, ERR_INVALID_FIELD, at.rule, at.prefix, name,
				  "must be above zero");
	if (present != NULL)
		*present = true;
	return true;
}

bool field_string(const json_t *obj, const char *name, bool required, const char *prefix,
		  const char **out, struct field_error *err)
{
	return field_read_string(obj, name, required, (struct field_at){prefix, NULL},
				 "must be a string", out, NULL, err);
}

bool field_bool(const json_t *obj, const char *name, bool required, bool def, const char *prefix,
		bool *out, struct field_error *err)
{
	return field_read_bool(obj, name, required, def, (struct field_at){prefix, NULL}, out, err);
}

bool field_text(const json_t *obj, const char *name, bool required, long max, bool breaks,
		const char **out, struct field_error *err)
{
	return field_read_text(obj, name, required, (struct field_at){NULL, NULL}, max, breaks, out,
			       err);
}

bool field_date(const json_t *obj, const char *name, bool required, int32_t *day, bool *present,
		struct field_error *err)
{
	return field_read_date(obj, name, required, (struct field_at){NULL, NULL}, day, present,
			       err);
}

bool field_money(const json_t *obj, const char *name, bool required, int64_t *fen,
		 struct field_error *err)
{
	return field_read_money(obj, name, required, (struct field_at){NULL, NULL}, fen, NULL, err);
}

bool field_uscc(const json_t *obj, const char *name, const char **out, struct field_error *err)
{
	char buf[USCC_PROBLEM_BUF];
	const char *problem;

	if (!field_string(obj, name, true, NULL, out, err))
		return false;
	problem = uscc_problem_r(*out, buf);
	if (problem != NULL)
		return field_fail(err, ERR_INVALID_FIELD, uscc_rule(problem), NULL, name, "%s",
				  problem);
	return true;
}

json_t *money_json(int64_t fen)
{
	char text[MONEY_BUF];

	money_format(fen, text);
	return json_string(text);
}

json_t *date_json(int32_t day)
{
	char text[DATE_BUF];

	date_format(day, text);
	return json_string(text);
}

bool field_out_of_memory(struct field_error *err)
{
	err->code = ERR_UNAVAILABLE;
	err->rule = NULL;
	err->field[0] = '\0';
	snprintf(err->message, sizeof err->message, "the server is short of memory; retry later");
	return false;
}
