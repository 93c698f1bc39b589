#!/usr/bin/env python3
"""The mixed part of bench/soak: one keep-alive mTLS client that, until SECONDS have passed,
posts a loan, reads it, lists its borrower's loans, corrects it (PUT with If-Match), repays
part of it, reads its history, asks for the bank's own statistics and, every 20th loan,
exports the borrower's loans as XLSX. Prints "operations failures" at the end.
Usage: soak_mixed.py PORT CA CERT KEY PREFIX SECONDS"""
import http.client
import json
import ssl
import sys
import time

port, ca, cert, key, prefix, seconds = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
conn = None
ops = fails = 0
times = {}     # (operation, status) -> seconds of each answer


def call(method, path, body=None, headers=None):
    """One request on the keep-alive connection (made again after an error)."""
    global conn, ops, fails
    ops += 1
    t0 = time.monotonic()
    op = method + '_' + path.split('?')[0].split('/')[2] + \
        ('_' + path.split('/')[-1] if path.count('/') > 3 else '')
    try:
        if conn is None:
            conn = http.client.HTTPSConnection('localhost', int(port), context=ctx, timeout=30)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h['Content-Type'] = 'application/json'
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        if r.status >= 300:
            fails += 1
        times.setdefault((op, r.status), []).append(time.monotonic() - t0)
        return r.status, payload
    except (OSError, http.client.HTTPException):
        fails += 1
        conn = None
        times.setdefault((op, 0), []).append(time.monotonic() - t0)
        return 0, b''


def uscc(n):
    """A valid USCC from a number: 91350402, nine base-31 characters, the check character."""
    alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY'
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    body = ''
    for _ in range(9):
        body = alphabet[n % 31] + body
        n //= 31
    s = '91350402' + body
    check = (31 - sum(alphabet.index(c) * w for c, w in zip(s, weights)) % 31) % 31
    return s + alphabet[check]


def loan(ref, borrower, amount):
    return {'loan_ref': ref, 'borrower': {'uscc': borrower, 'name': '三明测试贸易有限公司',
            'county_code': '350402', 'industry_code': '5191', 'size': 'micro'},
            'amount': '%d.00' % amount, 'issue_date': '2021-03-08',
            'maturity_date': '2022-03-07', 'rate': '4.1500', 'guarantee_mode': 'credit',
            'first_loan': False, 'renewal': False, 'relief_fund': False}


end = time.monotonic() + float(seconds)
base = (sum(prefix.encode()) * 7919 + int(time.time())) % 10_000_000 * 1000 + 1
n = 0
while time.monotonic() < end:
    n += 1
    ref = 'M-%s-%d' % (prefix, n)
    borrower = uscc(base + n)
    doc = loan(ref, borrower, 200000 + n % 1000)
    call('POST', '/v1/loans', doc)
    call('GET', '/v1/loans/' + ref)
    call('GET', '/v1/loans?borrower=' + borrower)
    doc['amount'] = '%d.00' % (300000 + n % 1000)
    call('PUT', '/v1/loans/' + ref, doc, {'If-Match': '"1"'})
    call('POST', '/v1/loans/%s/repayments' % ref,
         {'repayment_ref': 'R-%d' % n, 'date': '2021-09-01', 'amount': '1000.00'})
    call('GET', '/v1/loans/%s/history' % ref)
    call('GET', '/v1/stats/new-loans?from=2021-01-01&to=2021-12-31&group_by=month&bank=self')
    if n % 20 == 0:
        call('GET', '/v1/loans?borrower=%s&format=xlsx' % borrower)
for (op, status), t in sorted(times.items()):
    print('op', op, status, len(t), '%.4f' % sum(t), '%.4f' % max(t))
print(ops, fails)
