/* The route table and the matcher. The table is the one place that says which endpoints
 * exist, who may call them, and what bodies and query parameters they accept. */
#include "http/router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/utf8.h"
#include "handlers/handlers.h"
#include "metrics.h"

#define JSON_BODY   (1u << BODY_FORMAT_JSON)
#define JSON_OR_CSV (JSON_BODY | (1u << BODY_FORMAT_CSV))
#define READERS     (PK_BANK | PK_REGULATOR)

static const struct route routes[] = {
    {"GET", "/healthz", ops_healthz, 0, 0, NULL},
    {"GET", "/readyz", ops_readyz, 0, 0, "write"},
    {"GET", "/metrics", ops_metrics, 0, 0, NULL},
    {"GET", "/v1/openapi.json", openapi_get, 0, 0, NULL},
    {"GET", "/dashboard", dashboard_redirect, 0, 0, NULL},
    {"GET", "/dashboard/", dashboard_index, 0, 0, NULL},
    {"GET", "/dashboard/{file}", dashboard_file, 0, 0, NULL},
    {"GET", "/v1/whoami", whoami_get, PK_ANY, 0, NULL},
    {"GET", "/v1/lpr", lpr_list, PK_ANY, 0, NULL},
    {"PUT", "/v1/lpr/{date}", lpr_put, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/rules", rules_list, PK_ANY, 0, NULL},
    {"GET", "/v1/stats/new-loans", stats_new_loans, READERS, 0,
     "from, to, group_by, manufacturing, bank, format"},
    {"GET", "/v1/stats/pricing", stats_pricing, READERS, 0, "month, bank, format"},
    {"GET", "/v1/stats/lending-growth", stats_lending_growth, READERS, 0,
     "year, as_of, bank, format"},
    {"GET", "/v1/stats/targets", stats_targets, PK_REGULATOR, 0, "year, as_of, format"},
    {"PUT", "/v1/targets/{year}/{metric}", targets_put, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/warnings", warnings_list, READERS, 0, "bank, rule, from, to, limit, cursor"},
    {"POST", "/v1/loans", loans_post, PK_BANK, JSON_BODY, NULL},
    {"GET", "/v1/loans", loans_list, READERS, 0,
     "bank, borrower, issued_from, issued_to, status, limit, cursor, format"},
    {"POST", "/v1/loans/batch", loans_batch_post, PK_BANK, JSON_OR_CSV, "atomic, dry_run"},
    {"GET", "/v1/loans/{loan_ref}", loans_get, READERS, 0, "bank"},
    {"PUT", "/v1/loans/{loan_ref}", loans_put, PK_BANK, JSON_BODY, NULL},
    {"GET", "/v1/loans/{loan_ref}/history", loans_history, READERS, 0, "bank"},
    {"POST", "/v1/loans/{loan_ref}/void", loans_void, PK_BANK, JSON_BODY, NULL},
    {"POST", "/v1/loans/{loan_ref}/repayments", loans_repay, PK_BANK, JSON_BODY, NULL},
    {"POST", "/v1/scf/programs", scf_programs_post, PK_BANK, JSON_BODY, NULL},
    {"GET", "/v1/scf/programs", scf_programs_list, READERS, 0, "bank, core, limit, cursor"},
    {"GET", "/v1/scf/programs/{id}", scf_programs_get, READERS, 0, NULL},
    {"POST", "/v1/scf/programs/{id}/members", scf_members_post, PK_BANK, JSON_BODY, NULL},
    {"POST", "/v1/scf/programs/{id}/members/{uscc}/leave", scf_members_leave, PK_BANK, JSON_BODY,
     NULL},
    {"GET", "/v1/stats/scf-rewards", stats_scf_rewards, PK_REGULATOR, 0, "year, format"},
    {"POST", "/v1/referrals", referrals_post, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/referrals", referrals_list, READERS, 0,
     "bank, status, county, uscc, limit, cursor"},
    {"GET", "/v1/referrals/export", referrals_export, READERS, 0,
     "bank, status, county, uscc, format, lang"},
    {"GET", "/v1/referrals/{id}", referrals_get, READERS, 0, NULL},
    {"PATCH", "/v1/referrals/{id}", referrals_patch, PK_BANK, JSON_BODY, NULL},
    {"GET", "/v1/stats/referrals", stats_referrals, READERS, 0, "bank, as_of, format"},
    {"POST", "/v1/whitelist", whitelist_post, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/whitelist", whitelist_list, PK_ANY, 0,
     "active, county, as_of, format, limit, cursor"},
    {"GET", "/v1/whitelist/{uscc}", whitelist_get, PK_ANY, 0, "as_of"},
    {"GET", "/v1/whitelist/{uscc}/history", whitelist_history, PK_ANY, 0, NULL},
    {"POST", "/v1/whitelist/{uscc}/remove", whitelist_remove, PK_REGULATOR, JSON_BODY, NULL},
    {"PUT", "/v1/guarantors/{code}", guarantors_put, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/guarantors/{code}", guarantors_get, PK_GUARANTOR | PK_REGULATOR, 0, NULL},
    {"POST", "/v1/guarantees", guarantees_post, PK_GUARANTOR, JSON_BODY, NULL},
    {"GET", "/v1/guarantees", guarantees_list, PK_ANY, 0,
     "bank, guarantor, borrower, outstanding_on, limit, cursor"},
    {"GET", "/v1/guarantees/{guarantee_ref}", guarantees_get, PK_GUARANTOR | PK_REGULATOR, 0,
     "guarantor"},
    {"POST", "/v1/guarantees/{guarantee_ref}/release", guarantees_release, PK_GUARANTOR, JSON_BODY,
     NULL},
    {"GET", "/v1/stats/guarantee-leverage", stats_guarantee_leverage, PK_GUARANTOR | PK_REGULATOR,
     0, "guarantor, as_of, format"},
    {"GET", "/v1/firms", firms_list, PK_REGULATOR, 0,
     "q, county, industry, size, after, limit, cursor, format"},
    {"GET", "/v1/firms/{uscc}", firms_get, READERS, 0, NULL},
    {"GET", "/v1/firms/{uscc}/history", firms_history, PK_REGULATOR, 0, "limit, cursor"},
    {"GET", "/v1/stats/scorecard", stats_scorecard, READERS, 0, "year, as_of, bank, format"},
    {"PUT", "/v1/scorecard/weights/{year}", scorecard_weights_put, PK_REGULATOR, JSON_BODY, NULL},
    {"GET", "/v1/alerts/withdrawals", alerts_withdrawals, READERS, 0,
     "as_of, window_days, bank, county, kind, format"},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

_Static_assert(N_ROUTES < METRICS_MAX_ROUTES, "too many routes for the metrics table");

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *percent_decode(const char *in, size_t len)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (out == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		int hi = i + 2 < len ? hex(in[i + 1]) : -1;
		int lo = i + 2 < len ? hex(in[i + 2]) : -1;

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	if (!utf8_valid(out, o)) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	return out;
}

/* Matches one pattern against the raw path; fills params on success. */
static bool match_pattern(const char *pattern, const char *path, struct request *req,
			  bool *bad_encoding)
{
	const char *p = pattern, *s = path;
	unsigned n = 0;
	char *params[REQUEST_MAX_PARAMS];

	while (*p != '\0' && *s != '\0') {
		const char *pend = strchr(p, '/'), *send = strchr(s, '/');
		size_t plen = pend ? (size_t)(pend - p) : strlen(p);
		size_t slen = send ? (size_t)(send - s) : strlen(s);

		if (plen > 2 && p[0] == '{') {
			if (slen == 0 || n == REQUEST_MAX_PARAMS)
				goto fail;
			params[n] = percent_decode(s, slen);
			if (params[n] == NULL) {
				*bad_encoding = true;
				goto fail;
			}
			n++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			goto fail;
		}
		p += plen;
		s += slen;
		if ((*p == '/') != (*s == '/'))
			goto fail;
		if (*p == '/') {
			p++;
			s++;
		}
	}
	if (*p != '\0' || *s != '\0')
		goto fail;
	for (unsigned i = 0; i < n; i++)
		req->params[i] = params[i];
	req->n_params = n;
	return true;
fail:
	for (unsigned i = 0; i < n; i++)
		free(params[i]);
	return false;
}

enum route_match router_match(struct request *req, const char *method, const char *path)
{
	bool path_seen = false, bad_encoding = false;

	for (unsigned i = 0; i < N_ROUTES; i++) {
		bool same_method =
		    strcmp(routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0);

		if (!match_pattern(routes[i].pattern, path, req, &bad_encoding))
			continue;
		if (!same_method) {
			for (unsigned k = 0; k < req->n_params; k++) {
				free(req->params[k]);
				req->params[k] = NULL;
			}
			req->n_params = 0;
			path_seen = true;
			continue;
		}
		req->route = &routes[i];
		req->route_index = i;
		return ROUTE_FOUND;
	}
	if (bad_encoding)
		return ROUTE_BAD_ENCODING;
	return path_seen ? ROUTE_WRONG_METHOD : ROUTE_NO_PATH;
}

static char route_names[N_ROUTES][96];

void router_init(void)
{
	for (unsigned k = 0; k < N_ROUTES; k++)
		snprintf(route_names[k], sizeof route_names[k], "%s %s", routes[k].method,
			 routes[k].pattern);
}

const char *router_route_name(unsigned i)
{
	if (i < N_ROUTES)
		return route_names[i];
	if (i == router_unmatched_index())
		return "unmatched";
	return NULL;
}

int route_query_index(const struct route *r, const char *name)
{
	const char *p = r->query;
	size_t n = strlen(name);
	int i = 0;

	if (p == NULL || n == 0)
		return -1;
	for (p += strspn(p, ", "); *p != '\0'; p += strspn(p, ", "), i++) {
		size_t len = strcspn(p, ", ");

		if (len == n && memcmp(p, name, n) == 0)
			return i;
		p += len;
	}
	return -1;
}

bool router_reads_replica(const struct route *r)
{
	static const char *const primary_only[] = {"/v1/whoami", "/v1/lpr", "/v1/rules",
						   "/v1/openapi.json"};

	if (r == NULL || strcmp(r->method, "GET") != 0 || strncmp(r->pattern, "/v1/", 4) != 0 ||
	    strchr(r->pattern, '{') != NULL)
		return false;
	for (unsigned i = 0; i < sizeof primary_only / sizeof primary_only[0]; i++)
		if (strcmp(r->pattern, primary_only[i]) == 0)
			return false;
	return true;
}

unsigned router_unmatched_index(void)
{
	return METRICS_MAX_ROUTES - 1;
}
