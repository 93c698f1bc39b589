"""Regulator statistics against a hand-made dataset in a cluster of its own: three banks,
2019 and 2020 loans with every flag, repayments, a renewal, a void and a correction. Every
expected figure below was computed by hand from the table in this docstring, not by the code
under test.

 loan bank issued     county industry size   amount        rate   mode        first mlt  notes
 L1   A    2019-03-10 350402 3412     small  1,000,000.00  5.0000 credit      yes   yes  repaid 200,000 on 2019-12-15 and 300,000 on 2020-06-30
 L2   B    2019-03-20 350403 5212     micro    500,000.00  6.0000 collateral  no    no   renewed by L6 on 2020-03-19
 L3   C    2019-11-05 350481 1311     medium 3,000,000.00  4.5000 pledge      yes   no   repaid in full on 2020-11-04
 L11  B    2019-12-10 350402 3412     small  1,000,000.00  5.0000 credit      yes   no   repaid in full on 2020-06-09
 L4   A    2020-03-10 350402 3412     small  2,000,000.00  4.5000 credit      no    yes  repaid 500,000 on 2021-01-15
 L5   A    2020-03-25 350405 4410     micro    800,000.00  4.0000 credit      yes   no
 L6   B    2020-03-19 350403 5212     micro    500,000.00  5.5000 collateral  no    no   renews L2
 L7   C    2020-06-15 350427 2611     large 10,000,000.00  4.0000 collateral  no    yes
 L8   B    2020-12-01 110105 3412     small  1,000,000.00  4.2000 credit      yes   no   credit line 12,000,000 (not inclusive)
 L9   C    2020-03-05 350402 3412     small    600,000.00  4.8000 credit      yes   no   voided
 L10  A    2020-07-01 350403 1311     small  1,500,000.00  4.4000 credit      no    yes  posted as 900,000.00 / 4.6000, then corrected
 L12  A    2020-12-15 350402 3412     micro    400,000.00  4.2000 credit      no    no
"""

import re

import harness
from finreg_data import firm, loan

A, B, C = 'CIB-SM', 'RCB-SM', 'ZB-SM'
_world = {}


def _firms():
    # Fixed, valid USCCs (check characters computed by finreg_data.uscc_check).
    from finreg_data import uscc_check
    def u(n):
        body = '9135040200000%04d' % n
        return body + uscc_check(body)
    return {
        'F1': firm(u(1), county_code='350402', industry_code='3412', size='small'),
        'F2': firm(u(2), county_code='350403', industry_code='5212', size='micro'),
        'F3': firm(u(3), county_code='350481', industry_code='1311', size='medium'),
        'F4': firm(u(4), county_code='350405', industry_code='4410', size='micro'),
        'F5': firm(u(5), county_code='350427', industry_code='2611', size='large'),
        'F6': firm(u(6), county_code='110105', industry_code='3412', size='small'),
        'F7': firm(u(7), county_code='350402', industry_code='3412', size='small'),
        'F8': firm(u(8), county_code='350403', industry_code='1311', size='small'),
        'F9': firm(u(9), county_code='350402', industry_code='3412', size='small'),
        'F10': firm(u(10), county_code='350402', industry_code='3412', size='micro'),
    }


def _post(client, body, expect=201):
    r = client.post('/v1/loans', json=body)
    assert r.status == expect, (body['loan_ref'], r.status, r.text)
    return r.json()


def _repay(client, ref, rid, date, amount):
    r = client.post('/v1/loans/%s/repayments' % ref,
                    json={'repayment_ref': rid, 'date': date, 'amount': amount})
    assert r.status == 201, r.text


