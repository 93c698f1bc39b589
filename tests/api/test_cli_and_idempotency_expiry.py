"""Issue 16, item 8 (in part): stored Idempotency-Key answers are kept for a documented time
(FINREG_IDEMPOTENCY_KEEP, 24 h by default) and then answered as if never given, and a
background task started by `finregd serve` purges them; an unknown command says so and
exits 2; `finregd --version`."""

import time

import finreg_data as fd
import harness


def batch(c, loans, key):
    return c.post('/v1/loans/batch', json={'loans': loans}, headers={'Idempotency-Key': key})


def stored_keys(bank, key):
    return harness.psql("SELECT count(*) FROM idempotency_keys WHERE bank_code = '%s' "
                        "AND key = '%s'" % (bank, key))[0][0]


def test_an_answer_older_than_24_hours_is_not_replayed():
    x = harness.new_principal()
    c = harness.client(x)
    key = harness.unique('keep-')
    assert batch(c, [fd.loan()], key).status == 200
    assert batch(c, [fd.loan()], key).status == 409     # the same key, another batch
    harness.psql("UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes'"
                 " WHERE bank_code = '%s'" % x.code)
    assert batch(c, [fd.loan()], key).status == 409
    harness.psql("UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute'"
                 " WHERE bank_code = '%s'" % x.code)
    other = [fd.loan()]
    r = batch(c, other, key)
    assert r.status == 200 and r.header('Idempotent-Replayed') is None, r
    assert r.json()['results'][0]['status'] == 'created', r.json()
    again = batch(c, other, key)                          # the new answer is the one kept
    assert again.header('Idempotent-Replayed') == 'true' and again.body == r.body


def test_expired_answers_are_purged_in_the_background_by_each_instance_safely():
    servers = [harness.Server(env={'FINREG_IDEMPOTENCY_KEEP': '2'}) for _ in range(2)]
    x = harness.new_principal()
    keys = [harness.unique('purge-') for _ in range(3)]
    for k in keys:
        assert batch(harness.client(x, server=servers[0]), [fd.loan()], k).status == 200
    assert all(stored_keys(x.code, k) == '1' for k in keys)
    deadline = time.monotonic() + 10
    while any(stored_keys(x.code, k) != '0' for k in keys):
        assert time.monotonic() < deadline, 'expired answers were not purged within 10 s'
        time.sleep(0.2)
    logs = servers[0].log() + servers[1].log()
    assert 'purged' in logs and 'bug' not in logs, logs[-2000:]
    for s in servers:
        assert s.stop() == 0


def test_a_bad_keep_time_is_refused_at_start():
    s = harness.Server(env={'FINREG_IDEMPOTENCY_KEEP': '0'}, start=False)
    s.port = harness.free_port()
    p = harness.finregd('serve', env=s.env(), check=False, timeout=30)
    assert p.returncode == 2 and 'idempotency-keep' in p.stderr, p


def test_an_unknown_command_says_so_and_exits_2():
    p = harness.finregd('frobnicate', check=False)
    assert p.returncode == 2, p
    assert p.stderr.startswith("finregd: unknown command 'frobnicate'\n"), p.stderr
    assert 'usage' in p.stderr and len(p.stderr.splitlines()) <= 3, p.stderr
    assert p.stdout == ''
    p = harness.finregd('principal', 'frobnicate', check=False)
    assert p.returncode == 2 and 'usage' in p.stderr, p


def test_version():
    p = harness.finregd('--version')
    assert p.returncode == 0 and p.stderr == '', p
    assert p.stdout.startswith('finregd ') and 'schema version' in p.stdout, p.stdout
    assert len(p.stdout.splitlines()) == 1
