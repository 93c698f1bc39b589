/* The validation rule catalog (GET /v1/rules, docs/rules.md: the one table that says where
 * each rule is judged) and the rules of domain/loan.h that need no database: the
 * cross-field checks of a loan, the derived fields, and the printable-text rule the
 * parsers share. */
#include "domain/loan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/dates.h"
#include "domain/money.h"

/* Tenor switch: terms above five years are priced against the five-year LPR. */
#define LPR_FIVE_YEAR_ABOVE_MONTHS 60

const struct rule rule_catalog[] = {
    {"L001", RULE_ERROR, RULE_DOMAIN, "loan_ref",
     "required; 1-64 characters of printable Unicode (valid UTF-8, no control characters; "
     "characters are code points)"},
    {"L002", RULE_ERROR, RULE_DOMAIN, "borrower.uscc",
     "required; 18 characters of the GB 32100-2015 alphabet (digits and upper-case letters "
     "except I, O, S, V, Z)"},
    {"L003", RULE_ERROR, RULE_DOMAIN, "borrower.uscc", "the check character must match"},
    {"L004", RULE_ERROR, RULE_DOMAIN, "borrower.name",
     "required; 1-200 characters, no control characters"},
    {"L005", RULE_ERROR, RULE_DOMAIN, "borrower.county_code",
     "required; 6-digit administrative division code"},
    {"L006", RULE_ERROR, RULE_DOMAIN, "borrower.industry_code",
     "required; 4-digit GB/T 4754-2017 class (division 01-97)"},
    {"L007", RULE_ERROR, RULE_DOMAIN, "borrower.size", "required; large | medium | small | micro"},
    {"L008", RULE_ERROR, RULE_DOMAIN, "amount",
     "required; yuan string with at most two decimals, above zero"},
    {"L009", RULE_ERROR, RULE_DOMAIN, "issue_date",
     "required; a real date YYYY-MM-DD, not after today"},
    {"L010", RULE_ERROR, RULE_DOMAIN, "maturity_date",
     "required; a real date YYYY-MM-DD, later than issue_date"},
    {"L011", RULE_ERROR, RULE_DOMAIN, "rate",
     "required; annual percent string with at most four decimals, above 0 and at most 100"},
    {"L012", RULE_ERROR, RULE_DOMAIN, "guarantee_mode",
     "required; credit | guaranteed | collateral | pledge"},
    {"L013", RULE_ERROR, RULE_DATABASE, "guarantor_code",
     "optional, 1-64 printable characters; only with guarantee_mode \"guaranteed\"; must "
     "name an active registered guarantor"},
    {"L014", RULE_ERROR, RULE_DOMAIN, "first_loan", "required boolean"},
    {"L015", RULE_ERROR, RULE_DOMAIN, "renewal",
     "required boolean; true needs renews_loan_ref, false must not have one"},
    {"L016", RULE_ERROR, RULE_DATABASE, "renews_loan_ref",
     "optional, 1-64 printable characters; must name an active loan of the same bank and "
     "borrower issued before this loan"},
    {"L017", RULE_ERROR, RULE_DOMAIN, "relief_fund",
     "required boolean; a relief-fund loan is at most the fund's cap (policy, "
     "10,000,000.00 yuan)"},
    {"L018", RULE_ERROR, RULE_DOMAIN, "relief_fund",
     "a relief-fund loan's term is at most the policy's months (12): `maturity_date` no later "
     "than `issue_date` plus 12 months, the bound medium/long-term's \"over one year\" uses, "
     "so no loan is both"},
    {"L019", RULE_ERROR, RULE_DATABASE, "relief_fund", "one funded relief-fund loan per firm"},
    {"L020", RULE_ERROR, RULE_DOMAIN, "credit_line",
     "optional yuan string; not below amount (defaults to amount)"},
    {"L021", RULE_ERROR, RULE_DATABASE, "scf_program_id",
     "optional positive integer; a program the posting bank runs whose core or current "
     "member is the borrower"},
    {"L030", RULE_ERROR, RULE_DOMAIN, "repayment_ref",
     "required; 1-64 printable characters (repayment)"},
    {"L031", RULE_ERROR, RULE_DATABASE, "date",
     "required; a real date, not before the loan's issue date and not after today "
     "(repayment)"},
    {"L032", RULE_ERROR, RULE_DATABASE, "amount",
     "required; yuan string above zero, not above what is outstanding (repayment)"},
    {"L033", RULE_ERROR, RULE_DATABASE, "repayment_ref",
     "a loan holds at most 10,000 repayments (409 `conflict` for the next one; a retry of a "
     "recorded repayment still answers 200): its history answers every one"},
    {"L040", RULE_ERROR, RULE_DOMAIN, "reason", "required; 1-500 characters (void)"},
    {"L050", RULE_ERROR, RULE_DATABASE, "amount",
     "on no day may the guarantees outstanding on one loan add up to more than its amount "
     "(posting a guarantee; lowering a loan's amount)"},
    {"L051", RULE_ERROR, RULE_DATABASE, "guarantee_mode",
     "a correction keeps a loan that guarantors have posted guarantees on guaranteed, naming "
     "none of them or the one that posted, and made to the same borrower (a credit loan has "
     "no guarantee)"},
    {"L052", RULE_ERROR, RULE_DATABASE, "issue_date",
     "a correction of a loan that another loan renews keeps it made to the renewal's "
     "borrower and issued before the renewal (422 on `issue_date` or `borrower.uscc`): L016 "
     "seen from the renewed loan, a rule of its own because the fault is in those fields, "
     "not in a `renews_loan_ref`. With both, issue dates rise along every chain of renewals, "
     "so no loans renew each other"},
    {"L053", RULE_ERROR, RULE_DATABASE, "loan_ref",
     "corrections take a loan to at most version 1,000 (409 `conflict` for a correction that "
     "would change a loan at version 1,000; the same content still answers 200, and voiding "
     "is never refused): its history answers every version"},
    {"W001", RULE_WARNING, RULE_DATABASE, "first_loan",
     "the bank's first_loan flag disagrees with registry_first_loan (no earlier non-void "
     "loan to the same USCC from any bank)"},
};

