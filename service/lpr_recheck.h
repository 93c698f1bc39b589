/* The LPR rechecks (docs/lpr.md): a PUT of an LPR row schedules a second reprice of its
 * loans for when no request can still be writing a loan it priced from a cache of the
 * table read before the PUT; this runs the ones that are due. Called by the compactor's
 * thread (compactor.c) after each fold, so it needs no thread or connection of its own. */
#ifndef FINREG_LPR_RECHECK_H
#define FINREG_LPR_RECHECK_H

/** Runs every recheck that is due, logging what each repriced or that it failed (then it
 *  is tried again minutes later). */
void lpr_recheck_due(void);

#endif
