/* POST /v1/loans/batch: up to 1000 loans as JSON ({"loans": [...]}) or CSV (a header row
 * of field names), through the same rules as single posts, stored in one transaction by
 * one set-based database call. Partial by default; ?atomic=true stores all or nothing;
 * ?dry_run=true stores nothing; an Idempotency-Key makes a retry answer the first answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "db/loans.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "handlers/loan_items.h"
#include "handlers/outcome.h"
#include "http/reply.h"
#include "json/csv.h"
#include "metrics.h"

#define IDEMPOTENCY_KEY_MAX 128

struct batch {
	size_t n;
	struct loan_prep *preps; /* one per input */
	bool atomic, dry_run;
	const json_t *loans;    /* the input array (borrowed from the request) */
	const char *request_id; /* carried by the error of a rejected atomic batch */
	json_t *csv_rows;       /* owned when the body was CSV */
	/* What the answer counts, for the metrics once it is committed: build_answer runs
	 * inside the database transaction (again when that is retried), so it has no side
	 * effects of its own. */
	int stored_created;
	size_t n_rejected;
	const char **rejected_rules; /* b->n slots; the rule of each rejection (or NULL) */
};

/* The input array: from the JSON body or the CSV rows. Replies on error. */
static const json_t *batch_input(struct request *req, struct batch *b)
{
	static const char *const allowed[] = {"loans", NULL};
	struct field_error err;
	const json_t *loans;

	if (req->body_format == BODY_FORMAT_CSV) {
		b->csv_rows = csv_to_rows_max(req->body.data ? req->body.data : "", req->body.len,
					      LOAN_BATCH_MAX, &err);
		if (b->csv_rows == NULL) {
			reply_field_error(req, &err);
			return NULL;
		}
		loans = b->csv_rows;
	} else {
		if (!fields_only(req->json, allowed, NULL, &err)) {
			reply_field_error(req, &err);
			return NULL;
		}
		loans = json_object_get(req->json, "loans");
		if (!json_is_array(loans)) {
			reply_error(req, ERR_INVALID_FIELD, NULL, "loans",
				    "loans: an array of 1 to %d loan objects is required",
				    LOAN_BATCH_MAX);
			return NULL;
		}
	}
	if (json_array_size(loans) == 0 || json_array_size(loans) > LOAN_BATCH_MAX) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "loans",
			    "loans: a batch holds 1 to %d loans, not %zu", LOAN_BATCH_MAX,
			    json_array_size(loans));
		return NULL;
	}
	return loans;
}

/* The first problem of an atomic batch: C-side rejections and database ones alike. */
static const struct field_error *first_problem(const struct batch *b,
					       const struct field_error *db_errs)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->preps[i].rejected)
			return &b->preps[i].err;
		if (db_errs[i].code != 0 || db_errs[i].message[0] != '\0')
			return &db_errs[i];
	}
	return NULL;
}

/* The loans the ingest stored: its "created" outcomes, none for a dry run or an atomic
 * batch with any rejection. From the outcomes alone, so it holds whether or not the
 * answer can be built afterwards (the metrics count what was committed). */
static int stored_created(const struct batch *b, const struct loan_outcomes *outcomes)
{
	int created = 0;
	bool rejected = false;

	for (size_t i = 0; i < b->n; i++)
		rejected |= b->preps[i].rejected;
	for (size_t k = 0; k < outcomes->n; k++) {
		created += strcmp(outcomes->items[k].status, "created") == 0;
		rejected |= strcmp(outcomes->items[k].status, "rejected") == 0;
	}
	return b->dry_run || (b->atomic && rejected) ? 0 : created;
}

/* Builds the answer: per-item results in input order and the counts. Pure: no reply, no
 * metrics (see struct batch). */
