"""POST /v1/loans, one loan at a time: every rule of the catalog (GET /v1/rules, docs/rules.md)
with a value it accepts and values it rejects (status, error.code, error.rule, error.field),
unknown fields, the derived fields exactly as docs/domain.md defines them, the first-loan
warning W001 and its listing, safe retries and conflicts, concurrent identical posts, bank
isolation and the regulator's reads. Repayment and void rules (L030-L032, L040) are in
test_loans_lifecycle.py; the batch paths in test_loans_batch.py."""

import copy
import json
import os
import re

import finreg_data as fd
import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BANK, BANK2 = 'CIB-SM', 'RCB-SM'


# --------------------------------------------------------------------------- helpers

def expect_error(r, status, code, rule=None, field=None):
    """Asserts the contract's error shape and returns the error object."""
    assert r.status == status, (status, r)
    assert r.header('Content-Type', '').startswith('application/json'), dict(r.headers)
    err = r.json()['error']
    assert err['code'] == code, err
    assert err.get('rule') == rule, err
    assert err.get('field') == field, err
    assert isinstance(err.get('message'), str) and err['message'], err
    assert err.get('request_id'), err
    return err


def post(c, body):
    return c.post('/v1/loans', json=body)


def created(c, body):
    r = post(c, body)
    assert r.status == 201, (body, r)
    return r.json()


def rejected(c, body, rule, field, code='invalid_field', status=422):
    """Posts body and asserts it is rejected with rule at field and that the loan_ref was not
    stored."""
    err = expect_error(post(c, body), status, code, rule, field)
    ref = body.get('loan_ref') if isinstance(body, dict) else None
    if isinstance(ref, str) and ref and '\x00' not in ref:
        n = harness.psql("SELECT count(*) FROM loans WHERE loan_ref = '%s'"
                         % ref.replace("'", "''"))
        assert n == [['0']], (ref, n)
    return err


def with_borrower(**fields):
    b = fd.firm()
    for k, v in fields.items():
        if v is ...:
            b.pop(k, None)
        else:
            b[k] = v
    return fd.loan(borrower=b)


def get_loan(c, ref, bank=None):
    path = '/v1/loans/' + harness.quote(ref) + ('?bank=' + bank if bank else '')
    return c.get(path)


def counts(bank=None, uscc=None):
    """Rows of every loan-registry table that a request of bank (about firm uscc) could
    touch."""
    b = (bank or '').replace("'", "''")
    u = (uscc or '').replace("'", "''")
    rows = harness.psql(f"""
        SELECT (SELECT count(*) FROM loans WHERE bank_code = '{b}'),
               (SELECT count(*) FROM loan_versions v JOIN loans l ON l.id = v.loan_id
                WHERE l.bank_code = '{b}'),
               (SELECT count(*) FROM loan_warnings WHERE bank_code = '{b}'),
               (SELECT count(*) FROM repayments r JOIN loans l ON l.id = r.loan_id
                WHERE l.bank_code = '{b}'),
               (SELECT count(*) FROM firms WHERE uscc = '{u}'),
               (SELECT count(*) FROM firm_versions WHERE uscc = '{u}'),
               (SELECT count(*) FROM idempotency_keys WHERE bank_code = '{b}'),
               (SELECT coalesce(sum(version), 0) FROM loans WHERE bank_code = '{b}'),
               (SELECT coalesce(string_agg(status || repaid_fen, ',' ORDER BY id), '')
                FROM loans WHERE bank_code = '{b}')""")
    return rows[0]


# --------------------------------------------------------------------------- the catalog

def _rules_md():
    rows = []
    with open(os.path.join(ROOT, 'docs', 'rules.md'), encoding='utf-8') as f:
        for line in f:
            m = re.match(r'^\| ([LW]\d{3}) \| (\w+) \| (\w+) \| `([^`]*)` \| (.*) \|$',
                         line.rstrip('\n'))
            if m:
                rows.append({'id': m.group(1), 'severity': m.group(2), 'where': m.group(3),
                             'field': m.group(4),
                             'description': m.group(5).replace('\\|', '|')})
    return rows


EXPECTED_RULE_IDS = ['L%03d' % i for i in range(1, 22)] + ['L030', 'L031', 'L032', 'L040',
                                                            'W001']


def test_rules_endpoint_lists_exactly_the_catalog_of_docs_rules_md():
    r = harness.client('bank').get('/v1/rules')
    assert r.status == 200, r
    items = r.json()['items']
    md = _rules_md()
    assert [i['id'] for i in items] == [m['id'] for m in md], ([i['id'] for i in items], md)
    for got, want in zip(items, md):
        assert got == want, (got, want)
    # The loan registry's rules are all there, in this order (other areas may add theirs).
    ids = [i['id'] for i in items]
    assert [i for i in ids if i in EXPECTED_RULE_IDS] == EXPECTED_RULE_IDS, ids
    assert len(set(ids)) == len(ids), ids
    assert {i['severity'] for i in items if i['id'].startswith('L')} == {'error'}
    assert [i['severity'] for i in items if i['id'] == 'W001'] == ['warning']
    for i in items:
        assert i['field'] and i['description'], i
    # Each rule is judged in one place: in SQL when it needs stored rows, in C otherwise.
    where = {i['id']: i['where'] for i in items}
    assert {w for w in where.values()} == {'domain', 'database'}, where
    assert sorted(k for k, w in where.items() if w == 'database' and k in EXPECTED_RULE_IDS) == [
        'L013', 'L016', 'L019', 'L021', 'L031', 'L032', 'W001'], where


