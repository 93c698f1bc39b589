/* The route table: method, path pattern, handler, who may call it, which bodies and which
 * query parameters it takes. Matching splits the raw path on '/' and percent-decodes each
 * parameter. */
#ifndef FINREG_ROUTER_H
#define FINREG_ROUTER_H

#include <stdbool.h>

#include "http/request.h"

typedef void (*handler_fn)(struct request *req);

struct route {
	const char *method;
	const char *pattern; /* "/v1/loans/{loan_ref}" */
	handler_fn fn;
	unsigned kinds;  /* mask of principal kinds allowed; 0 = no credential needed */
	unsigned bodies; /* mask of (1u << BODY_FORMAT_x) accepted; 0 = no body */
	/* The query parameter names the handler reads (req_query), as "a, b, c"; NULL or "" =
	 * none. Any other name is refused before the handler runs (422 unknown_field). */
	const char *query;
};

enum route_match {
	ROUTE_FOUND,
	ROUTE_NO_PATH,
	ROUTE_WRONG_METHOD,
	ROUTE_BAD_ENCODING,
};

/** Finds the route for @a method and raw @a path. On ROUTE_FOUND sets req->route,
 *  req->route_index and the decoded req->params (owned by the request). */
enum route_match router_match(struct request *req, const char *method, const char *path);

/** The position of @a name (decoded) among the query parameters of route @a r (0 for the
 *  first), or -1 when the route does not take it. */
int route_query_index(const struct route *r, const char *name);

/** Prepares the route names; call once before serving. */
void router_init(void);

/** True for the routes whose reads may be served by a read replica (FINREG_READ_DATABASE_URL):
 *  GETs of lists, statistics and exports under /v1/. Reads of one record (a path
 *  parameter) stay on the primary, so a bank reads back what it just wrote. */
bool router_reads_replica(const struct route *r);

/** "GET /v1/lpr/{date}" for route @a i, "unmatched" for the last metrics slot, NULL
 *  for unused indexes. Static storage. */
const char *router_route_name(unsigned i);

/** Index used for requests that matched no route. */
unsigned router_unmatched_index(void);

/** Percent-decodes @a len bytes of @a in into a new NUL-terminated string (caller frees).
 *  NULL with errno EINVAL when an escape is malformed, decodes to a NUL byte, or the
 *  result is not UTF-8; NULL with errno ENOMEM when memory runs out. */
char *percent_decode(const char *in, size_t len);

#endif
