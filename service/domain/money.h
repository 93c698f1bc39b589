/* Money, interest rates and exact ratios as integers: yuan amounts in fen
 * (int64_t), rates in 1/10000 of a percent; parsing, printing, overflow-checked
 * sums, rounding. */
#ifndef FINREG_DOMAIN_MONEY_H
#define FINREG_DOMAIN_MONEY_H

#include <stdbool.h>
#include <stdint.h>

/* Largest amount money_parse() accepts, in fen: 9999999999999.99 yuan. */
#define MONEY_MAX_FEN INT64_C(999999999999999)
/* Buffer size for money_format(); enough for any int64_t. */
#define MONEY_BUF 32
/* A rate of 100.0000 percent in rate units (1/10000 of a percent). */
#define RATE_MAX_R4 1000000
/* Buffer size for rate_format(). */
#define RATE_BUF 16

/* Parses a yuan amount: one to 13 digits, then optionally '.' and one or two
 * digits ("5000000.00", "0.5", "12"). No sign, spaces, exponent, empty parts
 * (".5", "5.") or anything after. On success stores fen (at most
 * MONEY_MAX_FEN) and returns true; otherwise returns false and leaves *fen
 * alone. s may be NULL (false). */
__attribute__((warn_unused_result)) bool money_parse(const char *s, int64_t *fen);

/* Writes fen as yuan with exactly two decimals and a leading '-' when
 * negative: "5000000.00", "0.05", "-1.20". Any int64_t fits in out. */
void money_format(int64_t fen, char out[MONEY_BUF]);

/* *out = a + b; false (and *out untouched) when the sum overflows int64_t. */
__attribute__((warn_unused_result)) bool fen_add(int64_t a, int64_t b, int64_t *out);

/* acc[k] += v[k] for k < n; false (and acc untouched) when any of the sums overflows. */
__attribute__((warn_unused_result)) bool fen_add_all(int64_t *acc, const int64_t *v, int n);

/* *out = a - b; false (and *out untouched) when the result overflows. */
__attribute__((warn_unused_result)) bool fen_sub(int64_t a, int64_t b, int64_t *out);

/* Parses an annual rate in percent: one to three digits, then optionally '.'
 * and one to four digits, value 0 to 100.0000 inclusive; "4.35" and "4.3500"
 * both give 43500. Same strictness as money_parse(). On failure returns
 * false and leaves *r4 alone. */
__attribute__((warn_unused_result)) bool rate_parse(const char *s, int32_t *r4);

/* Writes r4 (1/10000 of a percent) with exactly four decimals and '-' when
 * negative: "4.3500", "-0.5000". Also fits any value in units of 1/10000,
 * such as share_e4(). Values beyond +-999999999.9999 are clamped to it so
 * the text always fits in RATE_BUF. */
void rate_format(int64_t r4, char out[RATE_BUF]);

/* num / den rounded to the nearest integer, halves away from zero
 * (5/2 = 3, -5/2 = -3). den must be > 0; returns 0 when it is not. */
int64_t div_round_half_away(int64_t num, int64_t den);

/* (rate4 - lpr4) in basis points (1 bp = 100 rate units), rounded half away
 * from zero: 4.3550 over 3.8500 gives 51 bp. */
int32_t spread_bp(int32_t rate4, int32_t lpr4);

/* part / whole in units of 1/10000 (0.3125 -> 3125), rounded half away from
 * zero; 0 when whole is 0. Computed in 128 bits, so never overflows in the
 * middle; a quotient beyond int64_t is clamped to INT64_MIN / INT64_MAX. */
int64_t share_e4(int64_t part, int64_t whole);

/* Weighted average rate sum(rate4 * fen) / sum(fen), rounded half away from
 * zero; 0 when sum_fen is 0. Clamped like share_e4(). */
int64_t weighted_avg_rate4(__int128 sum_rate_x_fen, int64_t sum_fen);

#endif
