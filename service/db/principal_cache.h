/* The server's cache of certificate and token digests to principals, emptied by a
 * database notification on every change (see principal_cache.c). Without
 * principal_cache_start() (the command-line tools) every look-up goes to the database. */
#ifndef FINREG_DB_PRINCIPAL_CACHE_H
#define FINREG_DB_PRINCIPAL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"
#include "principal.h"

/** Looks a digest up in the database. */
typedef enum db_rc (*principal_fetch_fn)(const char *sha256_hex, struct principal *out);

/** The principal of digest @a sha256_hex of kind @a kind ('c' certificate, 't' token):
 *  from the cache, or from @a fetch (and then remembered when it succeeds). */
enum db_rc principal_cache_lookup(char kind, const char *sha256_hex, principal_fetch_fn fetch,
				  struct principal *out);

/** The principal of digest @a sha256_hex of kind @a kind from the cache alone: true and
 *  *out filled on a hit; false when only the database can tell. Never waits. */
bool principal_cache_peek(char kind, const char *sha256_hex, struct principal *out);

/** Whether the cache's slot for digest @a sha256_hex still names it, fresh or not: the
 *  credential was found in the database before and has not failed a look-up since (a
 *  later look-up of it is a known caller's, not a stranger's). Never waits. */
bool principal_cache_seen(char kind, const char *sha256_hex);

/** The WAL position the standby this process uses had asked for between 1 and 1.5 s ago
 *  (written into @a out, at most @a size bytes), for principals_fresh(); "" when there is
 *  none (not a standby, just started, no WAL receiver, or the sampling stalled). */
void principal_cache_standby_mark(char *out, size_t size);

/** Starts the listener; until it listens, nothing is cached. */
bool principal_cache_start(void);

/** True while the listener is connected and listening (for /metrics). */
bool principal_cache_listening(void);

/** Stops the listener and empties the cache. */
void principal_cache_stop(void);

#endif
