/* The statistics compactor: a background thread that folds the pending rows written by
 * loan writes into the summary tables every second, in bounded chunks until it has caught
 * up (sql/stats.sql, stats_compact()). Any number of finregd instances may run one; the
 * database lets one at a time do the work. */
#ifndef FINREG_COMPACTOR_H
#define FINREG_COMPACTOR_H

#include <stdbool.h>

/** Starts the thread; false when it could not be started. */
bool compactor_start(unsigned interval_ms);

/** Stops the thread and waits for it (no-op when not started). */
void compactor_stop(void);

#endif
