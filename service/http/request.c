/* Request accessors of request.h on top of libmicrohttpd's header and argument tables. */
#include "http/request.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

/* Notes that the request ran out of memory and gives "" in place of the value: a value no
 * parameter accepts, so the handler refuses rather than acts on a missing one, and
 * reply.c turns that refusal into 503 (req->out_of_memory). */
static const char *out_of_memory(struct request *req)
{
	req->out_of_memory = true;
	return "";
}

/* Keeps @a s (malloc'd) until the request is freed. */
static const char *own(struct request *req, char *s)
{
	if (req->n_owned == req->cap_owned) {
		size_t cap = req->cap_owned ? req->cap_owned * 2 : 8;
		char **grown = realloc(req->owned, cap * sizeof *grown);

		if (grown == NULL) {
			free(s);
			return out_of_memory(req);
		}
		req->owned = grown;
		req->cap_owned = cap;
	}
	req->owned[req->n_owned++] = s;
	return s;
}

const char *req_param(const struct request *req, unsigned i)
{
	return i < req->n_params ? req->params[i] : NULL;
}

const char *req_query(struct request *req, const char *name)
{
	/* The server installs an identity unescaper, so values arrive still encoded. */
	const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	char *value;

	if (raw == NULL)
		return NULL;
	value = percent_decode(raw, strlen(raw));
	if (value == NULL)
		return errno == ENOMEM ? out_of_memory(req) : NULL;
	return own(req, value);
}

const char *req_header(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool req_is(const struct request *req, unsigned mask)
{
	return req->authenticated && (req->principal.kind & mask) != 0;
}
