/* One ingest item as loan_ingest takes it (the fields of db/loan_item.def, each as the text
 * PostgreSQL reads for its type, or NULL), and the items of one call turned into one array
 * literal per field: the parameters of loan_ingest, which makes its rows with one
 * multi-argument unnest. No JSON document of all the items is ever built. A correction
 * sends its one item as a JSON object instead (loan_item_json). */
#ifndef FINREG_DB_LOAN_ITEM_H
#define FINREG_DB_LOAN_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum loan_item_field {
#define X(id, key, type) id,
#include "db/loan_item.def"
#undef X
	LI__COUNT
};

/** The values of one item. Set up with loan_item_init; LI_IDX is never set (the call
 *  numbers its items). */
struct loan_item {
	struct buf text;   /* the values, each NUL-terminated */
	int at[LI__COUNT]; /* where each value starts in text; -1: NULL */
};

void loan_item_init(struct loan_item *it);

/** Sets field @a f to @a value (NULL: SQL NULL); integers and booleans ("t", "f") as
 *  PostgreSQL prints them, dates as "YYYY-MM-DD", content as JSON text. False when memory
 *  ran out (the item is then failed for good). */
bool loan_item_set(struct loan_item *it, enum loan_item_field f, const char *value);
bool loan_item_set_int(struct loan_item *it, enum loan_item_field f, long long value);

/** The value of field @a f, or NULL. */
const char *loan_item_get(const struct loan_item *it, enum loan_item_field f);

/** Makes @a dst a copy of @a src (false when memory ran out; @a dst is then empty). */
bool loan_item_copy(struct loan_item *dst, const struct loan_item *src);

void loan_item_free(struct loan_item *it);

/** The item as the JSON object of the type loan_item (idx @a idx), malloc'd; NULL when
 *  memory ran out. */
char *loan_item_json(const struct loan_item *it, int idx);

/** The array parameters of one loan_ingest call, built item by item. Zero-initialised it
 *  is empty. */
struct loan_columns {
	struct buf col[LI__COUNT];
	size_t n;
};

/** Adds item @a it as number @a idx. False when memory ran out. */
bool loan_columns_add(struct loan_columns *c, const struct loan_item *it, int idx);

/** Closes the arrays and points params[0..LI__COUNT-1] at them (owned by @a c). False when
 *  memory ran out. No item may be added afterwards. */
bool loan_columns_finish(struct loan_columns *c, const char *params[LI__COUNT]);

void loan_columns_free(struct loan_columns *c);

#endif
