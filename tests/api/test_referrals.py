"""Relief-fund referrals: who may refer, answer and read; every legal and illegal status move;
one open referral per firm and bank; the funding loan's checks; the list's filters and pages;
and GET /v1/stats/referrals with the relief_referrals target (on a cluster of its own, since
those counts are global)."""

import re

import finreg_data as data
import harness

REGULATOR, BANK, BANK2 = 'regulator', 'bank', 'bank2'
BANK_CODE, BANK2_CODE = harness.PRINCIPALS['bank'][1], harness.PRINCIPALS['bank2'][1]
STATUSES = ['referred', 'accepted', 'declined', 'funded']
LEGAL = {('referred', 'accepted'), ('referred', 'declined'), ('accepted', 'funded'),
         ('accepted', 'declined')}
ID_RE = re.compile(r'^RF-(\d{4})-(\d{6,})$')


# --------------------------------------------------------------------------- helpers

def body(firm=None, bank=BANK_CODE, **fields):
    """A valid POST /v1/referrals body; keyword arguments replace (or, with ..., drop) fields."""
    b = dict(firm or data.firm())
    b.update({'bank_code': bank, 'requested_amount': '3000000.00',
              'reason': '受疫情影响，订单下降，资金周转困难'})
    for k, v in fields.items():
        if v is ...:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def refer(firm=None, bank=BANK_CODE, who=REGULATOR, server=None, **fields):
    r = harness.client(who, server=server).post('/v1/referrals', json=body(firm, bank, **fields))
    assert r.status == 201, r
    return r.json()


def patch(who, rid, server=None, **fields):
    return harness.client(who, server=server).patch('/v1/referrals/' + harness.quote(rid),
                                                     json=fields)


def get(who, rid, server=None):
    return harness.client(who, server=server).get('/v1/referrals/' + harness.quote(rid))


def relief_loan(firm, who=BANK, server=None, **fields):
    """Posts a relief-fund loan (12 months, 400,000.00) to firm; returns the loan."""
    fields = {'relief_fund': True, 'amount': '400000.00', 'credit_line': '400000.00',
              'issue_date': '2020-05-12', 'maturity_date': '2021-05-11', **fields}
    loan = data.loan(borrower=dict(firm), **fields)
    r = harness.client(who, server=server).post('/v1/loans', json=loan)
    assert r.status == 201, r
    return loan


def error_of(r, status, code, field=None):
    assert r.status == status, r
    err = r.json()['error']
    assert err['code'] == code, err
    if field is not None:
        assert err.get('field') == field, err
    assert err['message'] and err['request_id'], err
    return err


def bring_to(status, firm=None, bank=BANK, server=None):
    """A referral (to `bank`, a cert name or Identity) moved to `status` by legal moves; returns
    (referral, firm, loan or None)."""
    code = bank.code if isinstance(bank, harness.Identity) else harness.PRINCIPALS[bank][1]
    firm = firm or data.firm()
    ref = refer(firm, code, server=server)
    loan = None
    if status == 'referred':
        return ref, firm, loan
    if status == 'declined':
        r = patch(bank, ref['id'], server=server, status='declined', decline_reason='资料不全')
        assert r.status == 200, r
        return r.json(), firm, loan
    r = patch(bank, ref['id'], server=server, status='accepted')
    assert r.status == 200, r
    if status == 'accepted':
        return r.json(), firm, loan
    loan = relief_loan(firm, who=bank, server=server)
    r = patch(bank, ref['id'], server=server, status='funded', loan_ref=loan['loan_ref'])
    assert r.status == 200, r
    return r.json(), firm, loan


# --------------------------------------------------------------------------- creating

def test_regulator_refers_a_firm_and_gets_a_readable_id():
    firm = data.firm(size='micro', industry_code='3412')
    ref = refer(firm, requested_amount='500000', referred_on='2020-03-02')
    m = ID_RE.match(ref['id'])
    assert m and m.group(1) == '2020', ref
    for k in ('uscc', 'name', 'county_code', 'industry_code', 'size'):
        assert ref[k] == firm[k], (k, ref)
    assert ref['bank_code'] == BANK_CODE and ref['status'] == 'referred', ref
    assert ref['requested_amount'] == '500000.00' and ref['referred_on'] == '2020-03-02', ref
    assert ref['decline_reason'] is None and ref['loan_ref'] is None, ref
    assert ref['funded_amount'] is None and ref['created_by'] == 'SM-FSB', ref
    assert [(h['from'], h['to'], h['changed_by']) for h in ref['history']] == \
        [(None, 'referred', 'SM-FSB')], ref
    # The firm's reference data went through firms_upsert, source 'referral'.
    rows = harness.psql(f"SELECT f.name, h.source FROM firms f JOIN firm_versions h USING (uscc) "
                        f"WHERE f.uscc = '{firm['uscc']}'")
    assert rows == [[firm['name'], 'referral']], rows