def world():
    """The cluster with the dataset, built once per run; each test starts its own server."""
    if _world:
        return _world
    cl = harness.Cluster()
    harness.finregd('migrate', cluster=cl)
    for kind, code, cert in (('bank', A, 'bank'), ('bank', B, 'bank2'),
                             ('regulator', 'SM-FSB', 'regulator')):
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', code,
                        '--cert', harness.cert_paths(cert)[0], cluster=cl)
    cert, key = harness.make_client_cert(C)
    harness.finregd('principal', 'add', '--kind', 'bank', '--code', C, '--name', C,
                    '--cert', cert, cluster=cl)
    bank_c = harness.Identity('bank', C, C, cert, key)
    srv = harness.Server(cluster=cl)
    try:
        a, b, c = srv.client('bank'), srv.client('bank2'), srv.client(bank_c)
        f = _firms()
        _post(a, loan('L1', f['F1'], amount='1000000.00', issue_date='2019-03-10',
                      maturity_date='2022-03-09', rate='5.0000', credit_line=None))
        _post(b, loan('L2', f['F2'], amount='500000.00', issue_date='2019-03-20',
                      maturity_date='2020-03-19', rate='6.0000', guarantee_mode='collateral',
                      first_loan=False, credit_line=None))
        _post(c, loan('L3', f['F3'], amount='3000000.00', issue_date='2019-11-05',
                      maturity_date='2020-11-04', rate='4.5000', guarantee_mode='pledge',
                      credit_line=None))
        _post(b, loan('L11', f['F9'], amount='1000000.00', issue_date='2019-12-10',
                      maturity_date='2020-06-09', rate='5.0000', credit_line=None))
        _post(a, loan('L4', f['F1'], amount='2000000.00', issue_date='2020-03-10',
                      maturity_date='2023-03-09', rate='4.5000', first_loan=False,
                      credit_line=None))
        _post(a, loan('L5', f['F4'], amount='800000.00', issue_date='2020-03-25',
                      maturity_date='2021-03-24', rate='4.0000', credit_line=None))
        _post(b, loan('L6', f['F2'], amount='500000.00', issue_date='2020-03-19',
                      maturity_date='2021-03-18', rate='5.5000', guarantee_mode='collateral',
                      first_loan=False, renewal=True, renews_loan_ref='L2', credit_line=None))
        _post(c, loan('L7', f['F5'], amount='10000000.00', issue_date='2020-06-15',
                      maturity_date='2025-06-14', rate='4.0000', guarantee_mode='collateral',
                      first_loan=False, credit_line=None))
        _post(b, loan('L8', f['F6'], amount='1000000.00', issue_date='2020-12-01',
                      maturity_date='2021-11-30', rate='4.2000', credit_line='12000000.00'))
        _post(c, loan('L9', f['F7'], amount='600000.00', issue_date='2020-03-05',
                      maturity_date='2021-03-04', rate='4.8000', credit_line=None))
        l10 = loan('L10', f['F8'], amount='900000.00', issue_date='2020-07-01',
                   maturity_date='2022-07-01', rate='4.6000', first_loan=False, credit_line=None)
        _post(a, l10)
        _post(a, loan('L12', f['F10'], amount='400000.00', issue_date='2020-12-15',
                      maturity_date='2021-12-14', rate='4.2000', first_loan=False,
                      credit_line=None))
        r = c.post('/v1/loans/L9/void', json={'reason': 'posted by mistake'})
        assert r.status == 200, r.text
        l10.update(amount='1500000.00', rate='4.4000')
        r = a.put('/v1/loans/L10', json=l10, headers={'If-Match': '"1"'})
        assert r.status == 200, r.text
        _repay(a, 'L1', 'R1', '2019-12-15', '200000.00')
        _repay(a, 'L1', 'R2', '2020-06-30', '300000.00')
        _repay(c, 'L3', 'R3', '2020-11-04', '3000000.00')
        _repay(a, 'L4', 'R4', '2021-01-15', '500000.00')
        _repay(b, 'L11', 'R5', '2020-06-09', '1000000.00')
    finally:
        srv.stop()
    _world.update(cluster=cl, bank_c=bank_c)
    return _world


def _server():
    return harness.Server(cluster=world()['cluster'])


def _get(srv, who, path, expect=200):
    r = srv.client(who).get(path)
    assert r.status == expect, (path, r.status, r.text)
    return r.json()


def flag(count, amount, share_count, share_amount):
    return {'count': count, 'amount': amount, 'share_count': share_count,
            'share_amount': share_amount}


def figures(count, amount, first, credit, mlt, renewal):
    return {'count': count, 'amount': amount, 'first_loan': flag(*first), 'credit': flag(*credit),
            'medium_long_term': flag(*mlt), 'renewal': flag(*renewal)}


def _rows(body):
    """Rows by group, without the group and its name (names: test_exports_xlsx.py)."""
    return {row['group']: {k: v for k, v in row.items() if k not in ('group', 'group_name')}
            for row in body['rows']}


def test_new_loans_by_bank_2020_counts_every_flag_and_share_by_hand():
    srv = _server()
    body = _get(srv, 'regulator', '/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&group_by=bank')
    assert (body['from'], body['to'], body['group_by']) == ('2020-01-01', '2020-12-31', 'bank')
    assert [row['group'] for row in body['rows']] == [A, B, C]
    rows = _rows(body)
    assert rows[A] == figures(4, '4700000.00', (1, '800000.00', 0.25, 0.1702),
                              (4, '4700000.00', 1.0, 1.0), (2, '3500000.00', 0.5, 0.7447),
                              (0, '0.00', 0.0, 0.0)), rows[A]
    assert rows[B] == figures(2, '1500000.00', (1, '1000000.00', 0.5, 0.6667),
                              (1, '1000000.00', 0.5, 0.6667), (0, '0.00', 0.0, 0.0),
                              (1, '500000.00', 0.5, 0.3333)), rows[B]
    assert rows[C] == figures(1, '10000000.00', (0, '0.00', 0.0, 0.0), (0, '0.00', 0.0, 0.0),
                              (1, '10000000.00', 1.0, 1.0), (0, '0.00', 0.0, 0.0)), rows[C]
    assert body['total'] == figures(7, '16200000.00', (2, '1800000.00', 0.2857, 0.1111),
                                    (5, '5700000.00', 0.7143, 0.3519),
                                    (3, '13500000.00', 0.4286, 0.8333),
                                    (1, '500000.00', 0.1429, 0.0309)), body['total']


