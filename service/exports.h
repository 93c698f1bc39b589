/* The cap on concurrent exports (FINREG_MAX_EXPORTS): the one counter of every export that
 * holds a database connection of its own (streamed referral exports) or a temporary file
 * (XLSX workbooks) or reads a whole list (CSV lists) while it runs, from its start until its
 * reply is sent or abandoned. It also feeds the finreg_exports_in_flight gauge. */
#ifndef FINREG_EXPORTS_H
#define FINREG_EXPORTS_H

#include <stdbool.h>

/** At most @a n exports at once (0: no cap). Call before serving. */
void exports_set_max(unsigned n);

/** Takes one export slot: false when @a n are taken already (the caller answers 503). */
bool exports_take(void);

/** Gives back a slot exports_take() gave. */
void exports_give(void);

#endif
