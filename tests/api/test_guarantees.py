"""Guarantors and guarantees: the regulator records a guarantor's net assets (every version
kept, at most 1,000), only guarantor principals post and release guarantees, a guarantee is
idempotent on guarantee_ref (identical 200, different 409) and must fit a loan of the named
bank (else 422 saying which field and why), lists are scoped to who asks, and the leverage
statistics on a small case computed by hand below (not by the code under test), with the
statistics target reading the same figure. The hand case lives in 2019, a year without a
targets row, so the default target 1.5 applies whatever other test files do to 2020's
targets."""

import decimal

import finreg_data as fd
import harness


# --------------------------------------------------------------------------- helpers

def expect_error(r, status, code, field=None):
    assert r.status == status, (status, r)
    err = r.json()['error']
    assert err['code'] == code, err
    assert err.get('field') == field, err
    assert isinstance(err.get('message'), str) and err['message'], err
    assert err.get('request_id'), err
    return err


def guaranteed_loan(bank, guarantor_code=None, amount='5000000.00', issue_date='2019-02-20',
                    maturity_date='2022-02-19', **fields):
    """Posts a guaranteed loan as `bank` and returns it."""
    body = fd.loan(amount=amount, credit_line=amount, issue_date=issue_date,
                   maturity_date=maturity_date, guarantee_mode='guaranteed',
                   guarantor_code=guarantor_code, **fields)
    r = bank.post('/v1/loans', json=body)
    assert r.status == 201, (body, r)
    return r.json()


def guarantee(loan, ref=None, amount='1000000.00', start_date=None, end_date='2020-12-31',
              **fields):
    body = {'guarantee_ref': ref or fd.loan_ref('G'), 'bank_code': loan['bank_code'],
            'loan_ref': loan['loan_ref'], 'borrower_uscc': loan['borrower']['uscc'],
            'amount': amount, 'start_date': start_date or loan['issue_date'],
            'end_date': end_date}
    body.update(fields)
    return body


def post(g, body, status=201):
    r = g.post('/v1/guarantees', json=body)
    assert r.status == status, (body, r)
    return r.json()


def release(g, ref, date):
    return g.post('/v1/guarantees/%s/release' % harness.quote(ref), json={'date': date})


def put_guarantor(reg, code, net_assets, as_of, name=None):
    return reg.put('/v1/guarantors/' + code,
                   json={'name': name or '测试担保公司' + code, 'net_assets': net_assets,
                         'as_of': as_of})


def leverage(c, as_of, guarantor=None):
    q = '/v1/stats/guarantee-leverage?as_of=' + as_of
    r = c.get(q + ('&guarantor=' + guarantor if guarantor else ''))
    assert r.status == 200, r
    return r.json()


def row_of(answer, code):
    rows = [x for x in answer['rows'] if x['guarantor_code'] == code]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def new_guarantor(reg):
    """A fresh guarantor principal (its own certificate) and a client speaking as it."""
    ident = harness.new_principal('guarantor')
    return ident, harness.client(ident)


# --------------------------------------------------------------------------- guarantors

def test_guarantor_put_keeps_every_version_and_an_identical_put_is_unchanged():
    reg = harness.client('regulator')
    ident, g = new_guarantor(reg)
    r = put_guarantor(reg, ident.code, '3000000.00', '2019-01-01', name='三明市融资担保有限公司')
    assert r.status == 201, r
    first = r.json()
    assert first['code'] == ident.code and first['name'] == '三明市融资担保有限公司', first
    assert first['net_assets'] == '3000000.00' and first['as_of'] == '2019-01-01', first
    assert first['version'] == 1 and len(first['versions']) == 1, first
    r = put_guarantor(reg, ident.code, '3000000', '2019-01-01', name='三明市融资担保有限公司')
    assert r.status == 200 and r.json()['version'] == 1, r
    r = put_guarantor(reg, ident.code, '4000000.00', '2019-07-01', name='三明市融资担保有限公司')
    assert r.status == 200 and r.json()['version'] == 2, r
    r = put_guarantor(reg, ident.code, '3500000.00', '2019-03-31', name='三明市融资担保集团')
    assert r.status == 200, r
    got = r.json()
    assert got['version'] == 3 and got['name'] == '三明市融资担保集团', got
    assert got['net_assets'] == '4000000.00' and got['as_of'] == '2019-07-01', \
        'the latest as_of is the current figure, whatever order they were entered in'
    assert [(v['version'], v['net_assets'], v['as_of'], v['recorded_by'])
            for v in got['versions']] == [
        (1, '3000000.00', '2019-01-01', 'SM-FSB'), (2, '4000000.00', '2019-07-01', 'SM-FSB'),
        (3, '3500000.00', '2019-03-31', 'SM-FSB')], got['versions']
    r = g.get('/v1/guarantors/' + ident.code)
    assert r.status == 200 and r.json() == got, r
    expect_error(harness.client('guarantor').get('/v1/guarantors/' + ident.code), 404,
                 'not_found')
    expect_error(harness.client('bank').get('/v1/guarantors/' + ident.code), 403, 'forbidden')


