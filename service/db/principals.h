/* Principals, their certificates and tokens: lookups for authentication and the writes
 * behind the `principal` and `token` commands. */
#ifndef FINREG_DB_PRINCIPALS_H
#define FINREG_DB_PRINCIPALS_H

#include "db/db.h"
#include "principal.h"

/** Active principal owning the certificate with SHA-256 @a sha256_hex; DB_NOT_FOUND when
 *  unknown or disabled. In the server, answered from db/principal_cache.h. */
enum db_rc db_principal_by_cert(const char *sha256_hex, struct principal *out);

/** Active principal owning the unrevoked token whose SHA-256 is @a sha256_hex. */
enum db_rc db_principal_by_token(const char *sha256_hex, struct principal *out);

/**
 * Registers principal @a code (created when new) and attaches certificate @a cert_sha256.
 * An existing code of the same kind gets the certificate added (key rotation); one of
 * another kind is DB_CONFLICT, and so is a certificate already owned by another
 * principal. *created says whether the principal is new.
 */
enum db_rc db_principal_add(enum principal_kind kind, const char *code, const char *name,
			    const char *cert_sha256, const char *subject, bool *created);

/** Disables principal @a code: its certificates and tokens stop working at once (every
 *  server's cache is emptied by the notification the change sends). DB_NOT_FOUND when
 *  there is no such principal. */
enum db_rc db_principal_disable(const char *code);

/** Stores token digest @a token_sha256 for active principal @a code. */
enum db_rc db_token_add(const char *code, const char *token_sha256);

#endif
