"""The rebuild of the guarantee summary that migration 031 asks for (summary_rebuilds), run
by `finregd migrate` in a transaction of its own after the sql/ files (sql/common.sql
summary_rebuilds_run, sql/guarantees.sql guarantee_outstanding_rebuild), against the
writers and the new connections of instances serving meanwhile (review of e8e1eae,
3 December 2026). Each test has its own cluster."""

import os
import re
import subprocess
import threading
import time

import finreg_data as fd
import harness
from test_guarantees import guarantee, guaranteed_loan, post, put_guarantor

AS_OF = '2019-06-15'


def _outstanding(reg, code):
    r = reg.get('/v1/stats/guarantee-leverage?as_of=%s&guarantor=%s' % (AS_OF, code))
    if r.status != 200:
        return r.status
    rows = r.json()['rows']
    return rows[0]['outstanding'] if rows else '0.00'


def _ask_for_the_rebuild(cl):
    """The registry as migration 031 leaves it: the summary asked for, not built."""
    cl.psql("INSERT INTO summary_rebuilds VALUES ('guarantee_outstanding');"
            " DELETE FROM guarantee_outstanding; DELETE FROM guarantee_outstanding_pending")


def _migrate_in_background(cl):
    done = []
    t = threading.Thread(target=lambda: done.append(
        harness.finregd('migrate', cluster=cl, check=False, timeout=120)))
    t.start()
    return t, done


def _rebuild_waits_on(cl, relation):
    """Whether the migrate's rebuild (summary_rebuild_next(), or summary_rebuilds_run() of a
    release before it) waits for a lock on @relation (a table name), or for a row lock when
    @relation is None."""
    cond = ("l.relation = '%s'::regclass" % relation if relation
            else "l.locktype = 'transactionid'")
    return cl.psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                   " WHERE NOT l.granted AND a.query IN ('SELECT summary_rebuild_next()',"
                   " 'SELECT summary_rebuilds_run()')"
                   " AND " + cond) == [['1']]


