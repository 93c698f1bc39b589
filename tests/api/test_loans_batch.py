"""POST /v1/loans/batch: partial by default (counts and per-item results in input order, with
loans[i] field paths), ?atomic=true (all or nothing, 422 with the first problem), ?dry_run=true
(nothing stored, the answer says what would happen), Idempotency-Key replays, the CSV form
(answers exactly as the same batch in JSON) and the 1000-loan limit."""

import copy
import json

import finreg_data as fd
import harness


# --------------------------------------------------------------------------- helpers

def expect_error(r, status, code, rule=None, field=None):
    assert r.status == status, (status, r)
    err = r.json()['error']
    assert err['code'] == code, err
    assert err.get('rule') == rule, err
    assert err.get('field') == field, err
    assert isinstance(err.get('message'), str) and err['message'], err
    return err


def batch(c, loans, query='', headers=None):
    return c.post('/v1/loans/batch' + query, json={'loans': loans}, headers=headers)


def csv_batch(c, loans, query='', headers=None, **kw):
    return c.post('/v1/loans/batch' + query, body=fd.loans_csv(loans, **kw), headers=headers,
                  content_type='text/csv')


def stored_refs(bank):
    rows = harness.psql("SELECT loan_ref FROM loans WHERE bank_code = '%s' ORDER BY id" % bank)
    return [r[0] for r in rows if r != ['']]


def table_counts(bank, usccs=()):
    u = ','.join("'%s'" % x for x in usccs) or "''"
    return harness.psql(f"""
        SELECT (SELECT count(*) FROM loans WHERE bank_code = '{bank}'),
               (SELECT count(*) FROM loan_versions v JOIN loans l ON l.id = v.loan_id
                WHERE l.bank_code = '{bank}'),
               (SELECT count(*) FROM loan_warnings WHERE bank_code = '{bank}'),
               (SELECT count(*) FROM firms WHERE uscc IN ({u})),
               (SELECT count(*) FROM firm_versions WHERE uscc IN ({u}))""")[0]


def summary(answer):
    """(status, rule, field, code) per result, and the index sequence."""
    return [(x['status'], (x.get('error') or {}).get('rule'), (x.get('error') or {}).get('field'),
             (x.get('error') or {}).get('code')) for x in answer['results']]


def check_shape(answer, loans):
    assert [x['index'] for x in answer['results']] == list(range(len(loans))), answer
    for x, item in zip(answer['results'], loans):
        if isinstance(item, dict) and isinstance(item.get('loan_ref'), str):
            assert x['loan_ref'] == item['loan_ref'], (x, item)
        if x['status'] == 'rejected':
            assert x['error']['message'], x
        else:
            assert x.get('error') is None, x
    st = [x['status'] for x in answer['results']]
    assert (answer['created'], answer['unchanged'], answer['rejected']) == \
        (st.count('created'), st.count('unchanged'), st.count('rejected')), answer


# --------------------------------------------------------------------------- partial