def test_referral_numbers_follow_each_other_within_a_year():
    a = refer(referred_on='2020-06-01')
    b = refer(referred_on='2020-12-31')
    c = refer()     # referred_on defaults to today
    na, nb = int(ID_RE.match(a['id']).group(2)), int(ID_RE.match(b['id']).group(2))
    assert nb == na + 1, (a['id'], b['id'])
    assert c['referred_on'] == data.today_cn().isoformat(), c
    assert c['id'].startswith('RF-%d-' % data.today_cn().year), c


def test_only_the_regulator_refers():
    for who in (BANK, 'guarantor'):
        r = harness.client(who).post('/v1/referrals', json=body())
        error_of(r, 403, 'forbidden')
    error_of(harness.client(None).post('/v1/referrals', json=body()), 401, 'unauthenticated')


def test_referral_fields_are_validated():
    reg = harness.client(REGULATOR)
    cases = [
        ({'uscc': data.bad_check_uscc()}, 'uscc', 'L003'),
        ({'uscc': data.make_uscc().lower()}, 'uscc', 'L002'),
        ({'uscc': '9135040'}, 'uscc', 'L002'),
        ({'name': ...}, 'name', 'L004'),
        ({'name': ''}, 'name', 'L004'),
        ({'county_code': '35040'}, 'county_code', 'L005'),
        ({'industry_code': '9999'}, 'industry_code', 'L006'),
        ({'size': 'huge'}, 'size', 'L007'),
        ({'size': 'large'}, 'size', None),             # the fund is for SMEs
        ({'industry_code': '7010'}, 'industry_code', None),   # real estate is not eligible
        ({'bank_code': ...}, 'bank_code', None),
        ({'bank_code': 'NO-SUCH-BANK'}, 'bank_code', None),
        ({'bank_code': 'SM-GUAR'}, 'bank_code', None),   # a guarantor, not a bank
        ({'bank_code': 'OLD-BANK'}, 'bank_code', None),  # a disabled bank
        ({'bank_code': 'bad code!'}, 'bank_code', None),
        ({'requested_amount': ...}, 'requested_amount', None),
        ({'requested_amount': 3000000}, 'requested_amount', None),
        ({'requested_amount': '0.00'}, 'requested_amount', None),
        ({'requested_amount': '1.234'}, 'requested_amount', None),
        ({'requested_amount': '10000000.01'}, 'requested_amount', None),   # over the cap
        ({'reason': ...}, 'reason', None),
        ({'reason': 'x' * 501}, 'reason', None),
        ({'reason': 'bad\x07bell'}, 'reason', None),
        ({'referred_on': '2020-02-30'}, 'referred_on', None),
        ({'referred_on': data.day(data.today_cn(), 1)}, 'referred_on', None),
    ]
    for fields, field, rule in cases:
        r = reg.post('/v1/referrals', json=body(**fields))
        err = error_of(r, 422, 'invalid_field', field)
        assert err.get('rule') == rule, (fields, err)
    err = error_of(reg.post('/v1/referrals', json=body(bank_cod='CIB-SM')), 422, 'unknown_field',
                   'bank_cod')
    assert 'rule' not in err, err
    error_of(reg.post('/v1/referrals', body='{"uscc": '), 400, 'bad_json')
    # The cap itself is allowed, and so is a reason with line breaks.
    ok = refer(requested_amount='10000000.00', reason='第一行\n第二行')
    assert ok['requested_amount'] == '10000000.00' and ok['reason'] == '第一行\n第二行', ok


