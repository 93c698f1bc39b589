"""Black-box test harness for finregd (Python 3 standard library only): a private PostgreSQL
cluster, finregd servers on free ports, mutual-TLS HTTP clients, the CLI and curl.
Everything it starts it stops again (per test, and at exit); tests/api/run.py drives it.
"""

import atexit
import csv
import http.client
import io
import json as _json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_SH = os.path.join(ROOT, 'scripts', 'pg.sh')
MAKE_CERTS = os.path.join(ROOT, 'certs', 'make-dev-certs')
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
IS_ROOT = os.geteuid() == 0
KEEP_TMP = os.environ.get('FINREG_TEST_KEEP') == '1'   # keep temp dirs (logs, data) for debugging
PSQL = '/usr/lib/postgresql/15/bin/psql' if os.path.exists('/usr/lib/postgresql/15/bin/psql') \
    else 'psql'


def _repo_path(p):
    """An absolute path: as given if absolute, else relative to the cwd if it exists there,
    else relative to the repository root."""
    if os.path.isabs(p):
        return p
    if os.path.exists(p):
        return os.path.abspath(p)
    return os.path.join(ROOT, p)


FINREG_BIN = _repo_path(os.environ.get('FINREG_BIN', 'build/finregd'))
CERTS = _repo_path(os.environ.get('FINREG_TEST_CERTS', 'certs/dev'))

# Dev principals registered by setup(): cert name -> (kind, code, name).
PRINCIPALS = {
    'bank': ('bank', 'CIB-SM', '兴业银行三明分行'),
    'bank2': ('bank', 'RCB-SM', '三明农村商业银行'),
    'guarantor': ('guarantor', 'SM-GUAR', '三明市融资担保有限公司'),
    'regulator': ('regulator', 'SM-FSB', '三明市地方金融监督管理局'),
    'disabled': ('bank', 'OLD-BANK', '已停业银行'),
}
DISABLED = ('disabled',)


