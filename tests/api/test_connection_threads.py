"""No request stalls connections that are not its own: each connection has a thread of its
own, and the request path's database connections are a pool (FINREG_THREADS) lent one
transaction or statement at a time. A loan post held in the database (a psql session holds a
lock on the loans table) holds its own thread and one pooled connection, while /healthz, the
contract and requests needing other tables answer within a second on other connections.
Posts of one bank held together (group commit leaders and members) do not either. A request
that finds the pool busy waits at most FINREG_POOL_WAIT_MS, then 503 with Retry-After.
Callers the principal cache does not know may hold at most half the pool: a flood of
unknown tokens leaves a bank's posts and a streamed export alone. SIGTERM lets a held post
finish; a request still waiting for a connection when the grace ends answers 503 "the server
is stopping"; the exit is 0. A client leaving mid-export frees the export's connection.
Each test runs on a private cluster, so its locks disturb no other test."""

import re
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time

import finreg_data as fd
import harness
import test_referrals_export as rx
from freezable_proxy import FreezableProxy

BANK = 'CIB-SM'


def _setup(ctx):
    return harness.private_cluster(ctx)


def _server(ctx, cl, pool, **env):
    s = harness.Server(cluster=cl, threads=pool,
                       env={'FINREG_STATEMENT_TIMEOUT_MS': 30000, **env})

    def stop():
        if s.running():
            rc = s.stop()
            assert rc in (0, None), f'server exited {rc}; log:\n{s.log_tail()}'
    ctx.defer(stop)
    return s


class _Lock:
    """A psql session holding a lock on a table until release(): SHARE (writes wait,
    reads and a new connection's PREPAREs do not), or ACCESS EXCLUSIVE (everything waits)."""

    def __init__(self, cl, table, mode='SHARE'):
        self.p = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', cl.url, '-f', '-'],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        self.p.stdin.write(f'BEGIN;\nLOCK TABLE {table} IN {mode} MODE;\n'
                           f"SELECT 'locked';\n")
        self.p.stdin.flush()
        self.cl = cl
        self.table = table
        self.mode = ''.join(w.capitalize() for w in mode.split()) + 'Lock'
        deadline = time.monotonic() + 10
        while not self._granted():
            assert time.monotonic() < deadline, 'the lock was never granted'
            time.sleep(0.05)

    def _granted(self):
        return self.cl.psql(f"SELECT count(*) FROM pg_locks WHERE mode = '{self.mode}' "
                            f"AND granted AND relation = '{self.table}'::regclass") != [['0']]

    def release(self):
        if self.p.stdin is not None and not self.p.stdin.closed:
            self.p.stdin.close()
        self.p.wait(10)


def _in_background(fn):
    out = {}

    def run():
        try:
            out['r'] = fn()
        except Exception as e:      # reported by the caller's asserts
            out['r'] = e
    t = threading.Thread(target=run)
    t.start()
    return t, out


