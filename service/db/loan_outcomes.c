/* Freeing loan outcomes (db/loans.h); apart from loans.c so that code without a database
 * (db/loan_group.c and its unit test) can use them. */
#include <stdlib.h>
#include <string.h>

#include "db/loans.h"

void loan_outcome_clear(struct loan_outcome *o)
{
	free(o->message);
	free(o->loan);
	free(o->repayment);
	free(o->warnings);
	memset(o, 0, sizeof *o);
}

void loan_outcomes_free(struct loan_outcomes *r)
{
	for (size_t i = 0; i < r->n; i++)
		loan_outcome_clear(&r->items[i]);
	free(r->items);
	r->items = NULL;
	r->n = 0;
}
