/* Integer money and rate arithmetic: strict decimal parsing into fen or rate
 * units, fixed-decimal printing, overflow-checked fen sums and
 * half-away-from-zero rounding. */
#include "domain/money.h"

#include <string.h>

#define MONEY_INT_DIGITS  13
#define MONEY_FRAC_DIGITS 2
#define RATE_INT_DIGITS   3
#define RATE_FRAC_DIGITS  4
#define RATE_FORMAT_MAX   INT64_C(9999999999999)

/* Reads up to max digits from *s into *value and advances *s past them.
 * Returns the number of digits read, or -1 when there were more than max. */
static int read_digits(const char **s, int max, int64_t *value)
{
	int n = 0;

	*value = 0;
	while (**s >= '0' && **s <= '9') {
		if (n == max)
			return -1;
		*value = *value * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n;
}

/* 10^e for small e >= 0. */
static int64_t pow10_i64(int e)
{
	int64_t p = 1;

	while (e-- > 0)
		p *= 10;
	return p;
}

/* Parses "D[.F]" with 1..int_max integer digits and 1..frac_max decimals into
 * an integer scaled by 10^frac_max. Rejects everything else. */
static bool parse_fixed(const char *s, int int_max, int frac_max, int64_t *out)
{
	int64_t units, frac = 0;
	int n, k = 0;

	if (s == NULL)
		return false;
	n = read_digits(&s, int_max, &units);
	if (n < 1)
		return false;
	if (*s == '.') {
		s++;
		k = read_digits(&s, frac_max, &frac);
		if (k < 1)
			return false;
	}
	if (*s != '\0')
		return false;
	*out = units * pow10_i64(frac_max) + frac * pow10_i64(frac_max - k);
	return true;
}

bool money_parse(const char *s, int64_t *fen)
{
	int64_t v;

	if (!parse_fixed(s, MONEY_INT_DIGITS, MONEY_FRAC_DIGITS, &v))
		return false;
	*fen = v;
	return true;
}

/* |v| as unsigned, correct for INT64_MIN too. */
static uint64_t magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Writes v with exactly `decimals` digits after the point (decimals < 19) and
 * a leading '-' when negative; at most 23 bytes with the '\0'. */
static void format_fixed(int64_t v, int decimals, char *out)
{
	char tmp[MONEY_BUF];
	char *end = tmp + sizeof(tmp);
	char *p = end;
	uint64_t m = magnitude(v);

	*--p = '\0';
	for (int i = 0; m > 0 || i <= decimals; i++) {
		if (i == decimals)
			*--p = '.';
		*--p = (char)('0' + m % 10);
		m /= 10;
	}
	if (v < 0)
		*--p = '-';
	memcpy(out, p, (size_t)(end - p));
}

void money_format(int64_t fen, char out[MONEY_BUF])
{
	format_fixed(fen, MONEY_FRAC_DIGITS, out);
}

bool fen_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool fen_add_all(int64_t *acc, const int64_t *v, int n)
{
	int64_t r;

	for (int k = 0; k < n; k++)
		if (__builtin_add_overflow(acc[k], v[k], &r))
			return false;
	for (int k = 0; k < n; k++)
		acc[k] += v[k];
	return true;
}

bool fen_sub(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool rate_parse(const char *s, int32_t *r4)
{
	int64_t v;

	if (!parse_fixed(s, RATE_INT_DIGITS, RATE_FRAC_DIGITS, &v))
		return false;
	if (v > RATE_MAX_R4)
		return false;
	*r4 = (int32_t)v;
	return true;
}

void rate_format(int64_t r4, char out[RATE_BUF])
{
	if (r4 > RATE_FORMAT_MAX)
		r4 = RATE_FORMAT_MAX;
	if (r4 < -RATE_FORMAT_MAX)
		r4 = -RATE_FORMAT_MAX;
	format_fixed(r4, RATE_FRAC_DIGITS, out);
}

/* num / den rounded half away from zero, clamped to int64_t. den != 0.
 * Works on magnitudes so that no negation can overflow. */
static int64_t div128_half_away(__int128 num, __int128 den)
{
	bool negative = (num < 0) != (den < 0);
	unsigned __int128 n = num < 0 ? -(unsigned __int128)num : (unsigned __int128)num;
	unsigned __int128 d = den < 0 ? -(unsigned __int128)den : (unsigned __int128)den;
	unsigned __int128 q = n / d;
	unsigned __int128 r = n % d;
	__int128 result;

	if (r >= d - r)
		q++;
	if (!negative)
		return q > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)q;
	if (q > (unsigned __int128)INT64_MAX + 1)
		return INT64_MIN;
	result = -(__int128)q;
	return (int64_t)result;
}

int64_t div_round_half_away(int64_t num, int64_t den)
{
	if (den <= 0)
		return 0;
	return div128_half_away(num, den);
}

int32_t spread_bp(int32_t rate4, int32_t lpr4)
{
	return (int32_t)div_round_half_away((int64_t)rate4 - lpr4, 100);
}

int64_t share_e4(int64_t part, int64_t whole)
{
	if (whole == 0)
		return 0;
	return div128_half_away((__int128)part * 10000, whole);
}

int64_t weighted_avg_rate4(__int128 sum_rate_x_fen, int64_t sum_fen)
{
	if (sum_fen == 0)
		return 0;
	return div128_half_away(sum_rate_x_fen, sum_fen);
}
