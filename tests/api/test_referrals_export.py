"""GET /v1/referrals/export: CSV (BOM, header row in English or Chinese, CRLF, RFC 4180 quoting
of names with commas and quotes and of reasons with line breaks, formula-looking cells
defused) parsed back with the csv module and compared with the list; JSON equal to the list;
rights and parameters; and the server's memory staying flat while 100,000 rows stream out
(on a cluster of its own). bench/export-memory reuses load_referrals() and measure_export()."""

import csv
import io
import threading
import time

import finreg_data as data
import harness

BOM = b'\xef\xbb\xbf'
HEADER_EN = ['id', 'uscc', 'name', 'county_code', 'industry_code', 'size', 'bank_code',
             'requested_amount', 'reason', 'referred_on', 'status', 'decline_reason',
             'loan_ref', 'funded_amount', 'created_at', 'updated_at']
HEADER_ZH = ['推荐编号', '统一社会信用代码', '企业名称', '区县代码', '行业代码', '企业规模',
             '承接银行', '申请金额（元）', '推荐理由', '推荐日期', '状态', '拒绝原因',
             '贷款合同号', '放款金额（元）', '创建时间', '更新时间']
AWKWARD_NAMES = ['三明市明溪县A, B & C有限公司', '名为"双引号"的公司', '=HYPERLINK("http://x")',
                 '+86 贸易行', '-负号商行', '@提及公司', '普通企业有限公司', "it's, \"all\" mixed",
                 '-1200.50']


def refer(firm, bank, **fields):
    b = dict(firm, bank_code=bank, requested_amount='1200000.50',
             reason='受疫情影响\n订单下降，"资金"紧张')
    b.update(fields)
    r = harness.client('regulator').post('/v1/referrals', json=b)
    assert r.status == 201, r
    return r.json()


def export(who, query, server=None):
    r = harness.client(who, server=server, timeout=300).get('/v1/referrals/export?' + query)
    assert r.status == 200, r
    return r


def parse_csv(r):
    """Asserts the CSV shape (type, BOM, CRLF row ends) and returns the rows, header first."""
    assert r.header('Content-Type') == 'text/csv; charset=utf-8', dict(r.headers)
    assert r.body.startswith(BOM), r.body[:20]
    text = r.body[len(BOM):].decode('utf-8')
    assert text.endswith('\r\n'), text[-20:]
    return list(csv.reader(io.StringIO(text, newline=''), strict=True))


def guarded(value):
    """What the CSV holds for a value: text beginning like a formula gets a leading
    apostrophe, with no exception (api.md): also a name that reads as a signed number."""
    if value and value[0] in '=+-@\t\r':
        return "'" + value
    return value


def listed(bank):
    r = harness.client('regulator').get('/v1/referrals?limit=1000&bank=' + bank)
    assert r.status == 200, r
    return r.json()['items']


def test_csv_export_round_trips_awkward_names_and_reasons():
    bank = harness.new_principal('bank')
    for name in AWKWARD_NAMES:
        refer(data.firm(name=name), bank.code)
    declined = refer(data.firm(), bank.code)
    r = harness.client(bank).patch('/v1/referrals/' + declined['id'],
                                   json={'status': 'declined', 'decline_reason': '第一条,\r\n第二条'})
    assert r.status == 200, r
    resp = export('regulator', 'format=csv&bank=' + bank.code)
    assert resp.header('Transfer-Encoding') == 'chunked', dict(resp.headers)
    assert resp.header('Content-Disposition', '').startswith('attachment; filename="referrals-')
    rows = parse_csv(resp)
    assert rows[0] == HEADER_EN, rows[0]
    items = listed(bank.code)
    assert len(rows) == 1 + len(items) == 1 + len(AWKWARD_NAMES) + 1, rows
    for row, item in zip(rows[1:], items):
        expected = [guarded('' if item[k] is None else str(item[k])) for k in HEADER_EN]
        assert row == expected, (row, expected)
    names = [row[2] for row in rows[1:]]
    assert names[:len(AWKWARD_NAMES)] == [guarded(n) for n in AWKWARD_NAMES], names
    assert names[2] == "'=HYPERLINK(\"http://x\")" and names[3] == "'+86 贸易行", names
    assert names[len(AWKWARD_NAMES) - 1] == "'-1200.50", names
    assert rows[-1][11] == '第一条,\r\n第二条' and rows[1][8] == '受疫情影响\n订单下降，"资金"紧张'
    # Row ends are CRLF; a line break inside a quoted cell stays as it was.
    body = resp.body.decode('utf-8')
    assert '\n订单下降' in body and '"三明市明溪县A, B & C有限公司"' in body, body[:400]
    assert '"名为""双引号""的公司"' in body