def test_new_loans_groups_by_county_industry_month_and_size():
    srv = _server()
    base = '/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&group_by='
    county = _rows(_get(srv, 'regulator', base + 'county'))
    assert {k: (v['count'], v['amount']) for k, v in county.items()} == {
        '350402': (2, '2400000.00'), '350403': (2, '2000000.00'), '350405': (1, '800000.00'),
        '350427': (1, '10000000.00'), 'other': (1, '1000000.00')}
    industry = _rows(_get(srv, 'regulator', base + 'industry'))
    assert {k: (v['count'], v['amount']) for k, v in industry.items()} == {
        '13': (1, '1500000.00'), '26': (1, '10000000.00'), '34': (3, '3400000.00'),
        '44': (1, '800000.00'), '52': (1, '500000.00')}
    month = _rows(_get(srv, 'regulator', base + 'month'))
    assert {k: (v['count'], v['amount']) for k, v in month.items()} == {
        '2020-03': (3, '3300000.00'), '2020-06': (1, '10000000.00'),
        '2020-07': (1, '1500000.00'), '2020-12': (2, '1400000.00')}
    size = _rows(_get(srv, 'regulator', base + 'size'))
    assert {k: (v['count'], v['amount']) for k, v in size.items()} == {
        'small': (3, '4500000.00'), 'micro': (3, '1700000.00'), 'large': (1, '10000000.00')}


def test_new_loans_manufacturing_filter_and_ragged_windows():
    srv = _server()
    base = '/v1/stats/new-loans?group_by=bank&'
    mfg = _get(srv, 'regulator', base + 'from=2020-01-01&to=2020-12-31&manufacturing=true')
    assert (mfg['total']['count'], mfg['total']['amount']) == (5, '14900000.00')
    non = _get(srv, 'regulator', base + 'from=2020-01-01&to=2020-12-31&manufacturing=false')
    assert (non['total']['count'], non['total']['amount']) == (2, '1300000.00')
    # Mid-month to mid-month: day rows at both ends, month rows in between (L6, L5, L7).
    ragged = _get(srv, 'regulator', base + 'from=2020-03-15&to=2020-06-30')
    assert (ragged['total']['count'], ragged['total']['amount']) == (3, '11300000.00')
    one_day = _get(srv, 'regulator', base + 'from=2020-03-10&to=2020-03-10')
    assert (one_day['total']['count'], one_day['total']['amount']) == (1, '2000000.00')
    y2019 = _get(srv, 'regulator', base + 'from=2019-01-01&to=2019-12-31')
    assert (y2019['total']['count'], y2019['total']['amount']) == (4, '5500000.00')


def test_a_bank_sees_its_own_figures_with_bank_self_and_nothing_else():
    srv = _server()
    own = _rows(_get(srv, 'bank', '/v1/stats/new-loans?from=2020-01-01&to=2020-12-31'
                                   '&group_by=county&bank=self'))
    assert {k: (v['count'], v['amount']) for k, v in own.items()} == {
        '350402': (2, '2400000.00'), '350403': (1, '1500000.00'), '350405': (1, '800000.00')}
    r = srv.client('bank').get('/v1/stats/new-loans?from=2020-01-01&to=2020-12-31')
    assert r.status == 403 and r.json()['error']['code'] == 'forbidden', r.text
    r = srv.client('bank').get('/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&bank=' + B)
    assert r.status == 403, r.text
    r = srv.client('bank').get('/v1/stats/targets?year=2020')
    assert r.status == 403, r.text


def test_pricing_march_2020_against_march_2019_amount_weighted():
    srv = _server()
    body = _get(srv, 'regulator', '/v1/stats/pricing?month=2020-03')
    assert body['month'] == '2020-03'
    assert body['rows'] == [
        {'period': '2020-03', 'count': 3, 'amount': '3300000.00', 'avg_rate': '4.5303',
         'avg_spread_bp': 48.0303},
        {'period': '2019-03', 'count': 2, 'amount': '1500000.00', 'avg_rate': '5.3333',
         'avg_spread_bp': None}], body['rows']
    assert body['change_pp'] == -0.803, body
    dec = _get(srv, 'regulator', '/v1/stats/pricing?month=2020-12')
    assert [(r['count'], r['avg_rate'], r['avg_spread_bp']) for r in dec['rows']] == [
        (1, '4.2000', 35.0), (1, '5.0000', 85.0)], dec
    assert dec['change_pp'] == -0.8


