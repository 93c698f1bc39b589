"""Operations endpoints (no certificate needed): /healthz, /readyz on a healthy server,
/metrics in Prometheus text format, the OpenAPI document covering every route of the C route
table, and the JSON access log on the server's stdout."""

import json
import os
import re
import time

import harness

ROUTER_C = os.path.join(harness.ROOT, 'service', 'http', 'router.c')


def test_healthz_is_200_json_without_certificate():
    r = harness.client(None).get('/healthz')
    assert r.status == 200, r
    assert r.header('Content-Type', '').startswith('application/json'), dict(r.headers)
    assert r.json() == {'status': 'ok'}, r


def test_readyz_is_200_with_schema_version_when_migrated():
    r = harness.client(None).get('/readyz')
    assert r.status == 200, r
    body = r.json()
    latest = max(int(m.group(1)) for m in
                 (re.fullmatch(r'(\d+)_.*\.sql', f)
                  for f in os.listdir(os.path.join(harness.ROOT, 'migrations'))) if m)
    assert body == {'status': 'ready', 'schema_version': latest, 'writable': True}, body
    r = harness.client(None).get('/readyz?write=1')
    assert r.status == 200 and r.json()['writable'] is True, r
    rows = harness.psql('SELECT max(version) FROM schema_migrations')
    assert rows == [[str(latest)]], rows


def _metrics(server=None):
    r = harness.client(None, server=server).get('/metrics')
    assert r.status == 200, r
    assert r.header('Content-Type', '').startswith('text/plain'), dict(r.headers)
    return r.text


def _sample(text, name, labels=''):
    """The value of one sample line `name{labels} value` (0 when absent)."""
    pattern = re.escape(name + (('{' + labels + '}') if labels else '')) + r' (\S+)$'
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def _sample_reaches(name, labels, want, timeout=3):
    """Polls /metrics until the sample is at least want (a request is counted when it
    completes, which may be just after its answer reached us); returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = _sample(_metrics(), name, labels)
        if got >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_metrics_count_requests_by_route_and_status():
    labels = 'route="GET /v1/whoami",status="200"'
    before = _sample(_metrics(), 'finreg_http_requests_total', labels)
    c = harness.client('bank')
    for _ in range(3):
        assert c.get('/v1/whoami').status == 200
    after = _sample_reaches('finreg_http_requests_total', labels, before + 3)
    assert after == before + 3, (before, after)
    unauth = 'route="GET /v1/whoami",status="401"'
    b401 = _sample(_metrics(), 'finreg_http_requests_total', unauth)
    assert harness.client(None).get('/v1/whoami').status == 401
    assert _sample_reaches('finreg_http_requests_total', unauth, b401 + 1) == b401 + 1


def test_metrics_unmatched_paths_share_one_label():
    labels = 'route="unmatched",status="404"'
    before = _sample(_metrics(), 'finreg_http_requests_total', labels)
    secret = '/no/such/' + harness.unique()
    assert harness.client(None).get(secret).status == 404
    assert _sample_reaches('finreg_http_requests_total', labels, before + 1) == before + 1
    assert secret not in _metrics()


def test_metrics_has_latency_histogram_and_db_counters():
    text = _metrics()
    assert '# TYPE finreg_http_requests_total counter' in text
    assert '# TYPE finreg_http_request_duration_seconds histogram' in text
    buckets = re.findall(r'^finreg_http_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$',
                         text, re.M)
    assert len(buckets) >= 5 and buckets[-1][0] == '+Inf', buckets
    counts = [int(n) for _, n in buckets]
    assert counts == sorted(counts), 'buckets are not cumulative'
    count = _sample(text, 'finreg_http_request_duration_seconds_count')
    assert count == counts[-1] and count > 0, (count, counts)
    assert re.search(r'^finreg_http_request_duration_seconds_sum \d+\.\d+$', text, re.M)
    for name in ('finreg_db_errors_total', 'finreg_db_reconnects_total',
                 'finreg_db_connect_failures_total'):
        assert f'# TYPE {name} counter' in text, name
        assert re.search(rf'^{name} \d+$', text, re.M), name
    # every sample line is `name{labels} number` or `name number`
    for line in text.splitlines():
        if line and not line.startswith('#'):
            assert re.fullmatch(r'[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? '
                                r'[0-9.e+-]+', line), line


def _route_table():
    """(method, pattern) of every row of the route table in service/http/router.c."""
    with open(ROUTER_C, encoding='utf-8') as f:
        src = f.read()
    table = re.search(r'static const struct route routes\[\] = \{(.*?)\n\};', src, re.S)
    assert table, 'route table not found in router.c'
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', table.group(1))
    assert len(rows) >= 5, rows
    return rows


def test_openapi_is_3_1_and_documents_every_route_in_router_c():
    r = harness.client(None).get('/v1/openapi.json')
    assert r.status == 200, r
    assert r.header('Content-Type', '').startswith('application/json'), dict(r.headers)
    doc = r.json()
    assert doc.get('openapi') == '3.1.0', doc.get('openapi')
    assert doc.get('info', {}).get('title'), doc.get('info')
    paths = doc.get('paths', {})
    missing = [f'{m} {p}' for m, p in _route_table() if m.lower() not in paths.get(p, {})]
    assert not missing, f'routes of router.c missing from the OpenAPI document: {missing}'


def test_openapi_is_served_without_certificate_and_matches_docs_file():
    r = harness.client(None).get('/v1/openapi.json')
    with open(os.path.join(harness.ROOT, 'docs', 'openapi.json'), encoding='utf-8') as f:
        assert r.json() == json.load(f)


def _access_lines(server, rid, timeout=3):
    """The access-log lines (parsed) of request id rid; polls, the line is written when the
    request completes."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for line in server.log().splitlines():
            if line.startswith('{') and rid in line:
                found.append(json.loads(line))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_access_log_has_one_json_line_per_request_with_principal():
    rid = harness.unique('log-test-')
    r = harness.client('bank').get('/v1/loans?limit=1', headers={'X-Request-Id': rid})
    assert r.status == 200 and r.header('X-Request-Id') == rid, r
    lines = _access_lines(harness.server(), rid)
    assert len(lines) == 1, lines
    line = lines[0]
    assert set(line) >= {'time', 'request_id', 'principal', 'method', 'path', 'status', 'us'}
    assert line['request_id'] == rid and line['principal'] == 'CIB-SM', line
    assert line['method'] == 'GET' and line['path'] == '/v1/loans', line   # no query
    assert line['status'] == 200 and isinstance(line['us'], int) and line['us'] >= 0, line
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)',
                        line['time']), line


def test_access_log_records_refused_requests_without_principal():
    rid = harness.unique('log-401-')
    r = harness.client(None).get('/v1/whoami', headers={'X-Request-Id': rid})
    assert r.status == 401, r
    lines = _access_lines(harness.server(), rid)
    assert len(lines) == 1, lines
    assert lines[0]['status'] == 401 and lines[0]['principal'] is None, lines


def test_access_log_escapes_odd_paths_as_json():
    rid = harness.unique('log-odd-')
    path = '/v1/%22quote%22/%E4%B8%AD'
    r = harness.client('bank').get(path, headers={'X-Request-Id': rid})
    assert r.status == 404, r
    lines = _access_lines(harness.server(), rid)
    assert len(lines) == 1 and lines[0]['path'] == path, lines
