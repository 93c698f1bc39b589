/* Group commit for single loan posts: concurrent posts of one bank are stored together by
 * one partial ingest, one transaction (see loan_group.c). No database code of its own:
 * the caller passes the ingest (db_loan_ingest), so the grouping is unit-tested alone. */
#ifndef FINREG_DB_LOAN_GROUP_H
#define FINREG_DB_LOAN_GROUP_H

#include "db/loans.h"

/** Stores a batch of items; fills @a out with one outcome per item, in item order. */
typedef enum db_rc (*loan_group_ingest_fn)(const struct ingest_call *call,
					   struct loan_outcomes *out);

/**
 * Stores single-post item @a item (copied; its number in the group is the call's) of bank
 * @a bank, loan_ref @a loan_ref, in a group with the posts made at the same time, through
 * @a ingest (partial, returning loans). Fills @a out (the caller clears it). Every
 * caller passes the same @a ingest.
 */
enum db_rc loan_group_submit(loan_group_ingest_fn ingest, const char *bank, const char *loan_ref,
			     const struct loan_item *item, struct loan_outcome *out);

/** Posts waiting in the queue now (the unit test waits on it). */
int loan_group_waiting(void);

#endif
