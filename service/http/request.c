/* Request accessors of request.h on top of libmicrohttpd's header and argument tables. */
#include "http/request.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static const char *own(struct request *req, char *s)
{
	if (s == NULL)
		return NULL;
	if (req->n_owned == req->cap_owned) {
		size_t cap = req->cap_owned ? req->cap_owned * 2 : 8;
		char **grown = realloc(req->owned, cap * sizeof *grown);

		if (grown == NULL)
			abort();
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

	if (raw == NULL)
		return NULL;
	return own(req, percent_decode(raw, strlen(raw)));
}

const char *req_header(struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool req_is(const struct request *req, unsigned mask)
{
	return req->authenticated && (req->principal.kind & mask) != 0;
}
