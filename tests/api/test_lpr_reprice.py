"""PUT /v1/lpr/{date} reprices the loans the new or corrected rates are in force for
(domain.md: a loan's LPR is "the rate in force on the issue date"): their lpr and spread_bp,
and the pricing statistics built on them, follow at once; loans issued under another row
keep theirs. The spread the database computes equals the one finregd computes for a new
loan of the same rate. A private cluster: the LPR table is the registry's."""

import os
import signal
import subprocess
import threading
import time

import harness
from finreg_data import firm, loan


def _fresh(ctx):
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)     # before the cluster goes
    return cl, srv


def _post(bank, ref, issue, maturity, rate, **kw):
    r = bank.post('/v1/loans', json=loan(ref, firm(size='small'), issue_date=issue,
                                          maturity_date=maturity, rate=rate,
                                          amount='1000000.00', credit_line=None, **kw))
    assert r.status == 201, r.text
    return r.json()


def _priced(bank, ref):
    r = bank.get('/v1/loans/' + ref)
    assert r.status == 200, r.text
    j = r.json()
    return j['lpr_tenor'], j['lpr'], j['spread_bp']


def _put_held_in_its_reprice(cl, reg, ref, rates):
    """PUT /v1/lpr/2020-05-01 @rates in the background while loan @ref is locked: the PUT
    waits in its reprice, holding its turn. Returns (commit, thread, out): commit() lets it
    go on; out['r'] is its answer once the thread has ended."""
    commit = _psql_session(cl, "BEGIN; SELECT 1 FROM loans WHERE loan_ref = '%s' FOR UPDATE;"
                           % ref)
    t, out = _in_background(lambda: reg.put('/v1/lpr/2020-05-01', json=rates))
    _waiting(cl, 1)
    return commit, t, out


def test_an_lpr_put_reprices_the_loans_it_is_in_force_for_and_their_statistics(ctx):
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'A', '2020-05-12', '2021-05-11', '4.3500')          # 1Y 3.85: 50
    _post(bank, 'B', '2020-05-12', '2026-05-11', '4.5450')          # 5Y 4.65: -10.5 -> -11
    _post(bank, 'C', '2020-04-19', '2021-04-18', '4.3500')          # 2020-02-20's 4.05: 30
    _post(bank, 'D', '2021-07-16', '2022-07-15', '4.3550')          # 3.85: 50.5 -> 51
    assert [_priced(bank, x) for x in 'ABCD'] == [
        ('1Y', '3.8500', 50), ('5Y', '4.6500', -11), ('1Y', '4.0500', 30), ('1Y', '3.8500', 51)]
    before = reg.get('/v1/stats/pricing?month=2020-05').json()['rows'][0]
    assert before['avg_spread_bp'] == 19.5, before              # (50 - 11) / 2

    # A rate recorded late, in force from 1 May 2020 until the next row (none): A, B and D.
    r = reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000', 'five_year': '4.6000'})
    assert r.status == 201 and r.json()['repriced'] == 3, r.text
    assert [_priced(bank, x) for x in 'ABCD'] == [
        ('1Y', '3.8000', 55), ('5Y', '4.6000', -6), ('1Y', '4.0500', 30), ('1Y', '3.8000', 56)]
    after = reg.get('/v1/stats/pricing?month=2020-05').json()['rows'][0]
    assert after['avg_spread_bp'] == 24.5, after                # (55 - 6) / 2

    # A later row splits the period: only D is issued from it on.
    r = reg.put('/v1/lpr/2021-07-01', json={'one_year': '4.0000', 'five_year': '4.7000'})
    assert r.status == 201 and r.json()['repriced'] == 1, r.text
    assert _priced(bank, 'D') == ('1Y', '4.0000', 36) and _priced(bank, 'A')[1] == '3.8000'
    # The same rates again change nothing.
    r = reg.put('/v1/lpr/2021-07-01', json={'one_year': '4.0000', 'five_year': '4.7000'})
    assert r.status == 200 and r.json()['repriced'] == 0, r.text

    # finregd's own spread for new loans of the same rates and days equals the database's.
    for ref, issue, maturity, rate in (('A2', '2020-05-12', '2021-05-11', '4.3500'),
                                       ('B2', '2020-05-12', '2026-05-11', '4.5450'),
                                       ('D2', '2021-07-16', '2022-07-15', '4.3550')):
        made = _post(bank, ref, issue, maturity, rate)
        assert _priced(bank, ref) == _priced(bank, ref[0]), (ref, made)

    # The summaries still equal a rebuild from the loans.
    q = ("SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM stats_new_loans s")
    folded = harness.poll(lambda: cl.psql('SELECT count(*) FROM stats_pending'), 10,
                          lambda v: v == [['0']])
    assert folded == [['0']], folded
    summaries = cl.psql(q)
    cl.psql('SELECT stats_rebuild()')
    assert cl.psql(q) == summaries


