/* The Idempotency-Key purger: a background thread, started by `finregd serve` (main.c),
 * that deletes stored Idempotency-Key answers older than their keep time. Any number of
 * instances may run one: an advisory lock lets one at a time delete (db/loans.h). */
#ifndef FINREG_PURGER_H
#define FINREG_PURGER_H

#include <stdbool.h>

/** Starts the thread, waking every @a interval_s seconds; false when it could not start. */
bool purger_start(unsigned interval_s);

/** Stops the thread and waits for it (no-op when not started). */
void purger_stop(void);

#endif
