/* GET /v1/warnings?bank=&rule=&from=&to=: warnings stored with loans (the regulator sees
 * every bank's, a bank its own). from/to bound the date the warning was raised. */
#include "db/loans.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "http/reply.h"

void warnings_list(struct request *req)
{
	struct warning_filter f = {0};
	struct json_list l;
	bool ok;

	f.bank = bank_scope(req, false, &ok);
	if (!ok || !page_params(req, &f.after_id, &f.limit) || !query_date(req, "from", &f.from) ||
	    !query_date(req, "to", &f.to))
		return;
	f.rule = req_query(req, "rule");
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_warning_list(&f, list_add, &l));
}
