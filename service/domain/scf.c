/* Implementation of domain/scf.h. */
#include "domain/scf.h"

#include <string.h>

int64_t scf_reward(int64_t financing, int64_t members_financed, const struct scf_reward_rule *rule)
{
	__int128 num, q;

	if (financing <= 0 || rule->rate_bp <= 0 || rule->cap <= 0 ||
	    members_financed < rule->min_members)
		return 0;
	num = (__int128)financing * rule->rate_bp;
	q = num / 10000;
	if ((num % 10000) * 2 >= 10000)
		q++;
	return q > rule->cap ? rule->cap : (int64_t)q;
}

static bool one_of(const char *s, const char *const *names)
{
	for (; s != NULL && *names != NULL; names++)
		if (strcmp(s, *names) == 0)
			return true;
	return false;
}

bool scf_product_valid(const char *s)
{
	static const char *const products[] = {"receivables", "orders", "prepayment", "inventory",
					       NULL};

	return one_of(s, products);
}

bool scf_side_valid(const char *s)
{
	static const char *const sides[] = {"upstream", "downstream", NULL};

	return one_of(s, sides);
}
