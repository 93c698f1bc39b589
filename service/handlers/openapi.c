/* GET /v1/openapi.json: the contract as OpenAPI 3.1, compiled in from docs/openapi.json. */
#include "handlers/handlers.h"
#include "http/reply.h"

extern const char openapi_json[];
extern const unsigned long openapi_json_len;

void openapi_get(struct request *req)
{
	reply_static(req, 200, "application/json", openapi_json, openapi_json_len);
}
