/* One HTTP request as handlers see it: path parameters, query, caller, parsed body, and
 * the reply slot. Handlers never touch libmicrohttpd; they read this and call reply.h.
 * Everything here is owned by the request and freed when the request completes. */
#ifndef FINREG_REQUEST_H
#define FINREG_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "principal.h"

struct MHD_Connection;
struct MHD_Response;
struct route;

#define REQUEST_MAX_PARAMS 4
#define REQUEST_ID_MAX     64

enum body_format {
	BODY_FORMAT_NONE,
	BODY_FORMAT_JSON,
	BODY_FORMAT_CSV,
};

struct request {
	struct MHD_Connection *conn;
	const struct route *route;
	unsigned route_index;
	char id[REQUEST_ID_MAX + 1];
	const char *method;
	const char *path; /* raw (still percent-encoded) path, owned by libmicrohttpd */
	char *params[REQUEST_MAX_PARAMS];
	unsigned n_params;
	uint64_t start_us;

	bool authenticated;
	struct principal principal;

	/* Body: raw bytes as received (body.data NUL-terminated, NULL when none), and its
	 * parse when JSON. */
	struct buf body;
	bool body_too_large;
	bool body_refused;    /* the process-wide body budget had no room: 503 */
	size_t body_reserved; /* bytes of that budget this request holds */
	enum body_format body_format;
	json_t *json;

	/* Reply: set once by reply.h, queued by the server. */
	struct MHD_Response *response;
	unsigned status;
	bool queued;
	bool
	    out_of_memory; /* an allocation failed: the reply is 503, or none (connection closed) */

	/* Strings handed out by req_query() and friends, freed with the request. */
	char **owned;
	size_t n_owned, cap_owned;
};

/** Path parameter @a i (decoded), or NULL. Owned by the request. */
const char *req_param(const struct request *req, unsigned i);

/** Query parameter @a name (the first argument whose name decodes to it, case included),
 *  percent-decoded; NULL when absent, without a value or badly encoded; "" when memory runs
 *  out (req->out_of_memory set: the reply becomes 503). Owned by the request. */
const char *req_query(struct request *req, const char *name);

/** Request header @a name (case-insensitive); NULL when absent. Owned by the request. */
const char *req_header(struct request *req, const char *name);

/** True when the caller is a principal of one of the kinds in @a mask. */
bool req_is(const struct request *req, unsigned mask);

#endif
