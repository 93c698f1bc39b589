/* The server's open connections: how many there are in all and per client address (the
 * accepting thread refuses a connection beyond either limit), and a watchdog that drops a
 * connection whose request headers do not arrive in full in time: the first request's
 * within the header deadline of the accept (a TLS handshake never finished, or headers
 * sent a byte at a time), each later request's within the keep-alive time of the previous
 * answer (so a byte a second, which keeps libmicrohttpd's inactivity timeout from firing,
 * cannot hold a connection after its first request either). A request body is due, in
 * full, within the header deadline plus its length at CONNS_BODY_MIN_RATE bytes a second:
 * one sent a byte at a time would otherwise hold its share of the body budget for as long
 * as the inactivity timeout kept being reset. */
#ifndef FINREG_HTTP_CONNS_H
#define FINREG_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/auth.h"

/** One open connection: libmicrohttpd's socket context of it. */
struct conn_slot {
	struct tls_peer peer; /* the caller's certificate, verified once per connection */
	int fd;
	unsigned char addr[16]; /* the client's IPv4 or IPv6 address */
	unsigned addr_len;
	uint64_t since_us;  /* log_monotonic_us() at accept, or at the last answer */
	uint64_t within_us; /* the next request's headers (or the body) are due this long after
			       since_us */
	bool awaiting;      /* waiting for a request's headers or body (the watchdog's business) */
	bool dropped;       /* the watchdog shut it down */
	struct conn_slot *prev, *next;
};

/** Sets the limits (0 = none) and starts the watchdog (header_deadline_s 0: no watchdog):
 *  a first request's headers are due @a header_deadline_s after the accept, a later one's
 *  @a keep_alive_s after the previous answer (0: no bound). */
bool conns_start(unsigned max_total, unsigned max_per_ip, unsigned header_deadline_s,
		 unsigned keep_alive_s);

/** Stops the watchdog. */
void conns_stop(void);

/** Whether a new connection from @a addr is within both limits (the accepting thread asks
 *  before it hands the connection over). */
bool conns_admit(const struct sockaddr *addr);

/** Registers a connection that libmicrohttpd has taken (fd, peer address); NULL when out
 *  of memory (the caller then refuses it). */
struct conn_slot *conns_open(int fd, const struct sockaddr *addr);

/** Forgets a connection libmicrohttpd is closing; frees @a slot. */
void conns_close(struct conn_slot *slot);

/** A request's headers have arrived: no deadline applies while it is served. */
void conns_request_started(struct conn_slot *slot);

/** A request has been answered: the next one's headers are due within the keep-alive
 *  time. */
void conns_request_done(struct conn_slot *slot);

/** The slowest average rate a body may arrive at, after the header deadline's grace. */
#define CONNS_BODY_MIN_RATE (64u * 1024u)

/** A body of @a len bytes (at most) is on its way on @a slot: due within the header
 *  deadline plus len / CONNS_BODY_MIN_RATE seconds from now. */
void conns_body_started(struct conn_slot *slot, size_t len);

/** The body on @a slot has arrived in full. */
void conns_body_done(struct conn_slot *slot);

/** Connections open now, and connections the watchdog dropped since the start. */
unsigned conns_open_count(void);
unsigned long conns_dropped_count(void);

#endif
