/* Implementation of domain/supervision.h. */
#include "domain/supervision.h"

#include <stdlib.h>
#include <string.h>

#include "domain/dates.h"

int32_t scorecard_default_as_of(int year, int32_t today)
{
	int32_t last = date_from_ymd(year, 12, 31);

	return today < last ? today : last;
}

int32_t same_day_year_before(int32_t day)
{
	return date_add_months(day, -12);
}

bool score_parse_e2(const char *s, int64_t *out)
{
	int64_t v = 0;
	int digits = 0;

	for (; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
		v = v * 10 + (*s - '0');
	if (digits == 0 || s[0] != '.' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    s[3] != '\0')
		return false;
	v = v * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (v > 10000)
		return false;
	*out = v;
	return true;
}

static int rank_cmp(const void *a, const void *b)
{
	const struct scorecard_rank *x = a, *y = b;

	if (x->score_e2 != y->score_e2)
		return x->score_e2 > y->score_e2 ? -1 : 1;
	return strcmp(x->bank_code, y->bank_code);
}

void scorecard_rank_rows(struct scorecard_rank *rows, size_t n)
{
	if (n == 0)
		return;
	qsort(rows, n, sizeof *rows, rank_cmp);
	for (size_t i = 0; i < n; i++)
		rows[i].rank = i > 0 && rows[i].score_e2 == rows[i - 1].score_e2 ? rows[i - 1].rank
										 : (int)i + 1;
}

bool watch_window_start(int32_t as_of, long window_days, int32_t *start)
{
	if (window_days < 1 || window_days > WATCH_WINDOW_MAX)
		return false;
	*start = as_of - (int32_t)window_days;
	return true;
}
