/* The pool's warm-up: right after the server starts, each database connection of the
 * request path is opened, prepared and made to run one loan ingest that is rolled back,
 * so that the first requests do not pay for it (docs/threading.md, "Warm-up"). */
#ifndef FINREG_WARM_UP_H
#define FINREG_WARM_UP_H

/** Starts the warm-up thread (after db_pool_start); logs when it cannot. */
void warm_up_start(void);

/** Stops the pool lending (db_pool_stop) and waits for the thread to end; before
 *  db_pool_close. Safe to call twice, or without a start. */
void warm_up_stop(void);

#endif
