/* The HTTPS server. Threading: libmicrohttpd's thread-per-connection mode
 * (MHD_USE_THREAD_PER_CONNECTION with poll): each connection has a thread of its own, which
 * does its TLS, reads its requests and runs their handlers, database work included, with
 * the request path's pooled database connections (db_pool_join; FINREG_THREADS of them,
 * each lent for one transaction or statement). So a request held in the database holds
 * its own connection's thread and at most one database connection, no one else's
 * connection. One accepting thread (acceptor.c) applies the connection limits, which
 * bound the threads too. The request flow is: headers -> request id, length checks,
 * route, caller (the principal cache, else a bounded share of the pool), rights, media
 * type and size -> body chunks -> JSON parse, handler -> one queued reply -> access log
 * and metrics. See docs/threading.md. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json/limits.h"
#include "db/db.h"
#include "db/route.h"
#include "http/acceptor.h"
#include "http/auth.h"
#include "http/conns.h"
#include "http/reply.h"
#include "http/router.h"
#include "log.h"
#include "metrics.h"
#include "warm_up.h"

/* TLS 1.3, and TLS 1.2 with ECDHE key exchange and AEAD ciphers only (no CBC, no SHA-1
 * MACs, no RSA key exchange): `gnutls-cli -l --priority` lists what this allows. */
#define TLS_PRIORITIES                                                                             \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:"  \
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"
#define CONNECTION_MEMORY (128 * 1024)
/* Each connection's thread's stack. The deepest paths (a TLS handshake; a handler with
 * jansson, libpq and an XLSX writer) need a few tens of KiB; glibc's default of 8 MiB
 * would only cost address space, but 4096 connections x 8 MiB is 32 GiB of it.
 * AddressSanitizer's redzones make frames several times larger. */
#ifdef __SANITIZE_ADDRESS__
#define THREAD_STACK (2 * 1024 * 1024)
#else
#define THREAD_STACK (512 * 1024)
#endif

/* A request as the server holds it: what handlers see, and the server's own state. */
struct http_request {
	struct request req; /* first: a struct request * is a struct http_request * */
	enum route_match match;
};

static const struct config *config;
static atomic_int in_flight;
static atomic_size_t body_bytes_held; /* reserved by bodies in flight, see body_reserve() */
static pthread_mutex_t lookups_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lookups_freed;
static unsigned lookups;     /* strangers' tokens being looked up (lookup_take) */
static unsigned lookups_max; /* half the pool, at least one */

