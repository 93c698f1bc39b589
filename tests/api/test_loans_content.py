"""A loan's content built from its columns (migration 021): new and corrected loans store no
content jsonb, every answer gives the content they were posted with, rows that kept their
content from before 021 answer it and are judged against it, and a finregd built before 021
(which still sends the contents) keeps storing loans."""

import copy
import json

import finreg_data as fd
import harness

BANK = 'CIB-SM'


def path(ref, tail=''):
    return '/v1/loans/' + harness.quote(ref) + tail


def get(c, ref):
    r = c.get(path(ref))
    assert r.status == 200, r
    return r


def content(loan):
    return {k: loan[k] for k in fd.LOAN_FIELDS}


def stored_content_is_null(refs):
    rows = harness.psql("SELECT loan_ref, content IS NULL FROM loans WHERE bank_code = '%s'"
                        " AND loan_ref IN (%s) ORDER BY loan_ref"
                        % (BANK, ', '.join("'%s'" % r for r in refs)))
    return {r[0]: r[1] == 't' for r in rows}


def test_new_and_corrected_loans_store_no_content_and_answer_the_content_they_were_posted_with():
    c = harness.client('bank')
    single = fd.loan(amount='100.5', credit_line=..., borrower=fd.firm(name='三明 "引号" \\ 公司'))
    r = c.post('/v1/loans', json=single)
    assert r.status == 201, r
    pair = [fd.loan(guarantee_mode='guaranteed', guarantor_code='SM-GUAR', rate='12.3456'),
            fd.loan(relief_fund=True, amount='10000000.00', credit_line=...,
                    maturity_date='2021-05-11', guarantee_mode='collateral')]
    r = c.post('/v1/loans/batch', json={'loans': pair})
    assert r.status == 200 and r.json()['created'] == 2, r
    refs = [single['loan_ref']] + [p['loan_ref'] for p in pair]
    assert stored_content_is_null(refs) == {ref: True for ref in refs}

    posted = dict(copy.deepcopy(single), amount='100.50', credit_line='100.50')
    relief = dict(copy.deepcopy(pair[1]), credit_line='10000000.00')
    for body in [posted, pair[0], relief]:
        assert content(get(c, body['loan_ref']).json()) == body
    # The loans answer in the list exactly as alone.
    for body in [single] + pair:
        r = c.get('/v1/loans?borrower=' + body['borrower']['uscc'])
        assert r.status == 200 and r.json()['items'] == [get(c, body['loan_ref']).json()], r

    # A correction stores no content either; the content it replaced is kept in the version.
    new = dict(copy.deepcopy(posted), amount='200.00', credit_line='300.00')
    r = c.put(path(single['loan_ref']), json=new, headers={'If-Match': '"1"'})
    assert r.status == 200 and r.json()['version'] == 2, r
    assert stored_content_is_null([single['loan_ref']]) == {single['loan_ref']: True}
    assert content(get(c, single['loan_ref']).json()) == new
    h = c.get(path(single['loan_ref'], '/history')).json()
    assert [v['content'] for v in h['versions']] == [posted, new], h
    assert harness.psql("SELECT v.version, v.content IS NULL FROM loan_versions v JOIN loans l"
                        " ON l.id = v.loan_id WHERE l.bank_code = '%s' AND l.loan_ref = '%s'"
                        " ORDER BY v.version" % (BANK, single['loan_ref'])) == \
        [['1', 'f'], ['2', 't']]
    # The same correction again changes nothing (judged against the built content).
    r = c.put(path(single['loan_ref']), json=new, headers={'If-Match': '"2"'})
    assert r.status == 200 and r.json()['version'] == 2, r


