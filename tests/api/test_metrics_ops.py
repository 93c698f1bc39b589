"""What an operator watches on /metrics: each figure exists and moves when the thing it
counts happens (a loan stored, a rule rejection, a refused credential, latency per route,
group commits), and the gauges read at scrape time (database, compactor, listener,
process) have sensible values. The replica and read-only figures are exercised against a
real standby by tests/ha/test_ha.py."""

import re
import time

import finreg_data as data
import harness


def _metrics():
    r = harness.client(None).get('/metrics')
    assert r.status == 200, r
    return r.text


def _sample(text, name, labels=''):
    m = re.search('^' + re.escape(name + ('{' + labels + '}' if labels else '')) + r' (\S+)$',
                  text, re.M)
    return float(m.group(1)) if m else None


def _reaches(name, labels, want, timeout=3):
    deadline = time.monotonic() + timeout
    while True:
        got = _sample(_metrics(), name, labels) or 0.0
        if got >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_a_stored_loan_moves_the_loan_route_and_group_counters():
    text = _metrics()
    stored = _sample(text, 'finreg_loans_stored_total')
    groups = _sample(text, 'finreg_group_commit_size_count')
    route = 'route="POST /v1/loans"'
    posts = _sample(text, 'finreg_http_route_duration_seconds_count', route) or 0.0
    r = harness.client('bank').post('/v1/loans', json=data.loan())
    assert r.status == 201, r
    assert _reaches('finreg_loans_stored_total', '', stored + 1) == stored + 1
    assert _reaches('finreg_group_commit_size_count', '', groups + 1) >= groups + 1
    assert _reaches('finreg_http_route_duration_seconds_count', route, posts + 1) == posts + 1
    text = _metrics()
    inf = _sample(text, 'finreg_http_route_duration_seconds_bucket', route + ',le="+Inf"')
    assert inf == _sample(text, 'finreg_http_route_duration_seconds_count', route), text
    # an identical retry answers 200 and stores nothing
    before = _sample(text, 'finreg_loans_stored_total')
    assert harness.client('bank').post('/v1/loans', json=data.loan(
        loan_ref='M-' + harness.unique())).status == 201
    assert _reaches('finreg_loans_stored_total', '', before + 1) == before + 1


def test_a_rejected_loan_counts_under_its_rule():
    bad = data.loan(maturity_date='2019-01-01')     # before the issue date
    r = harness.client('bank').post('/v1/loans', json=bad)
    assert r.status == 422, r
    rule = r.json()['error']['rule']
    assert rule, r
    labels = f'rule="{rule}"'
    before = _sample(_metrics(), 'finreg_rejections_total', labels)
    assert harness.client('bank').post('/v1/loans', json=data.loan(
        maturity_date='2019-01-01')).status == 422
    assert _reaches('finreg_rejections_total', labels, before + 1) == before + 1


def test_refused_credentials_count_by_reason():
    labels = 'reason="no_credential"'
    before = _sample(_metrics(), 'finreg_auth_failures_total', labels) or 0.0
    assert harness.client(None).get('/v1/whoami').status == 401
    assert _reaches('finreg_auth_failures_total', labels, before + 1) == before + 1
    labels = 'reason="bad_token"'
    before = _sample(_metrics(), 'finreg_auth_failures_total', labels) or 0.0
    assert harness.client(None, token='not-a-token').get('/v1/whoami').status == 401
    assert _reaches('finreg_auth_failures_total', labels, before + 1) == before + 1


def test_scrape_time_gauges():
    time.sleep(1.2)     # the compactor runs every second
    text = _metrics()
    assert _sample(text, 'finreg_db_read_only') == 0
    assert _sample(text, 'finreg_principal_listener_up') == 1
    assert _sample(text, 'finreg_stats_pending_rows') >= 0
    assert 0 <= _sample(text, 'finreg_compactor_lag_seconds') < 5
    assert _sample(text, 'finreg_db_connections_busy') >= 0
    assert _sample(text, 'finreg_db_connections_waiting') == 0
    assert _sample(text, 'finreg_db_replica_configured') == 0
    assert _sample(text, 'finreg_exports_in_flight') == 0
    assert _sample(text, 'process_resident_memory_bytes') > 1e6
    assert _sample(text, 'process_open_fds') > 3
    assert re.search(r'^finreg_build_info\{version="[^"]+",built="[^"]+"\} 1$', text, re.M)


def test_reads_in_a_read_scope_count_on_the_primary_without_a_replica():
    before = _sample(_metrics(), 'finreg_db_reads_total', 'target="primary"')
    assert harness.client('regulator').get('/v1/loans?bank=CIB-SM&limit=1').status == 200
    assert _reaches('finreg_db_reads_total', 'target="primary"', before + 1) >= before + 1
    assert _sample(_metrics(), 'finreg_db_reads_total', 'target="replica"') == 0


def test_a_backlog_beyond_one_chunk_is_folded_in_several_bounded_transactions():
    # 12,000 pending rows committed at once (6,000 loans that are counted and taken away
    # again: they change no figure), more than two chunks of 5,000: the compactor folds
    # them in at least three transactions, one after the other, and leaves nothing pending.
    chunks = _sample(_metrics(), 'finreg_compactor_chunks_total')
    harness.psql("""
INSERT INTO stats_pending (sign, loan)
SELECT s.sign, ROW(-g, date '2020-01-02', 'NO-SUCH-BANK', '350402', '3412', 'small', true,
                   100, false, 'credit', false, false, 40000, NULL, true, 0, NULL,
                   'active', false)::stats_loan
FROM generate_series(1, 6000) g, (VALUES (1), (-1)) AS s(sign);
""")
    deadline = time.monotonic() + 60
    while harness.psql('SELECT count(*) FROM stats_pending') != [['0']]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    got = _reaches('finreg_compactor_chunks_total', '', chunks + 3)
    assert got >= chunks + 3, (chunks, got)
    # The gauge is counted once a run has caught up, after its last chunk was counted
    # (compactor.c): it may lag that counter by the count's own time.
    pending = harness.poll(lambda: _sample(_metrics(), 'finreg_stats_pending_rows'), 3.0,
                           lambda v: v == 0)
    assert pending == 0, pending
    rows = harness.psql("SELECT count(*), coalesce(sum(abs(n)) + sum(abs(amount)), 0) "
                        "FROM stats_new_loans WHERE bank_code = 'NO-SUCH-BANK' "
                        "OR key = 'NO-SUCH-BANK'")
    assert rows[0][0] != '0' and rows[0][1] == '0', rows    # folded, and add up to nothing
    # The zero rows of the made-up bank go, so no later answer lists it.
    harness.psql("DELETE FROM stats_new_loans WHERE 'NO-SUCH-BANK' IN (bank_code, key);"
                 "DELETE FROM stats_balance WHERE bank_code = 'NO-SUCH-BANK';")