def test_lending_growth_2020_balances_repayments_renewal_and_void():
    srv = _server()
    body = _get(srv, 'regulator', '/v1/stats/lending-growth?year=2020&as_of=2020-12-31')

    def g(start, as_of, inc, issued):
        return {'outstanding_start': start, 'outstanding_as_of': as_of, 'increase': inc,
                'issued': issued}

    rows = {row.pop('bank_code'): row for row in body['rows']}
    assert all(row.pop('bank_name') == code for code, row in rows.items()), rows
    assert rows[A] == dict(g('800000.00', '5200000.00', '4400000.00', '4700000.00'),
                           manufacturing=g('800000.00', '4400000.00', '3600000.00', '3900000.00'))
    assert rows[B] == dict(g('1500000.00', '1500000.00', '0.00', '1500000.00'),
                           manufacturing=g('1000000.00', '1000000.00', '0.00', '1000000.00'))
    assert rows[C] == dict(g('3000000.00', '10000000.00', '7000000.00', '10000000.00'),
                           manufacturing=g('3000000.00', '10000000.00', '7000000.00',
                                           '10000000.00'))
    assert body['total'] == dict(g('5300000.00', '16700000.00', '11400000.00', '16200000.00'),
                                 manufacturing=g('4800000.00', '15400000.00', '10600000.00',
                                                 '14900000.00'))
    mid = _get(srv, 'regulator', '/v1/stats/lending-growth?year=2020&as_of=2020-06-30')
    rows = {row['bank_code']: row for row in mid['rows']}
    assert (rows[A]['outstanding_as_of'], rows[A]['issued']) == ('3300000.00', '2800000.00')
    assert (rows[B]['outstanding_as_of'], rows[B]['increase']) == ('500000.00', '-1000000.00')
    assert rows[C]['manufacturing']['outstanding_as_of'] == '13000000.00'


def test_targets_2020_read_the_same_figures_and_say_whether_met():
    srv = _server()
    body = _get(srv, 'regulator', '/v1/stats/targets?year=2020')
    rows = {row['metric']: row for row in body['rows']}
    assert rows['lending_increase'] == {'metric': 'lending_increase', 'target': '3000000000.00',
                                        'metric_name': '贷款余额增量',
                                        'actual': '11400000.00', 'progress': 0.0038,
                                        'met': False}
    assert rows['manufacturing_loan_increase']['actual'] == '10600000.00'
    assert rows['manufacturing_loan_increase']['progress'] == 0.0021
    assert rows['small_micro_rate_change_pp'] == {
        'metric': 'small_micro_rate_change_pp', 'metric_name': '普惠小微贷款利率变动（百分点）',
        'target': -0.5, 'actual': -0.8, 'progress': 1.6, 'met': True}


def test_a_change_shows_in_the_very_next_query_and_puts_targets():
    srv = _server()
    url = '/v1/stats/new-loans?from=2020-12-01&to=2020-12-31&group_by=bank'
    before = _get(srv, 'regulator', url)['total']
    assert (before['count'], before['amount']) == (2, '1400000.00')
    extra = loan(None, firm(), amount='123.45', issue_date='2020-12-31',
                 maturity_date='2021-12-31', credit_line=None)
    bank = srv.client('bank2')
    _post(bank, extra)
    after = _get(srv, 'regulator', url)['total']
    assert (after['count'], after['amount'], after['first_loan']['count']) == (3, '1400123.45', 2)
    r = bank.post('/v1/loans/%s/void' % extra['loan_ref'], json={'reason': 'test'})
    assert r.status == 200, r.text
    again = _get(srv, 'regulator', url)['total']
    assert (again['count'], again['amount']) == (2, '1400000.00')
    r = srv.client('regulator').put('/v1/targets/2021/lending_increase',
                                    json={'target': '3500000000.00'})
    assert r.status == 200 and r.json()['target'] == '3500000000.00', r.text
    rows = {x['metric']: x for x in _get(srv, 'regulator', '/v1/stats/targets?year=2021')['rows']}
    assert rows['lending_increase']['target'] == '3500000000.00'
    r = srv.client('bank').put('/v1/targets/2021/lending_increase', json={'target': '1.00'})
    assert r.status == 403, r.text
    r = srv.client('regulator').put('/v1/targets/2021/lending_increase', json={'target': 12})
    assert r.status == 422, r.text


def test_stats_reject_bad_queries():
    srv = _server()
    reg = srv.client('regulator')
    for path, field in (('/v1/stats/new-loans?from=2020-01-01', 'to'),
                        ('/v1/stats/new-loans?from=2020-02-30&to=2020-03-01', 'from'),
                        ('/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&group_by=city',
                         'group_by'),
                        ('/v1/stats/pricing?month=2020-13', 'month'),
                        ('/v1/stats/lending-growth?year=2020&as_of=2021-01-01', 'as_of'),
                        ('/v1/stats/targets?year=twenty', 'year')):
        r = reg.get(path)
        assert r.status == 422, (path, r.text)
        assert r.json()['error']['field'] == field, (path, r.text)


def test_summaries_rebuilt_from_the_loans_equal_the_ones_the_triggers_kept():
    srv = _server()
    paths = ['/v1/stats/new-loans?from=2019-01-01&to=2020-12-31&group_by=' + g
             for g in ('bank', 'county', 'industry', 'month', 'size')]
    paths += ['/v1/stats/pricing?month=2020-03', '/v1/stats/pricing?month=2020-12',
              '/v1/stats/lending-growth?year=2020', '/v1/stats/lending-growth?year=2021']
    before = [_get(srv, 'regulator', p) for p in paths]
    world()['cluster'].psql('SELECT stats_rebuild()')
    after = [_get(srv, 'regulator', p) for p in paths]
    assert before == after
    rows = world()['cluster'].psql("SELECT count(*) FROM stats_new_loans WHERE n <> 0")
    assert int(rows[0][0]) > 0


