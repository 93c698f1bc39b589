"""A database that stops answering (its processes stopped with SIGSTOP, as in a network
partition without resets): posts answer 503 with Retry-After within the statement deadline,
/healthz and /readyz answer within a second throughout, and once the database is back a
retried post is stored exactly once."""

import os
import signal
import threading
import time

import finreg_data as fd
import harness

BANK_CERT = 'bank'
BANK = 'CIB-SM'


def _cluster_pids(cluster):
    """The postmaster of the cluster and every process it started."""
    with open(os.path.join(cluster.datadir, 'postmaster.pid')) as f:
        pm = int(f.readline())
    pids = [pm]
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pm:
            pids.append(int(d))
    return pids


def _signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _private_setup():
    cl = harness.Cluster()
    harness.finregd('migrate', cluster=cl)
    harness.finregd('principal', 'add', '--kind', 'bank', '--code', BANK, '--name', '测试银行',
                    '--cert', harness.cert_paths(BANK_CERT)[0], cluster=cl)
    return cl


def _timed(fn):
    start = time.monotonic()
    r = fn()
    return r, time.monotonic() - start


def test_a_hung_database_gives_503_and_health_answers_within_a_second():
    cl = _private_setup()
    s = harness.Server(cluster=cl, threads=2, env={'FINREG_STATEMENT_TIMEOUT_MS': 3000})
    pids = []
    try:
        c = s.client(BANK_CERT, timeout=30)
        assert c.post('/v1/loans', json=fd.loan()).status == 201
        loans = [fd.loan() for _ in range(4)]
        answers = {}

        def post(i):
            cl_i = s.client(BANK_CERT, timeout=30)
            answers[i] = _timed(lambda: cl_i.post('/v1/loans', json=loans[i]))
        for i in range(4):      # keep-alive connections on both pool threads, warmed up
            s.client(BANK_CERT).get('/v1/whoami')
        pids = _cluster_pids(cl)
        _signal_all(pids, signal.SIGSTOP)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)         # the posts are waiting for the database now
        for _ in range(3):
            r, took = _timed(lambda: harness.client(None, server=s, timeout=5).get('/healthz'))
            assert r.status == 200 and took < 1.0, (r, took)
            r, took = _timed(lambda: harness.client(None, server=s, timeout=5).get('/readyz'))
            assert took < 1.0, (r, took)
            time.sleep(0.3)
        assert r.status == 503 and r.header('Retry-After'), r
        for t in threads:
            t.join(20)
        for i in range(4):
            r, took = answers[i]
            assert r.status == 503 and r.header('Retry-After'), r
            assert took < 5, took
        r, took = _timed(lambda: s.client(BANK_CERT, timeout=10).post('/v1/loans',
                                                                      json=loans[0]))
        assert r.status == 503 and took < 1.0, (r, took)
    finally:
        _signal_all(pids, signal.SIGCONT)
    try:
        deadline = time.monotonic() + 15
        while harness.client(None, server=s).get('/readyz').status != 200:
            assert time.monotonic() < deadline, 'not ready again 15 s after SIGCONT'
            time.sleep(0.2)
        for loan in loans:      # a retry after 503 stores the loan once, whatever happened
            r = s.client(BANK_CERT).post('/v1/loans', json=loan)
            assert r.status in (200, 201), r
        refs = "','".join(x['loan_ref'] for x in loans)
        rows = cl.psql(f"SELECT count(*) FROM loans WHERE loan_ref IN ('{refs}')")
        assert rows == [['4']], rows
        assert s.running()
    finally:
        s.stop()
        cl.destroy()


def test_a_fold_given_up_because_the_database_hangs_keeps_its_chunk():
    """Found by a fact-check (34e49c0): the compactor took a statement given up because the
    health check said the database hangs for one that passed its time, halved its chunk
    and logged a statement timeout. The fold is frozen mid-chunk (statement timeout 30 s,
    so no chunk passes its time); finregd gives the statement up, and the chunk stays."""
    from test_stats import SPREAD_COPIES
    cl = _private_setup()
    s = harness.Server(cluster=cl, threads=2, env={'FINREG_STATEMENT_TIMEOUT_MS': 30000})
    pids = []
    try:
        seeds = [fd.loan('DEAR-%d' % k) for k in range(100)]
        r = s.client(BANK_CERT).post('/v1/loans/batch', json={'loans': seeds})
        assert r.status == 200 and r.json()['created'] == 100, r
        pending = 'SELECT count(*) FROM stats_pending'
        assert harness.poll(lambda: cl.psql(pending) == [['0']], timeout=10)
        cl.psql(SPREAD_COPIES % {'n': 100000, 'firms': 100})
        folding = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                   " AND application_name = 'finregd-compactor' AND query LIKE '%stats_compact%'")
        given_up = 'database statement stats_compact passed its deadline'
        # A freeze between two chunks gives up no fold statement (the next is not sent):
        # then freeze again, mid-chunk.
        for _ in range(3):
            assert harness.poll(lambda: cl.psql(folding) == [['1']], timeout=10), \
                cl.psql(pending)
            pids = _cluster_pids(cl)
            _signal_all(pids, signal.SIGSTOP)
            time.sleep(2)
            _signal_all(pids, signal.SIGCONT)
            pids = []
            if given_up in s.log():
                break
        assert harness.poll(lambda: cl.psql(pending) == [['0']], timeout=180), cl.psql(pending)
        log = s.log()
        assert given_up in log, s.log_tail()
        assert 'passed the statement timeout' not in log, s.log_tail()
    finally:
        _signal_all(pids, signal.SIGCONT)
        s.stop()
        cl.destroy()
