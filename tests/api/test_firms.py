"""Firms across banks: GET /v1/firms/{uscc} (the regulator sees every bank; a bank only its
own relationship, and a firm it never lent to is 404), GET /v1/firms/{uscc}/history and the
search list GET /v1/firms, against the dataset of supervision_world.py."""

import supervision_world as w
from finreg_data import bad_check_uscc
from supervision_world import A, B, C, FIRMS

F1 = FIRMS['F1']['uscc']
F4 = FIRMS['F4']['uscc']


def test_regulator_sees_a_firm_across_banks_with_its_figures():
    # F1: A1 by A (1,000,000 - 200,000 repaid = 800,000) and CX1 by C (100,000); referred to
    # A in 2020 (still open); on no whitelist and in no program. The referral made the
    # regulator's the firm's data, so C's later name (股份) is kept but not applied
    # (docs/firms-precedence.md).
    body = w.get('regulator', '/v1/firms/' + F1).json()
    assert (body['uscc'], body['name'], body['county_code'], body['industry_code'],
            body['size'], body['manufacturing']) == (
        F1, '三明某机械有限公司', '350402', '3412', 'small', True), body
    assert body['outstanding'] == '900000.00' and body['loans'] == 2, body
    assert body['banks'] == [
        {'bank_code': A, 'loans': 1, 'outstanding': '800000.00',
         'first_issue_date': '2019-03-01', 'last_issue_date': '2019-03-01'},
        {'bank_code': C, 'loans': 1, 'outstanding': '100000.00',
         'first_issue_date': '2021-02-01', 'last_issue_date': '2021-02-01'}], body['banks']
    assert body['registry_first_loan'] == {'bank_code': A, 'loan_ref': 'A1',
                                           'issue_date': '2019-03-01'}, body
    assert [(r['bank_code'], r['status']) for r in body['referrals']] == [(A, 'referred')]
    assert body['whitelist'] is None and body['scf_programs'] == [], body
    for k in ('first_seen', 'updated_at'):
        assert body[k].endswith('+08:00'), body[k]


def test_renewed_loan_counts_nothing_outstanding_and_programs_and_whitelist_show():
    # F4: B1 500,000 renewed by B2 500,000: two loans, 500,000 outstanding.
    body = w.get('regulator', '/v1/firms/' + F4).json()
    assert body['outstanding'] == '500000.00' and body['loans'] == 2, body
    assert body['banks'] == [{'bank_code': B, 'loans': 2, 'outstanding': '500000.00',
                              'first_issue_date': '2019-05-01',
                              'last_issue_date': '2020-04-30'}], body
    f5 = w.get('regulator', '/v1/firms/' + FIRMS['F5']['uscc']).json()
    assert [(p['bank_code'], p['role']) for p in f5['scf_programs']] == [(B, 'upstream')], f5
    assert [(r['bank_code'], r['status']) for r in f5['referrals']] == [(B, 'declined')], f5
    g5 = w.get('regulator', '/v1/firms/' + FIRMS['G5']['uscc']).json()
    assert [(p['bank_code'], p['role']) for p in g5['scf_programs']] == [(C, 'core')], g5


def test_a_bank_sees_only_its_own_relationship_and_never_another_banks_balance():
    own = w.get('bank', '/v1/firms/' + F1).json()
    assert own['outstanding'] == '800000.00' and own['loans'] == 1, own
    assert [b['bank_code'] for b in own['banks']] == [A], own
    assert own['registry_first_loan']['bank_code'] == A, own
    c = w.get('C', '/v1/firms/' + F1).json()
    assert c['outstanding'] == '100000.00' and [b['bank_code'] for b in c['banks']] == [C], c
    assert c['registry_first_loan'] is None and c['referrals'] == [], c
    assert '800000.00' not in str(c), c
    # B never lent to F1: 404, as if the firm did not exist.
    r = w.get('bank2', '/v1/firms/' + F1, expect=404)
    assert r.json()['error']['code'] == 'not_found', r.text
    w.get('guarantor', '/v1/firms/' + F1, expect=403)


def test_invalid_uscc_is_422_with_the_rule_and_unknown_is_404():
    r = w.get('regulator', '/v1/firms/' + bad_check_uscc(), expect=422)
    assert (r.json()['error']['rule'], r.json()['error']['field']) == ('L003', 'uscc'), r.text
    r = w.get('regulator', '/v1/firms/913502', expect=422)
    assert r.json()['error']['rule'] == 'L002', r.text
    w.get('regulator', '/v1/firms/' + w.u(99), expect=404)


