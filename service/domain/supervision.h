/* Pure rules of supervision (docs/domain.md "Bank scorecard", "Loan withdrawal watch"):
 * the scorecard's default dates, scores in hundredths, ranks with ties, and the watch's
 * window. No I/O; the exact points themselves are computed in SQL numeric. */
#ifndef FINREG_DOMAIN_SUPERVISION_H
#define FINREG_DOMAIN_SUPERVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest withdrawal-watch window, in days (ten years). */
#define WATCH_WINDOW_MAX 3660

/** The scorecard's default as_of: 31 December of @a year or @a today, whichever is
 *  earlier. */
int32_t scorecard_default_as_of(int year, int32_t today);

/** The same day a year before @a day (29 February gives 28 February). */
int32_t same_day_year_before(int32_t day);

/** Parses a score "85.50" (0.00 to 100.00, exactly two decimals) into hundredths. */
bool score_parse_e2(const char *s, int64_t *out);

/** One bank's row to rank. */
struct scorecard_rank {
	char bank_code[40];
	int64_t score_e2;
	int rank;
	size_t index; /* the caller's, carried along */
};

/** Sorts @a rows by score, highest first, equal scores by bank code, and sets their
 *  ranks: equal scores share a rank and the next rank skips (1, 1, 3). */
void scorecard_rank_rows(struct scorecard_rank *rows, size_t n);

/** The start S of the watch window (S, @a as_of] of @a window_days days: S = as_of -
 *  window_days. False when window_days is not 1 to WATCH_WINDOW_MAX. */
bool watch_window_start(int32_t as_of, long window_days, int32_t *start);

#endif