def test_guarantor_put_needs_a_guarantor_principal_and_valid_figures():
    reg = harness.client('regulator')
    expect_error(put_guarantor(reg, 'CIB-SM', '1.00', '2019-01-01'), 404, 'not_found', 'code')
    expect_error(put_guarantor(reg, harness.unique('NOPE-'), '1.00', '2019-01-01'), 404,
                 'not_found', 'code')
    tomorrow = fd.day(fd.today_cn(), 1)
    for net, as_of, field in (('0.00', '2019-01-01', 'net_assets'),
                              ('1.234', '2019-01-01', 'net_assets'),
                              (1000, '2019-01-01', 'net_assets'),
                              ('1.00', '2019-02-29', 'as_of'),
                              ('1.00', tomorrow, 'as_of')):
        expect_error(put_guarantor(reg, 'SM-GUAR', net, as_of), 422, 'invalid_field', field)
    expect_error(reg.put('/v1/guarantors/SM-GUAR', json={'name': 'x', 'net_assets': '1.00',
                                                         'as_of': '2019-01-01', 'extra': 1}),
                 422, 'unknown_field', 'extra')
    for who in ('bank', 'guarantor'):
        expect_error(put_guarantor(harness.client(who), 'SM-GUAR', '1.00', '2019-01-01'), 403,
                     'forbidden')


def test_a_guarantor_has_at_most_1000_versions_so_its_answer_stays_bounded():
    """GET /v1/guarantors/{code} and every PUT's answer list every version: 100,000 answered
    17.3 MB (found by review). Versions 2-999 are written directly (as guarantor_put writes
    them), the 1000th is PUT, the next refused; a PUT equal to the latest still answers."""
    reg = harness.client('regulator')
    ident, g = new_guarantor(reg)
    assert put_guarantor(reg, ident.code, '1000000.00', '2019-01-01', name='担保').status == 201
    harness.psql(
        "INSERT INTO guarantor_versions (guarantor_code, version, name, net_assets_fen, as_of,"
        " recorded_by) SELECT '%(c)s', n, '担保', 100000000 + n, '2019-01-01', 'SM-FSB'"
        " FROM generate_series(2, 999) n;"
        " UPDATE guarantors SET version = 999 WHERE code = '%(c)s'" % {'c': ident.code})
    r = put_guarantor(reg, ident.code, '2000000.00', '2019-06-30', name='担保')
    assert r.status == 200 and r.json()['version'] == 1000, r
    latest = r.json()
    for net, as_of in (('2000000.01', '2019-06-30'), ('1000000.00', '2019-01-01')):
        err = expect_error(put_guarantor(reg, ident.code, net, as_of, name='担保'), 409,
                           'conflict', 'code')
        assert '1000 versions' in err['message'], err
    assert harness.psql("SELECT count(*), max(version) FROM guarantor_versions"
                        " WHERE guarantor_code = '%s'" % ident.code) == [['1000', '1000']]
    r = put_guarantor(reg, ident.code, '2000000', '2019-06-30', name='担保')
    assert r.status == 200 and r.json() == latest, r
    for c in (reg, g):
        r = c.get('/v1/guarantors/' + ident.code)
        assert r.status == 200 and r.json() == latest, r
        assert len(latest['versions']) == 1000 and len(r.body) < 256 * 1024, len(r.body)


# --------------------------------------------------------------------------- guarantees

def test_only_guarantors_post_and_release_guarantees():
    bank = harness.client('bank')
    loan = guaranteed_loan(bank)
    body = guarantee(loan)
    for who in ('bank', 'regulator'):
        c = harness.client(who)
        expect_error(c.post('/v1/guarantees', json=body), 403, 'forbidden')
        expect_error(release(c, body['guarantee_ref'], '2019-06-01'), 403, 'forbidden')
    g = harness.client('guarantor')
    stored = post(g, body)
    assert stored['guarantor_code'] == 'SM-GUAR' and stored['status'] == 'ended', stored
    assert stored['released_on'] is None and stored['borrower_whitelisted'] is False, stored