# Every summary row that is not all zeros (a fold may leave one at zero where a rebuild
# makes none), in one text per table, for comparing the summaries the fold kept with a
# rebuild's.
SUMMARIES = """
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_new_loans s
WHERE (n, amount, first_n, first_amount, credit_n, credit_amount, mlt_n, mlt_amount,
       renewal_n, renewal_amount, sm_n, sm_amount, sm_rate_x_amount, sm_spread_amount,
       sm_spread_x_amount, scf_amount) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_balance s WHERE delta <> 0;
SELECT count(*) > 0 FROM stats_new_loans WHERE sm_n <> 0 AND sm_rate_x_amount <> 0;
"""

COPY_COLUMNS = ('bank_code', 'loan_ref', 'borrower_uscc', 'borrower_name', 'county_code',
                'industry_code', 'size', 'amount_fen', 'issue_date', 'maturity_date', 'rate_e4',
                'guarantee_mode', 'first_loan', 'renewal', 'relief_fund', 'credit_line_fen',
                'term_months', 'medium_long_term', 'manufacturing', 'inclusive_small_micro',
                'lpr_tenor', 'lpr_e4', 'spread_bp', 'content')


def copies_of(source, **replace):
    """SQL: loans copied from the rows `l` of @source (FROM and WHERE), the columns in
    @replace given by those expressions instead."""
    return '\nINSERT INTO loans (%s)\nSELECT %s\nFROM %s;\n' % (
        ', '.join(COPY_COLUMNS),
        ', '.join(replace.get(c, 'l.' + c) for c in COPY_COLUMNS), source)


COPIES_OF_L5 = copies_of("loans l, (VALUES ('P1'), ('P2')) AS r(ref)"
                         " WHERE l.bank_code = 'CIB-SM' AND l.loan_ref = 'L5'", loan_ref='r.ref')


def test_one_pending_row_per_loan_change_counted_before_the_fold_and_folded_like_a_rebuild():
    cl = world()['cluster']
    mine = "SELECT count(*) FROM stats_pending WHERE (loan).id IN " \
           "(SELECT id FROM loans WHERE loan_ref IN ('P1', 'P2')) OR (event).delta = -123;"
    day = "SELECT sum(n), sum(amount) FROM stats_new_loans_window('b', '*', '2020-03-25', " \
          "'2020-03-25', NULL);"
    # In one transaction no compactor sees: two loans in one statement are two pending
    # rows (not 19 deltas each), a repayment one, a correction two (out and in again), a
    # void one (out); the figures count them before any fold, and the same after it.
    rows = cl.psql('BEGIN;' + day + COPIES_OF_L5 + mine + day + """
INSERT INTO repayments (loan_id, repayment_ref, repaid_on, amount_fen)
SELECT id, 'PR1', '2020-04-01', 123 FROM loans WHERE loan_ref = 'P1';
""" + mine + "UPDATE loans SET amount_fen = amount_fen + 1 WHERE loan_ref = 'P2';" + mine
        + day + "UPDATE loans SET status = 'void' WHERE loan_ref = 'P2';" + mine + day
        + "SELECT balance FROM stats_balance_on('2020-04-01') WHERE bank_code = 'CIB-SM' "
          "AND NOT manufacturing;"
        + "SELECT stats_compact() > 0;" + mine + day
        + "SELECT balance FROM stats_balance_on('2020-04-01') WHERE bank_code = 'CIB-SM' "
          "AND NOT manufacturing;"
        + 'ROLLBACK;')
    before, pending_loans, with_two = rows[0], rows[1], rows[2]
    assert before == ['1', '80000000'], rows
    assert pending_loans == ['2'] and with_two == ['3', '240000000'], rows
    assert rows[3] == ['3'], rows                      # + the repayment
    assert rows[4] == ['5'] and rows[5] == ['3', '240000001'], rows    # P2 out and in
    assert rows[6] == ['6'] and rows[7] == ['2', '160000000'], rows    # P2 out (void)
    balance = rows[8]
    assert rows[9] == ['t'] and rows[10] == ['0'], rows
    assert rows[11] == ['2', '160000000'] and rows[12] == balance, rows

    # Committed: the summaries the fold kept equal the ones a rebuild makes, table by table.
    cl.psql("DO $$ BEGIN WHILE stats_compact() > 0 LOOP NULL; END LOOP; END $$;")
    assert cl.psql('SELECT count(*) FROM stats_pending') == [['0']]
    folded = cl.psql(SUMMARIES)
    assert all(r != [''] for r in folded) and folded[2] == ['t'], folded
    cl.psql('SELECT stats_rebuild()')
    assert cl.psql(SUMMARIES) == folded
    # In slices by issue date (a registry's slices are 100,000): of two loans, and of five
    # (the last slice then holds a few loans, folded after the loop): the same. A slice
    # below one loan is refused and changes nothing.
    for size in (2, 5):
        cl.psql('SELECT stats_rebuild(%d)' % size)
        assert cl.psql(SUMMARIES) == folded, size
    for size in ('0', 'NULL'):
        try:
            cl.psql('SELECT stats_rebuild(%s)' % size)
            refused = None
        except Exception as e:  # psql fails on the error; its text is in the exception
            refused = str(e)
        assert refused is not None and 'at least one loan' in refused, (size, refused)
    assert cl.psql(SUMMARIES) == folded


