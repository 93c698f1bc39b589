/* Writing JSON text straight into a buffer, for answers of thousands of rows where one
 * jansson value per field would cost more than the text itself (the withdrawal watch).
 * Strings come out exactly as jansson's compact dump writes them. No HTTP here. */
#ifndef FINREG_JSON_OUT_H
#define FINREG_JSON_OUT_H

#include <stdbool.h>

#include "buf.h"

/** Appends @a s (UTF-8) as a JSON string: quoted, with '"', '\\' and control characters
 *  escaped as jansson escapes them; NULL appends null. False as buf_append. */
bool json_out_string(struct buf *b, const char *s);

#endif
