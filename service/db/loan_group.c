/* Group commit for single loan posts (loan_group.h; db_loan_ingest_one in db/loans.h).
 *
 * A single post joins a queue. When no group of its bank is being stored, it leads one at
 * once: it takes itself and the posts of its bank queued behind it (distinct loan_refs and
 * renewed loans, at most GROUP_MAX) and stores them with one partial loan_ingest call, one
 * transaction, one commit; each post then answers its own outcome. So a lone post waits
 * for nothing, and under load the posts that arrive while a group is being stored form the
 * next one. A second group of the same bank is stored alongside only once
 * GROUP_PARALLEL_MIN of its posts wait: on two cores, fewer and larger transactions beat
 * more and smaller ones (bench/ingest measured both). Banks never wait for each other, and
 * no post waits more than GROUP_WAIT_MAX_MS for a group of its bank that is held up (by a
 * lock in the database, say): it then leads its own. Nothing is answered before its
 * commit, and the queue holds only requests in flight, so instances share nothing.
 *
 * Items of one group are independent (partial ingest): one item's rejection is its own.
 * Two posts of the same loan_ref, or renewing the same loan, never share a group, so each
 * sees the other as stored, as it would one after the other. Should a group fail for a
 * reason other than the database being unavailable, its posts are stored one by one so
 * that one bad item cannot fail the others. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/loan_group.h"

enum {
	GROUP_MAX = 64,            /* posts stored by one call */
	GROUP_LEADERS = 2,         /* groups of one bank being stored at once */
	GROUP_PARALLEL_MIN = 8,    /* posts of a bank waiting before its second group starts */
	GROUP_WAIT_MAX_MS = 50,    /* then a post leads a group whatever is being stored */
	MEMBER_WAIT_MAX_MS = 1000, /* a post in another's group gives up then (503) */
};

