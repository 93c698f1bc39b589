"""No request stalls connections that are not its own: the HTTP threads never wait on the
database. A loan post held in the database (a psql session holds a lock on the loans table)
holds one request worker, while /healthz, the contract and requests needing other tables
answer within a second on other connections, even with one HTTP thread. Posts of one bank
held together (group commit leaders and members) do not either. A full queue of requests
waiting for a worker answers 503 with Retry-After at once, and SIGTERM lets a held post
finish. Each test runs on a private cluster, so its locks disturb no other test."""

import signal
import subprocess
import threading
import time

import finreg_data as fd
import harness

BANK = 'CIB-SM'


def _setup(ctx):
    cl = harness.Cluster()
    ctx.defer(cl.destroy)
    harness.finregd('migrate', cluster=cl)
    for who in ('bank', 'regulator'):
        kind, code, name = harness.PRINCIPALS[who]
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                        '--cert', harness.cert_paths(who)[0], cluster=cl)
    return cl


def _server(ctx, cl, workers, **env):
    s = harness.Server(cluster=cl, threads=workers,
                       env={'FINREG_IO_THREADS': 1, 'FINREG_STATEMENT_TIMEOUT_MS': 30000, **env})

    def stop():
        if s.running():
            rc = s.stop()
            assert rc in (0, None), f'server exited {rc}; log:\n{s.log_tail()}'
    ctx.defer(stop)
    return s


class _Lock:
    """A psql session holding ACCESS EXCLUSIVE on a table until release()."""

    def __init__(self, cl, table):
        self.p = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', cl.url, '-f', '-'],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        self.p.stdin.write(f'BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n'
                           f"SELECT 'locked';\n")
        self.p.stdin.flush()
        self.cl = cl
        self.table = table
        deadline = time.monotonic() + 10
        while not self._granted():
            assert time.monotonic() < deadline, 'the lock was never granted'
            time.sleep(0.05)

    def _granted(self):
        return self.cl.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
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


def _others_answer_at_once(s, fresh=4):
    """On @a fresh new connections each: /healthz, the contract (no database), and a
    regulator's whoami answer within a second."""
    for i in range(fresh):
        r, took = _timed(lambda: harness.client(None, server=s, timeout=5).get('/healthz'))
        assert r.status == 200 and took < 1.0, (i, r, took)
        r, took = _timed(lambda: harness.client(None, server=s, timeout=5)
                         .get('/v1/openapi.json'))
        assert r.status == 200 and took < 1.0, (i, r, took)
    r, took = _timed(lambda: harness.client('regulator', server=s, timeout=5).get('/v1/whoami'))
    assert r.status == 200 and r.json()['code'] == 'SM-FSB' and took < 1.0, (r, took)


def _hold_a_post(cl, s):
    """A warm-up post (the workers connected), then a lock on loans and a post held by it
    in the background. Returns (lock, thread, out, the held loan)."""
    assert harness.client('bank', server=s).post('/v1/loans', json=fd.loan()).status == 201
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
    s = _server(ctx, cl, workers=2)
    lock, t, out, held = _hold_a_post(cl, s)
    try:
        _others_answer_at_once(s)
        # A request that needs the database, another table, on the other worker.
        r, took = _timed(lambda: harness.client('regulator', server=s, timeout=5)
                         .get('/v1/lpr'))
        assert r.status == 200 and took < 1.0, (r, took)
        m = harness.client(None, server=s).get('/metrics').text
        assert 'finreg_workers 2' in m and 'finreg_workers_busy 1' in m, m
        assert 'r' not in out, out      # still held
    finally:
        lock.release()
    t.join(60)
    assert getattr(out['r'], 'status', None) == 201, out['r']
    assert cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref = '{held['loan_ref']}'") \
        == [['1']]


def test_posts_of_one_bank_held_in_a_group_commit_stall_no_other_connection(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, workers=4)
    for _ in range(4):      # every worker connected and prepared
        assert harness.client('bank', server=s).post('/v1/loans', json=fd.loan()).status == 201
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


def test_a_full_queue_of_waiting_requests_is_503_with_retry_after_at_once(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, workers=1, FINREG_MAX_QUEUED=1)
    lock, t1, first, _ = _hold_a_post(cl, s)
    try:
        # The only worker is held: the next request waits in the queue (its own wait) ...
        t2, second = _in_background(lambda: harness.client('regulator', server=s, timeout=60)
                                    .get('/v1/lpr'))
        deadline = time.monotonic() + 5
        while 'finreg_work_queued 1' not in harness.client(None, server=s).get('/metrics').text:
            assert time.monotonic() < deadline, 'the second request never queued'
            time.sleep(0.05)
        # ... and one more finds the queue full: 503 at once, not a wait.
        r, took = _timed(lambda: harness.client('regulator', server=s, timeout=5)
                         .get('/v1/lpr'))
        assert r.status == 503 and r.header('Retry-After') and took < 1.0, (r, took)
        assert r.json()['error']['code'] == 'unavailable', r.json()
        assert 'finreg_work_refused_total 1' in harness.client(None, server=s) \
            .get('/metrics').text
    finally:
        lock.release()
    t1.join(60)
    t2.join(60)
    assert getattr(first['r'], 'status', None) == 201, first['r']
    assert getattr(second['r'], 'status', None) == 200, second['r']


def test_sigterm_lets_a_post_held_in_the_database_finish_then_exits_0(ctx):
    cl = _setup(ctx)
    s = _server(ctx, cl, workers=1)
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
