/* Unit tests for db/loan_group: concurrent single posts are stored in groups through the
 * ingest function given (here a stand-in that records the groups it is handed), each post
 * gets its own outcome, two posts of one loan_ref never share a group, a failed group is
 * stored again one post at a time, and a held-up group keeps neither another bank's posts
 * nor, beyond a short wait, its own bank's. */
#include "check.h"
#include "db/loan_group.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_GROUPS = 64, MAX_POSTS = 32 };

/* What the stand-in ingest saw, and the gate that holds its first call. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static bool slow_closed; /* holds every call with a ref starting "SLOW" */
static int n_groups;
static char group_refs[MAX_GROUPS][MAX_POSTS][32];
static int group_size[MAX_GROUPS];
static int items_seen;

static void reset(bool close_gate)
{
	pthread_mutex_lock(&seen_lock);
	gate_closed = close_gate;
	n_groups = 0;
	items_seen = 0;
	memset(group_size, 0, sizeof group_size);
	pthread_mutex_unlock(&seen_lock);
}

static void open_gate(void)
{
	pthread_mutex_lock(&seen_lock);
	gate_closed = false;
	slow_closed = false;
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&seen_lock);
}

/* The elements of array literal @a lit (as db/loan_item.c writes them: quoted elements
 * with '"' and '\\' escaped, or bare ones), at most MAX_POSTS of 32 bytes. */
static size_t elements(const char *lit, char out[MAX_POSTS][32])
{
	size_t n = 0;
	const char *p = lit + 1;

	while (*p != '\0' && *p != '}' && n < MAX_POSTS) {
		size_t k = 0;
		bool quoted = *p == '"';

		p += quoted;
		while (*p != '\0' && (quoted ? *p != '"' : (*p != ',' && *p != '}'))) {
			if (*p == '\\')
				p++;
			if (k < 31)
				out[n][k++] = *p;
			p++;
		}
		out[n++][k] = '\0';
		p += quoted;
		p += *p == ',';
	}
	return n;
}

/* Creates every item, rejects refs starting "BAD" (L013) and fails any call holding a
 * ref starting "FAIL". The first call waits while the gate is closed. */
static enum db_rc fake_ingest(const struct ingest_call *call, struct loan_outcomes *out)
{
	static char refs[MAX_POSTS][32], idxs[MAX_POSTS][32]; /* under seen_lock */
	char item_refs[MAX_POSTS][32];
	int item_idx[MAX_POSTS];
	size_t n;
	bool fail = false;
	int g;

	pthread_mutex_lock(&seen_lock);
	n = elements(call->columns[LI_LOAN_REF], refs);
	CHECK(elements(call->columns[LI_IDX], idxs) == n);
	for (size_t i = 0; i < n; i++) {
		memcpy(item_refs[i], refs[i], sizeof item_refs[i]);
		item_idx[i] = atoi(idxs[i]);
	}
	g = n_groups++;
	items_seen += (int)n;
	for (size_t i = 0; i < n && i < MAX_POSTS; i++) {
		const char *ref = item_refs[i];

		snprintf(group_refs[g][i], sizeof group_refs[g][i], "%s", ref);
		fail = fail || strncmp(ref, "FAIL", 4) == 0;
	}
	group_size[g] = (int)n;
	while (g == 0 && gate_closed)
		pthread_cond_wait(&gate_open, &seen_lock);
	for (size_t i = 0; i < n && i < MAX_POSTS; i++)
		while (strncmp(group_refs[g][i], "SLOW", 4) == 0 && slow_closed)
			pthread_cond_wait(&gate_open, &seen_lock);
	pthread_mutex_unlock(&seen_lock);

	if (fail)
		return DB_ERROR;
	out->items = calloc(n, sizeof *out->items);
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		const char *ref = item_refs[i];
		struct loan_outcome *o = &out->items[i];
		char loan[64];

		o->idx = item_idx[i];
		if (strncmp(ref, "BAD", 3) == 0) {
			snprintf(o->status, sizeof o->status, "rejected");
			snprintf(o->rule, sizeof o->rule, "L013");
			o->message = strdup("no registered guarantor has this code");
		} else {
			snprintf(o->status, sizeof o->status, "created");
			snprintf(loan, sizeof loan, "{\"loan_ref\":\"%s\"}", ref);
			o->loan = strdup(loan);
		}
	}
	return DB_OK;
}

struct post {
	const char *ref;
	const char *bank; /* NULL: "CIB-SM" */
	pthread_t thread;
	enum db_rc rc;
	struct loan_outcome out;
	volatile bool finished;
};

