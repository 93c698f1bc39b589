"""Transport and authentication basics that need no tables besides principals: health check
without a certificate, and the 401 error shape for a /v1 request without credentials."""

import harness


def test_healthz_answers_without_certificate():
    r = harness.client(None).get('/healthz')
    assert r.status == 200, r
    assert r.headers.get('x-request-id'), dict(r.headers)


def test_no_certificate_is_401_json_with_request_id():
    r = harness.client(None).get('/v1/whoami')
    assert r.status == 401, r
    assert r.headers.get('content-type', '').startswith('application/json'), dict(r.headers)
    err = r.json()['error']
    assert err['code'] == 'unauthenticated', err
    assert isinstance(err.get('message'), str) and err['message'], err
    assert err.get('request_id'), err
    assert r.headers.get('X-Request-Id') == err['request_id'], (dict(r.headers), err)