def test_history_lists_every_version_oldest_first_for_the_regulator_only():
    body = w.get('regulator', '/v1/firms/%s/history' % F1).json()
    assert body['uscc'] == F1
    assert [(i['name'], i['changed_by'], i['applied']) for i in body['items']] == [
        ('三明某机械有限公司', A, True), ('三明某机械有限公司', 'SM-FSB', True),
        ('三明某机械股份有限公司', C, False)], body
    w.get('bank', '/v1/firms/%s/history' % F1, expect=403)
    w.get('regulator', '/v1/firms/%s/history' % w.u(99), expect=404)


def _usccs(body):
    return [i['uscc'] for i in body['items']]


def test_search_by_chinese_name_fragment_uscc_prefix_and_filters():
    # '机械' is in F1 (三明某机械股份有限公司) and F5 (沙县某机械配件有限公司) only.
    assert sorted(_usccs(w.get('regulator', '/v1/firms?q=' + w.harness.quote('机械')).json())) \
        == sorted([F1, FIRMS['F5']['uscc']])
    body = w.get('regulator', '/v1/firms?q=' + w.harness.quote('制造') + '&county=350403').json()
    assert sorted(_usccs(body)) == sorted([FIRMS['G3']['uscc'], FIRMS['G4']['uscc']]), body
    body = w.get('regulator', '/v1/firms?q=' + w.harness.quote('制造') + '&size=medium').json()
    assert _usccs(body) == [FIRMS['G3']['uscc']], body
    # A USCC prefix: the 17 first characters of F1 are shared by no other firm.
    assert _usccs(w.get('regulator', '/v1/firms?q=' + F1[:17]).json()) == [F1]
    # LIKE wildcards are literal.
    assert w.get('regulator', '/v1/firms?q=%25').json()['items'] == []
    body = w.get('regulator', '/v1/firms?industry=26').json()
    assert _usccs(body) == [FIRMS['F6']['uscc']], body
    item = w.get('regulator', '/v1/firms?q=' + F4).json()['items'][0]
    assert (item['name'], item['size'], item['manufacturing']) == (
        FIRMS['F4']['name'], 'micro', False), item


def test_search_pages_with_keyset_cursor():
    seen, cursor = [], None
    while True:
        path = '/v1/firms?q=' + w.harness.quote('三明') + '&limit=2'
        if cursor:
            path += '&after=' + cursor
        body = w.get('regulator', path).json()
        assert len(body['items']) <= 2
        seen += _usccs(body)
        cursor = body['next_cursor']
        if cursor is None:
            break
    names = {k: f['uscc'] for k, f in FIRMS.items() if '三明' in f['name']}
    assert sorted(seen) == sorted(set(names.values()) | {w.u(21)}), seen
    assert len(seen) == len(set(seen))


def test_search_is_regulator_only_and_bad_filters_are_422():
    w.get('bank', '/v1/firms?q=x', expect=403)
    w.get('guarantor', '/v1/firms', expect=403)
    for q, field in (('size=huge', 'size'), ('county=3504', 'county'), ('industry=3', 'industry'),
                     ('limit=0', 'limit'), ('after=x', 'after'), ('q=', 'q')):
        r = w.get('regulator', '/v1/firms?' + q, expect=422)
        assert r.json()['error']['field'] == field, (q, r.text)


def test_same_day_first_loans_are_each_banks_own_first_and_a_program_shows_from_its_start():
    """README: loans of two banks to a new firm on the same first day both count as first;
    so each bank's firm view names its own loan as registry_first_loan (it named the lower
    id's, so the other bank saw null). docs/supervision.md: a program shows where the firm
    is the core from the program's start (one starting later was listed already)."""
    import harness
    from finreg_data import firm, loan
    bank, bank2, reg = (harness.client(x) for x in ('bank', 'bank2', 'regulator'))
    f = firm()
    first = loan(borrower=f, issue_date='2020-05-12')
    second = loan(borrower=f, issue_date='2020-05-12')
    later = loan(borrower=f, issue_date='2020-06-01')
    for c, body in ((bank, first), (bank2, second), (bank2, later)):
        r = c.post('/v1/loans', json=body)
        assert r.status == 201, r.text
    path = '/v1/firms/' + f['uscc']
    own = {'bank': (bank, first), 'bank2': (bank2, second), 'regulator': (reg, first)}
    for who, (c, body) in own.items():
        got = c.get(path).json()['registry_first_loan']
        assert got == {'bank_code': harness.PRINCIPALS[who][1] if who != 'regulator'
                       else 'CIB-SM', 'loan_ref': body['loan_ref'],
                       'issue_date': '2020-05-12'}, (who, got)
    r = bank.post('/v1/scf/programs', json={
        'name': '未开始的供应链项目', 'core': f, 'product': 'receivables',
        'credit_limit': '1000000.00', 'started_on': '2099-01-01'})
    assert r.status == 201, r.text
    for c in (bank, reg):
        assert c.get(path).json()['scf_programs'] == [], c
