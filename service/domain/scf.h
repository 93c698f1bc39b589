/* N+1+N supply-chain finance rules (docs/domain.md, docs/scf.md): the names of products
 * and member sides, and the core enterprise's reward. Pure: no I/O. */
#ifndef FINREG_DOMAIN_SCF_H
#define FINREG_DOMAIN_SCF_H

#include <stdbool.h>
#include <stdint.h>

/** The reward rule's parameters (policy_params scf_reward_*; seeded 100, 10, 200000000). */
struct scf_reward_rule {
	int64_t rate_bp;     /* share of the financing in basis points: 100 = 1% */
	int64_t min_members; /* distinct members financed in the year needed to earn it */
	int64_t cap;         /* fen, the largest reward per core enterprise and year */
};

/**
 * The reward of a core enterprise whose programs lent @a financing fen to
 * @a members_financed distinct chain members in the year: 0 below rule->min_members,
 * else financing x rate_bp / 10000 rounded half away from zero to a fen, at most
 * rule->cap. Exact in 128 bits; 0 for negative inputs.
 */
int64_t scf_reward(int64_t financing, int64_t members_financed, const struct scf_reward_rule *rule);

/** True for "receivables", "orders", "prepayment" and "inventory". NULL-safe. */
bool scf_product_valid(const char *s);

/** True for "upstream" and "downstream". NULL-safe. */
bool scf_side_valid(const char *s);

#endif