def test_csv_export_has_chinese_headers_with_lang_zh():
    bank = harness.new_principal('bank')
    ref = refer(data.firm(), bank.code)
    rows = parse_csv(export('regulator', 'lang=zh&bank=' + bank.code))
    assert rows[0] == HEADER_ZH, rows[0]
    assert len(rows) == 2 and rows[1][0] == ref['id'] and rows[1][10] == 'referred', rows
    assert parse_csv(export('regulator', 'lang=en&bank=' + bank.code))[0] == HEADER_EN


def test_json_export_equals_the_list():
    bank = harness.new_principal('bank')
    for name in AWKWARD_NAMES[:3]:
        refer(data.firm(name=name), bank.code)
    r = export(bank, 'format=json')
    assert r.header('Content-Type') == 'application/json', dict(r.headers)
    assert r.json() == {'items': listed(bank.code)}
    empty = harness.new_principal('bank')
    assert export(empty, 'format=json').json() == {'items': []}
    rows = parse_csv(export(empty, 'format=csv'))
    assert rows == [HEADER_EN], rows


def test_export_filters_and_rights():
    bank, other = harness.new_principal('bank'), harness.new_principal('bank')
    mine = [refer(data.firm(county_code=c), bank.code)['id'] for c in ('350402', '350403')]
    theirs = refer(data.firm(), other.code)['id']
    r = harness.client(bank).patch('/v1/referrals/' + mine[1], json={'status': 'accepted'})
    assert r.status == 200, r
    ids = lambda resp: [row[0] for row in parse_csv(resp)[1:]]   # noqa: E731
    assert ids(export(bank, '')) == mine
    assert ids(export(bank, 'bank=self&status=accepted')) == [mine[1]]
    assert ids(export(bank, 'county=350402')) == [mine[0]]
    assert ids(export(other, '')) == [theirs]
    everything = ids(export('regulator', 'format=csv'))
    assert set(mine + [theirs]) <= set(everything), everything
    assert ids(export('regulator', 'bank=%s&status=referred' % bank.code)) == [mine[0]]
    c = harness.client(bank)
    for query, status, code, field in (
            ('bank=' + other.code, 404, 'not_found', None),
            ('format=xls', 422, 'invalid_field', 'format'),
            ('lang=fr', 422, 'invalid_field', 'lang'),
            ('status=closed', 422, 'invalid_field', 'status')):
        r = c.get('/v1/referrals/export?' + query)
        assert r.status == status, (query, r)
        err = r.json()['error']
        assert err['code'] == code and err.get('field') == field, (query, err)
    r = harness.client('guarantor').get('/v1/referrals/export')
    assert r.status == 403 and r.json()['error']['code'] == 'forbidden', r


# --------------------------------------------------------------------------- memory

def setup_cluster():
    """A cluster and server of their own with the dev bank and regulator registered."""
    cluster = harness.Cluster()
    harness.finregd('migrate', cluster=cluster)
    for who in ('bank', 'regulator'):
        kind, code, name = harness.PRINCIPALS[who]
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                        '--cert', harness.cert_paths(who)[0], cluster=cluster)
    return cluster, harness.Server(cluster=cluster)


