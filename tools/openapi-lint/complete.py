#!/usr/bin/env python3
"""Completes docs/openapi.json where it is incomplete, and never changes what is there:
an operationId for every operation that has none, a response schema for every response that
has no content, the names beside codes and met: null of the statistics, and format=xlsx
(a `format` parameter and the workbook's media type) on the endpoints of docs/exports.md.
Idempotent; keeps the file's layout (json.dumps, indent 1). Run it after a merge that adds
paths, then `make openapi-lint`.

Usage: tools/openapi-lint/complete.py [docs/openapi.json]
"""

import json
import re
import sys

XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
REF = '#/components/schemas/'

# operationIds by method and path; other operations get one made from them (getFirmsUscc).
OPERATION_IDS = {
    ('get', '/healthz'): 'getHealth', ('get', '/readyz'): 'getReadiness',
    ('get', '/metrics'): 'getMetrics', ('get', '/v1/openapi.json'): 'getOpenApi',
    ('get', '/v1/whoami'): 'getWhoami', ('get', '/v1/lpr'): 'listLpr',
    ('put', '/v1/lpr/{date}'): 'putLpr', ('get', '/v1/rules'): 'listRules',
    ('get', '/v1/warnings'): 'listWarnings',
    ('post', '/v1/loans'): 'createLoan', ('get', '/v1/loans'): 'listLoans',
    ('post', '/v1/loans/batch'): 'createLoanBatch', ('get', '/v1/loans/{loan_ref}'): 'getLoan',
    ('put', '/v1/loans/{loan_ref}'): 'correctLoan',
    ('get', '/v1/loans/{loan_ref}/history'): 'getLoanHistory',
    ('post', '/v1/loans/{loan_ref}/void'): 'voidLoan',
    ('post', '/v1/loans/{loan_ref}/repayments'): 'createRepayment',
    ('get', '/v1/stats/new-loans'): 'getStatsNewLoans',
    ('get', '/v1/stats/pricing'): 'getStatsPricing',
    ('get', '/v1/stats/lending-growth'): 'getStatsLendingGrowth',
    ('get', '/v1/stats/targets'): 'getStatsTargets',
    ('put', '/v1/targets/{year}/{metric}'): 'putTarget',
    ('post', '/v1/scf/programs'): 'createScfProgram', ('get', '/v1/scf/programs'): 'listScfPrograms',
    ('get', '/v1/scf/programs/{id}'): 'getScfProgram',
    ('post', '/v1/scf/programs/{id}/members'): 'addScfMember',
    ('post', '/v1/scf/programs/{id}/members/{uscc}/leave'): 'leaveScfProgram',
    ('get', '/v1/stats/scf-rewards'): 'getStatsScfRewards',
    ('post', '/v1/referrals'): 'createReferral', ('get', '/v1/referrals'): 'listReferrals',
    ('get', '/v1/referrals/export'): 'exportReferrals', ('get', '/v1/referrals/{id}'): 'getReferral',
    ('patch', '/v1/referrals/{id}'): 'updateReferral',
    ('get', '/v1/stats/referrals'): 'getStatsReferrals',
    ('post', '/v1/whitelist'): 'createWhitelistEntry', ('get', '/v1/whitelist'): 'listWhitelist',
    ('get', '/v1/whitelist/{uscc}'): 'checkWhitelist',
    ('get', '/v1/whitelist/{uscc}/history'): 'getWhitelistHistory',
    ('post', '/v1/whitelist/{uscc}/remove'): 'removeWhitelistEntry',
    ('put', '/v1/guarantors/{code}'): 'putGuarantor', ('get', '/v1/guarantors/{code}'): 'getGuarantor',
    ('post', '/v1/guarantees'): 'createGuarantee', ('get', '/v1/guarantees'): 'listGuarantees',
    ('get', '/v1/guarantees/{guarantee_ref}'): 'getGuarantee',
    ('post', '/v1/guarantees/{guarantee_ref}/release'): 'releaseGuarantee',
    ('get', '/v1/stats/guarantee-leverage'): 'getStatsGuaranteeLeverage',
    ('get', '/v1/firms'): 'listFirms', ('get', '/v1/firms/{uscc}'): 'getFirm',
    ('get', '/v1/firms/{uscc}/history'): 'getFirmHistory',
    ('get', '/v1/stats/scorecard'): 'getStatsScorecard',
    ('put', '/v1/scorecard/weights/{year}'): 'putScorecardWeights',
    ('get', '/v1/alerts/withdrawals'): 'listWithdrawalAlerts',
}

# Endpoints answering ?format=xlsx (docs/exports.md): their formats, default first.
XLSX_FORMATS = {
    '/v1/referrals/export': ['csv', 'json', 'xlsx'],
    '/v1/whitelist': ['json', 'csv', 'xlsx'],
    '/v1/loans': ['json', 'xlsx'],
    '/v1/stats/new-loans': ['json', 'xlsx'], '/v1/stats/pricing': ['json', 'xlsx'],
    '/v1/stats/lending-growth': ['json', 'xlsx'], '/v1/stats/targets': ['json', 'xlsx'],
    '/v1/stats/guarantee-leverage': ['json', 'xlsx'], '/v1/stats/referrals': ['json', 'xlsx'],
    '/v1/stats/scf-rewards': ['json', 'xlsx'],
    '/v1/firms': ['json', 'xlsx'], '/v1/alerts/withdrawals': ['json', 'csv', 'xlsx'],
}