static void build_answer(void *cls, const struct loan_outcomes *outcomes, unsigned *status,
			 char **body)
{
	struct batch *b = cls;
	struct field_error *db_errs = calloc(b->n ? b->n : 1, sizeof *db_errs);
	json_t *results = json_array(), *answer;
	int created = 0, unchanged = 0, rejected = 0;
	bool stored, whole = true;
	const struct field_error *first;

	*body = NULL;
	b->stored_created = stored_created(b, outcomes);
	if (db_errs == NULL || results == NULL) { /* out of memory: *body NULL answers 503 */
		free(db_errs);
		json_decref(results);
		return;
	}
	b->n_rejected = 0;
	for (size_t k = 0; k < outcomes->n; k++) {
		const struct loan_outcome *o = &outcomes->items[k];
		char prefix[32];

		if (o->idx < 0 || (size_t)o->idx >= b->n || strcmp(o->status, "rejected") != 0)
			continue;
		snprintf(prefix, sizeof prefix, "loans[%d]", o->idx);
		outcome_error(o->code, o->rule, prefix, o->field, o->message, &db_errs[o->idx]);
	}
	first = first_problem(b, db_errs);
	for (size_t i = 0, k = 0; i < b->n; i++) {
		const char *st = "rejected";
		const struct field_error *err = NULL;

		if (b->preps[i].rejected) {
			err = &b->preps[i].err;
		} else {
			while (k < outcomes->n && outcomes->items[k].idx < (int)i)
				k++;
			if (k < outcomes->n && outcomes->items[k].idx == (int)i)
				st = outcomes->items[k].status;
			if (strcmp(st, "rejected") == 0)
				err = &db_errs[i];
		}
		if (err != NULL)
			b->rejected_rules[b->n_rejected++] = err->rule;
		created += strcmp(st, "created") == 0;
		unchanged += strcmp(st, "unchanged") == 0;
		rejected += strcmp(st, "rejected") == 0;
		if (json_array_append_new(
			results, json_pack("{s:i, s:s?, s:s, s:o?}", "index", (int)i, "loan_ref",
					   b->preps[i].loan_ref, "status", st, "error",
					   err ? field_error_json(err) : NULL)) != 0)
			whole = false; /* out of memory: no answer short of an item */
	}
	stored = !b->dry_run && !(b->atomic && first != NULL);
	answer = json_pack("{s:i, s:i, s:i, s:b, s:b, s:o}", "created", created, "unchanged",
			   unchanged, "rejected", rejected, "stored", stored, "dry_run", b->dry_run,
			   "results", results);
	*status = 200;
	if (b->atomic && first != NULL) {
		json_t *error = field_error_json(first);

		json_object_set_new(error, "request_id", json_string(b->request_id));
		json_object_set_new(answer, "error", error);
		*status = 422;
	}
	*body = whole ? json_dumps(answer, JSON_COMPACT) : NULL;
	json_decref(answer);
	free(db_errs);
}

/* SHA-256 of what makes two posts the same request: query, media type and body. False
 * when memory runs out. */
static bool request_digest(struct request *req, char out[65])
{
	const char *q[] = {"atomic", "dry_run"};
	struct buf head = {0};
	const void *parts[2];
	size_t lens[2];
	bool ok;

	/* The same bytes as ever (query flags, body format, body), hashed in two pieces so
	 * the body, already counted against the body budget, is never copied. */
	for (unsigned i = 0; i < 2; i++) {
		const char *v = req_query(req, q[i]);

		buf_printf(&head, "%s=%s\n", q[i], v ? v : "");
	}
	buf_printf(&head, "%d\n", (int)req->body_format);
	parts[0] = head.data;
	lens[0] = head.len;
	parts[1] = req->body.data ? req->body.data : "";
	lens[1] = req->body.len;
	ok = !head.failed && head.data != NULL && sha256_hex_parts(parts, lens, 2, out);
	buf_free(&head);
	return ok;
}

