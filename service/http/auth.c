/* Implementation of auth.h: GnuTLS for the chain and key-purpose check (libmicrohttpd's
 * TLS is GnuTLS), OpenSSL libcrypto (crypto.h) for the SHA-256 fingerprints. */
#include "http/auth.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "db/principal_cache.h"
#include "db/principals.h"
#include "log.h"

/* Verifies the peer's chain against the configured client CA with the TLS client
 * purpose, and fingerprints the leaf. */
static void check_peer(struct request *req, struct tls_peer *peer)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session;
	const gnutls_datum_t *certs;
	unsigned int n_certs = 0, status = 0;
	gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
					 (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};

	peer->state = PEER_NO_CERT;
	if (info == NULL || info->tls_session == NULL)
		return;
	session = (gnutls_session_t)info->tls_session;
	certs = gnutls_certificate_get_peers(session, &n_certs);
	if (certs == NULL || n_certs == 0)
		return;
	if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS ||
	    status != 0) {
		peer->state = PEER_BAD_CERT;
		return;
	}
	if (sha256_hex(certs[0].data, certs[0].size, peer->sha256)) /* else stays unchecked */
		peer->state = PEER_CERT_OK;
}

static enum auth_outcome by_lookup(enum db_rc r, enum auth_outcome not_found, enum db_rc *rc)
{
	*rc = r;
	if (r == DB_OK)
		return AUTH_OK;
	return r == DB_NOT_FOUND ? not_found : AUTH_DB;
}

/* The principal cache's answer alone. A certificate has passed the CA's check already:
 * only a token, which anyone can make up, may be a stranger's. */
static enum auth_outcome cached(char kind, const char *digest, struct principal *out)
{
	if (principal_cache_peek(kind, digest, out))
		return AUTH_OK;
	return kind == 'c' || principal_cache_seen(kind, digest) ? AUTH_NEEDS_DB_KNOWN
								 : AUTH_NEEDS_DB;
}

enum auth_outcome auth_identify(struct request *req, struct tls_peer *peer, bool cached_only,
				enum db_rc *rc)
{
	const char *authz;
	char digest[65];

	*rc = DB_OK;
	if (peer != NULL && peer->state == PEER_UNCHECKED) {
		check_peer(req, peer);
		if (peer->state ==
		    PEER_UNCHECKED) { /* out of memory: 503, checked again next time */
			*rc = DB_NO_MEMORY;
			return AUTH_DB;
		}
	}
	if (peer != NULL && peer->state == PEER_BAD_CERT)
		return AUTH_BAD_CERT;
	if (peer != NULL && peer->state == PEER_CERT_OK) {
		if (cached_only)
			return cached('c', peer->sha256, &req->principal);
		return by_lookup(db_principal_by_cert(peer->sha256, &req->principal),
				 AUTH_UNKNOWN_CERT, rc);
	}
	authz = req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	if (authz == NULL)
		return AUTH_NO_CREDENTIAL;
	if (strncasecmp(authz, "Bearer ", 7) != 0 || authz[7] == '\0')
		return AUTH_BAD_TOKEN;
	if (!sha256_hex(authz + 7, strlen(authz + 7), digest)) {
		*rc = DB_NO_MEMORY;
		return AUTH_DB;
	}
	if (cached_only)
		return cached('t', digest, &req->principal);
	return by_lookup(db_principal_by_token(digest, &req->principal), AUTH_BAD_TOKEN, rc);
}