def test_a_guarantee_is_idempotent_on_its_ref():
    bank, g = harness.client('bank'), harness.client('guarantor')
    loan = guaranteed_loan(bank)
    body = guarantee(loan, amount='2000000.00')
    first = post(g, body, 201)
    assert first['amount'] == '2000000.00', first
    again = post(g, dict(body, amount='2000000'), 200)
    assert again == first, (again, first)
    expect_error(g.post('/v1/guarantees', json=dict(body, amount='2000000.01')), 409, 'conflict',
                 'guarantee_ref')
    expect_error(g.post('/v1/guarantees', json=dict(body, end_date='2021-01-01')), 409,
                 'conflict', 'guarantee_ref')
    # Another guarantor may use the same reference for its own guarantee.
    _, other = new_guarantor(harness.client('regulator'))
    assert post(other, body, 201)['guarantor_code'] != 'SM-GUAR'


def test_a_guarantee_must_fit_a_loan_of_the_named_bank():
    bank, g = harness.client('bank'), harness.client('guarantor')
    loan = guaranteed_loan(bank, amount='3000000.00')
    voided = guaranteed_loan(bank)
    assert bank.post('/v1/loans/%s/void' % harness.quote(voided['loan_ref']),
                     json={'reason': '录入错误'}).status == 200
    cases = [
        (guarantee(voided), 'loan_ref'),
        (guarantee(loan, amount='3000000.01'), 'amount'),
        (guarantee(loan, start_date='2019-02-19'), 'start_date'),
    ]
    for body, field in cases:
        err = expect_error(g.post('/v1/guarantees', json=body), 422, 'invalid_field', field)
        assert err['message'].startswith(field + ': '), err
    assert post(g, guarantee(loan, amount='3000000.00'))['amount'] == '3000000.00'
    other_bank = guaranteed_loan(harness.client('bank2'))
    assert post(g, guarantee(other_bank))['bank_code'] == 'RCB-SM'


def test_a_guarantor_learns_nothing_of_loans_not_open_to_it():
    """Issue 16: a loan that names another guarantor (or is not a guaranteed loan of the
    named bank and borrower) answers exactly as a loan that does not exist: 404, the same
    field and words, whatever else is wrong with the request, and nothing is stored."""
    bank, g = harness.client('bank'), harness.client('guarantor')
    loan = guaranteed_loan(bank, amount='3000000.00')
    credit = fd.loan()
    assert bank.post('/v1/loans', json=credit).status == 201
    other_bank = guaranteed_loan(harness.client('bank2'))
    g2_ident, g2 = new_guarantor(harness.client('regulator'))
    named = guaranteed_loan(bank, guarantor_code=g2_ident.code)
    missing = guarantee(loan, loan_ref='无此贷款-' + harness.unique())
    reference = expect_error(g.post('/v1/guarantees', json=missing), 404, 'not_found',
                             'loan_ref')
    cases = [
        guarantee(named),
        guarantee(named, amount='9000000.00', start_date='2000-01-01'),
        guarantee(named, borrower_uscc=fd.make_uscc()),
        guarantee(loan, bank_code='NO-SUCH-BANK'),
        guarantee(loan, bank_code='SM-GUAR'),
        guarantee(other_bank, bank_code='CIB-SM'),
        guarantee(loan, borrower_uscc=fd.make_uscc()),
        dict(guarantee(loan), loan_ref=credit['loan_ref'],
             borrower_uscc=credit['borrower']['uscc']),
    ]
    for body in cases:
        err = expect_error(g.post('/v1/guarantees', json=body), 404, 'not_found', 'loan_ref')
        assert {k: v for k, v in err.items() if k != 'request_id'} == \
            {k: v for k, v in reference.items() if k != 'request_id'}, (body, err)
        for secret in (g2_ident.code, named['borrower']['uscc'], loan['borrower']['uscc'],
                       credit['borrower']['uscc'], 'credit', 'void'):
            assert secret not in err['message'], (secret, err)
    assert harness.psql("SELECT count(*) FROM guarantees WHERE loan_ref IN ('%s', '%s')"
                        % (named['loan_ref'], credit['loan_ref'])) == [['0']]
    # The guarantor the loan names may post on it.
    assert post(g2, guarantee(named))['guarantor_code'] == g2_ident.code