const size_t rule_catalog_len = sizeof(rule_catalog) / sizeof(rule_catalog[0]);

static const char rules_md_intro[] =
    "# Validation rules\n"
    "\n"
    "Every validation rule of finreg has a stable id, carried as `\"rule\"` in the error "
    "that reports it and listed by `GET /v1/rules` with the same text as this page. "
    "Errors (`L...`) block a record; warnings (`W...`) are stored with the record and "
    "returned in its `\"warnings\"`.\n"
    "\n"
    "Each rule is judged in one place, named in the column *where*:\n"
    "\n"
    "- `domain`: in C, before the database is asked anything: the field's format by the "
    "parser (`service/json/loan_json.c`, with the predicates of `service/domain/`), the "
    "cross-field rules by `loan_check()` in `service/domain/loan_rules.c`.\n"
    "- `database`: in SQL (`sql/loans.sql`, `sql/guarantees.sql`), in the same "
    "transaction that stores the record, because the rule needs stored rows (a registered "
    "guarantor, the loan a renewal replaces, earlier relief-fund loans, supply-chain "
    "programs, what is outstanding) or the registry's own day. The parser only reads the "
    "field's format (a string of 1-64 characters, a real date, a positive amount) first.\n"
    "\n"
    "This page is generated from the catalog in `service/domain/loan_rules.c` "
    "(`rule_catalog_markdown()`), and a unit test fails when the two differ.\n"
    "\n"
    "| id | severity | where | field | description |\n"
    "|---|---|---|---|---|\n";

const struct rule *rule_find(const char *id)
{
	if (id == NULL)
		return NULL;
	for (size_t i = 0; i < rule_catalog_len; i++) {
		if (strcmp(rule_catalog[i].id, id) == 0)
			return &rule_catalog[i];
	}
	return NULL;
}

const char *rule_severity_name(enum rule_severity severity)
{
	switch (severity) {
	case RULE_ERROR:
		return "error";
	case RULE_WARNING:
		return "warning";
	}
	return "unknown";
}

const char *rule_where_name(enum rule_where where)
{
	if (where == RULE_DOMAIN)
		return "domain";
	return where == RULE_DATABASE ? "database" : "unknown";
}

/* Writes s to f with '|' escaped, so that it stays inside one Markdown table cell. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

char *rule_catalog_markdown(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort();
	fputs(rules_md_intro, f);
	for (size_t i = 0; i < rule_catalog_len; i++) {
		const struct rule *r = &rule_catalog[i];

		fprintf(f, "| %s | %s | %s | `%s` | ", r->id, rule_severity_name(r->severity),
			rule_where_name(r->where), r->field);
		md_cell(f, r->description);
		fputs(" |\n", f);
	}
	if (fclose(f) != 0 || text == NULL)
		abort();
	return text;
}

/* Decodes the UTF-8 sequence at s[0..n) (n >= 1) into *cp; returns its length in bytes,
 * or 0 when it is malformed, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* True for code points that print nothing or break a line: controls, separators,
 * zero-width and bidi format characters, the BOM, interlinear annotation marks and
 * noncharacters. */
