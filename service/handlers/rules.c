/* GET /v1/rules: the validation rule catalog (the same rows as docs/rules.md). */
#include "domain/loan.h"
#include "handlers/handlers.h"
#include "http/reply.h"

void rules_list(struct request *req)
{
	json_t *items = json_array();

	for (size_t i = 0; i < rule_catalog_len; i++) {
		const struct rule *r = &rule_catalog[i];

		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", r->id,
						       "severity", rule_severity_name(r->severity),
						       "where", rule_where_name(r->where), "field",
						       r->field, "description", r->description));
	}
	reply_json(req, 200, json_pack("{s:o}", "items", items));
}
