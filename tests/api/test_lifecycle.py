"""The process around the requests: readiness while migrations are pending, `finregd migrate`
being idempotent, surviving a PostgreSQL outage in the same process (503 with Retry-After,
then recovery and a reconnect counted), and graceful SIGTERM (requests in flight finish,
new connections are refused, exit status 0). Each test runs its own cluster and server so
the shared ones are never disturbed."""

import json
import os
import re
import signal
import socket
import ssl
import time

import harness

MIGRATION_FILES = sorted(f for f in os.listdir(os.path.join(harness.ROOT, 'migrations'))
                         if re.fullmatch(r'\d+_.*\.sql', f))
N_MIGRATIONS = len(MIGRATION_FILES)
LATEST = max(int(f.split('_')[0]) for f in MIGRATION_FILES)


def _cluster(ctx, migrate=True, principals=('bank', 'regulator')):
    """A private cluster, destroyed when the test ends (after its servers stop)."""
    c = harness.Cluster()
    ctx.defer(c.destroy)
    if migrate:
        harness.finregd('migrate', cluster=c)
    for who in principals if migrate else ():
        kind, code, name = harness.PRINCIPALS[who]
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                        '--cert', harness.cert_paths(who)[0], cluster=c)
    return c


def _server(ctx, cluster, **kw):
    """A server on @a cluster; stopped before the cluster when the test ends, and it must
    exit 0 then (a sanitizer report makes it fail)."""
    s = harness.Server(cluster=cluster, **kw)

    def stop():
        rc = s.stop()
        assert rc in (0, None), f'server exited {rc} on SIGTERM; log:\n{s.log_tail()}'
    ctx.defer(stop)
    return s


def _assert_503(r):
    assert r.status == 503, r
    assert r.header('Retry-After', '').isdigit(), dict(r.headers)
    err = r.json()['error']
    assert err['code'] == 'unavailable' and err['request_id'] == r.header('X-Request-Id'), err
    return err


# --------------------------------------------------------------------------- migrations

def test_readyz_503_while_migrations_pending_then_200_after_migrate(ctx):
    c = _cluster(ctx, migrate=False)
    s = _server(ctx, c)
    ops = harness.client(None, server=s)
    err = _assert_503(ops.get('/readyz'))
    assert 'migrat' in err['message'], err
    assert ops.get('/healthz').status == 200
    # an authenticated request cannot work either: 503, not 500
    _assert_503(harness.client('bank', server=s).get('/v1/whoami'))

    out = harness.finregd('migrate', cluster=c).stdout
    assert out.strip() == f'migrations: {N_MIGRATIONS} applied, schema at version {LATEST}', out
    r = harness.poll(lambda: (lambda r: r if r.status == 200 else None)(ops.get('/readyz')))
    assert r and r.json() == {'status': 'ready', 'schema_version': LATEST, 'writable': True}, r
    kind, code, name = harness.PRINCIPALS['bank']
    harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                    '--cert', harness.cert_paths('bank')[0], cluster=c)
    for _ in range(4):    # every pool thread, whatever it had cached
        r = harness.client('bank', server=s).get('/v1/whoami')
        assert r.status == 200 and r.json()['code'] == code, r


def test_migrate_twice_second_run_applies_nothing(ctx):
    c = _cluster(ctx, migrate=False)
    first = harness.finregd('migrate', cluster=c).stdout.strip()
    assert first == f'migrations: {N_MIGRATIONS} applied, schema at version {LATEST}', first
    rows = c.psql('SELECT version, name FROM schema_migrations ORDER BY version')
    assert [(int(v), n) for v, n in rows] == \
        [(int(f.split('_')[0]), f[:-4]) for f in MIGRATION_FILES], (rows, MIGRATION_FILES)
    applied_at = c.psql('SELECT version, applied_at FROM schema_migrations ORDER BY version')

    second = harness.finregd('migrate', cluster=c).stdout.strip()
    assert second == f'migrations: 0 applied, schema at version {LATEST}', second
    assert c.psql('SELECT version, applied_at FROM schema_migrations ORDER BY version') \
        == applied_at


def test_migrate_against_unreachable_database_fails_cleanly(ctx):
    c = _cluster(ctx, migrate=False)
    c.stop()
    p = harness.finregd('migrate', cluster=c, check=False)
    assert p.returncode != 0 and 'unreachable' in p.stderr, (p.returncode, p.stderr)


# --------------------------------------------------------------------------- outage

def _metric(s, name):
    text = harness.client(None, server=s).get('/metrics').text
    m = re.search(rf'^{name} (\d+)$', text, re.M)
    assert m, text
    return int(m.group(1))


