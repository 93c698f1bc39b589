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
/* dashboard.c: static files of the browser dashboard, from FINREG_WEB_DIR */
void dashboard_set_dir(const char *dir);
void dashboard_redirect(struct request *req);
void dashboard_index(struct request *req);
void dashboard_file(struct request *req);
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
void stats_scorecard(struct request *req);
void scorecard_weights_put(struct request *req);
void alerts_withdrawals(struct request *req);
void firms_get(struct request *req);
void firms_history(struct request *req);
void firms_list(struct request *req);

/* scf.c */
void scf_programs_post(struct request *req);
void scf_programs_list(struct request *req);
void scf_programs_get(struct request *req);
void scf_members_post(struct request *req);
void scf_members_leave(struct request *req);
void stats_scf_rewards(struct request *req);

/* referrals.c */
void referrals_post(struct request *req);
void referrals_patch(struct request *req);
void referrals_get(struct request *req);
void referrals_list(struct request *req);
void stats_referrals(struct request *req);
struct referral_filter;
/** Reads the filters of the referral list and export (bank scope, status, county, uscc;
 *  with @a paged also limit and cursor) into @a f; replies and returns false on error. */
bool referral_filter_read(struct request *req, struct referral_filter *f, bool paged);
/* referrals_export.c */
void referrals_export(struct request *req);

/* whitelist.c */
void whitelist_post(struct request *req);
void whitelist_list(struct request *req);
void whitelist_get(struct request *req);
void whitelist_remove(struct request *req);
void whitelist_history(struct request *req);
/* guarantees.c */
void guarantors_put(struct request *req);
void guarantors_get(struct request *req);
void guarantees_post(struct request *req);
void guarantees_list(struct request *req);
void guarantees_get(struct request *req);
void guarantees_release(struct request *req);
void stats_guarantee_leverage(struct request *req);

#endif