def test_a_balance_at_the_end_of_any_day_is_the_sum_of_the_days_up_to_it():
    """stats_balances_on reads year, month and day rows by the day after (so the end of a
    month reads no day rows, of a year year rows only): against the day rows alone, on the
    first and last days of months and years, 28 and 29 February, and two days in either
    order, with changes pending and folded."""
    cl = world()['cluster']
    days = ['2019-12-31', '2020-01-01', '2020-01-31', '2020-02-28', '2020-02-29',
            '2020-03-01', '2020-03-25', '2020-04-01', '2020-06-30', '2020-12-31',
            '2021-01-01', '2021-02-28', '2021-12-31']
    pairs = ', '.join("('%s'::date, '%s'::date)" % (a, b)
                      for a in days for b in (days[0], days[-1], a))
    # Rows the function gives and the day rows do not, and the other way round (groups
    # whose two balances are zero left out on both sides).
    check = """SELECT count(*) FROM (VALUES %s) d(day0, day1), LATERAL (
    WITH f AS (SELECT b.bank_code, b.manufacturing, b.balance0, b.balance1
               FROM stats_balances_on(d.day0, d.day1) b
               WHERE b.balance0 <> 0 OR b.balance1 <> 0),
         t AS (SELECT s.bank_code, s.manufacturing,
                      coalesce(sum(s.delta) FILTER (WHERE s.period <= d.day0), 0)::bigint AS b0,
                      coalesce(sum(s.delta) FILTER (WHERE s.period <= d.day1), 0)::bigint AS b1
               FROM stats_balance_all s WHERE s.grain = 'd' GROUP BY 1, 2)
    (SELECT * FROM f EXCEPT SELECT * FROM t WHERE t.b0 <> 0 OR t.b1 <> 0)
    UNION ALL
    (SELECT * FROM t WHERE t.b0 <> 0 OR t.b1 <> 0 EXCEPT SELECT * FROM f)) x;
""" % pairs
    nonzero = "SELECT count(DISTINCT period) FROM stats_balance_all WHERE grain = 'd';"
    fold = "SELECT stats_compact_locked(100000) >= 0 " \
           "FROM (SELECT pg_advisory_xact_lock(7340012004)) l;"
    rows = cl.psql('BEGIN;' + COPIES_OF_L5 + """
INSERT INTO repayments (loan_id, repayment_ref, repaid_on, amount_fen)
SELECT id, 'BR1', '2020-12-31', 321 FROM loans WHERE loan_ref = 'P1';
""" + check + fold + check + nonzero + 'ROLLBACK;')
    assert rows[0] == ['0'] and rows[1] == ['t'] and rows[2] == ['0'], rows
    assert int(rows[3][0]) > 5, rows                   # the check had days to compare


