/* Implementation of conns.h: a list of open connections and a table of counts per client
 * address under one mutex, and a watchdog (a periodic task) that looks at the list four times a
 * second. A connection is dropped with shutdown(2) on its socket: libmicrohttpd's thread
 * then sees the end of the stream and closes it as usual. The slot leaves the list (under
 * the mutex) in libmicrohttpd's close notification, before the socket is closed, so the
 * watchdog never shuts down a descriptor that has been reused. */
#include "http/conns.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "periodic.h"

#define BUCKETS        1024
#define WATCH_EVERY_MS 250

struct ip_count {
	unsigned char addr[16];
	unsigned addr_len;
	unsigned n;
	struct ip_count *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn_slot *slots; /* every open connection */
static struct ip_count *buckets[BUCKETS];
static unsigned open_total;
static atomic_ulong dropped;
static unsigned limit_total, limit_per_ip;
static uint64_t deadline_us;   /* a first request's headers, from the accept */
static uint64_t keep_alive_us; /* a later request's headers, from the last answer */

/* The address bytes of @a sa (4 or 16); 0 for another family. */
static unsigned addr_bytes(const struct sockaddr *sa, unsigned char *out)
{
	if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

static unsigned hash(const unsigned char *a, unsigned n)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % BUCKETS;
}

/* The count of an address (lock held); created when @a create, else NULL when absent. */
static struct ip_count *ip_find(const unsigned char *a, unsigned n, bool create)
{
	struct ip_count **b = &buckets[hash(a, n)], *c;

	for (c = *b; c != NULL; c = c->next)
		if (c->addr_len == n && memcmp(c->addr, a, n) == 0)
			return c;
	if (!create || (c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	memcpy(c->addr, a, n);
	c->addr_len = n;
	c->next = *b;
	*b = c;
	return c;
}

static void ip_release(const unsigned char *a, unsigned n)
{
	struct ip_count **link = &buckets[hash(a, n)];

	for (; *link != NULL; link = &(*link)->next) {
		struct ip_count *c = *link;

		if (c->addr_len == n && memcmp(c->addr, a, n) == 0) {
			if (--c->n == 0) {
				*link = c->next;
				free(c);
			}
			return;
		}
	}
}

bool conns_admit(const struct sockaddr *addr)
{
	unsigned char a[16];
	unsigned n = addr_bytes(addr, a);
	struct ip_count *c;
	bool ok;

	pthread_mutex_lock(&lock);
	ok = limit_total == 0 || open_total < limit_total;
	if (ok && limit_per_ip != 0 && n != 0) {
		c = ip_find(a, n, false);
		ok = c == NULL || c->n < limit_per_ip;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

struct conn_slot *conns_open(int fd, const struct sockaddr *addr)
{
	struct conn_slot *s = calloc(1, sizeof *s);
	struct ip_count *c = NULL;

	if (s == NULL)
		return NULL;
	s->fd = fd;
	s->addr_len = addr_bytes(addr, s->addr);
	s->since_us = log_monotonic_us();
	s->within_us = deadline_us;
	s->awaiting = true;
	pthread_mutex_lock(&lock);
	if (s->addr_len != 0 && (c = ip_find(s->addr, s->addr_len, true)) == NULL) {
		pthread_mutex_unlock(&lock);
		free(s);
		return NULL;
	}
	if (c != NULL)
		c->n++;
	open_total++;
	s->next = slots;
	if (slots != NULL)
		slots->prev = s;
	slots = s;
	pthread_mutex_unlock(&lock);
	return s;
}

void conns_close(struct conn_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		slots = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->addr_len != 0)
		ip_release(s->addr, s->addr_len);
	open_total--;
	pthread_mutex_unlock(&lock);
	free(s);
}

void conns_request_started(struct conn_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&lock);
	s->awaiting = false;
	pthread_mutex_unlock(&lock);
}

void conns_body_started(struct conn_slot *s, size_t len)
{
	if (s == NULL || deadline_us == 0)
		return;
	pthread_mutex_lock(&lock);
	s->since_us = log_monotonic_us();
	s->within_us = deadline_us + (uint64_t)len * 1000000u / CONNS_BODY_MIN_RATE;
	s->awaiting = true;
	pthread_mutex_unlock(&lock);
}

void conns_body_done(struct conn_slot *s)
{
	conns_request_started(s);
}

void conns_request_done(struct conn_slot *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&lock);
	s->since_us = log_monotonic_us();
	s->within_us = keep_alive_us;
	s->awaiting = keep_alive_us != 0;
	pthread_mutex_unlock(&lock);
}

unsigned conns_open_count(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = open_total;
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned long conns_dropped_count(void)
{
	return atomic_load(&dropped);
}

/* Shuts down every connection whose request headers are overdue (lock held); returns how
 * many. */
static unsigned drop_late(uint64_t now)
{
	unsigned n = 0;

	for (struct conn_slot *s = slots; s != NULL; s = s->next) {
		if (!s->awaiting || s->dropped || now - s->since_us < s->within_us)
			continue;
		shutdown(s->fd, SHUT_RDWR);
		s->dropped = true;
		n++;
	}
	return n;
}

/* The watchdog's round, every WATCH_EVERY_MS (a periodic task). */
static void watch(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = drop_late(log_monotonic_us());
	pthread_mutex_unlock(&lock);
	if (n > 0) {
		atomic_fetch_add(&dropped, n);
		LOG_WARN("dropped %u connections whose request headers or body did not arrive in "
			 "time (headers %llu s after the accept, %llu s after an answer; a body "
			 "%llu s plus 1 s per %u KiB)",
			 n, (unsigned long long)(deadline_us / 1000000u),
			 (unsigned long long)(keep_alive_us / 1000000u),
			 (unsigned long long)(deadline_us / 1000000u), CONNS_BODY_MIN_RATE / 1024u);
	}
}

/* It opens no database connection: no application_name. */
static struct periodic watchdog = PERIODIC_INIT(watch, "connection watchdog", NULL);

bool conns_start(unsigned max_total, unsigned max_per_ip, unsigned header_deadline_s,
		 unsigned keep_alive_s)
{
	limit_total = max_total;
	limit_per_ip = max_per_ip;
	deadline_us = (uint64_t)header_deadline_s * 1000000u;
	keep_alive_us = (uint64_t)keep_alive_s * 1000000u;
	if (header_deadline_s == 0)
		return true;
	return periodic_start(&watchdog, WATCH_EVERY_MS);
}

void conns_stop(void)
{
	periodic_stop(&watchdog);
}