def test_a_loan_that_kept_its_content_from_before_021_answers_it_and_is_judged_against_it():
    c = harness.client('bank')
    body = fd.loan()
    ref = body['loan_ref']
    assert c.post('/v1/loans', json=body).status == 201
    built = get(c, ref).body
    where = "bank_code = '%s' AND loan_ref = '%s'" % (BANK, ref)

    # A row as migrations before 021 stored it: the same content, as jsonb of its own.
    harness.psql("UPDATE loans l SET content = loan_content_of(l) WHERE " + where)
    assert stored_content_is_null([ref]) == {ref: False}
    assert get(c, ref).body == built
    r = c.post('/v1/loans', json=body)
    assert r.status == 200 and r.body == built, r
    r = c.post('/v1/loans/batch', json={'loans': [body]})
    assert r.status == 200 and r.json()['unchanged'] == 1, r

    # Its stored content is what it answers and what a retry is judged against, even where
    # the columns say otherwise (here the borrower's name only in the content).
    harness.psql("UPDATE loans SET content = jsonb_set(content, '{borrower,name}',"
                 " '\"历史名称有限公司\"') WHERE " + where)
    old = get(c, ref).json()
    assert old['borrower']['name'] == '历史名称有限公司', old
    r = c.post('/v1/loans', json=body)
    assert r.status == 409 and r.json()['error']['code'] == 'conflict', r
    r = c.post('/v1/loans/batch', json={'loans': [body]})
    assert r.status == 200 and r.json()['rejected'] == 1, r
    assert r.json()['results'][0]['error']['code'] == 'conflict', r
    # A correction to the posted content replaces it; the history keeps the stored one.
    r = c.put(path(ref), json=body, headers={'If-Match': '"1"'})
    assert r.status == 200 and r.json()['version'] == 2, r
    assert stored_content_is_null([ref]) == {ref: True}
    h = c.get(path(ref, '/history')).json()
    assert [v['content']['borrower']['name'] for v in h['versions']] == \
        ['历史名称有限公司', body['borrower']['name']], h


# The call a finregd built before migration 021 makes: the item arrays with the contents
# third, here one item made from stored loan l under a new loan_ref.
OLD_CALL = """
SELECT i.status, i.code FROM loans l, loan_ingest(
    l.bank_code, false, false, true, ARRAY[0], ARRAY['%(new)s'],
    ARRAY[loan_content_of(l) || jsonb_build_object('loan_ref', '%(new)s', 'amount', '%(amount)s')],
    ARRAY[l.borrower_uscc], ARRAY[l.borrower_name], ARRAY[l.county_code],
    ARRAY[l.industry_code], ARRAY[l.size], ARRAY[%(fen)s::bigint], ARRAY[l.issue_date],
    ARRAY[l.maturity_date], ARRAY[l.rate_e4], ARRAY[l.guarantee_mode], ARRAY[l.guarantor_code],
    ARRAY[l.first_loan], ARRAY[l.renewal], ARRAY[l.renews_loan_ref], ARRAY[l.scf_program_id],
    ARRAY[l.relief_fund], ARRAY[l.credit_line_fen], ARRAY[l.term_months],
    ARRAY[l.medium_long_term], ARRAY[l.manufacturing], ARRAY[l.inclusive_small_micro],
    ARRAY[l.lpr_tenor], ARRAY[l.lpr_e4], ARRAY[l.spread_bp]) i
WHERE l.bank_code = '%(bank)s' AND l.loan_ref = '%(ref)s'
"""


def test_a_finregd_built_before_021_still_stores_loans_through_its_own_call():
    c = harness.client('bank')
    body = fd.loan(amount='300.00', credit_line='300.00')
    assert c.post('/v1/loans', json=body).status == 201
    new = body['loan_ref'] + '-old'
    call = dict(new=new, ref=body['loan_ref'], bank=BANK, amount='300.00', fen=30000)
    assert harness.psql(OLD_CALL % call) == [['created', '']]
    stored = get(c, new).json()
    assert content(stored) == dict(copy.deepcopy(body), loan_ref=new)
    assert stored_content_is_null([new]) == {new: True}
    # Its retries are judged as finregd's own: the same content unchanged, other content 409.
    assert harness.psql(OLD_CALL % call) == [['unchanged', '']]
    r = c.post('/v1/loans', json=dict(copy.deepcopy(body), loan_ref=new))
    assert r.status == 200 and json.loads(r.body) == stored, r
    other = dict(call, amount='301.00', fen=30100)
    assert harness.psql(OLD_CALL % other) == [['rejected', 'conflict']]