def test_a_new_loan_window_of_any_days_is_the_sum_of_its_day_rows():
    """stats_new_loans_window reads year rows for whole years (by bank), month rows for the
    whole months around them and day rows for the ragged ends: against the day rows alone, for
    windows from '-infinity', from and to first and last days of months and years, mid-month
    days and single days, inside one year and across two and three, along every dimension,
    every bank's and one bank's, all loans and manufacturing ones, with changes pending and
    folded; and asked for no year rows (p_by_month, which an answer grouped by month would
    need) it gives none."""
    cl = world()['cluster']
    days = ['2019-01-01', '2019-03-10', '2019-03-31', '2019-11-05', '2019-12-31',
            '2020-01-01', '2020-03-01', '2020-03-19', '2020-06-30', '2020-12-01',
            '2020-12-31', '2021-01-01', '2021-01-15', '2021-12-31']
    windows = ', '.join("('%s'::date, '%s'::date)" % (a, b)
                        for a in ['-infinity'] + days for b in days if a <= b)
    cols = ('n', 'amount', 'first_n', 'first_amount', 'credit_n', 'credit_amount', 'mlt_n',
            'mlt_amount', 'renewal_n', 'renewal_amount', 'sm_n', 'sm_amount',
            'sm_rate_x_amount', 'sm_spread_amount', 'sm_spread_x_amount', 'scf_amount')
    sums = ', '.join('sum(s.%s) AS %s' % (c, c) for c in cols)
    nonzero = ' OR '.join('%s <> 0' % c for c in cols)
    # Per window, dimension, bank and filter: the groups the window gives and the day rows
    # do not, and the other way round (groups of zeros left out on both sides: a fold may
    # keep such a row where a rebuild makes none), and how many groups have figures.
    check = """SELECT count(*) FILTER (WHERE x.diff <> 0), count(*), count(*) FILTER (WHERE x.n > 0)
FROM (VALUES %(windows)s) w(f, t),
     (VALUES ('b'), ('c'), ('i'), ('s')) d(dim),
     (VALUES ('*'), ('CIB-SM')) k(bank),
     (VALUES (NULL::boolean), (true)) m(mfg),
     LATERAL (
    WITH f AS (SELECT * FROM (
                   SELECT s.key, s.manufacturing, %(sums)s
                   FROM stats_new_loans_window(d.dim, k.bank, w.f, w.t, m.mfg) s
                   GROUP BY 1, 2) g WHERE %(nonzero)s),
         t AS (SELECT * FROM (
                   SELECT s.key, s.manufacturing, %(sums)s
                   FROM stats_new_loans_all s
                   WHERE s.grain = 'd' AND s.dim = d.dim AND s.period BETWEEN w.f AND w.t
                     AND s.bank_code = CASE WHEN d.dim = 'b' THEN '*' ELSE k.bank END
                     AND (d.dim <> 'b' OR k.bank = '*' OR s.key = k.bank)
                     AND (m.mfg IS NULL OR s.manufacturing = m.mfg)
                   GROUP BY 1, 2) g WHERE %(nonzero)s)
    SELECT (SELECT count(*) FROM ((TABLE f EXCEPT TABLE t) UNION ALL
                                  (TABLE t EXCEPT TABLE f)) e) AS diff,
           (SELECT count(*) FROM t) AS n) x;
""" % {'windows': windows, 'sums': sums, 'nonzero': nonzero}
    fold = "SELECT stats_compact_locked(100000) >= 0 " \
           "FROM (SELECT pg_advisory_xact_lock(7340012004)) l;"
    years = "SELECT count(*) FROM stats_new_loans_all WHERE grain = 'y';"
    # 2020 by bank, summed by the month of each row's period: with p_by_month every row
    # lies in its month (the hand-made months of the docstring's table); without it the
    # year's row stands on 1 January.
    by_month = ''.join("""
SELECT string_agg(m || ':' || n, ',' ORDER BY m) FROM (
    SELECT to_char(w.period, 'YYYY-MM') AS m, sum(w.n) AS n
    FROM stats_new_loans_window('b', '*', '2020-01-01', '2020-12-31', NULL, %s) w
    GROUP BY 1 HAVING sum(w.n) <> 0) x;""" % flag for flag in ('true', 'false'))
    rows = cl.psql('BEGIN;' + by_month + COPIES_OF_L5 + years + check + fold + check
                   + 'ROLLBACK;')
    assert rows[0] == ['2020-03:3,2020-06:1,2020-07:1,2020-12:2'], rows
    assert rows[1] == ['2020-01:7'], rows
    rows = rows[2:]
    assert int(rows[0][0]) > 0, rows                  # year rows there to be read
    n_windows = len(windows.split('), ('))
    assert n_windows == 14 + 105, n_windows
    # No window disagrees, pending (rows[1]) or folded (rows[3]); every combination was
    # checked, most with figures to compare.
    assert rows[1][:2] == ['0', str(n_windows * 16)] and int(rows[1][2]) > 800, rows
    assert rows[2] == ['t'] and rows[3] == rows[1], rows


def test_a_backlog_folds_in_chunks_and_each_reader_adds_only_its_own_pending_loans():
    cl = world()['cluster']
    copies = COPIES_OF_L5.replace("(VALUES ('P1'), ('P2'))",
                                  "(VALUES ('Q1'), ('Q2'), ('Q3'), ('Q4'), ('Q5'))")
    mine = "SELECT count(*) FROM stats_pending WHERE (loan).id IN " \
           "(SELECT id FROM loans WHERE loan_ref LIKE 'Q_');"
    # What readers see: A's day and year (the copies count), B's year and A's window after
    # the copies' date (they do not: their pending rows are filtered out before the
    # fan-out), A's and B's pricing of March 2020, A's balance on the day, A's March by bank
    # (one bank's key among every bank's rows) and every bank's March by county.
    figures = """
SELECT sum(n), sum(amount) FROM stats_new_loans_window('b', '*', '2020-03-25', '2020-03-25', NULL);
SELECT sum(n), sum(amount) FROM stats_new_loans_window('b', 'CIB-SM', '2020-03-01', '2020-03-31', NULL);
SELECT sum(n), sum(amount) FROM stats_new_loans_window('c', '*', '2020-03-01', '2020-03-31', NULL);
SELECT sum(n), sum(amount) FROM stats_new_loans_window('s', 'CIB-SM', '2020-01-01', '2020-12-31', NULL);
SELECT sum(n), sum(amount) FROM stats_new_loans_window('s', 'RCB-SM', '2020-01-01', '2020-12-31', NULL);
SELECT coalesce(sum(n), 0) FROM stats_new_loans_window('s', 'CIB-SM', '2020-03-26', '2020-12-31', NULL);
SELECT n, amount FROM stats_pricing_month('CIB-SM', '2020-03-01') WHERE period = '2020-03-01';
SELECT n, amount FROM stats_pricing_month('RCB-SM', '2020-03-01') WHERE period = '2020-03-01';
SELECT balance FROM stats_balance_on('2020-03-25') WHERE bank_code = 'CIB-SM' AND NOT manufacturing;
"""
    # In one transaction that holds the compaction lock (the server's compactor waits):
    # everything else folded first, then five copies of L5 pending (five statistics rows,
    # and one balance-timeline change: the same bank, firm and day), folded two at a time.
    sql = ('BEGIN; SELECT pg_advisory_xact_lock(7340012004);'
           'DO $$ BEGIN WHILE stats_compact(100000) > 0 LOOP NULL; END LOOP; END $$;'
           + figures + copies + mine + figures)
    for _ in range(4):
        sql += 'SELECT stats_compact(2);' + mine + figures
    rows = cl.psql(sql + 'ROLLBACK;')
    n = len(figures.strip().splitlines())
    before, rows = rows[1:1 + n], rows[1 + n:]       # rows[0]: the lock
    assert before[0] == ['1', '80000000'], before
    pending, with5, rows = rows[0], rows[1:1 + n], rows[1 + n:]
    assert pending == ['5']
    added = 5 * 80000000
    def plus5(row):
        return [str(int(row[0]) + 5), str(int(row[1]) + added)]
    assert with5[0] == ['6', str(80000000 + added)], with5
    assert with5[1] == plus5(before[1]) and with5[2] == plus5(before[2]), (before, with5)
    assert with5[3] == plus5(before[3]), (before, with5)
    assert with5[4:6] == before[4:6], (before, with5)
    assert with5[6] == plus5(before[6]), (before, with5)
    assert with5[7] == before[7], (before, with5)
    assert with5[8] == [str(int(before[8][0]) + added)], with5
    folded = []
    for _ in range(4):
        folded.append(rows[0][0])
        assert rows[1] == [str(5 - 2 * len(folded) if len(folded) < 3 else 0)], rows
        assert rows[2:2 + n] == with5, (len(folded), rows, with5)
        rows = rows[2 + n:]
    assert folded == ['2', '2', '1', '0'], folded
    assert rows == [], rows