def test_guarantee_fields_are_validated():
    g = harness.client('guarantor')
    loan = guaranteed_loan(harness.client('bank'))
    for body, code, field in [
        (dict(guarantee(loan), extra=1), 'unknown_field', 'extra'),
        (dict(guarantee(loan), guarantee_ref=''), 'invalid_field', 'guarantee_ref'),
        (dict(guarantee(loan), guarantee_ref='x' * 65), 'invalid_field', 'guarantee_ref'),
        (dict(guarantee(loan), bank_code='银行'), 'invalid_field', 'bank_code'),
        (dict(guarantee(loan), borrower_uscc=fd.bad_check_uscc()), 'invalid_field',
         'borrower_uscc'),
        (dict(guarantee(loan), amount=100.5), 'invalid_field', 'amount'),
        (dict(guarantee(loan), amount='-1.00'), 'invalid_field', 'amount'),
        (dict(guarantee(loan), start_date='2019-13-01'), 'invalid_field', 'start_date'),
        (dict(guarantee(loan), end_date='2019-02-19'), 'invalid_field', 'end_date'),
        ({k: v for k, v in guarantee(loan).items() if k != 'end_date'}, 'invalid_field',
         'end_date'),
    ]:
        expect_error(g.post('/v1/guarantees', json=body), 422, code, field)


def test_release_lifecycle_and_who_may_release():
    bank, g = harness.client('bank'), harness.client('guarantor')
    body = guarantee(guaranteed_loan(bank), start_date='2019-03-01', end_date='2020-02-29')
    post(g, body)
    ref = body['guarantee_ref']
    _, other = new_guarantor(harness.client('regulator'))
    expect_error(release(other, ref, '2019-09-30'), 404, 'not_found')
    expect_error(release(g, ref, '2019-02-28'), 422, 'invalid_field', 'date')
    expect_error(release(g, ref, fd.day(fd.today_cn(), 1)), 422, 'invalid_field', 'date')
    expect_error(release(g, harness.unique('NONE-'), '2019-09-30'), 404, 'not_found')
    r = release(g, ref, '2019-09-30')
    assert r.status == 200, r
    got = r.json()
    assert got['released_on'] == '2019-09-30' and got['status'] == 'released', got
    assert got['released_at'], got
    r = release(g, ref, '2019-09-30')
    assert r.status == 200 and r.json() == got, r
    expect_error(release(g, ref, '2019-10-01'), 409, 'conflict', 'date')
    r = g.get('/v1/guarantees/' + harness.quote(ref))
    assert r.status == 200 and r.json() == got, r
    r = harness.client('regulator').get('/v1/guarantees/%s?guarantor=SM-GUAR' % harness.quote(ref))
    assert r.status == 200 and r.json() == got, r
    expect_error(harness.client('regulator').get('/v1/guarantees/' + harness.quote(ref)), 422,
                 'invalid_field', 'guarantor')
    expect_error(other.get('/v1/guarantees/' + harness.quote(ref)), 404, 'not_found')


def test_guarantee_lists_are_scoped_to_who_asks_and_paged():
    reg = harness.client('regulator')
    ident, g = new_guarantor(reg)
    mine = guaranteed_loan(harness.client('bank'))
    theirs = guaranteed_loan(harness.client('bank2'))
    refs = [post(g, guarantee(mine, end_date='2019-12-31'))['guarantee_ref'] for _ in range(3)]
    refs.append(post(g, guarantee(theirs, end_date='2019-06-30'))['guarantee_ref'])

    def all_items(c, query):
        items, cursor = [], None
        while True:
            r = c.get('/v1/guarantees?limit=2&' + query + ('&cursor=' + cursor if cursor else ''))
            assert r.status == 200, r
            items += r.json()['items']
            cursor = r.json()['next_cursor']
            if cursor is None:
                return items

    assert [x['guarantee_ref'] for x in all_items(g, '')] == refs
    assert [x['guarantee_ref'] for x in all_items(reg, 'guarantor=' + ident.code)] == refs
    assert [x['guarantee_ref'] for x in all_items(reg, 'guarantor=%s&bank=RCB-SM'
                                                  % ident.code)] == refs[3:]
    assert [x['guarantee_ref'] for x in all_items(g, 'outstanding_on=2019-09-01')] == refs[:3]
    assert [x['guarantee_ref'] for x in all_items(g, 'borrower=' + theirs['borrower']['uscc'])] \
        == refs[3:]
    bank_sees = {x['guarantee_ref'] for x in all_items(harness.client('bank'),
                                                          'guarantor=' + ident.code)}
    assert bank_sees == set(refs[:3]), 'a bank sees the guarantees on its own loans only'
    expect_error(harness.client('bank').get('/v1/guarantees?bank=RCB-SM'), 404, 'not_found')
    expect_error(g.get('/v1/guarantees?guarantor=SM-GUAR'), 404, 'not_found')
    expect_error(g.get('/v1/guarantees?borrower=' + fd.bad_check_uscc()), 422, 'invalid_field',
                 'borrower')


