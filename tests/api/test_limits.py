"""What one request and one client may cost the server: peak memory of the worst bodies
(measured from the server's VmHWM in /proc), the process-wide body budget (503 with
Retry-After), the header deadline against slow clients, the total and per-address connection
limits, and the TLS versions and suites the server agrees to."""

import contextlib
import re
import resource
import socket
import ssl
import subprocess
import threading
import time

import finreg_data as fd
import harness

MIB = 1024 * 1024
SANITIZED = '/asan/' in harness.FINREG_BIN
BODY = 8 * MIB


def _raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def _empty_objects_json():
    n = (BODY - 20) // 3
    return b'{"loans":[' + b'{},' * (n - 1) + b'{}]}'


def _worst_bodies():
    """(path, content type, body, acceptable statuses) of 8 MiB bodies that cost most."""
    nested_header = ','.join(f'p{i}.k' for i in range(256)).encode() + b'\n'
    return [
        ('/v1/loans/batch', 'application/json', _empty_objects_json(), {413}),
        ('/v1/loans', 'application/json', _empty_objects_json(), {413}),
        ('/v1/loans/batch', 'application/json',
         b'{"loans":[' + b'0,' * ((BODY - 20) // 2) + b'0]}', {413}),
        ('/v1/loans/batch', 'application/json',
         b'{"loans":' + b'[' * (BODY // 2 - 20) + b']' * (BODY // 2 - 20) + b'}', {400}),
        ('/v1/loans/batch', 'application/json',
         b'{"loans":"' + b'x' * (BODY - 20) + b'"}', {422}),
        ('/v1/loans/batch', 'text/csv', b'loan_ref\n' + b'x\n' * ((BODY - 20) // 2), {422}),
        ('/v1/loans/batch', 'text/csv',
         nested_header + (b',' * 255 + b'\n') * ((BODY - 2000) // 256), {413, 422}),
        ('/v1/loans/batch', 'text/csv',
         b'a,b,c,d\n' + b'1,2,3,4\n' * ((BODY - 20) // 8), {422}),
        # A header, then a row, of commas: each cell costs its bookkeeping, so a record
        # fails at its 257th cell (it cost 336 MiB for one body when read to its end).
        ('/v1/loans/batch', 'text/csv', b',' * (BODY - 20) + b'\n', {400}),
        ('/v1/loans/batch', 'text/csv', b'a,b\n' + b',' * (BODY - 20) + b'\n', {400}),
    ]


def test_worst_8_mib_bodies_raise_peak_rss_by_less_than_64_mib():
    s = harness.Server(threads=2)
    try:
        c = s.client('bank', timeout=120)
        assert c.get('/v1/whoami').status == 200
        base = harness.vm_hwm(s)
        for path, ctype, body, statuses in _worst_bodies():
            assert len(body) <= BODY, (path, len(body))
            r = c.post(path, body=body, content_type=ctype)
            grown = harness.vm_hwm(s) - base
            # AddressSanitizer's shadow memory and quarantine make RSS meaningless there.
            assert grown < 64 * MIB or SANITIZED, \
                f'{path} {ctype} {body[:30]!r}: peak RSS grew by {grown / MIB:.0f} MiB'
            assert r.status in statuses, (path, ctype, body[:40], r)
        assert c.get('/healthz').status == 200
    finally:
        s.stop()


def test_a_batch_of_1000_full_loans_is_within_the_parse_limits():
    x = harness.new_principal()
    loans = [fd.loan() for _ in range(1000)]
    r = harness.client(x, timeout=120).post('/v1/loans/batch?dry_run=true',
                                            json={'loans': loans})
    assert r.status == 200, r
    assert r.json()['rejected'] == 0, r


def test_sixteen_worst_bodies_at_once_leave_the_server_up():
    s = harness.Server(threads=2)
    body = _empty_objects_json()
    statuses = []

    def post(i):
        try:
            r = s.client('bank', timeout=120).post('/v1/loans/batch', body=body)
            statuses.append(r.status)
        except OSError as e:   # a refused body may be cut off; the server must live
            statuses.append(repr(e))
    try:
        threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert s.running(), s.log_tail()
        assert set(statuses) <= {413, 503}, statuses
        assert statuses.count(413) >= 1, statuses
        assert s.client('bank').get('/healthz').status == 200
    finally:
        s.stop()


def _tls(server, who='bank'):
    ctx = harness._ssl_context(who)
    raw = socket.create_connection(('127.0.0.1', server.port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname='localhost')


def _read_response(sock):
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_bodies_in_flight_share_a_budget_beyond_which_503_with_retry_after():
    s = harness.Server(threads=2, env={'FINREG_MAX_BODY_TOTAL': 20 * MIB})
    held = []
    try:
        head = (f'POST /v1/loans/batch HTTP/1.1\r\nHost: localhost\r\n'
                f'Content-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n').encode()
        for who in ('bank', 'bank2'):   # two slow uploads of 8 MiB hold 16 MiB of the 20
            t = _tls(s, who)                # (two principals: each may hold 8 MiB)
            t.sendall(head + b'{"loans":[')
            held.append(t)
        time.sleep(0.5)
        # A caller the principal cache does not know yet is looked up on a pooled database
        # connection (a fresh one connects first): wait until the held uploads' lookups are
        # done.
        _wait_pool_idle(s)
        t = _tls(s, harness.new_principal())   # a third principal: within its own share
        t.sendall(head)
        answer = _read_response(t)
        t.close()
        assert answer.startswith(b'HTTP/1.1 503'), answer[:300]
        assert b'\r\nRetry-After: ' in answer, answer[:300]
        for t in held:
            t.close()
        held.clear()
        # Their bytes are given back when their connections' threads see the close: 503
        # (nothing stored) until then.
        r = harness.poll(lambda: s.client('bank').post(
            '/v1/loans/batch', json={'loans': [fd.loan()]},
            headers={'X-Request-Id': harness.unique()}), 5.0, lambda r: r.status != 503)
        assert r.status == 200, r
        assert s.running()
    finally:
        for t in held:
            t.close()
        s.stop()


def _wait_pool_idle(s):
    """Waits until no pooled database connection is busy or waited for (the principal
    lookups of callers the cache does not know yet are done)."""
    deadline = time.monotonic() + 10
    while not re.search(r'^finreg_db_pool_busy 0\n(.*\n)*finreg_db_pool_waiting 0$',
                        harness.client(None, server=s).get('/metrics').text, re.M):
        assert time.monotonic() < deadline, 'the pooled connections never went idle'
        time.sleep(0.05)


def test_one_principal_holds_at_most_a_quarter_of_the_body_budget():
    # 12 MiB in all: a principal may hold 8 MiB + 1 byte (one largest body and its NUL,
    # more than a quarter). A body reserves its length and a NUL.
    s = harness.Server(threads=2, env={'FINREG_MAX_BODY_TOTAL': 12 * MIB})
    size = 4 * MIB - 1
    head = (f'POST /v1/loans/batch HTTP/1.1\r\nHost: localhost\r\n'
            f'Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n').encode()
    held = []
    try:
        for _ in range(2):      # one bank's two slow uploads hold 8 MiB of its share
            t = _tls(s)
            t.sendall(head + b'{"loans":[')
            held.append(t)
        time.sleep(0.5)
        _wait_pool_idle(s)
        for t in held:          # both held: nothing answered, nothing closed
            t.settimeout(0.2)
            try:
                got = t.recv(1)
            except (socket.timeout, TimeoutError):
                got = None
            assert got is None, f'a held upload was answered: {got!r}'
        t = _tls(s)             # its third: past its share, though the budget has 4 MiB left
        t.sendall(head)
        answer = _read_response(t)
        t.close()
        assert answer.startswith(b'HTTP/1.1 503'), answer[:300]
        # Another bank's body of the same size still has room.
        body = b'{"loans":[' + b' ' * (size - 12) + b']}'
        assert len(body) == size
        r = s.client('bank2', timeout=60).post('/v1/loans/batch', body=body,
                                               content_type='application/json')
        assert r.status == 422, r
    finally:
        for t in held:
            t.close()
        s.stop()


def test_a_body_sent_a_byte_at_a_time_is_dropped_at_its_deadline():
    # Header deadline 2 s: a 64 KiB body is due 2 s + 1 s (64 KiB a second) after its headers.
    s = harness.Server(threads=2, env={'FINREG_HEADER_TIMEOUT': 2})
    t = _tls(s)
    try:
        t.sendall(b'POST /v1/loans/batch HTTP/1.1\r\nHost: localhost\r\n'
                  b'Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n')
        start = time.monotonic()
        closed = False
        while not closed and time.monotonic() - start < 10:
            try:
                t.sendall(b' ')
            except OSError:
                break
            closed = _closed_by_peer(t, 0.3)
        took = time.monotonic() - start
        assert took < 6, f'a body trickling a byte every 0.3 s was kept {took:.1f} s'
        assert took > 2.5, took
        deadline = time.monotonic() + 5     # the watchdog logs after it shut the socket
        while 'did not arrive in time' not in s.log_tail():
            assert time.monotonic() < deadline, s.log_tail()
            time.sleep(0.1)
        assert s.client('bank').get('/healthz').status == 200
    finally:
        t.close()
        s.stop()


def _closed_by_peer(sock, timeout):
    """True when the server ends the connection within timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b''
    except (ConnectionResetError, ssl.SSLError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def _trickle_until_closed(sock, start, give_up_s):
    """Sends request headers a byte every 0.3 s until the server closes the connection
    (True) or give_up_s seconds after start pass (False)."""
    for b in b'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: ' + b'a' * 100:
        try:
            sock.sendall(bytes([b]))
        except OSError:
            return True
        if _closed_by_peer(sock, 0.3):
            return True
        if time.monotonic() - start > give_up_s:
            return False
    return False


def test_connections_that_send_no_request_within_the_header_deadline_are_dropped():
    _raise_nofile(4096)
    s = harness.Server(threads=2, env={'FINREG_HEADER_TIMEOUT': 2})
    socks = []
    try:
        for _ in range(200):    # a byte of a ClientHello, then nothing more
            t = socket.create_connection(('127.0.0.1', s.port), timeout=10)
            t.sendall(b'\x16')
            socks.append(t)
        slow = _tls(s)          # a finished handshake, headers a byte at a time
        start = time.monotonic()
        closed = _trickle_until_closed(slow, start, 8)
        assert closed, 'a client sending headers a byte at a time was kept for 8 s'
        assert time.monotonic() - start < 6, time.monotonic() - start
        for t in socks:
            assert _closed_by_peer(t, 5), 'an idle handshake was kept'
        assert s.client('bank').get('/healthz').status == 200
    finally:
        for t in socks:
            t.close()
        s.stop()


def _read_answer(tls):
    """Reads one answer with a Content-Length body; returns its status line."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = tls.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    n = int([line.split(b':')[1] for line in head.split(b'\r\n')
             if line.lower().startswith(b'content-length:')][0])
    while len(body) < n:
        body += tls.recv(65536)
    return head.split(b'\r\n')[0]


def test_after_an_answer_the_next_request_headers_are_due_within_the_keep_alive_time():
    s = harness.Server(threads=2, env={'FINREG_HEADER_TIMEOUT': 2,
                                       'FINREG_CONNECTION_TIMEOUT': 3})
    try:
        # A keep-alive client that pauses under the keep-alive time between requests is
        # served on one connection.
        calm = _tls(s)
        for _ in range(3):
            calm.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
            assert b' 200 ' in _read_answer(calm)
            time.sleep(1.5)
        # One quick request, then the next one's headers a byte at a time: each byte
        # resets libmicrohttpd's inactivity timeout, but the headers are not complete
        # 3 s after the answer, so the connection goes.
        slow = _tls(s)
        slow.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
        assert b' 200 ' in _read_answer(slow)
        start = time.monotonic()
        closed = _trickle_until_closed(slow, start, 12)
        assert closed, 'a second request sent a byte at a time was kept for 12 s'
        assert 2.5 < time.monotonic() - start < 6, time.monotonic() - start
        assert s.client('bank').get('/healthz').status == 200
    finally:
        s.stop()


def test_1500_idle_connections_from_one_address_do_not_keep_a_bank_out():
    _raise_nofile(8192)
    s = harness.Server(threads=2)
    socks = []
    try:
        for _ in range(1500):
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind(('127.0.0.2', 0))
            t.settimeout(10)
            t.connect(('127.0.0.1', s.port))
            socks.append(t)
        time.sleep(0.5)
        start = time.monotonic()
        r = s.client('bank', timeout=5).post('/v1/loans', json=fd.loan())
        took = time.monotonic() - start
        assert r.status == 201, r
        assert took < 2, f'{took:.2f} s'
    finally:
        for t in socks:
            t.close()
        s.stop()


def test_per_address_limit_closes_the_connections_beyond_it():
    s = harness.Server(threads=2, env={'FINREG_MAX_CONNECTIONS_PER_IP': 10})
    socks = []
    try:
        for _ in range(10):
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind(('127.0.0.2', 0))
            t.connect(('127.0.0.1', s.port))
            socks.append(t)
        time.sleep(0.3)
        for t in socks:
            assert not _closed_by_peer(t, 0.05)
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        extra.bind(('127.0.0.2', 0))
        extra.connect(('127.0.0.1', s.port))
        socks.append(extra)
        assert _closed_by_peer(extra, 3), 'the 11th connection from one address was kept'
        assert s.client('bank').get('/v1/whoami').status == 200   # 127.0.0.1 is not limited
        socks.pop().close()
        socks.pop().close()
        # A place is free again for 127.0.0.2 once the server's close callbacks ran.
        deadline = time.monotonic() + 5
        while True:
            again = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            again.bind(('127.0.0.2', 0))
            again.connect(('127.0.0.1', s.port))
            socks.append(again)
            if not _closed_by_peer(again, 0.5):
                break
            assert time.monotonic() < deadline, 'no place for 127.0.0.2 after two closed'
            socks.pop().close()
    finally:
        for t in socks:
            t.close()
        s.stop()


def _s_client(server, *args):
    cert, key = harness.cert_paths('bank')
    p = subprocess.run(['openssl', 's_client', '-connect', f'127.0.0.1:{server.port}',
                        '-CAfile', harness.ca_path(), '-cert', cert, '-key', key, *args],
                       input=b'', stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode('utf-8', 'replace')


def test_tls_1_2_only_with_ecdhe_and_aead_and_tls_1_3():
    s = harness.server()
    rc, out = _s_client(s, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA')
    assert rc != 0, out[-800:]
    rc, out = _s_client(s, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256')
    assert rc != 0, out[-800:]
    rc, out = _s_client(s, '-tls1_2', '-cipher', 'AES128-GCM-SHA256')
    assert rc != 0, out[-800:]
    rc, out = _s_client(s, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256')
    assert rc == 0 and 'ECDHE-ECDSA-AES128-GCM-SHA256' in out, out[-800:]
    rc, out = _s_client(s, '-tls1_3')
    assert rc == 0 and 'TLSv1.3' in out, out[-800:]
    rc, out = _s_client(s, '-tls1_1')
    assert rc != 0, out[-800:]


@contextlib.contextmanager
def _export_held(s, table, path, warm_path, query):
    """An export of path by the regulator, held by a lock on table that another session holds
    while the block runs (the server's 16 pool connections are warmed up by warm_path
    first); the block starts once the export's own statement (its text begins with query)
    waits on the lock. Other backends may wait on the lock too: a background thread of this
    or another server of the cluster that connects meanwhile prepares its statements, and
    preparing waits on the lock. Yields a dict whose 'r' is the export's answer after."""
    locker = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', s.cluster.url, '-f', '-'],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True)
    first, warm, t = {}, [], None
    s.wait_warmed()             # its rehearsal writes loans, and gives its connection up
    for _ in range(16):         # every pool thread connected, its statements prepared
        warm.append(socket.create_connection(('127.0.0.1', s.port)))
        assert s.client('regulator').get(warm_path).status == 200
    try:
        locker.stdin.write(f'BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n')
        locker.stdin.flush()
        time.sleep(0.5)

        def export():
            first['r'] = s.client('regulator', timeout=150).get(path)
        t = threading.Thread(target=export)
        t.start()
        # Its query waits on the lock, so it holds its export slot (taken before the query).
        deadline = time.monotonic() + 60
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   f"AND starts_with(query, '{query}')")
        while s.cluster.psql(waiting) != [['1']]:
            assert time.monotonic() < deadline and 'r' not in first, first
            time.sleep(0.1)
        yield first
    finally:
        locker.stdin.close()
        locker.wait(10)
        for w in warm:
            w.close()
        if t is not None:
            t.join(150)


def test_concurrent_exports_are_capped_with_503_and_retry_after():
    # The waiting export blocks its pool thread, and a try that lands on that thread waits
    # with it: many threads and a short try keep such a try from costing the export its
    # statement time (a busy machine once used 30 s up that way, and the export got a 503).
    s = harness.Server(threads=16, env={'FINREG_MAX_EXPORTS': 1,
                                        'FINREG_STATEMENT_TIMEOUT_MS': 60000})
    # A lock held by another session keeps the first export's query waiting.
    with _export_held(s, 'referrals', '/v1/referrals/export?format=csv',
                      '/v1/referrals?limit=1',
                      'SELECT r.ref, r.uscc, r.name') as first:
        busy = []
        spacers = []            # held open, so each try gets another descriptor, another thread
        for _ in range(12):     # on another pool thread than the waiting export
            spacers.append(socket.create_connection(('127.0.0.1', s.port)))
            try:
                r = s.client('regulator', timeout=4).get('/v1/referrals/export?format=json')
                busy.append(r)
                if r.status == 503:
                    break
            except OSError as e:
                busy.append(e)
                continue
        for w in spacers:
            w.close()
        assert any(getattr(r, 'status', 0) == 503 and r.header('Retry-After')
                   for r in busy), busy
        err = next(r for r in busy if getattr(r, 'status', 0) == 503).json()['error']
        assert err['code'] == 'unavailable', err
    assert first['r'].status == 200, first['r']
    r = s.client('regulator').get('/v1/referrals/export?format=json')
    assert r.status == 200, r
    s.stop()


def _try_until_answered(s, path, tries=12):
    """GET path as the regulator until an answer comes (a try may land on the pool thread the
    held export blocks, and time out); returns the answer, or the errors."""
    spacers, seen = [], []
    try:
        for _ in range(tries):  # each on another descriptor, so on another pool thread
            spacers.append(socket.create_connection(('127.0.0.1', s.port)))
            try:
                return s.client('regulator', timeout=4).get(path)
            except OSError as e:
                seen.append(e)
        return seen
    finally:
        for w in spacers:
            w.close()


def test_xlsx_exports_count_against_the_same_export_cap_as_referral_exports():
    # One export slot, taken by a loans workbook whose query waits on a lock another session
    # holds: every other export - workbooks of other lists and statistics, referral exports in
    # any format - is 503 with Retry-After (none of them reads the locked table: not
    # /v1/stats/referrals, which reads loans to leave out referrals funded by a void loan),
    # and each works again once the workbook is sent.
    s = harness.Server(threads=16, env={'FINREG_MAX_EXPORTS': 1,
                                        'FINREG_STATEMENT_TIMEOUT_MS': 60000})
    others = ['/v1/whitelist?format=xlsx', '/v1/whitelist?format=csv',
              '/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&format=xlsx',
              '/v1/referrals/export?format=xlsx', '/v1/referrals/export?format=csv']
    answers = {}
    with _export_held(s, 'loans', '/v1/loans?format=xlsx', '/v1/loans?limit=1',
                      'SELECT id, item FROM loan_list_page(') as first:
        for path in others:
            answers[path] = _try_until_answered(s, path)
        assert 'r' not in first, first   # still held by the lock: the cap was full throughout
    for path, r in answers.items():
        assert getattr(r, 'status', 0) == 503, (path, getattr(r, 'status', r))
        assert r.header('Retry-After'), (path, r)
        assert r.json()['error']['code'] == 'unavailable', (path, r.json())
    assert first['r'].status == 200, first['r']
    assert first['r'].body[:2] == b'PK', first['r']
    for path in others:         # the slot is back once the workbook is sent
        deadline = time.monotonic() + 5
        r = s.client('regulator').get(path)
        while r.status == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
            r = s.client('regulator').get(path)
        assert r.status == 200, (path, r)
    s.stop()


def test_a_query_that_outlives_the_statement_timeout_is_503_with_retry_after_not_500():
    s = harness.Server(threads=4, env={'FINREG_STATEMENT_TIMEOUT_MS': 1000})
    assert s.client('regulator').get('/v1/referrals?limit=1').status == 200
    locker = subprocess.Popen([harness.PSQL, '-X', '-q', '-d', s.cluster.url, '-f', '-'],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        locker.stdin.write('BEGIN;\nLOCK TABLE referrals IN ACCESS EXCLUSIVE MODE;\n')
        locker.stdin.flush()
        time.sleep(0.5)
        # A new pool connection prepares its statements, and preparing waits on the lock too.
        for path in ('/v1/referrals/export?format=csv', '/v1/referrals/export?format=json',
                     '/v1/referrals/export?format=xlsx', '/v1/referrals?limit=5',
                     '/v1/referrals/R-NONE'):
            r = s.client('regulator', timeout=30).get(path)
            assert r.status == 503 and r.header('Retry-After'), (path, r)
            assert r.json()['error']['code'] == 'unavailable', (path, r)
    finally:
        locker.stdin.close()
        locker.wait(10)
    r = s.client('regulator').get('/v1/referrals/export?format=csv')
    assert r.status == 200, r
    s.stop()
