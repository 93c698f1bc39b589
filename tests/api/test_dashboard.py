"""The dashboard (issue 14): finregd serves its static files at /dashboard/ safely, the demo
seed (scripts/demo-seed.py, `make demo`) posts its year through the API and changes nothing
when run again, and the page works in a real browser (tests/web/dashboard.test.mjs: headless
Chromium driven by puppeteer-core), against a private cluster seeded with the demo year."""

import os
import re
import shutil
import subprocess
import tempfile

import harness

ROOT = harness.ROOT
WEB_DIR = os.path.join(ROOT, 'build', 'web')
SEED = os.path.join(ROOT, 'scripts', 'demo-seed.py')
BROWSER_TEST = os.path.join(ROOT, 'tests', 'web', 'dashboard.test.mjs')
SCREENSHOT = os.path.join(ROOT, 'build', 'dashboard.png')
DEV = ('bank', 'bank2', 'guarantor', 'regulator')

_demo = {}     # the demo cluster (principals registered) and whether it is seeded


def demo_cluster():
    """A private cluster with the dev principals only, so the demo year is all it holds."""
    if 'cluster' not in _demo:
        c = harness.Cluster()
        harness.finregd('migrate', cluster=c)
        for who in DEV:
            kind, code, name = harness.PRINCIPALS[who]
            harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                            '--cert', harness.cert_paths(who)[0], cluster=c)
        _demo['cluster'] = c
    return _demo['cluster']


def demo_server():
    """A server on the demo cluster (stopped when the test ends)."""
    return harness.Server(cluster=demo_cluster(), threads=4, env={'FINREG_WEB_DIR': WEB_DIR})


