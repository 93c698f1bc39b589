"""What a bank's withdrawal alerts (GET /v1/alerts/withdrawals?bank=self, withdrawal_alerts
with p_bank) read: its own candidates and, for its rows' flags, its firms' referrals,
whitelist entries and programs, never every other bank's. Until 4 December 2026 the
candidates were read from indexes led by the date (every bank's payoffs and falls in the
window, the bank tested on each) and the flags from hashed scans of every referral,
whitelist entry, program and membership of the registry: on a scratch registry of 8
million loans a bank's 10-year window read 643,711 payoffs and 643,518 falls of which
2,140 and 23,850 were its own (0.46 s), and 1,000,000 memberships made any bank's answer
with a row cost 0.2 s more (audit, 4 December 2026)."""

import finreg_data as fd
import harness

NOISE = 20000   # rows of another bank in each table the alerts read

_TABLES = ('watch_payoffs', 'watch_balance', 'referrals', 'whitelist_entries', 'scf_programs',
           'scf_members')


def _candidates(usccs, n):
    """SQL: bank ZZ-OTHER's @n recalls and @n falls to 0 with their cut_from, all in the
    window (2020-12-31, 2021-03-31], to the firms of USCCs @usccs (an expression of g)."""
    return f"""
INSERT INTO watch_payoffs (loan_id, paid_off_on, bank_code, uscc, loan_ref, maturity_date)
SELECT 1000000000000 + g, date '2021-01-01' + g % 80, 'ZZ-OTHER', {usccs}, 'N' || g,
       date '2022-06-30' FROM generate_series(1, {n}) g;
INSERT INTO watch_balance (bank_code, uscc, day, delta, balance, cut_from)
SELECT 'ZZ-OTHER', {usccs}, date '2021-01-01' + g % 80, -100, 0, date '2021-01-01' + g % 80
FROM generate_series(1, {n}) g;
"""


def test_a_banks_alerts_read_its_own_candidates_and_flags_not_every_banks():
    h = harness
    x = h.new_principal()
    bank = h.client(x)
    firm = fd.firm(name='三明预警读数测试有限公司')
    ref = h.unique('READS-')
    assert bank.post('/v1/loans', json=fd.loan(
        loan_ref=ref, borrower=firm, amount='500000.00', credit_line=None,
        issue_date='2021-01-10', maturity_date='2022-01-09')).status == 201
    assert bank.post('/v1/loans/%s/repayments' % h.quote(ref), json={
        'repayment_ref': 'R1', 'date': '2021-03-01', 'amount': '500000.00'}).status == 201
    # Another bank's rows in every table the alerts read, all in the window (2020-12-31,
    # 2021-03-31]: recalls, falls to 0 with their cut_from, and for its own firms
    # referrals, whitelist entries, programs and memberships. Written straight into the
    # tables (foreign keys off) inside a transaction that is rolled back, and analysed
    # there so the plan is made for a registry of that size.
    usccs = "'91350000' || lpad(g::text, 10, '0')"
    setup = f"""
SET LOCAL session_replication_role = replica;
{_candidates(usccs, NOISE)}INSERT INTO referrals (ref, uscc, name, county_code, industry_code, size, bank_code,
                       requested_fen, reason, referred_on, created_by)
SELECT 'RF-2999-' || lpad(g::text, 9, '0'), {usccs}, 'n', '350402', '3412', 'small',
       'ZZ-OTHER', 100000, 'r', '2021-01-02', 'SM-FSB' FROM generate_series(1, {NOISE}) g;
INSERT INTO whitelist_entries (uscc, name, reason, valid_from, listed_by)
SELECT {usccs}, 'n', 'r', '2020-01-01', 'SM-FSB' FROM generate_series(1, {NOISE}) g;
INSERT INTO scf_programs (id, bank_code, name, core_uscc, product, credit_limit_fen,
                          started_on, created_by)
SELECT 1000000000000 + g, 'ZZ-OTHER', 'p' || g, {usccs}, 'receivables', 100000000,
       '2020-01-01', 'ZZ-OTHER' FROM generate_series(1, {NOISE} / 10) g;
INSERT INTO scf_members (program_id, uscc, side, joined_on, created_by)
SELECT 1000000000000 + 1 + g % ({NOISE} / 10), {usccs}, 'upstream', '2020-02-01', 'ZZ-OTHER'
FROM generate_series(1, {NOISE}) g;
ANALYZE {', '.join(_TABLES)};
"""
    rows, reads = harness.rows_and_reads(
        setup, "SELECT 'row', kind, loan_ref, referred, whitelisted, scf_member"
        f" FROM withdrawal_alerts('2020-12-31', '2021-03-31', '{x.code}', NULL, NULL, 20001,"
        f" '{x.code}')", _TABLES)
    assert rows == [['recall', ref, 'f', 'f', 'f']], rows
    # Its own: a payoff, a few timeline rows, and a probe of each flag's table by its firm.
    assert all(n <= 50 for n in reads.values()), reads