def test_the_item_finregd_renders_has_exactly_the_fields_of_the_sql_type_loan_item():
    # finregd sends an ingest's items as one array per field of service/db/loan_item.def,
    # in that order, to loan_ingest's parameters after its first four, which loan_ingest
    # turns positionally into the type loan_item (and a correction sends one item as a JSON
    # object read with jsonb_populate_record, where a missing key silently becomes NULL).
    # So the C list, the type's attributes and the function's parameters must be one list.
    # (The loan_ingest of one more parameter is the call of builds before migration 021.)
    with open(os.path.join(ROOT, 'service', 'db', 'loan_item.def'), encoding='utf-8') as f:
        c_fields = re.findall(r'^X\(LI_\w+, "(\w+)", (\w+)\)$', f.read(), re.MULTILINE)
    rows = harness.psql("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                        " WHERE attrelid = 'loan_item'::regclass"
                        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
    canon = {'int': 'integer', 'bigint': 'bigint', 'text': 'text', 'date': 'date',
             'boolean': 'boolean', 'jsonb': 'jsonb'}
    assert len(c_fields) > 20 and [(k, canon[t]) for k, t in c_fields] == \
        [tuple(r) for r in rows], (c_fields, rows)
    args = harness.psql("SELECT a.n, format_type(a.t, NULL) FROM pg_proc p,"
                        " unnest(p.proargnames, p.proargtypes::oid[]) WITH ORDINALITY a(n, t, o)"
                        " WHERE p.proname = 'loan_ingest' AND a.o <= p.pronargs"
                        " AND p.pronargs = %d ORDER BY a.o" % (4 + len(c_fields)))
    assert [tuple(r) for r in args[4:]] == [('p_' + k, canon[t] + '[]') for k, t in c_fields], args


def test_rules_endpoint_answers_every_principal_kind():
    first = harness.client('bank').get('/v1/rules').json()
    for who in ('guarantor', 'regulator'):
        r = harness.client(who).get('/v1/rules')
        assert r.status == 200 and r.json() == first, (who, r)
    expect_error(harness.client(None).get('/v1/rules'), 401, 'unauthenticated')


# --------------------------------------------------------------------------- a valid loan

def test_valid_loan_is_created_201_with_posted_content_and_every_derived_field():
    c = harness.client('bank')
    body = fd.loan()
    loan = created(c, body)
    for k, v in body.items():
        assert loan[k] == v, (k, loan[k], v)
    assert loan['bank_code'] == BANK
    assert loan['term_months'] == 36
    assert loan['medium_long_term'] is True
    assert loan['manufacturing'] is True
    assert loan['inclusive_small_micro'] is True
    assert loan['lpr_tenor'] == '1Y' and loan['lpr'] == '3.8500' and loan['spread_bp'] == 50
    assert loan['registry_first_loan'] is True
    assert loan['outstanding'] == '5000000.00'
    assert loan['status'] == 'active'
    assert loan['version'] == 1
    assert loan['warnings'] == []
    for ts in ('created_at', 'updated_at'):
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$', loan[ts]), loan
    got = get_loan(c, body['loan_ref'])
    assert got.status == 200 and got.json() == loan, got


def test_the_answer_finregd_renders_for_a_new_loan_is_byte_for_byte_what_the_database_gives():
    """A created loan's 201 body is rendered by finregd (json/loan_answer.c), no longer by
    loan_to_json in SQL: byte for byte the body of GET (still loan_to_json) for loans with
    every kind of value: escapes and CJK in strings, nulls, a guarantor, relief, no LPR
    link, W001 either way, a renewal, an earlier loan to the firm, a supply-chain program.
    Since migration 021 GET builds the content from the loan's columns (loan_content), so
    this also compares finregd's content with the database's."""
    c = harness.client('bank')
    b = fd.firm(name='三明 "引号" \\ 反斜杠/斜杠 é 𠀀 公司')
    old = fd.loan(borrower=b, issue_date='2019-05-12', maturity_date='2020-05-11',
                  first_loan=False, loan_ref='答案-"q"\\/' + fd.loan_ref())
    bodies = [
        old,
        fd.loan(borrower=dict(b), issue_date='2020-05-11', maturity_date='2021-05-10',
                first_loan=False, renewal=True, renews_loan_ref=old['loan_ref']),
        fd.loan(borrower=dict(b), first_loan=True),
        fd.loan(guarantee_mode='guaranteed', guarantor_code='SM-GUAR', amount='0.05',
                credit_line=..., rate='0.0001'),
        fd.loan(relief_fund=True, amount='10000000.00', credit_line=...,
                maturity_date='2021-05-11', guarantee_mode='collateral'),
        fd.loan(guarantor_code=..., renews_loan_ref=..., scf_program_id=..., credit_line=...,
                issue_date='2015-01-05', maturity_date='2015-03-04', rate='12.3456'),
    ]
    # A loan under a supply-chain program (scf_program_id a number), to the program's core.
    core = fd.firm(industry_code='3120')
    r = c.post('/v1/scf/programs', json={
        'name': harness.unique('供应链项目-'), 'core': core, 'product': 'receivables',
        'credit_limit': '10000000.00', 'started_on': '2020-01-01'})
    assert r.status == 201, r
    bodies.append(fd.loan(borrower=dict(core), scf_program_id=r.json()['id']))
    answers = []
    for body in bodies:
        r = post(c, body)
        assert r.status == 201, (body, r)
        got = get_loan(c, body['loan_ref'])
        assert got.status == 200, got
        assert r.body == got.body, (r.body, got.body)
        answers.append(r.json())
    assert [a['warnings'][0]['rule'] if a['warnings'] else None for a in answers[:3]] == \
        ['W001', None, 'W001'], answers[:3]
    assert [a['registry_first_loan'] for a in answers[:3]] == [True, False, False]


def test_optional_fields_may_be_absent_and_credit_line_defaults_to_amount():
    c = harness.client('bank')
    body = fd.loan(guarantor_code=..., renews_loan_ref=..., scf_program_id=...,
                   credit_line=..., amount='1234567.80')
    loan = created(c, body)
    assert loan['credit_line'] == '1234567.80', loan
    assert loan['guarantor_code'] is None and loan['renews_loan_ref'] is None
    assert loan['scf_program_id'] is None


# --------------------------------------------------------------------------- body shape

def test_unknown_top_level_field_is_422_unknown_field():
    c = harness.client('bank')
    rejected(c, fd.loan(amout='5000000.00'), None, 'amout', code='unknown_field')


def test_unknown_borrower_field_is_422_unknown_field_with_its_path():
    c = harness.client('bank')
    rejected(c, with_borrower(county='350402'), None, 'borrower.county', code='unknown_field')


def test_body_that_is_not_a_json_object_is_400_bad_json():
    c = harness.client('bank')
    for raw in (b'[]', b'"loan"', b'{"loan_ref": ', b''):
        r = c.post('/v1/loans', body=raw)
        expect_error(r, 400, 'bad_json')


def test_borrower_that_is_not_an_object_is_rejected_422():
    c = harness.client('bank')
    err = expect_error(post(c, fd.loan(borrower='91350200776049653A')), 422, 'invalid_field',
                       None, 'borrower')
    assert 'object' in err['message'], err
    body = fd.loan()
    del body['borrower']
    expect_error(post(c, body), 422, 'invalid_field', None, 'borrower')
    body['borrower'] = []
    expect_error(post(c, body), 422, 'invalid_field', None, 'borrower')


# --------------------------------------------------------------------------- L001-L021

def test_L001_loan_ref_accepts_64_characters_of_printable_unicode():
    c = harness.client('bank')
    ref = ('兴银(2020)贷字第%s号' % fd.loan_ref())
    ref = (ref + '贷' * 64)[:64]
    assert len(ref) == 64
    loan = created(c, fd.loan(loan_ref=ref))
    assert loan['loan_ref'] == ref
    created(c, fd.loan(loan_ref=fd.loan_ref() + ' /#?%&"\'<>'))


def test_L001_loan_ref_missing_empty_too_long_non_string_or_with_controls_is_rejected():
    c = harness.client('bank')
    long_ref = (fd.loan_ref() + 'x' * 65)[:65]
    for ref in (..., None, '', long_ref, 12345, ['a'], 'A\nB' + fd.loan_ref(),
                'A\tB' + fd.loan_ref(), 'A\u200bB' + fd.loan_ref(), 'A\x7fB' + fd.loan_ref(),
                'A\u202eB' + fd.loan_ref()):
        body = fd.loan()
        if ref is ...:
            del body['loan_ref']
        else:
            body['loan_ref'] = ref
        rejected(c, body, 'L001', 'loan_ref')


def test_L002_uscc_of_the_gb32100_alphabet_is_accepted():
    c = harness.client('bank')
    for uscc in ('91350200776049653A', '914403001922038216'):
        r = c.post('/v1/loans/batch?dry_run=true',
                   json={'loans': [fd.loan(borrower=fd.firm(uscc=uscc))]})
        assert r.status == 200, r
        assert r.json()['results'][0]['status'] == 'created', r
    created(c, fd.loan(borrower=fd.firm(uscc=fd.uscc_with_letters())))


def test_L002_lower_case_uscc_is_rejected_not_folded():
    c = harness.client('bank')
    good = fd.uscc_with_letters()
    rejected(c, fd.loan(borrower=fd.firm(uscc=good.lower())), 'L002', 'borrower.uscc')
    rejected(c, fd.loan(borrower=fd.firm(uscc='91350200776049653a')), 'L002', 'borrower.uscc')
    n = harness.psql("SELECT count(*) FROM firms WHERE uscc IN ('%s', '%s')"
                     % (good, good.lower()))
    assert n == [['0']], n


def test_L002_uscc_missing_wrong_length_or_outside_the_alphabet_is_rejected():
    c = harness.client('bank')
    good = fd.make_uscc()
    for uscc in (..., None, '', good[:17], good + '0', 91350200776049653,
                 'I' + good[1:], 'O' + good[1:], 'S' + good[1:], 'V' + good[1:],
                 'Z' + good[1:], good[:5] + '-' + good[6:], good[:17] + ' ', '９' + good[1:]):
        rejected(c, with_borrower(uscc=uscc), 'L002', 'borrower.uscc')


def test_L003_uscc_with_a_wrong_check_character_is_rejected():
    c = harness.client('bank')
    err = rejected(c, fd.loan(borrower=fd.firm(uscc='91350203M0001QAY9B')), 'L003',
                   'borrower.uscc')
    assert 'check' in err['message'], err
    for _ in range(5):
        rejected(c, fd.loan(borrower=fd.firm(uscc=fd.bad_check_uscc())), 'L003',
                 'borrower.uscc')


def test_L003_check_character_zero_when_the_sum_is_a_multiple_of_31_is_accepted():
    c = harness.client('bank')
    import random
    rng = random.Random(4)
    while True:
        u = fd.make_uscc(rng)
        if u.endswith('0'):
            break
    created(c, fd.loan(borrower=fd.firm(uscc=u)))


def test_L004_borrower_name_of_1_to_200_printable_characters_is_accepted():
    c = harness.client('bank')
    created(c, with_borrower(name='厂'))
    loan = created(c, with_borrower(name='三明' * 100))
    assert len(loan['borrower']['name']) == 200


def test_L004_borrower_name_missing_empty_too_long_or_with_controls_is_rejected():
    c = harness.client('bank')
    for name in (..., None, '', '三' * 201, 'A\nB', 'A\rB', 'A\u2028B', 'A\ufeffB', 42):
        rejected(c, with_borrower(name=name), 'L004', 'borrower.name')


def test_L005_county_code_any_six_digit_code_is_accepted():
    c = harness.client('bank')
    for code in ('350402', '350481', '110105'):
        loan = created(c, with_borrower(county_code=code))
        assert loan['borrower']['county_code'] == code


def test_L005_county_code_missing_or_not_six_digits_is_rejected():
    c = harness.client('bank')
    for code in (..., None, '', '35040', '3504021', '35040a', ' 350402', '０５０４０２',
                 350402, '000000'):
        rejected(c, with_borrower(county_code=code), 'L005', 'borrower.county_code')


def test_L006_industry_code_of_divisions_01_to_97_is_accepted():
    c = harness.client('bank')
    for code in ('0111', '3412', '9700'):
        created(c, with_borrower(industry_code=code))


def test_L006_industry_code_missing_malformed_or_outside_divisions_is_rejected():
    c = harness.client('bank')
    for code in (..., None, '', '341', '34120', '0011', '9800', '99a1', 3412, 'C341'):
        rejected(c, with_borrower(industry_code=code), 'L006', 'borrower.industry_code')


def test_L007_size_each_of_the_four_values_is_accepted():
    c = harness.client('bank')
    for size in ('large', 'medium', 'small', 'micro'):
        assert created(c, with_borrower(size=size))['borrower']['size'] == size


def test_L007_size_missing_or_not_one_of_the_four_is_rejected():
    c = harness.client('bank')
    for size in (..., None, '', 'Small', 'tiny', 'individual', 1):
        rejected(c, with_borrower(size=size), 'L007', 'borrower.size')


def test_L008_amount_yuan_string_with_up_to_two_decimals_is_accepted_and_normalised():
    c = harness.client('bank')
    for given, stored in (('0.01', '0.01'), ('1', '1.00'), ('100.5', '100.50'),
                          ('5000000.00', '5000000.00'), ('9999999999999.99',
                                                         '9999999999999.99')):
        loan = created(c, fd.loan(amount=given, credit_line=...))
        assert loan['amount'] == stored and loan['outstanding'] == stored, loan


def test_L008_amount_as_a_json_number_is_rejected_422():
    c = harness.client('bank')
    for amount in (5000000, 5000000.0, 5000000.00):
        rejected(c, fd.loan(amount=amount), 'L008', 'amount')


def test_L008_amount_missing_zero_negative_or_malformed_is_rejected():
    c = harness.client('bank')
    for amount in (..., None, '', '0', '0.00', '-1.00', '1.001', '1e6', ' 100.00', '100.00 ',
                   '1,000.00', '.5', '5.', '+5.00', '0x10', '¥100', '１００'):
        rejected(c, fd.loan(amount=amount), 'L008', 'amount')


def test_L009_issue_date_today_is_accepted():
    c = harness.client('bank')
    today = fd.today_cn()
    loan = created(c, fd.loan(issue_date=fd.day(today), maturity_date=fd.day(today, 365)))
    assert loan['issue_date'] == fd.day(today)


def test_L009_issue_date_missing_malformed_impossible_or_after_today_is_rejected():
    c = harness.client('bank')
    today = fd.today_cn()
    for d in (..., None, '', '2020-5-12', '2020/05/12', '20200512', '2020-02-30',
              '2021-02-29', '2020-13-01', '2020-05-12T00:00:00', 20200512,
              fd.day(today, 1)):
        rejected(c, fd.loan(issue_date=d, maturity_date=fd.day(today, 400)), 'L009',
                 'issue_date')


def test_L010_maturity_date_one_day_after_issue_is_accepted():
    c = harness.client('bank')
    loan = created(c, fd.loan(issue_date='2020-02-28', maturity_date='2020-02-29'))
    assert loan['term_months'] == 0 and loan['medium_long_term'] is False


def test_L010_maturity_date_missing_malformed_or_not_after_issue_is_rejected():
    c = harness.client('bank')
    for d in (..., None, '', '2023-02-29', '2023-5-11', '2020-05-12', '2020-05-11'):
        rejected(c, fd.loan(maturity_date=d), 'L010', 'maturity_date')


def test_L011_rate_above_0_up_to_100_with_four_decimals_is_accepted():
    c = harness.client('bank')
    for given, stored in (('0.0001', '0.0001'), ('4.35', '4.3500'), ('100', '100.0000'),
                          ('100.0000', '100.0000')):
        assert created(c, fd.loan(rate=given))['rate'] == stored


def test_L011_rate_missing_zero_above_100_too_precise_or_a_number_is_rejected():
    c = harness.client('bank')
    for rate in (..., None, '', '0', '0.0000', '-1.0000', '100.0001', '101', '4.35001',
                 '4,35', '4.35%', 4.35, 4):
        rejected(c, fd.loan(rate=rate), 'L011', 'rate')


def test_L012_guarantee_mode_each_of_the_four_values_is_accepted():
    c = harness.client('bank')
    for mode in ('credit', 'guaranteed', 'collateral', 'pledge'):
        assert created(c, fd.loan(guarantee_mode=mode))['guarantee_mode'] == mode


def test_L012_guarantee_mode_missing_or_unknown_is_rejected():
    c = harness.client('bank')
    for mode in (..., None, '', 'CREDIT', 'unsecured', 'mortgage', True):
        rejected(c, fd.loan(guarantee_mode=mode), 'L012', 'guarantee_mode')


def test_L013_guaranteed_loan_naming_a_registered_guarantor_is_accepted():
    c = harness.client('bank')
    loan = created(c, fd.loan(guarantee_mode='guaranteed', guarantor_code='SM-GUAR'))
    assert loan['guarantor_code'] == 'SM-GUAR'
    created(c, fd.loan(guarantee_mode='guaranteed', guarantor_code=None))


def test_L013_guarantor_code_unknown_not_a_guarantor_malformed_or_on_other_modes_is_rejected():
    c = harness.client('bank')
    rejected(c, fd.loan(guarantee_mode='credit', guarantor_code='SM-GUAR'), 'L013',
             'guarantor_code')
    rejected(c, fd.loan(guarantee_mode='collateral', guarantor_code='SM-GUAR'), 'L013',
             'guarantor_code')
    rejected(c, fd.loan(guarantee_mode='guaranteed', guarantor_code='NO-SUCH-GUAR'), 'L013',
             'guarantor_code')
    rejected(c, fd.loan(guarantee_mode='guaranteed', guarantor_code=BANK), 'L013',
             'guarantor_code')
    for code in ('', 'G' * 65, 'A\nB', 7):
        rejected(c, fd.loan(guarantee_mode='guaranteed', guarantor_code=code), 'L013',
                 'guarantor_code')


def test_L013_on_another_mode_keeps_its_message_and_comes_before_the_stored_loan_ref():
    # L013 is judged in SQL only; its mode part answers as it did when C judged it: first,
    # with the same message, even when the loan_ref is stored with other content.
    c = harness.client('bank')
    body = fd.loan(guarantee_mode='credit', guarantor_code='SM-GUAR')
    r = post(c, body)
    expect_error(r, 422, 'invalid_field', 'L013', 'guarantor_code')
    assert r.json()['error']['message'] == (
        'guarantor_code: is only allowed with guarantee_mode "guaranteed" (not "credit")'), r
    stored = created(c, fd.loan())
    r = post(c, dict(fd.loan(loan_ref=stored['loan_ref'], guarantee_mode='pledge',
                             guarantor_code='SM-GUAR')))
    expect_error(r, 422, 'invalid_field', 'L013', 'guarantor_code')
    assert '(not "pledge")' in r.json()['error']['message'], r


def test_L014_first_loan_true_or_false_is_accepted():
    c = harness.client('bank')
    u = fd.make_uscc()
    assert created(c, fd.loan(borrower=fd.firm(u), issue_date='2020-01-10',
                              first_loan=True))['first_loan'] is True
    assert created(c, fd.loan(borrower=fd.firm(u), first_loan=False))['first_loan'] is False


def test_L014_first_loan_missing_or_not_a_boolean_is_rejected():
    c = harness.client('bank')
    for v in (..., None, 'true', 1, 0, 'yes'):
        rejected(c, fd.loan(first_loan=v), 'L014', 'first_loan')


def test_L015_renewal_false_without_renews_loan_ref_is_accepted():
    c = harness.client('bank')
    assert created(c, fd.loan(renewal=False, renews_loan_ref=None))['renewal'] is False
    assert created(c, fd.loan(renewal=False, renews_loan_ref=...))['renewal'] is False


def test_L015_renewal_missing_not_boolean_or_inconsistent_with_renews_loan_ref_is_rejected():
    c = harness.client('bank')
    for v in (..., None, 'false', 0):
        rejected(c, fd.loan(renewal=v), 'L015', 'renewal')
    rejected(c, fd.loan(renewal=True, renews_loan_ref=None), 'L015', 'renewal')
    rejected(c, fd.loan(renewal=True, renews_loan_ref=...), 'L015', 'renewal')
    rejected(c, fd.loan(renewal=False, renews_loan_ref=fd.loan_ref()), 'L015', 'renewal')


def test_L016_renewal_of_an_active_loan_of_the_same_bank_and_borrower_is_accepted():
    c = harness.client('bank')
    b = fd.firm()
    old = created(c, fd.loan(borrower=b, issue_date='2019-05-12', maturity_date='2020-05-11'))
    new = created(c, fd.loan(borrower=b, issue_date='2020-05-11', maturity_date='2021-05-10',
                             first_loan=False, renewal=True,
                             renews_loan_ref=old['loan_ref']))
    assert new['renews_loan_ref'] == old['loan_ref'] and new['renewal'] is True


def test_L016_renews_loan_ref_unknown_malformed_other_borrower_other_bank_or_later_is_rejected():
    c, c2 = harness.client('bank'), harness.client('bank2')
    b = fd.firm()
    old = created(c, fd.loan(borrower=b, issue_date='2019-05-12', maturity_date='2020-05-11'))
    other_bank = created(c2, fd.loan(borrower=b, issue_date='2019-06-12', first_loan=False))

    def renewal(ref, **kw):
        fields = dict(borrower=dict(b), issue_date='2020-05-11', maturity_date='2021-05-10',
                      first_loan=False, renewal=True, renews_loan_ref=ref)
        fields.update(kw)
        return fd.loan(**fields)

    rejected(c, renewal(fd.loan_ref()), 'L016', 'renews_loan_ref')
    rejected(c, renewal(other_bank['loan_ref']), 'L016', 'renews_loan_ref')
    rejected(c, renewal(old['loan_ref'], borrower=fd.firm()), 'L016', 'renews_loan_ref')
    rejected(c, renewal(old['loan_ref'], issue_date='2019-05-12'), 'L016', 'renews_loan_ref')
    rejected(c, renewal(old['loan_ref'], issue_date='2019-05-01'), 'L016', 'renews_loan_ref')
    for ref in ('', 'R' * 65, 'A\nB', 17):
        rejected(c, renewal(ref), 'L016', 'renews_loan_ref')
    again = get_loan(c, old['loan_ref']).json()
    assert again['status'] == 'active' and again['outstanding'] == '5000000.00', again


def test_L017_relief_fund_loan_at_exactly_the_cap_is_accepted():
    c = harness.client('bank')
    loan = created(c, fd.loan(relief_fund=True, amount='10000000.00', credit_line=...,
                              maturity_date='2021-05-11'))
    assert loan['relief_fund'] is True and loan['amount'] == '10000000.00'
    assert created(c, fd.loan(relief_fund=False))['relief_fund'] is False


def test_L017_relief_fund_missing_not_boolean_or_above_the_cap_is_rejected():
    c = harness.client('bank')
    for v in (..., None, 'false', 0):
        rejected(c, fd.loan(relief_fund=v), 'L017', 'relief_fund')
    rejected(c, fd.loan(relief_fund=True, amount='10000000.01', credit_line=...,
                        maturity_date='2021-05-11'), 'L017', 'relief_fund')


def test_L018_relief_fund_loan_of_twelve_months_is_accepted():
    c = harness.client('bank')
    loan = created(c, fd.loan(relief_fund=True, issue_date='2020-05-12',
                              maturity_date='2021-05-12'))
    assert loan['term_months'] == 12


def test_L018_relief_fund_loan_of_thirteen_months_is_rejected():
    c = harness.client('bank')
    rejected(c, fd.loan(relief_fund=True, issue_date='2020-05-12', maturity_date='2021-06-11'),
             'L018', 'relief_fund')
    # Twelve whole months and 19 days is over twelve months too (and medium/long-term,
    # over one year: never both that and within the relief cap).
    rejected(c, fd.loan(relief_fund=True, issue_date='2020-05-12', maturity_date='2021-05-31'),
             'L018', 'relief_fund')
    loan = created(c, fd.loan(relief_fund=False, issue_date='2020-05-12',
                              maturity_date='2021-05-31'))
    assert loan['term_months'] == 12 and loan['medium_long_term'] is True, loan
    # The same term without the fund is fine.
    created(c, fd.loan(relief_fund=False, issue_date='2020-05-12', maturity_date='2021-06-11'))


def test_L019_second_relief_fund_loan_to_a_firm_is_rejected_even_from_another_bank():
    c, c2 = harness.client('bank'), harness.client('bank2')
    b = fd.firm()
    first = created(c, fd.loan(borrower=b, relief_fund=True, maturity_date='2021-05-11'))
    rejected(c, fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11',
                        first_loan=False), 'L019', 'relief_fund')
    rejected(c2, fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11',
                         first_loan=False), 'L019', 'relief_fund')
    # A loan without the fund to the same firm is fine.
    created(c2, fd.loan(borrower=dict(b), relief_fund=False, first_loan=False))
    # Once the first is voided the firm may get another.
    r = c.post('/v1/loans/%s/void' % harness.quote(first['loan_ref']),
               json={'reason': '录入错误'})
    assert r.status == 200, r
    created(c2, fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11',
                        first_loan=False))


