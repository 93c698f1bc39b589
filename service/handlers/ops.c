/* Operations endpoints, no credential needed: /healthz (the process answers), /readyz
 * (database reachable and migrated) and /metrics (Prometheus text). */
#include <string.h>

#include "db/db.h"
#include "db/principal_cache.h"
#include "db/route.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "http/router.h"
#include "metrics.h"

void ops_healthz(struct request *req)
{
	reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* /readyz: 200 when the database is reachable and migrated, with "writable" false on a
 * standby; /readyz?write=1 (what a load balancer sending writes checks) is 503 there. */
void ops_readyz(struct request *req)
{
	enum db_rc rc = db_readiness();
	const char *w = req_query(req, "write");
	bool writable = !db_is_read_only();

	switch (rc) {
	case DB_OK:
		if (!writable && w != NULL && strcmp(w, "0") != 0) {
			reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
				    "the database is a read-only standby: this instance serves "
				    "reads only");
			return;
		}
		reply_json(req, 200,
			   json_pack("{s:s, s:i, s:b}", "status", "ready", "schema_version",
				     db_schema_version_expected(), "writable", writable));
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

/* The figures of metrics_state, read now. */
static void read_state(struct metrics_state *st)
{
	struct db_route_stats r;
	struct db_pool_stats p;

	db_route_stats(&r);
	db_pool_stats(&p);
	st->pool_size = p.size;
	st->pool_busy = p.busy;
	st->pool_waiting = p.waiting;
	st->pool_timeouts = p.timeouts;
	st->db_read_only = r.read_only;
	st->replica_configured = r.replica_configured;
	st->replica_up = r.replica_up;
	st->replica_lag_s = r.replica_lag_s;
	st->reads_replica = r.reads_replica;
	st->reads_primary = r.reads_primary;
	st->read_fallbacks = r.read_fallbacks;
	st->conns_busy = r.conns_busy;
	st->conns_waiting = r.conns_waiting;
	st->conn_slow_waits = r.conn_slow_waits;
	st->listener_up = principal_cache_listening();
}

void ops_metrics(struct request *req)
{
	struct metrics_state st;
	char *text = metrics_render(router_route_name);

	read_state(&st);
	text = metrics_render_state(text, &st);

	reply_text(req, 200, "text/plain; version=0.0.4", text, text != NULL ? strlen(text) : 0);
}
