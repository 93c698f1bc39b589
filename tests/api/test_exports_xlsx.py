"""?format=xlsx on every list a regulator hands on (referral export, whitelist, loans list) and
every statistics endpoint: the workbook is read back with an independent reader (openpyxl,
and LibreOffice headless converting it to CSV) and compared cell by cell with the JSON answer,
types too: USCCs, codes and references are text cells, money numbers shown with two decimals,
dates real dates. Formula-looking text comes out as text with a leading apostrophe. Names
beside codes in statistics, met: null for an unknown actual, and an unknown format is 422
everywhere a format is taken."""

import csv
import datetime as dt
import decimal
import io
import os
import subprocess
import sys
import tempfile

try:
    import openpyxl
except ImportError:     # Debian's python3-openpyxl, under a python3 that is not Debian's
    sys.path.append('/usr/lib/python3/dist-packages')
    import openpyxl

import finreg_data as data
import harness

XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
AWKWARD = ['=HYPERLINK("http://x","y")', '+86 贸易行', '-负号商行', '@提及公司',
           '普通企业, "引号"有限公司', '-1200.50']


def guarded(text):
    """The text a text cell holds: text beginning like a formula gets a leading apostrophe,
    with no exception (api.md), also one that reads as a signed number."""
    if text and text[0] in '=+-@\t\r':
        return "'" + text
    return text


def all_digit_uscc():
    """A valid USCC of digits only, the kind Excel turns into 9.14E+17 when it is a number."""
    import random
    while True:
        body = '91350402' + ''.join(random.choice('0123456789') for _ in range(9))
        u = body + data.uscc_check(body)
        if u.isdigit():
            return u


def workbook(r, name):
    """Asserts the reply is an XLSX attachment and returns its only sheet (openpyxl)."""
    assert r.status == 200, r
    assert r.header('Content-Type') == XLSX_TYPE, dict(r.headers)
    disp = r.header('Content-Disposition')
    assert disp.startswith('attachment; filename="%s-' % name) and disp.endswith('.xlsx"'), disp
    wb = openpyxl.load_workbook(io.BytesIO(r.body))
    assert len(wb.worksheets) == 1
    ws = wb.worksheets[0]
    assert ws.freeze_panes == 'A2', ws.freeze_panes
    return ws


def member(obj, key):
    for part in key.split('.'):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def check_cell(cell, kind, value, where):
    """One cell against its JSON value, by kind: text, money, int, num, date, ts, bool."""
    v = cell.value
    if value is None or value == '':
        assert v is None, (where, v)
        return
    if kind == 'text':
        assert cell.data_type == 's' and v == guarded(str(value)), (where, v, value)
    elif kind == 'money':
        assert cell.data_type == 'n' and isinstance(v, (int, float)), (where, v)
        assert decimal.Decimal(repr(v)).quantize(decimal.Decimal('0.01')) == \
            decimal.Decimal(value), (where, v, value)
        assert cell.number_format == '#,##0.00', (where, cell.number_format)
    elif kind == 'int':
        assert cell.data_type == 'n' and v == int(value), (where, v, value)
    elif kind == 'num':
        assert cell.data_type == 'n' and abs(v - float(value)) < 1e-9, (where, v, value)
    elif kind == 'date':
        assert cell.is_date and v.date() == dt.date.fromisoformat(value), (where, v, value)
        assert cell.number_format == 'yyyy-mm-dd', (where, cell.number_format)
    elif kind == 'ts':
        assert cell.is_date and v == dt.datetime.fromisoformat(value[:19]), (where, v, value)
    elif kind == 'bool':
        assert cell.data_type == 'b' and v is value, (where, v, value)
    else:
        raise AssertionError(kind)


def check_sheet(ws, titles, cols, items, total=None):
    """Header titles, then one row per item (and a total row whose first cell is 合计)."""
    rows = list(ws.iter_rows())
    assert [c.value for c in rows[0]] == titles, [c.value for c in rows[0]]
    expected = list(items) + ([dict(total, **{cols[0][0]: '合计'})] if total else [])
    assert len(rows) - 1 == len(expected), (len(rows) - 1, len(expected))
    for i, (row, item) in enumerate(zip(rows[1:], expected)):
        for cell, (key, kind) in zip(row, cols):
            check_cell(cell, kind, member(item, key), (i, key))


