"""The withdrawal watch's balance timeline (migration 014, sql/supervision.sql) against a small
hand-made dataset in a cluster of its own: what the timeline must keep exact to the fen as of
any day — a correction, a void, a repayment dated after the window, an as_of in the past,
changes not yet folded by the compactor, a cut made of two small falls (the cut_from of
migration 016), and migrations 014 and 016 building it for an existing registry. Every
expected row below is worked out by hand from this table:

 loan bank firm       issued     maturity   amount        repayments / later changes
 TA1  A    H1 small   2022-01-10 2023-01-09   800,000.00  600,000 on 2022-05-10; then corrected to 3,000,000.00
 TA2  A    H2 small   2022-02-01 2023-01-31   500,000.00  500,000 on 2022-07-15 (after the June window)
 TA4  A    H4 small   2022-01-01 2023-01-01   600,000.00  300,000 on 2022-05-01; then voided
 TB3  B    H3 micro   2020-10-05 2023-01-04 1,000,000.00  400,000 on 2021-03-01, 600,000 on 2022-05-20
 TB5  B    H5 small   2022-01-05 2023-01-04 1,000,000.00  200,000 on 2022-05-05, 200,000 on 2022-06-05
"""

import harness
from finreg_data import firm, loan, uscc_check
from supervision_world import CUT_MISMATCHES, TIMELINE_MISMATCHES

A, B = 'CIB-SM', 'RCB-SM'
_world = {}


def _fold(cl):
    """Folds what is pending, now: stats_compact() only tries the compaction lock and
    answers -1 while the server's compactor holds it (whose fold may not have committed
    yet), so it is asked again until it has run itself."""
    r = harness.poll(lambda: cl.psql('SELECT stats_compact();'), 10.0,
                     lambda r: int(r[0][0]) >= 0)
    assert int(r[0][0]) >= 0, r


def u(n):
    body = '9135040200002%04d' % n
    return body + uscc_check(body)


FIRMS = {
    'H1': firm(u(1), name='三明子制造有限公司', county_code='350402', industry_code='3412'),
    'H2': firm(u(2), name='三明丑制造有限公司', county_code='350402', industry_code='3412'),
    'H3': firm(u(3), name='三元寅商贸有限公司', county_code='350403', industry_code='5212',
               size='micro'),
    'H4': firm(u(4), name='三明卯制造有限公司', county_code='350402', industry_code='3412'),
    'H5': firm(u(5), name='三明辰制造有限公司', county_code='350402', industry_code='3412'),
}

MISMATCHES = TIMELINE_MISMATCHES % ('2020-09-01', '2022-12-31')
PAYOFFS = """
SELECT l.loan_ref, p.paid_off_on FROM watch_payoffs p JOIN loans l ON l.id = p.loan_id
ORDER BY 1;
"""


def _ok(r, status=(200, 201)):
    assert r.status in status, (r.status, r.text)
    return r.json()


def _loan(c, ref, f, amount, issued, matures):
    return _ok(c.post('/v1/loans', json=loan(ref, FIRMS[f], amount=amount, issue_date=issued,
                                            maturity_date=matures, first_loan=False,
                                            credit_line=None)), (201,))


def _repay(c, ref, rid, day, amount):
    _ok(c.post('/v1/loans/%s/repayments' % ref,
               json={'repayment_ref': rid, 'date': day, 'amount': amount}), (201,))


def world():
    if _world:
        return _world
    cl = harness.Cluster()
    harness.finregd('migrate', cluster=cl)
    for kind, code, cert in (('bank', A, 'bank'), ('bank', B, 'bank2'),
                             ('regulator', 'SM-FSB', 'regulator')):
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', code,
                        '--cert', harness.cert_paths(cert)[0], cluster=cl)
    srv = harness.Server(cluster=cl)
    a, b = srv.client('bank'), srv.client('bank2')
    _loan(a, 'TA1', 'H1', '800000.00', '2022-01-10', '2023-01-09')
    _repay(a, 'TA1', 'RTA1', '2022-05-10', '600000.00')
    _loan(a, 'TA2', 'H2', '500000.00', '2022-02-01', '2023-01-31')
    _repay(a, 'TA2', 'RTA2', '2022-07-15', '500000.00')
    _loan(a, 'TA4', 'H4', '600000.00', '2022-01-01', '2023-01-01')
    _repay(a, 'TA4', 'RTA4', '2022-05-01', '300000.00')
    _loan(b, 'TB3', 'H3', '1000000.00', '2020-10-05', '2023-01-04')
    _repay(b, 'TB3', 'RTB3a', '2021-03-01', '400000.00')
    _repay(b, 'TB3', 'RTB3b', '2022-05-20', '600000.00')
    _loan(b, 'TB5', 'H5', '1000000.00', '2022-01-05', '2023-01-04')
    _repay(b, 'TB5', 'RTB5a', '2022-05-05', '200000.00')
    _repay(b, 'TB5', 'RTB5b', '2022-06-05', '200000.00')
    reg = srv.client('regulator')
    _world.update(cluster=cl, server=srv, before={
        q: _ok(reg.get('/v1/alerts/withdrawals?' + q))['rows'] for q in (JUNE, JULY)})
    # The later changes: TA1 corrected to 3,000,000.00, TA4 voided.
    ta1 = _ok(a.get('/v1/loans/TA1'))
    body = loan('TA1', FIRMS['H1'], amount='3000000.00', issue_date='2022-01-10',
                maturity_date='2023-01-09', first_loan=False, credit_line=None)
    _ok(a.put('/v1/loans/TA1', json=body, headers={'If-Match': '"%d"' % ta1['version']}))
    _ok(a.post('/v1/loans/TA4/void', json={'reason': 'posted by mistake'}))
    return _world