# --------------------------------------------------------------------------- leverage

# The hand-computed case. Net assets: 3,000,000.00 as of 2019-01-01, 4,000,000.00 as of
# 2019-07-01. Guarantees: A 2,000,000.00 from 2019-03-01 to 2020-02-28; B 1,500,000.00 from
# 2019-05-01 to 2019-12-31, released on 2019-09-30; C 1,000,000.00 from 2019-06-01 to
# 2019-08-31. Target 1.5 (no 2019 row in the targets table).
# Shown: a ratio of statistics, rounded to 4 decimals (api.md Value formats); met: the exact
# ratio reaches the target (domain.md 7.1, >= 1.5).
#   as_of       outstanding     net assets    exact          shown   met
#   2018-12-31  -               -             (no row)
#   2019-02-15  0.00            3000000.00    0              0       no
#   2019-06-15  A+B+C 4500000   3000000.00    1.5            1.5     yes (equal to target)
#   2019-06-30  4500000.00      3000000.00    1.5            1.5     yes
#   2019-07-01  4500000.00      4000000.00    1.125          1.125   no
#   2019-08-31  4500000.00      4000000.00    1.125          1.125   no (C's last day counts)
#   2019-09-01  A+B 3500000     4000000.00    0.875          0.875   no
#   2019-09-29  3500000.00      4000000.00    0.875          0.875   no
#   2019-09-30  A 2000000       4000000.00    0.5            0.5     no (released that day)
#   2020-02-28  2000000.00      4000000.00    0.5            0.5     no (A's last day)
#   2020-02-29  0.00            4000000.00    0              0       no
HAND_CASE = [
    ('2019-02-15', '0.00', '3000000.00', '2019-01-01', 0.0, False),
    ('2019-06-15', '4500000.00', '3000000.00', '2019-01-01', 1.5, True),
    ('2019-06-30', '4500000.00', '3000000.00', '2019-01-01', 1.5, True),
    ('2019-07-01', '4500000.00', '4000000.00', '2019-07-01', 1.125, False),
    ('2019-08-31', '4500000.00', '4000000.00', '2019-07-01', 1.125, False),
    ('2019-09-01', '3500000.00', '4000000.00', '2019-07-01', 0.875, False),
    ('2019-09-29', '3500000.00', '4000000.00', '2019-07-01', 0.875, False),
    ('2019-09-30', '2000000.00', '4000000.00', '2019-07-01', 0.5, False),
    ('2020-02-28', '2000000.00', '4000000.00', '2019-07-01', 0.5, False),
    ('2020-02-29', '0.00', '4000000.00', '2019-07-01', 0.0, False),
]


def hand_case_guarantor():
    """Sets up the hand-computed case for a fresh guarantor; returns (identity, client)."""
    reg, bank = harness.client('regulator'), harness.client('bank')
    ident, g = new_guarantor(reg)
    assert put_guarantor(reg, ident.code, '3000000.00', '2019-01-01').status == 201
    assert put_guarantor(reg, ident.code, '4000000.00', '2019-07-01').status == 200
    loan = guaranteed_loan(bank, guarantor_code=ident.code, issue_date='2019-02-20')
    a = post(g, guarantee(loan, amount='2000000.00', start_date='2019-03-01',
                          end_date='2020-02-28'))
    b = post(g, guarantee(loan, amount='1500000.00', start_date='2019-05-01',
                          end_date='2019-12-31'))
    post(g, guarantee(loan, amount='1000000.00', start_date='2019-06-01', end_date='2019-08-31'))
    assert release(g, b['guarantee_ref'], '2019-09-30').status == 200
    assert a['status'] == 'ended'
    return ident, g


