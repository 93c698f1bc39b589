/* Every request handler, one resource per file. A handler reads the request and makes
 * exactly one reply (http/reply.h). */
#ifndef FINREG_HANDLERS_H
#define FINREG_HANDLERS_H

#include "http/request.h"

/* ops.c */
void ops_healthz(struct request *req);
void ops_readyz(struct request *req);
void ops_metrics(struct request *req);
/* openapi.c */
void openapi_get(struct request *req);
/* whoami.c */
void whoami_get(struct request *req);
/* lpr.c */
void lpr_list(struct request *req);
void lpr_put(struct request *req);

#endif