def run_seed(server):
    p = subprocess.run(['python3', SEED, '--url', f'https://localhost:{server.port}', '--quiet',
                        '--certs', harness.CERTS], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, f'demo seed exited {p.returncode}:\n{p.stdout}\n{p.stderr}'
    assert p.stdout.strip().endswith('; 0 problems'), p.stdout
    return p.stdout


def seeded_server():
    s = demo_server()
    if not _demo.get('seeded'):
        _demo['first_run'] = run_seed(s)
        _demo['seeded'] = True
    return s


def counts(cluster):
    sql = ("SELECT (SELECT count(*) FROM loans), (SELECT count(*) FROM repayments), "
           "(SELECT count(*) FROM referrals), (SELECT count(*) FROM guarantees), "
           "(SELECT count(*) FROM scf_programs), (SELECT count(*) FROM whitelist_entries), "
           "(SELECT string_agg(status, ',' ORDER BY id) FROM referrals)")
    return cluster.psql(sql)[0]


def test_demo_seed_posts_a_year_and_is_idempotent():
    c = demo_cluster()
    s = seeded_server()
    first = _demo['first_run']
    loans, repayments, referrals, guarantees, programs, whitelist, statuses = counts(c)
    assert int(loans) > 1500 and int(repayments) > 300, (loans, repayments)
    assert int(referrals) > 100 and int(guarantees) > 100, (referrals, guarantees)
    assert (programs, whitelist) == ('3', '24'), (programs, whitelist)
    assert {'referred', 'accepted', 'declined', 'funded'} <= set(statuses.split(','))
    assert re.search(r'loans created \d{4}', first), first
    # Every loan came through the API: stored under the dev banks, none rejected.
    banks = c.psql("SELECT string_agg(DISTINCT bank_code, ',' ORDER BY bank_code) FROM loans")
    assert banks == [['CIB-SM,RCB-SM']], banks

    again = run_seed(s)
    assert again.strip() == 'demo: loans unchanged %s; 0 problems' % re.search(
        r'loans created (\d+)', first).group(1), again
    assert counts(c) == [loans, repayments, referrals, guarantees, programs, whitelist,
                         statuses]
    # The year it leaves is worth looking at: the lending target is met, referrals under way.
    with harness.Client('regulator', server=s) as cl:
        r = cl.get('/v1/stats/targets?year=2020')
        assert r.status == 200, r
        rows = {row['metric']: row for row in r.json()['rows']}
        assert rows['lending_increase']['met'] is True, rows
        assert 0 < rows['relief_referrals']['progress'] < 1, rows


def test_dashboard_static_files(ctx):
    anon = harness.Client(None)
    r = anon.get('/dashboard')
    assert r.status == 301 and r.header('Location') == '/dashboard/', r
    r = anon.get('/dashboard/')
    assert r.status == 200, r
    assert r.header('Content-Type') == 'text/html; charset=utf-8', r.header('Content-Type')
    csp = r.header('Content-Security-Policy') or ''
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and \
        "frame-ancestors 'none'" in csp, csp
    assert r.header('X-Content-Type-Options') == 'nosniff'
    assert '三明市' in r.text and 'echarts.min.js' in r.text
    for name, ctype, needle in [('app.js', 'text/javascript; charset=utf-8', 'sessionStorage'),
                                ('app.css', 'text/css; charset=utf-8', '.panel'),
                                ('echarts.min.js', 'text/javascript; charset=utf-8', 'echarts'),
                                ('favicon.svg', 'image/svg+xml', '<svg')]:
        r = anon.get('/dashboard/' + name)
        assert r.status == 200 and r.header('Content-Type') == ctype, (name, r)
        assert needle in r.text, name
        assert r.header('Content-Security-Policy') == csp
    r = anon.get('/dashboard/app.js')
    etag = r.header('ETag')
    assert etag and etag.startswith('"'), r
    r = anon.get('/dashboard/app.js', headers={'If-None-Match': etag})
    assert r.status == 304 and r.body == b'' and r.header('ETag') == etag, r
    r = anon.get('/dashboard/app.js', headers={'If-None-Match': '"other"'})
    assert r.status == 200 and 'sessionStorage' in r.text, r
    r = anon.request('HEAD', '/dashboard/app.js')
    assert r.status == 200 and r.body == b'', r
    r = anon.post('/dashboard/', json={})
    assert r.status == 405, r
    # Nothing outside the directory, nothing hidden, no other types, no sub-paths.
    for path in ['/dashboard/..%2Fobj%2Fservice%2Fmain.o', '/dashboard/%2E%2E%2F%2E%2E%2FMakefile',
                 '/dashboard/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd', '/dashboard/.index.html',
                 '/dashboard/app.js%2F', '/dashboard/sub/app.js', '/dashboard/index.htm',
                 '/dashboard/app', '/dashboard/missing.js', '/dashboard/%2Fetc%2Fpasswd.js',
                 '/dashboard/a..js', '/dashboard/-app.js']:
        r = anon.get(path)
        assert r.status == 404, (path, r)
        assert r.json()['error']['code'] == 'not_found', (path, r.text)
        assert 'root:' not in r.text and 'Content-Security' not in str(r.header('Content-Type'))
    r = anon.get('/dashboard/index.html%00.js')
    assert r.status in (400, 404), r
    # The page is public; the figures are not.
    r = anon.get('/v1/stats/targets?year=2020')
    assert r.status == 401, r
    token = ctx.issue_token('SM-FSB')
    r = harness.Client(None, token=token).get('/v1/stats/targets?year=2020')
    assert r.status == 200 and r.json()['year'] == 2020, r
    r = harness.Client(None, token='frt_' + '0' * 64).get('/v1/whoami')
    assert r.status == 401, r


def test_dashboard_files_are_regular_files_of_the_directory(ctx):
    d = tempfile.mkdtemp(prefix='finreg-web-')
    ctx.defer(lambda: shutil.rmtree(d, ignore_errors=True))
    with open(os.path.join(d, 'index.html'), 'w') as f:
        f.write('<!doctype html><title>t</title>')
    os.symlink('/etc/passwd', os.path.join(d, 'evil.js'))
    os.symlink(os.path.join(d, 'index.html'), os.path.join(d, 'alias.html'))
    os.mkdir(os.path.join(d, 'dir.js'))
    os.mkfifo(os.path.join(d, 'pipe.js'))
    s = ctx.start_server(env={'FINREG_WEB_DIR': d})
    cl = harness.Client(None, server=s)
    assert cl.get('/dashboard/').status == 200
    for name in ('evil.js', 'alias.html', 'dir.js', 'pipe.js'):
        r = cl.get('/dashboard/' + name)
        assert r.status == 404 and 'root:' not in r.text, (name, r)
    missing = ctx.start_server(env={'FINREG_WEB_DIR': os.path.join(d, 'nowhere')})
    r = harness.Client(None, server=missing).get('/dashboard/')
    assert r.status == 404 and 'FINREG_WEB_DIR' in r.json()['error']['message'], r


def test_dashboard_in_a_real_browser(ctx):
    for tool in ('node', '/usr/bin/chromium'):
        assert shutil.which(tool), f'{tool} is missing (make setup)'
    assert os.path.exists(os.path.join(WEB_DIR, 'echarts.min.js')), 'make web first'
    s = seeded_server()
    c = demo_cluster()
    token = {code: harness.finregd('token', 'issue', '--principal', code,
                                   cluster=c).stdout.split()[0]   # the line is TOKEN ID
             for code in ('SM-FSB', 'CIB-SM')}
    asan = '/asan/' in harness.FINREG_BIN
    env = dict(os.environ, DASH_URL=f'https://localhost:{s.port}',
               DASH_SERVER_CERT=os.path.join(harness.CERTS, 'server.pem'),
               DASH_TOKEN_REGULATOR=token['SM-FSB'], DASH_TOKEN_BANK=token['CIB-SM'],
               DASH_BANK='CIB-SM', DASH_OTHER_BANK='RCB-SM', DASH_YEAR='2020',
               DASH_SCREENSHOT=SCREENSHOT if not asan else SCREENSHOT.replace('.png', '-asan.png'),
               # The sanitizer build is several times slower; the 1 s yardstick is the normal one.
               DASH_LOAD_LIMIT_MS='4000' if asan else '1000')
    p = subprocess.run(['node', '--test', '--test-reporter=tap', BROWSER_TEST], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300, cwd=ROOT)
    for line in p.stdout.splitlines():
        if 'dashboard loaded in' in line or 'screenshot:' in line:
            print('    ' + line.lstrip('# \\'))
    summary = re.search(r'^# pass (\d+)\n# fail (\d+)', p.stdout, re.M)
    assert p.returncode == 0 and summary and summary.group(2) == '0', \
        f'node --test exited {p.returncode}:\n{p.stdout[-6000:]}'
    assert int(summary.group(1)) == 3, p.stdout[-3000:]