def test_one_open_referral_per_firm_and_bank():
    firm = data.firm()
    first = refer(firm)
    again = harness.client(REGULATOR).post('/v1/referrals', json=body(firm))
    err = error_of(again, 409, 'conflict', 'uscc')
    assert first['id'] in err['message'], err
    # Every rejection names its field in front of its message, as the contract's example.
    assert err['message'].startswith('uscc: the firm already has an open referral'), err
    # Another bank may get the same firm.
    other = refer(firm, BANK2_CODE)
    assert other['bank_code'] == BANK2_CODE
    # Still open once accepted.
    assert patch(BANK, first['id'], status='accepted').status == 200
    error_of(harness.client(REGULATOR).post('/v1/referrals', json=body(firm)), 409, 'conflict')
    # Closed by a decline: the firm may be referred to that bank again.
    assert patch(BANK, first['id'], status='declined', decline_reason='不符合条件').status == 200
    second = refer(firm)
    assert second['id'] != first['id'] and second['status'] == 'referred', second


def test_a_firm_is_referred_to_one_bank_at_most_100_times(ctx):
    # The firm view (GET /v1/firms/{uscc}) lists every referral of the firm, and a decline
    # frees the pair for another: without a cap, referring and declining grew it without
    # bound. 99 declined referrals are written directly, as referral_create and a decline
    # leave them (a cluster of the test's own: referral counts are global); the 100th is
    # posted, the 101st refused.
    cl = harness.private_cluster(ctx, who=('bank', 'bank2', 'regulator'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    firm = data.firm()
    cl.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " VALUES ('%(u)s', '%(n)s', '350402', '3412', 'small', 'test');"
        " INSERT INTO referrals (ref, uscc, name, county_code, industry_code, size, bank_code,"
        "   requested_fen, reason, referred_on, created_by, status, decline_reason)"
        " SELECT 'RF-1999-' || lpad(n::text, 6, '0'), '%(u)s', '%(n)s', '350402', '3412',"
        "   'small', '%(b)s', 100, 'test', '2020-03-01', 'test', 'declined', 'test'"
        " FROM generate_series(1, 99) n"
        % {'u': firm['uscc'], 'n': firm['name'], 'b': BANK_CODE})
    last = refer(firm, server=srv)
    assert patch(BANK, last['id'], server=srv, status='declined',
                 decline_reason='不符合条件').status == 200
    reg = harness.client(REGULATOR, server=srv)
    err = error_of(reg.post('/v1/referrals', json=body(firm)), 409, 'conflict', 'uscc')
    assert '100 times' in err['message'], err
    assert cl.psql("SELECT count(*) FROM referrals WHERE uscc = '%s'" % firm['uscc']) \
        == [['100']]
    # Another bank may still get the firm; the firm view lists them all.
    refer(firm, BANK2_CODE, server=srv)
    v = reg.get('/v1/firms/%s' % firm['uscc']).json()
    assert len(v['referrals']) == 101, len(v['referrals'])


def test_a_funded_firm_is_not_referred_again():
    ref, firm, loan = bring_to('funded')
    r = harness.client(REGULATOR).post('/v1/referrals', json=body(firm, BANK2_CODE))
    err = error_of(r, 409, 'conflict', 'uscc')
    assert ref['id'] in err['message'] and loan['loan_ref'] in err['message'], err


# --------------------------------------------------------------------------- moves

def test_referred_to_accepted_to_funded_records_the_loan_and_history():
    ref, firm, _ = bring_to('accepted')
    loan = relief_loan(firm)
    r = patch(BANK, ref['id'], status='funded', loan_ref=loan['loan_ref'])
    assert r.status == 200, r
    done = r.json()
    assert done['status'] == 'funded' and done['loan_ref'] == loan['loan_ref'], done
    assert done['funded_amount'] == '400000.00', done   # defaults to the loan's amount
    assert [(h['from'], h['to'], h['changed_by']) for h in done['history']] == [
        (None, 'referred', 'SM-FSB'), ('referred', 'accepted', BANK_CODE),
        ('accepted', 'funded', BANK_CODE)], done
    assert done['history'][-1]['loan_ref'] == loan['loan_ref'], done
    assert done['history'][-1]['funded_amount'] == '400000.00', done
    assert get(REGULATOR, ref['id']).json() == done


def test_funded_amount_may_be_less_than_the_loan_but_not_more():
    ref, firm, _ = bring_to('accepted')
    loan = relief_loan(firm)
    r = patch(BANK, ref['id'], status='funded', loan_ref=loan['loan_ref'],
              funded_amount='400000.01')
    err = error_of(r, 422, 'invalid_field', 'funded_amount')
    assert '400000.00' in err['message'], err
    r = patch(BANK, ref['id'], status='funded', loan_ref=loan['loan_ref'],
              funded_amount='350000')
    assert r.status == 200 and r.json()['funded_amount'] == '350000.00', r


def test_declining_needs_a_reason_and_keeps_it():
    for start in ('referred', 'accepted'):
        ref, _, _ = bring_to(start)
        error_of(patch(BANK, ref['id'], status='declined'), 422, 'invalid_field',
                 'decline_reason')
        error_of(patch(BANK, ref['id'], status='declined', decline_reason=''), 422,
                 'invalid_field', 'decline_reason')
        r = patch(BANK, ref['id'], status='declined', decline_reason='企业存在不良信用记录\n已核实')
        assert r.status == 200, r
        done = r.json()
        assert done['status'] == 'declined', done
        assert done['decline_reason'] == '企业存在不良信用记录\n已核实', done
        last = done['history'][-1]
        assert (last['from'], last['to'], last['reason']) == \
            (start, 'declined', '企业存在不良信用记录\n已核实'), done


def move_body(to, loan_ref):
    b = {'status': to}
    if to == 'declined':
        b['decline_reason'] = '不符合条件'
    if to == 'funded':
        b['loan_ref'] = loan_ref
    return b


def test_every_illegal_move_is_409_and_changes_nothing():
    tried = 0
    for start in STATUSES:
        ref, firm, loan = bring_to(start)
        # A valid relief loan to this firm, so that a move to funded fails for the move only.
        loan_ref = loan['loan_ref'] if loan else relief_loan(firm)['loan_ref']
        before = get(BANK, ref['id']).json()
        for to in STATUSES:
            if (start, to) in LEGAL:
                continue
            r = patch(BANK, ref['id'], **move_body(to, loan_ref))
            err = error_of(r, 409, 'conflict', 'status')
            assert f'is {start}' in err['message'], (start, to, err)
            tried += 1
        assert get(BANK, ref['id']).json() == before, (start, before)
    assert tried == 12


def test_every_legal_move_answers_200():
    for start, to in sorted(LEGAL):
        ref, firm, _ = bring_to(start)
        loan_ref = relief_loan(firm)['loan_ref'] if to == 'funded' else None
        r = patch(BANK, ref['id'], **move_body(to, loan_ref))
        assert r.status == 200, (start, to, r)
        assert r.json()['status'] == to and r.json()['history'][-1]['from'] == start, r


def test_patch_body_is_checked_before_the_move():
    ref, _, _ = bring_to('referred')
    cases = [
        ({}, 'invalid_field', 'status'),
        ({'status': 'done'}, 'invalid_field', 'status'),
        ({'status': 1}, 'invalid_field', 'status'),
        ({'status': 'accepted', 'decline_reason': 'x'}, 'invalid_field', 'decline_reason'),
        ({'status': 'accepted', 'loan_ref': 'L-1'}, 'invalid_field', 'loan_ref'),
        ({'status': 'declined', 'decline_reason': 'x', 'funded_amount': '1.00'},
         'invalid_field', 'funded_amount'),
        ({'status': 'funded'}, 'invalid_field', 'loan_ref'),
        ({'status': 'funded', 'loan_ref': 'L-1', 'funded_amount': '0'}, 'invalid_field',
         'funded_amount'),
        ({'status': 'funded', 'loan_ref': 'L-1', 'funded_amount': 5}, 'invalid_field',
         'funded_amount'),
        ({'status': 'accepted', 'note': 'x'}, 'unknown_field', 'note'),
    ]
    for fields, code, field in cases:
        error_of(patch(BANK, ref['id'], **fields), 422, code, field)
    r = harness.client(BANK).patch('/v1/referrals/' + ref['id'], body='not json')
    error_of(r, 400, 'bad_json')
    assert get(BANK, ref['id']).json()['status'] == 'referred'


def test_funding_loan_must_be_this_banks_relief_loan_to_this_firm():
    ref, firm, _ = bring_to('accepted')
    plain = data.loan(borrower=dict(firm))
    assert harness.client(BANK).post('/v1/loans', json=plain).status == 201
    cases = [
        ('NO-SUCH-LOAN-' + harness.unique(), 'has no loan'),
        (relief_loan(data.firm())['loan_ref'], 'not to the referred firm'),
        (plain['loan_ref'], 'not flagged relief_fund'),
        (relief_loan(firm, who=BANK2)['loan_ref'], 'has no loan'),   # another bank's loan
    ]
    for loan_ref, words in cases:
        r = patch(BANK, ref['id'], status='funded', loan_ref=loan_ref)
        err = error_of(r, 422, 'invalid_field', 'loan_ref')
        assert words in err['message'] and loan_ref in err['message'], err
    assert get(BANK, ref['id']).json()['status'] == 'accepted'


def test_void_relief_loan_does_not_fund():
    ref, firm, _ = bring_to('accepted')
    loan = relief_loan(firm)
    r = harness.client(BANK).post('/v1/loans/%s/void' % harness.quote(loan['loan_ref']),
                                  json={'reason': '录入错误'})
    assert r.status == 200, r
    err = error_of(patch(BANK, ref['id'], status='funded', loan_ref=loan['loan_ref']), 422,
                   'invalid_field', 'loan_ref')
    assert 'void' in err['message'], err


# --------------------------------------------------------------------------- rights

def test_only_the_bank_referred_to_answers():
    ref, _, _ = bring_to('referred')
    error_of(patch(BANK2, ref['id'], status='accepted'), 404, 'not_found')
    error_of(patch(REGULATOR, ref['id'], status='accepted'), 403, 'forbidden')
    error_of(patch('guarantor', ref['id'], status='accepted'), 403, 'forbidden')
    error_of(harness.client(None).patch('/v1/referrals/' + ref['id'], json={'status': 'accepted'}),
             401, 'unauthenticated')
    error_of(patch(BANK, 'RF-2020-999999999', status='accepted'), 404, 'not_found')
    assert get(REGULATOR, ref['id']).json()['status'] == 'referred'


def test_a_bank_reads_only_referrals_to_it():
    ref, _, _ = bring_to('referred')
    assert get(BANK, ref['id']).status == 200
    assert get(REGULATOR, ref['id']).json()['id'] == ref['id']
    error_of(get(BANK2, ref['id']), 404, 'not_found')
    error_of(get('guarantor', ref['id']), 403, 'forbidden')
    items = harness.client(BANK2).get('/v1/referrals?limit=1000').json()['items']
    assert ref['id'] not in [i['id'] for i in items]
    assert all(i['bank_code'] == BANK2_CODE for i in items), items
    error_of(harness.client(BANK2).get('/v1/referrals?bank=' + BANK_CODE), 404, 'not_found')
    error_of(harness.client('guarantor').get('/v1/referrals'), 403, 'forbidden')


# --------------------------------------------------------------------------- list

def test_list_filters_and_keyset_pages():
    bank = harness.new_principal('bank')
    firms = [data.firm(county_code=c) for c in ('350402', '350402', '350403', '350481', '350402')]
    ids = [refer(f, bank.code)['id'] for f in firms]
    assert patch(bank, ids[1], status='accepted').status == 200
    assert patch(bank, ids[2], status='declined', decline_reason='x').status == 200
    reg = harness.client(REGULATOR)

    def listed(query, who=reg):
        r = who.get('/v1/referrals?' + query)
        assert r.status == 200, r
        return r.json()

    everything = listed('bank=' + bank.code)
    assert [i['id'] for i in everything['items']] == ids and everything['next_cursor'] is None
    seen, cursor = [], None
    while True:
        page = listed('bank=%s&limit=2%s' % (bank.code, '&cursor=' + cursor if cursor else ''))
        assert len(page['items']) <= 2
        seen += [i['id'] for i in page['items']]
        cursor = page['next_cursor']
        if cursor is None:
            break
    assert seen == ids
    assert [i['id'] for i in listed('bank=%s&status=referred' % bank.code)['items']] == \
        [ids[0], ids[3], ids[4]]
    assert [i['id'] for i in listed('bank=%s&status=accepted' % bank.code)['items']] == [ids[1]]
    assert [i['id'] for i in listed('bank=%s&county=350402' % bank.code)['items']] == \
        [ids[0], ids[1], ids[4]]
    assert [i['id'] for i in listed('uscc=' + firms[3]['uscc'])['items']] == [ids[3]]
    as_bank = harness.client(bank)
    assert [i['id'] for i in listed('', as_bank)['items']] == ids
    assert [i['id'] for i in listed('bank=self&status=declined', as_bank)['items']] == [ids[2]]
    item = everything['items'][0]
    assert 'history' not in item and item['requested_amount'] == '3000000.00', item
    for query, field in (('status=open', 'status'), ('county=35', 'county'),
                         ('uscc=123', 'uscc'), ('limit=0', 'limit'), ('cursor=x', 'cursor')):
        error_of(reg.get('/v1/referrals?' + query), 422, 'invalid_field', field)
    # The USCC filter names the rule it breaks, as a loan's borrower does.
    assert reg.get('/v1/referrals?uscc=123').json()['error']['rule'] == 'L002'
    r = reg.get('/v1/referrals?uscc=' + data.bad_check_uscc())
    assert r.json()['error']['rule'] == 'L003', r.text


# --------------------------------------------------------------------------- statistics

def own_setup():
    """A cluster and server of this test's own, with the dev principals registered."""
    cluster = harness.Cluster()
    harness.finregd('migrate', cluster=cluster)
    for who in ('bank', 'bank2', 'regulator', 'guarantor'):
        kind, code, name = harness.PRINCIPALS[who]
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name', name,
                        '--cert', harness.cert_paths(who)[0], cluster=cluster)
    return cluster, harness.Server(cluster=cluster)


