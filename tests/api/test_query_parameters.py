"""Query parameters are fields too (api.md, errors: unknown_field 422, "a field this endpoint
does not know (typos must not be silently dropped)"): every route of the table in
service/http/router.c answers a parameter it does not read with 422 unknown_field naming it,
and does nothing else; every parameter the served OpenAPI document lists for a route is one
it takes. The order stays: route, caller, kind (403), query, body."""

import os
import re

import finreg_data as fd
import harness

ROUTER_C = os.path.join(harness.ROOT, 'service', 'http', 'router.c')
MASKS = {'0': set(), 'PK_BANK': {'bank'}, 'PK_GUARANTOR': {'guarantor'},
         'PK_REGULATOR': {'regulator'}, 'READERS': {'bank', 'regulator'},
         'PK_ANY': {'bank', 'guarantor', 'regulator'}}
PATH_VALUES = {'loan_ref': 'Q-1', 'id': '1', 'uscc': '91350200776049653A', 'date': '2020-01-01',
               'year': '2020', 'metric': 'lending_increase', 'file': 'index.html',
               'code': 'SM-GUAR', 'guarantee_ref': 'G-1'}
UNKNOWN = 'zz_not_a_parameter'
# Tables a refused request must leave as they were.
TABLES = ('loans', 'loan_versions', 'repayments', 'loan_warnings', 'firms', 'lpr_rates',
          'targets', 'scorecard_weights', 'scf_programs', 'scf_members', 'referrals',
          'referral_events', 'whitelist_entries', 'guarantors', 'guarantor_versions',
          'guarantees', 'idempotency_keys')


def routes():
    """(method, pattern, kinds) of every row of the route table in router.c."""
    with open(ROUTER_C, encoding='utf-8') as f:
        src = f.read()
    table = re.search(r'static const struct route routes\[\] = \{(.*?)\n\};', src, re.S)
    assert table, 'route table not found in router.c'
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*\w+\s*,\s*([^,]+?)\s*,',
                      table.group(1))
    assert len(rows) >= 50, rows
    out = []
    for method, pattern, mask in rows:
        kinds = set()
        for term in mask.split('|'):
            assert term.strip() in MASKS, (method, pattern, mask)
            kinds |= MASKS[term.strip()]
        out.append((method, pattern, kinds))
    return out


def path_of(pattern):
    return re.sub(r'\{(\w+)\}', lambda m: PATH_VALUES[m.group(1)], pattern)


def caller(kinds):
    """A client of a kind the route admits (the regulator first), None for open routes."""
    for who in ('regulator', 'bank', 'guarantor'):
        if who in kinds:
            return harness.client(who)
    return harness.client(None)


def send(c, method, path):
    if method in ('POST', 'PUT', 'PATCH'):
        return c.request(method, path, json={})
    return c.request(method, path)


def table_counts():
    return harness.psql('SELECT ' + ', '.join(f'(SELECT count(*) FROM {t})' for t in TABLES))[0]


def expect_unknown(r, name):
    assert r.status == 422, (name, r)
    err = r.json()['error']
    assert err['code'] == 'unknown_field' and err.get('field') == name, err
    assert name in err['message'], err
    return err


def stored(ref, who='bank'):
    return harness.client(who).get('/v1/loans/' + harness.quote(ref)).status


def test_every_route_answers_an_unknown_query_parameter_422_and_changes_nothing():
    before = table_counts()
    wrong = []
    for method, pattern, kinds in routes():
        r = send(caller(kinds), method, path_of(pattern) + f'?{UNKNOWN}=1')
        err = r.json().get('error', {}) if r.header('Content-Type', '').startswith(
            'application/json') else {}
        if (r.status, err.get('code'), err.get('field')) != (422, 'unknown_field', UNKNOWN):
            wrong.append((method, pattern, r))
    assert not wrong, wrong
    assert table_counts() == before, (before, table_counts())