def _server():
    w = world()
    if not w['server'].running():
        w['server'] = harness.Server(cluster=w['cluster'])
    return w['server']


def _alerts(query):
    r = _server().client('regulator').get('/v1/alerts/withdrawals?' + query)
    assert r.status == 200, (query, r.status, r.text)
    return r.json()['rows']


def _row(kind, bank, f, before, after, date, ref=None):
    return {'kind': kind, 'bank_code': bank, 'uscc': FIRMS[f]['uscc'], 'name': FIRMS[f]['name'],
            'county_code': FIRMS[f]['county_code'], 'outstanding_before': before,
            'outstanding_as_of': after, 'date': date, 'loan_ref': ref, 'flags': []}


# Window (2022-04-01, 2022-06-30]:
#  A/H1: 800,000 -> 200,000 (25%): cut.  A/H2: its repayment is dated 07-15: nothing.
#  A/H4: 600,000 -> 300,000 (50%): cut.  B/H3: 600,000 -> 0 on 05-20, 229 days before
#  maturity, no new loan: cutoff and recall.  B/H5: 1,000,000 -> 800,000 -> 600,000 (60%) by
#  two falls of which neither alone is 30%: cut.
JUNE = 'as_of=2022-06-30&window_days=90'
H3_JUNE = [_row('cutoff', B, 'H3', '600000.00', '0.00', '2022-05-20'),
           _row('recall', B, 'H3', '600000.00', '0.00', '2022-05-20', 'TB3')]
B_JUNE = H3_JUNE + [_row('cut', B, 'H5', '1000000.00', '600000.00', '2022-06-30')]
# Window (2022-05-02, 2022-07-31]: A/H2 500,000 -> 0 on 07-15: cutoff and recall; B/H3 as
# above; A/H1's repayment (05-10) is in it but leaves 2,400,000 of 3,000,000 after the
# correction (80%); TA4 is void; B/H5 1,000,000 -> 600,000 as in June.
JULY = 'as_of=2022-07-31&window_days=90'
JULY_ROWS = [_row('cutoff', A, 'H2', '500000.00', '0.00', '2022-07-15'),
             _row('recall', A, 'H2', '500000.00', '0.00', '2022-07-15', 'TA2')] + H3_JUNE \
    + [_row('cut', B, 'H5', '1000000.00', '600000.00', '2022-07-31')]


def _exact(cl):
    assert cl.psql(MISMATCHES) == [['0']]
    assert cl.psql(CUT_MISMATCHES) == [['0']]