def load_referrals(cluster, first, last, bank='CIB-SM', year=2020):
    """Inserts referrals number first..last (and their firms) of `year` directly with SQL:
    names with commas and quotes, reasons with line breaks, a mix of statuses."""
    cluster.psql(f"""
        INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)
        SELECT '9135040' || lpad(n::text, 11, '0'),
               format('三明纾困测试企业%s号, "有限"公司', n), '350402', '3412', 'small', 'bench'
        FROM generate_series({first}, {last}) n;
        INSERT INTO referrals (ref, uscc, name, county_code, industry_code, size, bank_code,
                               requested_fen, reason, referred_on, status, decline_reason,
                               created_by)
        SELECT referral_ref({year}, n), '9135040' || lpad(n::text, 11, '0'),
               format('三明纾困测试企业%s号, "有限"公司', n), '350402', '3412', 'small',
               '{bank}', 100000000 + n, E'受疫情影响\\n订单下降，资金周转困难',
               make_date({year}, 1, 1) + n % 300,
               (ARRAY['referred', 'accepted', 'declined'])[n % 3 + 1],
               CASE WHEN n % 3 = 2 THEN '不符合条件' END, 'bench'
        FROM generate_series({first}, {last}) n;
        INSERT INTO referral_counters (year, last) VALUES ({year}, {last})
        ON CONFLICT (year) DO UPDATE SET last = greatest(referral_counters.last, {last});
        ANALYZE referrals;
    """)


def memory(pid):
    """(VmRSS, VmHWM) of process pid in KiB."""
    fields = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                fields[key] = int(value.split()[0])
    return fields['VmRSS'], fields['VmHWM']


def sanitized(pid):
    """True when process pid runs with AddressSanitizer, whose quarantine keeps freed memory
    (256 MB by default), so its RSS says nothing about the program's own use."""
    with open(f'/proc/{pid}/maps') as f:
        return any('libasan' in line for line in f)


def measure_export(server, query='format=csv', who='regulator', keep_body=False):
    """Downloads the export while sampling the server's VmRSS every 5 ms. Returns a dict:
    bytes, rows (lines of the CSV body), seconds, rss_before, rss_peak, hwm_before, hwm_after
    (KiB)."""
    pid = server.proc.pid
    rss_before, hwm_before = memory(pid)
    peak = [rss_before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], memory(pid)[0])
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    started = time.monotonic()
    try:
        r = export(who, query, server=server)
    finally:
        done.set()
        t.join()
    seconds = time.monotonic() - started
    rss_after, hwm_after = memory(pid)
    return {'bytes': len(r.body), 'rows': r.body.count(b'\r\n') - 1, 'seconds': seconds,
            'rss_before': rss_before, 'rss_peak': max(peak[0], rss_after),
            'hwm_before': hwm_before, 'hwm_after': hwm_after,
            'body': r.body if keep_body else None}


def test_export_memory_stays_flat_from_20000_to_100000_rows():
    cluster, server = setup_cluster()
    load_referrals(cluster, 1, 20000)
    warm = measure_export(server)          # first export: connection and buffers set up
    small = measure_export(server)
    load_referrals(cluster, 20001, 100000)
    big = measure_export(server)
    assert warm['rows'] == small['rows'] == 20000 and big['rows'] == 100000, (small, big)
    assert big['bytes'] > 4 * small['bytes'] > 4 * 4_000_000, (small, big)
    if sanitized(server.proc.pid):
        return      # the sanitizer build streams the same rows; its RSS is not comparable
    # The 100,000-row body is over 20 MB; the server's peak grows by no more than a few MiB
    # over its peak with 20,000 rows, and its high-water mark by less than 8 MiB in all.
    assert big['rss_peak'] - small['rss_peak'] < 4 * 1024, (small, big)
    assert big['hwm_after'] - warm['hwm_before'] < 8 * 1024, (warm, big)
    assert big['hwm_after'] * 1024 < big['bytes'] / 1.5, big   # the whole server: 13 MiB


def test_abandoned_export_releases_its_database_connection():
    cluster, server = setup_cluster()
    load_referrals(cluster, 1, 60000)     # 16 MB: more than socket buffers hold
    streams = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'finregd-stream'"
    c = harness.client('regulator', server=server)
    c._connect()
    c.conn.request('GET', '/v1/referrals/export?format=csv')
    r = c.conn.getresponse()
    assert r.status == 200 and r.read(10000).startswith(BOM)
    assert cluster.psql(streams) == [['1']]      # the export's own connection, mid-query
    c.close()                                    # the client goes away mid-body
    deadline = time.monotonic() + 10
    while cluster.psql(streams) != [['0']]:
        assert time.monotonic() < deadline, 'the stream connection was not closed'
        time.sleep(0.1)
    rows = parse_csv(export('regulator', 'format=csv', server=server))
    assert len(rows) == 60001 and rows[-1][0] == 'RF-2020-060000', rows[-1]