def _psql_session(cl, sql):
    """A psql session that has run @a sql (a transaction left open) until commit()."""
    p = subprocess.Popen([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, PGAPPNAME='test-held-session'))
    p.stdin.write(sql + '\n')
    p.stdin.flush()
    # This session alone: a server connection may be idle in a transaction of its own for
    # a moment (counting every such session failed once under ASan, with 2).
    held = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity "
                                        "WHERE state = 'idle in transaction'"
                                        " AND application_name = 'test-held-session'"), 10,
                        lambda v: v == [['1']])
    assert held == [['1']], (held, cl.psql("SELECT application_name, state, query"
                                           " FROM pg_stat_activity WHERE pid <> pg_backend_pid()"))

    def commit():
        p.stdin.write('COMMIT;\n')
        p.stdin.close()
        p.wait(10)
    return commit


def _waiting(cl, n):
    got = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE wait_event_type = 'Lock'"), 10,
                       lambda v: v == [[str(n)]])
    assert got == [[str(n)]], got


def _in_background(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(r=fn()))
    t.start()
    return t, out


def test_a_reprice_prices_a_loan_as_a_concurrent_correction_left_it(ctx):
    """The PUT waits for a correction that changed the rate; it then prices the rate the
    correction committed (70 bp), not the one it read first (55 bp)."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'A', '2020-05-12', '2021-05-11', '4.3500')
    commit = _psql_session(cl, "BEGIN; UPDATE loans SET rate_e4 = 45000, spread_bp = 65, "
                               "version = version + 1 WHERE loan_ref = 'A';")
    t, out = _in_background(lambda: reg.put('/v1/lpr/2020-05-01',
                                            json={'one_year': '3.8000', 'five_year': '4.6000'}))
    _waiting(cl, 1)
    commit()
    t.join(60)
    assert out['r'].status == 201 and out['r'].json()['repriced'] == 1, out['r']
    assert _priced(bank, 'A') == ('1Y', '3.8000', 70)


def test_two_lpr_puts_at_once_take_turns(ctx):
    """A PUT of 1 May waits on a loan; a PUT of 1 June meanwhile waits for it, then prices
    the June loan against its own row, which the May PUT's period now ends before."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'K', '2020-05-12', '2021-05-11', '4.3500')
    _post(bank, 'J', '2020-06-12', '2021-06-11', '4.3500')
    commit = _psql_session(cl, "BEGIN; SELECT 1 FROM loans WHERE loan_ref = 'K' FOR UPDATE;")
    ta, a = _in_background(lambda: reg.put('/v1/lpr/2020-05-01',
                                            json={'one_year': '3.8000', 'five_year': '4.6000'}))
    _waiting(cl, 1)
    reg2 = harness.Client('regulator', server=srv)
    tb, b = _in_background(lambda: reg2.put('/v1/lpr/2020-06-01',
                                             json={'one_year': '3.7000', 'five_year': '4.5000'}))
    _waiting(cl, 2)
    commit()
    ta.join(60)
    tb.join(60)
    assert (a['r'].status, b['r'].status) == (201, 201), (a['r'], b['r'])
    assert _priced(bank, 'K') == ('1Y', '3.8000', 55)
    assert _priced(bank, 'J') == ('1Y', '3.7000', 65)