static bool unprintable(unsigned long c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff ||
	       (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xfdd0 && c <= 0xfdef) ||
	       (c & 0xfffe) == 0xfffe;
}

long text_chars(const char *s, size_t len, bool allow_breaks)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;

	if (s == NULL)
		return -1;
	while (len > 0) {
		unsigned long c;
		size_t n = utf8_decode(p, len, &c);

		if (n == 0)
			return -1;
		if (unprintable(c) && !(allow_breaks && (c == '\t' || c == '\n' || c == '\r')))
			return -1;
		p += n;
		len -= n;
		count++;
	}
	return count;
}

/* Fills v with rule, the path prefix.field and "path: <formatted text>"; returns false. */
static bool violate(struct rule_violation *v, const char *rule, const char *prefix,
		    const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool violate(struct rule_violation *v, const char *rule, const char *prefix,
		    const char *field, const char *fmt, ...)
{
	char text[sizeof v->message - sizeof v->field - 2];
	va_list ap;

	v->rule = rule;
	if (prefix == NULL || prefix[0] == '\0')
		snprintf(v->field, sizeof v->field, "%s", field);
	else
		snprintf(v->field, sizeof v->field, "%s.%s", prefix, field);
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(v->message, sizeof v->message, "%s: %s", v->field, text);
	return false;
}

bool loan_check(const struct loan_input *in, const struct loan_policy *policy, const char *prefix,
		struct rule_violation *v)
{
	char day[DATE_BUF], money[MONEY_BUF];

	if (in->issue_date > policy->today) {
		date_format(policy->today, day);
		return violate(v, "L009", prefix, "issue_date", "must not be after today (%s)",
			       day);
	}
	if (in->maturity_date <= in->issue_date) {
		date_format(in->issue_date, day);
		return violate(v, "L010", prefix, "maturity_date",
			       "must be later than issue_date (%s)", day);
	}
	if (in->renewal && in->renews_loan_ref == NULL)
		return violate(v, "L015", prefix, "renewal",
			       "a renewal must name the loan it renews in renews_loan_ref");
	if (!in->renewal && in->renews_loan_ref != NULL)
		return violate(v, "L015", prefix, "renewal",
			       "is false, so renews_loan_ref must be absent or null");
	if (in->relief_fund && in->amount > policy->relief_amount_max) {
		money_format(policy->relief_amount_max, money);
		return violate(v, "L017", prefix, "relief_fund",
			       "a relief-fund loan is at most %s yuan", money);
	}
	if (in->relief_fund &&
	    term_over_months(in->issue_date, in->maturity_date, policy->relief_term_months_max)) {
		date_format(date_add_months(in->issue_date, policy->relief_term_months_max), day);
		return violate(v, "L018", prefix, "relief_fund",
			       "a relief-fund loan's term is at most %d months: maturity_date "
			       "at most %s",
			       policy->relief_term_months_max, day);
	}
	if (in->credit_line < in->amount) {
		money_format(in->amount, money);
		return violate(v, "L020", prefix, "credit_line", "must not be below amount (%s)",
			       money);
	}
	return true;
}

/* The LPR row in force on day: the last with from <= day (rows sorted by from), or NULL
 * before the first. */
static const struct lpr_row *lpr_in_force(const struct lpr_row *lpr, size_t n, int32_t day)
{
	size_t lo = 0, hi = n;

	/* Invariant: rows before lo are in force on day, rows from hi on are not. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lpr[mid].from <= day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? NULL : &lpr[lo - 1];
}

void loan_derive(const struct loan_input *in, const struct loan_policy *policy,
		 const struct lpr_row *lpr, size_t n_lpr, struct loan_derived *out)
{
	const struct lpr_row *row = lpr_in_force(lpr, n_lpr, in->issue_date);

	memset(out, 0, sizeof *out);
	out->term_months = term_months(in->issue_date, in->maturity_date);
	out->medium_long_term = medium_long_term(in->issue_date, in->maturity_date);
	out->manufacturing = industry_is_manufacturing(in->borrower.industry_code);
	out->inclusive_small_micro = firm_size_small_or_micro(in->borrower.size) &&
				     in->credit_line <= policy->inclusive_credit_line_max;
	out->lpr_five_year =
	    term_over_months(in->issue_date, in->maturity_date, LPR_FIVE_YEAR_ABOVE_MONTHS);
	if (row != NULL) {
		out->has_lpr = true;
		out->lpr = out->lpr_five_year ? row->five_year : row->one_year;
		out->spread_bp = spread_bp(in->rate, out->lpr);
	}
}