# --------------------------------------------------------------------------- lists

REFERRAL_COLS = [('id', 'text'), ('uscc', 'text'), ('name', 'text'), ('county_code', 'text'),
                 ('industry_code', 'text'), ('size', 'text'), ('bank_code', 'text'),
                 ('requested_amount', 'money'), ('reason', 'text'), ('referred_on', 'date'),
                 ('status', 'text'), ('decline_reason', 'text'), ('loan_ref', 'text'),
                 ('funded_amount', 'money'), ('created_at', 'ts'), ('updated_at', 'ts')]
REFERRAL_TITLES = ['推荐编号', '统一社会信用代码', '企业名称', '区县代码', '行业代码', '企业规模',
                   '承接银行', '申请金额（元）', '推荐理由', '推荐日期', '状态', '拒绝原因',
                   '贷款合同号', '放款金额（元）', '创建时间', '更新时间']


def refer_awkward(bank):
    reg = harness.client('regulator')
    for i, name in enumerate(AWKWARD):
        f = data.firm(uscc=all_digit_uscc() if i == 0 else None, name=name)
        r = reg.post('/v1/referrals', json=dict(f, bank_code=bank, requested_amount='1234567.89',
                                                reason='=1+1 受疫情影响\n资金紧张',
                                                referred_on='2020-03-0%d' % (i + 1)))
        assert r.status == 201, r


def test_referral_export_xlsx_equals_the_json_export_cell_by_cell():
    bank = harness.new_principal('bank')
    refer_awkward(bank.code)
    c = harness.client(bank)
    items = c.get('/v1/referrals/export?format=json').json()['items']
    assert len(items) == len(AWKWARD) and items[0]['uscc'].isdigit()
    ws = workbook(c.get('/v1/referrals/export?format=xlsx'), 'referrals')
    check_sheet(ws, REFERRAL_TITLES, REFERRAL_COLS, items)
    assert ws['C2'].value == '\'=HYPERLINK("http://x","y")' and ws['C2'].data_type == 's'
    assert ws['B2'].value == items[0]['uscc'] and ws['B2'].data_type == 's'


def test_referral_export_xlsx_reads_the_same_in_libreoffice():
    bank = harness.new_principal('bank')
    refer_awkward(bank.code)
    c = harness.client(bank)
    items = c.get('/v1/referrals/export?format=json').json()['items']
    rows = libreoffice_csv(c.get('/v1/referrals/export?format=xlsx').body)
    assert rows[0] == REFERRAL_TITLES, rows[0]
    assert len(rows) == len(items) + 1
    for row, item in zip(rows[1:], items):
        assert row[1] == item['uscc'], row          # 18 digits, never 9.14E+17
        assert row[2] == guarded(item['name']), row
        assert row[7] == '{:,.2f}'.format(decimal.Decimal(item['requested_amount'])), row
        assert row[9] == item['referred_on'], row
        assert row[14] == item['created_at'][:19].replace('T', ' '), row


def libreoffice_csv(body):
    """The workbook converted to CSV by LibreOffice headless (cells as shown, UTF-8), with a
    profile directory of its own."""
    with tempfile.TemporaryDirectory(dir=harness.run_dir()) as d:
        src = os.path.join(d, 'in.xlsx')
        with open(src, 'wb') as f:
            f.write(body)
        subprocess.run(['soffice', '-env:UserInstallation=file://' + os.path.join(d, 'profile'),
                        '--headless', '--convert-to',
                        'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true',
                        '--outdir', os.path.join(d, 'out'), src],
                       check=True, capture_output=True, timeout=180)
        with open(os.path.join(d, 'out', 'in.csv'), encoding='utf-8') as f:
            return list(csv.reader(f))