def test_L020_credit_line_equal_to_or_above_the_amount_is_accepted():
    c = harness.client('bank')
    assert created(c, fd.loan(amount='100.00', credit_line='100.00'))['credit_line'] == '100.00'
    assert created(c, fd.loan(amount='100.00', credit_line='100.01'))['credit_line'] == '100.01'


def test_L020_credit_line_below_the_amount_or_malformed_is_rejected():
    c = harness.client('bank')
    for v in ('99.99', '0', '', '1.001', 100, '-100.00'):
        rejected(c, fd.loan(amount='100.00', credit_line=v), 'L020', 'credit_line')


def test_L021_scf_program_id_absent_or_null_is_accepted():
    c = harness.client('bank')
    assert created(c, fd.loan(scf_program_id=None))['scf_program_id'] is None


def test_L021_scf_program_id_not_a_positive_integer_or_not_a_program_of_the_bank_is_rejected():
    c = harness.client('bank')
    for v in (0, -1, '5', 1.5, True, 999999999):
        rejected(c, fd.loan(scf_program_id=v), 'L021', 'scf_program_id')


def test_first_broken_rule_in_field_order_is_reported():
    c = harness.client('bank')
    body = fd.loan(amount='0', rate='0')
    body['borrower']['size'] = 'tiny'
    rejected(c, body, 'L007', 'borrower.size')
    rejected(c, fd.loan(amount='0', rate='0'), 'L008', 'amount')


