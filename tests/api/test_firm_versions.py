"""A firm's current version in its row (migration 022): a new firm writes no firm_history
row; a change writes the version it replaces there, as it was reported; firm_versions and
GET /v1/firms/{uscc}/history list every version either way, and a firm stored before 022
(its current version in firm_history too) answers as before and is never listed twice."""

import json
import re
import subprocess

import finreg_data as fd
import harness


def history(uscc):
    r = harness.client('regulator').get('/v1/firms/%s/history' % uscc)
    assert r.status == 200, r
    return r


def stored_history(uscc):
    return harness.psql("SELECT name, size, changed_by, source, applied, ts_text(changed_at) "
                        "FROM firm_history WHERE uscc = '%s' ORDER BY id" % uscc)


def firm_row(uscc):
    return harness.psql("SELECT name, size, updated_by, source, ts_text(updated_at) FROM firms "
                        "WHERE uscc = '%s'" % uscc)[0]


def test_a_new_firm_writes_one_row_and_a_change_keeps_the_version_it_replaced():
    bank, bank2 = harness.client('bank'), harness.client('bank2')
    firm = fd.firm(name='三明版本测试机械有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    u = firm['uscc']
    assert stored_history(u) == []
    v1 = firm_row(u)
    assert v1[:4] == [firm['name'], 'small', 'CIB-SM', 'loan'], v1
    assert history(u).json()['items'] == [
        {'changed_at': v1[4], 'changed_by': 'CIB-SM', 'name': firm['name'],
         'county_code': '350402', 'industry_code': '3412', 'size': 'small', 'applied': True}]
    # The same data again changes nothing and writes nothing.
    assert bank2.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    assert stored_history(u) == [] and firm_row(u) == v1

    # Another bank reports a new size, then the first bank a new name: each change keeps
    # the version it replaced, with who reported it, how and when.
    assert bank2.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='micro'))).status == 201
    v2 = firm_row(u)
    assert v2[:4] == [firm['name'], 'micro', 'RCB-SM', 'loan'] and v2[4] > v1[4], v2
    renamed = dict(firm, name='三明版本测试机械股份有限公司', size='micro')
    assert bank.post('/v1/loans', json=fd.loan(borrower=renamed)).status == 201
    v3 = firm_row(u)
    assert v3[:4] == [renamed['name'], 'micro', 'CIB-SM', 'loan'], v3
    assert stored_history(u) == [[firm['name'], 'small', 'CIB-SM', 'loan', 't', v1[4]],
                                 [firm['name'], 'micro', 'RCB-SM', 'loan', 't', v2[4]]]
    items = history(u).json()['items']
    assert [(i['name'], i['size'], i['changed_by'], i['changed_at'], i['applied'])
            for i in items] == [(firm['name'], 'small', 'CIB-SM', v1[4], True),
                                (firm['name'], 'micro', 'RCB-SM', v2[4], True),
                                (renamed['name'], 'micro', 'CIB-SM', v3[4], True)], items
    assert harness.psql("SELECT count(*) FROM firm_versions WHERE uscc = '%s'" % u) == [['3']]


def test_a_firm_stored_before_022_answers_as_before_and_is_never_listed_twice():
    bank = harness.client('bank')
    firm = fd.firm(name='三明旧版企业有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    u = firm['uscc']
    before = history(u).text
    # The shape of a firm stored before 022: the current version in firm_history too (here
    # written by firms_keep_replaced, as the update clears source) and source NULL.
    harness.psql("UPDATE firms SET source = NULL WHERE uscc = '%s'" % u)
    assert len(stored_history(u)) == 1 and firm_row(u)[3] == ''  # NULL
    assert history(u).text == before
    # A change by this code keeps that version once (it is already in firm_history) and
    # the row holds the new one from then on.
    assert bank.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='medium'))).status == 201
    assert len(stored_history(u)) == 1 and firm_row(u)[3] == 'loan'
    items = history(u).json()['items']
    assert [(i['size'], i['applied']) for i in items] == [('small', True), ('medium', True)], \
        items
    assert items[0] == json.loads(before)['items'][0], (items, before)


