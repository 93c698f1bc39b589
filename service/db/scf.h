/* Supply-chain programs (migration 007, functions in sql/scf.sql): programs a bank
 * creates, members joining and leaving, reads of programs with their financing figures,
 * and the figures of the core enterprises' reward. JSON travels as text. */
#ifndef FINREG_DB_SCF_H
#define FINREG_DB_SCF_H

#include <stdint.h>

#include "db/db.h"
#include "db/loans.h"
#include "domain/scf.h"

/* Writes fill a struct db_outcome (db/db.h): created, unchanged or left with the program
 * or membership as body, or rejected with code "not_found", "invalid_field" or
 * "conflict" (field a field path). */

/** A program to create; @a core is the {firm} object as JSON text, @a started_on a date. */
struct scf_program_input {
	const char *bank;
	const char *name;
	const char *core;
	const char *product;
	int64_t credit_limit; /* fen */
	const char *started_on;
};

enum db_rc db_scf_program_create(const struct scf_program_input *in, struct db_outcome *out);

/** Adds @a firm (JSON text) to program @a program of @a bank on @a side from @a joined_on
 *  (NULL: @a today). */
enum db_rc db_scf_member_add(const char *bank, int64_t program, const char *firm, const char *side,
			     const char *joined_on, const char *today, struct db_outcome *out);

/** Member @a uscc leaves program @a program of @a bank on @a left_on (NULL: @a today)
 *  for @a reason (may be NULL). */
enum db_rc db_scf_member_leave(const char *bank, int64_t program, const char *uscc,
			       const char *left_on, const char *today, const char *reason,
			       struct db_outcome *out);

/** Program @a id with members and figures as JSON text (malloc'd) in *json; @a bank NULL
 *  reads any bank's. DB_NOT_FOUND when there is no such program (of that bank). */
enum db_rc db_scf_program_get(const char *bank, int64_t id, char **json);

/** Filters of the program list; NULL members are not applied. */
struct scf_program_filter {
	const char *bank;
	const char *core;
	int64_t after_id;
	int limit;
};

enum db_rc db_scf_program_list(const struct scf_program_filter *f, json_row_fn fn, void *cls);

/** Called per core enterprise; strings valid during the call. */
typedef void (*scf_reward_row_fn)(void *cls, const char *core_uscc, const char *core_name,
				  int64_t financing, int64_t members_financed);

/** The reward rule in force (*rule) and the figures of @a year per core enterprise, read
 *  in one statement. DB_ERROR (logged) when a parameter of the rule is missing. */
enum db_rc db_scf_rewards(int year, struct scf_reward_rule *rule, scf_reward_row_fn fn, void *cls);

#endif
