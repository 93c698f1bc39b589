/* Who is calling: the principal a certificate or token maps to. Shared by http/ (which
 * fills it) and handlers/ and db/ (which read it). */
#ifndef FINREG_PRINCIPAL_H
#define FINREG_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>

enum principal_kind {
	PK_BANK = 1,
	PK_GUARANTOR = 2,
	PK_REGULATOR = 4,
};
#define PK_ANY (PK_BANK | PK_GUARANTOR | PK_REGULATOR)

#define PRINCIPAL_CODE_MAX 32
#define PRINCIPAL_NAME_MAX 511

struct principal {
	int64_t id;
	enum principal_kind kind;
	char code[PRINCIPAL_CODE_MAX + 1];
	char name[PRINCIPAL_NAME_MAX + 1];
};

/** "bank", "guarantor" or "regulator"; static storage. */
const char *principal_kind_name(enum principal_kind k);
/** Parses a kind name; false when unknown. */
bool principal_kind_parse(const char *s, enum principal_kind *k);
/** True when @a code is 1-32 of [A-Za-z0-9._-], starting with a letter or digit. */
bool principal_code_valid(const char *code);

#endif
