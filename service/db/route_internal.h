/* db.c's hooks into route.c: picking the replica connection for a read, and noting what
 * each connection says about the server it reached. */
#ifndef FINREG_DB_ROUTE_INTERNAL_H
#define FINREG_DB_ROUTE_INTERNAL_H

#include "db/db_internal.h"
#include "db/route.h"

/** The replica connection string, or "" when none is configured. */
const char *db_route_read_url(void);

/** For a fresh connection (exports): the replica's string when this thread is in a read
 *  scope and the replica is usable, else NULL (use the primary's). */
const char *db_route_fresh_url(void);

/** In a read scope with a usable replica: swaps this thread onto its replica connection
 *  and returns the slot holding the primary's state; else NULL. */
struct db_conn_slot *db_route_enter(void);

/** Exchanges this thread's replica connection state with @a other (a pooled
 *  connection's replica slot, lent and returned by db.c). */
void db_route_swap_replica(struct db_conn_slot *other);

/** Swaps back after db_route_enter(); @a rc is the outcome on the replica. */
void db_route_leave(struct db_conn_slot *primary, enum db_rc rc);

/** A connection was made (or checked) to @a c; @a replica says which URL; @a waited_us is
 *  how long the connect and session set-up took (0 when not a new connection). */
void db_route_connected(PGconn *c, bool replica, uint64_t waited_us);

/** The primary URL's server said whether it is in recovery (a standby). */
void db_route_note_standby(bool standby);

/** A statement failed as read-only (SQLSTATE 25006). */
void db_route_saw_read_only(bool replica);

/** Counts threads waiting to connect (+/-) and running statements (+1/-1). */
void db_route_connecting(bool waiting);
void db_route_busy(int delta);

#endif