# The schema before migration 033 (its indexes dropped, watch_payoffs_day back), so that a
# `finregd migrate` applies 033 again.
_BEFORE_033 = """
DROP INDEX watch_payoffs_recalls, watch_payoffs_bank_recalls, watch_balance_bank_cuts;
CREATE INDEX watch_payoffs_day ON watch_payoffs (paid_off_on)
    INCLUDE (bank_code, uscc, loan_ref, maturity_date);
DELETE FROM schema_migrations WHERE version = 33;
"""


def _wait_for(c, sql, what, timeout=30):
    import time
    end = time.monotonic() + timeout
    while c.psql(sql)[0][0] != 't':
        assert time.monotonic() < end, what
        time.sleep(0.05)


def test_migration_033_holds_no_lock_on_the_payoffs_while_it_builds_the_timelines_index(ctx):
    """Migration 033 builds watch_balance_bank_cuts over the whole balance timeline (6.0 s at
    6 million rows, scratch cluster, default maintenance_work_mem), and waits first for a
    fold under way. Its DROP INDEX watch_payoffs_day took an exclusive lock on watch_payoffs
    before that build, held to the commit: every withdrawal-alert read (regulator's and
    bank's, of either release) and every repayment (its payoff row) waited through the
    build, and the reads passed the 5 s statement timeout. Built first, and the payoffs'
    exclusive lock taken last, the reads go on and the payoffs are not held meanwhile. Here
    a transaction holding watch_balance as a fold does keeps 033 waiting on it."""
    import subprocess
    c = harness.Cluster()
    ctx.defer(c.destroy)
    harness.finregd('migrate', cluster=c)
    c.psql(_BEFORE_033)
    holder = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', c.url, '-c',
         "BEGIN; LOCK TABLE watch_balance IN ROW EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/')
    ctx.defer(lambda: holder.poll() is None and holder.kill())
    _wait_for(c, "SELECT EXISTS (SELECT FROM pg_locks WHERE granted"
                 " AND relation = 'watch_balance'::regclass AND mode = 'RowExclusiveLock')",
              'the holder never took watch_balance')
    mig = subprocess.Popen([harness.FINREG_BIN, 'migrate'], env=harness._child_env(None, c.url),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=harness.ROOT)
    ctx.defer(lambda: mig.poll() is None and mig.kill())
    _wait_for(c, "SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted"
                 " AND relation = 'watch_balance'::regclass AND mode = 'ShareLock')",
              'migrate never waited for watch_balance')
    # While 033 waits: an alert read and a payoff row's write (a repayment) answer at once.
    out = c.psql("""
SET lock_timeout = '1s';
SELECT 'read', count(*) FROM withdrawal_alerts('2020-12-31', '2021-03-31', NULL, NULL, NULL,
                                               10, NULL);
WITH d AS (DELETE FROM watch_payoffs WHERE loan_id = -1 RETURNING 1) SELECT 'write', count(*) FROM d;
""")
    assert [r[0] for r in out] == ['read', 'write'], out
    assert holder.wait(timeout=30) == 0, holder.stderr.read()
    _, err = mig.communicate(timeout=60)
    assert mig.returncode == 0, err
    assert c.psql("SELECT count(*) FROM pg_indexes WHERE tablename IN"
                  " ('watch_payoffs', 'watch_balance') AND indexname IN ('watch_payoffs_recalls',"
                  " 'watch_payoffs_bank_recalls', 'watch_balance_bank_cuts')") == [['3']]


def _county():
    """A county code no other test uses."""
    import random
    return '8%05d' % random.randrange(10**5)


# Another county's candidates, all in the window (2020-12-31, 2021-03-31]: @n recalls and
# @n falls to 0 with their cut_from, of @n small firms of county @county (their registry
# rows too, so that the candidates pass nothing but the county test). SQL for a transaction
# that is rolled back (foreign keys off).
def _noise(county, n=NOISE, prefix='91350000'):
    usccs = "'%s' || lpad(g::text, 10, '0')" % prefix
    return f"""
SET LOCAL session_replication_role = replica;
INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)
SELECT {usccs}, 'n' || g, '{county}', '3412', 'small', 'ZZ-OTHER'
FROM generate_series(1, {n}) g;
{_candidates(usccs, n)}"""


