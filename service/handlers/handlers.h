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

/* loans.c */
void loans_post(struct request *req);
void loans_get(struct request *req);
void loans_list(struct request *req);
void loans_put(struct request *req);
void loans_history(struct request *req);
void loans_void(struct request *req);
void loans_repay(struct request *req);
/* loans_batch.c */
void loans_batch_post(struct request *req);
/* rules.c */
void rules_list(struct request *req);
/* warnings.c */
void warnings_list(struct request *req);

/* stats.c */
void stats_new_loans(struct request *req);
void stats_pricing(struct request *req);
void stats_lending_growth(struct request *req);
void stats_targets(struct request *req);
void targets_put(struct request *req);

#endif