def test_partial_batch_stores_the_good_items_and_answers_every_item_in_input_order():
    x = harness.new_principal()
    c = harness.client(x)
    p = fd.loan()
    q = fd.loan()
    assert c.post('/v1/loans', json=p).status == 201
    assert c.post('/v1/loans', json=q).status == 201
    a, b = fd.loan(), fd.loan()
    loans = [
        a,                                                          # 0 created
        fd.loan(amount='0'),                                        # 1 L008
        copy.deepcopy(p),                                           # 2 unchanged
        fd.loan(guarantee_mode='guaranteed', guarantor_code='NOPE'),  # 3 L013 (database)
        dict(copy.deepcopy(q), amount='1.00'),                      # 4 conflict with stored
        b,                                                          # 5 created
        copy.deepcopy(a),                                           # 6 same as item 0
        dict(copy.deepcopy(b), amount='2.00'),                      # 7 conflicts with item 5
        fd.loan(amout='1.00'),                                      # 8 unknown field
        'not a loan',                                               # 9 not an object
        fd.loan(borrower=dict(fd.firm(), x=1)),                     # 10 unknown borrower field
        fd.loan(borrower=fd.firm(uscc='91350203M0001QAY9B')),       # 11 L003
    ]
    r = batch(c, loans)
    assert r.status == 200, r
    ans = r.json()
    check_shape(ans, loans)
    assert summary(ans) == [
        ('created', None, None, None),
        ('rejected', 'L008', 'loans[1].amount', 'invalid_field'),
        ('unchanged', None, None, None),
        ('rejected', 'L013', 'loans[3].guarantor_code', 'invalid_field'),
        ('rejected', None, 'loans[4].loan_ref', 'conflict'),
        ('created', None, None, None),
        ('unchanged', None, None, None),
        ('rejected', None, 'loans[7].loan_ref', 'conflict'),
        ('rejected', None, 'loans[8].amout', 'unknown_field'),
        ('rejected', None, 'loans[9]', 'invalid_field'),
        ('rejected', None, 'loans[10].borrower.x', 'unknown_field'),
        ('rejected', 'L003', 'loans[11].borrower.uscc', 'invalid_field'),
    ], summary(ans)
    assert (ans['created'], ans['unchanged'], ans['rejected']) == (2, 2, 8), ans
    assert ans['results'][1]['error']['message'].startswith('loans[1].amount'), ans
    assert sorted(stored_refs(x.code)) == sorted([p['loan_ref'], q['loan_ref'], a['loan_ref'],
                                                  b['loan_ref']])
    got = c.get('/v1/loans/' + harness.quote(b['loan_ref'])).json()
    assert got['amount'] == b['amount'] and got['version'] == 1, got
    got = c.get('/v1/loans/' + harness.quote(q['loan_ref'])).json()
    assert got['amount'] == q['amount'], got


def test_an_item_rejected_for_its_guarantee_mode_does_not_count_as_an_earlier_loan_ref():
    # L013's mode part is judged on the item alone (as when C judged it before the
    # database): a later item with the same loan_ref is judged as if the first were absent.
    c = harness.client(harness.new_principal())
    good = fd.loan()
    bad = dict(copy.deepcopy(good), guarantee_mode='credit', guarantor_code='SM-GUAR')
    ans = batch(c, [bad, good, copy.deepcopy(bad)]).json()
    assert summary(ans) == [
        ('rejected', 'L013', 'loans[0].guarantor_code', 'invalid_field'),
        ('created', None, None, None),
        ('rejected', 'L013', 'loans[2].guarantor_code', 'invalid_field'),
    ], summary(ans)
    msg = ans['results'][0]['error']['message']
    assert msg == ('loans[0].guarantor_code: is only allowed with guarantee_mode "guaranteed" '
                   '(not "credit")'), msg
    r = batch(c, [fd.loan(), bad], '?atomic=true')
    assert r.status == 422 and r.json()['error']['rule'] == 'L013', r
    assert r.json()['error']['field'] == 'loans[1].guarantor_code', r


def test_batch_items_get_the_same_derived_fields_and_warnings_as_single_posts():
    x = harness.new_principal()
    c = harness.client(x)
    borrower = fd.firm(industry_code='4390', size='micro')
    loans = [fd.loan(borrower=borrower, issue_date='2020-05-12', maturity_date='2025-06-11',
                     rate='3.8550', first_loan=False),
             fd.loan(issue_date='2019-08-19', maturity_date='2021-05-13')]
    r = batch(c, loans)
    assert r.status == 200 and r.json()['created'] == 2, r
    one = c.get('/v1/loans/' + harness.quote(loans[0]['loan_ref'])).json()
    assert (one['term_months'], one['lpr_tenor'], one['lpr'], one['spread_bp'],
            one['manufacturing'], one['inclusive_small_micro'], one['medium_long_term']) == \
        (61, '5Y', '4.6500', -80, True, True, True), one
    assert [w['rule'] for w in one['warnings']] == ['W001'], one
    two = c.get('/v1/loans/' + harness.quote(loans[1]['loan_ref'])).json()
    assert (two['lpr'], two['spread_bp'], two['lpr_tenor']) == (None, None, '1Y'), two