# --------------------------------------------------------------------------- derived fields

def _derived(c, **fields):
    return created(c, fd.loan(**fields))


def test_term_months_counts_the_maturity_day_2020_05_12_to_2023_05_11_is_36():
    c = harness.client('bank')
    for issue, maturity, months in (('2020-05-12', '2023-05-11', 36),
                                    ('2020-05-12', '2023-05-10', 35),
                                    ('2020-05-12', '2023-05-12', 36),
                                    ('2020-05-12', '2020-06-11', 1),
                                    ('2020-01-31', '2020-02-29', 1),
                                    ('2020-05-12', '2025-05-11', 60),
                                    ('2020-05-12', '2025-06-11', 61)):
        loan = _derived(c, issue_date=issue, maturity_date=maturity)
        assert loan['term_months'] == months, (issue, maturity, loan['term_months'], months)


def test_medium_long_term_only_when_maturity_is_later_than_issue_plus_one_year():
    c = harness.client('bank')
    assert _derived(c, issue_date='2020-05-12',
                    maturity_date='2021-05-12')['medium_long_term'] is False
    assert _derived(c, issue_date='2020-05-12',
                    maturity_date='2021-05-13')['medium_long_term'] is True
    assert _derived(c, issue_date='2020-05-12',
                    maturity_date='2021-05-11')['medium_long_term'] is False