def _lent(county, issued, matures, repaid_on, repaid, size='small', amount='500000.00'):
    """A bank's loan of @amount to a new firm of @county and @size, issued and maturing on
    those days, @repaid on @repaid_on; its loan_ref and the firm's USCC."""
    h = harness
    bank = h.client('bank')
    ref = h.unique('COUNTY-')
    firm = fd.firm(county_code=county, size=size)
    assert bank.post('/v1/loans', json=fd.loan(
        loan_ref=ref, borrower=firm, amount=amount, credit_line=None, issue_date=issued,
        maturity_date=matures)).status == 201
    assert bank.post('/v1/loans/%s/repayments' % h.quote(ref), json={
        'repayment_ref': 'R1', 'date': repaid_on, 'amount': repaid}).status == 201
    return ref, firm['uscc']


def _recall_in(county):
    """A loan to a small firm of @county paid off on 2021-03-01, ten months before its
    maturity (a recall of the window (2020-12-31, 2021-03-31]); its loan_ref."""
    return _lent(county, '2021-01-10', '2022-01-09', '2021-03-01', '500000.00')[0]


def test_the_regulators_alerts_for_a_county_read_its_firms_candidates_not_every_countys():
    """The regulator's alerts for one county read every county's candidates of the window
    and tested the county on each candidate's firm (audit, 4 December 2026: a 90-day window
    of one county 0.61 s at 8 million loans, 3.3 s for 10 years). With fewer firms in the
    county than candidates in the window, the county's firms probe their own (migration
    034): 20,000 recalls and 20,000 falls of another county are not read."""
    county = _county()
    ref = _recall_in(county)
    rows, reads = harness.rows_and_reads(
        _noise('350402') + 'ANALYZE firms, watch_payoffs, watch_balance;',
        "SELECT 'row', kind, loan_ref FROM withdrawal_alerts('2020-12-31', '2021-03-31', NULL,"
        f" '{county}', NULL, 20001, NULL)", ('watch_payoffs', 'watch_balance'))
    assert rows == [['recall', ref]], rows
    assert all(n <= 50 for n in reads.values()), reads


def test_a_countys_alerts_are_every_countys_alerts_of_that_county_whichever_way_they_are_read():
    """Whichever candidates withdrawal_alerts reads for one county (the county's firms', or
    the window's), its rows are those of the regulator's alerts for every county that name
    the county: over the registry the run has built (every test's loans so far), for four
    windows, with 20,000 candidates of another county (the county's firms are walked) and
    with 20,000 more firms in each county asked and no candidate (the window's are read)."""
    county = _county()
    # In the county, for the window (2020-12-31, 2021-03-31]: a recall of a small firm and
    # one of a medium firm, a payoff at maturity (none), a large firm's recall (none), a
    # cut (60% left) and a cutoff (paid off 5 days before maturity). On the window's
    # bounds: a recall and a cut on its last day (2021-03-31); a payoff and a fall to 60%
    # on its start day (2020-12-31, outside it) and on the day after it (none of them):
    # without these, a county arm reading [S, A + 1] instead of (S, A] passed.
    expected = sorted([
        ('recall', _recall_in(county)),
        ('recall', _lent(county, '2021-01-10', '2022-01-09', '2021-02-01', '500000.00',
                         size='medium')[0]),
        ('cut', _lent(county, '2020-06-01', '2022-06-01', '2021-02-01', '400000.00',
                      amount='1000000.00')[1]),
        ('cutoff', _lent(county, '2020-06-01', '2021-02-15', '2021-02-10', '500000.00')[1]),
        ('recall', _lent(county, '2021-01-10', '2022-01-09', '2021-03-31', '500000.00')[0]),
        ('cut', _lent(county, '2020-06-01', '2022-06-01', '2021-03-31', '400000.00',
                      amount='1000000.00')[1])])
    _lent(county, '2021-01-10', '2021-03-01', '2021-03-01', '500000.00')
    _lent(county, '2021-01-10', '2022-01-09', '2021-02-01', '500000.00', size='large')
    for day in ('2020-12-31', '2021-04-01'):
        _lent(county, '2020-10-01', '2021-10-01', day, '500000.00')
        _lent(county, '2020-06-01', '2022-06-01', day, '400000.00', amount='1000000.00')
    windows = [('2020-12-31', '2021-03-31'), ('2021-07-02', '2021-09-30'),
               ('2019-12-31', '2021-12-31'), ('2010-01-01', '2026-12-31')]
    counties = harness.psql("SELECT DISTINCT county_code FROM firms WHERE uscc IN"
                            " (SELECT uscc FROM watch_payoffs UNION SELECT uscc FROM watch_balance)")
    counties = sorted({c[0] for c in counties} | {county})
    calls = []
    for start, as_of in windows:
        calls.append(f"SELECT 'all', '{start}', x.* FROM withdrawal_alerts('{start}',"
                     f" '{as_of}', NULL, NULL, NULL, 1000000, NULL) x;")
        for c in counties:
            calls.append(f"SELECT 'path', withdrawal_by_firm('{start}', '{as_of}', '{c}',"
                         f" NULL);")
            calls.append(f"SELECT '{c}', '{start}', x.* FROM withdrawal_alerts('{start}',"
                         f" '{as_of}', NULL, '{c}', NULL, 1000000, NULL) x;")
    crowded = ''.join("INSERT INTO firms (uscc, name, county_code, industry_code, size,"
                      " updated_by) SELECT '91' || lpad('%d', 6, '0') || lpad(g::text, 10, '0'), 'n', '%s',"
                      " '3412', 'small', 'ZZ-OTHER' FROM generate_series(1, 20000) g;"
                      % (i, c) for i, c in enumerate(counties))
    paths = []
    for setup in (_noise('999999', prefix='91359999'),
                  'SET LOCAL session_replication_role = replica;' + crowded):
        out = harness.psql('BEGIN;' + setup + 'ANALYZE firms, watch_payoffs, watch_balance;'
                           + '\n'.join(calls) + 'ROLLBACK;')
        paths += [r[1] for r in out if r[0] == 'path']
        everyone = {}
        by_county = {}
        for r in out:
            if r[0] == 'path':
                continue
            if r[0] == 'all':
                if r[6] != '999999':
                    everyone.setdefault(r[1], []).append(r[2:])
            else:
                assert r[6] == r[0], r
                by_county.setdefault(r[1], []).append(r[2:])
        for start, _ in windows:
            assert sorted(by_county.get(start, [])) == sorted(everyone.get(start, [])), start
        assert sorted((r[0], r[8] if r[0] == 'recall' else r[2])
                      for r in by_county['2020-12-31'] if r[4] == county) == expected
    # Both ways were taken: the county's firms (the first setting's crowded window) and the
    # window's candidates (the second's crowded counties).
    assert sorted(set(paths)) == ['f', 't'], paths