def test_timeline_balances_equal_the_loans_every_day_before_and_after_folding():
    cl = world()['cluster']
    _exact(cl)
    _fold(cl)
    assert cl.psql('SELECT count(*) FROM watch_balance_delta;') == [['0']]
    _exact(cl)
    # Hand-worked days of B/H3: 0 before issue, 1,000,000 from 2020-10-05, 600,000 from
    # 2021-03-01, 0 from 2022-05-20.
    rows = cl.psql("SELECT day, delta, balance FROM watch_balance WHERE uscc = '%s' ORDER BY day;"
                   % FIRMS['H3']['uscc'])
    assert rows == [['2020-10-05', '100000000', '100000000'],
                    ['2021-03-01', '-40000000', '60000000'],
                    ['2022-05-20', '-60000000', '0']], rows
    assert cl.psql(PAYOFFS) == [['TA2', '2022-07-15'], ['TB3', '2022-05-20']]
    # cut_from, worked by hand: H3's 2021-03-01 fall leaves 600,000 of 1,000,000 (60%) and
    # its 2022-05-20 fall 0: each is its own. H5's 2022-05-05 fall leaves 800,000 of
    # 1,000,000 (80%): none; its 2022-06-05 fall leaves 600,000: 75% of the 800,000 before
    # it, 60% of the 1,000,000 before the 05-05 fall: 2022-05-05.
    rows = cl.psql("SELECT uscc, day, cut_from FROM watch_balance WHERE uscc IN ('%s', '%s') "
                   "ORDER BY uscc, day;" % (FIRMS['H3']['uscc'], FIRMS['H5']['uscc']))
    h3, h5 = FIRMS['H3']['uscc'], FIRMS['H5']['uscc']
    assert rows == [[h3, '2020-10-05', ''], [h3, '2021-03-01', '2021-03-01'],
                    [h3, '2022-05-20', '2022-05-20'],
                    [h5, '2022-01-05', ''], [h5, '2022-05-05', ''],
                    [h5, '2022-06-05', '2022-05-05']], rows


def test_a_repayment_after_the_window_and_an_as_of_in_the_past():
    # A/H2's full repayment is dated 07-15: not in June's window, in July's.
    assert _alerts(JUNE) == B_JUNE
    assert _alerts(JULY)[:2] == JULY_ROWS[:2]
    # (2020-12-31, 2021-03-31]: B/H3 1,000,000 -> 600,000 (60%): cut. Thirty days
    # (2021-03-01, 2021-03-31] start after that repayment: nothing.
    assert _alerts('as_of=2021-03-31&window_days=90') == [
        _row('cut', B, 'H3', '1000000.00', '600000.00', '2021-03-31')]
    assert _alerts('as_of=2021-03-31&window_days=30') == []
    # (2022-05-05, 2022-06-30]: B/H5's first fall is not in it: 800,000 -> 600,000 (75%).
    assert _alerts('as_of=2022-06-30&window_days=56&bank=%s' % B) == H3_JUNE


def test_changes_not_yet_folded_count_in_the_answer():
    cl = world()['cluster']
    # In one transaction, so the compactor cannot fold it: TA1's amount made 1,000,000
    # (1,000,000 -> 400,000 in June, 40%: a cut with the new figures), rolled back.
    out = cl.psql("""
BEGIN;
UPDATE loans SET amount_fen = 100000000 WHERE loan_ref = 'TA1';
SELECT count(*) > 0 FROM watch_balance_delta;
SELECT kind, bank_code, outstanding_before, outstanding_as_of, day
FROM withdrawal_alerts('2022-04-01', '2022-06-30', NULL, NULL, 'cut', 100, NULL);
""" + MISMATCHES + 'ROLLBACK;')
    assert out == [['t'], ['cut', A, '100000000', '40000000', '2022-06-30'],
                   ['cut', B, '100000000', '60000000', '2022-06-30'], ['0']], out
    assert _alerts(JUNE) == B_JUNE


def test_a_correction_and_a_void_move_the_balances():
    w = world()
    # As posted: A/H1 800,000 -> 200,000 (25%) and A/H4 600,000 -> 300,000 (50%) were cuts in
    # June; in July's window A/H1 was 800,000 -> 200,000 again.
    assert w['before'][JUNE] == [_row('cut', A, 'H1', '800000.00', '200000.00', '2022-06-30'),
                                 _row('cut', A, 'H4', '600000.00', '300000.00', '2022-06-30')] \
        + B_JUNE, w['before'][JUNE]
    assert w['before'][JULY] == [_row('cut', A, 'H1', '800000.00', '200000.00', '2022-07-31')] \
        + JULY_ROWS, w['before'][JULY]
    # Corrected (3,000,000 -> 2,400,000, 80%) and voided: neither alerts any more.
    assert _alerts(JUNE) == B_JUNE
    assert _alerts(JULY) == JULY_ROWS
    cl = w['cluster']
    _exact(cl)
    _fold(cl)
    _exact(cl)
    # TA4 void: its pair has no balance left on any day.
    assert cl.psql("SELECT count(*) FROM watch_balance WHERE uscc = '%s';"
                   % FIRMS['H4']['uscc']) == [['0']]