static bool request_id_sane(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

static void request_id_init(struct request *req)
{
	const char *given = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
	unsigned char raw[16];

	if (given != NULL && request_id_sane(given)) {
		snprintf(req->id, sizeof req->id, "%s", given);
		return;
	}
	if (RAND_bytes(raw, sizeof raw) != 1) { /* out of memory: a process-unique id will do */
		static atomic_ulong fallback;

		snprintf(req->id, sizeof req->id, "local-%lx-%lu", (unsigned long)getpid(),
			 atomic_fetch_add(&fallback, 1));
		return;
	}
	for (unsigned i = 0; i < sizeof raw; i++)
		snprintf(req->id + 2 * i, 3, "%02x", raw[i]);
}

/* NULL when out of memory: the connection is then closed, nothing else is harmed. */
static struct request *request_new(struct MHD_Connection *conn, const char *url, const char *method)
{
	/* A struct http_request, seen through its first member. */
	struct request *req = calloc(1, sizeof(struct http_request));

	if (req == NULL)
		return NULL;
	req->conn = conn;
	req->method = method;
	req->path = strdup(url);
	if (req->path == NULL) {
		free(req);
		return NULL;
	}
	req->start_us = log_monotonic_us();
	req->route_index = router_unmatched_index();
	request_id_init(req);
	atomic_fetch_add(&in_flight, 1);
	return req;
}

static void body_release(struct request *req, size_t n);

static void request_free(struct request *req)
{
	for (unsigned i = 0; i < req->n_params; i++)
		free(req->params[i]);
	for (size_t i = 0; i < req->n_owned; i++)
		free(req->owned[i]);
	free(req->owned);
	buf_free(&req->body);
	json_decref(req->json);
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	free((char *)req->path);
	body_release(req, req->body_reserved);
	free(req);
	atomic_fetch_sub(&in_flight, 1);
}

static enum MHD_Result queue(struct request *req)
{
	enum MHD_Result ret;

	if (req->queued)
		return MHD_YES;
	if (req->response == NULL && req->out_of_memory)
		return MHD_NO; /* no reply could be built: close this one connection */
	if (req->response == NULL)
		reply_error(req, ERR_INTERNAL, NULL, NULL, "handler made no reply");
	if (req->response == NULL)
		return MHD_NO;
	ret = MHD_queue_response(req->conn, req->status, req->response);
	MHD_destroy_response(req->response);
	req->response = NULL;
	req->queued = true;
	return ret;
}

struct header_count {
	unsigned content_length, transfer_encoding;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct header_count *h = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		h->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		h->transfer_encoding++;
	return MHD_YES;
}

static struct conn_slot *slot_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

static struct tls_peer *peer_of(struct request *req)
{
	struct conn_slot *slot = slot_of(req->conn);

	return slot != NULL ? &slot->peer : NULL;
}

/* The bytes of the body budget each principal's bodies in flight hold (an entry per
 * principal holding any): one principal may hold at most a quarter of the budget (or one
 * largest body, if that is more), so its bodies, however slow or many, leave the others
 * room. */
struct principal_hold {
	int64_t principal; /* its id; 0 before authentication */
	size_t held;
};

static size_t principal_share(void)
{
	size_t quarter = config->max_body_total / 4;

	return quarter > config->max_body + 1 ? quarter : config->max_body + 1;
}

static pthread_mutex_t holds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct principal_hold *holds;
static size_t n_holds, holds_cap;

/* Adds @a delta (negative: gives back) to what @a principal holds, under holds_lock;
 * false, with nothing changed, when that would pass its share or memory runs out. */
static bool principal_hold_add(int64_t principal, ptrdiff_t delta)
{
	size_t i;
	bool ok = true;

	pthread_mutex_lock(&holds_lock);
	for (i = 0; i < n_holds && holds[i].principal != principal; i++)
		;
	if (i == n_holds) {
		if (delta <= 0)
			goto out;
		if (n_holds == holds_cap) {
			size_t cap = holds_cap ? holds_cap * 2 : 16;
			struct principal_hold *grown = realloc(holds, cap * sizeof *grown);

			if (grown == NULL) {
				ok = false;
				goto out;
			}
			holds = grown;
			holds_cap = cap;
		}
		holds[n_holds++] = (struct principal_hold){principal, 0};
	}
	if (delta > 0 && holds[i].held + (size_t)delta > principal_share()) {
		ok = false;
		goto out;
	}
	holds[i].held += (size_t)delta;
	if (holds[i].held == 0)
		holds[i] = holds[--n_holds];
out:
	pthread_mutex_unlock(&holds_lock);
	return ok;
}

static int64_t holder_of(const struct request *req)
{
	return req->authenticated ? req->principal.id : 0;
}

/* Takes @a n more bytes of the process-wide body budget for @a req; false when that
 * would pass --max-body-total, or the share of it one principal may hold. */
static bool body_reserve(struct request *req, size_t n)
{
	size_t held = atomic_fetch_add(&body_bytes_held, n);

	if (held + n > config->max_body_total) {
		atomic_fetch_sub(&body_bytes_held, n);
		return false;
	}
	if (!principal_hold_add(holder_of(req), (ptrdiff_t)n)) {
		atomic_fetch_sub(&body_bytes_held, n);
		return false;
	}
	req->body_reserved += n;
	return true;
}

/* Gives back @a n bytes @a req holds of the budget. */
static void body_release(struct request *req, size_t n)
{
	if (n == 0)
		return;
	atomic_fetch_sub(&body_bytes_held, n);
	principal_hold_add(holder_of(req), -(ptrdiff_t)n);
	req->body_reserved -= n;
}

/* Reserves and allocates @a cap bytes for the body (the declared length and its NUL, or
 * more room for a chunked one); false, with nothing changed, when either fails. */
static bool body_grow(struct request *req, size_t cap)
{
	size_t more = cap - req->body.cap;

	if (!body_reserve(req, more))
		return false;
	if (!buf_reserve(&req->body, cap - 1 - req->body.len)) {
		body_release(req, more);
		return false;
	}
	return true;
}

static void reply_busy(struct request *req)
{
	reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
		    "the server holds as many request bodies as it may; retry later");
}

