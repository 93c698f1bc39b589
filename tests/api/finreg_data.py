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
