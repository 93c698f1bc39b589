"""A rolling upgrade (docs/operations.md): a database built by the previous release (its
migrations and its sql/ live) is migrated by this release, and the previous release's
finregd, restarted on it, keeps storing and answering while instances are replaced one by
one; this release's finregd serves it too. Twice a review found a release that broke this
(023: a new binary on an old schema; whitelist functions dropped by their old signatures,
3 December), so the test builds the previous release from git and runs it.

PREVIOUS_RELEASE is the last commit that landed before this release's work: move it
forward when a release lands. Building it (git archive, make build/finregd) takes ~30 s."""

import os
import subprocess

import finreg_data as fd
import harness

PREVIOUS_RELEASE = 'afbf091'
NEW_BIN = harness.FINREG_BIN
_built = {}


def _previous_binary():
    """The previous release's finregd, built once per run in the run's scratch directory."""
    if 'bin' not in _built:
        d = os.path.join(harness.run_dir(), 'previous-release')
        os.makedirs(d, exist_ok=True)   # the second test to get here after a failed build
        # A shallow clone (CI checkouts often are) lacks the commit: say so, not 'fatal: not
        # a valid object name'.
        known = subprocess.run(['git', '-C', harness.ROOT, 'cat-file', '-e',
                                PREVIOUS_RELEASE + '^{commit}'], stderr=subprocess.DEVNULL)
        assert known.returncode == 0, (
            f'commit {PREVIOUS_RELEASE} (the previous release) is not in {harness.ROOT}: '
            f'a shallow clone? (git fetch --unshallow)')
        archive = subprocess.run(['git', '-C', harness.ROOT, 'archive', PREVIOUS_RELEASE],
                                 stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(['tar', '-x', '-C', d], input=archive, check=True)
        p = subprocess.run(['make', '-s', 'build/finregd'], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0, p.stdout[-2000:]
        _built['bin'] = os.path.join(d, 'build', 'finregd')
    return _built['bin']


def _use(path):
    harness.FINREG_BIN = path


def _setup_old(ctx):
    cl = harness.Cluster()
    ctx.defer(cl.destroy)
    _use(_previous_binary())
    try:
        harness.finregd('migrate', cluster=cl)
        for w in ('bank', 'bank2', 'regulator', 'guarantor'):
            kind, code, name = harness.PRINCIPALS[w]
            harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                            '--cert', harness.cert_paths(w)[0], cluster=cl)
        srv = harness.Server(cluster=cl)
    finally:
        _use(NEW_BIN)
    return cl, srv


def _paths(uscc):
    return [('regulator', '/v1/whitelist'),
            ('bank', '/v1/whitelist'),
            ('regulator', '/v1/whitelist/' + uscc),
            ('bank', '/v1/whitelist/' + uscc + '/history'),
            ('regulator', '/v1/firms/' + uscc),
            ('regulator', '/v1/stats/new-loans?from=2020-05-01&to=2020-05-31'),
            ('regulator', '/v1/stats/lending-growth?year=2020&as_of=2020-12-31'),
            ('regulator', '/v1/stats/targets?year=2020&as_of=2020-12-31'),
            ('regulator', '/v1/stats/scorecard?year=2020&as_of=2020-12-31'),
            ('regulator', '/v1/alerts/withdrawals?as_of=2020-12-31'),
            ('regulator', '/v1/stats/guarantee-leverage')]


def test_the_previous_release_keeps_serving_after_this_releases_migrate(ctx):
    cl, old = _setup_old(ctx)
    ctx.defer(old.stop)
    f = fd.firm()
    bank, reg = old.client('bank'), old.client('regulator')
    r = bank.post('/v1/loans', json=fd.loan('RU-1', f))
    assert r.status == 201, r.text
    r = bank.post('/v1/loans/RU-1/repayments', json=fd.repayment(date='2020-08-01'))
    assert r.status == 201, r.text
    r = reg.post('/v1/whitelist', json={'uscc': f['uscc'], 'name': 'x', 'reason': 'y',
                                        'valid_from': fd.day(fd.today_cn(), -3),
                                        'valid_to': None})
    assert r.status == 201, r.text
    for who, p in _paths(f['uscc']):
        r = old.client(who).get(p)
        assert r.status == 200, ('old release on its own schema', p, r.text)
    assert harness.poll(lambda: cl.psql('SELECT (SELECT count(*) FROM stats_pending)'
                                        ' + (SELECT count(*) FROM watch_balance_delta)')[0][0]
                        == '0', timeout=30)
    old.stop()
    # This release's migrate over the previous release's database, its sql/ live.
    p = harness.finregd('migrate', cluster=cl, check=False)
    assert p.returncode == 0, p.stderr
    # Rolling upgrade: the previous release's finregd still serving, on the new schema.
    _use(_previous_binary())
    try:
        old2 = harness.Server(cluster=cl)
    finally:
        _use(NEW_BIN)
    ctx.defer(old2.stop)
    failures = []
    for who, path in _paths(f['uscc']):
        r = old2.client(who).get(path)
        if r.status != 200:
            failures.append((path, r.status, r.text[:160]))
    r = old2.client('bank').post('/v1/loans', json=fd.loan('RU-2', f))
    if r.status != 201:
        failures.append(('POST /v1/loans', r.status, r.text[:160]))
    new = harness.Server(cluster=cl)
    ctx.defer(new.stop)
    for who, path in _paths(f['uscc']):
        r = new.client(who).get(path)
        assert r.status == 200, ('new release after upgrade', path, r.text)
    assert not failures, ('previous finregd against the new schema', failures,
                          old2.log_tail(20))