def _outage_and_recovery(ctx, threads):
    """Stops the database under a running server, checks every request is 503 with
    Retry-After, restarts it and waits for recovery; returns the (same) server."""
    c = _cluster(ctx)
    s = _server(ctx, c, threads=threads)
    pid = s.proc.pid
    ops = harness.client(None, server=s)
    bank = harness.client('bank', server=s)
    assert ops.get('/readyz').status == 200
    for _ in range(4):
        assert bank.get('/v1/whoami').status == 200
    assert _metric(s, 'finreg_db_reconnects_total') == 0

    c.stop()
    # /readyz answers from the health thread's last probe (docs/limits.md): one taken just
    # before the stop may still say ready until the next, due within 100 ms and refused at
    # once. Failed in CI on 4 December (the stop took less than one probe interval).
    first = harness.poll(lambda: harness.client(None, server=s).get('/readyz'), timeout=1.0,
                         until=lambda r: r.status == 503)
    assert first.status == 503, f'/readyz still ready 1 s after the stop: {first}'
    for _ in range(2 * threads):    # every pool thread, fresh and kept-alive connections
        err = _assert_503(harness.client(None, server=s).get('/readyz'))
        assert 'unreachable' in err['message'], err
        _assert_503(bank.get('/v1/whoami'))
        _assert_503(harness.client('bank', server=s).get('/v1/whoami'))
    assert s.running()
    assert _metric(s, 'finreg_db_connect_failures_total') > 0

    c.start()

    def all_ok():
        return all(harness.client(None, server=s).get('/readyz').status == 200 and
                   harness.client('bank', server=s).get('/v1/whoami').status == 200
                   for _ in range(2 * threads))
    assert harness.poll(all_ok, timeout=5.0), 'did not recover within 5 s:\n' + s.log_tail()
    r = bank.get('/v1/whoami')
    assert r.status == 200 and r.json()['code'] == 'CIB-SM', r
    assert s.running() and s.proc.pid == pid, 'not the same finregd process'
    return s


def test_database_outage_is_503_with_retry_after_then_recovers_in_the_same_process(ctx):
    _outage_and_recovery(ctx, threads=2)


def test_database_outage_recovery_counts_a_reconnect_in_metrics(ctx):
    # one pool thread, so the thread that lost its connection is the one that reconnects
    s = _outage_and_recovery(ctx, threads=1)
    assert _metric(s, 'finreg_db_reconnects_total') > 0


def test_database_restart_while_idle_is_invisible_to_clients(ctx):
    c = _cluster(ctx)
    s = _server(ctx, c, threads=1)
    bank = harness.client('bank', server=s)
    for _ in range(4):
        assert bank.get('/v1/whoami').status == 200
    c.stop()
    c.start()
    # the broken connection is noticed and replaced within the same request
    for _ in range(4):
        r = harness.client('bank', server=s).get('/v1/whoami')
        assert r.status == 200, r
    assert bank.get('/v1/whoami').status == 200
    # the pool thread's connection once; the compactor's too when its once-a-second tick
    # fell inside the restart
    n = _metric(s, 'finreg_db_reconnects_total')
    assert 1 <= n <= 2, (n, s.log_tail())


# --------------------------------------------------------------------------- SIGTERM

