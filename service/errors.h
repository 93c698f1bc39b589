/* API error identifiers generated from errors.def, with their code string, HTTP status
 * and default message. Pure data: no HTTP library here. */
#ifndef FINREG_ERRORS_H
#define FINREG_ERRORS_H

enum api_error {
#define X(id, code, status, msg) id,
#include "errors.def"
#undef X
	ERR__COUNT
};

/** The contract's code string for @a e ("bad_json"); static storage. */
const char *api_error_code(enum api_error e);
/** The HTTP status for @a e. */
unsigned api_error_status(enum api_error e);
/** The default human message for @a e; static storage. */
const char *api_error_message(enum api_error e);

#endif
