"""Test data builders shared by the API tests: valid unified social credit codes (USCC,
GB 32100-2015 check character computed here, independently of the server), and loan
objects in the contract's shape with sensible defaults."""

import itertools
import random

ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
WEIGHTS = [pow(3, i, 31) for i in range(17)]
_counter = itertools.count(1)


def uscc_check(body17):
    total = sum(ALPHABET.index(c) * w for c, w in zip(body17, WEIGHTS))
    check = 31 - total % 31
    return ALPHABET[0 if check == 31 else check]


def make_uscc(rng=None):
    """A fresh, valid USCC: 91 (enterprise) + 350402 (Sanming) + 9 random + check."""
    rng = rng or random
    body = '91350402' + ''.join(rng.choice(ALPHABET) for _ in range(9))
    return body + uscc_check(body)


def firm(uscc=None, name=None, county_code='350402', industry_code='3412', size='small'):
    uscc = uscc or make_uscc()
    return {'uscc': uscc, 'name': name or '三明测试企业%s有限公司' % uscc[-5:],
            'county_code': county_code, 'industry_code': industry_code, 'size': size}


def loan(loan_ref=None, borrower=None, **fields):
    """A valid loan object; keyword arguments replace (or, with value ..., drop) fields."""
    body = {
        'loan_ref': loan_ref or 'T-%d-%06d' % (random.randrange(10**6), next(_counter)),
        'borrower': borrower or firm(),
        'amount': '5000000.00',
        'issue_date': '2020-05-12',
        'maturity_date': '2023-05-11',
        'rate': '4.3500',
        'guarantee_mode': 'credit',
        'guarantor_code': None,
        'first_loan': True,
        'renewal': False,
        'renews_loan_ref': None,
        'scf_program_id': None,
        'relief_fund': False,
        'credit_line': '5000000.00',
    }
    for k, v in fields.items():
        if v is ...:
            body.pop(k, None)
        else:
            body[k] = v
    return body


# --------------------------------------------------------------------------- loan-registry tests

import datetime as _dt

CN_TZ = _dt.timezone(_dt.timedelta(hours=8))
LOAN_FIELDS = ['loan_ref', 'borrower', 'amount', 'issue_date', 'maturity_date', 'rate',
               'guarantee_mode', 'guarantor_code', 'first_loan', 'renewal', 'renews_loan_ref',
               'scf_program_id', 'relief_fund', 'credit_line']
FIRM_FIELDS = ['uscc', 'name', 'county_code', 'industry_code', 'size']


def today_cn():
    """Today's date in the registry's time zone (Asia/Shanghai, UTC+8), a datetime.date."""
    return _dt.datetime.now(CN_TZ).date()


def day(d, plus=0):
    """'YYYY-MM-DD' of date d (a date or 'YYYY-MM-DD') plus `plus` days."""
    if isinstance(d, str):
        d = _dt.date.fromisoformat(d)
    return (d + _dt.timedelta(days=plus)).isoformat()


def uscc_with_letters(rng=None):
    """A fresh valid USCC whose organisation code holds letters (to test case folding)."""
    rng = rng or random
    letters = [c for c in ALPHABET if c.isalpha()]
    body = '91350402' + ''.join(rng.choice(letters) for _ in range(4)) + \
        ''.join(rng.choice(ALPHABET) for _ in range(5))
    return body + uscc_check(body)


def bad_check_uscc(rng=None):
    """A USCC of the right alphabet and length whose check character is wrong."""
    good = make_uscc(rng)
    wrong = ALPHABET[(ALPHABET.index(good[-1]) + 1) % len(ALPHABET)]
    return good[:-1] + wrong


def loan_ref(prefix='T'):
    """A loan_ref no other loan of the run uses."""
    return '%s-%d-%06d' % (prefix, random.randrange(10**9), next(_counter))


def loans_of(borrower, n, **fields):
    """n valid loans to the same borrower (each its own loan_ref)."""
    return [loan(borrower=dict(borrower), **fields) for _ in range(n)]


def repayment(repayment_ref=None, date='2021-01-15', amount='1000000.00'):
    return {'repayment_ref': repayment_ref or loan_ref('R'), 'date': date, 'amount': amount}


def _csv_cell(v):
    if v is None:
        s = ''
    elif v is True:
        s = 'true'
    elif v is False:
        s = 'false'
    else:
        s = str(v)
    if any(ch in s for ch in ',"\r\n') or s != s.strip():
        s = '"' + s.replace('"', '""') + '"'
    return s