def test_leverage_on_a_hand_computed_case():
    ident, g = hand_case_guarantor()
    reg = harness.client('regulator')
    assert row_of(leverage(reg, '2018-12-31'), ident.code) is None
    for as_of, outstanding, net, net_as_of, lev, met in HAND_CASE:
        answer = leverage(reg, as_of)
        assert answer['as_of'] == as_of and answer['target'] == 1.5, answer
        row = row_of(answer, ident.code)
        assert row == {'guarantor_code': ident.code, 'name': '测试担保公司' + ident.code,
                       'outstanding': outstanding, 'net_assets': net,
                       'net_assets_as_of': net_as_of, 'leverage': lev, 'target': 1.5,
                       'met': met}, (as_of, row)
        own = leverage(g, as_of)
        assert own['guarantor'] == ident.code and own['rows'] == [row], own
        assert own['total'] == {'outstanding': outstanding, 'net_assets': net,
                                'leverage': lev, 'target': 1.5, 'met': met}, own['total']


def test_leverage_is_for_the_regulator_and_each_guarantor_alone():
    ident, g = hand_case_guarantor()
    expect_error(harness.client('bank').get('/v1/stats/guarantee-leverage?as_of=2019-06-15'), 403,
                 'forbidden')
    expect_error(g.get('/v1/stats/guarantee-leverage?as_of=2019-06-15&guarantor=SM-GUAR'), 404,
                 'not_found')
    one = leverage(harness.client('regulator'), '2019-06-15', ident.code)
    assert [x['guarantor_code'] for x in one['rows']] == [ident.code], one
    expect_error(g.get('/v1/stats/guarantee-leverage?as_of=2019-06-31'), 422, 'invalid_field',
                 'as_of')
    today = leverage(g, fd.today_cn().isoformat())
    assert harness.client(ident).get('/v1/stats/guarantee-leverage').json() == today


def test_a_guarantor_without_net_assets_has_no_leverage_and_is_left_out_of_the_total():
    reg = harness.client('regulator')
    ident, g = new_guarantor(reg)
    loan = guaranteed_loan(harness.client('bank'))
    post(g, guarantee(loan, amount='700000.00', start_date='2019-03-01', end_date='2019-12-31'))
    row = row_of(leverage(reg, '2019-06-15'), ident.code)
    assert row['outstanding'] == '700000.00' and row['net_assets'] is None, row
    assert row['leverage'] is None and row['met'] is None, row     # unknown, not missed
    assert leverage(g, '2019-06-15')['total'] == {'outstanding': '0.00', 'net_assets': None,
                                                  'leverage': None, 'target': 1.5,
                                                  'met': None}


def test_the_target_comes_from_the_targets_table_of_the_year():
    reg = harness.client('regulator')
    r = reg.put('/v1/targets/2011/guarantee_leverage', json={'target': '2.25'})
    assert r.status == 200, r
    assert leverage(reg, '2011-06-30')['target'] == 2.25
    assert leverage(reg, '2012-06-30')['target'] == 1.5


def test_the_statistics_target_reads_the_same_leverage():
    hand_case_guarantor()
    reg = harness.client('regulator')
    for as_of in ('2019-06-15', '2020-01-15', '2020-02-29'):
        answer = leverage(reg, as_of)
        with_net = [x for x in answer['rows'] if x['net_assets'] is not None]
        out = sum(decimal.Decimal(x['outstanding']) for x in with_net)
        net = sum(decimal.Decimal(x['net_assets']) for x in with_net)
        expected = (out / net).quantize(decimal.Decimal('0.0001'), decimal.ROUND_HALF_UP)
        assert answer['total']['outstanding'] == str(out.quantize(decimal.Decimal('0.01')))
        assert decimal.Decimal(str(answer['total']['leverage'])) == expected, (answer, expected)
        if as_of.startswith('2020'):
            r = reg.get('/v1/stats/targets?year=2020&as_of=' + as_of)
            assert r.status == 200, r
            rows = {x['metric']: x for x in r.json()['rows']}
            assert rows['guarantee_leverage']['actual'] == answer['total']['leverage'], \
                (rows['guarantee_leverage'], answer['total'])