def test_manufacturing_is_divisions_13_to_43_inclusive():
    c = harness.client('bank')
    for code, mfg in (('1200', False), ('1310', True), ('4390', True), ('4411', False),
                      ('3412', True), ('0111', False)):
        loan = created(c, with_borrower(industry_code=code))
        assert loan['manufacturing'] is mfg, (code, loan['manufacturing'])


def test_inclusive_small_micro_up_to_a_credit_line_of_exactly_10_million():
    c = harness.client('bank')
    cases = (('small', '10000000.00', True), ('small', '10000000.01', False),
             ('micro', '10000000.00', True), ('micro', '10000000.01', False),
             ('medium', '5000000.00', False), ('large', '5000000.00', False))
    for size, line, inclusive in cases:
        loan = created(c, fd.loan(borrower=fd.firm(size=size), credit_line=line))
        assert loan['inclusive_small_micro'] is inclusive, (size, line, loan)
    # Without credit_line the amount is the line.
    assert created(c, fd.loan(amount='10000000.00', credit_line=...))[
        'inclusive_small_micro'] is True
    assert created(c, fd.loan(amount='10000000.01', credit_line=...))[
        'inclusive_small_micro'] is False


def test_lpr_is_null_before_2019_08_20_and_the_rate_in_force_from_then_on():
    c = harness.client('bank')
    cases = (  # issue, maturity, rate, tenor, lpr, spread
        ('2019-08-19', '2020-08-18', '4.3500', '1Y', None, None),
        ('2019-08-20', '2020-08-19', '4.3500', '1Y', '4.2500', 10),
        ('2019-08-20', '2026-08-19', '4.3500', '5Y', '4.8500', -50),
        ('2019-09-19', '2020-09-18', '4.3500', '1Y', '4.2500', 10),
        ('2019-09-20', '2020-09-19', '4.3500', '1Y', '4.2000', 15),
        ('2019-11-20', '2020-11-19', '4.3500', '1Y', '4.1500', 20),
        ('2020-02-20', '2021-02-19', '4.3500', '1Y', '4.0500', 30),
        ('2020-04-19', '2021-04-18', '4.3500', '1Y', '4.0500', 30),
        ('2020-04-20', '2021-04-19', '4.3500', '1Y', '3.8500', 50),
        ('2020-05-12', '2023-05-11', '4.3500', '1Y', '3.8500', 50),
        ('2020-05-12', '2025-05-11', '4.3500', '1Y', '3.8500', 50),   # 60 months: 1Y
        ('2020-05-12', '2025-05-12', '4.3500', '1Y', '3.8500', 50),   # five years to the day
        ('2020-05-12', '2025-05-13', '4.3500', '5Y', '4.6500', -30),  # above five years
        ('2020-05-12', '2025-05-31', '4.3500', '5Y', '4.6500', -30),  # 60 months and 20 days
        ('2020-05-12', '2025-06-11', '4.3500', '5Y', '4.6500', -30),  # 61 months: 5Y
    )
    for issue, maturity, rate, tenor, lpr, spread in cases:
        loan = _derived(c, issue_date=issue, maturity_date=maturity, rate=rate)
        got = (loan['lpr_tenor'], loan['lpr'], loan['spread_bp'])
        assert got == (tenor, lpr, spread), (issue, maturity, got, (tenor, lpr, spread))


