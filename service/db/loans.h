/* Loan storage: ingest of validated items (single posts and batches go through the same
 * database function), corrections, voids, repayments, reads, and the reference data
 * (policy parameters and LPR table) that validation needs. JSON travels as text. */
#ifndef FINREG_DB_LOANS_H
#define FINREG_DB_LOANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "db/db.h"
#include "db/loan_item.h"
#include "domain/loan.h"

/** What the database said about one loan operation or batch item. Strings are owned by
 *  the outcome; loan_outcome_clear() frees them. */
struct loan_outcome {
	int idx;
	char status[16]; /* created | unchanged | rejected | updated | voided */
	char code[24];   /* error code when rejected ("conflict", "invalid_field", "not_found") */
	char rule[8];    /* rule id or "" */
	char field[32];  /* field name (no prefix) or "" */
	char *message;   /* NULL when none */
	char *loan;      /* the stored loan as JSON text, when asked for and available */
	char *repayment; /* the repayment as JSON text (repayments only) */
	/* A loan a single post created (ingest returning loans, status created): loan is NULL
	 * and these are what the database stored that finregd cannot know; the answer is
	 * rendered from the item (json/loan_answer.h). */
	char created_at[40];      /* = updated_at, as ts_text writes it */
	bool registry_first_loan; /* no earlier loan of the registry to the borrower */
	char *warnings;           /* the loan's warnings, jsonb text ("[]" when none) */
};

void loan_outcome_clear(struct loan_outcome *o);

/** All outcomes of one ingest, in input order. */
struct loan_outcomes {
	struct loan_outcome *items;
	size_t n;
};

void loan_outcomes_free(struct loan_outcomes *r);

/** One ingest call: @a columns are the items, one array literal per field of
 *  db/loan_item.def (loan_columns_finish). */
struct ingest_call {
	const char *bank;
	const char *const *columns;
	bool atomic;
	bool dry_run;
	bool return_loans;
	/* dry_run was set by the server (an atomic batch already rejected before the
	 * database), not asked for: a keyed answer is remembered all the same. */
	bool forced_dry_run;
};

/** Runs the ingest; fills @a out (cleared first). */
enum db_rc db_loan_ingest(const struct ingest_call *call, struct loan_outcomes *out);

/** Runs the ingest like db_loan_ingest and rolls it back: nothing stays stored (the
 *  loan id drawn is skipped). DB_OK with @a out filled as if stored. For the warm-up. */
enum db_rc db_loan_ingest_rehearse(const struct ingest_call *call, struct loan_outcomes *out);

/**
 * Ingests one single-post item of bank
 * @a bank, returning the stored loan: stored together with the single posts made at the
 * same time (group commit, see db/loan_group.c). Fills @a out (owned by the caller).
 */
enum db_rc db_loan_ingest_one(const char *bank, const char *loan_ref, const struct loan_item *item,
			      struct loan_outcome *out);

/** Builds the answer to remember for an Idempotency-Key: *status and a malloc'd *body
 *  (NULL when memory runs out: the ingest then rolls back with DB_NO_MEMORY).
 *  It runs inside the transaction that stores the answer, again each time that is retried,
 *  so it must be pure: no reply, no metrics, nothing the caller cannot redo. The db layer
 *  never replies itself; the caller answers with what db_loan_ingest_keyed() returns. */
typedef void (*ingest_answer_fn)(void *cls, const struct loan_outcomes *outcomes, unsigned *status,
				 char **body);

/**
 * The ingest under an Idempotency-Key, in one transaction holding a lock on (bank, key).
 * When a first answer exists: *replayed is true and *status / *body (malloc'd) are it —
 * or DB_CONFLICT when it was given for a different request (@a request_sha256 differs).
 * Otherwise runs the ingest, asks @a answer for the answer, stores it (except on a dry
 * run the client asked for) and returns it the same way with *replayed false.
 */
enum db_rc db_loan_ingest_keyed(const struct ingest_call *call, const char *key,
				const char *request_sha256, ingest_answer_fn answer, void *cls,
				bool *replayed, unsigned *status, char **body);

/** Sets how long stored Idempotency-Key answers are kept (seconds; default 86400): an older
 *  one is answered as if it never was, and db_idempotency_purge() deletes it. */
void db_idempotency_keep(unsigned seconds);

/** Deletes up to 10,000 stored answers older than the keep time; *deleted says how many.
 *  Only one instance at a time does it (the others find the lock taken and delete
 *  nothing), and none on a standby. */
enum db_rc db_idempotency_purge(long long *deleted);

/** Correction of loan @a ref at @a version with one loan_item (JSON text, loan_item_json). */
enum db_rc db_loan_correct(const char *bank, const char *ref, int version, const char *item,
			   struct loan_outcome *out);

enum db_rc db_loan_void(const char *bank, const char *ref, const char *reason,
			struct loan_outcome *out);

enum db_rc db_loan_repay(const char *bank, const char *ref, const char *repayment_ref,
			 const char *date, int64_t amount_fen, struct loan_outcome *out);

/** The loan as JSON text (malloc'd) in *json; DB_NOT_FOUND when bank has no such loan. */
enum db_rc db_loan_get(const char *bank, const char *ref, char **json);

/** The loan's history as JSON text (malloc'd); DB_NOT_FOUND when absent. */
enum db_rc db_loan_history(const char *bank, const char *ref, char **json);

/** Filters of the loan list; NULL members are not applied. */
struct loan_filter {
	const char *bank;
	const char *borrower;
	const char *issued_from;
	const char *issued_to;
	const char *status;
	int64_t after_id;
	int limit;
};

enum db_rc db_loan_list(const struct loan_filter *f, json_row_fn fn, void *cls);

/** Filters of the warning list. */
struct warning_filter {
	const char *bank;
	const char *rule;
	const char *from;
	const char *to;
	int64_t after_id;
	int limit;
};

enum db_rc db_warning_list(const struct warning_filter *f, json_row_fn fn, void *cls);

/** Policy parameters and the LPR table, read through a per-process cache that is at most
 *  REFDATA_TTL_SECONDS old (db_refdata_invalidate() drops it at once). */
#define REFDATA_TTL_SECONDS 5
#define REFDATA_MAX_LPR     512

struct refdata {
	struct loan_policy policy;
	struct lpr_row lpr[REFDATA_MAX_LPR];
	size_t n_lpr;
};

enum db_rc db_refdata(struct refdata *out);
void db_refdata_invalidate(void);

#endif