LOAN_COLS = [('loan_ref', 'text'), ('bank_code', 'text'), ('borrower.uscc', 'text'),
             ('borrower.name', 'text'), ('borrower.county_code', 'text'),
             ('borrower.industry_code', 'text'), ('borrower.size', 'text'), ('amount', 'money'),
             ('issue_date', 'date'), ('maturity_date', 'date'), ('term_months', 'int'),
             ('rate', 'num'), ('lpr_tenor', 'text'), ('lpr', 'num'), ('spread_bp', 'int'),
             ('guarantee_mode', 'text'), ('guarantor_code', 'text'), ('first_loan', 'bool'),
             ('registry_first_loan', 'bool'), ('renewal', 'bool'), ('renews_loan_ref', 'text'),
             ('medium_long_term', 'bool'), ('manufacturing', 'bool'),
             ('inclusive_small_micro', 'bool'), ('scf_program_id', 'int'),
             ('relief_fund', 'bool'), ('credit_line', 'money'), ('outstanding', 'money'),
             ('status', 'text'), ('version', 'int'), ('created_at', 'ts'), ('updated_at', 'ts')]


def test_loans_list_xlsx_holds_every_loan_of_the_filter():
    bank = harness.new_principal('bank')
    c = harness.client(bank)
    for i, name in enumerate(AWKWARD):
        b = data.loan(loan_ref='=XL-%d' % i if i == 0 else None,
                      borrower=data.firm(uscc=all_digit_uscc(), name=name),
                      amount='%d.05' % (1000000 + i), issue_date='2020-04-%02d' % (i + 1))
        r = c.post('/v1/loans', json=b)
        assert r.status == 201, r
    items = c.get('/v1/loans?limit=1000').json()['items']
    ws = workbook(c.get('/v1/loans?format=xlsx'), 'loans')
    check_sheet(ws, [c.value for c in next(ws.iter_rows())], LOAN_COLS, items)
    assert ws['A2'].value == "'=XL-0" or any(r[0].value == "'=XL-0" for r in ws.iter_rows())
    one = c.get('/v1/loans?format=xlsx&issued_from=2020-04-02&issued_to=2020-04-02')
    assert workbook(one, 'loans').max_row == 2
    r = c.get('/v1/loans?format=xlsx&limit=10')
    assert r.status == 422 and r.json()['error']['field'] == 'limit', r
    r = harness.client('regulator').get('/v1/loans?format=xlsx&bank=' + bank.code)
    check_sheet(workbook(r, 'loans'), [c.value for c in next(ws.iter_rows())], LOAN_COLS, items)


WHITELIST_COLS = [('id', 'int'), ('uscc', 'text'), ('name', 'text'), ('status', 'text'),
                  ('valid_from', 'date'), ('valid_to', 'date'), ('reason', 'text'),
                  ('county_code', 'text'), ('firm.name', 'text'), ('firm.industry_code', 'text'),
                  ('firm.size', 'text'), ('listed_at', 'ts'), ('listed_by', 'text'),
                  ('removed_at', 'ts'), ('removed_by', 'text'), ('removal_reason', 'text')]


def test_whitelist_xlsx_equals_the_json_list():
    reg = harness.client('regulator')
    today = data.today_cn()
    r = reg.post('/v1/whitelist', json={'uscc': all_digit_uscc(), 'name': AWKWARD[0],
                                         'reason': '@龙头', 'valid_from': data.day(today, -1),
                                         'valid_to': data.day(today, 30)})
    assert r.status == 201, r
    items, cursor = [], ''
    while True:
        page = reg.get('/v1/whitelist?active=all&limit=1000' + cursor).json()
        items += page['items']
        if not page['next_cursor']:
            break
        cursor = '&cursor=' + page['next_cursor']
    ws = workbook(reg.get('/v1/whitelist?format=xlsx&active=all'), 'whitelist')
    check_sheet(ws, [c.value for c in next(ws.iter_rows())], WHITELIST_COLS, items)
    assert next(ws.iter_rows()) [1].value == '统一社会信用代码'


# --------------------------------------------------------------------------- statistics

NEW_LOAN_COLS = [('group', 'text'), ('group_name', 'text'), ('count', 'int'),
                 ('amount', 'money')] + [
    (f + '.' + k, kind) for f in ('first_loan', 'credit', 'medium_long_term', 'renewal')
    for k, kind in (('count', 'int'), ('amount', 'money'), ('share_count', 'num'),
                    ('share_amount', 'num'))]


