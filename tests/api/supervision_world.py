"""The hand-made dataset of the supervision tests (test_supervision.py, test_firms.py), built
once per run in a cluster of its own. Every expected figure in those tests is worked out by
hand from the tables below.

Banks: A = CIB-SM (cert 'bank'), B = RCB-SM ('bank2'), C = ZB-SM, D = DB-SM (no loans).

Scorecard data, year 2020 (as_of 2020-06-30; the year before up to 2019-06-30):
 loan bank firm issued     maturity   amount        rate   mode        first renewal notes
 A1   A    F1   2019-03-01 2022-02-28 1,000,000.00  5.0000 credit      yes   no      repaid 200,000 on 2020-05-01
 A2   A    F2   2020-02-01 2023-01-31 2,000,000.00  4.5000 credit      yes   no      medium/long-term
 A3   A    F3   2020-03-01 2021-02-28 1,000,000.00  4.0000 collateral  no    no      F3 medium: not inclusive; relief_fund
 B1   B    F4   2019-05-01 2020-04-30   500,000.00  6.0000 collateral  no    no      renewed by B2
 B2   B    F4   2020-04-30 2021-04-29   500,000.00  5.0000 collateral  no    yes     renews B1
 B3   B    F5   2020-05-10 2021-05-09 1,000,000.00  4.0000 credit      yes   no      under B's supply-chain program
 C1   C    F6   2020-06-01 2021-05-31 3,000,000.00  4.2000 pledge      no    no
 CX1  C    F1   2021-02-01 2022-01-31   100,000.00  4.0000 credit      no    no      F1 renamed by C's report
Firms: F1 small 3412, F2 small 3412, F3 medium 1311, F4 micro 5212 (not manufacturing),
F5 small 3412, F6 small 2611. Referrals made in 2020: to A for F3 (funded by A3) and F1
(referred); to B for F5 (declined).

Withdrawal-watch data, 2021 (as_of 2021-09-30, 90 days: the window is (2021-07-02, 2021-09-30]):
 loan bank firm      issued     maturity   amount        repayments / notes
 AR1  A    G1 small  2021-01-10 2021-09-09 1,000,000.00  400,000 on 07-15, 600,000 on 08-10 (30 days before maturity)
 AR2  A    G2 small  2020-09-01 2021-08-31   500,000.00  500,000 on 08-31 (at maturity)
 AR3  A    G2        2021-09-05 2022-09-04   500,000.00  re-lent in the window
 BR1  B    G3 medium 2021-02-01 2023-01-31 2,000,000.00  1,400,000 on 09-01
 BR2  B    G4 small  2021-03-01 2023-02-28 1,000,000.00  300,000 on 08-01
 BR3  B    G7 small  2020-08-01 2021-07-31 1,000,000.00  renewed by BR4
 BR4  B    G7        2021-07-31 2022-07-30 1,000,000.00  renews BR3
 CR1  C    G5 micro  2021-01-05 2021-07-20   800,000.00  800,000 on 07-20 (at maturity)
 CR2  C    G6 large  2021-01-05 2022-01-04 5,000,000.00  5,000,000 on 08-01 (large firm)
Flags: G1 referred (to A, 2021-06-01, open); G3 whitelisted (2021-01-01..2021-12-31); G5 the
core of C's program started 2021-01-01.
"""

import harness
from finreg_data import firm, loan, uscc_check

A, B, C, D = 'CIB-SM', 'RCB-SM', 'ZB-SM', 'DB-SM'
GUARANTOR = 'SM-GUAR'
_world = {}


def u(n):
    body = '9135040200001%04d' % n
    return body + uscc_check(body)


FIRMS = {
    'F1': firm(u(1), name='三明某机械有限公司', county_code='350402', industry_code='3412'),
    'F2': firm(u(2), name='三明某钢铁有限公司', county_code='350402', industry_code='3412'),
    'F3': firm(u(3), name='永安某纺织有限公司', county_code='350481', industry_code='1311',
               size='medium'),
    'F4': firm(u(4), name='三元某商贸有限公司', county_code='350403', industry_code='5212',
               size='micro'),
    'F5': firm(u(5), name='沙县某机械配件有限公司', county_code='350405', industry_code='3412'),
    'F6': firm(u(6), name='大田某化工有限公司', county_code='350425', industry_code='2611'),
    'G1': firm(u(11), name='三明甲制造有限公司', county_code='350402', industry_code='3412'),
    'G2': firm(u(12), name='三明乙制造有限公司', county_code='350402', industry_code='3412'),
    'G3': firm(u(13), name='三明丙制造有限公司', county_code='350403', industry_code='3412',
               size='medium'),
    'G4': firm(u(14), name='三明丁制造有限公司', county_code='350403', industry_code='3412'),
    'G5': firm(u(15), name='三明戊商贸有限公司', county_code='350427', industry_code='5212',
               size='micro'),
    'G6': firm(u(16), name='三明己集团有限公司', county_code='350427', industry_code='3120',
               size='large'),
    'G7': firm(u(17), name='三明庚制造有限公司', county_code='350402', industry_code='3412'),
}