def test_batch_body_must_be_an_object_with_a_loans_array_of_1_to_1000():
    c = harness.client('bank')
    expect_error(c.post('/v1/loans/batch', json={'loans': []}), 422, 'invalid_field', None,
                 'loans')
    expect_error(c.post('/v1/loans/batch', json={'loans': {}}), 422, 'invalid_field', None,
                 'loans')
    expect_error(c.post('/v1/loans/batch', json={}), 422, 'invalid_field', None, 'loans')
    expect_error(c.post('/v1/loans/batch', json={'loans': [fd.loan()], 'atomic': True}), 422,
                 'unknown_field', None, 'atomic')
    expect_error(c.post('/v1/loans/batch', body=b'[]'), 400, 'bad_json')
    expect_error(c.post('/v1/loans/batch?atomic=yes', json={'loans': [fd.loan()]}), 422,
                 'invalid_field', None, 'atomic')
    expect_error(c.post('/v1/loans/batch', body=b'loan_ref\r\nx\r\n', content_type='text/plain'),
                 415, 'unsupported_media_type')


def test_batch_of_1000_loans_is_accepted_and_1001_is_422_with_nothing_stored():
    x = harness.new_principal()
    c = harness.client(x, timeout=120)
    loans = [fd.loan() for _ in range(1001)]
    r = batch(c, loans)
    expect_error(r, 422, 'invalid_field', None, 'loans')
    assert stored_refs(x.code) == []
    r = csv_batch(c, loans)
    expect_error(r, 422, 'invalid_field', None, 'loans')
    assert stored_refs(x.code) == []
    r = batch(c, loans[:1000])
    assert r.status == 200, r
    ans = r.json()
    assert (ans['created'], ans['unchanged'], ans['rejected']) == (1000, 0, 0), \
        {k: ans[k] for k in ('created', 'unchanged', 'rejected')}
    check_shape(ans, loans[:1000])
    assert len(stored_refs(x.code)) == 1000


# --------------------------------------------------------------------------- atomic

def test_atomic_batch_with_one_bad_item_is_422_stores_nothing_and_answers_every_item():
    x = harness.new_principal()
    c = harness.client(x)
    loans = [fd.loan(), fd.loan(), fd.loan(), fd.loan(amount='12.345'), fd.loan()]
    usccs = [l['borrower']['uscc'] for l in loans]
    before = table_counts(x.code, usccs)
    r = batch(c, loans, '?atomic=true')
    err = expect_error(r, 422, 'invalid_field', 'L008', 'loans[3].amount')
    ans = r.json()
    check_shape(ans, loans)
    assert ans['results'][3]['status'] == 'rejected'
    assert ans['results'][3]['error'] == {k: err[k] for k in ans['results'][3]['error']}, ans
    assert [x['status'] for i, x in enumerate(ans['results']) if i != 3] == ['created'] * 4
    assert table_counts(x.code, usccs) == before
    assert stored_refs(x.code) == []


def test_concurrent_atomic_batches_sharing_a_loan_ref_store_exactly_one_batch_whole():
    """Six atomic batches race on one loan_ref with different content: one is stored
    whole, the five others store nothing and answer the conflict (a batch that meets the
    other's row mid-insert is rolled back and judged again)."""
    x = harness.new_principal()
    srv = harness.Server(threads=8)
    try:
        shared = fd.loan()
        batches = [[fd.loan() for _ in range(40)]
                   + [dict(copy.deepcopy(shared), amount='%d.00' % (100 + i))]
                   + [fd.loan() for _ in range(40)] for i in range(6)]
        results = harness.race([srv.client(x) for _ in batches],
                               lambda i, cl: batch(cl, batches[i], '?atomic=true'), 120)
        winners = [i for i, r in enumerate(results)
                   if not isinstance(r, Exception) and r.status == 200]
        assert len(winners) == 1, results
        for i, r in enumerate(results):
            if i != winners[0]:
                expect_error(r, 422, 'conflict', None, 'loans[40].loan_ref')
        assert stored_refs(x.code) == [l['loan_ref'] for l in batches[winners[0]]]
    finally:
        srv.stop()


def test_a_rejected_repeat_in_a_batch_leaves_the_firm_reference_data_alone():
    x = harness.new_principal()
    c = harness.client(x)
    a = fd.loan()
    renamed = dict(copy.deepcopy(a), borrower=dict(a['borrower'], name='另一个名字有限公司'),
                   amount='7.00')
    other_firm = dict(copy.deepcopy(a), borrower=fd.firm(), amount='8.00')
    r = batch(c, [a, renamed, other_firm])
    assert [s[0] for s in summary(r.json())] == ['created', 'rejected', 'rejected'], r.json()
    u = a['borrower']['uscc']
    assert harness.psql(f"SELECT name FROM firms WHERE uscc = '{u}'") == [[a['borrower']['name']]]
    assert harness.psql(f"SELECT count(*) FROM firm_versions WHERE uscc = '{u}'") == [['1']]
    assert harness.psql("SELECT count(*) FROM firms WHERE uscc = '%s'"
                        % other_firm['borrower']['uscc']) == [['0']]


