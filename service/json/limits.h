/* What one request body may hold once parsed, whatever its size in bytes: the JSON text is
 * counted before jansson builds its tree (json_prescan), CSV rows and cells while they are
 * read (csv.h). Bounds the memory of a body: an 8 MiB body of "{}" would otherwise become
 * some 2.8 million jansson objects (630 MB measured). */
#ifndef FINREG_LIMITS_H
#define FINREG_LIMITS_H

#include <stdbool.h>
#include <stddef.h>

/** Most JSON values (objects, arrays, strings, numbers, literals; a member's key is part
 *  of its value) one body may hold. A batch of 1000 full loans needs about 40 000. */
#define JSON_MAX_VALUES 100000

/** Deepest nesting of arrays and objects in a body (a loan needs 3). */
#define JSON_MAX_DEPTH 32

enum prescan_rc {
	PRESCAN_OK,
	PRESCAN_TOO_MANY_VALUES,
	PRESCAN_TOO_DEEP,
};

/**
 * Counts the values and the nesting depth of the JSON text at @a text (@a len bytes)
 * without building anything, stopping as soon as a limit is passed. Malformed text is
 * not judged here (json_loadb does that): the count is only an upper bound. O(len), no
 * allocation.
 */
enum prescan_rc json_prescan(const char *text, size_t len, size_t max_values, unsigned max_depth);

#endif
