/* USCC validation per GB 32100-2015: 18 characters from a 31-symbol alphabet,
 * the last one a check character computed with weights 3^(i-1) mod 31 over the
 * first 17. */
#include "domain/uscc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define USCC_ALPHABET "0123456789ABCDEFGHJKLMNPQRTUWXY"
#define USCC_BODY_LEN 17
/* The problem of a wrong check character (rule L003, uscc_rule). */
#define CHECK_MESSAGE "check character does not match"

/* Index of c in the USCC alphabet, or -1 when c is not in it (or is '\0'). */
static int uscc_value(char c)
{
	const char *alphabet = USCC_ALPHABET;
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p ? (int)(p - alphabet) : -1;
}

char uscc_check_char(const char *s)
{
	static const int weights[USCC_BODY_LEN] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
						   29, 25, 13, 8,  24, 10, 30, 28};
	int sum = 0;
	int check;

	if (s == NULL)
		return '\0';
	for (int i = 0; i < USCC_BODY_LEN; i++) {
		int v = uscc_value(s[i]);

		if (v < 0)
			return '\0';
		sum += v * weights[i];
	}
	check = 31 - sum % 31;
	if (check == 31)
		check = 0;
	return USCC_ALPHABET[check];
}

/* Writes the message for a disallowed character c at 1-based position pos. */
static const char *bad_char_message(char c, int pos, char buf[USCC_PROBLEM_BUF])
{
	unsigned char u = (unsigned char)c;
	const char *hint = "";

	if (islower(u) && uscc_value((char)toupper(u)) >= 0)
		hint = " (use upper case)";
	if (u >= 0x20 && u < 0x7f)
		snprintf(buf, USCC_PROBLEM_BUF, "character '%c' at position %d is not allowed%s", c,
			 pos, hint);
	else
		snprintf(buf, USCC_PROBLEM_BUF, "byte 0x%02X at position %d is not allowed",
			 (unsigned)u, pos);
	return buf;
}

const char *uscc_problem_r(const char *s, char buf[USCC_PROBLEM_BUF])
{
	if (s == NULL)
		return "is missing";
	if (strlen(s) != USCC_LEN)
		return "must be 18 characters";
	for (int i = 0; i < USCC_LEN; i++) {
		if (uscc_value(s[i]) < 0)
			return bad_char_message(s[i], i + 1, buf);
	}
	if (uscc_check_char(s) != s[USCC_BODY_LEN])
		return CHECK_MESSAGE;
	return NULL;
}

const char *uscc_rule(const char *problem)
{
	if (problem == NULL)
		return NULL;
	return strcmp(problem, CHECK_MESSAGE) == 0 ? "L003" : "L002";
}

const char *uscc_problem(const char *s)
{
	static _Thread_local char buf[USCC_PROBLEM_BUF];

	return uscc_problem_r(s, buf);
}
