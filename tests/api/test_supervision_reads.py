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


def _examined(table):
    """SQL: heap rows and index entries of @table read so far in this transaction."""
    return ("(pg_stat_get_xact_tuples_returned('%s'::regclass)"
            " + pg_stat_get_xact_tuples_fetched('%s'::regclass)"
            " + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)"
            " FROM pg_index i WHERE i.indrelid = '%s'::regclass))::bigint" % (table, table, table))


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
    sql = f"""
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO watch_payoffs (loan_id, paid_off_on, bank_code, uscc, loan_ref, maturity_date)
SELECT 1000000000000 + g, date '2021-01-01' + g % 80, 'ZZ-OTHER', {usccs}, 'N' || g,
       date '2022-06-30' FROM generate_series(1, {NOISE}) g;
INSERT INTO watch_balance (bank_code, uscc, day, delta, balance, cut_from)
SELECT 'ZZ-OTHER', {usccs}, date '2021-01-01' + g % 80, -100, 0, date '2021-01-01' + g % 80
FROM generate_series(1, {NOISE}) g;
INSERT INTO referrals (ref, uscc, name, county_code, industry_code, size, bank_code,
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
CREATE TEMP TABLE reads_before AS SELECT {', '.join(
        '%s AS "%s"' % (_examined(t), t) for t in _TABLES)};
SELECT 'row', kind, loan_ref, referred, whitelisted, scf_member
FROM withdrawal_alerts('2020-12-31', '2021-03-31', '{x.code}', NULL, NULL, 20001, '{x.code}');
SELECT 'read', {', '.join('%s - b."%s"' % (_examined(t), t) for t in _TABLES)}
FROM reads_before b;
ROLLBACK;
"""
    out = h.psql(sql)
    rows = [r[1:] for r in out if r[0] == 'row']
    assert rows == [['recall', ref, 'f', 'f', 'f']], rows
    reads = dict(zip(_TABLES, (int(n) for n in [r for r in out if r[0] == 'read'][0][1:])))
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
