/* Operations endpoints, no credential needed: /healthz (the process answers), /readyz
 * (database reachable and migrated) and /metrics (Prometheus text). */
#include <string.h>

#include "db/db.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "http/router.h"
#include "metrics.h"

void ops_healthz(struct request *req)
{
	reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void ops_readyz(struct request *req)
{
	enum db_rc rc = db_readiness();

	switch (rc) {
	case DB_OK:
		reply_json(req, 200,
			   json_pack("{s:s, s:i}", "status", "ready", "schema_version",
				     db_schema_version_expected()));
		return;
	case DB_PENDING_MIGRATIONS:
		reply_error(
		    req, ERR_UNAVAILABLE, NULL, NULL,
		    "database migrations are pending (want version %d); run finregd migrate",
		    db_schema_version_expected());
		return;
	default:
		reply_error(req, ERR_UNAVAILABLE, NULL, NULL, "the database is unreachable");
		return;
	}
}

void ops_metrics(struct request *req)
{
	char *text = metrics_render(router_route_name);

	reply_text(req, 200, "text/plain; version=0.0.4", text, strlen(text));
}