def _batch_while_another_transaction_inserts(c, bank, loans, taken):
    """Posts partial batch `loans` while another transaction inserts loan `taken` (its
    loan_ref, borrower and relief flag, other content) and commits 2 s later, so that the
    batch meets the uncommitted row at its insert and waits for it. Returns the answer."""
    import subprocess
    import time
    b = taken['borrower']
    tag = harness.unique('hold-')
    hold = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', harness.cluster().url],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hold.stdin.write(f"""
        BEGIN;
        INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)
        VALUES ('{b['uscc']}', 'x', '350402', '3412', 'small', 'test') ON CONFLICT DO NOTHING;
        INSERT INTO loans (bank_code, loan_ref, borrower_uscc, borrower_name, county_code,
          industry_code, size, amount_fen, issue_date, maturity_date, rate_e4, guarantee_mode,
          first_loan, renewal, relief_fund, credit_line_fen, term_months, medium_long_term,
          manufacturing, inclusive_small_micro, lpr_tenor, lpr_e4, spread_bp, content)
        VALUES ('{bank}', '{taken['loan_ref']}', '{b['uscc']}', 'x', '350402', '3412',
          'small', 100, '2020-05-12', '2021-05-11', 43500, 'credit', true, false, false, 100,
          12, false, true, true, '1Y', 38500, 50, '{{}}');
        SELECT pg_sleep(2) AS "{tag}";
        COMMIT;
    """)
    hold.stdin.close()
    deadline = time.monotonic() + 20
    while harness.psql(f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{tag}%'"
                       f" AND state = 'active' AND pid <> pg_backend_pid()") != [['1']]:
        assert time.monotonic() < deadline and hold.poll() is None, hold.stderr.read()
        time.sleep(0.02)
    r = batch(c, loans)          # waits for the other transaction on taken's loan_ref
    assert hold.wait(20) == 0, hold.stderr.read()
    return r


def test_an_item_whose_loan_ref_another_ingest_takes_meanwhile_answers_conflict_alone():
    x = harness.new_principal()
    c = harness.client(x)
    mine, other = fd.loan(), fd.loan()
    r = _batch_while_another_transaction_inserts(c, x.code, [mine, other], mine)
    res = summary(r.json())
    assert res[0] == ('rejected', None, 'loans[0].loan_ref', 'conflict'), r.json()
    assert 'version 1' in r.json()['results'][0]['error']['message'], r.json()
    assert res[1][0] == 'created', r.json()
    assert stored_refs(x.code) == [mine['loan_ref'], other['loan_ref']]
    # The lost item's borrower kept the other transaction's data, not this batch's.
    assert harness.psql("SELECT name FROM firms WHERE uscc = '%s'"
                        % mine['borrower']['uscc']) == [['x']]


def test_an_item_whose_loan_ref_another_ingest_takes_meanwhile_does_not_count_in_the_batch():
    """The taken item was the batch's relief-fund loan to a firm: the batch is judged
    again, so the taken item answers conflict, and the relief-fund loan after it to the same
    firm is stored (the taken item never became that firm's relief-fund loan)."""
    x = harness.new_principal()
    c = harness.client(x)
    b = fd.firm()
    mine = fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11')
    second = fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11')
    r = _batch_while_another_transaction_inserts(c, x.code, [mine, second], mine)
    res = summary(r.json())
    assert res[0][0] == 'rejected' and res[0][3] == 'conflict', r.json()
    assert res[1][0] == 'created', r.json()
    assert stored_refs(x.code) == [mine['loan_ref'], second['loan_ref']]


def test_atomic_batch_error_is_the_first_problem_whether_found_in_the_database_or_not():
    x = harness.new_principal()
    c = harness.client(x)
    loans = [fd.loan(), fd.loan(guarantee_mode='guaranteed', guarantor_code='NO-SUCH'),
             fd.loan(), fd.loan(rate='0'), fd.loan()]
    r = batch(c, loans, '?atomic=true')
    expect_error(r, 422, 'invalid_field', 'L013', 'loans[1].guarantor_code')
    assert summary(r.json())[1] == ('rejected', 'L013', 'loans[1].guarantor_code',
                                    'invalid_field')
    assert summary(r.json())[3] == ('rejected', 'L011', 'loans[3].rate', 'invalid_field')
    assert stored_refs(x.code) == []
    # Only a database-side problem: still nothing stored.
    loans = [fd.loan(), fd.loan(), fd.loan(scf_program_id=77)]
    r = batch(c, loans, '?atomic=true')
    expect_error(r, 422, 'invalid_field', 'L021', 'loans[2].scf_program_id')
    assert stored_refs(x.code) == []
    # A conflict with a stored loan is a problem too.
    stored = fd.loan()
    assert c.post('/v1/loans', json=stored).status == 201
    r = batch(c, [fd.loan(), dict(copy.deepcopy(stored), amount='3.00')], '?atomic=true')
    expect_error(r, 422, 'conflict', None, 'loans[1].loan_ref')
    assert stored_refs(x.code) == [stored['loan_ref']]


def test_atomic_batch_without_problems_stores_every_item():
    x = harness.new_principal()
    c = harness.client(x)
    stored = fd.loan()
    assert c.post('/v1/loans', json=stored).status == 201
    loans = [fd.loan(), copy.deepcopy(stored), fd.loan()]
    r = batch(c, loans, '?atomic=true')
    assert r.status == 200, r
    assert summary(r.json()) == [('created', None, None, None), ('unchanged', None, None, None),
                                 ('created', None, None, None)]
    assert 'error' not in r.json() or r.json()['error'] is None
    assert sorted(stored_refs(x.code)) == sorted(l['loan_ref'] for l in loans)


def test_atomic_batch_renewing_a_loan_of_the_same_batch_is_rejected_and_stores_nothing():
    x = harness.new_principal()
    c = harness.client(x)
    b = fd.firm()
    old = fd.loan(borrower=b, issue_date='2019-05-01')
    new = fd.loan(borrower=dict(b), issue_date='2020-05-01', first_loan=False, renewal=True,
                  renews_loan_ref=old['loan_ref'])
    r = batch(c, [old, new], '?atomic=true')
    expect_error(r, 422, 'invalid_field', 'L016', 'loans[1].renews_loan_ref')
    assert stored_refs(x.code) == []


# --------------------------------------------------------------------------- dry run

def test_dry_run_stores_nothing_and_answers_what_would_happen():
    x = harness.new_principal()
    c = harness.client(x)
    p = fd.loan()
    assert c.post('/v1/loans', json=p).status == 201
    loans = [fd.loan(), copy.deepcopy(p), fd.loan(rate='101'), dict(copy.deepcopy(p), rate='1'),
             fd.loan(guarantee_mode='guaranteed', guarantor_code='SM-GUAR')]
    usccs = [l['borrower']['uscc'] for l in loans]
    before = table_counts(x.code, usccs)
    r = batch(c, loans, '?dry_run=true')
    assert r.status == 200, r
    dry = r.json()
    check_shape(dry, loans)
    expected = [('created', None, None, None), ('unchanged', None, None, None),
                ('rejected', 'L011', 'loans[2].rate', 'invalid_field'),
                ('rejected', None, 'loans[3].loan_ref', 'conflict'),
                ('created', None, None, None)]
    assert summary(dry) == expected, summary(dry)
    assert table_counts(x.code, usccs) == before
    assert stored_refs(x.code) == [p['loan_ref']]
    # Atomic dry run with a problem: 422, still nothing stored.
    r = batch(c, loans, '?dry_run=true&atomic=true')
    expect_error(r, 422, 'invalid_field', 'L011', 'loans[2].rate')
    assert summary(r.json()) == expected
    assert table_counts(x.code, usccs) == before
    # The real run does what the dry run said.
    r = batch(c, loans)
    assert r.status == 200 and summary(r.json()) == expected, r
    real = r.json()
    for k in ('created', 'unchanged', 'rejected', 'results'):
        assert real[k] == dry[k], (k, real[k], dry[k])
    assert sorted(stored_refs(x.code)) == sorted([p['loan_ref'], loans[0]['loan_ref'],
                                                  loans[4]['loan_ref']])


# --------------------------------------------------------------------------- Idempotency-Key

def test_idempotency_key_replays_the_first_answer_even_after_the_data_changed():
    x = harness.new_principal()
    c = harness.client(x)
    a, b = fd.loan(), fd.loan()
    loans = [a, b, fd.loan(amount='0')]
    key = {'Idempotency-Key': harness.unique('batch-')}
    first = batch(c, loans, headers=key)
    assert first.status == 200, first
    assert first.header('Idempotent-Replayed') is None, dict(first.headers)
    assert summary(first.json())[:2] == [('created', None, None, None)] * 2
    again = batch(c, copy.deepcopy(loans), headers=key)
    assert again.status == 200 and again.body == first.body, (again, first)
    assert again.header('Idempotent-Replayed') == 'true', dict(again.headers)
    # The data changes: a is corrected, b voided. The retry still gets the first answer.
    r = c.put('/v1/loans/' + harness.quote(a['loan_ref']), json=dict(a, amount='1.00'),
              headers={'If-Match': '"1"'})
    assert r.status == 200, r
    r = c.post('/v1/loans/%s/void' % harness.quote(b['loan_ref']), json={'reason': '重复'})
    assert r.status == 200, r
    again = batch(c, copy.deepcopy(loans), headers=key)
    assert again.status == 200 and again.body == first.body, (again, first)
    assert again.header('Idempotent-Replayed') == 'true'
    assert len(stored_refs(x.code)) == 2
    # Without the key the same batch is judged afresh.
    fresh = batch(c, copy.deepcopy(loans))
    assert summary(fresh.json())[0] == ('rejected', None, 'loans[0].loan_ref', 'conflict')


def test_idempotency_key_with_a_different_body_or_query_is_409_and_stores_nothing():
    x = harness.new_principal()
    c = harness.client(x)
    key = {'Idempotency-Key': harness.unique('batch-')}
    loans = [fd.loan()]
    assert batch(c, loans, headers=key).status == 200
    other = [fd.loan()]
    expect_error(batch(c, other, headers=key), 409, 'conflict', None, 'Idempotency-Key')
    expect_error(batch(c, loans, '?atomic=true', headers=key), 409, 'conflict', None,
                 'Idempotency-Key')
    expect_error(csv_batch(c, loans, headers=key), 409, 'conflict', None, 'Idempotency-Key')
    assert stored_refs(x.code) == [loans[0]['loan_ref']]
    # Keys belong to a bank: another bank may use the same key for its own batch.
    y = harness.new_principal()
    r = batch(harness.client(y), other, headers=key)
    assert r.status == 200 and r.json()['created'] == 1, r
    assert r.header('Idempotent-Replayed') is None


def test_idempotency_key_replays_an_atomic_422_answer():
    x = harness.new_principal()
    c = harness.client(x)
    for bad in (fd.loan(amount='0'),                                  # found before the database
                fd.loan(guarantee_mode='guaranteed', guarantor_code='NOPE')):  # found in it
        key = {'Idempotency-Key': harness.unique('atomic-')}
        loans = [fd.loan(), bad]
        first = batch(c, loans, '?atomic=true', headers=key)
        assert first.status == 422, first
        again = batch(c, loans, '?atomic=true', headers=key)
        assert again.status == 422 and again.body == first.body, (again, first)
        assert again.header('Idempotent-Replayed') == 'true', dict(again.headers)
    assert stored_refs(x.code) == []


def test_idempotency_key_on_a_dry_run_is_not_remembered():
    x = harness.new_principal()
    c = harness.client(x)
    key = {'Idempotency-Key': harness.unique('dry-')}
    loans = [fd.loan()]
    r = batch(c, loans, '?dry_run=true', headers=key)
    assert r.status == 200 and r.json()['created'] == 1, r
    r = batch(c, loans, headers=key)
    assert r.status == 200 and r.json()['created'] == 1, r
    assert r.header('Idempotent-Replayed') is None
    assert stored_refs(x.code) == [loans[0]['loan_ref']]


def test_malformed_idempotency_key_is_400():
    c = harness.client('bank')
    r = batch(c, [fd.loan()], headers={'Idempotency-Key': 'k' * 129})
    assert r.status == 400, r
    assert r.json()['error']['field'] == 'Idempotency-Key'


# --------------------------------------------------------------------------- CSV

def _csv_and_json_loans():
    """A batch with the awkward cases: quoted commas and quotes, Chinese, optional columns
    left empty, a loan the database rejects, a loan the parser rejects, a duplicate."""
    b1 = fd.firm(name='三明市"精工",机械有限公司', industry_code='1310', size='micro')
    b2 = fd.firm(name='永安, 林业 科技', county_code='350481', industry_code='0111')
    loans = [
        fd.loan(loan_ref='兴银(%s)贷字第0070号' % fd.loan_ref(), borrower=b1),
        fd.loan(borrower=b2, guarantee_mode='guaranteed', guarantor_code='SM-GUAR',
                credit_line=None, amount='1234.5', rate='3.855'),
        fd.loan(loan_ref=fd.loan_ref() + ',with "comma"', scf_program_id=None,
                issue_date='2019-08-19', maturity_date='2025-01-01'),
        fd.loan(amount='0'),
        fd.loan(guarantee_mode='guaranteed', guarantor_code='NOPE'),
        fd.loan(scf_program_id=5),
        fd.loan(borrower=fd.firm(name='line\nbreak')),
        fd.loan(rate='4.35001'),
        fd.loan(first_loan=False, issue_date='2020-01-02'),
    ]
    loans.append(copy.deepcopy(loans[0]))
    return loans


def test_csv_batch_answers_exactly_as_the_same_batch_in_json():
    loans = _csv_and_json_loans()
    xj, xc = harness.new_principal(), harness.new_principal()
    cj, cc = harness.client(xj), harness.client(xc)
    rj = batch(cj, loans)
    rc = csv_batch(cc, loans, bom=True, crlf=True)
    assert rj.status == 200, rj
    assert rc.status == 200, rc
    aj, ac = rj.json(), rc.json()
    assert set(aj) == set(ac), (aj.keys(), ac.keys())
    for k in aj:
        if k != 'results':
            assert aj[k] == ac[k], (k, aj[k], ac[k])
    assert len(aj['results']) == len(ac['results']) == len(loans)
    for i, (j, cv) in enumerate(zip(aj['results'], ac['results'])):
        assert j == cv, (i, j, cv)
    assert (aj['created'], aj['unchanged'], aj['rejected']) == (4, 1, 5), aj
    # What was stored is the same loan in both banks.
    for item, res in zip(loans, aj['results']):
        if res['status'] != 'created':
            continue
        path = '/v1/loans/' + harness.quote(item['loan_ref'])
        gj, gc = cj.get(path).json(), cc.get(path).json()
        for k in gj:
            if k not in ('bank_code', 'created_at', 'updated_at'):
                assert gj[k] == gc[k], (item['loan_ref'], k, gj[k], gc[k])
    assert sorted(stored_refs(xj.code)) == sorted(stored_refs(xc.code))


def test_csv_without_bom_and_with_lf_line_ends_is_the_same_batch():
    loans = _csv_and_json_loans()
    x, y = harness.new_principal(), harness.new_principal()
    a = csv_batch(harness.client(x), loans, bom=True, crlf=True)
    b = csv_batch(harness.client(y), loans, bom=False, crlf=False)
    assert a.status == b.status == 200, (a, b)
    assert a.json() == b.json()


def test_csv_dry_run_atomic_and_idempotency_key_work_as_for_json():
    x = harness.new_principal()
    c = harness.client(x)
    loans = [fd.loan(), fd.loan(amount='0')]
    r = csv_batch(c, loans, '?atomic=true')
    expect_error(r, 422, 'invalid_field', 'L008', 'loans[1].amount')
    r = csv_batch(c, loans, '?dry_run=true')
    assert r.status == 200 and summary(r.json())[0] == ('created', None, None, None), r
    assert stored_refs(x.code) == []
    key = {'Idempotency-Key': harness.unique('csv-')}
    first = csv_batch(c, loans, headers=key)
    again = csv_batch(c, loans, headers=key)
    assert first.status == again.status == 200 and first.body == again.body
    assert again.header('Idempotent-Replayed') == 'true'
    assert stored_refs(x.code) == [loans[0]['loan_ref']]


def test_csv_unknown_column_rejects_each_row_as_unknown_field():
    c = harness.client('bank')
    loans = [fd.loan(), fd.loan()]
    body = fd.loans_csv(loans).replace(b',amount,', b',amout,')
    r = c.post('/v1/loans/batch', body=body, content_type='text/csv')
    assert r.status == 200, r
    assert summary(r.json()) == [('rejected', None, 'loans[0].amout', 'unknown_field'),
                                 ('rejected', None, 'loans[1].amout', 'unknown_field')]


def test_malformed_csv_is_400_bad_json_naming_the_line():
    c = harness.client('bank')
    good = fd.loans_csv([fd.loan()], bom=False, crlf=False).decode()
    for text, line in ((good + 'a,"unterminated\n', 'line 3'),
                       (good + 'only,three,cells\n', 'line 3'),
                       (good.replace('\n', '\r', 1), 'line 1'),
                       ('\ufeff', None), ('', None)):
        r = c.post('/v1/loans/batch', body=text.encode(), content_type='text/csv')
        assert r.status == 400, (text, r)
        err = r.json()['error']
        assert err['code'] == 'bad_json', err
        if line:
            assert line in err['message'], (text, err)


# --------------------------------------------------------------------------- more edges

def test_atomic_batch_error_carries_the_request_id_like_every_error():
    c = harness.client('bank')
    r = batch(c, [fd.loan(), fd.loan(amount='0')], '?atomic=true',
              headers={'X-Request-Id': 'atomic-test-1'})
    err = expect_error(r, 422, 'invalid_field', 'L008', 'loans[1].amount')
    assert err.get('request_id') == r.header('X-Request-Id'), (err, dict(r.headers))


def test_duplicate_of_a_rejected_batch_item_is_rejected_the_same_way():
    x = harness.new_principal()
    c = harness.client(x)
    stored = fd.loan()
    assert c.post('/v1/loans', json=stored).status == 201
    changed = dict(copy.deepcopy(stored), amount='1.00')
    bad_guarantor = fd.loan(guarantee_mode='guaranteed', guarantor_code='NOPE')
    good = fd.loan()
    loans = [changed, copy.deepcopy(changed), bad_guarantor, copy.deepcopy(bad_guarantor),
             good, copy.deepcopy(good)]
    r = batch(c, loans)
    assert r.status == 200, r
    assert summary(r.json()) == [
        ('rejected', None, 'loans[0].loan_ref', 'conflict'),
        ('rejected', None, 'loans[1].loan_ref', 'conflict'),
        ('rejected', 'L013', 'loans[2].guarantor_code', 'invalid_field'),
        ('rejected', 'L013', 'loans[3].guarantor_code', 'invalid_field'),
        ('created', None, None, None),
        ('unchanged', None, None, None)], summary(r.json())
    assert sorted(stored_refs(x.code)) == sorted([stored['loan_ref'], good['loan_ref']])


def test_concurrent_atomic_batches_racing_for_one_loan_ref_store_all_or_nothing():
    srv = harness.Server(threads=16)
    x = harness.new_principal()
    for _ in range(3):
        shared = fd.loan()
        mine = [fd.loan() for _ in range(16)]

        def post(i, cl):
            body = [mine[i], dict(copy.deepcopy(shared), amount='%d.00' % (100 + i))]
            return cl.post('/v1/loans/batch?atomic=true', json={'loans': body}).status

        statuses = harness.race([srv.client(x) for _ in range(16)], post)
        assert sorted(statuses) == [200] + [422] * 15, statuses
        winner = statuses.index(200)
        refs = set(stored_refs(x.code))
        for i, m in enumerate(mine):
            assert (m['loan_ref'] in refs) == (i == winner), (i, winner, statuses)


def test_concurrent_retries_under_one_idempotency_key_all_get_the_first_answer():
    srv = harness.Server(threads=8)
    x = harness.new_principal()
    loans = [fd.loan() for _ in range(20)] + [fd.loan(rate='0')]
    key = {'Idempotency-Key': harness.unique('race-')}
    out = harness.race([srv.client(x) for _ in range(8)],
                       lambda i, cl: batch(cl, loans, headers=key))
    assert all(r.status == 200 for r in out), out
    assert len({r.body for r in out}) == 1, [r.body[:200] for r in out]
    assert out[0].json()['created'] == 20
    assert sorted(r.header('Idempotent-Replayed') or '' for r in out) == [''] + ['true'] * 7
    assert len(stored_refs(x.code)) == 20