def test_the_wrong_kind_of_caller_is_403_before_any_query_check():
    for method, pattern, kinds in routes():
        others = [k for k in ('bank', 'guarantor', 'regulator') if kinds and k not in kinds]
        for who in others:
            r = harness.client(who).request(method, path_of(pattern) + f'?{UNKNOWN}=1')
            assert r.status == 403, (who, method, pattern, r)


def test_routing_and_the_caller_come_before_the_query():
    assert harness.client('bank').get(f'/v1/nothing-here?{UNKNOWN}=1').status == 404
    assert harness.client('bank').patch(f'/v1/loans?{UNKNOWN}=1', json={}).status == 405
    assert harness.client(None).get(f'/v1/loans?{UNKNOWN}=1').status == 401
    # malformed percent-encoding is 400 wherever it is, even after an unknown name
    r = harness.client('bank').get(f'/v1/loans?{UNKNOWN}=1&limit=%ZZ')
    assert r.status == 400 and r.json()['error']['code'] == 'bad_request', r


def test_every_parameter_the_openapi_document_lists_is_taken():
    doc = harness.client(None).get('/v1/openapi.json').json()
    params = doc.get('components', {}).get('parameters', {})
    refused = []
    for method, pattern, kinds in routes():
        op = doc['paths'][pattern][method.lower()]
        listed = doc['paths'][pattern].get('parameters', []) + op.get('parameters', [])
        listed = [params[p['$ref'].rsplit('/', 1)[1]] if '$ref' in p else p for p in listed]
        for name in [p['name'] for p in listed if p.get('in') == 'query']:
            # no body: a write stops at its media type (415), after the query check
            r = caller(kinds).request(method, path_of(pattern) + f'?{name}=x')
            if r.status == 422 and r.json()['error']['code'] == 'unknown_field':
                refused.append((method, pattern, name, r))
    assert not refused, refused


def test_misspelt_dry_run_of_a_batch_is_refused_and_stores_nothing():
    c = harness.client('bank')
    loans = [fd.loan(), fd.loan()]
    before = table_counts()
    r = c.post('/v1/loans/batch?dryrun=true', json={'loans': loans},
               headers={'Idempotency-Key': harness.unique('qp-')})
    err = expect_unknown(r, 'dryrun')
    assert 'dry_run' in err['message'] and 'atomic' in err['message'], err
    r = c.post('/v1/loans/batch?dryrun=true', body=fd.loans_csv(loans), content_type='text/csv')
    expect_unknown(r, 'dryrun')
    r = c.post('/v1/loans/batch?atomic=true&dry_run=true&Atomic=true', json={'loans': loans})
    expect_unknown(r, 'Atomic')
    assert [stored(x['loan_ref']) for x in loans] == [404, 404]
    assert table_counts() == before, (before, table_counts())
    r = c.post('/v1/loans/batch?dry_run=true', json={'loans': loans})
    assert r.status == 200 and r.json()['dry_run'] is True and r.json()['stored'] is False, r
    assert [stored(x['loan_ref']) for x in loans] == [404, 404]


def test_a_single_loan_post_takes_no_query_parameter_and_stores_nothing():
    c = harness.client('bank')
    loan = fd.loan()
    before = table_counts()
    err = expect_unknown(c.post('/v1/loans?dry_run=true', json=loan), 'dry_run')
    assert 'none' in err['message'], err
    assert stored(loan['loan_ref']) == 404
    assert table_counts() == before, (before, table_counts())


def test_the_loan_writes_refuse_an_unknown_parameter_and_leave_the_loan_as_it_was():
    c = harness.client('bank')
    loan = fd.loan()
    assert c.post('/v1/loans', json=loan).status == 201
    ref = '/v1/loans/' + harness.quote(loan['loan_ref'])
    before = table_counts()
    expect_unknown(c.put(ref + '?force=1', json=dict(loan, amount='4000000.00'),
                         headers={'If-Match': '"1"'}), 'force')
    expect_unknown(c.post(ref + '/void?reason=x', json={'reason': 'typo'}), 'reason')
    expect_unknown(c.post(ref + '/repayments?dry_run=true', json=fd.repayment()), 'dry_run')
    assert table_counts() == before, (before, table_counts())
    now = c.get(ref).json()
    assert (now['version'], now['amount'], now['status'], now['outstanding']) == \
        (1, '5000000.00', 'active', '5000000.00'), now