def _registry_asking_for_the_rebuild(ctx):
    """A cluster and server of the test's own holding a guarantee of 3,000,000.00 (on
    AS_OF) and a loan without guarantees, the summary then asked for and not built, as
    migration 031 leaves a registry: (cluster, bank, regulator, guarantor code, the
    guarantee, the guaranteed loan, the plain loan)."""
    cl = harness.private_cluster(ctx, who=('bank', 'regulator', 'guarantor'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    bank, g, reg = srv.client('bank'), srv.client('guarantor'), srv.client('regulator')
    code = harness.PRINCIPALS['guarantor'][1]
    guaranteed = guaranteed_loan(bank, amount='5000000.00')
    posted = post(g, guarantee(guaranteed, amount='3000000.00', start_date='2019-03-01'))
    plain = bank.post('/v1/loans', json=fd.loan())
    assert plain.status == 201, plain
    assert harness.poll(lambda: _outstanding(reg, code),
                        until=lambda v: v == '3000000.00') == '3000000.00'
    # The warm-up's rehearsal writes lock tables the sql/ files create triggers on: a
    # migrate started beside it deadlocked with it once and retried (CI of 4 December,
    # 17:09), which the tests that ask for no deadlock at all took for the rebuild's.
    srv.wait_warmed()
    _ask_for_the_rebuild(cl)
    return cl, bank, reg, code, posted, guaranteed, plain.json()


def _void_then_hold(ctx, cl, name, plain, then, waits_for='guarantee_capped_loans'):
    """Starts a psql session (application @name) that holds the compactor's lock, which
    the rebuild takes first, until the migrate's rebuild waits for it (so it starts after
    the sql/ files have committed, whose CREATE OR REPLACE TRIGGER on loans would wait for
    it, and before the rebuild locks anything; any session's wait for an advisory lock
    once let it start while the sql/ files ran, and they deadlocked with it: CI of 4
    December, ASan suite); then, in one transaction, voids loan @plain (no
    guarantees: its trigger reads guarantee_capped_loans), lets the rebuild go on, waits
    until it waits for a lock on @waits_for (a table), and runs @then (SQL). Returns the
    session once it holds the lock."""
    script = os.path.join(harness.run_dir(), name + '.sql')
    with open(script, 'w') as f:
        f.write("""
SET deadlock_timeout = '60s';
SELECT pg_advisory_lock(7340012004);
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                      WHERE NOT l.granted AND l.locktype = 'advisory'
                        AND a.query IN ('SELECT summary_rebuild_next()',
                                        'SELECT summary_rebuilds_run()')) LOOP
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
BEGIN;
UPDATE loans SET status = 'void' WHERE bank_code = '%(bank)s' AND loan_ref = '%(plain)s';
SELECT pg_advisory_unlock(7340012004);
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE NOT l.granted AND l.relation = '%(waits_for)s'::regclass)
    LOOP
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
%(then)s
COMMIT;
""" % {'bank': plain['bank_code'], 'plain': plain['loan_ref'], 'then': then,
       'waits_for': waits_for})
    holder = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url, '-f', script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/',
        env=dict(os.environ, PGAPPNAME=name))
    ctx.defer(lambda: holder.poll() is None and holder.kill())
    assert harness.poll(lambda: cl.psql(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.granted AND l.locktype = 'advisory'"
        " AND a.application_name = '%s'" % name) == [['1']], timeout=20)
    return holder


def _migrate_alongside(cl, holder, deadlock=True):
    """Runs finregd migrate while session @holder (_void_then_hold) does its part; both
    must succeed, and every summary asked for be built. @deadlock False: the migrate must
    not have met one either (a rebuild it retried)."""
    migrate, done = _migrate_in_background(cl)
    migrate.join(timeout=120)
    _, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert done and done[0].returncode == 0, done[0].stderr[-2000:] if done else done
    if not deadlock:
        assert 'deadlock' not in done[0].stderr, done[0].stderr[-2000:]
    assert cl.psql("SELECT count(*) FROM summary_rebuilds") == [['0']]


def test_a_transaction_voiding_two_loans_while_the_migrate_rebuilds_does_not_fail_the_migrate(ctx):
    """A transaction voids a loan without guarantees (the void trigger reads
    guarantee_capped_loans), then one with guarantees (the trigger appends to
    guarantee_outstanding_pending). The rebuild took the pending changes before it waited
    for the capped loans, the void waited for the pending changes: a deadlock, in which
    the rebuild was the victim, so the migrate failed and the figure stayed 503 until the
    next migrate. Here the voiding transaction waits out its own deadlock check (60 s), as
    a bulk void's may not; the migrate must succeed and the void loan count for nothing."""
    cl, bank, reg, code, _, guaranteed, plain = _registry_asking_for_the_rebuild(ctx)
    holder = _void_then_hold(
        ctx, cl, 'void-two-loans', plain,
        "UPDATE loans SET status = 'void' WHERE bank_code = '%s' AND loan_ref = '%s';"
        % (guaranteed['bank_code'], guaranteed['loan_ref']))
    _migrate_alongside(cl, holder, deadlock=False)
    assert _outstanding(reg, code) == '0.00'


def test_a_new_connection_stores_a_loan_while_the_migrate_rebuilds(ctx):
    """While the rebuild runs (13.9 s at 3 million guarantees) loan writes go on, says
    docs/whitelist-guarantees.md. But it held the pending changes in ACCESS EXCLUSIVE mode,
    and every new connection of finregd prepares stats_pending_rows, which reads them:
    an instance started, or a connection opened (a pool growing, one dropped after a
    timeout), during the rebuild stored nothing until it ended. Here the rebuild is held
    at its last step (a row lock on its summary_rebuilds row) with every table lock taken,
    and a server started meanwhile posts a loan."""
    cl, _, reg, code, _, _, _ = _registry_asking_for_the_rebuild(ctx)
    hold = 'SELECT pg_sleep(8)'
    holder = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url, '-c', 'BEGIN',
         '-c', 'SELECT 1 FROM summary_rebuilds FOR UPDATE', '-c', hold, '-c', 'COMMIT'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
    ctx.defer(lambda: holder.poll() is None and holder.kill())
    assert harness.poll(lambda: cl.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query = '%s' AND state = 'active'"
        % hold) == [['1']], timeout=10)
    migrate, done = _migrate_in_background(cl)
    try:
        assert harness.poll(lambda: _rebuild_waits_on(cl, None), timeout=20)
        new = harness.Server(cluster=cl)
        ctx.defer(new.stop)
        started = time.monotonic()
        r = new.client('bank', timeout=30).post('/v1/loans', json=fd.loan())
        took = time.monotonic() - started
        still_held = holder.poll() is None
    finally:
        migrate.join(timeout=120)
        _, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert done and done[0].returncode == 0, done
    assert still_held, 'the hold ended before the post answered: it proves nothing'
    assert r.status == 201 and took < 3, (r, took, new.log_tail(20))
    assert _outstanding(reg, code) == '3000000.00'