def _waiting_on_lock(cl, n):
    """Waits until n sessions wait for a lock (the held posts reached the database)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if int(cl.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
               [0][0]) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f'fewer than {n} sessions ever waited on the lock')


def _timed(fn):
    start = time.monotonic()
    r = fn()
    return r, time.monotonic() - start


def _others_answer_at_once(s, fresh=4, whoami=True):
    """On @a fresh new connections each: /healthz, the contract (no database), and (unless
    the pool has no connection free for its look-up) a regulator's whoami answer within a
    second."""
    for i in range(fresh):
        r, took = _timed(lambda: harness.client(None, server=s, timeout=5).get('/healthz'))
        assert r.status == 200 and took < 1.0, (i, r, took)
        r, took = _timed(lambda: harness.client(None, server=s, timeout=5)
                         .get('/v1/openapi.json'))
        assert r.status == 200 and took < 1.0, (i, r, took)
    if not whoami:
        return
    r, took = _timed(lambda: harness.client('regulator', server=s, timeout=5).get('/v1/whoami'))
    assert r.status == 200 and r.json()['code'] == 'SM-FSB' and took < 1.0, (r, took)


def _hold_a_post(cl, s):
    """A warm-up post (a pooled connection made, the bank in the principal cache), the
    server's warm-up over, then a lock on loans and a post held by it in the background.
    Returns (lock, thread, out, the held loan)."""
    assert harness.client('bank', server=s).post('/v1/loans', json=fd.loan()).status == 201
    s.wait_warmed()     # else its rehearsal's wait on the lock is the one seen below
    held = fd.loan()
    lock = _Lock(cl, 'loans')
    try:
        t, out = _in_background(lambda: harness.client('bank', server=s, timeout=60)
                                .post('/v1/loans', json=held))
        _waiting_on_lock(cl, 1)
    except BaseException:
        lock.release()
        raise
    return lock, t, out, held


def test_a_post_held_in_the_database_stalls_no_other_connection(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=2)
    lock, t, out, held = _hold_a_post(cl, s)
    try:
        _others_answer_at_once(s)
        # A request that needs the database, another table, on the other connection.
        r, took = _timed(lambda: harness.client('regulator', server=s, timeout=5)
                         .get('/v1/lpr'))
        assert r.status == 200 and took < 1.0, (r, took)
        m = harness.client(None, server=s).get('/metrics').text
        assert 'finreg_db_pool_connections 2\n' in m and 'finreg_db_pool_busy 1\n' in m, m
        assert 'r' not in out, out      # still held
    finally:
        lock.release()
    t.join(60)
    assert getattr(out['r'], 'status', None) == 201, out['r']
    assert cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref = '{held['loan_ref']}'") \
        == [['1']]


def test_posts_of_one_bank_held_in_a_group_commit_stall_no_other_connection(ctx):
    cl = _setup(ctx)
    # Each held post may lead a group of its own (after 50 ms) and hold a connection.
    s = _server(ctx, cl, pool=8)
    for _ in range(4):      # connections made and prepared
        assert harness.client('bank', server=s).post('/v1/loans', json=fd.loan()).status == 201
    s.wait_warmed()     # else its rehearsal's wait on the lock is the one seen below
    loans = [fd.loan() for _ in range(4)]
    lock = _Lock(cl, 'loans')
    try:
        posts = [_in_background(lambda body=body: harness.client('bank', server=s, timeout=60)
                                .post('/v1/loans', json=body)) for body in loans]
        _waiting_on_lock(cl, 1)
        time.sleep(0.2)         # the others joined a group or lead their own
        _others_answer_at_once(s)
    finally:
        lock.release()
    for t, _ in posts:
        t.join(60)
    bank = harness.client('bank', server=s)
    for body, (_, out) in zip(loans, posts):
        r = out['r']
        # A member that gave up waiting for its group answers 503: retrying is safe.
        assert getattr(r, 'status', None) in (201, 503), r
        if r.status == 503:
            assert r.header('Retry-After'), r
            assert bank.post('/v1/loans', json=body).status in (200, 201)
    refs = ','.join(f"'{b['loan_ref']}'" for b in loans)
    assert cl.psql(f'SELECT count(*) FROM loans WHERE loan_ref IN ({refs})') == [['4']]


def _metric(s, name):
    m = re.search(rf'^{re.escape(name)} (\S+)$', harness.client(None, server=s)
                  .get('/metrics').text, re.M)
    return float(m.group(1)) if m else None


def _until(cond, what, seconds=5):
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _warm_pool(cl, s, n):
    """Has all n pooled connections made and prepared (a lock on lpr holds n reads of it
    together), so that a later lock cannot hold a new connection's PREPAREs. First waits
    for the warm-up to end: a warm-up still running under that later lock gives way to the
    first request by dropping its connection, and the request's new connection then waits
    on the lock in its PREPAREs (a bank's post held for the whole statement timeout)."""
    assert _warm_up_line(s), 'the warm-up never ended: ' + s.log_tail()
    assert harness.client('regulator', server=s).get('/v1/whoami').status == 200
    lock = _Lock(cl, 'lpr_rates', 'ACCESS EXCLUSIVE')
    try:
        reads = [_in_background(lambda: harness.client('regulator', server=s, timeout=60)
                                .get('/v1/lpr')) for _ in range(n)]
        _until(lambda: _metric(s, 'finreg_db_pool_busy') == n, 'the pool never filled')
    finally:
        lock.release()
    for t, out in reads:
        t.join(60)
        assert getattr(out['r'], 'status', None) == 200, out['r']


def test_a_busy_pool_is_503_with_retry_after_after_the_pool_wait(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=1, FINREG_POOL_WAIT_MS=1500)
    # The regulator in the principal cache first (its look-up needs the pool too).
    assert harness.client('regulator', server=s).get('/v1/whoami').status == 200
    lock, t1, first, _ = _hold_a_post(cl, s)
    try:
        # The only connection is held: the next request waits for it (its own wait) ...
        t2, second = _in_background(lambda: _timed(
            lambda: harness.client('regulator', server=s, timeout=60).get('/v1/lpr')))
        _until(lambda: _metric(s, 'finreg_db_pool_waiting') == 1, 'it never waited')
        # ... while requests without the database answer at once ...
        _others_answer_at_once(s, fresh=2, whoami=False)
        t2.join(10)
        # ... and after the pool wait it is 503 with Retry-After, not a longer wait.
        r, took = second['r']
        assert r.status == 503 and r.header('Retry-After') and 1.4 <= took < 4, (r, took)
        assert r.json()['error']['code'] == 'unavailable', r.json()
        assert _metric(s, 'finreg_db_pool_timeouts_total') == 1
        assert 'r' not in first, first      # the held post is still held
    finally:
        lock.release()
    t1.join(60)
    assert getattr(first['r'], 'status', None) == 201, first['r']
    assert harness.client('regulator', server=s).get('/v1/lpr').status == 200


def test_unknown_tokens_take_at_most_half_the_pool_from_a_bank_and_an_export(ctx):
    cl = _setup(ctx)
    rx.load_referrals(cl, 1, 30000)
    s = _server(ctx, cl, pool=4, FINREG_POOL_WAIT_MS=1000)
    bank = harness.client('bank', server=s)
    assert bank.post('/v1/loans', json=fd.loan()).status == 201     # the bank is known
    _warm_pool(cl, s, 4)
    # Look-ups of unknown tokens hang in the database: each holds its pooled connection.
    lock = _Lock(cl, 'principal_tokens', 'ACCESS EXCLUSIVE')
    stop = threading.Event()
    seen = []

    def flood():
        while not stop.is_set():
            c = harness.client(None, token='frt_' + secrets.token_hex(32), server=s,
                               timeout=60)
            r = c.get('/v1/whoami')
            c.close()       # within the per-address connection limit
            seen.append((r.status, r.header('Retry-After'), r.json()['error']['code']))
    flooders = [threading.Thread(target=flood) for _ in range(12)]
    try:
        for f in flooders:
            f.start()
        _until(lambda: len(seen) >= 20, 'the flood was never answered', 20)
        assert _metric(s, 'finreg_db_pool_busy') == 2, 'unknown tokens hold more than half'
        ex, exported = _in_background(lambda: rx.export('regulator', 'format=csv', server=s))
        loans = [fd.loan() for _ in range(20)]
        for body in loans:
            r, took = _timed(lambda: bank.post('/v1/loans', json=body))
            assert r.status == 201 and took < 2.0, (r, took)
        ex.join(120)
        rows = rx.parse_csv(exported['r'])
        assert len(rows) == 30001 and rows[-1][0] == 'RF-2020-030000', rows[-1]
    finally:
        stop.set()
        lock.release()
    for f in flooders:
        f.join(60)
    # Beyond the share: 503 with Retry-After after the wait; the looked-up ones: 401.
    assert seen and {code for _, _, code in seen} <= {'unavailable', 'unauthenticated'}, seen
    assert all(ra for st, ra, _ in seen if st == 503), seen
    assert sum(1 for st, _, _ in seen if st == 503) >= 20, seen
    refs = ','.join(f"'{b['loan_ref']}'" for b in loans)
    assert cl.psql(f'SELECT count(*) FROM loans WHERE loan_ref IN ({refs})') == [['20']]
    assert 'finreg_auth_failures_total{reason="lookups_busy"}' in \
        harness.client(None, server=s).get('/metrics').text


def test_a_burst_of_one_new_token_waits_for_its_look_up_rather_than_503(ctx):
    cl = _setup(ctx)
    out = harness.finregd('token', 'issue', '--principal', harness.PRINCIPALS['regulator'][1],
                          cluster=cl).stdout.split()
    s = _server(ctx, cl, pool=2)        # one look-up of a new token at a time
    # A dashboard opening with a token the server has not seen: six requests at once.
    calls = [_in_background(lambda: harness.client(None, token=out[0], server=s, timeout=30)
                            .get('/v1/whoami')) for _ in range(6)]
    for t, r in calls:
        t.join(30)
        assert getattr(r['r'], 'status', None) == 200, r['r']
        assert r['r'].json()['code'] == 'SM-FSB'


def test_sigterm_lets_a_post_held_in_the_database_finish_then_exits_0(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=1)
    lock, t, out, held = _hold_a_post(cl, s)
    try:
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while 'finishing requests in flight' not in s.log():
            assert time.monotonic() < deadline, s.log_tail()
            time.sleep(0.05)
        time.sleep(0.3)
        assert s.proc.poll() is None, 'exited with a request in flight'
    finally:
        lock.release()
    t.join(60)
    assert getattr(out['r'], 'status', None) == 201, out['r']
    assert s.stop(timeout=15) == 0, s.log_tail()
    assert cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref = '{held['loan_ref']}'") \
        == [['1']]


def test_sigterm_answers_a_request_waiting_for_a_connection_503_stopping_at_the_grace(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=1, FINREG_POOL_WAIT_MS=60000, FINREG_SHUTDOWN_GRACE=2)
    assert harness.client('regulator', server=s).get('/v1/whoami').status == 200
    lock, t1, first, held = _hold_a_post(cl, s)
    try:
        t2, second = _in_background(lambda: harness.client('regulator', server=s, timeout=60)
                                    .get('/v1/lpr'))
        _until(lambda: _metric(s, 'finreg_db_pool_waiting') == 1, 'it never waited')
        sent = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        t2.join(10)
        r = second['r']
        # Waited through the grace (it might have got a connection), then refused.
        assert time.monotonic() - sent >= 1.5, 'refused before the grace ended'
        assert r.status == 503 and r.header('Retry-After'), r
        assert 'the server is stopping' in r.json()['error']['message'], r.json()
        assert s.proc.poll() is None, 'exited while a statement ran'
    finally:
        lock.release()
    t1.join(60)
    # The held post ran past the grace: it is stored (its answer may be cut off: a client
    # retries with its Idempotency-Key), and the server exits 0 once it is done.
    assert s.stop(timeout=15) == 0, s.log_tail()
    assert cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref = '{held['loan_ref']}'") \
        == [['1']]


def test_a_client_leaving_mid_export_frees_its_database_connection(ctx):
    cl = _setup(ctx)
    rx.load_referrals(cl, 1, 60000)      # 16 MB: more than socket buffers hold
    s = _server(ctx, cl, pool=1, FINREG_MAX_EXPORTS=1)
    streams = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'finregd-stream'"
    c = harness.client('regulator', server=s)
    c._connect()
    c.conn.request('GET', '/v1/referrals/export?format=csv')
    r = c.conn.getresponse()
    assert r.status == 200 and r.read(10000).startswith(rx.BOM)
    assert cl.psql(streams) == [['1']]      # the export's own connection, mid-query
    # The export holds no pooled connection: the pool's only one serves a bank meanwhile.
    r2, took = _timed(lambda: harness.client('bank', server=s).post('/v1/loans',
                                                                    json=fd.loan()))
    assert r2.status == 201 and took < 2, (r2, took)
    c.close()                               # the client goes away mid-body
    _until(lambda: cl.psql(streams) == [['0']], 'the stream connection was not closed', 10)
    # The export's place under FINREG_MAX_EXPORTS=1 is free again: a whole export works.
    rows = rx.parse_csv(rx.export('regulator', 'format=csv', server=s))
    assert len(rows) == 60001 and rows[-1][0] == 'RF-2020-060000', rows[-1]
    assert _metric(s, 'finreg_exports_in_flight') == 0


def _logged(s, pattern, after='', seconds=15):
    """The first match of regular expression pattern in the server's log after the first
    occurrence of the text after, waiting up to seconds for it; None when none came."""
    deadline = time.monotonic() + seconds
    while True:
        log = s.log()
        m = re.search(pattern, log.partition(after)[2] if after else log)
        if m or time.monotonic() > deadline:
            return m
        time.sleep(0.2)


def test_connections_plan_again_once_the_loans_table_has_grown_from_empty(ctx):
    """A new registry: plans made on an empty loans table are dropped once it reaches 8
    pages (the compactor notes its size every second). The size read must be the table's
    real one, partitioned or not: a size stuck at 0 never re-plans, and the write path then
    keeps plans made for an empty table (a batch of 1000 took 1.6 s instead of 0.1 s).
    Without the warm-up: its rolled-back rehearsals grow the table too, and one still
    running after the batch below grew it past the size read here."""
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=2, FINREG_WARM_UP=0)
    loans = [fd.loan() for _ in range(300)]
    r = harness.client('bank', server=s, timeout=60).post('/v1/loans/batch',
                                                          json={'loans': loans})
    assert r.status == 200 and r.json()['created'] == 300, r
    pages = int(cl.psql("SELECT pg_relation_size('loans') / 8192")[0][0])
    assert pages >= 8, pages
    found = _logged(s, r'plans: the loans table is at (\d+) pages')
    assert found is not None, s.log_tail()
    assert 8 <= int(found.group(1)) <= pages, (found.group(0), pages)


