/* Lookups over the error list in errors.def. */
#include "errors.h"

static const struct {
	const char *code;
	unsigned status;
	const char *message;
} error_table[] = {
#define X(id, code, status, msg) [id] = {code, status, msg},
#include "errors.def"
#undef X
};

const char *api_error_code(enum api_error e)
{
	return error_table[e].code;
}

unsigned api_error_status(enum api_error e)
{
	return error_table[e].status;
}

const char *api_error_message(enum api_error e)
{
	return error_table[e].message;
}