def test_a_loan_priced_from_a_stale_lpr_cache_is_priced_again_by_the_recheck(ctx):
    """Another instance prices loans from its cached LPR table for up to 5 s after a PUT
    (README, scale-out), and a request in flight may write a loan it priced before the PUT
    after the PUT's reprice passed it: such a loan kept the old rates (docs/lpr.md). The PUT
    schedules a second reprice of its row once every such request has ended
    (lpr_rechecks); any instance's recheck task runs it when due."""
    cl, a = _fresh(ctx)
    b = harness.Server(cluster=cl)
    ctx.defer(b.stop)
    bank_b, reg = b.client('bank'), a.client('regulator')
    _post(bank_b, 'W', '2020-05-12', '2021-05-11', '4.3500')        # b's cache: 3.85
    r = reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000', 'five_year': '4.6000'})
    assert r.status == 201 and r.json()['repriced'] == 1, r.text
    _post(bank_b, 'S', '2020-05-13', '2021-05-12', '4.3500')        # priced by b's cache
    assert _priced(bank_b, 'W') == ('1Y', '3.8000', 55)
    assert _priced(bank_b, 'S') == ('1Y', '3.8500', 50), 'b should still have priced from ' \
        'its cache (within its 5 s)'
    due = cl.psql("SELECT effective_from, extract(epoch FROM due_at - now()) > 5,"
                  " extract(epoch FROM due_at - now()) < 120 FROM lpr_rechecks")
    assert due == [['2020-05-01', 't', 't']], due
    # Due now (rather than wait out the requests' bound): the next run of either instance's
    # task reprices S and removes the recheck.
    cl.psql("UPDATE lpr_rechecks SET due_at = now()")
    assert harness.poll(lambda: _priced(bank_b, 'S') == ('1Y', '3.8000', 55), timeout=15), \
        _priced(bank_b, 'S')
    assert harness.poll(lambda: cl.psql("SELECT count(*) FROM lpr_rechecks") == [['0']],
                        timeout=10)
    assert 'LPR recheck of 2020-05-01 repriced 1 loan' in a.log() + b.log()
    # Statistics follow: both loans at 55 bp.
    rows = reg.get('/v1/stats/pricing?month=2020-05').json()['rows']
    assert rows[0]['avg_spread_bp'] == 55.0, rows


def test_a_recheck_that_fails_is_tried_again_later_not_at_every_run(ctx):
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'F', '2020-05-12', '2021-05-11', '4.3500')
    assert reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000',
                                               'five_year': '4.6000'}).status == 201
    # The recheck's reprice fails (a loan it must change cannot be written: a trigger of
    # this test's cluster): the run counts, and the recheck is due 5 minutes on, not at
    # the compactor's next second.
    cl.psql("UPDATE loans SET spread_bp = 50, lpr_e4 = 38500 WHERE loan_ref = 'F';"
            " CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'test: this loan cannot be written'; END $$;"
            " CREATE TRIGGER test_fail BEFORE UPDATE ON loans FOR EACH ROW"
            " WHEN (OLD.loan_ref = 'F') EXECUTE FUNCTION test_fail();"
            " UPDATE lpr_rechecks SET due_at = now()")
    state = "SELECT attempts, due_at > now() + interval '1 minute' FROM lpr_rechecks"
    assert harness.poll(lambda: 'LPR recheck of 2020-05-01 failed' in srv.log(), timeout=15), \
        srv.log_tail()
    assert cl.psql(state) == [['1', 't']]
    time.sleep(3)
    assert cl.psql(state) == [['1', 't']]
    assert srv.log().count('LPR recheck of 2020-05-01 failed') == 1
    # Waiting for a PUT's turn is no failed run: given back, tried again in 10 s. (The turn
    # held before the recheck falls due: else the compactor may run it first.)
    cl.psql("DROP TRIGGER test_fail ON loans")
    commit = _psql_session(cl, "BEGIN; SELECT lpr_take_turn();")
    cl.psql("UPDATE lpr_rechecks SET due_at = now()")
    assert harness.poll(lambda: 'LPR recheck of 2020-05-01 waits for a PUT' in srv.log(),
                        timeout=20), srv.log_tail()
    commit()
    assert cl.psql("SELECT attempts FROM lpr_rechecks") == [['1']]
    assert harness.poll(lambda: cl.psql("SELECT count(*) FROM lpr_rechecks") == [['0']],
                        timeout=20)
    assert _priced(bank, 'F') == ('1Y', '3.8000', 55)