def test_spread_bp_rounds_half_a_basis_point_away_from_zero():
    c = harness.client('bank')
    # Issued 2020-05-12, one-year LPR 3.8500: spread = (rate - 3.8500) * 100 bp.
    for rate, spread in (('3.8550', 1), ('3.8549', 0), ('3.8551', 1), ('3.8450', -1),
                         ('3.8451', 0), ('3.8449', -1), ('3.8500', 0), ('3.8650', 2),
                         ('3.8350', -2), ('0.0001', -385)):
        loan = _derived(c, rate=rate)
        assert loan['spread_bp'] == spread, (rate, loan['spread_bp'], spread)
        assert isinstance(loan['spread_bp'], int)


# --------------------------------------------------------------------------- W001

def test_registry_first_loan_and_W001_when_the_bank_flag_disagrees():
    c, c2 = harness.client('bank'), harness.client('bank2')
    b = fd.firm()
    a = created(c, fd.loan(borrower=b, issue_date='2020-03-01', first_loan=True))
    assert a['registry_first_loan'] is True and a['warnings'] == [], a

    later = created(c2, fd.loan(borrower=dict(b), issue_date='2020-06-01', first_loan=True))
    assert later['registry_first_loan'] is False, later
    assert [(w['rule'], w['field']) for w in later['warnings']] == [('W001', 'first_loan')]
    assert later['warnings'][0]['message'], later
    # Stored with the loan: GET returns it too.
    again = get_loan(c2, later['loan_ref']).json()
    assert again['warnings'] == later['warnings'], again

    agree = created(c2, fd.loan(borrower=dict(b), issue_date='2020-07-01', first_loan=False))
    assert agree['registry_first_loan'] is False and agree['warnings'] == [], agree

    lone = created(c, fd.loan(first_loan=False))
    assert lone['registry_first_loan'] is True, lone
    assert [w['rule'] for w in lone['warnings']] == ['W001'], lone


def _all_warnings(c, query):
    items, cursor, pages = [], None, 0
    while True:
        q = query + ('&cursor=' + cursor if cursor else '')
        r = c.get('/v1/warnings?' + q)
        assert r.status == 200, r
        page = r.json()
        items += page['items']
        cursor = page['next_cursor']
        pages += 1
        assert pages < 1000
        if cursor is None:
            return items


def test_warnings_are_listed_to_the_regulator_for_all_banks_and_to_a_bank_for_its_own():
    x, y = harness.new_principal(), harness.new_principal()
    cx, cy, reg = harness.client(x), harness.client(y), harness.client('regulator')
    lx = created(cx, fd.loan(first_loan=False))
    ly = created(cy, fd.loan(first_loan=False))
    ok = created(cy, fd.loan(first_loan=True))
    assert ok['warnings'] == []

    own = _all_warnings(cx, 'limit=50')
    assert [(w['bank_code'], w['loan_ref'], w['rule'], w['field']) for w in own] == \
        [(x.code, lx['loan_ref'], 'W001', 'first_loan')], own
    assert own[0]['message'] == lx['warnings'][0]['message']
    assert _all_warnings(cx, 'bank=self') == own
    assert _all_warnings(cx, 'bank=' + x.code) == own
    assert _all_warnings(cx, 'rule=W001') == own
    expect_error(cx.get('/v1/warnings?bank=' + y.code), 404, 'not_found')

    only_y = _all_warnings(reg, 'bank=' + y.code)
    assert [w['loan_ref'] for w in only_y] == [ly['loan_ref']], only_y
    everyone = _all_warnings(reg, 'rule=W001&limit=1000')
    refs = {(w['bank_code'], w['loan_ref']) for w in everyone}
    assert (x.code, lx['loan_ref']) in refs and (y.code, ly['loan_ref']) in refs
    assert (y.code, ok['loan_ref']) not in refs
    today = fd.day(fd.today_cn())
    assert _all_warnings(reg, 'bank=%s&from=%s&to=%s' % (y.code, today, today)) == only_y
    assert _all_warnings(reg, 'bank=%s&to=2020-01-01' % y.code) == []
    assert _all_warnings(reg, 'bank=%s&rule=L001' % y.code) == []


