/* The scorecard as other handlers show it: GET /v1/stats/targets carries its ranking. */
#ifndef FINREG_HANDLERS_SUPERVISION_H
#define FINREG_HANDLERS_SUPERVISION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/**
 * The scorecard of @a year up to day @a as_of as {"year", "as_of", "bank", "weights",
 * "rows": [{"bank_code", "rank", "score"[, "indicators"]}]}, ranked among every active
 * bank; @a bank "*" keeps every row, a code only that bank's. *out is the caller's (NULL
 * unless DB_OK).
 */
enum db_rc scorecard_json(int year, int32_t as_of, const char *bank, bool indicators, json_t **out);

#endif