# --------------------------------------------------------------------------- small helpers

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_taken(port):
    """True if something listens on 127.0.0.1:port (binding it fails even with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
            return False
        except OSError:
            return True


def poll(fn, timeout=5.0, until=bool):
    """Calls fn() until until(its value) holds or timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if until(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def examined(table):
    """SQL: heap rows and index entries of @table read so far in this transaction."""
    return ("(pg_stat_get_xact_tuples_returned('%s'::regclass)"
            " + pg_stat_get_xact_tuples_fetched('%s'::regclass)"
            " + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)"
            " FROM pg_index i WHERE i.indrelid = '%s'::regclass))::bigint" % (table, table, table))


def rows_and_reads(setup, call, tables):
    """Runs @setup (SQL), then @call (a SELECT whose rows start with 'row'), in a
    transaction on the shared cluster, rolled back; returns the call's rows (without the tag) and the heap rows
    and index entries it read of each of @tables."""
    out = psql(f"""
BEGIN;
{setup}
CREATE TEMP TABLE reads_before AS SELECT {', '.join(
        '%s AS "%s"' % (examined(t), t) for t in tables)};
{call};
SELECT 'read', {', '.join('%s - b."%s"' % (examined(t), t) for t in tables)}
FROM reads_before b;
ROLLBACK;
""")
    rows = [r[1:] for r in out if r[0] == 'row']
    return rows, dict(zip(tables, (int(n) for n in [r for r in out if r[0] == 'read'][0][1:])))


def while_uncommitted(sql, read, hold_s=2, timeout=60):
    """Runs @sql in a transaction on the shared cluster that stays open @hold_s seconds after
    it, calls read() once @sql has run (so read() waits for what @sql locked), and returns
    (read()'s value, the seconds it took) after the transaction committed."""
    sleep = 'SELECT pg_sleep(%s)' % hold_s
    p = subprocess.Popen(
        [PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cluster().url,
         '-c', 'BEGIN', '-c', sql, '-c', sleep, '-c', 'COMMIT'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
    try:
        assert poll(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE query = '%s'"
                                 " AND state = 'active'" % sleep) == [['1']], timeout=timeout)
        started = time.monotonic()
        got = read()
        took = time.monotonic() - started
    finally:
        _, err = p.communicate(timeout=timeout + 60)
    assert p.returncode == 0, err
    return got, took


def vm_hwm(server):
    """Server @a server's peak resident set size in bytes (VmHWM): what a request's memory
    raised it to (test_limits.py, test_whitelist.py)."""
    with open(f'/proc/{server.proc.pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmHWM')


def unique(prefix=''):
    """A string no other test (or run) uses: prefix + 10 hex digits."""
    return prefix + secrets.token_hex(5)


def quote(s):
    """Percent-encodes one path segment (e.g. a loan_ref with '/' or Chinese characters)."""
    return urllib.parse.quote(s, safe='')


def walk_pages(c, path, keys, max_pages):
    """Every item of the list GET @path (its query holding limit=), following next_cursor
    page by page with client @c; returns (items, page sizes). Every page has exactly the
    members @keys, and there are at most @max_pages."""
    items, sizes, cursor = [], [], None
    while True:
        r = c.get(path + ('&cursor=' + quote(cursor) if cursor else ''))
        assert r.status == 200, r
        page = r.json()
        assert set(page) == set(keys), page.keys()
        items += page['items']
        sizes.append(len(page['items']))
        cursor = page['next_cursor']
        assert len(sizes) <= max_pages, sizes
        if cursor is None:
            return items, sizes
        assert isinstance(cursor, str) and cursor, page


def _file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _tail(path, lines=40):
    """The end of a log; if it holds a sanitizer report, that report's start instead."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        return f'(no log: {e})'
    text = data.decode('utf-8', 'replace').splitlines()
    for i, line in enumerate(text):
        if 'ERROR: AddressSanitizer' in line or 'ERROR: LeakSanitizer' in line \
                or 'runtime error:' in line:
            shown = text[max(0, i - 3):i + 2 * lines]
            more = len(text) - (i + 2 * lines)
            return '\n'.join(shown + ([f'... ({more} more lines)'] if more > 0 else []))
    return '\n'.join(text[-lines:])


def _mkdtemp():
    d = tempfile.mkdtemp(prefix='finreg-test-')
    os.chmod(d, 0o755)
    if IS_ROOT:
        shutil.chown(d, 'postgres', 'postgres')
    _cleanups.append(lambda: _remove_dir(d))
    return d


_removed_dirs = set()


def _remove_dir(d):
    if d in _removed_dirs:
        return
    _removed_dirs.add(d)
    if KEEP_TMP:
        print(f'harness: kept {d}', file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)


_cleanups = []          # run at exit, last registered first
_cleanup_lock = threading.Lock()


def _run_cleanups():
    with _cleanup_lock:
        _stop_all_servers()     # servers first, then clusters and directories
        while _cleanups:
            fn = _cleanups.pop()
            try:
                fn()
            except Exception as e:  # cleanup must go on
                print(f'harness: cleanup error: {e!r}', file=sys.stderr)


atexit.register(_run_cleanups)

_run_dir = None


def run_dir():
    """The run's scratch directory (logs, generated certificates); removed at exit."""
    global _run_dir
    if _run_dir is None:
        _run_dir = _mkdtemp()
    return _run_dir


def ensure_certs():
    if not os.path.exists(os.path.join(CERTS, 'ca.pem')):
        subprocess.run([MAKE_CERTS, CERTS], check=True, stdout=subprocess.DEVNULL)
    return CERTS


def cert_paths(who):
    """(cert, key) for a certificate name in the certs dir ('bank', 'stranger', ...) or an
    Identity."""
    if isinstance(who, Identity):
        return who.cert, who.key
    ensure_certs()
    cert = os.path.join(CERTS, f'{who}.pem')
    key = os.path.join(CERTS, f'{who}-key.pem')
    if not os.path.exists(cert):
        raise ValueError(f'no test certificate {cert}')
    return cert, key


def ca_path():
    return os.path.join(ensure_certs(), 'ca.pem')


# --------------------------------------------------------------------------- PostgreSQL

class Cluster:
    """A private PostgreSQL 15 cluster in its own temp dir on a free port (via scripts/pg.sh)."""

    def __init__(self, port=None, start=True):
        self.dir = _mkdtemp()
        self.datadir = os.path.join(self.dir, 'data')
        self._set_port(port or free_port())
        self._destroyed = False
        _cleanups.append(self.destroy)
        if start:
            for attempt in range(3):
                try:
                    self.start()
                    break
                except RuntimeError as e:   # the free port was taken meanwhile: another one
                    if port is not None or attempt == 2 or 'in use' not in str(e).lower():
                        raise
                    self._set_port(free_port())

    def _set_port(self, port):
        self.port = port
        self.url = f'host=127.0.0.1 port={port} dbname=finreg user=postgres'
        # The least-privilege role servers connect as (scripts/db-roles.sql); the CLI and
        # psql() use the owner's url.
        self.app_url = f'host=127.0.0.1 port={port} dbname=finreg user=finregd_serve'

    def _pg_sh(self, *args):
        p = subprocess.run([PG_SH, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, cwd='/')
        if p.returncode != 0:
            raise RuntimeError(f'pg.sh {" ".join(args)} failed ({p.returncode}):\n{p.stdout}')
        return p.stdout

    def start(self):
        self._pg_sh('start', self.datadir, str(self.port))
        if not getattr(self, '_roles_made', False):   # once: roles outlive restarts
            with open(os.path.join(ROOT, 'scripts', 'db-roles.sql')) as f:
                self.psql(f.read())
            self._roles_made = True

    def stop(self):
        self._pg_sh('stop', self.datadir)

    def destroy(self):
        if not self._destroyed:
            self._destroyed = True
            try:
                self.stop()
            finally:
                _remove_dir(self.dir)

    def psql(self, sql):
        """Runs SQL (one or more statements) as the superuser in database finreg; returns the
        rows of every result as lists of strings (NULL and '' both come back as '')."""
        p = subprocess.run([PSQL, '-X', '-q', '--csv', '-t', '-v', 'ON_ERROR_STOP=1',
                            '-d', self.url, '-f', '-'],
                           input=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd='/')
        if p.returncode != 0:
            raise RuntimeError(f'psql failed ({p.returncode}): {p.stderr.strip()}\nSQL: {sql}')
        return [row if row else [''] for row in csv.reader(io.StringIO(p.stdout))]


_cluster = None


def cluster():
    """The run's shared cluster (created on first use)."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
    return _cluster


_shared_cluster = cluster


def psql(sql):
    return cluster().psql(sql)


# --------------------------------------------------------------------------- CLI and servers

def _child_env(extra=None, database_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith('FINREG_')}
    env['FINREG_DATABASE_URL'] = database_url or cluster().url
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def finregd(*args, env=None, check=True, input=None, timeout=60, cluster=None):
    """Runs `finregd ARGS...` with FINREG_DATABASE_URL pointing at the (shared) cluster.
    env entries are added to the environment (None removes one). Returns a CompletedProcess
    with text stdout/stderr; raises RuntimeError on a non-zero exit unless check=False."""
    url = (cluster or _shared_cluster()).url
    p = subprocess.run([FINREG_BIN, *map(str, args)], env=_child_env(env, url), input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, cwd=ROOT)
    if check and p.returncode != 0:
        raise RuntimeError(f'finregd {" ".join(map(str, args))} exited {p.returncode}\n'
                           f'stdout: {p.stdout}\nstderr: {p.stderr}')
    return p


def issue_token(code):
    """`finregd token issue --principal CODE`; returns the token (the line is TOKEN ID)."""
    out = finregd('token', 'issue', '--principal', code).stdout.strip().splitlines()
    if len(out) != 1 or not out[0]:
        raise RuntimeError(f'token issue printed {out!r}, expected one line')
    return out[0].split()[0]


class Identity:
    """A client certificate made by new_principal() (usable wherever a cert name is)."""

    def __init__(self, kind, code, name, cert, key):
        self.kind, self.code, self.name, self.cert, self.key = kind, code, name, cert, key

    def __repr__(self):
        return f'Identity({self.kind} {self.code})'


def make_client_cert(cn, issuer='ca'):
    """Makes a fresh P-256 clientAuth certificate with CN=cn signed by the dev CA (or
    issuer='other-ca'); returns (cert, key) paths in the run dir."""
    ensure_certs()
    d = os.path.join(run_dir(), 'certs')
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, secrets.token_hex(6))
    cert, key, csr, ext = base + '.pem', base + '-key.pem', base + '.csr', base + '.ext'
    with open(ext, 'w') as f:
        f.write('[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n'
                'extendedKeyUsage=clientAuth\n')

    def run(*cmd):
        subprocess.run(['openssl', *cmd], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key)
    os.chmod(key, 0o600)
    run('req', '-new', '-key', key, '-subj', f'/O=finreg test/CN={cn}', '-out', csr)
    run('x509', '-req', '-sha256', '-days', '30', '-set_serial', '0x' + secrets.token_hex(15),
        '-in', csr, '-CA', os.path.join(CERTS, f'{issuer}.pem'),
        '-CAkey', os.path.join(CERTS, f'{issuer}-key.pem'), '-extfile', ext, '-extensions',
        'ext', '-out', cert)
    return cert, key


def new_principal(kind='bank', code=None, name=None):
    """Registers a brand-new principal with its own certificate (a clean slate, e.g. a bank
    with no loans for statistics tests). Returns an Identity to pass to client()."""
    code = code or unique('T-').upper()
    name = name or f'测试{kind} {code}'
    cert, key = make_client_cert(code)
    finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name, '--cert', cert)
    return Identity(kind, code, name, cert, key)


_servers = []            # every Server started and not yet stopped
_started = []            # every Server started in the current test (for its failure report)


class Server:
    """A `finregd serve` process on a free port of 127.0.0.1, logging to a file."""

    def __init__(self, env=None, args=(), cluster=None, threads=2, start=True):
        self.cluster = cluster or _shared_cluster()
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.threads = threads
        self.proc = None
        self.port = None
        self.returncode = None
        self.log_path = os.path.join(run_dir(), f'server-{unique()}.log')
        if start:
            self.start()

    def env(self):
        ensure_certs()
        return _child_env({
            'FINREG_LISTEN': f'127.0.0.1:{self.port}',
            'FINREG_TLS_CERT': os.path.join(CERTS, 'server.pem'),
            'FINREG_TLS_KEY': os.path.join(CERTS, 'server-key.pem'),
            'FINREG_CLIENT_CA': os.path.join(CERTS, 'ca.pem'),
            'FINREG_THREADS': self.threads,
            **self.extra_env,
        }, getattr(self.cluster, 'app_url', self.cluster.url))

    def start(self, port=None):
        """Starts the process and waits until GET /healthz answers. port=None: a free port
        (one taken meanwhile by someone else is retried with another); a restart can pass
        the previous server.port to keep it."""
        if self.running():
            return self
        self._retry_port = port is None
        for attempt in range(3):
            self.port = port or free_port()
            self.returncode = None
            with open(self.log_path, 'ab') as log:
                log.write(f'--- start on port {self.port}\n'.encode())
                log.flush()
                self.proc = subprocess.Popen([FINREG_BIN, 'serve', *self.args], env=self.env(),
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=ROOT,
                                             start_new_session=True)
            if self not in _servers:
                _servers.append(self)
            if self not in _started:
                _started.append(self)
            try:
                self._wait_ready()
                return self
            except _PortTaken:
                continue
        raise RuntimeError(f'finregd serve failed to start 3 times (port in use?); log:\n'
                           f'{self.log_tail()}')

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        ctx = _ssl_context(None)
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._forget(rc)
                tail = self.log_tail()
                if self._retry_port and port_taken(self.port):
                    raise _PortTaken()
                raise RuntimeError(f'finregd serve exited with {rc} while starting; log:\n{tail}')
            try:
                conn = http.client.HTTPSConnection('127.0.0.1', self.port, context=ctx, timeout=2)
                try:
                    conn.request('GET', '/healthz')
                    if conn.getresponse().status == 200:
                        return
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f'finregd serve did not answer /healthz within '
                                   f'{START_TIMEOUT:.0f} s; log:\n{self.log_tail()}')
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _forget(self, rc):
        self.returncode = rc
        if self in _servers:
            _servers.remove(self)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig and waits for the exit; returns the exit code (negative: killed by that
        signal). Not gone within timeout: killed, and AssertionError."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f'finregd did not exit within {timeout:.0f} s of signal '
                                     f'{sig}; killed. log:\n{self.log_tail()}')
        self._forget(self.proc.returncode)
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self._forget(self.proc.returncode)

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_tail(self, lines=40):
        return _tail(self.log_path, lines)

    def wait_warmed(self, timeout=60):
        """Waits until the warm-up of the server's last start has logged its end (warm_up.c):
        for a test that locks a table the warm-up's rehearsal writes."""
        deadline = time.monotonic() + timeout
        while True:
            last_start = self.log().rsplit('--- start on port', 1)[-1]
            if 'warm-up: ' in last_start or 'warm-up not started' in last_start \
                    or str(self.env().get('FINREG_WARM_UP', '1')) == '0':
                return
            if time.monotonic() > deadline:
                raise AssertionError(f'no warm-up end logged; log:\n{self.log_tail()}')
            time.sleep(0.05)

    def url(self, path='/'):
        return f'https://localhost:{self.port}{path}'

    def client(self, who='bank', token=None, **kw):
        return Client(who, token=token, server=self, **kw)


class _PortTaken(Exception):
    pass


def _stop_all_servers():
    for s in list(_servers):
        try:
            s.stop(timeout=5)
        except Exception:
            s.kill()


_shared_server = None
_setup_done = False


def setup():
    """Shared setup, once per run: migrate the cluster, register the dev principals (OLD-BANK
    then disabled) and start the shared server."""
    global _setup_done
    if _setup_done:
        return
    if not os.access(FINREG_BIN, os.X_OK):
        raise RuntimeError(f'{FINREG_BIN} not found or not executable (make build?)')
    ensure_certs()
    cluster()
    finregd('migrate')
    for who, (kind, code, name) in PRINCIPALS.items():
        finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                '--cert', cert_paths(who)[0])
    for who in DISABLED:
        finregd('principal', 'disable', PRINCIPALS[who][1])
    _setup_done = True
    server()


def private_cluster(ctx, who=('bank', 'regulator')):
    """A cluster of the test's own (destroyed when it ends), migrated, with the principals
    @a who (names of PRINCIPALS) added: for a test whose locks or figures must not touch
    the shared registry."""
    cl = Cluster()
    ctx.defer(cl.destroy)
    finregd('migrate', cluster=cl)
    for w in who:
        kind, code, name = PRINCIPALS[w]
        finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                '--cert', cert_paths(w)[0], cluster=cl)
    return cl


_pending_problems = []   # found outside a test's own checks; reported by the current test
_current_test = None
_previous_test = None


def _check_shared_server():
    """Records a problem if the shared server has died (it must survive every test) and
    forgets it, so the next server() starts a new one."""
    global _shared_server
    s = _shared_server
    if s is not None and s.proc is not None and s.proc.poll() is not None:
        _shared_server = None
        s._forget(s.proc.returncode)
        _pending_problems.append(
            f'the shared server died (exit {s.returncode}) during this test or at the end of '
            f'the previous one ({_previous_test}); log:\n{s.log_tail()}')


def server():
    """The shared server (restarted, and the death reported as a test failure, if it died)."""
    global _shared_server
    setup()
    _check_shared_server()
    if _shared_server is None:
        _shared_server = Server()
    return _shared_server


def shutdown():
    """Stops the shared server and everything else. Returns a list of problems (the shared
    server had died or did not exit 0 on SIGTERM, e.g. a sanitizer report)."""
    global _shared_server
    problems = []
    if _shared_server is not None:
        s, _shared_server = _shared_server, None
        try:
            rc = s.stop()
            if rc != 0:
                problems.append(f'the shared server ended with exit status {rc} at shutdown '
                                f'(expected 0 after SIGTERM); log:\n{s.log_tail()}')
        except AssertionError as e:
            problems.append(str(e))
    problems += _pending_problems
    _pending_problems.clear()
    _run_cleanups()
    return problems


# --------------------------------------------------------------------------- HTTP client

def _ssl_context(who):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca_path())
    if who is not None:
        cert, key = cert_paths(who)
        ctx.load_cert_chain(cert, key)
    return ctx


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers      # http.client.HTTPMessage: .get() is case-insensitive
        self.body = body

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace')

    def json(self):
        try:
            return _json.loads(self.body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f'response is not JSON ({e}): {self.body[:300]!r}') from None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        body = self.body[:400].decode('utf-8', 'replace')
        return f'<Response {self.status} {body!r}>'


