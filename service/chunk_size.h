/* How many pending rows the statistics compactor folds in its next transaction: a pure
 * rule (no I/O), so that a backlog whose rows are dear to fold (loans of random past dates
 * whose balance-timeline pairs have long histories) still makes progress under the
 * statement timeout instead of failing the same chunk every run. */
#ifndef FINREG_CHUNK_SIZE_H
#define FINREG_CHUNK_SIZE_H

#include <stdbool.h>
#include <stdint.h>

#define CHUNK_SIZE_MAX 5000 /* rows a chunk: about 0.1 s on an idle 2-core machine */
#define CHUNK_SIZE_MIN 1

/** The chunk after one of @a chunk rows (clamped to [CHUNK_SIZE_MIN, CHUNK_SIZE_MAX]):
 *  halved when it was cancelled by the statement timeout (@a timed_out); doubled, up to
 *  CHUNK_SIZE_MAX, when it folded in at most a quarter of @a timeout_us (its elapsed time
 *  @a took_us; a @a timeout_us of 0, no timeout, counts as room to grow); else the same.
 *  A failure for another reason (the database away) leaves it as it was. */
long long chunk_size_next(long long chunk, bool ok, bool timed_out, uint64_t took_us,
			  uint64_t timeout_us);

#endif