def test_a_transaction_voiding_a_loan_then_releasing_a_guarantee_does_not_fail_the_migrate(ctx):
    """Locks taken the other way round from the rebuild's by a transaction no lock order
    avoids: a void (its trigger reads the capped loans, which the rebuild then waits for,
    holding guarantees) and then a release (a write of guarantees, which waits for the
    rebuild). The rebuild is the victim, as the sql/ files may be (docs/operations.md): it
    rolled back whole, and the migrate runs it again rather than failing and leaving the
    figure 503 until the next migrate."""
    cl, bank, reg, code, posted, _, plain = _registry_asking_for_the_rebuild(ctx)
    holder = _void_then_hold(
        ctx, cl, 'void-then-release', plain,
        "UPDATE guarantees SET released_on = '2019-05-01', released_at = now(),"
        " released_by = 'x' WHERE guarantee_ref = '%s';" % posted['guarantee_ref'])
    _migrate_alongside(cl, holder)
    assert _outstanding(reg, code) == '0.00'   # released on 2019-05-01


def test_a_migrate_rebuilds_an_asked_summary_after_the_sql_files_while_loans_go_on(ctx):
    """Migration 031 asks for the summary to be built (summary_rebuilds); finregd migrate
    builds it after the sql/ files have committed, in a transaction of its own. Inside
    their transaction (until 3 December 2026) it held every loan write as long as it ran,
    the sql/ files' CREATE OR REPLACE TRIGGER on loans holding that table (13.9 s at 3
    million guarantees). Here a reader of the capped loans in flight holds the rebuild (not
    the sql/ files, which do not lock them) three seconds: meanwhile a bank's new loan is
    stored at once and the leverage answers 503 (not a figure from a summary not built
    yet); then the figure is back, whole."""
    cl, bank, reg, code, _, _, _ = _registry_asking_for_the_rebuild(ctx)
    r = reg.get('/v1/stats/guarantee-leverage?as_of=%s&guarantor=%s' % (AS_OF, code))
    assert r.status == 503 and r.json()['error']['code'] == 'unavailable', r
    assert r.headers.get('Retry-After'), r.headers
    write = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url, '-c', 'BEGIN',
         '-c', 'LOCK TABLE guarantee_capped_loans IN ACCESS SHARE MODE',
         '-c', 'SELECT pg_sleep(3)', '-c', 'COMMIT'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
    migrate = None
    try:
        assert harness.poll(lambda: cl.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)'"
            " AND state = 'active'") == [['1']], timeout=10)
        migrate, migrated = _migrate_in_background(cl)
        assert harness.poll(lambda: _rebuild_waits_on(cl, 'guarantee_capped_loans'),
                            timeout=10)
        started = time.monotonic()
        r = bank.post('/v1/loans', json=fd.loan())
        stored_in = time.monotonic() - started
        during = _outstanding(reg, code)
    finally:
        if migrate is not None:
            migrate.join(timeout=60)
        _, err = write.communicate(timeout=30)
    assert write.returncode == 0, err
    assert migrated and migrated[0].returncode == 0, migrated
    assert r.status == 201 and stored_in < 1.0, (r, stored_in)
    assert during == 503, during
    assert cl.psql("SELECT count(*) FROM summary_rebuilds") == [['0']]
    assert _outstanding(reg, code) == '3000000.00'


def _replica_reads(server):
    m = re.search(r'^finreg_db_reads_total\{target="replica"\} (\d+)$',
                  server.client('regulator').get('/metrics').text, re.MULTILINE)
    return int(m.group(1))


def test_a_summary_not_built_on_the_read_replica_does_not_send_every_read_to_the_primary(ctx):
    """The leverage answers 503 while its summary is asked for and not built (SQLSTATE
    55P03, as a lock timeout). On an instance reading a replica the read failed there, and
    finregd took the replica for a failed one: "read replica failed a read", and every
    read of every caller went to the primary for the next second, after each such read
    (a dashboard polling the figure during a rebuild, or for good after a migrate that
    did not finish it). The replica is fine: the next list read is the replica's. The
    replica here is the primary itself, by its own connection string."""
    cl = harness.private_cluster(ctx, who=('bank', 'regulator'))
    srv = harness.Server(cluster=cl, env={'FINREG_READ_DATABASE_URL': cl.app_url})
    ctx.defer(srv.stop)
    bank, reg = srv.client('bank'), srv.client('regulator')
    assert bank.post('/v1/loans', json=fd.loan()).status == 201
    assert harness.poll(lambda: bank.get('/v1/loans?limit=1').status == 200
                        and _replica_reads(srv) > 0, timeout=10)
    cl.psql("INSERT INTO summary_rebuilds VALUES ('guarantee_outstanding')")
    r = reg.get('/v1/stats/guarantee-leverage?as_of=' + AS_OF)
    assert r.status == 503 and r.headers.get('Retry-After'), r
    before = _replica_reads(srv)
    assert bank.get('/v1/loans?limit=1').status == 200
    after = _replica_reads(srv)
    assert after == before + 1, (before, after, srv.log_tail(10))
    assert 'read replica failed a read' not in srv.log_tail(30), srv.log_tail(30)


