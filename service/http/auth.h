/* Who is calling: the client certificate (verified once per TLS connection, its SHA-256
 * cached in the connection's socket context) or a bearer token, mapped to an active
 * principal in the database on every request, so a disabled principal is refused at
 * once on every instance. */
#ifndef FINREG_AUTH_H
#define FINREG_AUTH_H

#include "db/db.h"
#include "http/request.h"

enum peer_state {
	PEER_UNCHECKED = 0,
	PEER_NO_CERT,
	PEER_BAD_CERT,
	PEER_CERT_OK,
};

/** Per-TLS-connection state, allocated when the connection starts, freed when it closes. */
struct tls_peer {
	enum peer_state state;
	char sha256[65];
};

enum auth_outcome {
	AUTH_OK,
	AUTH_NO_CREDENTIAL,
	AUTH_BAD_CERT,
	AUTH_UNKNOWN_CERT,
	AUTH_BAD_TOKEN,
	AUTH_DB,             /* database problem: see *rc */
	AUTH_NEEDS_DB,       /* cached_only, and the cache does not know the credential */
	AUTH_NEEDS_DB_KNOWN, /* cached_only, the cache does not hold it, but it is no stranger's:
			      * a certificate the registry's CA issued, or a token the database
			      * knew before (principal_cache_seen) */
};

/** Identifies the caller of @a req, filling req->principal on AUTH_OK. With
 *  @a cached_only a credential the principal cache does not hold answers AUTH_NEEDS_DB (or
 *  AUTH_NEEDS_DB_KNOWN) instead of asking the database. */
enum auth_outcome auth_identify(struct request *req, struct tls_peer *peer, bool cached_only,
				enum db_rc *rc);

#endif