static void *submit(void *arg)
{
	struct post *p = arg;
	struct loan_item item;

	loan_item_init(&item);
	CHECK(loan_item_set(&item, LI_LOAN_REF, p->ref));
	p->rc =
	    loan_group_submit(fake_ingest, p->bank ? p->bank : "CIB-SM", p->ref, &item, &p->out);
	loan_item_free(&item);
	__atomic_store_n(&p->finished, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Waits until @a total posts are queued or being stored. It never goes on before they
 * are (a test that went on early would test something else): should they never arrive,
 * the run fails loudly after a minute instead of hanging. */
static void wait_until_all_arrived(int total)
{
	struct timespec ts = {0, 1000 * 1000};

	for (int i = 0; i < 60000; i++) {
		int seen;

		pthread_mutex_lock(&seen_lock);
		seen = items_seen;
		pthread_mutex_unlock(&seen_lock);
		if (seen + loan_group_waiting() >= total)
			return;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "  %d posts never arrived at the group commit; giving up the run\n", total);
	exit(1);
}

/* Submits @a n posts on threads of their own: the first alone (its store held at the
 * gate), then the others, which queue behind it; opens the gate once all have arrived and
 * waits for every answer. */
static void run_posts(struct post *posts, int n)
{
	for (int i = 0; i < n; i++) {
		pthread_create(&posts[i].thread, NULL, submit, &posts[i]);
		if (i == 0)
			wait_until_all_arrived(1); /* the first holds the only group */
	}
	wait_until_all_arrived(n);
	open_gate();
	for (int i = 0; i < n; i++)
		pthread_join(posts[i].thread, NULL);
}

/* Checks that @a p got its own outcome: created with its own loan, or rejected. */
static void check_own_outcome(const struct post *p)
{
	char want[64];

	CHECK(p->rc == DB_OK);
	if (strncmp(p->ref, "BAD", 3) == 0) {
		CHECK_STR(p->out.status, "rejected");
		CHECK_STR(p->out.rule, "L013");
		CHECK(p->out.loan == NULL);
		return;
	}
	snprintf(want, sizeof want, "{\"loan_ref\":\"%s\"}", p->ref);
	CHECK_STR(p->out.status, "created");
	CHECK_STR(p->out.loan, want);
}

static void test_a_lone_post_is_a_group_of_one_and_gets_its_loan(void)
{
	struct post p = {.ref = "L-1"};

	reset(false);
	submit(&p);
	check_own_outcome(&p);
	CHECK(n_groups == 1 && group_size[0] == 1);
	CHECK(loan_group_waiting() == 0);
	loan_outcome_clear(&p.out);
}

static void test_posts_arriving_during_a_store_are_grouped_each_with_its_own_outcome(void)
{
	static const char *refs[] = {"FIRST", "A1", "A2", "BAD3", "A4", "A2", "A5",
				     "A6",    "A7", "A2", "A8",   "A9", "A10"};
	enum { N = sizeof refs / sizeof refs[0] };
	struct post posts[N];
	int biggest = 0, total = 0;

	memset(posts, 0, sizeof posts);
	for (int i = 0; i < N; i++)
		posts[i].ref = refs[i];
	reset(true);
	run_posts(posts, N);

	for (int i = 0; i < N; i++)
		check_own_outcome(&posts[i]);
	for (int g = 0; g < n_groups; g++) {
		total += group_size[g];
		if (group_size[g] > biggest)
			biggest = group_size[g];
		for (int i = 0; i < group_size[g]; i++)
			for (int j = i + 1; j < group_size[g]; j++)
				CHECK(strcmp(group_refs[g][i], group_refs[g][j]) != 0);
	}
	CHECK(total == N);         /* each post stored once */
	CHECK(biggest >= 4);       /* the waiting posts went together */
	CHECK(n_groups >= 3);      /* A2 three times: three groups at least */
	CHECK(group_size[0] == 1); /* FIRST alone */
	CHECK(loan_group_waiting() == 0);
	for (int i = 0; i < N; i++)
		loan_outcome_clear(&posts[i].out);
}

static void test_a_failed_group_is_stored_again_one_post_at_a_time(void)
{
	static const char *refs[] = {"HOLD", "B1", "FAIL2", "B3", "B4"};
	enum { N = sizeof refs / sizeof refs[0] };
	struct post posts[N];

	memset(posts, 0, sizeof posts);
	for (int i = 0; i < N; i++)
		posts[i].ref = refs[i];
	reset(true);
	run_posts(posts, N);

	for (int i = 0; i < N; i++) {
		if (strcmp(posts[i].ref, "FAIL2") == 0)
			CHECK(posts[i].rc == DB_ERROR);
		else
			check_own_outcome(&posts[i]);
	}
	/* HOLD alone; the four others together (failed); then each of them alone. */
	CHECK(n_groups == 6);
	CHECK(group_size[1] == 4);
	for (int g = 2; g < n_groups; g++)
		CHECK(group_size[g] == 1);
	for (int i = 0; i < N; i++)
		loan_outcome_clear(&posts[i].out);
}

/* Waits up to 5 s for @a p to finish; whether it did. */
static bool finishes(struct post *p)
{
	struct timespec ts = {0, 1000 * 1000};

	for (int i = 0; i < 5000 && !__atomic_load_n(&p->finished, __ATOMIC_SEQ_CST); i++)
		nanosleep(&ts, NULL);
	return __atomic_load_n(&p->finished, __ATOMIC_SEQ_CST);
}

static void test_a_held_group_holds_up_neither_another_bank_nor_its_own_for_long(void)
{
	struct post held = {.ref = "HELD"}, other_bank = {.ref = "B-1", .bank = "OTHER-BANK"},
		    same_bank = {.ref = "S-1"};

	reset(true);
	pthread_create(&held.thread, NULL, submit, &held);
	wait_until_all_arrived(1);
	/* Another bank's post goes at once; this bank's goes once it has waited long enough. */
	pthread_create(&other_bank.thread, NULL, submit, &other_bank);
	pthread_create(&same_bank.thread, NULL, submit, &same_bank);
	CHECK(finishes(&other_bank));
	CHECK(finishes(&same_bank));
	CHECK(!__atomic_load_n(&held.finished, __ATOMIC_SEQ_CST));
	open_gate();
	pthread_join(held.thread, NULL);
	pthread_join(other_bank.thread, NULL);
	pthread_join(same_bank.thread, NULL);
	check_own_outcome(&held);
	check_own_outcome(&other_bank);
	check_own_outcome(&same_bank);
	CHECK(n_groups == 3);
	loan_outcome_clear(&held.out);
	loan_outcome_clear(&other_bank.out);
	loan_outcome_clear(&same_bank.out);
}

/* A post taken into another post's group that is slow to commit stops waiting after a
 * bounded time (its pool thread's other connections must not wait on others' work) and
 * answers DB_UNAVAILABLE; the leader, still storing, then finishes without touching it. */
static void test_a_member_gives_up_on_a_slow_group_within_the_bound(void)
{
	struct post hold = {.ref = "HOLD"}, slow = {.ref = "SLOW-1"}, member = {.ref = "M-1"};
	struct timespec t0, t1;
	struct post *leader, *taken;

	reset(true);
	pthread_mutex_lock(&seen_lock);
	slow_closed = true;
	pthread_mutex_unlock(&seen_lock);
	pthread_create(&hold.thread, NULL, submit, &hold);
	wait_until_all_arrived(1);
	/* Both queue behind HOLD; after the short wait one leads a group with the other. */
	pthread_create(&slow.thread, NULL, submit, &slow);
	pthread_create(&member.thread, NULL, submit, &member);
	wait_until_all_arrived(3);
	pthread_mutex_lock(&seen_lock);
	gate_closed = false; /* HOLD goes; the SLOW group stays held */
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&seen_lock);
	pthread_join(hold.thread, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&slow.finished, __ATOMIC_SEQ_CST) &&
			!__atomic_load_n(&member.finished, __ATOMIC_SEQ_CST);
	     i++)
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 3); /* MEMBER_WAIT_MAX_MS is 1 s */
	CHECK(__atomic_load_n(&slow.finished, __ATOMIC_SEQ_CST) !=
	      __atomic_load_n(&member.finished, __ATOMIC_SEQ_CST)); /* exactly one gave up */
	taken = __atomic_load_n(&slow.finished, __ATOMIC_SEQ_CST) ? &slow : &member;
	leader = taken == &slow ? &member : &slow;
	CHECK(taken->rc == DB_UNAVAILABLE);
	CHECK(!__atomic_load_n(&leader->finished, __ATOMIC_SEQ_CST));
	open_gate();
	pthread_join(slow.thread, NULL);
	pthread_join(member.thread, NULL);
	check_own_outcome(leader);
	CHECK(n_groups == 2);
	CHECK(group_size[1] == 2);
	CHECK(loan_group_waiting() == 0);
	loan_outcome_clear(&hold.out);
	loan_outcome_clear(&slow.out);
	loan_outcome_clear(&member.out);
}

int main(void)
{
	RUN(test_a_lone_post_is_a_group_of_one_and_gets_its_loan);
	RUN(test_posts_arriving_during_a_store_are_grouped_each_with_its_own_outcome);
	RUN(test_a_failed_group_is_stored_again_one_post_at_a_time);
	RUN(test_a_held_group_holds_up_neither_another_bank_nor_its_own_for_long);
	RUN(test_a_member_gives_up_on_a_slow_group_within_the_bound);
	return CHECK_SUMMARY();
}