static bool key_valid(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

static void run(struct request *req, struct batch *b, const char *const *columns, const char *key)
{
	struct ingest_call call = {req->principal.code, columns, b->atomic,
				   b->dry_run,          false,   false};
	bool c_rejected = false;
	unsigned status = 0;
	char *body = NULL;
	enum db_rc rc;

	for (size_t i = 0; i < b->n; i++)
		c_rejected |= b->preps[i].rejected;
	/* An atomic batch with an item already rejected here stores nothing; the database
	 * still judges the others, as a dry run. */
	if (b->atomic && c_rejected && !b->dry_run) {
		call.dry_run = true;
		call.forced_dry_run = true;
	}
	if (key != NULL) {
		char digest[65];
		bool replayed;

		if (!request_digest(req, digest)) {
			reply_out_of_memory(req);
			return;
		}
		rc = db_loan_ingest_keyed(&call, key, digest, build_answer, b, &replayed, &status,
					  &body);
		if (rc == DB_CONFLICT) {
			reply_error(req, ERR_CONFLICT, NULL, "Idempotency-Key",
				    "Idempotency-Key: already used for a different request");
			return;
		}
		if (rc == DB_OK && replayed) {
			reply_text(req, status, "application/json", body, strlen(body));
			reply_header(req, "Idempotent-Replayed", "true");
			return;
		}
	} else {
		struct loan_outcomes out = {NULL, 0};

		rc = db_loan_ingest(&call, &out);
		if (rc == DB_OK)
			build_answer(b, &out, &status, &body);
		loan_outcomes_free(&out);
	}
	if (rc != DB_OK) {
		free(body);
		reply_db_error(req, rc);
		return;
	}
	for (size_t i = 0; i < b->n_rejected; i++)
		metrics_rejected(b->rejected_rules[i]);
	metrics_loans_stored((unsigned)b->stored_created);
	/* A NULL body (out of memory building it) answers 503. */
	reply_text(req, status, "application/json", body, body != NULL ? strlen(body) : 0);
}

void loans_batch_post(struct request *req)
{
	struct batch b = {0};
	struct refdata ref;
	struct loan_item item;
	struct loan_columns cols = {0};
	const char *columns[LI__COUNT];
	const char *key = req_header(req, "Idempotency-Key");
	bool whole = true;
	enum db_rc rc;

	loan_item_init(&item);
	b.request_id = req->id;
	if (!query_flag(req, "atomic", &b.atomic) || !query_flag(req, "dry_run", &b.dry_run))
		goto out;
	if (key != NULL && !key_valid(key)) {
		reply_error(req, ERR_BAD_REQUEST, NULL, "Idempotency-Key",
			    "Idempotency-Key: 1 to %d printable ASCII characters",
			    IDEMPOTENCY_KEY_MAX);
		goto out;
	}
	b.loans = batch_input(req, &b);
	if (b.loans == NULL)
		goto out;
	rc = db_refdata(&ref);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto out;
	}
	ref.policy.today = today_day();
	b.n = json_array_size(b.loans);
	b.preps = calloc(b.n, sizeof *b.preps);
	b.rejected_rules = calloc(b.n, sizeof *b.rejected_rules);
	if (b.preps == NULL || b.rejected_rules == NULL) {
		reply_out_of_memory(req);
		goto out;
	}
	for (size_t i = 0; i < b.n; i++) {
		char prefix[32];

		snprintf(prefix, sizeof prefix, "loans[%zu]", i);
		if (loan_prepare(json_array_get(b.loans, i), prefix, &ref, &item, &b.preps[i],
				 NULL))
			whole = loan_columns_add(&cols, &item, (int)i);
		else
			whole = !(b.preps[i].rejected && b.preps[i].err.code == ERR_UNAVAILABLE);
		if (!whole)
			break;
	}
	if (!whole || !loan_columns_finish(&cols, columns)) {
		reply_out_of_memory(req); /* the whole batch: 503, nothing stored */
		goto out;
	}
	run(req, &b, columns, key);
out:
	loan_item_free(&item);
	loan_columns_free(&cols);
	free(b.preps);
	free(b.rejected_rules);
	json_decref(b.csv_rows);
}