def test_misspelt_filters_of_lists_are_refused():
    bank, reg = harness.client('bank'), harness.client('regulator')
    err = expect_unknown(bank.get('/v1/loans?stauts=void&limit=1'), 'stauts')
    assert 'status' in err['message'], err
    expect_unknown(reg.get('/v1/loans?bank=CIB-SM&borower=91350200776049653A'), 'borower')
    expect_unknown(reg.get('/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&groupby=county'),
                   'groupby')
    expect_unknown(reg.get('/v1/stats/targets?year=2020&bank=CIB-SM'), 'bank')
    expect_unknown(reg.get('/v1/alerts/withdrawals?window=30'), 'window')
    expect_unknown(reg.get('/v1/referrals/export?format=csv&limit=10'), 'limit')
    # the name is what it decodes to; the value plays no part; a bare '&' is no parameter
    expect_unknown(bank.get('/v1/loans?st%61tu=void'), 'statu')
    assert bank.get('/v1/loans?&limit=1&&status=active&').status == 200


def test_operations_and_dashboard_routes_check_their_parameters_too():
    anon = harness.client(None)
    r = anon.get('/readyz?write=1')
    assert r.status == 200 and r.json()['writable'] is True, r
    expect_unknown(anon.get('/readyz?writable=1'), 'writable')
    expect_unknown(anon.get('/healthz?verbose=1'), 'verbose')
    expect_unknown(anon.get('/metrics?name=finreg_db_errors_total'), 'name')
    expect_unknown(anon.get('/dashboard/?year=2020'), 'year')
    assert anon.get('/dashboard/').status == 200
    assert anon.get('/metrics').status == 200


def dashboard_queries():
    """(path, [(name, value)]) of every API call web/src/app.js builds with url(): a panel's
    path and parameters, or url(path, {...}) itself (the pricing months)."""
    values = {'year': '2020', 'from': '2020-01-01', 'to': '2020-12-31',
              'as_of': '2020-12-31', 'month': '2020-12'}
    with open(os.path.join(harness.ROOT, 'web', 'src', 'app.js'), encoding='utf-8') as f:
        app = f.read()
    calls = re.findall(r"panel\('[^']*', '[^']*', '(/v1/[^']+)', \{([^}]*)\}", app)
    calls += re.findall(r"url\('(/v1/[^']+)', \{([^}]*)\}\)", app)
    assert len(calls) >= 10, calls
    out = []
    for path, members in calls:
        query = []
        for member in members.split(','):
            name, _, value = (x.strip() for x in member.partition(':'))
            literal = re.fullmatch(r"'([^']*)'|(\d+)", value)
            query.append((name, next(g for g in literal.groups() if g) if literal
                          else values[name]))
        out.append((path, query))
    return out


def test_what_the_dashboard_sends_is_taken():
    """Every call of the page, as the regulator and (with bank=self, as url() adds it) as a
    bank, and with format=xlsx as its downloads add it: never 422 (nor any other refusal
    but a bank's 403 on the regulator's panels)."""
    for path, query in dashboard_queries():
        q = '&'.join(f'{k}={v}' for k, v in query)
        for extra in ('', '&format=xlsx'):
            r = harness.client('regulator').get(f'{path}?{q}{extra}')
            assert r.status == 200, (path, q, extra, r)
            r = harness.client('bank').get(f'{path}?{q}&bank=self{extra}')
            assert r.status in (200, 403), (path, q, extra, r)