WARM_USCC = '91350402WARMUP000Q'    # the borrower of the warm-up's loan (service/warm_up.c)


class _FirmHeld:
    """A psql session that has inserted the warm-up's borrower and not committed: the
    warm-up's rehearsal (and nothing else) waits on it until release()."""

    def __init__(self, cl):
        self.p = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', cl.url, '-f', '-'],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        self.p.stdin.write("BEGIN;\nINSERT INTO firms (uscc, name, county_code, industry_code, "
                           f"size, updated_by) VALUES ('{WARM_USCC}', 'held', '350402', "
                           "'3412', 'small', 'test');\n")
        self.p.stdin.flush()

    def release(self):
        self.p.stdin.close()
        self.p.wait(10)


def _warm_up_line(s, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        m = re.search(r'warm-up: (\d+) database connections warmed in [\d.]+ s(.*)', s.log())
        if m or time.monotonic() > deadline:
            return m
        time.sleep(0.1)


def test_the_warm_up_warms_every_pooled_connection_and_stores_nothing(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=3)
    m = _warm_up_line(s)
    assert m and m.group(1) == '3' and m.group(2) == '', s.log_tail()
    # the pooled ones only: the background threads' are named apart (next test); the
    # warm-up's own connection ('finregd-warm-up') may linger a moment after it ends
    n = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE application_name = 'finregd'"),
                     10, lambda v: v == [['3']])
    assert n == [['3']], n
    assert cl.psql(f"SELECT (SELECT count(*) FROM loans) + (SELECT count(*) FROM firms "
                   f"WHERE uscc = '{WARM_USCC}')") == [['0']]
    assert 'passed its deadline' not in s.log(), s.log_tail()