def ref(name):
    return {'$ref': REF + name}


def obj(props, required=None, **extra):
    s = {'type': 'object', 'properties': props}
    if required:
        s['required'] = required
    s.update(extra)
    return s


def nullable(t, **extra):
    return dict({'type': [t, 'null']}, **extra)


def flag():
    return obj({'count': {'type': 'integer'}, 'amount': ref('Money'),
                'share_count': {'type': 'number'}, 'share_amount': {'type': 'number'}})


def growth():
    return obj({k: ref('Money') for k in ('outstanding_start', 'outstanding_as_of', 'increase',
                                          'issued')})


SCHEMAS = {
    'Health': obj({'status': {'type': 'string', 'const': 'ok'}}),
    'Readiness': obj({'status': {'type': 'string', 'const': 'ready'},
                      'schema_version': {'type': 'integer'}}),
    'Whoami': obj({'kind': {'type': 'string', 'enum': ['bank', 'guarantor', 'regulator']},
                   'code': {'type': 'string'}, 'name': {'type': 'string'}}),
    'Rule': obj({'id': {'type': 'string'}, 'severity': {'type': 'string'},
                 'field': {'type': 'string'}, 'description': {'type': 'string'}}),
    'Repayment': obj({'repayment_ref': {'type': 'string'}, 'date': ref('Date'),
                      'amount': ref('Money'), 'created_at': {'type': 'string',
                                                             'format': 'date-time'}}),
    'LoanHistory': obj({
        'bank_code': {'type': 'string'}, 'loan_ref': {'type': 'string'},
        'version': {'type': 'integer'},
        'versions': {'type': 'array', 'items': obj({
            'version': {'type': 'integer'}, 'change': {'type': 'string'},
            'content': {'type': 'object'}, 'reason': nullable('string'),
            'changed_at': {'type': 'string', 'format': 'date-time'},
            'changed_by': {'type': 'string'}})},
        'repayments': {'type': 'array', 'items': ref('Repayment')}}),
    'NewLoanFlag': flag(),
    'NewLoanFigures': obj({'count': {'type': 'integer'}, 'amount': ref('Money'),
                           'first_loan': ref('NewLoanFlag'), 'credit': ref('NewLoanFlag'),
                           'medium_long_term': ref('NewLoanFlag'),
                           'renewal': ref('NewLoanFlag')}),
    'NewLoans': obj({
        'from': ref('Date'), 'to': ref('Date'),
        'group_by': {'type': 'string', 'enum': ['bank', 'county', 'industry', 'month', 'size']},
        'manufacturing': {'type': 'string', 'enum': ['true', 'false', 'all']},
        'bank': {'type': 'string', 'description': '"all" or a bank code'},
        'rows': {'type': 'array', 'items': {'allOf': [ref('NewLoanFigures'), obj({
            'group': {'type': 'string', 'description': 'bank code, county code (or "other"), '
                      'two-digit industry division, YYYY-MM or size'},
            'group_name': nullable('string', description='the bank\'s, county\'s, GB/T 4754-2017 '
                                   'division\'s or size\'s name; null for months')})]}},
        'total': ref('NewLoanFigures')}),
    'PricingPeriod': obj({'period': {'type': 'string', 'description': 'YYYY-MM'},
                          'count': {'type': 'integer'}, 'amount': ref('Money'),
                          'avg_rate': nullable('string', description='percent'),
                          'avg_spread_bp': nullable('number')}),
    'Pricing': obj({'month': {'type': 'string'}, 'bank': {'type': 'string'},
                    'rows': {'type': 'array', 'items': ref('PricingPeriod')},
                    'change_pp': nullable('number')}),
    'GrowthFigures': growth(),
    'GrowthRow': {'allOf': [ref('GrowthFigures'),
                            obj({'manufacturing': ref('GrowthFigures')})]},
    'LendingGrowth': obj({
        'year': {'type': 'integer'}, 'as_of': ref('Date'), 'bank': {'type': 'string'},
        'rows': {'type': 'array', 'items': {'allOf': [ref('GrowthRow'), obj({
            'bank_code': {'type': 'string'}, 'bank_name': nullable('string')})]}},
        'total': ref('GrowthRow')}),
    'TargetValue': {'oneOf': [ref('Money'), {'type': 'number'}, {'type': 'null'}],
                    'description': 'yuan string for money metrics, else a number'},
    'TargetRow': obj({'metric': {'type': 'string'}, 'metric_name': nullable('string'),
                      'target': ref('TargetValue'), 'actual': ref('TargetValue'),
                      'progress': nullable('number'),
                      'met': nullable('boolean', description='null when the actual is '
                                      'unknown')}),
    'Targets': obj({'year': {'type': 'integer'}, 'as_of': ref('Date'),
                    'rows': {'type': 'array', 'items': ref('TargetRow')}}),
    'TargetPut': obj({'year': {'type': 'integer'}, 'metric': {'type': 'string'},
                      'target': ref('TargetValue')}),
    'Workbook': {'type': 'string', 'format': 'binary',
                 'description': 'an XLSX workbook (docs/exports.md)'},
}

