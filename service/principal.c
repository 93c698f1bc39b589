/* Names and validity of principal kinds and codes. */
#include "principal.h"

#include <string.h>

const char *principal_kind_name(enum principal_kind k)
{
	switch (k) {
	case PK_BANK:
		return "bank";
	case PK_GUARANTOR:
		return "guarantor";
	case PK_REGULATOR:
		return "regulator";
	}
	return "unknown";
}

bool principal_kind_parse(const char *s, enum principal_kind *k)
{
	static const enum principal_kind all[] = {PK_BANK, PK_GUARANTOR, PK_REGULATOR};

	for (unsigned i = 0; i < 3; i++) {
		if (strcmp(s, principal_kind_name(all[i])) == 0) {
			*k = all[i];
			return true;
		}
	}
	return false;
}

static bool code_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool principal_code_valid(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n > PRINCIPAL_CODE_MAX || !code_char(code[0]) || code[0] == '.' ||
	    code[0] == '_' || code[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!code_char(code[i]))
			return false;
	return true;
}