def test_each_background_thread_names_its_database_connection(ctx):
    """pg_stat_activity tells an operator which finregd thread a backend serves: the pooled
    connections are 'finregd' (also those the warm-up, a named thread, opened), the health
    checker's, the statistics compactor's and the Idempotency-Key purger's are named for
    them, the principal listener's 'finregd-listen'."""
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=2, FINREG_IDEMPOTENCY_KEEP=4)  # the purger runs every second
    assert _warm_up_line(s), s.log_tail()
    want = [['finregd', '2'], ['finregd-compactor', '1'], ['finregd-health', '1'],
            ['finregd-listen', '1'], ['finregd-purger', '1']]
    got = harness.poll(lambda: cl.psql("SELECT application_name, count(*) FROM pg_stat_activity "
                                       "WHERE application_name LIKE 'finregd%' "
                                       "GROUP BY 1 ORDER BY 1"),
                       10, lambda v: v == want)
    assert got == want, got


def test_a_warm_up_held_in_the_database_delays_no_request(ctx):
    """The warm-up's rehearsal waits on a lock only it meets, on the only pooled connection
    (the statement deadline 30 s). A request then finds no free connection: the warm-up
    gives its connection up at once and ends; the request (a post by a bank not yet in the
    principal cache: two leases) and the next are answered promptly, not after the pool
    wait (10 s) or the warm-up's statement."""
    cl = _setup(ctx)
    held = _FirmHeld(cl)
    try:
        s = _server(ctx, cl, pool=1, FINREG_POOL_WAIT_MS=10000, FINREG_WARM_UP=1)
        _waiting_on_lock(cl, 1)
        loan = fd.loan()
        r, took = _timed(lambda: harness.client('bank', server=s, timeout=60)
                         .post('/v1/loans', json=loan))
        assert r.status == 201 and took < 3.0, (r, took)
        r, took = _timed(lambda: harness.client('regulator', server=s, timeout=60)
                         .get('/v1/loans?limit=5'))
        assert r.status == 200 and took < 1.0, (r, took)
        m = _warm_up_line(s, 5)
        assert m and m.group(1) == '0' and 'gave way to a request' in m.group(2), s.log_tail()
        assert _metric(s, 'finreg_db_pool_timeouts_total') == 0
        assert _metric(s, 'finreg_db_connect_failures_total') == 0
        assert 'passed its deadline' not in s.log(), s.log_tail()
    finally:
        held.release()
    assert cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref = '{loan['loan_ref']}'") == [['1']]
    assert cl.psql("SELECT count(*) FROM loans WHERE bank_code = '~warm-up'") == [['0']]


