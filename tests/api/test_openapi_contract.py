"""The served contract (GET /v1/openapi.json) is one a bank can generate its client from: every
operation has a unique operationId, every response a content with a schema, and the endpoints
that answer ?format=xlsx say so (parameter and media type). make openapi-lint checks the same
file with Redocly's CLI; this checks what the server actually serves."""

import harness

XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
METHODS = ('get', 'put', 'post', 'patch', 'delete')


def served():
    r = harness.client(None).get('/v1/openapi.json')
    assert r.status == 200, r
    return r.json()


def test_every_operation_has_a_unique_operation_id_and_every_response_a_schema():
    doc = served()
    ids = []
    for path, item in doc['paths'].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            assert op.get('operationId'), (method, path)
            ids.append(op['operationId'])
            # a success, or a redirect (GET /dashboard answers 301 to /dashboard/)
            assert any(s[0] in '23' for s in op['responses']), (method, path)
            for status, resp in op['responses'].items():
                if '$ref' in resp:
                    resp = doc['components']['responses'][resp['$ref'].rsplit('/', 1)[1]]
                assert resp.get('content'), (method, path, status)
                for media, m in resp['content'].items():
                    assert 'schema' in m, (method, path, status, media)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_xlsx_endpoints_declare_the_format_and_the_workbook():
    doc = served()
    for path in ('/v1/referrals/export', '/v1/whitelist', '/v1/loans', '/v1/stats/new-loans',
                 '/v1/stats/pricing', '/v1/stats/lending-growth', '/v1/stats/targets',
                 '/v1/stats/guarantee-leverage', '/v1/stats/referrals', '/v1/stats/scf-rewards'):
        op = doc['paths'][path]['get']
        fmt = [p for p in op['parameters'] if p['name'] == 'format']
        assert fmt and 'xlsx' in fmt[0]['schema']['enum'], (path, fmt)
        assert XLSX in op['responses']['200']['content'], path
    met = doc['components']['schemas']['TargetRow']['properties']['met']
    assert met['type'] == ['boolean', 'null'], met
