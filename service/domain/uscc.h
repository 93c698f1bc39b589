/* Unified social credit code (统一社会信用代码, GB 32100-2015), the firm's
 * identity: alphabet, length and check-character validation. Pure: no I/O, no
 * allocation. */
#ifndef FINREG_DOMAIN_USCC_H
#define FINREG_DOMAIN_USCC_H

/* Length of a USCC in characters (bytes). */
#define USCC_LEN 18
/* Size of the buffer uscc_problem_r() may compose a message in. */
#define USCC_PROBLEM_BUF 96

/* NULL when s is a valid USCC, else a message naming the first problem found:
 * "is missing" (s is NULL), "must be 18 characters",
 * "character 'I' at position 5 is not allowed" (positions count from 1; lower
 * case is rejected, not folded) or "check character does not match".
 * The message belongs to this module: a string literal or a thread-local
 * buffer that the next call on the same thread overwrites. Copy it to keep
 * it; never free it. */
const char *uscc_problem(const char *s);

/* Like uscc_problem(), but a composed message is written to the caller's buf,
 * and the result is either a string literal or buf. */
const char *uscc_problem_r(const char *s, char buf[USCC_PROBLEM_BUF]);

/* The rule a problem of uscc_problem() or uscc_problem_r() breaks: "L003" for the check
 * character, "L002" for the rest (missing, length, alphabet); NULL for no problem. The
 * one place that maps the messages to rules (docs/rules.md). */
const char *uscc_rule(const char *problem);

/* The check character due for the first 17 characters of s, or '\0' when s
 * is NULL, shorter than 17 characters or has one outside the alphabet among
 * them. Characters after the 17th are not looked at. */
char uscc_check_char(const char *s);

#endif