def test_a_connection_given_up_mid_statement_leaves_no_transaction_open(ctx):
    """Found in CI: a pooled connection whose statement was given up (the warm-up giving
    way to a request; a hung database) was only marked broken, to be dropped by its next
    user. Its backend ended the statement and sat idle in a transaction, holding its locks,
    until then; and as the pool lends its first free connection, with one client at a time
    that was never: a test's CREATE TRIGGER on loans waited on it for good. Here the
    warm-up's rehearsal on the second of two pooled connections sleeps 4 s (the first one's
    is quick), a request comes meanwhile and is served by the first: no session may be
    left idle in a transaction."""
    cl = _setup(ctx)
    cl.psql("CREATE SEQUENCE test_rehearsals; GRANT USAGE ON SEQUENCE test_rehearsals TO PUBLIC;"
            " CREATE FUNCTION test_second_rehearsal_sleeps() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN IF nextval('test_rehearsals') = 2 THEN PERFORM pg_sleep(4); END IF;"
            " RETURN NEW; END $$;"
            " CREATE TRIGGER test_second_rehearsal_sleeps BEFORE INSERT ON firms FOR EACH ROW"
            f" WHEN (NEW.uscc = '{WARM_USCC}') EXECUTE FUNCTION test_second_rehearsal_sleeps();")
    s = _server(ctx, cl, pool=2, FINREG_WARM_UP=1)
    got = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity"
                                       " WHERE wait_event = 'PgSleep'"), 15,
                       lambda v: v == [['1']])
    assert got == [['1']], got
    # A post that holds its lease a while (its borrower's row is being inserted by a
    # session of the test's, rolled back a second later): the warm-up gives way.
    loan = fd.loan()
    b = loan['borrower']
    held = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', cl.url, '-f', '-'],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    held.stdin.write("BEGIN;\nINSERT INTO firms (uscc, name, county_code, industry_code, size,"
                     f" updated_by) VALUES ('{b['uscc']}', 'held', '350402', '3412', 'small',"
                     " 'test');\n")
    held.stdin.flush()
    assert harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity"
                                        " WHERE state = 'idle in transaction'"), 10,
                        lambda v: v == [['1']]) == [['1']]
    t = threading.Timer(1.0, lambda: (held.stdin.close(), held.wait(10)))
    t.start()
    r = harness.client('bank', server=s).post('/v1/loans', json=loan)
    t.join()
    assert r.status == 201, r
    m = _warm_up_line(s, 5)
    assert m and m.group(1) == '1' and 'gave way to a request' in m.group(2), s.log_tail()
    time.sleep(5)   # past the sleep: a backend kept would now be idle in its transaction
    left = cl.psql("SELECT application_name, state FROM pg_stat_activity"
                   " WHERE state LIKE 'idle in transaction%'")
    assert left == [], left
    assert harness.client('bank', server=s).post('/v1/loans', json=fd.loan()).status == 201
    assert cl.psql("SELECT count(*) FROM loans WHERE bank_code = '~warm-up'") == [['0']]