def test_the_targets_answer_503_while_the_summary_is_not_built_until_a_migrate_builds_it(ctx):
    """As a migrate that stopped after the sql/ files leaves the registry: the leverage
    and the targets of a year with a guarantee_leverage target (its actual is the same
    figure) answer 503 with Retry-After, not a figure, and writes go on; the next migrate
    builds the summary (docs/operations.md)."""
    cl = harness.private_cluster(ctx, who=('bank', 'regulator', 'guarantor'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    bank, g, reg = srv.client('bank'), srv.client('guarantor'), srv.client('regulator')
    code = harness.PRINCIPALS['guarantor'][1]
    loan = guaranteed_loan(bank, amount='5000000.00')
    assert reg.put('/v1/targets/2019/guarantee_leverage', json={'target': '1.5'}).status \
        in (200, 201)
    # Net assets in force: without them the actual is null whatever is outstanding, and
    # the summary is not read.
    assert put_guarantor(reg, code, '10000000.00', '2019-01-01').status == 201
    targets = '/v1/stats/targets?year=2019&as_of=' + AS_OF
    assert reg.get(targets).status == 200
    _ask_for_the_rebuild(cl)
    for path in (targets, '/v1/stats/guarantee-leverage?as_of=' + AS_OF):
        r = reg.get(path)
        assert r.status == 503 and r.headers.get('Retry-After'), (path, r)
        assert r.json()['error']['code'] == 'unavailable', r
    post(g, guarantee(loan, amount='3000000.00', start_date='2019-03-01'))
    assert harness.finregd('migrate', cluster=cl, check=False).returncode == 0
    r = reg.get(targets)
    assert r.status == 200, r
    row = [x for x in r.json()['rows'] if x['metric'] == 'guarantee_leverage'][0]
    assert row['actual'] == 0.3, row
    assert _outstanding(reg, code) == '3000000.00'


def test_a_migrate_leaves_a_summary_it_does_not_know_to_the_release_that_asked_for_it(ctx):
    """A newer release's migration asked for a summary this release has no rebuild for (its
    `finregd migrate` ran, then this one's, as docs/operations.md lets an operator do): the
    rebuild raised, so the migrate failed and left the guarantee summary asked for and not
    built (its figure 503) too. It now rebuilds the summaries it knows, leaves the other's
    row to the newer migrate and says so."""
    cl, _, reg, code, _, _, _ = _registry_asking_for_the_rebuild(ctx)
    cl.psql("INSERT INTO summary_rebuilds VALUES ('a_newer_releases_summary')")
    done = harness.finregd('migrate', cluster=cl, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'a_newer_releases_summary' in done.stderr, done.stderr[-2000:]
    assert cl.psql("SELECT summary FROM summary_rebuilds") == [['a_newer_releases_summary']]
    assert _outstanding(reg, code) == '3000000.00'


def _metric(server, name):
    m = re.search(r'^%s (\d+)$' % name, server.client('regulator').get('/metrics').text,
                  re.MULTILINE)
    return int(m.group(1)) if m else None


def test_a_read_refused_while_a_summary_is_not_built_is_no_database_error(ctx):
    """The leverage's 503 while its summary is asked for and not built is planned, not a
    database failure: each one counted in finreg_db_errors_total and logged a warning, so
    a dashboard polling the figure after a migrate that did not finish the rebuild looked
    like a failing database. They count in finreg_db_summary_refusals_total, and the log
    says it once, not per read."""
    cl = harness.private_cluster(ctx, who=('bank', 'regulator'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    # The warm-up first: one that gives way to a request cancels its statement, a database
    # error of its own (seen once in CI's ASan suite, between the two readings below).
    srv.wait_warmed()
    reg = srv.client('regulator')
    assert reg.get('/v1/stats/guarantee-leverage?as_of=' + AS_OF).status == 200
    cl.psql("INSERT INTO summary_rebuilds VALUES ('guarantee_outstanding')")
    errors = _metric(srv, 'finreg_db_errors_total')
    refusals = _metric(srv, 'finreg_db_summary_refusals_total') or 0
    for _ in range(3):
        r = reg.get('/v1/stats/guarantee-leverage?as_of=' + AS_OF)
        assert r.status == 503 and r.headers.get('Retry-After'), r
        assert r.json()['error']['code'] == 'unavailable', r
    assert _metric(srv, 'finreg_db_summary_refusals_total') == refusals + 3
    assert _metric(srv, 'finreg_db_errors_total') == errors, srv.log_tail(20)
    log = srv.log_tail(40)
    assert ' warn statement' not in log, log  # (ASan's build warns of malloc arenas)
    assert log.count('not built') == 1, log
