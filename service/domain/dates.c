/* Day-number calendar arithmetic after Howard Hinnant's days_from_civil and
 * civil_from_days (http://howardhinnant.github.io/date_algorithms.html). */
#include "domain/dates.h"

#include <stddef.h>

#define DAYS_PER_ERA             146097
#define DAYS_0000_03_01_TO_EPOCH 719468

bool is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && is_leap_year(y))
		return 29;
	return days[m - 1];
}

int32_t date_from_ymd(int y, int m, int d)
{
	int yy = m <= 2 ? y - 1 : y;
	int era = (yy >= 0 ? yy : yy - 399) / 400;
	int yoe = yy - era * 400;
	int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int32_t)((int64_t)era * DAYS_PER_ERA + doe - DAYS_0000_03_01_TO_EPOCH);
}

void date_to_ymd(int32_t day, int *y, int *m, int *d)
{
	int64_t z = (int64_t)day + DAYS_0000_03_01_TO_EPOCH;
	int64_t era = (z >= 0 ? z : z - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
	int doe = (int)(z - era * DAYS_PER_ERA);
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

/* Value of n ASCII digits at s, or -1 if any of them is not a digit. */
static int read_fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Parses "YYYY-MM" at the start of s; the caller checks what follows. */
static bool parse_year_month(const char *s, int *y, int *m)
{
	int yy, mm;

	if (s == NULL)
		return false;
	yy = read_fixed_digits(s, 4);
	if (yy < DATE_MIN_YEAR || yy > DATE_MAX_YEAR || s[4] != '-')
		return false;
	mm = read_fixed_digits(s + 5, 2);
	if (mm < 1 || mm > 12)
		return false;
	*y = yy;
	*m = mm;
	return true;
}

bool month_parse(const char *s, int *y, int *m)
{
	int yy, mm;

	if (!parse_year_month(s, &yy, &mm) || s[7] != '\0')
		return false;
	*y = yy;
	*m = mm;
	return true;
}

bool date_parse(const char *s, int32_t *day)
{
	int y, m, d;

	if (!parse_year_month(s, &y, &m) || s[7] != '-')
		return false;
	d = read_fixed_digits(s + 8, 2);
	if (d < 1 || d > days_in_month(y, m) || s[10] != '\0')
		return false;
	*day = date_from_ymd(y, m, d);
	return true;
}

/* Writes v as exactly n decimal digits (0 <= v < 10^n). */
static void write_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* day clamped to 0000-01-01 .. 9999-12-31, split into y, m, d. */
static void clamped_ymd(int32_t day, int *y, int *m, int *d)
{
	int32_t lo = date_from_ymd(0, 1, 1);
	int32_t hi = date_from_ymd(9999, 12, 31);

	date_to_ymd(day < lo ? lo : day > hi ? hi : day, y, m, d);
}

void date_format(int32_t day, char out[DATE_BUF])
{
	int y, m, d;

	clamped_ymd(day, &y, &m, &d);
	write_digits(out, y, 4);
	out[4] = '-';
	write_digits(out + 5, m, 2);
	out[7] = '-';
	write_digits(out + 8, d, 2);
	out[10] = '\0';
}

void date_month_key(int32_t day, char out[MONTH_KEY_BUF])
{
	int y, m, d;

	clamped_ymd(day, &y, &m, &d);
	write_digits(out, y, 4);
	out[4] = '-';
	write_digits(out + 5, m, 2);
	out[7] = '\0';
}

/* Floor division for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int32_t date_add_months(int32_t day, int months)
{
	int y, m, d, dim;
	int64_t index;

	date_to_ymd(day, &y, &m, &d);
	index = (int64_t)y * 12 + (m - 1) + months;
	y = (int)floor_div(index, 12);
	m = (int)(index - (int64_t)y * 12) + 1;
	dim = days_in_month(y, m);
	return date_from_ymd(y, m, d > dim ? dim : d);
}

int term_months(int32_t issue, int32_t maturity)
{
	int64_t end = (int64_t)maturity + 1;
	int iy, im, id, ey, em, ed;
	int months;

	date_to_ymd(issue, &iy, &im, &id);
	date_to_ymd((int32_t)end, &ey, &em, &ed);
	months = (ey - iy) * 12 + (em - im);
	while (date_add_months(issue, months) > end)
		months--;
	while (date_add_months(issue, months + 1) <= end)
		months++;
	return months;
}

bool term_over_months(int32_t issue, int32_t maturity, int months)
{
	return maturity > date_add_months(issue, months);
}

bool medium_long_term(int32_t issue, int32_t maturity)
{
	return term_over_months(issue, maturity, 12);
}