# --------------------------------------------------------------------------- safety

def test_identical_retry_answers_200_with_the_same_body():
    c = harness.client('bank')
    body = fd.loan()
    first = post(c, body)
    assert first.status == 201, first
    for _ in range(2):
        again = post(c, copy.deepcopy(body))
        assert again.status == 200, again
        assert again.json() == first.json(), (again.json(), first.json())
    n = harness.psql("SELECT count(*), max(version) FROM loans WHERE loan_ref = '%s'"
                     % body['loan_ref'])
    assert n == [['1', '1']], n


def test_retry_with_the_same_values_in_another_spelling_is_the_same_content():
    c = harness.client('bank')
    body = fd.loan(amount='5000000.00', rate='4.3500')
    first = created(c, body)
    spelled = dict(copy.deepcopy(body), amount='5000000', rate='4.35')
    spelled = {k: spelled[k] for k in reversed(list(spelled))}   # member order is no content
    again = post(c, spelled)
    assert again.status == 200 and again.json() == first, again


def test_same_loan_ref_with_different_content_is_409_and_keeps_the_stored_loan():
    c = harness.client('bank')
    body = fd.loan()
    first = created(c, body)
    before = counts(BANK, body['borrower']['uscc'])
    for change in ({'amount': '4000000.00'}, {'first_loan': False},
                   {'borrower': dict(body['borrower'], name='另一家公司')}):
        r = post(c, dict(copy.deepcopy(body), **change))
        expect_error(r, 409, 'conflict', None, 'loan_ref')
    assert counts(BANK, body['borrower']['uscc']) == before
    assert get_loan(c, body['loan_ref']).json() == first


def test_24_concurrent_identical_posts_create_one_loan_201_once_and_200_for_the_rest():
    body = fd.loan()
    srv = harness.Server(threads=24)       # so that the posts really run at once
    out = harness.race([srv.client('bank') for _ in range(24)],
                       lambda i, cl: cl.post('/v1/loans', json=body))
    results = [('exception', repr(r)) if isinstance(r, Exception) else (r.status, r.json())
               for r in out]
    statuses = sorted(str(s) for s, _ in results)
    assert statuses.count('201') == 1 and statuses.count('200') == 23, results
    bodies = [b for _, b in results]
    assert all(b == bodies[0] for b in bodies), bodies
    rows = harness.psql("SELECT count(*) FROM loans WHERE bank_code = '%s' AND loan_ref = '%s'"
                        % (BANK, body['loan_ref']))
    assert rows == [['1']], rows
    # Version 1 is the loan row itself (migration 017): no loan_versions row.
    rows = harness.psql("SELECT count(*) FROM loan_versions v JOIN loans l ON l.id = v.loan_id"
                        " WHERE l.loan_ref = '%s'" % body['loan_ref'])
    assert rows == [['0']], rows


def test_concurrent_posts_of_one_loan_ref_with_different_content_store_one_and_409_the_rest():
    base = fd.loan()
    results = harness.race(
        [harness.client('bank') for _ in range(8)],
        lambda i, cl: cl.post('/v1/loans', json=dict(copy.deepcopy(base),
                                                     amount='%d.00' % (1000 + i))).status)
    assert sorted(results) == [201] + [409] * 7, results


def test_concurrent_single_posts_are_stored_together_yet_each_answers_for_itself():
    """Posts arriving while others are being stored share their transaction (group
    commit, db/loan_group.c); each still gets exactly the answer it would alone."""
    x = harness.new_principal()
    srv = harness.Server(threads=24)
    try:
        clients = [srv.client(x) for _ in range(24)]
        stored = fd.loan()
        assert clients[0].post('/v1/loans', json=stored).status == 201
        bodies = [fd.loan(amount='%d.00' % (10000 + i), credit_line=...) for i in range(24)]
        bodies[5] = fd.loan(guarantee_mode='guaranteed', guarantor_code='NO-SUCH')  # L013
        bodies[13] = dict(copy.deepcopy(stored), amount='3.00')    # conflict
        bodies[17] = copy.deepcopy(stored)                          # identical retry
        results = harness.race(clients, lambda i, cl: cl.post('/v1/loans', json=bodies[i]))
        for i, r in enumerate(results):
            assert not isinstance(r, Exception), (i, r)
            if i == 5:
                expect_error(r, 422, 'invalid_field', 'L013', 'guarantor_code')
            elif i == 13:
                err = expect_error(r, 409, 'conflict', None, 'loan_ref')
                assert 'already stored' in err['message'] and 'batch' not in err['message']
            elif i == 17:
                assert r.status == 200, r
                assert r.json()['loan_ref'] == stored['loan_ref'] and r.json()['version'] == 1
            else:
                assert r.status == 201, (i, r)
                loan = r.json()
                assert loan['loan_ref'] == bodies[i]['loan_ref'], (i, loan)
                assert loan['amount'] == bodies[i]['amount'], (i, loan)
                assert loan['borrower'] == bodies[i]['borrower'], (i, loan)
        refs = sorted(b['loan_ref'] for i, b in enumerate(bodies) if i not in (5, 13, 17))
        rows = harness.psql("SELECT loan_ref, amount_fen FROM loans WHERE bank_code = '%s'"
                            " AND loan_ref <> '%s' ORDER BY loan_ref"
                            % (x.code, stored['loan_ref']))
        assert [r[0] for r in rows] == refs, rows
        assert harness.psql("SELECT amount_fen FROM loans WHERE bank_code = '%s' AND"
                            " loan_ref = '%s'" % (x.code, stored['loan_ref'])) == [['500000000']]
        # The rejected L013 post left no trace, not even its borrower.
        assert harness.psql("SELECT count(*) FROM firms WHERE uscc = '%s'"
                            % bodies[5]['borrower']['uscc']) == [['0']]
    finally:
        srv.stop()