def test_migrations_014_and_016_build_the_timeline_for_an_existing_registry():
    """The registry as it stood before migration 014 (no timeline: no tables, functions or
    triggers; the indexes the watch read then), migrated (014, then 016's cut_from)."""
    w = world()
    w['server'].stop()
    cl = w['cluster']
    cl.psql("""
DROP TABLE watch_balance, watch_balance_delta, watch_payoffs CASCADE;
DROP TYPE watch_loan CASCADE;
DROP INDEX firms_watch;
DROP FUNCTION watch_on_loan_insert, watch_on_loan_update, watch_on_repayment_insert,
              watch_payoffs_set, watch_compact_locked, watch_rebuild, watch_cut_from,
              watch_cut_from_set CASCADE;
CREATE INDEX repayments_repaid_on ON repayments (repaid_on) INCLUDE (loan_id);
CREATE INDEX loans_renewed_on ON loans (renewed_on) WHERE renewed_on IS NOT NULL;
DELETE FROM schema_migrations WHERE version IN (14, 16);
""")
    harness.finregd('migrate', cluster=cl)
    assert cl.psql('SELECT count(*) FROM watch_balance_delta;') == [['0']]
    _exact(cl)
    assert cl.psql(PAYOFFS) == [['TA2', '2022-07-15'], ['TB3', '2022-05-20']]
    assert _alerts(JULY) == JULY_ROWS


def test_a_fold_appends_rises_after_a_pairs_last_day_and_changes_the_others_step_by_step():
    cl = world()['cluster']
    # In one transaction that holds the compaction lock: everything folded first, then in
    # one fold a new pair with rises only (written whole), a new pair with a rise and a
    # fall (the general steps), and a rise of B/H3 after its last day (appended). Then a
    # second fold: a rise of NEW-PAIR-2 after its last day (appended to a balance of 70)
    # and a rise of NEW-PAIR-1 dated between its rows (the general steps).
    h3 = FIRMS['H3']['uscc']
    rows = cl.psql("""
BEGIN; SELECT pg_advisory_xact_lock(7340012004);
DO $$ BEGIN WHILE watch_compact_locked(100000) > 0 LOOP NULL; END LOOP; END $$;
INSERT INTO watch_balance_delta (bank_code, uscc, day, delta) VALUES
    ('%(b)s', 'NEW-PAIR-1', '2023-01-02', 100), ('%(b)s', 'NEW-PAIR-1', '2023-01-05', 30),
    ('%(b)s', 'NEW-PAIR-1', '2023-01-05', 20),
    ('%(b)s', 'NEW-PAIR-2', '2023-01-02', 100), ('%(b)s', 'NEW-PAIR-2', '2023-01-05', -30),
    ('%(b)s', '%(h3)s', '2023-01-02', 7);
SELECT watch_compact_locked(100000);
SELECT uscc, day, delta, balance, cut_from FROM watch_balance
WHERE uscc IN ('NEW-PAIR-1', 'NEW-PAIR-2', '%(h3)s') ORDER BY uscc, day;
INSERT INTO watch_balance_delta (bank_code, uscc, day, delta) VALUES
    ('%(b)s', 'NEW-PAIR-2', '2023-01-09', 20), ('%(b)s', 'NEW-PAIR-1', '2023-01-03', 5);
SELECT watch_compact_locked(100000);
SELECT uscc, day, delta, balance, cut_from FROM watch_balance
WHERE uscc IN ('NEW-PAIR-1', 'NEW-PAIR-2') ORDER BY uscc, day;
ROLLBACK;
""" % {'b': B, 'h3': h3})
    # 100 on 01-02, 150 from 01-05; 100, then 70 (70%% of 100: a cut from that day); B/H3
    # as worked in the test above, then 7 more on 2023-01-02.
    assert rows == [[''], ['6'],                     # the lock; six changes folded
                    [h3, '2020-10-05', '100000000', '100000000', ''],
                    [h3, '2021-03-01', '-40000000', '60000000', '2021-03-01'],
                    [h3, '2022-05-20', '-60000000', '0', '2022-05-20'],
                    [h3, '2023-01-02', '7', '7', ''],
                    ['NEW-PAIR-1', '2023-01-02', '100', '100', ''],
                    ['NEW-PAIR-1', '2023-01-05', '50', '150', ''],
                    ['NEW-PAIR-2', '2023-01-02', '100', '100', ''],
                    ['NEW-PAIR-2', '2023-01-05', '-30', '70', '2023-01-05'],
                    ['2'],                                # the second fold: two changes
                    ['NEW-PAIR-1', '2023-01-02', '100', '100', ''],
                    ['NEW-PAIR-1', '2023-01-03', '5', '105', ''],
                    ['NEW-PAIR-1', '2023-01-05', '50', '155', ''],
                    ['NEW-PAIR-2', '2023-01-02', '100', '100', ''],
                    ['NEW-PAIR-2', '2023-01-05', '-30', '70', '2023-01-05'],
                    ['NEW-PAIR-2', '2023-01-09', '20', '90', '']], rows