static struct http_request *http_of(struct request *req)
{
	return (struct http_request *)req;
}

/* A place among the database look-ups of tokens nobody has shown before: they may hold at
 * most half the pool's connections (lookups_max) at once, so a flood of made-up tokens
 * never takes the connections of known callers. A look-up waits for a place as a request
 * waits for a connection (FINREG_POOL_WAIT_MS; a burst of one new caller's requests gets
 * through), on its own connection's thread, holding no database connection. */
static bool lookup_take(void)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += config->pool_wait_ms / 1000;
	until.tv_nsec += (long)(config->pool_wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lookups_lock);
	while (ok && lookups >= lookups_max)
		ok = pthread_cond_timedwait(&lookups_freed, &lookups_lock, &until) == 0;
	if (ok)
		lookups++;
	pthread_mutex_unlock(&lookups_lock);
	return ok;
}

static void lookup_give(void)
{
	pthread_mutex_lock(&lookups_lock);
	lookups--;
	pthread_cond_signal(&lookups_freed);
	pthread_mutex_unlock(&lookups_lock);
}

static bool lookups_init(unsigned pool)
{
	pthread_condattr_t a;
	bool ok;

	lookups_max = pool / 2 > 0 ? pool / 2 : 1;
	if (pthread_condattr_init(&a) != 0)
		return false;
	ok = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&lookups_freed, &a) == 0;
	pthread_condattr_destroy(&a);
	return ok;
}

/* Who the caller is: the principal cache, else the database -- for a known credential (a
 * certificate of the registry's CA, a token found there before whose cache entry merely
 * expired) as for any request, for a stranger's token within lookup_take()'s share
 * (no place within the pool wait: 503). */
static enum auth_outcome identify(struct request *req, enum db_rc *rc)
{
	enum auth_outcome o = auth_identify(req, peer_of(req), true, rc);

	if (o == AUTH_NEEDS_DB_KNOWN)
		return auth_identify(req, peer_of(req), false, rc);
	if (o != AUTH_NEEDS_DB)
		return o;
	if (!lookup_take())
		return AUTH_NEEDS_DB;
	o = auth_identify(req, peer_of(req), false, rc);
	lookup_give();
	return o;
}

/* Identifies the caller: true when known; false when it replied (refused). */
static bool authenticate(struct request *req)
{
	enum db_rc rc;

	switch (identify(req, &rc)) {
	case AUTH_OK:
		req->authenticated = true;
		return true;
	case AUTH_NEEDS_DB_KNOWN: /* not from identify() */
	case AUTH_NEEDS_DB:
		metrics_auth_failure("lookups_busy");
		reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
			    "as many callers this server does not know yet are being looked up "
			    "as it allows; retry later");
		break;
	case AUTH_NO_CREDENTIAL:
		metrics_auth_failure("no_credential");
		reply_error(req, ERR_UNAUTHENTICATED, NULL, NULL,
			    "a client certificate or a bearer token is required");
		break;
	case AUTH_BAD_CERT:
		metrics_auth_failure("bad_certificate");
		reply_error(req, ERR_UNAUTHENTICATED, NULL, NULL,
			    "the client certificate is not issued by the registry's CA for "
			    "client authentication");
		break;
	case AUTH_UNKNOWN_CERT:
		metrics_auth_failure("unknown_certificate");
		reply_error(req, ERR_UNAUTHENTICATED, NULL, NULL,
			    "the client certificate belongs to no active principal");
		break;
	case AUTH_BAD_TOKEN:
		metrics_auth_failure("bad_token");
		reply_error(req, ERR_UNAUTHENTICATED, NULL, NULL,
			    "the bearer token is unknown, revoked or of a disabled principal");
		break;
	case AUTH_DB:
		reply_db_error(req, rc);
		break;
	}
	return false;
}