def test_a_long_lpr_put_lets_new_connections_prepare_their_statements(ctx):
    """A PUT holds its turn for as long as its reprice takes (up to a minute). It took it as
    LOCK TABLE lpr_rates IN SHARE ROW EXCLUSIVE MODE, which the PREPARE of the LPR upsert
    (its INSERT locks the table ROW EXCLUSIVE) waits for: every connection made meanwhile,
    of any instance, failed to prepare its statements (5 s each), so an instance started or
    reconnected during a long PUT answered 503 to everything. PUTs now take turns on the
    table's SHARE UPDATE EXCLUSIVE lock (lpr_take_turn), which a prepare does not wait
    for."""
    cl, a = _fresh(ctx)
    bank, reg = a.client('bank'), a.client('regulator')
    _post(bank, 'L', '2020-05-12', '2021-05-11', '4.3500')
    commit, t, out = _put_held_in_its_reprice(cl, reg, 'L', {'one_year': '3.8000',
                                                             'five_year': '4.6000'})
    try:
        b = harness.Server(cluster=cl)
        ctx.defer(b.stop)
        r = b.client('bank').get('/v1/lpr')
        assert r.status == 200, r
        r = b.client('bank').post('/v1/loans', json=loan('M', firm(size='small'),
                                                         issue_date='2020-06-12',
                                                         maturity_date='2021-06-11'))
        assert r.status == 201, r
    finally:
        commit()
        t.join(60)
    assert out['r'].status == 201 and out['r'].json()['repriced'] == 1, out['r']


def test_a_recheck_is_due_from_the_puts_commit_not_its_start(ctx):
    """Found by review: the due time was counted from the PUT's start (now()), so a PUT
    whose reprice waited long committed a recheck that was due at once, before the
    requests it is for had ended. It counts from the commit: 5 s of cache and
    DB_TX_ATTEMPTS + 2 statement timeouts (45 s with the test server's 5 s)."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'H', '2020-05-12', '2021-05-11', '4.3500')
    commit, t, out = _put_held_in_its_reprice(cl, reg, 'H', {'one_year': '3.8000',
                                                             'five_year': '4.6000'})
    time.sleep(8)       # the PUT's reprice waits: its transaction started 8 s ago
    commit()
    t.join(60)
    assert out['r'].status == 201, out['r']
    left = cl.psql("SELECT round(extract(epoch FROM due_at - now())) FROM lpr_rechecks")
    assert len(left) == 1 and 42 <= float(left[0][0]) <= 46, left


def test_a_put_while_its_rows_recheck_runs_keeps_a_recheck_of_its_own(ctx):
    """Found by review: a recheck claimed and waiting for its turn while a PUT of the same
    row held it deleted, once it ran, the recheck that PUT had just scheduled (it matched
    the row by its due time, which the PUT had kept). It now matches the PUT's token."""
    cl, srv = _fresh(ctx)
    bank = srv.client('bank')
    reg = harness.Client('regulator', server=srv, timeout=60)
    _post(bank, 'L', '2020-05-12', '2021-05-11', '4.3500')
    assert reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000',
                                               'five_year': '4.6000'}).status == 201
    # The second PUT of the row holds its turn, its reprice waiting on loan L.
    commit, t, out = _put_held_in_its_reprice(cl, reg, 'L', {'one_year': '3.7000',
                                                             'five_year': '4.5000'})
    # Meanwhile the first PUT's recheck falls due: the compactor claims it and waits for its
    # turn (at most 5 s).
    cl.psql("UPDATE lpr_rechecks SET due_at = now()")
    claimed = harness.poll(lambda: cl.psql("SELECT claimed_at IS NOT NULL FROM lpr_rechecks"),
                           5, lambda v: v == [['t']])
    assert claimed == [['t']], claimed
    _waiting(cl, 2)
    commit()
    t.join(60)
    assert out['r'].status == 200 and out['r'].json()['repriced'] == 1, out['r']
    time.sleep(2)
    left = cl.psql("SELECT attempts, round(extract(epoch FROM due_at - now())) > 30"
                   " FROM lpr_rechecks")
    assert left == [['0', 't']], (left, srv.log_tail())