def loans_csv(loans, bom=True, crlf=True, columns=None):
    """The CSV batch body of `loans` (dicts in the contract's JSON shape): a header row of the
    JSON field names (borrower.uscc style), RFC 4180 quoting, optional UTF-8 BOM and CRLF.
    Absent and null values are empty cells. Returns bytes."""
    columns = columns or ['loan_ref'] + ['borrower.' + f for f in FIRM_FIELDS] + LOAN_FIELDS[2:]
    nl = '\r\n' if crlf else '\n'
    lines = [','.join(columns)]
    for item in loans:
        cells = []
        for col in columns:
            if col.startswith('borrower.'):
                v = (item.get('borrower') or {}).get(col.split('.', 1)[1])
            else:
                v = item.get(col)
            cells.append(_csv_cell(v))
        lines.append(','.join(cells))
    text = nl.join(lines) + nl
    return (b'\xef\xbb\xbf' if bom else b'') + text.encode('utf-8')


# --------------------------------------------------------------------------- derived fields

LPR_HISTORY = [  # effective from, one-year, five-year (percent x 10000), docs/domain.md
    ('2019-08-20', 42500, 48500), ('2019-09-20', 42000, 48500), ('2019-11-20', 41500, 48000),
    ('2020-02-20', 40500, 47500), ('2020-04-20', 38500, 46500)]


def add_months(d, months):
    """d plus whole months, the day clamped to the month's last (2020-01-31 + 1 = 2020-02-29)."""
    import calendar
    index = d.year * 12 + d.month - 1 + months
    y, m = divmod(index, 12)
    m += 1
    return _dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _fixed(s, places):
    whole, _, frac = s.partition('.')
    return int(whole) * 10 ** places + int((frac + '0' * places)[:places] or 0)


def expected_derived(item):
    """The derived fields docs/domain.md defines, computed here from a loan in the contract's
    shape: term_months, medium_long_term, manufacturing, inclusive_small_micro, lpr_tenor, lpr,
    spread_bp."""
    issue = _dt.date.fromisoformat(item['issue_date'])
    maturity = _dt.date.fromisoformat(item['maturity_date'])
    end = maturity + _dt.timedelta(days=1)
    months = 0
    while add_months(issue, months + 1) <= end:
        months += 1
    division = int(item['borrower']['industry_code'][:2])
    line = _fixed(item.get('credit_line') or item['amount'], 2)
    five = maturity > add_months(issue, 60)     # above five years, as medium/long-term's year
    lpr = None
    for since, one_y, five_y in LPR_HISTORY:
        if since <= item['issue_date']:
            lpr = five_y if five else one_y
    spread = None
    if lpr is not None:
        diff = _fixed(item['rate'], 4) - lpr            # 1/10000 percent; 100 of them a bp
        q, r = divmod(abs(diff), 100)
        q += 1 if 2 * r >= 100 else 0
        spread = q if diff >= 0 else -q
    return {
        'term_months': months,
        'medium_long_term': maturity > add_months(issue, 12),
        'manufacturing': 13 <= division <= 43,
        'inclusive_small_micro': item['borrower']['size'] in ('small', 'micro')
        and line <= 1000000000,
        'lpr_tenor': '5Y' if five else '1Y',
        'lpr': None if lpr is None else '%d.%04d' % divmod(lpr, 10000),
        'spread_bp': spread,
    }


def random_loan(rng, today=None):
    """A valid loan with random dates (2019-06 to today, terms 1 day to 10 years, month ends
    and leap days favoured), rate, size, industry and credit line."""
    today = today or today_cn()
    start = _dt.date(2019, 6, 1)
    span = (today - start).days
    if rng.random() < 0.3:       # a month end or a leap day
        y = rng.randrange(2019, today.year + 1)
        m = rng.randrange(1, 13)
        import calendar
        issue = _dt.date(y, m, calendar.monthrange(y, m)[1])
        if issue < start or issue > today:
            issue = start + _dt.timedelta(days=rng.randrange(span + 1))
    else:
        issue = start + _dt.timedelta(days=rng.randrange(span + 1))
    kind = rng.random()
    if kind < 0.4:               # around whole months and years
        maturity = add_months(issue, rng.choice([1, 6, 11, 12, 13, 24, 36, 59, 60, 61, 120]))
        maturity += _dt.timedelta(days=rng.choice([-2, -1, 0, 1]))
    else:
        maturity = issue + _dt.timedelta(days=rng.randrange(1, 3700))
    if maturity <= issue:
        maturity = issue + _dt.timedelta(days=1)
    amount_fen = rng.choice([1, 99, 100000, 500000000, 999999999, 1000000000, 1000000001])
    line_fen = amount_fen + rng.choice([0, 0, 1, 500000000])
    rate = rng.randrange(1, 150000)
    return loan(borrower=firm(industry_code='%02d%02d' % (rng.randrange(1, 98),
                                                          rng.randrange(0, 100)),
                              size=rng.choice(['large', 'medium', 'small', 'micro'])),
                amount='%d.%02d' % divmod(amount_fen, 100),
                credit_line=rng.choice(['%d.%02d' % divmod(line_fen, 100), None]),
                issue_date=issue.isoformat(), maturity_date=maturity.isoformat(),
                rate='%d.%04d' % divmod(rate, 10000))