def test_a_back_dated_change_to_a_long_timeline_reads_the_pair_once_not_once_a_row():
    """A change dated early in a pair's long history (a void or a correction of an old
    loan) gives every later row of the pair a new balance, so each may get a new cut_from
    (watch_cut_from_set). Until 4 December 2026 the backward walk that finds a cut ran
    for every one of those rows, falls or not (the LATERAL's ON tested the fall after
    the walk): a firm with 4,390 rows at a bank made one fold read 18 million index
    entries (8-23 s, past the statement timeout; the change stayed at the head of the
    queue and no queue folded again; found by audit). Here 2,000 rows, 4 of them small
    falls: the walk runs only for those."""
    n = 2000
    setup = f"""
SELECT pg_advisory_xact_lock(7340012004);      -- the compactor's lock: no fold but this one
INSERT INTO watch_balance (bank_code, uscc, day, delta, balance)
SELECT 'ZZ-FOLD', 'ZZFOLDFIRM00000001', date '2010-01-01' + g,
       CASE WHEN g % 500 = 0 THEN -10 ELSE 100 END,
       100 * g - 110 * (g / 500)
FROM generate_series(1, {n}) g;
INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
VALUES ('ZZ-FOLD', 'ZZFOLDFIRM00000001', date '2010-01-03', -1);"""
    call = """SELECT 'row', watch_compact_locked(5000);
SELECT 'row', (SELECT count(*) FROM watch_balance w WHERE w.bank_code = 'ZZ-FOLD'
          AND w.day >= date '2010-01-03' AND w.balance = 100 * (w.day - date '2010-01-01')
                                             - 110 * ((w.day - date '2010-01-01') / 500) - 1),
       (SELECT count(*) FROM watch_balance w WHERE w.bank_code = 'ZZ-FOLD'
          AND w.cut_from IS NOT NULL)"""
    rows, reads = harness.rows_and_reads(setup, call, ('watch_balance',))
    assert rows == [['1'], [str(n - 1), '0']], rows     # folded, balances moved, no cut
    # The pair's rows from the change on, a few times over, and 4 walks of at most n rows
    # (the check above reads the pair twice more); before: a walk for each of the 1,999
    # rows, some 2 million entries.
    assert reads['watch_balance'] < 20 * n, reads