def test_a_recheck_that_keeps_failing_is_given_up_and_says_so(ctx):
    cl, srv = _fresh(ctx)
    reg = srv.client('regulator')
    assert reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000',
                                               'five_year': '4.6000'}).status == 201
    cl.psql("UPDATE lpr_rechecks SET due_at = now(), attempts = 5")
    assert harness.poll(lambda: cl.psql("SELECT count(*) FROM lpr_rechecks") == [['0']],
                        timeout=15)
    assert 'LPR recheck of 2020-05-01 gave up after 5 failed runs' in srv.log(), \
        srv.log_tail()


def _slow_reprice_of(cl, ref, seconds):
    """Makes a reprice's UPDATE of loan @ref take @seconds (as a scan of a large loans table
    makes a reprice long): a trigger of this test's own cluster."""
    cl.psql("CREATE OR REPLACE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(%d); RETURN NEW; END $$;"
            " CREATE TRIGGER test_slow_%s BEFORE UPDATE ON loans FOR EACH ROW"
            " WHEN (OLD.loan_ref = '%s') EXECUTE FUNCTION test_slow();" % (seconds, ref, ref))


def test_a_recheck_in_progress_does_not_hold_up_a_stop(ctx):
    """Found by review: the compactor thread, running a recheck for up to a minute, held
    finregd's exit after SIGTERM that long (deploy/finregd.service stops it with SIGKILL
    after 40 s). A background thread's wait ends when its thread stops
    (db_thread_stops_when); the recheck rolls back and stays due."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'L', '2020-05-12', '2021-05-11', '4.3500')
    assert reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000',
                                               'five_year': '4.6000'}).status == 201
    cl.psql("UPDATE loans SET spread_bp = 50, lpr_e4 = 38500 WHERE loan_ref = 'L'")
    _slow_reprice_of(cl, 'L', 50)
    cl.psql("UPDATE lpr_rechecks SET due_at = now()")
    got = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity"
                                       " WHERE wait_event = 'PgSleep'"), 15,
                       lambda v: v == [['1']])
    assert got == [['1']], got
    t = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(90)
    took = time.monotonic() - t
    assert took < 10, 'SIGTERM took %.1f s with a recheck running' % took
    # Its backend noticed finregd gone (client_connection_check_interval) and rolled back
    # within seconds, the turn and the loan's row released: not at the end of its 50 s.
    gone = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity"
                                        " WHERE wait_event = 'PgSleep'"), 5,
                        lambda v: v == [['0']])
    assert gone == [['0']], gone
    assert cl.psql("SELECT lpr_e4 FROM loans WHERE loan_ref = 'L'") == [['38500']]
    # Still due (claimed, 5 minutes on), the run not counted as failed, nothing logged.
    assert cl.psql("SELECT attempts, claimed_at IS NOT NULL FROM lpr_rechecks") == [['0', 't']]
    assert 'LPR recheck of 2020-05-01' not in srv.log(), srv.log_tail()


def test_a_recheck_that_waited_out_another_rechecks_turn_is_not_counted_as_failed(ctx):
    """Found by review: two rechecks due together on two instances; the second waited 5 s
    for the turn the first held for its long reprice, and that counted as one of its 5
    runs: rechecks used up each other's runs and were given up, their loans left at the
    old rates. A run that did not get its turn is given back and tried again in 10 s."""
    cl, a = _fresh(ctx)
    b = harness.Server(cluster=cl)
    ctx.defer(b.stop)
    bank, reg = a.client('bank'), a.client('regulator')
    _post(bank, 'X', '2020-05-12', '2021-05-11', '4.3500')
    _post(bank, 'Y', '2021-07-16', '2022-07-15', '4.3500')
    assert reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000',
                                               'five_year': '4.6000'}).status == 201
    assert reg.put('/v1/lpr/2021-07-01', json={'one_year': '4.0000',
                                               'five_year': '4.7000'}).status == 201
    # Both loans at the old rates (as stale caches leave them); Y's recheck has failed
    # four times already, so one more counted run would give it up.
    cl.psql("UPDATE loans SET spread_bp = 50, lpr_e4 = 38500 WHERE loan_ref IN ('X', 'Y')")
    _slow_reprice_of(cl, 'X', 12)
    cl.psql("UPDATE lpr_rechecks SET attempts = 4 WHERE effective_from = '2021-07-01';"
            " UPDATE lpr_rechecks SET due_at = now() - CASE effective_from"
            "   WHEN '2020-05-01' THEN interval '1 second' ELSE interval '0' END")
    assert harness.poll(lambda: 'LPR recheck of 2021-07-01 waits for a PUT or another'
                        in a.log() + b.log(), timeout=30), a.log_tail() + b.log_tail()
    assert harness.poll(lambda: cl.psql("SELECT count(*) FROM lpr_rechecks") == [['0']],
                        timeout=60), cl.psql("SELECT * FROM lpr_rechecks")
    assert cl.psql("SELECT loan_ref, lpr_e4, spread_bp FROM loans ORDER BY loan_ref") == [
        ['X', '38000', '55'], ['Y', '40000', '35']]
    assert 'gave up' not in a.log() + b.log()


def test_a_reprice_reads_the_loans_of_its_dates_not_the_whole_registry():
    """An LPR put reprices the loans issued while its row is in force; it found them by
    reading every loan of the registry (no index on issue_date): 3 million loans, 607 MB,
    for a new month's rate that reprices none, and again at its recheck, until PUTs pass
    their one-minute bound (audit, 4 December 2026). A BRIN index on issue_date (migration
    036, summarized as ranges fill) lets it read only the ranges holding such dates. Here
    a rate dated after every loan of the shared registry reads almost none of them."""
    bank = harness.client('bank')
    for _ in range(6):      # loans enough that a whole read shows, whatever ran before
        r = bank.post('/v1/loans/batch', json={'loans': [loan() for _ in range(1000)]})
        assert r.status == 200 and r.json()['created'] == 1000, r
    n = int(harness.psql("SELECT count(*) FROM loans")[0][0])
    setup = """
