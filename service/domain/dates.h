/* Calendar dates as day numbers (int32_t days since 1970-01-01, negative before
 * it): strict "YYYY-MM-DD" parsing, month arithmetic, loan terms. Pure,
 * proleptic Gregorian. */
#ifndef FINREG_DOMAIN_DATES_H
#define FINREG_DOMAIN_DATES_H

#include <stdbool.h>
#include <stdint.h>

/* Buffer size for date_format(): "YYYY-MM-DD" and '\0'. */
#define DATE_BUF 11
/* Buffer size for date_month_key(): "YYYY-MM" and '\0'. */
#define MONTH_KEY_BUF 8
/* Years date_parse() and month_parse() accept. */
#define DATE_MIN_YEAR 1900
#define DATE_MAX_YEAR 2999

/* True when y is a Gregorian leap year. */
bool is_leap_year(int y);

/* Days in month m (1..12) of year y; 0 when m is out of range. */
int days_in_month(int y, int m);

/* Parses exactly "YYYY-MM-DD" (ASCII digits, years 1900..2999, a real
 * calendar date: 2020-02-29 yes, 2021-02-29 no). On failure returns false and
 * leaves *day alone; s may be NULL. */
__attribute__((warn_unused_result)) bool date_parse(const char *s, int32_t *day);

/* Writes day as "YYYY-MM-DD". Days before 0000-01-01 or after 9999-12-31 are
 * clamped to those so the text always fits. */
void date_format(int32_t day, char out[DATE_BUF]);

/* Day number of y-m-d (Howard Hinnant's days_from_civil). m must be 1..12;
 * d is counted linearly, so d = 0 is the last day of the month before.
 * Years within +-1,000,000 stay in range. */
int32_t date_from_ymd(int y, int m, int d);

/* Year, month (1..12) and day of month of a day number (civil_from_days). */
void date_to_ymd(int32_t day, int *y, int *m, int *d);

/* day moved by months (may be negative), the day of month clamped to the end
 * of the target month: 2020-01-31 + 1 = 2020-02-29, 2020-02-29 + 12 =
 * 2021-02-28. */
int32_t date_add_months(int32_t day, int months);

/* Whole months from issue to the day after maturity (the maturity day
 * counts): the largest m with date_add_months(issue, m) <= maturity + 1.
 * 2020-05-12 -> 2023-05-11 is 36. Negative when maturity + 1 < issue. */
int term_months(int32_t issue, int32_t maturity);

/* Whether a term is over @a months: maturity later than issue plus that many
 * months (the one reading of "over one year", "above five years", "at most 12
 * months" for every rule, so no loan is both within one bound and over it). */
bool term_over_months(int32_t issue, int32_t maturity, int months);

/* True for a medium/long-term loan (中长期): maturity later than issue plus
 * one year. 2020-05-12 -> 2021-05-12 is short; -> 2021-05-13 is not. */
bool medium_long_term(int32_t issue, int32_t maturity);

/* Writes the month key "YYYY-MM" of day (clamped like date_format()). */
void date_month_key(int32_t day, char out[MONTH_KEY_BUF]);

/* Parses exactly "YYYY-MM" (years 1900..2999, months 01..12). On failure
 * returns false and leaves *y and *m alone; s may be NULL. */
__attribute__((warn_unused_result)) bool month_parse(const char *s, int *y, int *m);

#endif