def test_stats_count_by_bank_and_status_and_feed_the_target():
    cluster, server = own_setup()
    reg = harness.client(REGULATOR, server=server)
    year = data.today_cn().year
    empty = reg.get('/v1/stats/referrals').json()
    assert empty['referred_firms'] == 0 and empty['rows'] == [], empty
    assert empty['target'] == 500 and empty['progress'] == 0, empty

    f1, f2, f3, f4 = (data.firm() for _ in range(4))
    refer(f1, BANK_CODE, server=server)                       # referred
    bring_to('accepted', f2, BANK, server=server)
    bring_to('declined', f3, BANK, server=server)
    bring_to('funded', f4, BANK2, server=server)             # 400,000.00
    refer(f1, BANK2_CODE, server=server)                      # same firm, another bank
    refer(data.firm(), BANK_CODE, server=server, referred_on='%d-01-02' % year)

    s = reg.get('/v1/stats/referrals').json()
    assert s['as_of'] == data.today_cn().isoformat() and s['year'] == year, s
    assert s['bank'] == 'all' and s['target'] == 500, s
    assert s['referred_firms'] == 5, s          # f1 counts once
    assert s['progress'] == round(5 / 500, 4), s
    assert s['funded_amount'] == '400000.00', s
    rows = {r['bank_code']: r for r in s['rows']}
    assert [r['bank_code'] for r in s['rows']] == sorted(rows), s
    pick = ('referrals', 'referred', 'accepted', 'declined', 'funded', 'funded_amount')
    assert tuple(rows[BANK_CODE][k] for k in pick) == (4, 2, 1, 1, 0, '0.00'), rows
    assert tuple(rows[BANK2_CODE][k] for k in pick) == (2, 1, 0, 0, 1, '400000.00'), rows
    assert s['total']['referrals'] == 6 and s['total']['funded'] == 1, s

    # The relief_referrals target of GET /v1/stats/targets reads the same count.
    r = reg.put('/v1/targets/%d/relief_referrals' % year, json={'target': '4'})
    assert r.status == 200, r
    t = reg.get('/v1/stats/targets?year=%d' % year).json()
    relief = [x for x in t['rows'] if x['metric'] == 'relief_referrals']
    assert relief and relief[0]['actual'] == 5 and relief[0]['target'] == 4, t
    assert relief[0]['met'] is True, t
    s = reg.get('/v1/stats/referrals').json()
    assert s['target'] == 4 and s['progress'] == 1.25, s

    # as_of counts referrals made up to that day only.
    early = reg.get('/v1/stats/referrals?as_of=%d-01-02' % year).json()
    assert early['referred_firms'] == 1 and early['as_of'] == '%d-01-02' % year, early
    t = reg.get('/v1/stats/targets?year=%d&as_of=%d-01-02' % (year, year)).json()
    assert [x['actual'] for x in t['rows'] if x['metric'] == 'relief_referrals'] == [1], t

    # A bank reads its own row with bank=self (no city target), nothing else.
    mine = harness.client(BANK2, server=server).get('/v1/stats/referrals?bank=self').json()
    assert mine['bank'] == BANK2_CODE and [r['bank_code'] for r in mine['rows']] == [BANK2_CODE]
    assert mine['target'] is None and mine['progress'] is None, mine
    assert mine['referred_firms'] == 2 and mine['funded_amount'] == '400000.00', mine
    error_of(harness.client(BANK2, server=server).get('/v1/stats/referrals'), 403, 'forbidden')
    error_of(harness.client('guarantor', server=server).get('/v1/stats/referrals'), 403,
             'forbidden')
    error_of(reg.get('/v1/stats/referrals?as_of=2020-13-01'), 422, 'invalid_field', 'as_of')
    one = reg.get('/v1/stats/referrals?bank=' + BANK_CODE).json()
    assert [r['bank_code'] for r in one['rows']] == [BANK_CODE] and one['target'] is None, one


