/* Group commit for single loan posts (loan_group.h; db_loan_ingest_one in db/loans.h).
 *
 * A single post joins a queue. When no group is being stored, it leads one at once: it
 * takes itself and the posts queued behind it (same bank, distinct loan_refs, at most
 * GROUP_MAX) and stores them with one partial loan_ingest call, one transaction, one
 * commit; each post then answers its own outcome. So a lone post waits for nothing, and
 * under load the posts that arrive while a group is being stored form the next one. A
 * second group is stored alongside only once GROUP_PARALLEL_MIN posts wait: on two cores,
 * fewer and larger transactions beat more and smaller ones (bench/ingest measured both).
 * Nothing is answered before its commit, and the queue holds only requests in flight, so
 * instances share nothing.
 *
 * Items of one group are independent (partial ingest): one item's rejection is its own.
 * Two posts of the same loan_ref never share a group, so each sees the other as stored
 * (unchanged or conflict), as it would one after the other. Should a group fail for a
 * reason other than the database being unavailable, its posts are stored one by one so
 * that one bad item cannot fail the others. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db/loan_group.h"

enum {
	GROUP_MAX = 64,         /* posts stored by one call */
	GROUP_LEADERS = 2,      /* groups being stored at once by this process */
	GROUP_PARALLEL_MIN = 4, /* posts waiting before a second group starts */
};

struct member {
	const char *bank;
	const char *loan_ref;
	json_t *item;
	struct loan_outcome *out;
	enum db_rc rc;
	bool taken; /* in a group being stored */
	bool done;  /* stored: rc and *out are set */
	pthread_cond_t cond;
	struct member *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct member *queue_head;
static struct member **queue_tail = &queue_head;
static int leaders;
static int queued; /* members in the queue */

/* Whether a queued post may lead a group now: when none is being stored, or when enough
 * posts wait to make a second group worth its own transaction. */
static bool may_lead(void)
{
	return leaders == 0 || (leaders < GROUP_LEADERS && queued >= GROUP_PARALLEL_MIN);
}

static bool same_ref(struct member *const *group, size_t n, const struct member *m)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(group[i]->loan_ref, m->loan_ref) == 0)
			return true;
	return false;
}

/* Takes @a first and the queued members that may join it out of the queue (lock held). */
static size_t take_group(struct member *first, struct member **group)
{
	struct member **link = &queue_head;
	size_t n = 0;

	group[n++] = first;
	queued--;
	while (*link != NULL) {
		struct member *m = *link;

		if (m != first && n < GROUP_MAX && strcmp(m->bank, first->bank) == 0 &&
		    !same_ref(group, n, m)) {
			m->taken = true;
			group[n++] = m;
			queued--;
		} else if (m != first) {
			link = &m->next;
			continue;
		}
		*link = m->next;
		if (queue_tail == &m->next)
			queue_tail = link;
	}
	return n;
}

/* Stores @a group with @a ingest (lock not held): fills each member's outcome and rc. */
static void store_group(loan_group_ingest_fn ingest, struct member **group, size_t n)
{
	json_t *items = json_array();
	struct ingest_call call = {group[0]->bank, NULL, false, false, true, false};
	struct loan_outcomes out = {NULL, 0};
	enum db_rc rc;
	char *text;

	for (size_t i = 0; i < n; i++) {
		json_object_set_new(group[i]->item, "idx", json_integer((json_int_t)i));
		json_array_append(items, group[i]->item);
	}
	text = json_dumps(items, JSON_COMPACT);
	json_decref(items);
	if (text == NULL)
		abort();
	call.items = text;
	rc = ingest(&call, &out);
	free(text);
	if (rc == DB_OK && out.n != n)
		rc = DB_ERROR;
	for (size_t i = 0; i < n; i++) {
		group[i]->rc = rc;
		if (rc == DB_OK && out.items[i].idx == (int)i) {
			*group[i]->out = out.items[i];
			memset(&out.items[i], 0, sizeof out.items[i]);
		} else if (rc == DB_OK) {
			group[i]->rc = DB_ERROR;
		}
	}
	loan_outcomes_free(&out);
	if (n > 1 && rc != DB_OK && rc != DB_UNAVAILABLE)
		for (size_t i = 0; i < n; i++)
			store_group(ingest, &group[i], 1);
}

enum db_rc loan_group_submit(loan_group_ingest_fn ingest, const char *bank, const char *loan_ref,
			     json_t *item, struct loan_outcome *out)
{
	struct member self = {
	    bank, loan_ref, item, out, DB_ERROR, false, false, PTHREAD_COND_INITIALIZER, NULL};
	struct member *group[GROUP_MAX];
	size_t n;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&lock);
	*queue_tail = &self;
	queue_tail = &self.next;
	queued++;
	/* Wait to be stored by another post's group, or for a free leader's place. */
	while (!self.done && (self.taken || !may_lead()))
		pthread_cond_wait(&self.cond, &lock);
	if (self.done)
		goto out;
	leaders++;
	n = take_group(&self, group);
	if (queue_head != NULL && may_lead())
		pthread_cond_signal(&queue_head->cond);
	pthread_mutex_unlock(&lock);

	store_group(ingest, group, n);

	pthread_mutex_lock(&lock);
	leaders--;
	for (size_t i = 1; i < n; i++) {
		group[i]->done = true;
		pthread_cond_signal(&group[i]->cond);
	}
	/* The oldest waiting post leads the next group. */
	if (queue_head != NULL)
		pthread_cond_signal(&queue_head->cond);
out:
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&self.cond);
	return self.rc;
}

int loan_group_waiting(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = queued;
	pthread_mutex_unlock(&lock);
	return n;
}