# Content of responses that have none, by method, path and status.
CONTENT = {
    ('get', '/healthz', '200'): ('application/json', ref('Health')),
    ('get', '/readyz', '200'): ('application/json', ref('Readiness')),
    ('get', '/metrics', '200'): ('text/plain', {'type': 'string'}),
    ('get', '/v1/openapi.json', '200'): ('application/json', {'type': 'object'}),
    ('get', '/v1/whoami', '200'): ('application/json', ref('Whoami')),
    ('put', '/v1/lpr/{date}', '200'): ('application/json', ref('LprRow')),
    ('put', '/v1/lpr/{date}', '201'): ('application/json', ref('LprRow')),
    ('get', '/v1/loans/{loan_ref}/history', '200'): ('application/json', ref('LoanHistory')),
    ('post', '/v1/loans/{loan_ref}/repayments', '200'): (
        'application/json', obj({'repayment': ref('Repayment'), 'loan': ref('Loan')})),
    ('post', '/v1/loans/{loan_ref}/repayments', '201'): (
        'application/json', obj({'repayment': ref('Repayment'), 'loan': ref('Loan')})),
    ('get', '/v1/rules', '200'): ('application/json', obj({'items': {'type': 'array',
                                                                     'items': ref('Rule')}})),
    ('get', '/v1/stats/new-loans', '200'): ('application/json', ref('NewLoans')),
    ('get', '/v1/stats/pricing', '200'): ('application/json', ref('Pricing')),
    ('get', '/v1/stats/lending-growth', '200'): ('application/json', ref('LendingGrowth')),
    ('get', '/v1/stats/targets', '200'): ('application/json', ref('Targets')),
    ('put', '/v1/targets/{year}/{metric}', '200'): ('application/json', ref('TargetPut')),
}


def made_id(method, path):
    words = [w for w in re.split(r'[/{}._-]+', path) if w and w != 'v1']
    return method + ''.join(w[:1].upper() + w[1:] for w in words)


def fallback_content(path):
    if path.startswith('/dashboard'):
        return {'text/html': {'schema': {'type': 'string'}}}
    return {'application/json': {'schema': {'type': 'object'}}}


def add_names(doc):
    """bank_name beside bank_code in referral progress; met null in guarantee leverage."""
    p = doc['paths']
    try:
        rows = (p['/v1/stats/referrals']['get']['responses']['200']['content']
                ['application/json']['schema']['properties']['rows']['items']['allOf'][1])
        rows['properties'].setdefault('bank_name', nullable('string'))
    except (KeyError, IndexError, TypeError):
        pass
    lev = doc['components']['schemas'].get('GuaranteeLeverageFigures', {})
    met = lev.get('properties', {}).get('met')
    if met is not None and met.get('type') == 'boolean':
        met['type'] = ['boolean', 'null']
        met.setdefault('description', 'null without net assets (unknown, not missed)')


def add_xlsx(doc):
    for path, formats in XLSX_FORMATS.items():
        op = doc['paths'].get(path, {}).get('get')
        if op is None:
            continue
        params = op.setdefault('parameters', [])
        fmt = next((x for x in params if x.get('name') == 'format'), None)
        if fmt is None:
            fmt = {'name': 'format', 'in': 'query', 'required': False}
            params.append(fmt)
        fmt['schema'] = {'type': 'string', 'enum': formats, 'default': formats[0]}
        fmt['description'] = ('xlsx: a workbook (docs/exports.md); any other value is 422')
        ok = op['responses'].get('200', {})
        ok.setdefault('content', {})[XLSX] = {'schema': ref('Workbook')}


def complete(doc):
    schemas = doc.setdefault('components', {}).setdefault('schemas', {})
    for name, s in SCHEMAS.items():
        schemas.setdefault(name, s)
    add_names(doc)
    seen = set()
    for path, item in doc['paths'].items():
        for method, op in item.items():
            if method not in ('get', 'put', 'post', 'patch', 'delete', 'head', 'options'):
                continue
            oid = op.get('operationId') or OPERATION_IDS.get((method, path)) or \
                made_id(method, path)
            while oid in seen:
                oid += 'Op'
            seen.add(oid)
            op['operationId'] = oid
            for status, resp in op.get('responses', {}).items():
                if '$ref' in resp or resp.get('content'):
                    continue
                c = CONTENT.get((method, path, status))
                resp['content'] = ({c[0]: {'schema': c[1]}} if c else fallback_content(path))
    add_xlsx(doc)
    return doc


def main(argv):
    path = argv[1] if len(argv) > 1 else 'docs/openapi.json'
    with open(path, encoding='utf-8') as f:
        doc = json.load(f)
    text = json.dumps(complete(doc), indent=1, ensure_ascii=False) + '\n'
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