def stats_bank():
    """A bank of its own with loans in two Sanming counties, one elsewhere, three divisions."""
    bank = harness.new_principal('bank', name='三明测试银行')
    c = harness.client(bank)
    for county, industry, size in (('350402', '3412', 'small'), ('350481', '1311', 'micro'),
                                   ('110105', '5212', 'medium')):
        b = data.loan(borrower=data.firm(county_code=county, industry_code=industry, size=size),
                      issue_date='2020-05-12', amount='1000000.10')
        r = c.post('/v1/loans', json=b)
        assert r.status == 201, r
    return bank


def test_new_loan_groups_carry_names_and_the_xlsx_equals_the_json():
    bank = stats_bank()
    reg = harness.client('regulator')
    q = '/v1/stats/new-loans?from=2020-01-01&to=2020-12-31&bank=%s&group_by=' % bank.code
    names = {}
    for by in ('bank', 'county', 'industry', 'size', 'month'):
        body = reg.get(q + by).json()
        names[by] = {row['group']: row['group_name'] for row in body['rows']}
        ws = workbook(reg.get(q + by + '&format=xlsx'), 'new-loans')
        check_sheet(ws, [c.value for c in next(ws.iter_rows())], NEW_LOAN_COLS, body['rows'],
                    body['total'])
    assert names['bank'] == {bank.code: '三明测试银行'}, names
    assert names['county'] == {'350402': '梅列区', '350481': '永安市', 'other': '其他地区'}, names
    assert names['industry'] == {'34': '通用设备制造业', '13': '农副食品加工业', '52': '零售业'}
    assert names['size'] == {'small': '小型', 'micro': '微型', 'medium': '中型'}, names
    assert names['month'] == {'2020-05': None}, names


def test_every_statistic_answers_xlsx_with_its_rows():
    bank = stats_bank()
    reg = harness.client('regulator')
    cases = [
        ('/v1/stats/pricing?month=2020-05&bank=' + bank.code, 'pricing', None,
         [('period', 'text'), ('count', 'int'), ('amount', 'money'), ('avg_rate', 'num'),
          ('avg_spread_bp', 'num')]),
        ('/v1/stats/lending-growth?year=2020&as_of=2020-12-31&bank=' + bank.code,
         'lending-growth', 'total',
         [('bank_code', 'text'), ('bank_name', 'text')] + [
             (p + k, 'money') for p in ('', 'manufacturing.')
             for k in ('outstanding_start', 'outstanding_as_of', 'increase', 'issued')]),
        ('/v1/stats/referrals', 'referral-progress', 'total',
         [('bank_code', 'text'), ('bank_name', 'text'), ('referrals', 'int'),
          ('referred', 'int'), ('accepted', 'int'), ('declined', 'int'), ('funded', 'int'),
          ('funded_amount', 'money')]),
        ('/v1/stats/scf-rewards?year=2020', 'scf-rewards', 'total',
         [('core_uscc', 'text'), ('core_name', 'text'), ('financing', 'money'),
          ('members_financed', 'int'), ('qualified', 'bool'), ('reward', 'money')]),
        ('/v1/stats/guarantee-leverage', 'guarantee-leverage', 'total',
         [('guarantor_code', 'text'), ('name', 'text'), ('outstanding', 'money'),
          ('net_assets', 'money'), ('net_assets_as_of', 'date'), ('leverage', 'num'),
          ('target', 'num'), ('met', 'bool')]),
        ('/v1/stats/targets?year=2020', 'targets', None, None),
    ]
    for path, name, total_key, cols in cases:
        body = reg.get(path).json()
        ws = workbook(reg.get(path + '&format=xlsx' if '?' in path else path + '?format=xlsx'),
                      name)
        if cols is None:   # targets: money metrics are yuan strings, the others numbers
            cols = [('metric', 'text'), ('metric_name', 'text'), ('target', 'val'),
                    ('actual', 'val'), ('progress', 'num'), ('met', 'bool')]
            rows = list(ws.iter_rows())[1:]
            assert len(rows) == len(body['rows'])
            for row, item in zip(rows, body['rows']):
                for cell, (key, kind) in zip(row, cols):
                    v = item[key]
                    k = kind if kind != 'val' else ('money' if isinstance(v, str) else 'num')
                    check_cell(cell, k, v, (path, key))
            continue
        check_sheet(ws, [c.value for c in next(ws.iter_rows())], cols, body['rows'],
                    body.get(total_key) if total_key else None)
    rows = reg.get('/v1/stats/lending-growth?year=2020&bank=' + bank.code).json()['rows']
    assert [(r['bank_code'], r['bank_name']) for r in rows] == [(bank.code, '三明测试银行')]


