"""Adds the supervision paths and schemas (issue 13) to docs/openapi.json; idempotent. Kept so a
merge that conflicts in docs/openapi.json can take the other side and re-run this:
    python3 docs/supervision_openapi.py"""
import json
p = 'docs/openapi.json'
d = json.load(open(p))
S = d['components']['schemas']
E = {'$ref': '#/components/responses/Error'}
def errs(*codes):
    return {str(c): E for c in codes}
def q(name, desc, schema, required=False):
    return {'name': name, 'in': 'query', 'required': required, 'description': desc, 'schema': schema}
money = {'$ref': '#/components/schemas/Money'}
signed_money = {'type': 'string', 'pattern': '^-?[0-9]{1,13}\\.[0-9]{2}$',
                'description': 'yuan, may be negative'}
date = {'$ref': '#/components/schemas/Date'}
uscc_path = {'name': 'uscc', 'in': 'path', 'required': True,
             'description': 'the 18-character USCC (422 L002/L003 when invalid)',
             'schema': {'type': 'string'}}
IND = ['manufacturing_increase', 'first_loan_share', 'credit_share', 'medium_long_share',
       'renewal_share', 'small_micro_rate_change_pp', 'relief_funded_share', 'scf_financing']

S['FirmDetail'] = {
    'type': 'object',
    'description': 'one firm across banks; a bank sees only its own loans, referrals and programs',
    'properties': {
        'uscc': {'type': 'string'}, 'name': {'type': 'string'},
        'county_code': {'type': 'string'}, 'industry_code': {'type': 'string'},
        'size': {'enum': ['large', 'medium', 'small', 'micro']},
        'manufacturing': {'type': 'boolean'},
        'first_seen': {'type': 'string', 'format': 'date-time'},
        'updated_at': {'type': 'string', 'format': 'date-time'},
        'outstanding': money, 'loans': {'type': 'integer'},
        'banks': {'type': 'array', 'items': {'type': 'object', 'properties': {
            'bank_code': {'type': 'string'}, 'loans': {'type': 'integer'},
            'outstanding': money, 'first_issue_date': date, 'last_issue_date': date}}},
        'registry_first_loan': {'type': ['object', 'null'], 'properties': {
            'bank_code': {'type': 'string'}, 'loan_ref': {'type': 'string'},
            'issue_date': date}},
        'whitelist': {'oneOf': [{'$ref': '#/components/schemas/WhitelistEntry'},
                                {'type': 'null'}]},
        'referrals': {'type': 'array', 'items': {'type': 'object', 'properties': {
            'id': {'type': 'string'}, 'bank_code': {'type': 'string'},
            'status': {'enum': ['referred', 'accepted', 'declined', 'funded']}}}},
        'scf_programs': {'type': 'array', 'items': {'type': 'object', 'properties': {
            'id': {'type': 'integer'}, 'bank_code': {'type': 'string'},
            'role': {'enum': ['core', 'upstream', 'downstream']}}}},
    }}
S['FirmListItem'] = {'type': 'object', 'properties': {
    k: S['FirmDetail']['properties'][k] for k in
    ('uscc', 'name', 'county_code', 'industry_code', 'size', 'manufacturing', 'first_seen',
     'updated_at')}}
S['FirmHistory'] = {'type': 'object', 'properties': {
    'uscc': {'type': 'string'},
    'items': {'type': 'array', 'items': {'type': 'object', 'properties': {
        'changed_at': {'type': 'string', 'format': 'date-time'},
        'changed_by': {'type': 'string'}, 'name': {'type': 'string'},
        'county_code': {'type': 'string'}, 'industry_code': {'type': 'string'},
        'size': {'type': 'string'}}}}}}
S['ScorecardWeights'] = {
    'type': 'object', 'additionalProperties': False,
    'description': 'weight per indicator (a number, 0 or more); unnamed indicators weigh 1',
    'properties': {i: {'type': 'number', 'minimum': 0} for i in IND}}
indicator = {'type': 'object', 'properties': {
    'value': {'description': 'money indicators as yuan strings, the others numbers rounded '
                             'to 4 decimals; null when it cannot be computed',
              'oneOf': [signed_money, {'type': 'number'}, {'type': 'null'}]},
    'points': {'type': 'number', 'description': '0 to 100, 2 decimals'}}}
S['ScorecardRow'] = {'type': 'object', 'properties': {
    'bank_code': {'type': 'string'}, 'rank': {'type': 'integer'},
    'score': {'type': 'number', 'description': '0 to 100, 2 decimals'},
    'indicators': {'type': 'object', 'properties': {i: indicator for i in IND}}}}
S['Scorecard'] = {'type': 'object', 'properties': {
    'year': {'type': 'integer'}, 'as_of': date,
    'bank': {'type': 'string', 'description': '"all" or the one bank asked for'},
    'weights': {'$ref': '#/components/schemas/ScorecardWeights'},
    'rows': {'type': 'array', 'items': {'$ref': '#/components/schemas/ScorecardRow'}}}}
S['WithdrawalAlert'] = {'type': 'object', 'properties': {
    'kind': {'enum': ['recall', 'cut', 'cutoff']}, 'bank_code': {'type': 'string'},
    'uscc': {'type': 'string'}, 'name': {'type': 'string'}, 'county_code': {'type': 'string'},
    'outstanding_before': money, 'outstanding_as_of': money, 'date': date,
    'loan_ref': {'type': ['string', 'null'], 'description': 'the recalled loan; null otherwise'},
    'flags': {'type': 'array', 'items': {'enum': ['referred', 'whitelisted', 'scf_member']}}}}

