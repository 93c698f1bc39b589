/* Implementation of warm_up.h. A new PostgreSQL session pays for its first loan ingest
 * about 0.2 s of CPU more than for the next (catalog caches, PL/pgSQL compiled, the write
 * path's generic plans, the foreign keys' and triggers' plans), and for its first batch of
 * a thousand loans more again (its memory grown and touched for the first time): sixteen
 * new connections made by the first requests after a start cost those requests seconds.
 * Here one thread does it instead, a connection at a time, with a batch as large as a bank
 * may post (LOAN_BATCH_MAX loans to one borrower, the answers asked for as a single post
 * asks for its own) of a bank code no principal can have, rolled back (it leaves nothing
 * but skipped loan ids). */
#include "warm_up.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "db/db.h"
#include "db/loan_item.h"
#include "db/loans.h"
#include "handlers/common.h"
#include "handlers/loan_items.h"
#include "log.h"

#define WARM_BANK "~warm-up" /* a principal's code cannot hold '~' */

static pthread_t thread;
static bool started;

/* The loans to ingest, as loan_prepare renders a client's, in the ingest's columns. */
struct warm {
	struct loan_columns cols;
	const char *columns[LI__COUNT];
	enum db_rc rc; /* the last rehearsal's */
};

/* The ingest as a single post makes it (the stored loans returned), on the lent
 * connection; false (the warm-up ends) when it failed or the database is read-only. */
static bool warm_one(void *cls)
{
	struct warm *w = cls;
	struct ingest_call call = {WARM_BANK, w->columns, false, false, true, false};
	struct loan_outcomes out = {0};
	enum db_rc rc;

	if (db_is_read_only())
		return false;
	rc = db_loan_ingest_rehearse(&call, &out);
	loan_outcomes_free(&out);
	w->rc = rc;
	return rc == DB_OK;
}

/* Fills @a w with LOAN_BATCH_MAX plain valid loans (loan_refs warm-up-0, warm-up-1, ...;
 * one borrower); false on failure. */
static bool warm_item(struct warm *w)
{
	struct refdata ref;
	struct loan_prep p;
	struct loan_item item;
	json_t *loan;
	bool ok = false;

	loan_item_init(&item);
	loan = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:b, s:b,"
			 " s:b}",
			 "loan_ref", "warm-up", "borrower", "uscc", "91350402WARMUP000Q", "name",
			 "预热", "county_code", "350402", "industry_code", "3412", "size", "small",
			 "amount", "100000.00", "issue_date", "2020-05-12", "maturity_date",
			 "2023-05-11", "rate", "4.3500", "guarantee_mode", "credit", "first_loan",
			 1, "renewal", 0, "relief_fund", 0);
	if (loan == NULL || db_refdata(&ref) != DB_OK)
		goto out;
	ref.policy.today = today_day();
	ok = true;
	for (int i = 0; ok && i < LOAN_BATCH_MAX; i++) {
		char loan_ref[32];

		snprintf(loan_ref, sizeof loan_ref, "warm-up-%d", i);
		ok = json_object_set_new(loan, "loan_ref", json_string(loan_ref)) == 0 &&
		     loan_prepare(loan, NULL, &ref, &item, &p, NULL) &&
		     loan_columns_add(&w->cols, &item, i);
	}
	ok = ok && loan_columns_finish(&w->cols, w->columns);
out:
	json_decref(loan);
	loan_item_free(&item);
	return ok;
}

static void *run(void *arg)
{
	struct timespec t0, t1;
	unsigned warmed = 0;
	bool gave_way = false;
	struct warm w = {.rc = DB_ERROR};
	struct db_pool_stats pool;
	char why[96] = "";

	(void)arg;
	db_thread_name("finregd-warm-up"); /* its own look-up; the pooled ones stay finregd */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (warm_item(&w)) {
		w.rc = DB_OK;
		warmed = db_pool_each(warm_one, &w, &gave_way);
	}
	loan_columns_free(&w.cols);
	db_disconnect();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	db_pool_stats(&pool);
	if (gave_way)
		snprintf(why, sizeof why, "; then it gave way to a request");
	else if (db_is_read_only())
		snprintf(why, sizeof why, "; the database is read-only");
	else if (w.rc != DB_OK)
		snprintf(why, sizeof why, "; a rehearsal failed (db_rc %d)", (int)w.rc);
	else if (warmed < pool.size && !db_pool_stopping())
		snprintf(why, sizeof why, "; requests made the others");
	LOG_INFO("warm-up: %u database connections warmed in %.1f s%s", warmed,
		 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, why);
	return NULL;
}

void warm_up_start(void)
{
	started = pthread_create(&thread, NULL, run, NULL) == 0;
	if (!started)
		LOG_WARN("warm-up not started: the first requests open the connections");
}

void warm_up_stop(void)
{
	if (!started)
		return;
	db_pool_stop(); /* the pool lends it nothing more */
	pthread_join(thread, NULL);
	started = false;
}