def test_the_scorecard_answers_xlsx_a_row_per_bank_with_each_indicator():
    """api.md: each statistics answer also answers ?format=xlsx; the scorecard's indicators
    are two columns each, the value (yuan as money, shares as numbers) and its points."""
    bank = stats_bank()
    reg = harness.client('regulator')
    path = '/v1/stats/scorecard?year=2020&as_of=2020-12-31'
    body = reg.get(path).json()
    assert len(body['rows']) > 1, body['rows']
    _check_scorecard_sheet(workbook(reg.get(path + '&format=xlsx'), 'scorecard'), body)
    r = reg.get(path + '&format=csv')
    assert r.status == 422 and r.json()['error']['field'] == 'format', r
    # A bank's own workbook (bank=self): its one row, ranked among all, as its JSON.
    c = harness.client(bank)
    own = c.get(path + '&bank=self').json()
    assert [x['bank_code'] for x in own['rows']] == [bank.code], own
    _check_scorecard_sheet(workbook(c.get(path + '&bank=self&format=xlsx'), 'scorecard'), own)
    assert c.get(path + '&format=xlsx').status == 403
    assert c.get(path + '&bank=CIB-SM&format=xlsx').status == 403


def _check_scorecard_sheet(ws, body):
    rows = list(ws.iter_rows())
    indicators = ['manufacturing_increase', 'first_loan_share', 'credit_share',
                  'medium_long_share', 'renewal_share', 'small_micro_rate_change_pp',
                  'relief_funded_share', 'scf_financing']
    assert [c.value for c in rows[0]][:4] == ['银行代码', '排名', '总分', '制造业贷款余额增量']
    assert len(rows[0]) == 3 + 2 * len(indicators)
    assert len(rows) - 1 == len(body['rows']) > 0, (len(rows), body['rows'])
    cols = [('bank_code', 'text'), ('rank', 'int'), ('score', 'num')] + [
        ('indicators.%s.%s' % (n, k), None) for n in indicators for k in ('value', 'points')]
    for row, item in zip(rows[1:], body['rows']):
        assert sorted(item['indicators']) == sorted(indicators), item
        for cell, (key, kind) in zip(row, cols):
            v = member(item, key)
            check_cell(cell, kind or ('money' if isinstance(v, str) else 'num'), v, key)


def test_a_target_without_an_actual_is_met_null_not_false():
    reg = harness.client('regulator')
    assert reg.put('/v1/targets/2031/guarantee_leverage', json={'target': '1.5'}).status == 200
    rows = reg.get('/v1/stats/targets?year=2031&as_of=2031-01-01').json()['rows']
    row = [r for r in rows if r['metric'] == 'guarantee_leverage'][0]
    if row['actual'] is None:
        assert row['met'] is None and row['progress'] is None, row
    for r in rows:
        assert r['metric_name'], r
        assert (r['met'] is None) == (r['actual'] is None), r


def test_an_unknown_format_is_422_everywhere_a_format_is_taken():
    reg = harness.client('regulator')
    for path in ('/v1/stats/new-loans?from=2020-01-01&to=2020-12-31',
                 '/v1/stats/pricing?month=2020-05', '/v1/stats/lending-growth?year=2020',
                 '/v1/stats/targets?year=2020', '/v1/stats/guarantee-leverage?as_of=2020-12-31',
                 '/v1/stats/referrals?as_of=2020-12-31', '/v1/stats/scf-rewards?year=2020',
                 '/v1/loans?bank=CIB-SM', '/v1/stats/scorecard?year=2020',
                 '/v1/whitelist?active=all', '/v1/referrals/export?status=referred'):
        for bad in ('xml', 'XLSX', ''):
            r = reg.get(path + '&format=' + bad)
            assert r.status == 422, (path, bad, r)
            err = r.json()['error']
            assert err['code'] == 'invalid_field' and err['field'] == 'format', (path, err)