/* The media type of the body, from Content-Type (parameters ignored). */
static enum body_format body_format_of(struct request *req)
{
	const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n;

	if (ct == NULL)
		return BODY_FORMAT_NONE;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; ");
	if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
		return BODY_FORMAT_JSON;
	if (n == 8 && strncasecmp(ct, "text/csv", n) == 0)
		return BODY_FORMAT_CSV;
	return BODY_FORMAT_NONE;
}

/* Checks the body's declared size and type for a route that takes one. */
static bool check_body_headers(struct request *req)
{
	const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	req->body_format = body_format_of(req);
	if (req->body_format == BODY_FORMAT_NONE ||
	    (req->route->bodies & (1u << req->body_format)) == 0) {
		reply_error(req, ERR_UNSUPPORTED_MEDIA_TYPE, NULL, NULL, "Content-Type must be %s",
			    (req->route->bodies & (1u << BODY_FORMAT_CSV))
				? "application/json or text/csv"
				: "application/json");
		return false;
	}
	if (cl != NULL) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0') {
			reply_error(req, ERR_BAD_REQUEST, NULL, NULL, "bad Content-Length");
			return false;
		}
		if (n > config->max_body) {
			reply_error(req, ERR_PAYLOAD_TOO_LARGE, NULL, NULL,
				    "the body is %llu bytes; the limit is %zu", n,
				    config->max_body);
			return false;
		}
		/* Room for the whole declared body at once: no doubling past it. */
		if (n > 0 && !body_grow(req, (size_t)n + 1)) {
			reply_busy(req);
			return false;
		}
	}
	return true;
}

/* True when @a s is printable ASCII only, as a method or request target must be. */
static bool printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* What check_argument() finds among the query arguments. */
struct query_check {
	const struct route *route;
	const char *bad; /* the first argument not well-formed: its (encoded) name */
	bool no_memory;  /* an argument could not be decoded for want of memory */
	char *unknown;   /* the first name (decoded) the route does not take; the caller frees */
	char *repeated;  /* the first name (decoded) given twice; the caller frees */
	char *valueless; /* the first name (decoded) given without "=" or with an empty value:
			  * the caller frees */
	uint64_t seen;   /* the route's parameters given so far, by route_query_index */
};

/* Stops at the first query argument whose name or value is not well-formed
 * percent-encoded UTF-8; notes the first whose decoded name the route does not take. A bare
 * "&" (no name, no value) sends nothing and is passed over. */
static enum MHD_Result check_argument(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct query_check *q = cls;
	char *k, *v = NULL;
	bool ok;
	int at;

	(void)kind;
	errno = 0;
	k = percent_decode(key, strlen(key));
	if (k != NULL && value != NULL)
		v = percent_decode(value, strlen(value));
	ok = k != NULL && (value == NULL || v != NULL);
	free(v);
	if (!ok) {
		free(k);
		if (errno == ENOMEM) /* percent_decode: EINVAL when malformed */
			q->no_memory = true;
		else
			q->bad = key;
		return MHD_NO;
	}
	if (k[0] == '\0' && value == NULL) {
		free(k);
		return MHD_YES;
	}
	at = route_query_index(q->route, k);
	if (at < 0 && q->unknown == NULL) {
		q->unknown = k;
	} else if (at >= 0 && at < 64 && (q->seen & UINT64_C(1) << at) != 0 &&
		   q->repeated == NULL) {
		q->repeated = k; /* the handler would read the first and drop the second */
	} else if (at >= 0 && (value == NULL || value[0] == '\0') && q->valueless == NULL) {
		/* Without "=", req_query gives NULL: the handler would read it as absent. An empty
		 * value each handler judged its own way (?bank= was 404 to a bank, no filter
		 * matching nothing to the regulator). */
		q->valueless = k;
	} else {
		if (at >= 0 && at < 64)
			q->seen |= UINT64_C(1) << at;
		free(k);
	}
	return MHD_YES;
}