def _ok(r, status=(200, 201)):
    assert r.status in status, (r.status, r.text)
    return r.json()


def _loan(c, ref, f, amount, issued, matures, rate='4.0000', mode='credit', first=False,
          **kw):
    return _ok(c.post('/v1/loans', json=loan(ref, FIRMS[f] if isinstance(f, str) else f,
                                            amount=amount, issue_date=issued,
                                            maturity_date=matures, rate=rate,
                                            guarantee_mode=mode, first_loan=first,
                                            credit_line=None, **kw)), (201,))


def _repay(c, ref, rid, day, amount):
    _ok(c.post('/v1/loans/%s/repayments' % ref,
               json={'repayment_ref': rid, 'date': day, 'amount': amount}), (201,))


def _scorecard_data(a, b, c, reg):
    _loan(a, 'A1', 'F1', '1000000.00', '2019-03-01', '2022-02-28', '5.0000', first=True)
    _loan(a, 'A2', 'F2', '2000000.00', '2020-02-01', '2023-01-31', '4.5000', first=True)
    _loan(a, 'A3', 'F3', '1000000.00', '2020-03-01', '2021-02-28', '4.0000', 'collateral',
          relief_fund=True)
    _repay(a, 'A1', 'RA1', '2020-05-01', '200000.00')
    _loan(b, 'B1', 'F4', '500000.00', '2019-05-01', '2020-04-30', '6.0000', 'collateral')
    _loan(b, 'B2', 'F4', '500000.00', '2020-04-30', '2021-04-29', '5.0000', 'collateral',
          renewal=True, renews_loan_ref='B1')
    core = firm(u(21), name='三明某钢铁集团有限公司', industry_code='3120', size='large')
    prog = _ok(b.post('/v1/scf/programs', json={
        'name': '钢铁供应链', 'core': core, 'product': 'receivables',
        'credit_limit': '50000000.00', 'started_on': '2020-01-01'}), (201,))
    _ok(b.post('/v1/scf/programs/%d/members' % prog['id'],
               json={'firm': FIRMS['F5'], 'side': 'upstream', 'joined_on': '2020-05-01'}), (201,))
    _loan(b, 'B3', 'F5', '1000000.00', '2020-05-10', '2021-05-09', '4.0000', first=True,
          scf_program_id=prog['id'])
    _loan(c, 'C1', 'F6', '3000000.00', '2020-06-01', '2021-05-31', '4.2000', 'pledge')
    for f, bank, day, end in (('F3', A, '2020-02-15', 'funded'), ('F1', A, '2020-03-01', None),
                              ('F5', B, '2020-02-01', 'declined')):
        ref = _ok(reg.post('/v1/referrals', json=dict(
            FIRMS[f], bank_code=bank, requested_amount='1000000.00', reason='受疫情影响',
            referred_on=day)), (201,))
        who = a if bank == A else b
        if end == 'funded':
            _ok(who.patch('/v1/referrals/' + ref['id'], json={'status': 'accepted'}))
            _ok(who.patch('/v1/referrals/' + ref['id'], json={'status': 'funded',
                                                              'loan_ref': 'A3'}))
        elif end == 'declined':
            _ok(who.patch('/v1/referrals/' + ref['id'],
                          json={'status': 'declined', 'decline_reason': '资料不全'}))
    renamed = dict(FIRMS['F1'], name='三明某机械股份有限公司')
    _loan(c, 'CX1', renamed, '100000.00', '2021-02-01', '2022-01-31')