# --------------------------------------------------------------------------- supervision

FIRM_COLS = [('uscc', 'text'), ('name', 'text'), ('county_code', 'text'),
             ('industry_code', 'text'), ('size', 'text'), ('manufacturing', 'bool'),
             ('first_seen', 'ts'), ('updated_at', 'ts')]
FIRM_TITLES = ['统一社会信用代码', '企业名称', '区县代码', '行业代码', '企业规模', '制造业',
               '首次登记时间', '更新时间']


def test_firms_xlsx_holds_every_firm_of_the_search_as_the_json_pages_do():
    import supervision_world as w
    items, after = [], ''
    while True:         # the JSON list, page by page (2 a page, so the keyset is used)
        page = w.get('regulator', '/v1/firms?limit=2' + after).json()
        items += page['items']
        if not page['next_cursor']:
            break
        after = '&after=' + page['next_cursor']
    assert len(items) > 4, items
    check_sheet(workbook(w.get('regulator', '/v1/firms?format=xlsx'), 'firms'), FIRM_TITLES,
                FIRM_COLS, items)
    q = '/v1/firms?size=medium&q=' + harness.quote('三明')
    narrow = w.get('regulator', q).json()['items']
    assert narrow, q
    check_sheet(workbook(w.get('regulator', q + '&format=xlsx'), 'firms'), FIRM_TITLES,
                FIRM_COLS, narrow)
    for extra, field in (('&limit=5', 'limit'), ('&after=3', 'after'), ('x', 'format')):
        r = w.client('regulator').get('/v1/firms?format=xlsx' + extra)
        assert r.status == 422 and r.json()['error']['field'] == field, (extra, r)
    w.get('bank', '/v1/firms?format=xlsx', expect=403)


ALERT_COLS = [('kind', 'text'), ('bank_code', 'text'), ('uscc', 'text'), ('name', 'text'),
              ('county_code', 'text'), ('outstanding_before', 'money'),
              ('outstanding_as_of', 'money'), ('date', 'date'), ('loan_ref', 'text'),
              ('flags', 'text')]


def _alert_cells(rows):
    """The JSON rows as the sheet writes them: flags joined with ';'."""
    return [dict(r, flags=';'.join(r['flags'])) for r in rows]


def test_withdrawal_alerts_xlsx_equals_the_json_rows_and_a_bank_gets_only_its_own():
    import supervision_world as w
    watch = '/v1/alerts/withdrawals?as_of=2021-09-30'
    rows = w.get('regulator', watch).json()['rows']
    assert len(rows) >= 4 and any(r['flags'] for r in rows) and \
        any(r['loan_ref'] is None for r in rows), rows
    ws = workbook(w.get('regulator', watch + '&format=xlsx'), 'withdrawal-alerts')
    titles = [c.value for c in next(ws.iter_rows())]
    assert titles[1:4] == ['银行代码', '统一社会信用代码', '企业名称'], titles
    check_sheet(ws, titles, ALERT_COLS, _alert_cells(rows))
    own = w.get('bank', watch + '&bank=self').json()['rows']
    assert own and all(r['bank_code'] == w.A for r in own), own
    check_sheet(workbook(w.get('bank', watch + '&bank=self&format=xlsx'), 'withdrawal-alerts'),
                titles, ALERT_COLS, _alert_cells(own))
    w.get('bank', watch + '&format=xlsx', expect=403)
    w.get('bank', watch + '&bank=' + w.B + '&format=xlsx', expect=403)
    lo = libreoffice_csv(w.get('regulator', watch + '&format=xlsx').body)
    assert [r[2] for r in lo[1:]] == [r['uscc'] for r in rows], lo