/* 422 unknown_field for query parameter @a name, with the ones the route takes. */
static void reply_unknown_argument(struct request *req, const char *name)
{
	const char *takes = req->route->query;

	reply_error(req, ERR_UNKNOWN_FIELD, NULL, name,
		    "%s: not a query parameter of %s %s, which takes %s", name, req->route->method,
		    req->route->pattern, takes != NULL && takes[0] != '\0' ? takes : "none");
}

/* What the headers decide once the caller is known. */
static void after_auth(struct request *req)
{
	struct query_check q = {NULL, NULL, false, NULL, NULL, NULL, 0};

	switch (http_of(req)->match) {
	case ROUTE_FOUND:
		break;
	case ROUTE_BAD_ENCODING:
		reply_error(req, ERR_BAD_REQUEST, NULL, NULL,
			    "malformed percent-encoding (or not UTF-8) in the path");
		return;
	case ROUTE_NO_PATH:
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such endpoint: %s", req->path);
		return;
	case ROUTE_WRONG_METHOD:
		reply_error(req, ERR_METHOD_NOT_ALLOWED, NULL, NULL, "%s is not allowed on %s",
			    req->method, req->path);
		return;
	}
	if (req->route->kinds != 0 && !req_is(req, req->route->kinds)) {
		reply_error(req, ERR_FORBIDDEN, NULL, NULL, "a %s may not call %s %s",
			    principal_kind_name(req->principal.kind), req->route->method,
			    req->route->pattern);
		return;
	}
	q.route = req->route;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_argument, &q);
	if (q.no_memory) {
		reply_out_of_memory(req);
		goto out;
	}
	if (q.bad != NULL) {
		reply_error(req, ERR_BAD_REQUEST, NULL, NULL,
			    "query parameter %s: malformed percent-encoding or not UTF-8",
			    printable_ascii(q.bad) ? q.bad : "(name not printable)");
		goto out;
	}
	if (q.unknown != NULL) { /* api.md: typos must not be silently dropped */
		reply_unknown_argument(req, q.unknown);
		goto out;
	}
	if (q.repeated != NULL) { /* nor a second value */
		reply_error(req, ERR_INVALID_FIELD, NULL, q.repeated,
			    "%s: given more than once; give it once", q.repeated);
		goto out;
	}
	if (q.valueless != NULL) { /* nor a name alone (?dry_run) or an empty value */
		reply_error(
		    req, ERR_INVALID_FIELD, NULL, q.valueless,
		    "%s: no value or an empty one; give it a value (%s=...) or leave it out",
		    q.valueless, q.valueless);
		goto out;
	}
	if (req->route->bodies != 0)
		check_body_headers(req);
out:
	free(q.unknown);
	free(q.repeated);
	free(q.valueless);
}

/* Everything that can be decided from the headers alone (the caller included): any reply
 * made here is the request's. */
static void begin(struct request *req)
{
	struct http_request *h = http_of(req);
	struct header_count hc = {0, 0};
	bool needs_auth;

	if (!printable_ascii(req->method) || !printable_ascii(req->path)) {
		reply_error(
		    req, ERR_BAD_REQUEST, NULL, NULL,
		    "the method and path must be printable ASCII (percent-encode the rest)");
		return;
	}
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &hc);
	if (hc.content_length > 1 || (hc.content_length > 0 && hc.transfer_encoding > 0)) {
		reply_error(
		    req, ERR_BAD_REQUEST, NULL, NULL,
		    "ambiguous body length (Content-Length with Transfer-Encoding, or twice)");
		return;
	}
	h->match = router_match(req, req->method, req->path);
	needs_auth =
	    h->match == ROUTE_FOUND ? req->route->kinds != 0 : strncmp(req->path, "/v1/", 4) == 0;
	if (needs_auth && !authenticate(req))
		return;
	after_auth(req);
}

