/* A loan record as the registry understands it: the bank's input (already parsed from
 * JSON or CSV into exact values), the policy parameters and LPR table it is judged by,
 * the fields derived from it, and the rule catalog every validation error names.
 * Pure: no I/O. Each rule is judged in one place, which the catalog names (`where`):
 * here and in the parser (json/loan_json.c), or in SQL (sql/loans.sql, sql/guarantees.sql)
 * when it needs stored rows. */
#ifndef FINREG_LOAN_H
#define FINREG_LOAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/codes.h"

#define LOAN_REF_MAX_CHARS  64
#define FIRM_NAME_MAX_CHARS 200

/** Severity of a catalog rule: errors block a record, warnings are stored with it. */
enum rule_severity { RULE_ERROR, RULE_WARNING };

/** Where a rule is judged: in C before the database (the parser json/loan_json.c reads
 *  each field's format, loan_check() the cross-field rules), or in SQL in the transaction
 *  that stores the record, because it needs stored rows (the parser still reads the
 *  field's format first). Never both. */
enum rule_where { RULE_DOMAIN, RULE_DATABASE };

/** One row of the rule catalog (GET /v1/rules, docs/rules.md). */
struct rule {
	const char *id; /* "L003" */
	enum rule_severity severity;
	enum rule_where where;
	const char *field; /* "borrower.uscc" */
	const char *description;
};

/** The catalog, in id order, and its length. */
extern const struct rule rule_catalog[];
extern const size_t rule_catalog_len;

/** The catalog row with @a id, or NULL. The row is static; never freed. */
const struct rule *rule_find(const char *id);

/** "error" or "warning" (a string literal; "unknown" outside the enum). */
const char *rule_severity_name(enum rule_severity severity);

/** "domain" or "database" (a string literal; "unknown" outside the enum). */
const char *rule_where_name(enum rule_where where);

/**
 * The catalog as the Markdown page docs/rules.md (an intro paragraph and a table
 * id | severity | field | description). malloc'd; the caller frees it. Never NULL
 * (aborts when out of memory).
 */
char *rule_catalog_markdown(void);

/**
 * The number of characters (code points) in the @a len bytes at @a s when they are
 * valid UTF-8 and printable: no NUL or other C0 control, DEL, C1 control, line or
 * paragraph separator, invisible format character (zero-width, bidi controls, BOM) or
 * noncharacter. With @a allow_breaks, tab, LF and CR are allowed. -1 otherwise.
 */
long text_chars(const char *s, size_t len, bool allow_breaks);

/** The borrower object of a loan (also the {firm} of referrals and programs). Strings
 *  are borrowed from the parsed input and live as long as it does. */
struct firm {
	const char *uscc;
	const char *name;
	const char *county_code;
	const char *industry_code;
	enum firm_size size;
};

/** A loan as posted, values exact (fen, 1/10000 percent, day numbers). */
struct loan_input {
	const char *loan_ref;
	struct firm borrower;
	int64_t amount;     /* fen */
	int32_t issue_date; /* days since 1970-01-01 */
	int32_t maturity_date;
	int32_t rate; /* 1/10000 percent */
	enum guarantee_mode guarantee_mode;
	const char *guarantor_code; /* NULL when absent */
	bool first_loan;
	bool renewal;
	const char *renews_loan_ref; /* NULL when absent */
	int64_t scf_program_id;      /* 0 when absent */
	bool relief_fund;
	int64_t credit_line; /* fen; equals amount when absent */
};

/** Policy parameters (the regulator's table; seeded values in domain.md). */
struct loan_policy {
	int64_t inclusive_credit_line_max; /* fen, 1,000,000,000 (10,000,000.00 yuan) */
	int64_t relief_amount_max;         /* fen, 1,000,000,000 */
	int relief_term_months_max;        /* 12 */
	int32_t today;                     /* day number of the current date */
};

/** One LPR row: effective from @a from (day number), rates in 1/10000 percent. */
struct lpr_row {
	int32_t from;
	int32_t one_year;
	int32_t five_year;
};

/** Fields the registry derives from the input alone (plus the LPR table). */
struct loan_derived {
	int term_months;
	bool medium_long_term;
	bool manufacturing;
	bool inclusive_small_micro;
	bool lpr_five_year; /* lpr_tenor "5Y" when true, "1Y" otherwise */
	bool has_lpr;       /* false before the LPR existed (2019-08-20) */
	int32_t lpr;        /* 1/10000 percent, valid when has_lpr */
	int32_t spread_bp;  /* valid when has_lpr */
};

/** A rule broken by a record: which rule, the field path and a message. */
struct rule_violation {
	const char *rule; /* catalog id */
	char field[128];  /* with the caller's prefix, e.g. "loans[3].amount" */
	char message[384];
};

/**
 * Checks the cross-field rules of @a in under @a policy, in this order: L009 issue_date
 * not after policy->today, L010 maturity after issue, L015 renewal and renews_loan_ref
 * together, L017/L018 relief-fund cap and term,
 * L020 credit line not below the amount. The single-field formats are the parser's
 * (json/loan_json.h). A violation's field is its catalog row's field. Field paths get @a prefix (""
 * or "loans[3]"). Returns false and fills @a v with the first violation.
 */
bool loan_check(const struct loan_input *in, const struct loan_policy *policy, const char *prefix,
		struct rule_violation *v);

/** Computes the derived fields of @a in; @a lpr is sorted by `from`, @a n_lpr rows. */
void loan_derive(const struct loan_input *in, const struct loan_policy *policy,
		 const struct lpr_row *lpr, size_t n_lpr, struct loan_derived *out);

/** A repayment as posted (POST /v1/loans/{loan_ref}/repayments). The string is borrowed
 *  from the parsed input. */
struct repayment_input {
	const char *repayment_ref;
	int32_t date;   /* day number */
	int64_t amount; /* fen, > 0 */
};

#endif