json_ok = lambda ref, desc: {'description': desc, 'content': {'application/json': {'schema': ref}}}
P = d['paths']
P['/v1/firms'] = {'get': {
    'operationId': 'listFirms', 'tags': ['firms'],
    'summary': 'Search firms by name fragment or USCC prefix, county, industry, size (regulator)',
    'parameters': [
        q('q', 'a name fragment (trigram index) or the start of a USCC', {'type': 'string'}),
        q('county', '6-digit county code', {'type': 'string', 'pattern': '^[1-9][0-9]{5}$'}),
        q('industry', '4-digit class or 2-digit division', {'type': 'string'}),
        q('size', 'firm size', {'enum': ['large', 'medium', 'small', 'micro']}),
        q('limit', 'page size', {'type': 'integer', 'minimum': 1, 'maximum': 1000, 'default': 100}),
        q('after', 'next_cursor of the previous page (cursor= is the same)', {'type': 'string'}),
        q('cursor', 'next_cursor of the previous page', {'type': 'string'})],
    'responses': dict({'200': json_ok({'type': 'object', 'properties': {
        'items': {'type': 'array', 'items': {'$ref': '#/components/schemas/FirmListItem'}},
        'next_cursor': {'type': ['string', 'null']}}}, 'a page of firms')},
        **errs(401, 403, 422, 503))}}
P['/v1/firms/{uscc}'] = {'get': {
    'operationId': 'getFirm', 'tags': ['firms'],
    'summary': 'One firm across banks (a bank: its own relationship; a firm it never lent to is 404)',
    'parameters': [uscc_path],
    'responses': dict({'200': json_ok({'$ref': '#/components/schemas/FirmDetail'}, 'the firm')},
                      **errs(401, 403, 404, 422, 503))}}
P['/v1/firms/{uscc}/history'] = {'get': {
    'operationId': 'getFirmHistory', 'tags': ['firms'],
    'summary': "Every version of a firm's reference data, oldest first (regulator)",
    'parameters': [uscc_path],
    'responses': dict({'200': json_ok({'$ref': '#/components/schemas/FirmHistory'}, 'the history')},
                      **errs(401, 403, 404, 422, 503))}}
P['/v1/stats/scorecard'] = {'get': {
    'operationId': 'getScorecard', 'tags': ['supervision'],
    'summary': "The banks' scorecard (measure 7.1): eight indicators, points, score, rank "
               "(regulator; a bank its own row with bank=self)",
    'parameters': [q('year', 'e.g. 2020', {'type': 'integer'}, True),
                   q('as_of', 'within the year; default 31 December or today, whichever is earlier', date),
                   q('bank', 'regulator: one bank (ranked among all); a bank: self', {'type': 'string'})],
    'responses': dict({'200': json_ok({'$ref': '#/components/schemas/Scorecard'},
                                      'rows by score, best first; equal scores share a rank')},
                      **errs(401, 403, 422, 503))}}
P['/v1/scorecard/weights/{year}'] = {'put': {
    'operationId': 'putScorecardWeights', 'tags': ['supervision'],
    'summary': "Replaces a year's scorecard weights (regulator)",
    'parameters': [{'name': 'year', 'in': 'path', 'required': True, 'schema': {'type': 'integer'}}],
    'requestBody': {'required': True, 'content': {'application/json': {
        'schema': {'$ref': '#/components/schemas/ScorecardWeights'}}}},
    'responses': dict({'200': json_ok({'type': 'object', 'properties': {
        'year': {'type': 'integer'}, 'weights': {'$ref': '#/components/schemas/ScorecardWeights'}}},
        'the weights now in force (all eight)')}, **errs(400, 401, 403, 404, 422, 503))}}
P['/v1/alerts/withdrawals'] = {'get': {
    'operationId': 'listWithdrawalAlerts', 'tags': ['supervision'],
    'summary': 'Loans withdrawn from small firms (measure 7.4): recall, cut, cutoff over the '
               'window (as_of - window_days, as_of] (regulator; a bank its own with bank=self)',
    'parameters': [q('as_of', 'default today (Asia/Shanghai)', date),
                   q('window_days', 'window length', {'type': 'integer', 'minimum': 1,
                                                      'maximum': 3660, 'default': 90}),
                   q('bank', 'regulator: one bank; a bank: self', {'type': 'string'}),
                   q('county', '6-digit county code of the firm', {'type': 'string'}),
                   q('kind', 'one kind', {'enum': ['recall', 'cut', 'cutoff']}),
                   q('format', 'csv: UTF-8 with BOM, a header row, flags joined by ";"',
                     {'enum': ['json', 'csv'], 'default': 'json'})],
    'responses': dict({'200': {'description': 'the alerts (at most 20000; more is 422: narrow the query)',
        'content': {'application/json': {'schema': {'type': 'object', 'properties': {
            'as_of': date, 'window_days': {'type': 'integer'},
            'bank': {'type': ['string', 'null']}, 'county': {'type': ['string', 'null']},
            'kind': {'type': ['string', 'null']},
            'rows': {'type': 'array', 'items': {'$ref': '#/components/schemas/WithdrawalAlert'}},
            'total': {'type': 'integer'}}}},
            'text/csv': {'schema': {'type': 'string'}}}}}, **errs(401, 403, 422, 503))}}
t = P['/v1/stats/targets']['get']
t['responses']['200'] = {'description': '{year, as_of, rows: [{metric, target, actual, progress, '
                         'met}], scorecard: {year, as_of, bank, weights, rows: [{bank_code, rank, '
                         'score}]}}',
                         'content': {'application/json': {'schema': {'type': 'object', 'properties': {
                             'year': {'type': 'integer'}, 'as_of': date,
                             'rows': {'type': 'array', 'items': {'type': 'object'}},
                             'scorecard': {'$ref': '#/components/schemas/Scorecard'}}}}}}
open(p, 'w').write(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