def test_a_regulators_confirmation_and_a_refused_report_keep_their_order():
    bank, reg = harness.client('bank'), harness.client('regulator')
    firm = fd.firm(name='三明确认顺序企业有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    # The regulator refers the firm with the same data: its version replaces the bank's
    # (regulator_set), then a bank's differing report is kept, not applied.
    r = reg.post('/v1/referrals', json=dict(firm, bank_code='CIB-SM',
                                            requested_amount='1000000.00', reason='测试'))
    assert r.status == 201, r
    other = dict(firm, name='银行另报名称有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=other)).status == 201
    items = history(firm['uscc']).json()['items']
    assert [(i['name'], i['changed_by'], i['applied']) for i in items] == [
        (firm['name'], 'CIB-SM', True), (firm['name'], 'SM-FSB', True),
        (other['name'], 'CIB-SM', False)], items
    assert [i['changed_at'] for i in items] == sorted(i['changed_at'] for i in items), items


def _walk(uscc, limit):
    """Every item of the firm's history, page by page; returns (items, page sizes)."""
    return harness.walk_pages(harness.client('regulator'),
                              '/v1/firms/%s/history?limit=%d' % (uscc, limit),
                              {'uscc', 'items', 'next_cursor'}, 100)


def test_history_is_keyset_paginated_in_its_order_whatever_the_ids():
    # A bank's reports can grow a firm's history without end (each differing report is a
    # version): it answers in pages (api.md's lists: limit 100 by default, at most 1000).
    bank, reg = harness.client('bank'), harness.client('regulator')
    firm = fd.firm(name='三明分页企业有限公司0')
    u = firm['uscc']
    for n in range(6):
        b = dict(firm, name='三明分页企业有限公司%d' % n)
        assert bank.post('/v1/loans', json=fd.loan(borrower=b)).status == 201
    # The regulator's version, then a refused report after it: the current version (the
    # firm's row) is not the last item. And a row whose id is the highest but whose time
    # is the earliest (as firms_keep_replaced writes a replaced version's own time).
    r = reg.post('/v1/referrals', json=dict(firm, name='三明分页企业有限公司R',
                                            bank_code='CIB-SM',
                                            requested_amount='1000000.00', reason='测试'))
    assert r.status == 201, r
    assert bank.post('/v1/loans', json=fd.loan(borrower=dict(firm, name='另报'))).status == 201
    harness.psql("INSERT INTO firm_history (uscc, name, county_code, industry_code, size,"
                 " changed_at, changed_by, source, applied) VALUES ('%s', '最早', '350402',"
                 " '3412', 'small', '2020-01-01T00:00:00+08', 'CIB-SM', 'loan', false)" % u)
    whole = history(u).json()
    assert whole['next_cursor'] is None
    names = [i['name'] for i in whole['items']]
    assert names == ['最早'] + ['三明分页企业有限公司%d' % n for n in range(6)] + \
        ['三明分页企业有限公司R', '另报'], names
    assert [i['applied'] for i in whole['items']][-2:] == [True, False]
    for limit in (1, 2, 3, 4, 9, 10):
        items, sizes = _walk(u, limit)
        assert items == whole['items'], (limit, items)
        assert sum(sizes) == 9 and max(sizes) <= limit, (limit, sizes)
    # A page that ends on the current version goes on with the refused report after it,
    # also when the firm changes between the pages (the current version then moves to
    # firm_history under a new id, at its own time).
    first = reg.get('/v1/firms/%s/history?limit=8' % u).json()
    assert first['items'][-1]['name'] == '三明分页企业有限公司R', first
    assert bank.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='medium'))).status == 201
    rest = reg.get('/v1/firms/%s/history?limit=8&cursor=%s'
                   % (u, harness.quote(first['next_cursor']))).json()
    assert [i['name'] for i in rest['items']][:1] == ['另报'], rest
    assert len(first['items'] + rest['items']) == 10, rest