static void append_body(struct request *req, const char *data, size_t size)
{
	if (req->route == NULL || req->route->bodies == 0 || req->body_too_large)
		return;
	if (req->body_refused)
		return;
	if (size > config->max_body - req->body.len) {
		req->body_too_large = true;
		buf_free(&req->body);
		return;
	}
	if (req->body.len + size + 1 > req->body.cap) {
		size_t cap = req->body.cap ? req->body.cap : 4096;

		while (cap < req->body.len + size + 1)
			cap *= 2;
		if (cap > config->max_body + 1)
			cap = config->max_body + 1;
		if (!body_grow(req, cap)) {
			req->body_refused = true;
			return;
		}
	}
	buf_append(&req->body, data, size); /* fits: body_grow made the room */
}

static bool parse_json_body(struct request *req)
{
	json_error_t e;

	if (req->body.len == 0) {
		reply_error(req, ERR_BAD_JSON, NULL, NULL,
			    "the body is empty; a JSON object is expected");
		return false;
	}
	switch (json_prescan(req->body.data, req->body.len, JSON_MAX_VALUES, JSON_MAX_DEPTH)) {
	case PRESCAN_OK:
		break;
	case PRESCAN_TOO_MANY_VALUES:
		reply_error(req, ERR_PAYLOAD_TOO_LARGE, NULL, NULL,
			    "the JSON body holds more than %d values", JSON_MAX_VALUES);
		return false;
	case PRESCAN_TOO_DEEP:
		reply_error(req, ERR_BAD_JSON, NULL, NULL,
			    "the JSON body nests deeper than %d levels", JSON_MAX_DEPTH);
		return false;
	}
	req->json = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &e);
	if (req->json == NULL) {
		reply_error(req, ERR_BAD_JSON, NULL, NULL, "invalid JSON at byte %d: %s",
			    e.position, e.text);
		return false;
	}
	if (!json_is_object(req->json)) {
		reply_error(req, ERR_BAD_JSON, NULL, NULL, "the body must be a JSON object");
		return false;
	}
	return true;
}

/* The whole body has arrived (or there was none): false, with the reply made, when the
 * body cannot be taken. */
static bool body_acceptable(struct request *req)
{
	if (req->body_too_large) {
		reply_error(req, ERR_PAYLOAD_TOO_LARGE, NULL, NULL,
			    "the body is larger than the limit of %zu bytes", config->max_body);
		return false;
	}
	if (req->body_refused) {
		reply_busy(req);
		return false;
	}
	return true;
}

/* Parses the body and runs the handler, on the connection's own thread. */
static void run_handler(struct request *req)
{
	if (req->route->bodies != 0 && req->body_format == BODY_FORMAT_JSON &&
	    !parse_json_body(req))
		return;
	db_read_scope(router_reads_replica(req->route));
	req->route->fn(req);
	db_read_scope(false);
	if (req->response == NULL)
		LOG_BUG("handler for %s %s made no reply", req->route->method, req->route->pattern);
}

/* Whether the request announces a body (a non-zero Content-Length, or chunks). */
static bool has_body(struct request *req)
{
	const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return true;
	return cl != NULL && strspn(cl, "0") != strlen(cl);
}

/* After the headers: a reply made from them goes out at once when a body is on its way
 * (libmicrohttpd then discards it and closes the connection); without a body it waits
 * for the final call, so the connection stays alive. */
static enum MHD_Result headers_done(struct request *req)
{
	return req->response != NULL && has_body(req) ? queue(req) : MHD_YES;
}

/* The length the body announces (check_body_headers() made room for it and its NUL), or
 * the most a chunked one may have. */
static size_t body_expected(const struct request *req)
{
	return req->body.cap > 0 ? req->body.cap - 1 : config->max_body;
}

/* The caller once more, when a body has arrived: a body may take minutes to arrive
 * (conns.h), and a credential disabled, removed or revoked meanwhile must not have it
 * acted on (docs/security.md: a change holds within a second). A cache hit costs nothing;
 * false when it replied (refused, or the credential now names another principal). */