def test_a_lone_clients_posts_are_served_by_one_pooled_connection(ctx):
    """The pool lends its first free connection (db/db.c, pool_take): one client posting one
    loan after another is served by one backend, kept hot, not by every pooled connection in
    turn (each of them cold again by its next call: a quarter more database CPU a post)."""
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=4)
    s.wait_warmed()
    t0 = cl.psql("SELECT clock_timestamp()")[0][0]
    c = harness.client('bank', server=s)
    for _ in range(8):
        r = c.post('/v1/loans', json=fd.loan())
        assert r.status == 201, r
    used = cl.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'finregd' "
                   f"AND starts_with(query, 'SELECT idx, status') AND state_change > '{t0}'")
    assert used == [['1']], used


def test_a_pooled_connection_that_cannot_reconnect_does_not_turn_posts_away(ctx):
    """The first free connection is lent, but not one waiting out its connect back-off while
    others are up: the backend that served a lone client's posts is ended and no new
    connection may be made (the role's limit), and the posts that follow are served by the
    other pooled connections (at most the first, which met the dead connection, is 503)."""
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=4)
    s.wait_warmed()
    c = harness.client('bank', server=s)
    assert c.post('/v1/loans', json=fd.loan()).status == 201
    hot = cl.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'finregd' "
                  "AND starts_with(query, 'SELECT idx, status') ORDER BY state_change DESC "
                  "LIMIT 1")[0][0]
    try:
        cl.psql(f"ALTER ROLE finregd_serve CONNECTION LIMIT 0; "
                f"SELECT pg_terminate_backend({hot})")
        statuses = []
        for _ in range(8):
            statuses.append(c.post('/v1/loans', json=fd.loan()).status)
            time.sleep(0.15)    # past the 100 ms back-off each time
    finally:
        cl.psql("ALTER ROLE finregd_serve CONNECTION LIMIT -1")
    assert statuses[1:] == [201] * 7 and statuses[0] in (201, 503), statuses


