/* Classification codes on a loan: county (administrative division), industry
 * (GB/T 4754-2017), firm size and guarantee mode. Pure lookups, no I/O. */
#ifndef FINREG_DOMAIN_CODES_H
#define FINREG_DOMAIN_CODES_H

#include <stdbool.h>

/* Firm size as banks report it (大中小微); individual businesses are micro. */
enum firm_size { SIZE_LARGE, SIZE_MEDIUM, SIZE_SMALL, SIZE_MICRO };

/* How a loan is secured; a loan backed by a government guarantor is
 * GM_GUARANTEED, one on the borrower's credit alone GM_CREDIT. */
enum guarantee_mode { GM_CREDIT, GM_GUARANTEED, GM_COLLATERAL, GM_PLEDGE };

/* Group name for counties outside Sanming, returned by county_group(). */
#define COUNTY_GROUP_OTHER "other"

/* True when s is exactly six ASCII digits not starting with '0'. NULL-safe. */
bool county_code_valid(const char *s);

/* True when s is one of Sanming's 14 county-level codes (350402 ... 350481,
 * including the pre- and post-2021 codes). NULL-safe. */
bool county_is_sanming(const char *s);

/* s itself (the caller's string) for a Sanming county code, else the literal
 * "other" (also for NULL and invalid codes). Never NULL, never to be freed. */
const char *county_group(const char *s);

/* True when s is exactly four ASCII digits whose first two, the division,
 * are 01..97. NULL-safe. */
bool industry_code_valid(const char *s);

/* The division (first two digits, 1..97) of a valid industry code, or -1
 * when s is not valid. */
int industry_division(const char *s);

/* True for a valid code in manufacturing (制造业): divisions 13..43. */
bool industry_is_manufacturing(const char *s);

/* Parses "large", "medium", "small" or "micro" (exact, lower case). On
 * failure returns false and leaves *out alone; s may be NULL. */
__attribute__((warn_unused_result)) bool firm_size_parse(const char *s, enum firm_size *out);

/* The API name of a size ("small"); "unknown" for a value outside the enum.
 * A string literal. */
const char *firm_size_name(enum firm_size size);

/* True for SIZE_SMALL and SIZE_MICRO, the sizes of inclusive small-micro
 * lending (普惠型小微企业贷款). */
bool firm_size_small_or_micro(enum firm_size size);

/* Parses "credit", "guaranteed", "collateral" or "pledge" (exact, lower
 * case). On failure returns false and leaves *out alone; s may be NULL. */
__attribute__((warn_unused_result)) bool guarantee_mode_parse(const char *s,
							      enum guarantee_mode *out);

/* The API name of a guarantee mode; "unknown" outside the enum. A string
 * literal. */
const char *guarantee_mode_name(enum guarantee_mode mode);

#endif