SELECT brin_summarize_new_values('loans_issue_date_brin');
INSERT INTO lpr_rates (effective_from, one_year, five_year)
VALUES (date '2099-01-20', 3.45, 4.2);"""
    call = "SELECT 'row', lpr_reprice(date '2099-01-20')"
    rows, reads = harness.rows_and_reads(setup, call, ('loans',))
    assert rows == [['0']], rows
    assert reads['loans'] < n / 10, (reads, n)


def test_a_reprice_of_an_earlier_row_reads_only_the_loans_of_its_window():
    """A row that a later one follows governs the loans issued in between, [its date, the
    next row's). The BRIN scan bounded only the lower end (the upper one sat in an OR with
    the next row's absence, which no index can use), so a correction of a rate of years ago
    read every loan issued since then: here two rows dated before every loan, of which the
    first reprices none, read all of them (review of c78a5b2)."""
    bank = harness.client('bank')
    r = bank.post('/v1/loans/batch', json={'loans': [loan() for _ in range(1000)]})
    assert r.status == 200 and r.json()['created'] == 1000, r
    n = int(harness.psql("SELECT count(*) FROM loans")[0][0])
    assert harness.psql("SELECT count(*) FROM loans WHERE issue_date < '1991-01-01'") == [['0']]
    setup = """
SELECT brin_summarize_new_values('loans_issue_date_brin');
INSERT INTO lpr_rates (effective_from, one_year, five_year)
VALUES (date '1990-01-20', 3.45, 4.2), (date '1990-02-20', 3.45, 4.2);"""
    call = "SELECT 'row', lpr_reprice(date '1990-01-20')"
    rows, reads = harness.rows_and_reads(setup, call, ('loans',))
    assert rows == [['0']], rows
    assert reads['loans'] < n / 10, (reads, n)