def test_a_bank_cannot_see_or_touch_another_banks_loan():
    c, c2 = harness.client('bank'), harness.client('bank2')
    body = fd.loan()
    loan = created(c, body)
    ref = harness.quote(body['loan_ref'])
    before = counts(BANK, body['borrower']['uscc'])
    expect_error(c2.get('/v1/loans/' + ref), 404, 'not_found')
    expect_error(c2.get('/v1/loans/%s?bank=%s' % (ref, BANK)), 404, 'not_found')
    expect_error(c2.get('/v1/loans/%s/history' % ref), 404, 'not_found')
    expect_error(c2.get('/v1/loans/%s/history?bank=%s' % (ref, BANK)), 404, 'not_found')
    expect_error(c2.put('/v1/loans/' + ref, json=dict(body, amount='1.00'),
                        headers={'If-Match': '"1"'}), 404, 'not_found')
    expect_error(c2.post('/v1/loans/%s/void' % ref, json={'reason': 'x'}), 404, 'not_found')
    expect_error(c2.post('/v1/loans/%s/repayments' % ref,
                         json=fd.repayment(date='2021-01-01', amount='1.00')),
                 404, 'not_found')
    expect_error(c2.get('/v1/loans?bank=' + BANK), 404, 'not_found')
    listed = c2.get('/v1/loans?borrower=' + body['borrower']['uscc'])
    assert listed.status == 200 and listed.json()['items'] == [], listed
    assert counts(BANK, body['borrower']['uscc']) == before
    assert get_loan(c, body['loan_ref']).json() == loan
    # The other bank's loan_refs are its own: the same ref is a different loan there.
    other = created(c2, dict(copy.deepcopy(body), amount='7.00', first_loan=False))
    assert other['bank_code'] == BANK2 and other['amount'] == '7.00'
    assert get_loan(c, body['loan_ref']).json() == loan


def test_rejected_posts_change_nothing():
    x = harness.new_principal()
    c = harness.client(x)
    b = fd.firm()
    body = fd.loan(borrower=b)
    before = counts(x.code, b['uscc'])
    assert before[:7] == ['0'] * 7, before
    for bad in (dict(body, amount='0'), dict(body, issue_date='2999-01-01'),
                dict(body, guarantee_mode='guaranteed', guarantor_code='NOPE'),
                dict(body, relief_fund=True, scf_program_id=5), dict(body, extra=1)):
        r = post(c, bad)
        assert r.status == 422, r
    r = c.post('/v1/loans/batch?atomic=true',
               json={'loans': [fd.loan(borrower=b), dict(body, amount='-1')]})
    assert r.status == 422, r
    assert counts(x.code, b['uscc']) == before
    stored = created(c, body)
    after_create = counts(x.code, b['uscc'])
    ref = harness.quote(body['loan_ref'])
    for method, path, payload, headers, status in (
            ('PUT', '/v1/loans/' + ref, dict(body, amount='0'), {'If-Match': '"1"'}, 422),
            ('PUT', '/v1/loans/' + ref, dict(body, amount='1.00'), {'If-Match': '"9"'}, 409),
            ('PUT', '/v1/loans/' + ref, dict(body, amount='1.00'), {}, 428),
            ('POST', '/v1/loans/%s/void' % ref, {'reason': ''}, {}, 422),
            ('POST', '/v1/loans/%s/repayments' % ref,
             fd.repayment(date='2020-01-01', amount='1.00'), {}, 422),
            ('POST', '/v1/loans/%s/repayments' % ref,
             fd.repayment(date='2021-01-01', amount='5000000.01'), {}, 422)):
        r = c.request(method, path, json=payload, headers=headers)
        assert r.status == status, (method, path, payload, r)
    assert counts(x.code, b['uscc']) == after_create
    assert get_loan(c, body['loan_ref']).json() == stored


def test_regulator_reads_every_banks_loan_with_bank_parameter():
    c, c2, reg = harness.client('bank'), harness.client('bank2'), harness.client('regulator')
    l1 = created(c, fd.loan())
    l2 = created(c2, fd.loan())
    for loan, bank in ((l1, BANK), (l2, BANK2)):
        r = get_loan(reg, loan['loan_ref'], bank)
        assert r.status == 200 and r.json() == loan, r
        h = reg.get('/v1/loans/%s/history?bank=%s' % (harness.quote(loan['loan_ref']), bank))
        assert h.status == 200 and h.json()['loan_ref'] == loan['loan_ref'], h
    expect_error(get_loan(reg, l1['loan_ref']), 422, 'invalid_field', None, 'bank')
    expect_error(get_loan(reg, l1['loan_ref'], BANK2), 404, 'not_found')
    r = reg.get('/v1/loans?borrower=' + l2['borrower']['uscc'])
    assert r.status == 200 and [i['loan_ref'] for i in r.json()['items']] == [l2['loan_ref']]


def test_only_banks_write_loans():
    body = fd.loan()
    for who in ('regulator', 'guarantor'):
        expect_error(harness.client(who).post('/v1/loans', json=body), 403, 'forbidden')
    expect_error(harness.client('guarantor').get('/v1/loans'), 403, 'forbidden')
    n = harness.psql("SELECT count(*) FROM loans WHERE loan_ref = '%s'" % body['loan_ref'])
    assert n == [['0']]


def test_derived_fields_of_300_random_loans_match_the_domain_formulas():
    import random
    rng = random.Random(20200512)
    x = harness.new_principal()
    c = harness.client(x)
    loans = [fd.random_loan(rng) for _ in range(300)]
    r = c.post('/v1/loans/batch', json={'loans': loans})
    assert r.status == 200, r
    bad = [x for x in r.json()['results'] if x['status'] != 'created']
    assert not bad, bad[:5]
    stored = {}
    cursor = None
    while True:
        page = c.get('/v1/loans?limit=1000' + ('&cursor=' + cursor if cursor else '')).json()
        stored.update({i['loan_ref']: i for i in page['items']})
        cursor = page['next_cursor']
        if cursor is None:
            break
    problems = []
    for item in loans:
        want = fd.expected_derived(item)
        got = {k: stored[item['loan_ref']][k] for k in want}
        if got != want:
            problems.append((item['issue_date'], item['maturity_date'], item['rate'],
                             item['borrower'], item['amount'], item['credit_line'], got, want))
    assert not problems, '%d of 300 differ, e.g.\n%s' % (
        len(problems), '\n'.join(map(repr, problems[:5])))


def test_concurrent_relief_fund_loans_to_one_firm_from_two_banks_accept_exactly_one():
    srv = harness.Server(threads=8)
    b = fd.firm()
    bodies = [fd.loan(borrower=dict(b), relief_fund=True, maturity_date='2021-05-11')
              for _ in range(8)]
    out = harness.race([srv.client('bank' if i % 2 else 'bank2') for i in range(8)],
                       lambda i, cl: cl.post('/v1/loans', json=bodies[i]))
    assert sorted(r.status for r in out) == [201] + [422] * 7, out
    assert all(r.json()['error']['rule'] == 'L019' for r in out if r.status == 422), out
    n = harness.psql("SELECT count(*) FROM loans WHERE borrower_uscc = '%s'" % b['uscc'])
    assert n == [['1']], n