def test_a_percent_encoded_name_is_the_parameter_it_decodes_to():
    """The check takes dry%5Frun for dry_run; so must the handler, or the flag is dropped."""
    c = harness.client('bank')
    loan = fd.loan()
    r = c.post('/v1/loans/batch?dry%5Frun=true', json={'loans': [loan]})
    assert r.status == 200 and r.json()['dry_run'] is True and r.json()['stored'] is False, r
    assert stored(loan['loan_ref']) == 404
    assert c.post('/v1/loans', json=loan).status == 201
    r = c.get('/v1/loans?stat%75s=void&lim%69t=1000')
    assert r.status == 200, r
    refs = [x['loan_ref'] for x in r.json()['items']]
    assert loan['loan_ref'] not in refs and all(x['status'] == 'void' for x in r.json()['items']), r


def _batch_refused_on_dry_run(bank, query):
    """A batch posted with @query answers 422 on dry_run and stores nothing."""
    loans = [fd.loan()]
    before = table_counts()
    r = bank.post('/v1/loans/batch?' + query, json={'loans': loans})
    assert r.status == 422 and r.json()['error']['field'] == 'dry_run', r.text
    assert stored(loans[0]['loan_ref']) == 404
    assert table_counts() == before, (before, table_counts())


def test_a_parameter_given_twice_is_refused_not_read_once():
    """The handler reads one value of a name; a second one (`?status=void&status=active`,
    a batch's `?dry_run=true&dry_run=false`) would be dropped silently, so it is 422
    invalid_field naming it, and nothing is stored."""
    bank = harness.client('bank')
    for path in ('/v1/loans?status=void&status=active', '/v1/loans?limit=1&limit=2',
                 '/v1/loans?status=void&st%61tus=void'):
        r = bank.get(path)
        assert r.status == 422, (path, r.text)
        err = r.json()['error']
        assert (err['code'], err['field']) == ('invalid_field', 'status' if 'stat' in path
                                               else 'limit'), (path, err)
        assert 'more than once' in err['message'], err
    _batch_refused_on_dry_run(bank, 'dry_run=true&dry_run=false')


def test_a_parameter_without_a_value_is_refused_not_read_as_absent():
    """`?dry_run` (no "=") reads as absent to the handler: the batch was stored and
    `?status` listed every loan. 422 invalid_field naming it."""
    bank = harness.client('bank')
    r = bank.get('/v1/loans?status')
    assert r.status == 422 and r.json()['error']['field'] == 'status', r.text
    assert 'value' in r.json()['error']['message'], r.text
    _batch_refused_on_dry_run(bank, 'dry_run')


def test_an_empty_value_is_refused_on_every_parameter_of_every_route():
    """`?bank=` was each handler's to judge, and they judged differently: a bank got 404
    for its own loans (as if naming another bank), the regulator an empty list. An empty
    value is 422 invalid_field naming the parameter, on every route, before the body, and
    nothing changes; `?dry_run=` does not store a batch."""
    doc = harness.client(None).get('/v1/openapi.json').json()
    params = doc.get('components', {}).get('parameters', {})
    before = table_counts()
    wrong, checked = [], 0
    for method, pattern, kinds in routes():
        op = doc['paths'][pattern][method.lower()]
        listed = doc['paths'][pattern].get('parameters', []) + op.get('parameters', [])
        listed = [params[p['$ref'].rsplit('/', 1)[1]] if '$ref' in p else p for p in listed]
        for name in [p['name'] for p in listed if p.get('in') == 'query']:
            r = send(caller(kinds), method, path_of(pattern) + f'?{name}=')
            err = r.json().get('error', {}) if r.header('Content-Type', '').startswith(
                'application/json') else {}
            checked += 1
            if (r.status, err.get('code'), err.get('field')) != (422, 'invalid_field', name) \
                    or 'empty' not in err.get('message', ''):
                wrong.append((method, pattern, name, r))
    assert not wrong, wrong
    assert checked >= 60, checked
    assert table_counts() == before, (before, table_counts())
    bank = harness.client('bank')
    r = bank.get('/v1/loans?bank=')
    assert r.status == 422 and r.json()['error']['field'] == 'bank', r
    _batch_refused_on_dry_run(bank, 'dry_run=')