_clients = []            # clients to close at the end of the current test


class Client:
    """A keep-alive HTTPS client presenting the certificate `who` (a name in the certs dir,
    an Identity, or None for none) and optionally `Authorization: Bearer token`."""

    def __init__(self, who='bank', token=None, server=None, timeout=30):
        self.who = who
        self.token = token
        self.server = server
        self.timeout = timeout
        self.ctx = _ssl_context(who)
        self.conn = None
        self.requests_on_conn = 0
        _clients.append(self)

    def _server(self):
        return self.server if self.server is not None else globals()['server']()

    def _connect(self):
        s = self._server()
        conn = http.client.HTTPSConnection('localhost', s.port, context=self.ctx,
                                           timeout=self.timeout)
        try:
            conn.connect()     # a refused handshake raises here (ssl.SSLError, reset, ...)
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self.requests_on_conn = 0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method, path, json=None, body=None, headers=None,
                content_type='application/json'):
        if json is not None and body is not None:
            raise ValueError('json= and body= together')
        if json is not None:
            body = _json.dumps(json, ensure_ascii=False).encode('utf-8')
        elif isinstance(body, str):
            body = body.encode('utf-8')
        hdrs = dict(headers or {})
        lower = {k.lower() for k in hdrs}
        if body is not None and content_type is not None and 'content-type' not in lower:
            hdrs['Content-Type'] = content_type
        if self.token is not None and 'authorization' not in lower:
            hdrs['Authorization'] = f'Bearer {self.token}'
        # Non-ASCII characters in the path are percent-encoded as UTF-8 (like a browser does).
        path = urllib.parse.quote(path, safe=''.join(chr(c) for c in range(0x21, 0x7f)))
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            reused = self.requests_on_conn > 0
            try:
                try:
                    self.conn.request(method, path, body=body, headers=hdrs)
                except (ConnectionError, ssl.SSLError) as send_error:
                    # The server may have answered (e.g. 413) and closed before taking the
                    # whole body: read that answer if there is one.
                    try:
                        r = self.conn.getresponse()
                        data = r.read()
                    except Exception:
                        raise send_error from None
                    self.close()
                    return Response(r.status, r.reason, r.headers, data)
                r = self.conn.getresponse()
                data = r.read()
            except (ConnectionError, http.client.RemoteDisconnected, ssl.SSLEOFError,
                    ssl.SSLZeroReturnError):
                self.close()
                if reused and attempt == 1:
                    continue      # the server closed an idle keep-alive connection: retry once
                raise
            except BaseException:
                self.close()
                raise
            self.requests_on_conn += 1
            if r.will_close:
                self.close()
            return Response(r.status, r.reason, r.headers, data)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, json=None, **kw):
        return self.request('POST', path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request('PUT', path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request('PATCH', path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


def race(clients, fn, timeout=60):
    """Runs fn(i, client) for every client at once (each connected first, then all released
    together), so that their requests really race; returns the results in client order,
    an exception raised by fn in its result's place."""
    import threading
    for cl in clients:
        assert cl.get('/v1/whoami').status == 200
    barrier = threading.Barrier(len(clients))
    out = [None] * len(clients)

    def run(i):
        barrier.wait()
        try:
            out[i] = fn(i, clients[i])
        except Exception as e:   # reported by the caller's assertions
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return out


def client(who='bank', token=None, server=None, timeout=30):
    """A Client of the shared server (or of `server`): who is 'bank', 'bank2', 'guarantor',
    'regulator', 'disabled', 'stranger', 'serveronly', an Identity, or None."""
    return Client(who, token=token, server=server, timeout=timeout)


def raw(data, who='bank', server=None, timeout=10):
    """Sends raw bytes over a fresh TLS connection and returns everything the server sends
    back until it closes the connection or goes quiet for `timeout` seconds."""
    s = server if server is not None else globals()['server']()
    ctx = _ssl_context(who)
    with socket.create_connection(('127.0.0.1', s.port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname='localhost') as tls:
            tls.sendall(data)
            chunks = []
            while True:
                try:
                    chunk = tls.recv(65536)
                except (socket.timeout, ConnectionResetError, ssl.SSLError):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b''.join(chunks)


def url(path='/', server=None):
    s = server if server is not None else globals()['server']()
    return s.url(path)


def curl(args, who='bank', server=None, timeout=120):
    """Runs the real curl with --cacert ca.pem and who's certificate (who=None: none), plus
    args (a list; build URLs with harness.url(path)). Returns a CompletedProcess with bytes
    stdout/stderr; does not raise on curl's exit status."""
    cmd = ['curl', '-sS', '--max-time', str(timeout), '--cacert', ca_path()]
    if who is not None:
        cert, key = cert_paths(who)
        cmd += ['--cert', cert, '--key', key]
    return subprocess.run(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout + 10)


# --------------------------------------------------------------------------- per-test context

class Context:
    """What each test function receives (if it takes an argument). Servers started and
    clients made through it (or through the module functions) during the test are stopped
    and closed when the test ends."""

    def __init__(self, name):
        self.name = name
        self._deferred = []
        self._servers_before = set(_servers)
        self._log_starts = {s.log_path: _file_size(s.log_path) for s in _servers}
        _started[:] = list(_servers)
        _clients.clear()
        global _current_test
        _current_test = name

    @property
    def cluster(self):
        return cluster()

    @property
    def server(self):
        return server()

    def client(self, who='bank', token=None, server=None, timeout=30):
        return client(who, token=token, server=server, timeout=timeout)

    def start_server(self, **kw):
        return Server(**kw)

    def finregd(self, *args, **kw):
        return finregd(*args, **kw)

    def psql(self, sql):
        return psql(sql)

    def curl(self, args, **kw):
        return curl(args, **kw)

    def raw(self, data, **kw):
        return raw(data, **kw)

    def url(self, path='/', server=None):
        return url(path, server)

    def unique(self, prefix=''):
        return unique(prefix)

    def new_principal(self, kind='bank', code=None, name=None):
        return new_principal(kind, code, name)

    def issue_token(self, code):
        return issue_token(code)

    def defer(self, fn):
        """Runs fn() when the test ends (last deferred first)."""
        self._deferred.append(fn)
        return fn

    def server_logs(self, lines=30):
        """What every server wrote during the test, for a failure's report (the servers a
        test starts, and their logs with the run's scratch directory, are gone by the time
        anyone reads it): its messages (up to 3 x @a lines) and its last @a lines."""
        out = []
        for s in list(_started):
            try:
                with open(s.log_path, 'rb') as f:
                    f.seek(self._log_starts.get(s.log_path, 0))
                    text = f.read().decode('utf-8', 'replace').splitlines()
            except OSError:
                continue
            if not text:
                continue
            messages = [t for t in text[:-lines] if not t.startswith('{"time"')]
            out.append(f'--- server on port {s.port}: {len(text)} lines during the test; '
                       f'{len(messages[-3 * lines:])} messages before its last {lines} lines:\n'
                       + '\n'.join(messages[-3 * lines:] + text[-lines:]))
        return out

    def close(self):
        """Ends the test; returns a list of problems that make it fail."""
        problems = []
        while self._deferred:
            try:
                self._deferred.pop()()
            except Exception as e:
                problems.append(f'deferred cleanup failed: {e!r}')
        for c in list(_clients):
            c.close()
        _clients.clear()
        for s in list(_servers):
            if s is _shared_server or s in self._servers_before:
                continue
            try:
                rc = s.stop()
                if rc != 0:
                    problems.append(f'a server the test started exited with {rc} on SIGTERM; '
                                    f'log:\n{s.log_tail()}')
            except AssertionError as e:
                problems.append(str(e))
        # The shared server must survive every test.
        _check_shared_server()
        problems += _pending_problems
        _pending_problems.clear()
        global _current_test, _previous_test
        _previous_test, _current_test = self.name, None
        return problems