static bool caller_still_known(struct request *req)
{
	struct principal before = req->principal;

	if (!req->authenticated || !has_body(req))
		return true;
	if (!authenticate(req)) {
		req->principal = before; /* the body budget is held under its id (holder_of) */
		return false;
	}
	if (req->principal.id == before.id && req->principal.kind == before.kind)
		return true;
	req->principal = before;
	metrics_auth_failure("credential_changed");
	reply_error(req, ERR_UNAUTHENTICATED, NULL, NULL,
		    "the credential was given to another principal while the body was sent");
	return false;
}

/* The final call: the body is complete (or there was none). */
static enum MHD_Result body_done(struct request *req)
{
	conns_body_done(slot_of(req->conn));
	if (req->queued || req->response != NULL || !body_acceptable(req) ||
	    !caller_still_known(req))
		return queue(req);
	run_handler(req);
	return queue(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)version;
	if (req == NULL) {
		db_pool_join();
		conns_request_started(slot_of(conn));
		req = request_new(conn, url, method);
		if (req == NULL) {
			LOG_WARN("out of memory: connection closed");
			return MHD_NO;
		}
		*con_cls = req;
		begin(req);
		if (req->response == NULL && has_body(req))
			conns_body_started(slot_of(conn), body_expected(req));
		return headers_done(req);
	}
	if (*upload_data_size > 0) {
		if (req->response == NULL && !req->queued)
			append_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return body_done(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;
	uint64_t micros;

	(void)cls;
	(void)toe;
	if (req == NULL)
		return;
	conns_request_done(slot_of(conn));
	micros = log_monotonic_us() - req->start_us;
	log_access(req->id, req->authenticated ? req->principal.code : NULL, req->method, req->path,
		   req->queued ? req->status : 0, micros);
	metrics_request(req->route_index, req->queued ? req->status : 0, micros);
	request_free(req);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		/* Out of memory: no slot; the connection is served without a certificate
		 * check's cache and refused at authentication. */
		*socket_context =
		    fd != NULL ? conns_open(fd->connect_fd, addr != NULL ? addr->client_addr : NULL)
			       : NULL;
	} else {
		conns_close(*socket_context);
		*socket_context = NULL;
	}
}

/* Leaves URL and query values percent-encoded: the router decodes each path segment on
 * its own, so an encoded '/' inside a loan reference stays part of that reference. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];
	size_t n;

	(void)cls;
	vsnprintf(text, sizeof text, fmt, ap);
	n = strlen(text);
	while (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	LOG_WARN("libmicrohttpd: %s", text);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		goto fail;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	buf[n] = '\0';
	fclose(f);
	return buf;
fail:
	fprintf(stderr, "finregd: cannot read %s: %s\n", path, strerror(errno));
	free(buf);
	if (f != NULL)
		fclose(f);
	return NULL;
}

/* Parses "host:port" or "[v6]:port" into @a addr. */
static bool parse_listen(const char *listen, struct sockaddr_storage *addr)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;
	size_t hl;

	if (colon == NULL || colon == listen)
		return false;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return false;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return false;
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return true;
}

/* Lets the process hold the configured connections: the soft descriptor limit up to the
 * hard one (systemd's default soft limit is 1024). */
static void raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		LOG_WARN("open file limit %llu is below --max-connections + 256",
			 (unsigned long long)rl.rlim_cur);
}

/* Waits up to @a ms for the requests in flight to end; false when some are left. */
static bool drain(uint64_t ms)
{
	uint64_t deadline = log_monotonic_us() + ms * 1000u;
	struct timespec ts = {0, 10 * 1000 * 1000};

	while (atomic_load(&in_flight) > 0 && log_monotonic_us() < deadline)
		nanosleep(&ts, NULL);
	return atomic_load(&in_flight) == 0;
}

/* SIGTERM: the requests in flight get the grace to finish (those waiting for a database
 * connection go on waiting, within FINREG_POOL_WAIT_MS). Then the pool stops lending: a
 * request still waiting for a connection answers 503 "the server is stopping", and gets
 * up to STOP_REPLY_MS to send it; one running a statement finishes it (bounded by the
 * statement timeout) while libmicrohttpd joins the connections' threads. */
