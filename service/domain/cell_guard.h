/* The formula guard of spreadsheet exports: the one rule, shared by the CSV and XLSX
 * writers, that decides which text cells get a leading apostrophe so no spreadsheet runs
 * them as a formula (api.md, Spreadsheet exports). Pure, no I/O. */
#ifndef FINREG_CELL_GUARD_H
#define FINREG_CELL_GUARD_H

#include <stdbool.h>

/** The character put before a guarded cell. */
#define CELL_GUARD_PREFIX "'"

/**
 * True when text cell @a text must be written with CELL_GUARD_PREFIX before it: it begins
 * with '=', '+', '-', '@', tab or carriage return (api.md names no exception: a name or
 * reason "-1200.50" is guarded too). Numbers are not text cells: the XLSX writer writes
 * them as numbers, and no CSV number column holds a signed value. NULL and "" need no
 * guard.
 */
bool cell_needs_guard(const char *text);

/** True when @a s is a plain decimal number: an optional sign, digits, optionally '.' and
 *  digits ("-1200.50", "+3", "7"). */
bool cell_plain_number(const char *s);

#endif
