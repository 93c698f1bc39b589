/* Implementation of json/fields.h. */
#include "json/fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void field_path(char *out, size_t len, const char *prefix, const char *name)
{
	if (prefix == NULL || prefix[0] == '\0')
		snprintf(out, len, "%s", name);
	else if (name == NULL || name[0] == '\0')
		snprintf(out, len, "%s", prefix);
	else
		snprintf(out, len, "%s.%s", prefix, name);
}

bool field_fail(struct field_error *err, enum api_error code, const char *rule,
		const char *prefix, const char *name, const char *fmt, ...)
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

	json_object_foreach((json_t *)obj, key, value) {
		bool known = false;

		for (const char *const *a = allowed; *a != NULL && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known)
			return field_fail(err, ERR_UNKNOWN_FIELD, NULL, prefix, key,
					  "unknown field");
	}
	return true;
}

bool field_string(const json_t *obj, const char *name, bool required, const char *prefix,
		  const char **out, struct field_error *err)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return field_fail(err, ERR_INVALID_FIELD, NULL, prefix, name,
					  "is required");
		return true;
	}
	if (!json_is_string(v))
		return field_fail(err, ERR_INVALID_FIELD, NULL, prefix, name, "must be a string");
	*out = json_string_value(v);
	return true;
}

bool field_bool(const json_t *obj, const char *name, bool required, bool def, const char *prefix,
		bool *out, struct field_error *err)
{
	const json_t *v = json_object_get(obj, name);

	*out = def;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return field_fail(err, ERR_INVALID_FIELD, NULL, prefix, name,
					  "is required");
		return true;
	}
	if (!json_is_boolean(v))
		return field_fail(err, ERR_INVALID_FIELD, NULL, prefix, name,
				  "must be true or false");
	*out = json_is_true(v);
	return true;
}