def _tls_socket(s, who):
    ctx = harness._ssl_context(who)
    sock = socket.create_connection(('127.0.0.1', s.port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname='localhost')


def _read_response(tls):
    """One complete HTTP/1.1 response with Content-Length: (status, headers, body)."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = tls.recv(65536)
        assert chunk, f'connection closed before a complete response: {data!r}'
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(':') for line in lines[1:])}
    n = int(headers['content-length'])
    while len(body) < n:
        chunk = tls.recv(65536)
        assert chunk, f'connection closed inside the body: {data!r}'
        body += chunk
    return int(lines[0].split()[1]), headers, body[:n]


def _begin_request(tls, head):
    """Sends request headers with Expect: 100-continue and waits for the interim answer:
    then the server has the request (it is in flight), with no sleep to guess when."""
    assert head.endswith(b'\r\n\r\n')
    tls.sendall(head[:-2] + b'Expect: 100-continue\r\n\r\n')
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = tls.recv(1)
        assert chunk, f'closed before 100 Continue: {data!r}'
        data += chunk
    assert data.startswith(b'HTTP/1.1 100'), data


def _wait_log(s, text, timeout=10):
    """Waits until the server's log holds text (the signal has been handled)."""
    deadline = time.monotonic() + timeout
    while text not in s.log():
        assert time.monotonic() < deadline, f'no {text!r} in the log: {s.log_tail()}'
        time.sleep(0.01)


DRAINING = 'finishing requests in flight'


def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(ctx):
    c = _cluster(ctx)
    s = _server(ctx, c)
    body = json.dumps({'one_year': '3.7000', 'five_year': '4.6000'}).encode()
    half = len(body) // 2
    tls = _tls_socket(s, 'regulator')
    try:
        _begin_request(tls, b'PUT /v1/lpr/2021-01-20 HTTP/1.1\r\nHost: localhost\r\n'
                       b'Content-Type: application/json\r\nX-Request-Id: in-flight-1\r\n'
                       b'Content-Length: %d\r\n\r\n' % len(body))
        tls.sendall(body[:half])
        s.proc.send_signal(signal.SIGTERM)
        _wait_log(s, DRAINING)
        assert s.proc.poll() is None, 'exited with a request in flight'
        tls.sendall(body[half:])
        status, headers, resp = _read_response(tls)
    finally:
        tls.close()
    assert status == 201, resp
    assert headers['x-request-id'] == 'in-flight-1', headers
    assert json.loads(resp)['effective_from'] == '2021-01-20', resp
    rc = s.stop(timeout=10)
    assert rc == 0, (rc, s.log_tail())
    assert c.psql("SELECT one_year FROM lpr_rates WHERE effective_from = '2021-01-20'") \
        == [['3.7000']]


def _connect_fails(port):
    """True when a new TLS connection to the port cannot be made (refused, reset, or the
    handshake fails); False when it is made."""
    ctx = harness._ssl_context(None)
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as sock:
            with ctx.wrap_socket(sock, server_hostname='localhost'):
                return False
    except (ConnectionRefusedError, ConnectionResetError, ssl.SSLError, socket.timeout,
            OSError):
        return True


def test_after_sigterm_new_connections_are_refused_while_draining(ctx):
    c = _cluster(ctx)
    s = _server(ctx, c)
    body = b'{"one_year": "3.7000", "five_year": "4.6000"}'
    tls = _tls_socket(s, 'regulator')
    try:
        # a request in flight keeps the server draining
        _begin_request(tls, b'PUT /v1/lpr/2021-02-20 HTTP/1.1\r\nHost: localhost\r\n'
                       b'Content-Type: application/json\r\n'
                       b'Content-Length: %d\r\n\r\n' % len(body))
        tls.sendall(body[:10])
        s.proc.send_signal(signal.SIGTERM)
        _wait_log(s, DRAINING)
        assert s.proc.poll() is None
        started = time.monotonic()
        refused = socket.socket()
        refused.settimeout(2)
        try:
            err = refused.connect_ex(('127.0.0.1', s.port))
        finally:
            refused.close()
        assert err != 0, 'a new TCP connection was accepted into the backlog after SIGTERM'
        assert _connect_fails(s.port)
        assert time.monotonic() - started < 3
        tls.sendall(body[10:])
        status, _, resp = _read_response(tls)
        assert status == 201, resp
    finally:
        tls.close()
    assert s.stop(timeout=10) == 0, s.log_tail()


def test_sigterm_on_idle_server_exits_0_promptly():
    s = harness.Server()
    keep = harness.client('bank', server=s)
    assert keep.get('/v1/whoami').status == 200     # an idle keep-alive connection stays open
    started = time.monotonic()
    assert s.stop(timeout=10) == 0, s.log_tail()
    assert time.monotonic() - started < 5
    log = s.log()
    assert 'stopped' in log, log[-2000:]


def test_sigint_also_exits_0():
    s = harness.Server()
    assert s.stop(sig=signal.SIGINT, timeout=10) == 0, s.log_tail()


def test_sigterm_with_a_stalled_upload_gives_up_after_the_grace_and_exits_0(ctx):
    s = _server(ctx, harness.cluster(), env={'FINREG_SHUTDOWN_GRACE': 1})
    tls = _tls_socket(s, 'regulator')
    try:
        _begin_request(tls, b'PUT /v1/lpr/2021-03-20 HTTP/1.1\r\nHost: localhost\r\n'
                       b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n')
        tls.sendall(b'{"one')
        started = time.monotonic()
        rc = s.stop(timeout=10)
        took = time.monotonic() - started
    finally:
        tls.close()
    assert rc == 0, (rc, s.log_tail())
    assert 0.9 <= took < 5, took
    assert 'still in flight' in s.log(), s.log_tail()
    rows = harness.psql("SELECT count(*) FROM lpr_rates WHERE effective_from = '2021-03-20'")
    assert rows == [['0']], rows
