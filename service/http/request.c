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

/* What find_argument() looks for and finds. */
struct query_lookup {
	const char *name; /* decoded */
	const char *raw;  /* the value of the first argument of that name, still encoded */
	bool no_memory;
};

/* Stops at the first argument whose name decodes to l->name (the server checked every name
 * before the handler ran, so a name that does not decode here is out of memory). */
static enum MHD_Result find_argument(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct query_lookup *l = cls;
	char *k;
	bool same;

	(void)kind;
	if (strchr(key, '%') == NULL) {
		same = strcmp(key, l->name) == 0;
	} else {
		k = percent_decode(key, strlen(key));
		if (k == NULL) {
			l->no_memory = errno == ENOMEM;
			return MHD_YES;
		}
		same = strcmp(k, l->name) == 0;
		free(k);
	}
	if (!same)
		return MHD_YES;
	l->raw = value;
	return MHD_NO;
}

const char *req_query(struct request *req, const char *name)
{
	/* The server installs an identity unescaper, so names and values arrive still encoded;
	 * a name is matched as it decodes (dry%5Frun is dry_run), exactly, the first one first. */
	struct query_lookup l = {name, NULL, false};
	char *value;

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_argument, &l);
	if (l.raw == NULL)
		return l.no_memory ? out_of_memory(req) : NULL;
	value = percent_decode(l.raw, strlen(l.raw));
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
