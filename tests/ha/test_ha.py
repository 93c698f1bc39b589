#!/usr/bin/env python3
"""`make test-ha`: the loopback topology of deploy/topology (primary, synchronous standby,
two pgbouncers, two finregd, haproxy) brought up by its own scripts, then:
- an instance on the standby is read-only and says so (503 + Retry-After on writes,
  /readyz writable:false, /readyz?write=1 503, `finregd migrate` says read-only);
- lists and statistics are read on the replica, and on the primary when it lags;
- failover: 16 clients post loans through haproxy to both finregd; the primary is SIGKILLed
  mid-load and the standby promoted; clients retry the same loan_ref as the contract says.
  Pass: every loan answered 201/200 is in the new primary once, finregd was not restarted,
  and the outage is printed.
Prints PASS/FAIL per test and "N passed, N failed"; everything it starts it stops."""

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'api'))
sys.dont_write_bytecode = True

import finreg_data as data  # noqa: E402
import harness  # noqa: E402

TOPO = os.path.join(ROOT, 'deploy', 'topology')
CLIENTS = 16
BANK = 'bank'


class Topology:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='finreg-ha-')
        os.chmod(self.dir, 0o755)
        self.env = {}

    def up(self):
        p = subprocess.run([os.path.join(TOPO, 'up.sh'), self.dir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, 'FINREGD': harness.FINREG_BIN})
        if p.returncode != 0:
            raise RuntimeError(f'up.sh failed:\n{p.stdout}')
        with open(os.path.join(self.dir, 'topology.env')) as f:
            for line in f:
                k, _, v = line.strip().partition('=')
                self.env[k] = v.strip("'")

    def down(self):
        subprocess.run([os.path.join(TOPO, 'down.sh'), self.dir, '--purge'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def port(self, name):
        return int(self.env[name])

    def pid(self, n):
        with open(os.path.join(self.dir, f'finregd{n}.pid')) as f:
            return int(f.read())


class _At:
    """Something with .port (and .url for harness.finregd): a port to talk to."""

    def __init__(self, port=None, url=None):
        self.port, self.url = port, url


def psql(url, sql):
    return harness.Cluster.psql(_At(url=url), sql)


def metric(port, name, labels=''):
    text = harness.client(None, server=_At(port)).get('/metrics').text
    m = re.search('^' + re.escape(name + ('{' + labels + '}' if labels else '')) + r' (\S+)$', text,
                  re.M)
    return float(m.group(1)) if m else 0.0


def test_standby_instance_is_read_only(t):
    standby = _At(url=t.env['STANDBY_ADMIN_URL'])
    s = harness.Server(cluster=standby)
    try:
        c = s.client(BANK)
        # Until its first sample of the standby (a moment after start) every caller is 503.
        assert harness.poll(lambda: c.get('/v1/whoami').status == 200, timeout=10)
        r = c.post('/v1/loans', json=data.loan())
        assert r.status == 503, r
        assert r.json()['error']['code'] == 'unavailable', r
        assert 'read-only' in r.json()['error']['message'], r
        assert r.header('Retry-After'), dict(r.headers)
        r = harness.client(None, server=s).get('/readyz')
        assert r.status == 200 and r.json()['writable'] is False, r
        r = harness.client(None, server=s).get('/readyz?write=1')
        assert r.status == 503, r
        assert c.get('/v1/loans').status == 200
        assert metric(s.port, 'finreg_db_read_only') == 1
        assert 'bug' not in s.log(), s.log_tail()
    finally:
        s.stop()
    p = harness.finregd('migrate', cluster=standby, check=False)
    assert p.returncode != 0, p
    assert 'read-only' in p.stderr and 'bug' not in p.stderr, p.stderr
    r = harness.client(None, server=_At(t.port('APP1_PORT'))).get('/readyz')
    assert r.status == 200 and r.json()['writable'] is True, r


def test_reads_go_to_the_replica_and_to_the_primary_when_it_lags(t):
    app = _At(t.port('APP1_PORT'))
    bank = harness.client(BANK, server=app)
    before = metric(app.port, 'finreg_db_reads_total', 'target="replica"')
    r = bank.get('/v1/loans?limit=5')
    assert r.status == 200, r
    assert metric(app.port, 'finreg_db_reads_total', 'target="replica"') > before
    psql(t.env['STANDBY_ADMIN_URL'], 'SELECT pg_wal_replay_pause()')
    try:
        first = data.loan()
        assert bank.post('/v1/loans', json=first).status == 201
        time.sleep(1.6)     # the bound is 1 s; the next lag check sees the replay paused
        loan = data.loan()
        assert bank.post('/v1/loans', json=loan).status == 201
        fallbacks = metric(app.port, 'finreg_db_read_fallbacks_total')
        deadline = time.monotonic() + 5
        while True:
            refs = [x['loan_ref'] for x in bank.get('/v1/loans?limit=100').json()['items']]
            if loan['loan_ref'] in refs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert loan['loan_ref'] in refs, 'a lagging replica kept serving the list'
        assert metric(app.port, 'finreg_db_read_fallbacks_total') > fallbacks
        assert metric(app.port, 'finreg_db_replica_lag_seconds') > 1.0
    finally:
        psql(t.env['STANDBY_ADMIN_URL'], 'SELECT pg_wal_replay_resume()')


def test_a_disable_holds_on_a_standby_instance_or_it_answers_503(t):
    """An instance on the standby looks every caller up there (no notification reaches
    it). While the standby holds changes it has not replayed for over a second, it may
    still show a disabled principal as active: the instance answers 503 then, never the
    principal's data, and 401 once the disable is replayed (found by review: it answered
    200 for as long as replay was paused)."""
    who = harness.new_principal('bank')
    s = harness.Server(cluster=_At(url=t.env['STANDBY_ADMIN_URL']))
    try:
        assert harness.poll(lambda: s.client(who).get('/v1/whoami').status == 200, timeout=10)
        psql(t.env['STANDBY_ADMIN_URL'], 'SELECT pg_wal_replay_pause()')
        try:
            harness.finregd('principal', 'disable', who.code)
            time.sleep(1.5)     # the bound is a second
            answers = [s.client(who).get(p) for p in ('/v1/whoami', '/v1/loans')]
            assert [r.status for r in answers] == [503, 503], answers
            assert all(r.json()['error']['code'] == 'unavailable' for r in answers), answers
        finally:
            psql(t.env['STANDBY_ADMIN_URL'], 'SELECT pg_wal_replay_resume()')
        assert harness.poll(lambda: s.client(who).get('/v1/whoami').status == 401, timeout=10)
        assert 'has not replayed what it received' in s.log(), s.log_tail()
        assert 'bug' not in s.log(), s.log_tail()
    finally:
        s.stop()


def test_a_standby_instance_keeps_answering_while_a_long_transaction_streams_wal(t):
    """A standby that keeps up with a long transaction on the primary (WAL streaming for
    seconds, nothing committed) is current: its instance goes on answering. (Found by
    review: judged by the last replayed commit's time, it answered 503 to every caller for
    the whole transaction.)"""
    import threading
    who = harness.new_principal('bank')
    s = harness.Server(cluster=_At(url=t.env['STANDBY_ADMIN_URL']))
    try:
        assert harness.poll(lambda: s.client(who).get('/v1/whoami').status == 200, timeout=10)
        long_tx = threading.Thread(target=psql, args=(t.env['PRIMARY_ADMIN_URL'], """
            BEGIN;
            CREATE TABLE ha_wal_scratch (v text);
            DO $$ BEGIN
                FOR i IN 1..30 LOOP
                    INSERT INTO ha_wal_scratch SELECT repeat('x', 100) FROM generate_series(1, 2000);
                    PERFORM pg_sleep(0.1);
                END LOOP;
            END $$;
            ROLLBACK;"""))
        long_tx.start()
        statuses = []
        try:
            time.sleep(1.2)      # past the bound: the standby has received WAL since
            for _ in range(15):
                statuses.append(s.client(who).get('/v1/whoami').status)
                time.sleep(0.1)
        finally:
            long_tx.join(30)
        assert statuses == [200] * 15, statuses
    finally:
        s.stop()


def _poster(i, stop, acked, failures, lock):
    rng = random.Random(i)
    c = harness.Client(BANK, server=_At(T.port('HAPROXY_WRITE_PORT')), timeout=15)
    n = 0
    while not stop.is_set():
        n += 1
        body = data.loan(loan_ref=f'HA-{i:02d}-{n:05d}', borrower=data.firm(data.make_uscc(rng)))
        while not stop.is_set():     # the contract: retry the same loan_ref until an answer
            try:
                r = c.post('/v1/loans', json=body)
                status = r.status
            except Exception:
                status = None
            now = time.monotonic()
            if status in (200, 201):
                with lock:
                    acked[body['loan_ref']] = now
                break
            if status not in (None, 503):
                raise AssertionError(f'loan {body["loan_ref"]}: {r}')
            with lock:
                failures.append(now)
            time.sleep(0.2)


def test_failover_loses_no_acknowledged_loan(t):
    stop, lock = threading.Event(), threading.Lock()
    acked, failures = {}, []
    pids = (t.pid(1), t.pid(2))
    threads = [threading.Thread(target=_poster, args=(i, stop, acked, failures, lock),
                                daemon=True) for i in range(CLIENTS)]
    start = time.monotonic()
    for th in threads:
        th.start()
    time.sleep(3)
    before_kill = len(acked)
    assert before_kill > 0, 'no loan acknowledged before the failover'
    killed = time.monotonic()
    subprocess.run([os.path.join(TOPO, 'failover.sh'), t.dir, 'kill'], check=True)
    time.sleep(1)
    subprocess.run([os.path.join(TOPO, 'failover.sh'), t.dir, 'promote'], check=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            after = [x for x in acked.values() if x > killed + 1]
        if len(after) >= 3 * CLIENTS:
            break
        time.sleep(0.2)
    stop.set()
    for th in threads:
        th.join(30)
    assert len(after) >= 3 * CLIENTS, f'only {len(after)} loans acknowledged after the failover'
    times = sorted(acked.values())
    # The outage: the longest stretch without any acknowledged loan around the kill.
    outage = max((b - a for a, b in zip(times, times[1:]) if b > killed), default=0.0)
    rows = psql(t.env['STANDBY_ADMIN_URL'],
                "SELECT loan_ref, count(*) FROM loans WHERE loan_ref LIKE 'HA-%' "
                "GROUP BY loan_ref")
    stored = {ref: int(n) for ref, n in rows}
    missing = [ref for ref in acked if ref not in stored]
    twice = [ref for ref, n in stored.items() if n > 1]
    assert not missing, f'{len(missing)} acknowledged loans lost: {missing[:5]}'
    assert not twice, f'stored twice: {twice[:5]}'
    assert (t.pid(1), t.pid(2)) == pids
    for n in (1, 2):
        os.kill(t.pid(n), 0)    # still the same processes, never restarted
    print(f'    failover: {len(acked)} loans acknowledged by {CLIENTS} clients in '
          f'{time.monotonic() - start:.1f} s ({before_kill} before the kill), all stored once; '
          f'no write acknowledged for {outage:.1f} s around the SIGKILL (promotion 1 s after it)')


T = None


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)   # so the finally below stops the topology


def main(argv):
    global T
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):   # HUP: as tests/api/run.py
        signal.signal(sig, _exit_on_signal)
    passed = failed = 0
    T = Topology()
    try:
        harness.ensure_certs()
        T.up()
        harness._cluster = _At(url=T.env['PRIMARY_ADMIN_URL'])
        kind, code, name = harness.PRINCIPALS[BANK]
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                        '--cert', harness.cert_paths(BANK)[0])
        tests = [(n, f) for n, f in globals().items() if n.startswith('test_')]
        for name, fn in tests:
            if argv[1:] and not any(a in name for a in argv[1:]):
                continue
            t0 = time.monotonic()
            try:
                fn(T)
                passed += 1
                print(f'PASS ha.{name} ({time.monotonic() - t0:.1f} s)')
            except Exception:
                failed += 1
                print(f'FAIL ha.{name}:\n{traceback.format_exc()}')
                for n in (1, 2):
                    with open(os.path.join(T.dir, f'finregd{n}.log'), errors='replace') as f:
                        lines = [x for x in f if '"request_id"' not in x]
                    print(f'    finregd{n} log (without the access lines):\n' +
                          ''.join('      ' + x for x in lines[-15:]))
            sys.stdout.flush()
    except Exception:
        failed += 1
        print(f'FAIL ha.setup:\n{traceback.format_exc()}')
    finally:
        if os.environ.get('FINREG_TEST_KEEP') == '1':
            print(f'kept {T.dir}')
        T.down()
        harness._run_cleanups()
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
