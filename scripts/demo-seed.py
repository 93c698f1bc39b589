#!/usr/bin/env python3
"""Posts a realistic year (2020, with the 2019 loans it starts from) of Sanming's registry
through the API, as the dev principals would: the banks CIB-SM and RCB-SM post loans (batches)
and repayments and run supply-chain programs, the guarantor SM-GUAR records its guarantees,
the regulator SM-FSB keeps the whitelist, the guarantor's net assets and relief-fund referrals,
which the banks accept, decline or fund. Everything is generated from a fixed seed, so a second
run posts the same records and changes nothing (loans and guarantees are idempotent by their
references; whitelist entries, programs, members and referrals are looked up first).

Usage: demo-seed.py [--url https://localhost:8443] [--certs certs/dev] [--quiet]
Prints one summary line; exits non-zero when the server rejects anything.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import ssl
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
WEIGHTS = [pow(3, i, 31) for i in range(17)]
LPR_1Y = [('2019-08-20', 4.25), ('2019-09-20', 4.20), ('2019-11-20', 4.15),
          ('2020-02-20', 4.05), ('2020-04-20', 3.85)]
COUNTIES = [('350402', '梅列'), ('350403', '三元'), ('350481', '永安'), ('350427', '沙县'),
            ('350425', '大田'), ('350426', '尤溪'), ('350424', '宁化'), ('350428', '将乐'),
            ('350421', '明溪'), ('350423', '清流'), ('350429', '泰宁'), ('350430', '建宁')]
COUNTY_WEIGHTS = [14, 14, 16, 12, 8, 8, 6, 6, 4, 4, 4, 4]
# (industry class, name word, weight): manufacturing first, then the rest of the economy.
INDUSTRIES = [('3110', '钢铁', 5), ('3130', '钢材', 3), ('3311', '金属结构', 4), ('3412', '机械', 6),
              ('2614', '化工', 4), ('2032', '木业', 5), ('2110', '家具', 4), ('1371', '食品', 4),
              ('1530', '茶业', 3), ('3981', '电子', 3), ('2927', '塑料', 3), ('3670', '汽配', 3),
              ('5132', '商贸', 8), ('5261', '超市', 4), ('0141', '农业', 5), ('6110', '酒店', 3),
              ('6210', '餐饮', 4), ('4700', '建筑', 4), ('7291', '物流', 3), ('6513', '科技', 2)]
WORDS = ['鑫达', '恒盛', '闽源', '宏泰', '金山', '华兴', '永丰', '瑞祥', '兴旺', '福林', '顺昌', '万利',
         '天成', '嘉禾', '联发', '绿源', '新景', '宝丰', '汇通', '东升', '德馨', '旺达', '盛世', '建阳']


def uscc(rng, region):
    body = '91' + region + ''.join(rng.choice(ALPHABET) for _ in range(9))
    total = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
    check = 31 - total % 31
    return body + ALPHABET[0 if check == 31 else check]


def yuan(fen):
    return '%d.%02d' % divmod(fen, 100)


def lpr_on(day):
    rate = 4.31   # before the LPR: the old benchmark plus the usual markup, for realism only
    for since, r in LPR_1Y:
        if day >= since:
            rate = r
    return rate


class Api:
    """One mutual-TLS connection per principal to the server."""

    def __init__(self, url, certs, who):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=os.path.join(certs, 'ca.pem'))
        self.ctx.load_cert_chain(os.path.join(certs, who + '.pem'),
                                 os.path.join(certs, who + '-key.pem'))
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                        timeout=120)
            try:
                data = json.dumps(body).encode() if body is not None else None
                headers = {'Content-Type': 'application/json'} if data is not None else {}
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError('unreachable')

    def list_all(self, path):
        items, cursor = [], None
        while True:
            sep = '&' if '?' in path else '?'
            q = path + sep + 'limit=1000' + ('&cursor=' + urllib.parse.quote(cursor)
                                             if cursor else '')
            status, body = self.call('GET', q)
            if status != 200:
                raise RuntimeError(f'GET {q}: {status} {body}')
            items += body['items']
            cursor = body.get('next_cursor')
            if not cursor:
                return items


class Seed:
    def __init__(self, args):
        self.quiet = args.quiet
        self.api = {who: Api(args.url, args.certs, who)
                    for who in ('bank', 'bank2', 'guarantor', 'regulator')}
        self.rng = random.Random(20200101)
        self.problems = []
        self.counts = {}

    def log(self, msg):
        if not self.quiet:
            print('demo: ' + msg, flush=True)

    def expect(self, what, status, body, ok=(200, 201)):
        if status not in ok:
            self.problems.append(f'{what}: {status} {json.dumps(body, ensure_ascii=False)}')
            return False
        return True

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n

    # ------------------------------------------------------------------ firms

    def make_firms(self, n):
        rng, firms, names = self.rng, [], set()
        for _ in range(n):
            county, place = rng.choices(COUNTIES, COUNTY_WEIGHTS)[0]
            ind, word, _w = rng.choices(INDUSTRIES, [i[2] for i in INDUSTRIES])[0]
            size = rng.choices(['large', 'medium', 'small', 'micro'], [3, 17, 50, 30])[0]
            name = f'三明{place}{rng.choice(WORDS)}{word}有限公司'
            while name in names:
                name = f'三明{place}{rng.choice(WORDS)}{rng.choice(WORDS)}{word}有限公司'
            names.add(name)
            firms.append({'uscc': uscc(rng, county), 'name': name, 'county_code': county,
                          'industry_code': ind, 'size': size})
        return firms

    # ------------------------------------------------------------------ loans

    def loan(self, bank, n, firm, issue, months, first, **kw):
        rng = self.rng
        size = firm['size']
        base = {'large': (20_000, 90_000), 'medium': (4_000, 25_000),
                'small': (500, 5_000), 'micro': (50, 1_500)}[size]
        amount = rng.randint(*base) * 100_000          # fen: thousands of yuan steps
        mature = (dt.date.fromisoformat(issue) + dt.timedelta(days=round(months * 30.44)))
        # Spreads narrow through 2020 (the pricing policy), small firms pay more.
        month_idx = (int(issue[:4]) - 2019) * 12 + int(issue[5:7])
        spread = {'large': 0.35, 'medium': 0.9, 'small': 1.45, 'micro': 1.75}[size]
        spread -= max(0, month_idx - 12) * 0.045 + rng.uniform(-0.25, 0.25)
        rate = round(lpr_on(issue) + max(spread, 0.05), 4)
        mode = kw.pop('mode', rng.choices(['credit', 'guaranteed', 'collateral', 'pledge'],
                                          [30, 22, 38, 10])[0])
        body = {'loan_ref': f'{bank}-{issue[:4]}-{n:05d}', 'borrower': firm,
                'amount': yuan(amount), 'issue_date': issue,
                'maturity_date': mature.isoformat(), 'rate': '%.4f' % rate,
                'guarantee_mode': mode, 'first_loan': first, 'renewal': False,
                'relief_fund': False}
        if mode == 'guaranteed' and rng.random() < 0.7:
            body['guarantor_code'] = 'SM-GUAR'
        body.update(kw)
        return body

    def post_batch(self, who, loans):
        for i in range(0, len(loans), 1000):
            chunk = loans[i:i + 1000]
            status, body = self.api[who].call('POST', '/v1/loans/batch', {'loans': chunk})
            if not self.expect(f'loan batch of {who}', status, body, (200,)):
                continue
            if body['created']:
                self.count('loans created', body['created'])
            if body['unchanged']:
                self.count('loans unchanged', body['unchanged'])
            for r in body['results']:
                if r['status'] == 'rejected':
                    self.problems.append(f"loan {r['loan_ref']}: "
                                         f"{json.dumps(r['error'], ensure_ascii=False)}")

    def repay(self, who, loan, ref, day, fen):
        status, body = self.api[who].call(
            'POST', '/v1/loans/%s/repayments' % urllib.parse.quote(loan['loan_ref'], safe=''),
            {'repayment_ref': ref, 'date': day, 'amount': yuan(fen)})
        if self.expect(f'repayment {ref}', status, body) and status == 201:
            self.count('repayments')

    # ------------------------------------------------------------------ the year

    def run(self):
        rng = self.rng
        firms = self.make_firms(1000)
        banks = [('CIB-SM', 'bank'), ('RCB-SM', 'bank2')]
        seen = set()          # firms with a loan so far (first_loan)
        plan = {b: {'2019': [], '2020': []} for b, _ in banks}
        programs = self.programs(firms)
        self.whitelist(firms)

        def issue_day(year, lo=1, hi=12):
            m = rng.randint(lo, hi)
            return dt.date(year, m, rng.randint(1, 28)).isoformat()

        # 2019: the book the year starts from (and the pricing comparison of 2019).
        for k in range(500):
            bank, _ = banks[0 if rng.random() < 0.55 else 1]
            f = rng.choice(firms[:600])
            plan[bank]['2019'].append(self.loan(bank, k + 1, f, issue_day(2019),
                                                rng.choice([12, 12, 12, 24, 36]),
                                                f['uscc'] not in seen))
            seen.add(f['uscc'])
        for bank, who in banks:
            plan[bank]['2019'].sort(key=lambda x: x['issue_date'])
            self.post_batch(who, plan[bank]['2019'])
        self.log('2019 loans posted')

        # 2020: new lending month by month, renewals of 2019 loans falling due, programs.
        n = {b: 0 for b, _ in banks}
        renewed = set()
        for bank, who in banks:
            for old in plan[bank]['2019']:
                if old['maturity_date'] < '2020-12-20' and rng.random() < 0.35:
                    n[bank] += 1
                    renewed.add(old['loan_ref'])
                    plan[bank]['2020'].append(self.loan(
                        bank, n[bank], old['borrower'], old['maturity_date'], 12, False,
                        renewal=True, renews_loan_ref=old['loan_ref'],
                        mode=old['guarantee_mode']))
        month_weights = [5, 3, 9, 10, 10, 11, 9, 8, 9, 8, 8, 10]
        for k in range(1100):
            bank, _ = banks[0 if rng.random() < 0.55 else 1]
            m = rng.choices(range(1, 13), month_weights)[0]
            f = rng.choice(firms[:800])
            n[bank] += 1
            plan[bank]['2020'].append(self.loan(bank, n[bank], f, issue_day(2020, m, m),
                                                rng.choice([6, 12, 12, 12, 24, 36, 60]),
                                                f['uscc'] not in seen))
            seen.add(f['uscc'])
        for pid, bank, core, members in programs:
            for i, f in enumerate([core] + members):
                n[bank] += 1
                plan[bank]['2020'].append(self.loan(bank, n[bank], f, issue_day(2020, 3, 11),
                                                    12, f['uscc'] not in seen,
                                                    scf_program_id=pid, mode='pledge'))
                seen.add(f['uscc'])
        for bank, who in banks:
            plan[bank]['2020'].sort(key=lambda x: x['issue_date'])
            self.post_batch(who, plan[bank]['2020'])
        self.log('2020 loans posted')

        self.repayments(banks, plan, renewed)
        self.guarantees(plan)
        self.referrals(firms[800:], banks)
        self.log('repayments, guarantees and referrals posted')

    def repayments(self, banks, plan, renewed):
        rng = self.rng
        for bank, who in banks:
            for loan in plan[bank]['2019'] + plan[bank]['2020']:
                fen = int(loan['amount'].replace('.', ''))
                if loan['loan_ref'] in renewed:
                    continue
                if loan['maturity_date'] <= '2020-12-31':
                    self.repay(who, loan, loan['loan_ref'] + '-R1', loan['maturity_date'], fen)
                elif loan['issue_date'] < '2020-09-01' and rng.random() < 0.3:
                    part = fen // 100 * rng.randint(10, 30)
                    day = (dt.date.fromisoformat(loan['issue_date'])
                           + dt.timedelta(days=rng.randint(60, 110))).isoformat()
                    self.repay(who, loan, loan['loan_ref'] + '-P1', day, part)
                elif (loan['issue_date'] < '2020-06-01' and loan['borrower']['size'] != 'large'
                      and rng.random() < 0.03):
                    # Recalled early (抽贷): what the withdrawal watch is for.
                    self.repay(who, loan, loan['loan_ref'] + '-R1', '2020-11-16', fen)

    def guarantees(self, plan):
        api, total = self.api['guarantor'], 0
        for bank in plan:
            for loan in plan[bank]['2019'] + plan[bank]['2020']:
                if loan.get('guarantor_code') != 'SM-GUAR':
                    continue
                fen = int(loan['amount'].replace('.', '')) * 8 // 10
                total += fen
                status, body = api.call('POST', '/v1/guarantees', {
                    'guarantee_ref': 'SMG-' + loan['loan_ref'], 'bank_code': bank,
                    'loan_ref': loan['loan_ref'], 'borrower_uscc': loan['borrower']['uscc'],
                    'amount': yuan(fen), 'start_date': loan['issue_date'],
                    'end_date': loan['maturity_date']})
                if self.expect('guarantee ' + loan['loan_ref'], status, body) and status == 201:
                    self.count('guarantees')
        # Net assets such that the leverage is about 1.8 on what was guaranteed.
        status, body = self.api['regulator'].call('PUT', '/v1/guarantors/SM-GUAR', {
            'name': '三明市融资担保有限公司', 'net_assets': yuan(total * 10 // 18 // 100_000_000
                                                              * 100_000_000 + 100_000_000),
            'as_of': '2019-12-31'})
        self.expect('guarantor SM-GUAR', status, body)

    def whitelist(self, firms):
        api = self.api['regulator']
        listed = {e['uscc'] for e in api.list_all('/v1/whitelist')}
        leaders = [f for f in firms if f['industry_code'] < '44' and f['size'] in
                   ('large', 'medium')][:24]
        for i, f in enumerate(leaders):
            if f['uscc'] in listed:
                continue
            status, body = api.call('POST', '/v1/whitelist', {
                'uscc': f['uscc'], 'name': f['name'], 'reason': '制造业重点企业（融资担保白名单）',
                'valid_from': '2020-%02d-01' % (3 + i % 6), 'valid_to': '2021-12-31'})
            if status == 409:
                continue          # listed already (an entry no longer active is not listed)
            if self.expect('whitelist ' + f['uscc'], status, body):
                self.count('whitelist entries')

    def programs(self, firms):
        """Three N+1+N programs; returns [(id, bank, core, members)]."""
        specs = [('CIB-SM', 'bank', '闽光云商钢材应收账款融资', 'receivables', 14,
                  {'uscc': '91350400MA2XN7K21B', 'name': '福建三钢闽光股份有限公司',
                   'county_code': '350403', 'industry_code': '3110', 'size': 'large'}),
                 ('RCB-SM', 'bank2', '永安林产品订单融资', 'orders', 11,
                  {'uscc': '91350481MA31Q2HX4D', 'name': '福建永安林业（集团）股份有限公司',
                   'county_code': '350481', 'industry_code': '2032', 'size': 'large'}),
                 ('CIB-SM', 'bank', '沙县小吃供应链预付款融资', 'prepayment', 6,
                  {'uscc': '91350427MA34F8PL6K', 'name': '沙县小吃集团有限公司',
                   'county_code': '350427', 'industry_code': '6210', 'size': 'medium'})]
        out, pool = [], firms[600:800]
        for bank, who, name, product, n_members, core in specs:
            core = dict(core, uscc=core['uscc'][:17] + self.check_char(core['uscc'][:17]))
            api = self.api[who]
            existing = [p for p in api.list_all('/v1/scf/programs') if p['name'] == name]
            if existing:
                pid = existing[0]['id']
            else:
                status, body = api.call('POST', '/v1/scf/programs', {
                    'name': name, 'core': core, 'product': product,
                    'credit_limit': yuan(n_members * 800_000_000), 'started_on': '2020-03-01'})
                if not self.expect('program ' + name, status, body):
                    continue
                pid = body['id']
                self.count('programs')
            status, body = api.call('GET', f'/v1/scf/programs/{pid}')
            have = {m['uscc'] for m in (body or {}).get('members', [])}
            members, pool = pool[:n_members], pool[n_members:]
            for i, f in enumerate(members):
                if f['uscc'] in have:
                    continue
                status, body = api.call('POST', f'/v1/scf/programs/{pid}/members', {
                    'firm': f, 'side': 'upstream' if i % 3 else 'downstream'})
                if self.expect(f'member {f["uscc"]} of {name}', status, body):
                    self.count('program members')
            out.append((pid, bank, core, members))
        return out

    @staticmethod
    def check_char(body):
        total = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
        check = 31 - total % 31
        return ALPHABET[0 if check == 31 else check]

    def referrals(self, firms, banks):
        """Relief-fund referrals from February: most funded by a relief loan, some declined."""
        rng, reg = self.rng, self.api['regulator']
        existing = {(r['uscc'], r['bank_code']): r for r in reg.list_all('/v1/referrals')}
        for k, f in enumerate(firms[:160]):
            bank, who = banks[k % 2]
            day = dt.date(2020, 2, 10) + dt.timedelta(days=rng.randint(0, 290))
            fen = rng.randint(10, 100) * 10_000_000
            fate = rng.choices(['funded', 'accepted', 'declined', 'referred'], [55, 15, 10, 20])[0]
            issue = min(day + dt.timedelta(days=12), dt.date(2020, 12, 28)).isoformat()
            loan = self.loan(bank, 0, f, issue, 12, False, relief_fund=True, mode='credit')
            loan.update(amount=yuan(fen), loan_ref=f"{bank}-JK-{f['uscc'][-8:]}",
                        rate='%.4f' % (lpr_on(issue) + 0.15))
            loan.pop('guarantor_code', None)
            if f['size'] == 'large':
                continue          # the fund is for medium, small and micro firms
            r = existing.get((f['uscc'], bank))
            if r is None:
                status, r = reg.call('POST', '/v1/referrals', dict(
                    f, bank_code=bank, requested_amount=yuan(fen),
                    reason='受疫情影响经营困难，申请纾困专项资金', referred_on=day.isoformat()))
                if not self.expect('referral ' + f['uscc'], status, r):
                    continue
                self.count('referrals')
            self.advance(who, r, fate, loan)

    def advance(self, who, r, fate, loan):
        api, path = self.api[who], f"/v1/referrals/{r['id']}"
        if fate == 'referred' or r['status'] in ('declined', 'funded'):
            return
        if fate == 'declined':
            status, body = api.call('PATCH', path, {'status': 'declined',
                                                    'decline_reason': '经营性现金流不足，暂不符合条件'})
            self.expect('decline ' + path, status, body)
            return
        if r['status'] == 'referred':
            status, body = api.call('PATCH', path, {'status': 'accepted'})
            if not self.expect('accept ' + path, status, body):
                return
        if fate == 'funded':
            status, body = api.call('POST', '/v1/loans', loan)
            if not self.expect('relief loan ' + loan['loan_ref'], status, body):
                return
            status, body = api.call('PATCH', path, {'status': 'funded',
                                                    'loan_ref': loan['loan_ref'],
                                                    'funded_amount': loan['amount']})
            self.expect('fund ' + path, status, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--url', default='https://localhost:8443')
    ap.add_argument('--certs', default=os.path.join(ROOT, 'certs', 'dev'))
    ap.add_argument('--quiet', action='store_true')
    args = ap.parse_args()
    seed = Seed(args)
    seed.run()
    summary = ', '.join(f'{k} {v}' for k, v in sorted(seed.counts.items()))
    print(f'demo: {summary or "nothing new"}; {len(seed.problems)} problems')
    for p in seed.problems[:20]:
        print('demo: problem: ' + p, file=sys.stderr)
    return 1 if seed.problems else 0


if __name__ == '__main__':
    sys.exit(main())