struct member {
	const char *bank;
	const char *loan_ref;
	const char *renews; /* the renewed loan's loan_ref, or NULL */
	const struct loan_item *item;
	struct loan_outcome *out;
	enum db_rc rc;
	bool taken;              /* in a group being stored */
	bool done;               /* stored: rc and *out are set */
	struct timespec give_up; /* CLOCK_MONOTONIC: lead from then on */
	struct timespec abandon; /* CLOCK_MONOTONIC: when taken, stop waiting then */
	struct member **slot;    /* when taken: its place in the leader's group */
	pthread_cond_t cond;
	struct member *next;        /* in the queue */
	struct member *next_leader; /* in the list of leaders */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct member *queue_head;
static struct member **queue_tail = &queue_head;
static struct member *leaders; /* the members storing a group now */
static int queued;             /* members in the queue */

static int leaders_of(const char *bank)
{
	int n = 0;

	for (struct member *m = leaders; m != NULL; m = m->next_leader)
		n += strcmp(m->bank, bank) == 0;
	return n;
}

static int queued_of(const char *bank)
{
	int n = 0;

	for (struct member *m = queue_head; m != NULL; m = m->next)
		n += strcmp(m->bank, bank) == 0;
	return n;
}

static bool passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Whether queued member @a m may lead a group now (lock held). */
static bool may_lead(const struct member *m)
{
	int n = leaders_of(m->bank);

	return n == 0 || (n < GROUP_LEADERS && queued_of(m->bank) >= GROUP_PARALLEL_MIN) ||
	       passed(&m->give_up);
}

/* Whether @a m may not share a group with the members of @a group. */
static bool clashes(struct member *const *group, size_t n, const struct member *m)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(group[i]->loan_ref, m->loan_ref) == 0 ||
		    (m->renews != NULL && group[i]->renews != NULL &&
		     strcmp(group[i]->renews, m->renews) == 0))
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
		    !clashes(group, n, m)) {
			m->taken = true;
			m->slot = &group[n];
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

/* Wakes every queued member to see whether it may lead now (lock held). (Waking only the
 * next member of the group's bank was tried twice; docs/ingest.md says why it is not.) */
static void wake_queue(void)
{
	for (struct member *m = queue_head; m != NULL; m = m->next)
		pthread_cond_signal(&m->cond);
}

/* What a leader stores: copies of its members' items, and their outcomes, in memory of
 * its own, so that a member that gave up waiting (and whose request is gone) is never
 * touched while the group is being stored. */
struct stored {
	struct loan_item item; /* failed when it could not be copied: the group answers 503 */
	struct loan_outcome out;
	enum db_rc rc;
};

/* Stores @a n items of @a bank with @a ingest (lock not held): fills each one's outcome. */
static void store_group(loan_group_ingest_fn ingest, const char *bank, struct stored *st, size_t n)
{
	struct loan_columns cols = {0};
	const char *params[LI__COUNT];
	struct ingest_call call = {bank, params, false, false, true, false};
	struct loan_outcomes out = {NULL, 0};
	bool whole = true;
	enum db_rc rc;

	for (size_t i = 0; i < n; i++)
		whole = loan_columns_add(&cols, &st[i].item, (int)i) && whole;
	rc = whole && loan_columns_finish(&cols, params) ? DB_OK : DB_UNAVAILABLE;
	if (rc == DB_OK)
		rc = ingest(&call, &out);
	loan_columns_free(&cols);
	if (rc == DB_OK && out.n != n)
		rc = DB_ERROR;
	for (size_t i = 0; i < n; i++) {
		st[i].rc = rc;
		if (rc == DB_OK && out.items[i].idx == (int)i) {
			st[i].out = out.items[i];
			memset(&out.items[i], 0, sizeof out.items[i]);
		} else if (rc == DB_OK) {
			st[i].rc = DB_ERROR;
		}
	}
	loan_outcomes_free(&out);
	if (n > 1 && rc != DB_OK && rc != DB_UNAVAILABLE)
		for (size_t i = 0; i < n; i++)
			store_group(ingest, bank, &st[i], 1);
}

static void deadline_in(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* Hands the outcomes to the members still waiting (lock held); frees the rest. */
static void hand_out(struct member **group, struct stored *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		loan_item_free(&st[i].item);
		if (i > 0 && group[i] == NULL) { /* gave up waiting */
			loan_outcome_clear(&st[i].out);
			continue;
		}
		group[i]->rc = st[i].rc;
		*group[i]->out = st[i].out;
		if (i > 0) {
			group[i]->done = true;
			pthread_cond_signal(&group[i]->cond);
		}
	}
}

enum db_rc loan_group_submit(loan_group_ingest_fn ingest, const char *bank, const char *loan_ref,
			     const struct loan_item *item, struct loan_outcome *out)
{
	struct member self = {
	    .bank = bank, .loan_ref = loan_ref, .item = item, .out = out, .rc = DB_ERROR};
	struct member *group[GROUP_MAX];
	struct stored st[GROUP_MAX];
	pthread_condattr_t attr;
	size_t n;

	self.renews = loan_item_get(item, LI_RENEWS_LOAN_REF);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&self.cond, &attr);
	pthread_condattr_destroy(&attr);
	deadline_in(&self.give_up, GROUP_WAIT_MAX_MS);
	memset(out, 0, sizeof *out);

	pthread_mutex_lock(&lock);
	*queue_tail = &self;
	queue_tail = &self.next;
	queued++;
	/* Wait to be stored by another post's group, or to lead one. Taken into a group, a
	 * post waits for its commit at most MEMBER_WAIT_MAX_MS: its request worker serves
	 * other requests, which must not wait long on a slow group of other posts. It answers
	 * 503 (the group may still commit it: a retry by loan_ref is safe). */
	while (!self.done && (self.taken || !may_lead(&self))) {
		if (!self.taken) {
			pthread_cond_timedwait(&self.cond, &lock, &self.give_up);
			if (self.taken)
				deadline_in(&self.abandon, MEMBER_WAIT_MAX_MS);
		} else if (pthread_cond_timedwait(&self.cond, &lock, &self.abandon) != 0 &&
			   !self.done) {
			*self.slot = NULL;
			self.rc = DB_UNAVAILABLE;
			goto out;
		}
	}
	if (self.done)
		goto out;
	self.next_leader = leaders;
	leaders = &self;
	n = take_group(&self, group);
	for (size_t i = 0; i < n; i++) {
		memset(&st[i], 0, sizeof st[i]);
		if (!loan_item_copy(&st[i].item, group[i]->item))
			st[i].item.text.failed = true; /* the group answers 503 */
	}
	pthread_mutex_unlock(&lock);

	store_group(ingest, bank, st, n);

	pthread_mutex_lock(&lock);
	for (struct member **l = &leaders; *l != NULL; l = &(*l)->next_leader) {
		if (*l == &self) {
			*l = self.next_leader;
			break;
		}
	}
	hand_out(group, st, n);
	wake_queue(); /* a place to lead is free */
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
