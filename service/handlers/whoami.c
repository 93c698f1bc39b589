/* GET /v1/whoami: the principal the server sees for this request (kind, code, name), so a
 * bank's integration engineer can check a certificate or token before anything else. */
#include "handlers/handlers.h"
#include "http/reply.h"

void whoami_get(struct request *req)
{
	reply_json(req, 200,
		   json_pack("{s:s, s:s, s:s}", "kind", principal_kind_name(req->principal.kind),
			     "code", req->principal.code, "name", req->principal.name));
}
