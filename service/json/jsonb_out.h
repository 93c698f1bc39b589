/* A JSON value written as PostgreSQL writes a jsonb value as text (jsonb_out): object keys
 * shorter first, then by their bytes; ", " between members and elements, ": " after a key;
 * strings escaped as PostgreSQL escapes them. finregd renders answers the database used to
 * build as jsonb (the loan a single post stored, json/loan_answer.h) byte for byte as it did.
 * No HTTP here. */
#ifndef FINREG_JSONB_OUT_H
#define FINREG_JSONB_OUT_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"

/** Appends @a v as jsonb text. Integers, strings, booleans, null, arrays and objects; false
 *  for a real (jsonb keeps a number's own digits, which jansson does not) or as buf_append. */
bool jsonb_out(struct buf *b, const json_t *v);

#endif