def test_history_pages_hold_100_by_default_and_malformed_paging_is_422():
    bank, reg = harness.client('bank'), harness.client('regulator')
    firm = fd.firm(name='三明长历史企业有限公司')
    u = firm['uscc']
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    harness.psql("INSERT INTO firm_history (uscc, name, county_code, industry_code, size,"
                 " changed_at, changed_by, source, applied)"
                 " SELECT '%s', '版本' || n, '350402', '3412', 'small',"
                 " '2020-01-01T00:00:00+08'::timestamptz + n * interval '1 second',"
                 " 'CIB-SM', 'loan', true FROM generate_series(1, 1500) n" % u)
    page = history(u).json()
    assert len(page['items']) == 100 and page['next_cursor'], len(page['items'])
    items, sizes = _walk(u, 1000)
    assert sizes == [1000, 501] and items[-1]['name'] == firm['name'], sizes
    assert [i['name'] for i in items[:3]] == ['版本1', '版本2', '版本3']
    for q, field in (('limit=0', 'limit'), ('limit=1001', 'limit'), ('limit=x', 'limit'),
                     ('cursor=', 'cursor'), ('cursor=12', 'cursor'), ('cursor=1.x', 'cursor'),
                     ('cursor=-1.2', 'cursor'), ('cursor=1.2.3', 'cursor'),
                     ('cursor=99999999999999999999.1', 'cursor')):
        r = reg.get('/v1/firms/%s/history?%s' % (u, q))
        assert r.status == 422, (q, r)
        assert (r.json()['error']['code'], r.json()['error']['field']) == \
            ('invalid_field', field), (q, r)


def _plan(cl, sql):
    """The plans of @sql's nested statements too (auto_explain, ANALYZE), as text."""
    ae = ("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
          " SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on;"
          " SET auto_explain.log_level = 'notice'; SET client_min_messages = notice;\n")
    p = subprocess.run([harness.PSQL, '-X', '-q', '-d', cl.url], input=ae + sql,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.stdout


def test_a_deep_history_page_reads_at_most_limit_plus_one_history_rows(ctx):
    """Found by review: the cursor was joined from a CTE, so the index read every version
    before it and a filter threw them away (a page's cost followed its depth: 0.7 s near
    the end of 1,000,000 versions; a walk was quadratic). The cursor's row comparison is
    now the index condition."""
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    reg = srv.client('regulator')
    f = fd.firm(name='三明深页企业有限公司')
    u = f['uscc']
    assert srv.client('bank').post('/v1/loans', json=fd.loan(borrower=f)).status == 201
    n = 100000
    cl.psql("INSERT INTO firm_history (uscc, name, county_code, industry_code, size,"
            " changed_at, changed_by, source, applied)"
            " SELECT '%s', 'v' || n, '350402', '3412', 'small',"
            " '2020-01-01T00:00:00+08'::timestamptz + n * interval '1 second',"
            " 'CIB-SM', 'loan', true FROM generate_series(1, %d) n; ANALYZE firm_history"
            % (u, n))
    us, k = cl.psql("SELECT (extract(epoch FROM changed_at) * 1000000)::bigint, id"
                    " FROM firm_history WHERE uscc = '%s' ORDER BY changed_at, id"
                    " OFFSET %d LIMIT 1" % (u, n - 20))[0]
    r = reg.get('/v1/firms/%s/history?limit=10&cursor=%s.%s' % (u, us, k))
    assert r.status == 200, r
    assert [i['name'] for i in r.json()['items']] == ['v%d' % i for i in range(n - 18, n - 8)]
    out = _plan(cl, "SELECT length(firm_history_page('%s', %s, %s, 10)::text);" % (u, us, k))
    m = re.search(r'Index Scan using firm_history_uscc_changed on firm_history h .*?'
                  r'actual time=\S+ rows=(\d+)', out)
    assert m, out
    assert int(m.group(1)) <= 11, 'the index scan read %s rows for a page of 10:\n%s' % (
        m.group(1), out[out.find('Limit'):][:2500])


def test_a_history_cursor_of_a_time_past_year_9999_is_422_not_500():
    # Found by review: the position's time overflowed an interval (500 internal).
    reg = harness.client('regulator')
    f = fd.firm(name='三明游标企业有限公司')
    assert harness.client('bank').post('/v1/loans', json=fd.loan(borrower=f)).status == 201
    for cursor in ('9223372036854775807.1', '253402300800000000.1'):
        r = reg.get('/v1/firms/%s/history?cursor=%s' % (f['uscc'], cursor))
        assert r.status == 422 and r.json()['error']['field'] == 'cursor', r
    r = reg.get('/v1/firms/%s/history?cursor=253402300799999999.1' % f['uscc'])
    assert r.status == 200 and r.json()['items'] == [], r