def test_leverage_is_shown_to_4_decimals_and_met_on_the_exact_ratio(ctx):
    """api.md Value formats: "Ratios and shares in statistics: JSON numbers rounded to 4
    decimals" (and Statistics: "shares and ratios are numbers rounded to 4 decimals");
    domain.md 7.1: the leverage must reach 1.5. SM-GUAR's net assets 2,000,000.00 as of
    2020-01-01; its guarantees (all to 2021-04-09):
      G1   700,000.00 on a loan of RCB-SM (700,000.00), from 2020-04-10
      G2 2,290,000.00 on a loan of CIB-SM (2,300,000.00), from 2020-04-10
      G3     9,990.00 on that loan of CIB-SM, from 2020-07-01
      G4        10.00 on that loan of CIB-SM, from 2020-07-02
      as_of       outstanding   exact ratio   shown   met
      2020-06-30  2990000.00    1.495         1.495   no (two decimals showed 1.50, met)
      2020-07-01  2999990.00    1.499995      1.5     no (rounds up to the target, is below)
      2020-07-02  3000000.00    1.5           1.5     yes
    GET /v1/stats/targets (2020's target 1.5) shows the same actual and met; its progress
    is actual / target: 1.495 / 1.5 = 0.99666.. -> 0.9967; 1.499995 / 1.5 = 0.9999966..
    -> 1. A cluster of its own: the target's actual sums every guarantor of the registry."""
    cl = harness.private_cluster(ctx, who=('bank', 'bank2', 'guarantor', 'regulator'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    reg, g = srv.client('regulator'), srv.client('guarantor')
    code = harness.PRINCIPALS['guarantor'][1]
    name = '三明市融资担保有限公司'
    r = put_guarantor(reg, code, '2000000.00', '2020-01-01', name=name)
    assert r.status == 201, r
    dates = {'issue_date': '2020-04-10', 'maturity_date': '2021-04-09'}
    small = guaranteed_loan(srv.client('bank2'), code, amount='700000.00', **dates)
    big = guaranteed_loan(srv.client('bank'), code, amount='2300000.00', **dates)
    post(g, guarantee(small, 'G1', '700000.00', end_date='2021-04-09'))
    post(g, guarantee(big, 'G2', '2290000.00', end_date='2021-04-09'))
    post(g, guarantee(big, 'G3', '9990.00', '2020-07-01', end_date='2021-04-09'))
    post(g, guarantee(big, 'G4', '10.00', '2020-07-02', end_date='2021-04-09'))
    for as_of, outstanding, lev, met, progress in (
            ('2020-06-30', '2990000.00', 1.495, False, 0.9967),
            ('2020-07-01', '2999990.00', 1.5, False, 1),
            ('2020-07-02', '3000000.00', 1.5, True, 1)):
        total = {'outstanding': outstanding, 'net_assets': '2000000.00', 'leverage': lev,
                 'target': 1.5, 'met': met}
        row = dict(total, guarantor_code=code, name=name, net_assets_as_of='2020-01-01')
        for who, scope in ((reg, 'all'), (g, code)):
            r = who.get('/v1/stats/guarantee-leverage?as_of=' + as_of)
            assert r.status == 200, r
            assert r.json() == {'as_of': as_of, 'guarantor': scope, 'target': 1.5,
                                'rows': [row], 'total': total}, (as_of, r.json())
        r = reg.get('/v1/stats/targets?year=2020&as_of=' + as_of)
        assert r.status == 200, r
        rows = [x for x in r.json()['rows'] if x['metric'] == 'guarantee_leverage']
        assert rows == [{'metric': 'guarantee_leverage', 'metric_name': '融资担保放大倍数',
                         'target': 1.5, 'actual': lev, 'progress': progress,
                         'met': met}], (as_of, rows)


def test_a_guarantee_on_a_voided_loan_stops_counting_in_the_leverage():
    """api.md Loans: a voided loan is "kept, excluded from statistics"; domain.md: "Voided
    loans never count". A fresh guarantor, net assets 2,000,000.00 as of 2019-01-01; its
    guarantees of 1,000,000.00 (loan V1) and 500,000.00 (loan V2), both from 2019-02-20 to
    2020-12-31. On 2019-06-15: 1,500,000.00 outstanding, leverage 0.75. V1 voided: 500,000.00,
    0.25. The guarantee on V1 is kept as it was (not released); it only stops counting."""
    reg, bank = harness.client('regulator'), harness.client('bank')
    ident, g = new_guarantor(reg)
    assert put_guarantor(reg, ident.code, '2000000.00', '2019-01-01').status == 201
    v1 = guaranteed_loan(bank, guarantor_code=ident.code, amount='1000000.00')
    v2 = guaranteed_loan(bank, guarantor_code=ident.code, amount='500000.00')
    g1 = post(g, guarantee(v1, amount='1000000.00'))
    post(g, guarantee(v2, amount='500000.00'))

    def expect(outstanding, lev):
        total = {'outstanding': outstanding, 'net_assets': '2000000.00', 'leverage': lev,
                 'target': 1.5, 'met': False}
        row = dict(total, guarantor_code=ident.code, name='测试担保公司' + ident.code,
                   net_assets_as_of='2019-01-01')
        want = {'as_of': '2019-06-15', 'guarantor': ident.code, 'target': 1.5,
                'rows': [row], 'total': total}
        for got in (leverage(reg, '2019-06-15', ident.code), leverage(g, '2019-06-15')):
            assert got == want, got

    expect('1500000.00', 0.75)
    r = bank.post('/v1/loans/%s/void' % harness.quote(v1['loan_ref']),
                  json={'reason': '录入错误'})
    assert r.status == 200, r
    expect('500000.00', 0.25)
    r = g.get('/v1/guarantees/' + harness.quote(g1['guarantee_ref']))
    assert r.status == 200, r
    kept = r.json()
    assert (kept['amount'], kept['released_on']) == ('1000000.00', None), kept


def test_a_correction_keeps_a_loan_with_guarantees_guaranteed_by_its_guarantor():
    """L051 (domain.md: a credit loan has no guarantee): once a guarantor has posted a
    guarantee on a loan, a correction cannot make it credit, name another guarantor or
    move it to another borrower; the refused corrections change nothing."""
    bank = harness.client('bank')
    ident, g = new_guarantor(harness.client('regulator'))
    other_ident, _ = new_guarantor(harness.client('regulator'))
    body = fd.loan(amount='5000000.00', credit_line='5000000.00', issue_date='2019-02-20',
                   maturity_date='2022-02-19', guarantee_mode='guaranteed', guarantor_code=None)
    r = bank.post('/v1/loans', json=body)
    assert r.status == 201, r
    post(g, guarantee(r.json()))
    url = '/v1/loans/' + harness.quote(body['loan_ref'])
    for change, field in (({'guarantee_mode': 'credit'}, 'guarantee_mode'),
                          ({'guarantor_code': other_ident.code}, 'guarantor_code'),
                          ({'borrower': fd.firm()}, 'borrower.uscc')):
        err = expect_error(bank.put(url, json={**body, **change}, headers={'If-Match': '"1"'}),
                           422, 'invalid_field', field)
        assert err['rule'] == 'L051' and ident.code in err['message'], err
    got = bank.get(url).json()
    assert (got['version'], got['guarantee_mode']) == (1, 'guaranteed'), got
    # Naming the guarantor that posted, or changing other fields, is a correction.
    r = bank.put(url, json={**body, 'guarantor_code': ident.code, 'rate': '4.5000'},
                 headers={'If-Match': '"1"'})
    assert r.status == 200 and r.json()['version'] == 2, r


def test_a_guarantee_post_that_waited_for_a_correction_to_credit_is_not_found():
    """L051's other side: a post that found the loan guaranteed, then waited for a
    correction making it credit, reads the loan again under its lock and answers
    not_found; no guarantee lands on a credit loan."""
    import subprocess
    import threading
    bank = harness.client('bank')
    _, g = new_guarantor(harness.client('regulator'))
    body = fd.loan(amount='5000000.00', credit_line='5000000.00', issue_date='2019-02-20',
                   maturity_date='2022-02-19', guarantee_mode='guaranteed', guarantor_code=None)
    r = bank.post('/v1/loans', json=body)
    assert r.status == 201, r
    loan = r.json()
    ref = body['loan_ref'].replace("'", "''")
    p = subprocess.Popen([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
                          harness.cluster().url], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    # What loan_correct does: the row FOR UPDATE, then the change.
    p.stdin.write("BEGIN; SELECT 1 FROM loans WHERE loan_ref = '%s' FOR UPDATE; "
                  "UPDATE loans SET guarantee_mode = 'credit', version = version + 1 "
                  "WHERE loan_ref = '%s';\n" % (ref, ref))
    p.stdin.flush()
    out = {}
    try:
        assert harness.poll(lambda: harness.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
            "AND query LIKE 'UPDATE loans SET guarantee_mode%'"), 10,
            lambda v: v == [['1']]) == [['1']]
        t = threading.Thread(target=lambda: out.update(r=g.post('/v1/guarantees',
                                                                json=guarantee(loan))))
        t.start()
        assert harness.poll(lambda: harness.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%guarantee_post%'"), 10, lambda v: v == [['1']]) == [['1']]
    finally:
        p.stdin.write('COMMIT;\n')
        p.stdin.close()
        p.wait(10)
    t.join(30)
    expect_error(out['r'], 404, 'not_found', 'loan_ref')
    assert harness.psql("SELECT count(*) FROM guarantees WHERE loan_ref = '%s'" % ref) == [['0']]
