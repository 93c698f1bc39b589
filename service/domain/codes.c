/* County, industry, firm-size and guarantee-mode codes: format checks, the
 * Sanming county list from domain.md, and enum <-> API name tables. */
#include "domain/codes.h"

#include <stddef.h>
#include <string.h>

#define COUNTY_CODE_LEN     6
#define INDUSTRY_CODE_LEN   4
#define DIVISION_MIN        1
#define DIVISION_MAX        97
#define MANUFACTURING_FIRST 13
#define MANUFACTURING_LAST  43

static const char *const firm_size_names[] = {
    [SIZE_LARGE] = "large",
    [SIZE_MEDIUM] = "medium",
    [SIZE_SMALL] = "small",
    [SIZE_MICRO] = "micro",
};

static const char *const guarantee_mode_names[] = {
    [GM_CREDIT] = "credit",
    [GM_GUARANTEED] = "guaranteed",
    [GM_COLLATERAL] = "collateral",
    [GM_PLEDGE] = "pledge",
};

#define N_FIRM_SIZES      (sizeof(firm_size_names) / sizeof(firm_size_names[0]))
#define N_GUARANTEE_MODES (sizeof(guarantee_mode_names) / sizeof(guarantee_mode_names[0]))

/* True when s is exactly n ASCII digits. */
static bool all_digits(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return s[n] == '\0';
}

bool county_code_valid(const char *s)
{
	return all_digits(s, COUNTY_CODE_LEN) && s[0] != '0';
}

bool county_is_sanming(const char *s)
{
	static const char *const sanming[] = {
	    "350402", "350403", "350404", "350405", "350421", "350423", "350424",
	    "350425", "350426", "350427", "350428", "350429", "350430", "350481",
	};

	if (!county_code_valid(s))
		return false;
	for (size_t i = 0; i < sizeof(sanming) / sizeof(sanming[0]); i++) {
		if (strcmp(s, sanming[i]) == 0)
			return true;
	}
	return false;
}

const char *county_group(const char *s)
{
	return county_is_sanming(s) ? s : COUNTY_GROUP_OTHER;
}

bool industry_code_valid(const char *s)
{
	return industry_division(s) > 0;
}

int industry_division(const char *s)
{
	int division;

	if (!all_digits(s, INDUSTRY_CODE_LEN))
		return -1;
	division = (s[0] - '0') * 10 + (s[1] - '0');
	if (division < DIVISION_MIN || division > DIVISION_MAX)
		return -1;
	return division;
}

bool industry_is_manufacturing(const char *s)
{
	int division = industry_division(s);

	return division >= MANUFACTURING_FIRST && division <= MANUFACTURING_LAST;
}

/* Index of s in names[0..n), or -1. */
static int name_index(const char *s, const char *const *names, size_t n)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

bool firm_size_parse(const char *s, enum firm_size *out)
{
	int i = name_index(s, firm_size_names, N_FIRM_SIZES);

	if (i < 0)
		return false;
	*out = (enum firm_size)i;
	return true;
}

const char *firm_size_name(enum firm_size size)
{
	if ((unsigned)size >= N_FIRM_SIZES)
		return "unknown";
	return firm_size_names[size];
}

bool firm_size_small_or_micro(enum firm_size size)
{
	return size == SIZE_SMALL || size == SIZE_MICRO;
}

bool guarantee_mode_parse(const char *s, enum guarantee_mode *out)
{
	int i = name_index(s, guarantee_mode_names, N_GUARANTEE_MODES);

	if (i < 0)
		return false;
	*out = (enum guarantee_mode)i;
	return true;
}

const char *guarantee_mode_name(enum guarantee_mode mode)
{
	if ((unsigned)mode >= N_GUARANTEE_MODES)
		return "unknown";
	return guarantee_mode_names[mode];
}