# 20,000 copies of the bank's loan @1 to the firms of its loans, one a firm in turn, each on
# its own day of 2010-2024: the pending rows of a back-dated import, dear to fold.
SPREAD_COPIES = copies_of(
    """generate_series(1, %(n)d) n
CROSS JOIN LATERAL (SELECT date '2010-01-01' + (n * 7919) %% 5400 AS day) d
JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS k, borrower_uscc, borrower_name
      FROM loans WHERE loan_ref LIKE 'DEAR-%%') f ON f.k = n %% %(firms)d
CROSS JOIN (SELECT * FROM loans WHERE loan_ref = 'DEAR-0') l""",
    loan_ref="'SPREAD-' || n", borrower_uscc='f.borrower_uscc', borrower_name='f.borrower_name',
    issue_date='d.day', maturity_date='d.day + (l.maturity_date - l.issue_date)')


def _gauge(srv, name):
    r = srv.client(None).get('/metrics')
    assert r.status == 200, r
    m = re.search('^' + name + r' (\S+)$', r.text, re.M)
    assert m, r.text
    return float(m.group(1))


def test_a_backlog_whose_chunk_passes_the_statement_timeout_still_drains(ctx):
    """Found by audit (4 December): a chunk of 5,000 pending loans spread over years took
    0.7-2.9 s under load, and one the statement timeout cancelled folded nothing; the next
    run tried the same 5,000, so a registry where that chunk passes the timeout never
    folded again. Here 5,000 such rows take ~0.7 s against a timeout of 150 ms (500 take
    ~90 ms): the compactor halves the chunk until one fits, drains the backlog and doubles
    the chunk back to 5,000 once it has caught up."""
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl, env={'FINREG_STATEMENT_TIMEOUT_MS': 150})
    ctx.defer(srv.stop)
    bank = srv.client('bank')
    firms = 100
    seeds = [loan('DEAR-%d' % k, borrower=firm()) for k in range(firms)]
    # One batch, retried as the contract says should the short timeout cut it.
    r = harness.poll(lambda: bank.post('/v1/loans/batch', json={'loans': seeds}), timeout=10,
                     until=lambda r: r.status != 503)
    assert r.status == 200 and r.json()['created'] == firms, r
    pending = "SELECT count(*) FROM stats_pending"
    drained = lambda: cl.psql(pending) == [['0']]
    assert harness.poll(drained, timeout=10)
    assert _gauge(srv, 'finreg_compactor_chunk_rows') == 5000
    # Counted inside the inserting transaction, so no fold can have begun.
    assert cl.psql('BEGIN;' + SPREAD_COPIES % {'n': 20000, 'firms': firms} + pending +
                   '; COMMIT;') == [['20000']]
    assert harness.poll(drained, timeout=90), cl.psql(pending)
    cut = re.findall(r'a chunk of (\d+) rows passed the statement timeout; trying (\d+)',
                     srv.log())
    assert cut and cut[0] == ('5000', '2500'), srv.log_tail()
    # Caught up, each run's quick chunk doubles it back (13 doublings at most).
    assert harness.poll(lambda: _gauge(srv, 'finreg_compactor_chunk_rows'), timeout=30,
                        until=lambda v: v == 5000) == 5000
    # What was folded is every copy: the year's figure as the summaries alone hold it.
    assert cl.psql("SELECT sum(n) FROM stats_new_loans WHERE dim = 'b' AND grain = 'm'") == [['20100']]