def test_a_referral_funded_by_a_loan_voided_later_no_longer_counts_as_funded(ctx):
    """api.md Loans: a voided loan is "kept, excluded from statistics"; domain.md: "Voided
    loans never count". Referrals of 2020 (a cluster of this test's own: the counts are
    global):
      f1 to CIB-SM on 2020-05-01, funded by its relief loan of 800,000.00 (2020-05-10)
      f2 to CIB-SM on 2020-05-02, left referred
      f3 to RCB-SM on 2020-05-03, funded by its relief loan of 400,000.00 (2020-05-12)
    Before the void, as of 2020-12-31: CIB-SM 2 referrals, 1 referred, 1 funded,
    800,000.00; RCB-SM 1 funded, 400,000.00; total 2 funded, 1,200,000.00. The loan of f1
    voided: its referral stays `funded` (the loans code does not reopen it) but counts where
    it stood before the void loan funded it, accepted: CIB-SM 1 referred, 1 accepted,
    0 funded, 0.00; total 1 funded, 400,000.00. Three firms referred either way (3 / 500 =
    0.006)."""
    cl = harness.private_cluster(ctx, who=('bank', 'bank2', 'regulator'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    reg = harness.client(REGULATOR, server=srv)
    f1, f2, f3 = (data.firm() for _ in range(3))
    r1 = refer(f1, BANK_CODE, server=srv, referred_on='2020-05-01')
    refer(f2, BANK_CODE, server=srv, referred_on='2020-05-02')
    r3 = refer(f3, BANK2_CODE, server=srv, referred_on='2020-05-03')
    loans = []
    for rid, f, who, amount, day in ((r1['id'], f1, BANK, '800000.00', '2020-05-10'),
                                     (r3['id'], f3, BANK2, '400000.00', '2020-05-12')):
        loans.append(relief_loan(f, who=who, server=srv, amount=amount, credit_line=amount,
                                 issue_date=day, maturity_date='2021-%s' % day[5:]))
        for move in ({'status': 'accepted'},
                     {'status': 'funded', 'loan_ref': loans[-1]['loan_ref']}):
            r = patch(who, rid, server=srv, **move)
            assert r.status == 200, r
    names = {BANK_CODE: harness.PRINCIPALS[BANK][2], BANK2_CODE: harness.PRINCIPALS[BANK2][2]}

    def figures(referrals, referred, accepted, funded, amount):
        return {'referrals': referrals, 'referred': referred, 'accepted': accepted,
                'declined': 0, 'funded': funded, 'funded_amount': amount}

    def expect(cib, total):
        r = reg.get('/v1/stats/referrals?as_of=2020-12-31')
        assert r.status == 200, r
        want = {'as_of': '2020-12-31', 'year': 2020, 'bank': 'all', 'target': 500,
                'referred_firms': 3, 'progress': 0.006, 'funded_amount': total['funded_amount'],
                'rows': [dict(cib, bank_code=BANK_CODE, bank_name=names[BANK_CODE]),
                         dict(figures(1, 0, 0, 1, '400000.00'), bank_code=BANK2_CODE,
                              bank_name=names[BANK2_CODE])],
                'total': total}
        assert r.json() == want, r.json()

    expect(figures(2, 1, 0, 1, '800000.00'), figures(3, 1, 0, 2, '1200000.00'))
    r = harness.client(BANK, server=srv).post(
        '/v1/loans/%s/void' % harness.quote(loans[0]['loan_ref']), json={'reason': '录入错误'})
    assert r.status == 200, r
    expect(figures(2, 1, 1, 0, '0.00'), figures(3, 1, 1, 1, '400000.00'))
    kept = get(REGULATOR, r1['id'], server=srv)
    assert kept.status == 200 and kept.json()['status'] == 'funded', kept
