/* Names beside codes, for people reading statistics and exports: Sanming's county-level
 * divisions (domain.md), the GB/T 4754-2017 industry divisions (两位数大类 01-97), firm
 * sizes and target metrics in Chinese. Pure tables, no I/O. */
#ifndef FINREG_NAMES_H
#define FINREG_NAMES_H

/** The name of county code @a code ("350402" -> "梅列区"); "其他地区" for the "other"
 *  group and any valid code outside Sanming; NULL for NULL. */
const char *county_name(const char *code);

/** The name of the industry division of @a code: its first two digits ("34" or "3412" ->
 *  "通用设备制造业"); NULL when they are not a GB/T 4754-2017 division. */
const char *industry_division_name(const char *code);

/** The Chinese name of a firm size ("micro" -> "微型"); NULL when unknown. */
const char *firm_size_title(const char *size);

/** The Chinese name of a target metric ("lending_increase" -> "贷款余额增量"); NULL when
 *  unknown. */
const char *metric_name(const char *metric);

#endif