#define STOP_REPLY_MS 1000u

static void finish_in_flight(unsigned grace_seconds)
{
	if (drain((uint64_t)grace_seconds * 1000u))
		return;
	LOG_WARN("%d requests still in flight after %u s; stopping anyway", atomic_load(&in_flight),
		 grace_seconds);
	db_pool_stop();
	drain(STOP_REPLY_MS);
}

/* libmicrohttpd in thread-per-connection mode, fed by the acceptor (no listening socket). */
static struct MHD_Daemon *start_daemon(const struct config *cfg, const char *cert, const char *key,
				       const char *ca)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
			 MHD_USE_TLS | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;

	return MHD_start_daemon(
	    flags, 0, NULL, NULL, &on_access, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_TRUST, ca,
	    MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_THREAD_STACK_SIZE,
	    (size_t)THREAD_STACK, MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + 16, MHD_OPTION_NOTIFY_COMPLETED,
	    &on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, &on_connection, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, &unescape_none, NULL, MHD_OPTION_EXTERNAL_LOGGER,
	    &mhd_log, NULL, MHD_OPTION_END);
}

int server_run(const struct config *cfg)
{
	struct sockaddr_storage addr;
	sigset_t signals;
	char *cert = NULL, *key = NULL, *ca = NULL;
	struct MHD_Daemon *d = NULL;
	int sig, rc = 1, listen_fd = -1;

	config = cfg;
	router_init();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	/* Blocked before the pool threads start, so they inherit the mask and only the
	 * main thread's sigwait() sees these signals. */
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	if (!parse_listen(cfg->listen, &addr)) {
		fprintf(stderr, "finregd: bad listen address: %s\n", cfg->listen);
		goto out;
	}
	cert = read_file(cfg->tls_cert);
	key = read_file(cfg->tls_key);
	ca = read_file(cfg->client_ca);
	if (cert == NULL || key == NULL || ca == NULL)
		goto out;
	raise_fd_limit(cfg);
	if (!conns_start(cfg->max_connections, cfg->max_connections_per_ip, cfg->header_timeout,
			 cfg->connection_timeout)) {
		fprintf(stderr, "finregd: cannot start the connection watchdog\n");
		goto out;
	}
	if (!lookups_init(cfg->threads) || !db_pool_start(cfg->threads, cfg->pool_wait_ms)) {
		fprintf(stderr, "finregd: cannot set up the database connection pool\n");
		goto out;
	}
	if (cfg->warm_up)
		warm_up_start();
	listen_fd = acceptor_listen(&addr, 1024);
	if (listen_fd < 0) {
		fprintf(stderr, "finregd: cannot listen on %s: %s\n", cfg->listen, strerror(errno));
		goto out;
	}
	d = start_daemon(cfg, cert, key, ca);
	if (d == NULL) {
		fprintf(stderr, "finregd: cannot serve on %s (TLS files?)\n", cfg->listen);
		goto out;
	}
	if (!acceptor_start(listen_fd, d)) {
		fprintf(stderr, "finregd: cannot start the accepting thread\n");
		goto out;
	}
	listen_fd = -1; /* the acceptor's now */
	LOG_INFO("serving https://%s, a thread per connection, %u database connections",
		 cfg->listen, cfg->threads);
	while (sigwait(&signals, &sig) != 0)
		;
	acceptor_stop(); /* before the log line, which says new connections are refused */
	LOG_INFO("signal %d: no new connections; finishing requests in flight", sig);
	finish_in_flight(cfg->shutdown_grace);
	db_pool_stop();
	MHD_stop_daemon(d);
	d = NULL;
	warm_up_stop();
	db_pool_close();
	conns_stop();
	LOG_INFO("stopped");
	rc = acceptor_failed() ? 1 : 0; /* a broken listening socket: exit non-zero */
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	warm_up_stop();
	db_pool_close();
	if (listen_fd >= 0)
		close(listen_fd);
	free(cert);
	free(key);
	free(ca);
	return rc;
}