def _watch_data(a, b, c, reg):
    _loan(a, 'AR1', 'G1', '1000000.00', '2021-01-10', '2021-09-09')
    _repay(a, 'AR1', 'RAR1a', '2021-07-15', '400000.00')
    _repay(a, 'AR1', 'RAR1b', '2021-08-10', '600000.00')
    _loan(a, 'AR2', 'G2', '500000.00', '2020-09-01', '2021-08-31')
    _repay(a, 'AR2', 'RAR2', '2021-08-31', '500000.00')
    _loan(a, 'AR3', 'G2', '500000.00', '2021-09-05', '2022-09-04')
    _loan(b, 'BR1', 'G3', '2000000.00', '2021-02-01', '2023-01-31')
    _repay(b, 'BR1', 'RBR1', '2021-09-01', '1400000.00')
    _loan(b, 'BR2', 'G4', '1000000.00', '2021-03-01', '2023-02-28')
    _repay(b, 'BR2', 'RBR2', '2021-08-01', '300000.00')
    _loan(b, 'BR3', 'G7', '1000000.00', '2020-08-01', '2021-07-31')
    _loan(b, 'BR4', 'G7', '1000000.00', '2021-07-31', '2022-07-30', renewal=True,
          renews_loan_ref='BR3')
    _loan(c, 'CR1', 'G5', '800000.00', '2021-01-05', '2021-07-20')
    _repay(c, 'CR1', 'RCR1', '2021-07-20', '800000.00')
    _loan(c, 'CR2', 'G6', '5000000.00', '2021-01-05', '2022-01-04')
    _repay(c, 'CR2', 'RCR2', '2021-08-01', '5000000.00')
    _ok(reg.post('/v1/referrals', json=dict(
        FIRMS['G1'], bank_code=A, requested_amount='500000.00', reason='受疫情影响',
        referred_on='2021-06-01')), (201,))
    _ok(reg.post('/v1/whitelist', json={
        'uscc': FIRMS['G3']['uscc'], 'name': FIRMS['G3']['name'], 'reason': '制造业龙头企业',
        'valid_from': '2021-01-01', 'valid_to': '2021-12-31'}), (201,))
    _ok(c.post('/v1/scf/programs', json={
        'name': '商贸供应链', 'core': FIRMS['G5'], 'product': 'orders',
        'credit_limit': '10000000.00', 'started_on': '2021-01-01'}), (201,))


# A bank's balance to a firm from the withdrawal watch's timeline (migration 014), compared
# with the loans scanned one by one (watch_loan_balance, the definition) for every pair and
# every day from @first to @last: the number of pair-days that differ.
TIMELINE_MISMATCHES = """
SELECT count(*) FROM (SELECT DISTINCT bank_code, borrower_uscc FROM loans) p
CROSS JOIN generate_series(date '%s', date '%s', interval '1 day') d
WHERE watch_balance_on(p.bank_code, p.borrower_uscc, d::date) <>
      (SELECT coalesce(sum(watch_loan_balance(l, d::date)), 0) FROM loans l
       WHERE l.bank_code = p.bank_code AND l.borrower_uscc = p.borrower_uscc);
"""
# Falls whose cut_from (migration 016) is not what watch_cut_from gives on the folded rows.
CUT_MISMATCHES = """
SELECT count(*) FROM watch_balance f
LEFT JOIN LATERAL watch_cut_from(f.bank_code, f.uscc, f.day, f.balance) c ON f.delta < 0
WHERE f.cut_from IS DISTINCT FROM c.cut_from;
"""


def new_cluster():
    """A migrated cluster of its own with the four banks (A and B with the suite's 'bank' and
    'bank2' certificates, C and D with new ones), the regulator and the guarantor; returns it
    and {code: what to pass to Server.client} for the four banks."""
    cl = harness.Cluster()
    harness.finregd('migrate', cluster=cl)
    ids = {A: 'bank', B: 'bank2'}
    for kind, code, cert in (('bank', A, 'bank'), ('bank', B, 'bank2'),
                             ('regulator', 'SM-FSB', 'regulator'),
                             ('guarantor', GUARANTOR, 'guarantor')):
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', code,
                        '--cert', harness.cert_paths(cert)[0], cluster=cl)
    for code in (C, D):
        cert, key = harness.make_client_cert(code)
        harness.finregd('principal', 'add', '--kind', 'bank', '--code', code, '--name', code,
                        '--cert', cert, cluster=cl)
        ids[code] = harness.Identity('bank', code, code, cert, key)
    return cl, ids


def world():
    """The cluster with the dataset and a running server, built once per run."""
    if _world:
        return _world
    cl, ids = new_cluster()
    srv = harness.Server(cluster=cl)
    a, b, c, reg = srv.client('bank'), srv.client('bank2'), srv.client(ids[C]), \
        srv.client('regulator')
    _scorecard_data(a, b, c, reg)
    _watch_data(a, b, c, reg)
    _world.update(cluster=cl, server=srv, bank_c=ids[C], bank_d=ids[D])
    return _world


def server():
    """A running server on the dataset's cluster (each test's servers stop when it ends)."""
    w = world()
    if not w['server'].running():
        w['server'] = harness.Server(cluster=w['cluster'])
    return w['server']


def client(who):
    w = world()
    return server().client({'C': w['bank_c'], 'D': w['bank_d']}.get(who, who))


def get(who, path, expect=200):
    r = client(who).get(path)
    assert r.status == expect, (path, r.status, r.text)
    return r
