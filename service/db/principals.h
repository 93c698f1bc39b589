/* Principals, their certificates and tokens: lookups for authentication and the writes
 * behind the `principal` and `token` commands. */
#ifndef FINREG_DB_PRINCIPALS_H
#define FINREG_DB_PRINCIPALS_H

#include <stddef.h>

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

/** Stores token digest @a token_sha256 for active principal @a code; its id (decimal) goes
 *  to @a id. DB_NOT_FOUND when no active principal has the code. */
enum db_rc db_token_add(const char *code, const char *token_sha256, char *id, size_t id_len);

/* Every change below sends NOTIFY finreg_principals (migration 009's triggers), so every
 * server's cache forgets what it knew within a second. */

/** Enables principal @a code again (its certificates and unrevoked tokens work again).
 *  DB_NOT_FOUND when there is no such principal. */
enum db_rc db_principal_enable(const char *code);

/** Attaches certificate @a cert_sha256 to existing principal @a code; *added is false when
 *  it already had it. DB_NOT_FOUND: no such principal; DB_CONFLICT: another one owns it. */
enum db_rc db_principal_cert_add(const char *code, const char *cert_sha256, const char *subject,
				 bool *added);

/** Detaches certificate @a cert_sha256 from principal @a code; *remaining is how many
 *  certificates it still has. DB_NOT_FOUND when the principal does not have it. */
enum db_rc db_principal_cert_remove(const char *code, const char *cert_sha256,
				    long long *remaining);

/** Revokes token @a id (decimal); *revoked is false when it already was revoked; @a code gets
 *  its principal's code. DB_NOT_FOUND when there is no such token. */
enum db_rc db_token_revoke(const char *id, bool *revoked, char *code, size_t code_len);

/** One principal as `finregd principal list` shows it: certs and tokens are lines of text
 *  ("  cert SHA256 added TIME SUBJECT", "  token ID issued TIME [revoked TIME]"), or "". */
struct principal_listing {
	const char *code, *kind, *status, *name, *certs, *tokens;
};

typedef void (*principal_list_fn)(void *cls, const struct principal_listing *p);

/** Calls @a fn for every principal, in code order. */
enum db_rc db_principal_list(principal_list_fn fn, void *cls);

#endif