def test_plans_are_made_again_as_the_table_grows_after_a_vacuum_shrank_it(ctx):
    """The warm-up's rolled-back rehearsals grow the loans table (and the connections plan
    again at that size); a vacuum then truncates those dead pages. The doublings must count
    again from the small table: plans made on it are dropped once real loans fill 8 pages,
    not only once the table is twice the warm-up's size."""
    cl = _setup(ctx)
    s = _server(ctx, cl, pool=2)
    s.wait_warmed()
    big = _logged(s, r'plans: the loans table is at (\d+) pages')
    assert big is not None and int(big.group(1)) >= 16, s.log_tail()
    cl.psql('VACUUM loans')
    assert _logged(s, 'plans: the loans table shrank to') is not None, s.log_tail()
    r = harness.client('bank', server=s, timeout=60).post(
        '/v1/loans/batch', json={'loans': [fd.loan() for _ in range(300)]})
    assert r.status == 200 and r.json()['created'] == 300, r
    again = _logged(s, r'plans: the loans table is at (\d+) pages',
                    after='plans: the loans table shrank to')
    assert again is not None, s.log_tail()
    assert 8 <= int(again.group(1)) < int(big.group(1)), (again.group(0), big.group(0))


def test_an_export_whose_database_stops_answering_ends_and_lets_the_server_stop(ctx):
    """The database stops answering mid-export (here: a proxy in front of it stops
    forwarding, as a stopped server or a paused VM would; TCP keepalives do not notice):
    the stream waits for each row within the statement deadline, so the export ends, its
    thread is free, and SIGTERM still stops the server."""
    cl = _setup(ctx)
    rx.load_referrals(cl, 1, 30000)
    db_port = int(re.search(r'port=(\d+)', cl.app_url).group(1))
    proxy = FreezableProxy(db_port)
    ctx.defer(proxy.close)
    s = _server(ctx, cl, pool=2, FINREG_STATEMENT_TIMEOUT_MS=2000,
                FINREG_DATABASE_URL=cl.app_url.replace(f'port={db_port}',
                                                       f'port={proxy.port}'))
    assert harness.client('regulator', server=s).get('/v1/whoami').status == 200
    t = harness._ssl_context('regulator').wrap_socket(
        socket.create_connection(('127.0.0.1', s.port), timeout=30),
        server_hostname='localhost')
    t.sendall(b'GET /v1/referrals/export?format=csv HTTP/1.1\r\nHost: localhost\r\n\r\n')
    got = b''
    while len(got) < 64 * 1024:
        chunk = t.recv(65536)
        assert chunk, got[:300]
        got += chunk
    proxy.frozen.set()
    start = time.monotonic()
    t.settimeout(1)
    while time.monotonic() - start < 20:
        try:
            chunk = t.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        got += chunk
    took = time.monotonic() - start
    t.close()
    assert took < 15, f'the export still streamed {took:.0f} s after its database stopped'
    assert got.count(b'\r\n') < 30000, 'the whole export arrived through a frozen proxy'
    start = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - start < 10
