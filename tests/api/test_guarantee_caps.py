"""Issue 16, item 1: the guarantees on one loan never add up past its amount (422, rule
L050, exact per day, computed in one pass), one loan holds at most 1,000 guarantees (409),
the leverage figure counts each loan at most once, and a disabled principal is refused
wherever SQL checks a principal code (L013 in ingest and correction, the guarantor's
figures, the bank of a guaranteed loan)."""

import subprocess
import threading
import time

import finreg_data as fd
import harness
from test_guarantees import (expect_error, guarantee, guaranteed_loan, leverage, new_guarantor,
                             post, put_guarantor, release, row_of)


def test_guarantees_on_one_loan_never_add_up_past_its_amount():
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, g = new_guarantor(reg)
    _, g2 = new_guarantor(reg)
    loan = guaranteed_loan(bank, amount='5000000.00', issue_date='2019-02-20')
    first = post(g, guarantee(loan, amount='5000000.00', start_date='2019-03-01'))
    for who in (g, g2):   # the same guarantor again, or another: the loan is fully guaranteed
        err = expect_error(who.post('/v1/guarantees', json=guarantee(
            loan, amount='5000000.00', start_date='2019-03-01')), 422, 'invalid_field', 'amount')
        assert err['rule'] == 'L050' and '5000000.00' in err['message'], err
        err = expect_error(who.post('/v1/guarantees', json=guarantee(
            loan, amount='0.01', start_date='2019-04-01')), 422, 'invalid_field', 'amount')
        assert err['rule'] == 'L050', err
    assert harness.psql("SELECT count(*), sum(g.amount_fen) FROM guarantees g JOIN loans l "
                        "ON l.id = g.loan_id WHERE l.loan_ref = '%s'" % loan['loan_ref']) == \
        [['1', '500000000']]
    # A period that does not overlap, or room left by a release, takes a guarantee again.
    post(g2, guarantee(loan, amount='5000000.00', start_date='2021-01-01', end_date='2021-06-30'))
    assert release(g, first['guarantee_ref'], '2019-12-31').status == 200
    post(g2, guarantee(loan, amount='3000000.00', start_date='2020-01-01', end_date='2020-06-30'))
    row = row_of(leverage(reg, '2019-06-15', ident.code), ident.code)
    assert row['outstanding'] == '5000000.00', row
    # The rule is in the catalog.
    rules = {r['id']: r for r in harness.client('bank').get('/v1/rules').json()['items']}
    assert rules['L050']['field'] == 'amount' and rules['L050']['severity'] == 'error'


def test_leverage_counts_each_loan_at_most_once():
    """Three refs of 5,000,000.00 on one 5,000,000.00 loan, stored before the cap existed
    (written here straight into the table), count 5,000,000.00, not 15,000,000.00."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, g = new_guarantor(reg)
    assert put_guarantor(reg, ident.code, '10000000.00', '2019-01-01').status == 201
    loan = guaranteed_loan(bank, guarantor_code=ident.code, amount='5000000.00',
                           issue_date='2019-02-20')
    other = guaranteed_loan(bank, guarantor_code=ident.code, amount='1000000.00',
                            issue_date='2019-02-20')
    post(g, guarantee(loan, amount='5000000.00', start_date='2019-03-01'))
    post(g, guarantee(other, amount='400000.00', start_date='2019-03-01'))
    for _ in range(2):
        harness.psql(
            "INSERT INTO guarantees (guarantor_code, guarantee_ref, bank_code, loan_ref, loan_id,"
            " borrower_uscc, amount_fen, start_date, end_date, content)"
            " SELECT guarantor_code, '%s', bank_code, loan_ref, loan_id, borrower_uscc,"
            " amount_fen, start_date, end_date, content FROM guarantees"
            " WHERE guarantor_code = '%s' AND amount_fen = 500000000"
            " AND guarantee_ref NOT LIKE 'OLD-%%'"
            % (harness.unique('OLD-'), ident.code))
    row = row_of(leverage(reg, '2019-06-15', ident.code), ident.code)
    assert row['outstanding'] == '5400000.00' and row['leverage'] == 0.54, row


def test_a_disabled_guarantor_is_refused_by_l013_and_cannot_take_guarantees():
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, g = new_guarantor(reg)
    named = guaranteed_loan(bank, guarantor_code=ident.code)
    harness.finregd('principal', 'disable', ident.code)
    body = fd.loan(guarantee_mode='guaranteed', guarantor_code=ident.code)
    r = bank.post('/v1/loans', json=body)
    assert r.status == 422 and r.json()['error']['rule'] == 'L013', r
    assert 'active' in r.json()['error']['message'], r
    r = bank.post('/v1/loans/batch', json={'loans': [body]})
    assert r.status in (200, 422), r
    assert 'L013' in r.text, r
    # A correction naming it is refused too.
    plain = fd.loan(guarantee_mode='guaranteed')
    assert bank.post('/v1/loans', json=plain).status == 201
    r = bank.put('/v1/loans/' + harness.quote(plain['loan_ref']),
                 json=dict(plain, guarantor_code=ident.code), headers={'If-Match': '"1"'})
    assert r.status == 422 and r.json()['error']['rule'] == 'L013', r
    # The regulator records no figures for it; its certificate no longer works.
    expect_error(put_guarantor(reg, ident.code, '1000000.00', '2020-01-01'), 404, 'not_found',
                 'code')
    assert g.post('/v1/guarantees', json=guarantee(named)).status == 401
    assert harness.psql("SELECT count(*) FROM loans WHERE guarantor_code = '%s'"
                        % ident.code) == [['1']]


def test_a_guarantee_on_a_loan_of_a_disabled_bank_is_refused():
    b_ident = harness.new_principal('bank')
    loan = guaranteed_loan(harness.client(b_ident))
    harness.finregd('principal', 'disable', b_ident.code)
    g = harness.client('guarantor')
    expect_error(g.post('/v1/guarantees', json=guarantee(loan)), 422, 'invalid_field',
                 'bank_code')
    assert harness.psql("SELECT count(*) FROM guarantees WHERE bank_code = '%s'"
                        % b_ident.code) == [['0']]


def test_a_correction_may_not_lower_the_amount_below_the_guarantees():
    bank, reg = harness.client('bank'), harness.client('regulator')
    _, g = new_guarantor(reg)
    loan = guaranteed_loan(bank, amount='5000000.00', issue_date='2019-02-20')
    first = post(g, guarantee(loan, amount='3000000.00', start_date='2019-03-01',
                              end_date='2019-12-31'))
    post(g, guarantee(loan, amount='4000000.00', start_date='2020-01-01', end_date='2020-12-31'))
    body = {k: v for k, v in loan.items() if k in fd.loan()}

    def correct(amount, version):
        return bank.put('/v1/loans/' + harness.quote(loan['loan_ref']),
                        json=dict(body, amount=amount, credit_line=amount),
                        headers={'If-Match': '"%d"' % version})
    r = correct('3999999.99', 1)
    assert r.status == 422 and r.json()['error']['rule'] == 'L050', r
    assert '4000000.00' in r.json()['error']['message'], r
    assert correct('4000000.00', 1).status == 200          # the peak is one day's sum
    assert release(g, first['guarantee_ref'], '2019-06-30').status == 200
    r = correct('3500000.00', 2)
    assert r.status == 422 and r.json()['error']['rule'] == 'L050', r
    assert harness.psql("SELECT amount_fen FROM loans WHERE loan_ref = '%s'"
                        % loan['loan_ref']) == [['400000000']]


def test_a_guarantee_waits_for_a_correction_holding_the_loan_instead_of_deadlocking():
    """loan_correct locks the loan row, then (lowering the amount) the loan's guarantee
    lock; a guarantee post takes the same two in the same order, so it waits instead of
    deadlocking (it took the guarantee lock first, then met the row lock at its insert)."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    _, g = new_guarantor(reg)
    loan = guaranteed_loan(bank, amount='5000000.00', issue_date='2019-02-20')
    where = "bank_code = '%s' AND loan_ref = '%s'" % (loan['bank_code'], loan['loan_ref'])
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = harness.psql(deadlocks)
    session = subprocess.Popen([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
                                harness.cluster().url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers = []
    try:
        session.stdin.write(f"BEGIN;\nSELECT id FROM loans WHERE {where} FOR UPDATE;\n")
        session.stdin.flush()
        time.sleep(0.3)
        poster = threading.Thread(target=lambda: answers.append(g.post(
            '/v1/guarantees', json=guarantee(loan, amount='1000000.00'))))
        poster.start()
        time.sleep(0.5)   # the post is waiting now, on whichever lock it takes first
        out, err = session.communicate(
            "SELECT pg_advisory_xact_lock(hashtextextended('guarantee-loan:' || id, 0))"
            f" FROM loans WHERE {where};\nCOMMIT;\n", timeout=30)
        poster.join(30)
    finally:
        if session.poll() is None:
            session.kill()
    assert session.returncode == 0 and 'deadlock' not in err, err
    assert [a.status for a in answers] == [201], answers
    assert harness.psql(deadlocks) == before


def _correct(bank, loan, amount, version):
    body = {k: v for k, v in loan.items() if k in fd.loan()}
    return bank.put('/v1/loans/' + harness.quote(loan['loan_ref']),
                    json=dict(body, amount=amount, credit_line=amount),
                    headers={'If-Match': '"%d"' % version})


def _timed(fn, within=1.0):
    """fn()'s answer, asserting it came within @within seconds (an upper bound only)."""
    t = time.monotonic()
    r = fn()
    secs = time.monotonic() - t
    assert secs < within, (f'{secs:.2f} s', r)
    return r


def test_l050_counts_a_guarantee_from_its_start_to_its_end_or_the_day_before_its_release():
    """A hand-computed case of the exact peak at the edges of periods: a guarantee counts on
    its start and end dates, not on its release date, never when released on its start
    date, and one begun before a new guarantee's period counts on that period's first day."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    _, g = new_guarantor(reg)
    loan = guaranteed_loan(bank, amount='1000000.00', issue_date='2019-02-20')

    def refused(amount, start, end, room):
        err = expect_error(g.post('/v1/guarantees', json=guarantee(
            loan, amount=amount, start_date=start, end_date=end)), 422, 'invalid_field',
            'amount')
        assert err['rule'] == 'L050' and f'at most {room} more' in err['message'], err
    post(g, guarantee(loan, amount='600000.00', start_date='2019-03-01', end_date='2019-03-31'))
    b = post(g, guarantee(loan, amount='400000.00', start_date='2019-03-31',
                          end_date='2019-04-30'))                  # 1,000,000.00 on 31 March
    refused('0.01', '2019-03-31', '2019-03-31', '0.00')
    refused('0.01', '2019-03-20', '2019-04-10', '0.00')            # 31 March inside
    post(g, guarantee(loan, amount='600000.00', start_date='2019-04-01', end_date='2019-04-30'))
    assert release(g, b['guarantee_ref'], '2019-04-15').status == 200
    refused('400000.00', '2019-04-14', '2019-04-20', '0.00')       # b still counts on 14 April
    post(g, guarantee(loan, amount='400000.00', start_date='2019-04-15', end_date='2019-05-10'))
    f = post(g, guarantee(loan, amount='100000.00', start_date='2019-05-20',
                          end_date='2019-05-31'))
    refused('900000.01', '2019-05-25', '2019-06-30', '900000.00')  # f begun before counts
    assert release(g, f['guarantee_ref'], '2019-05-20').status == 200   # never outstanding
    post(g, guarantee(loan, amount='1000000.00', start_date='2019-05-11', end_date='2019-05-31'))
    r = _correct(bank, loan, '999999.99', 1)
    assert r.status == 422 and r.json()['error']['rule'] == 'L050', r
    assert '1000000.00' in r.json()['error']['message'], r


def _loan_with_day_guarantees(bank, guarantor, n, released):
    """A guaranteed loan of 5,000,000.00 issued 2005-01-04 holding @n guarantees of 1.00 of
    @guarantor, written directly (as guarantee_post writes them): DAY-k on the k-th day
    after the issue only, released that same day when @released (never outstanding)."""
    loan = guaranteed_loan(bank, amount='5000000.00', issue_date='2005-01-04',
                           maturity_date='2035-01-03')
    harness.psql(
        "INSERT INTO guarantees (guarantor_code, guarantee_ref, bank_code, loan_ref, loan_id,"
        " borrower_uscc, amount_fen, start_date, end_date, released_on, released_at,"
        " released_by, content)"
        " SELECT '%(g)s', 'DAY-' || n, l.bank_code, l.loan_ref, l.id, l.borrower_uscc, 100,"
        " l.issue_date + n, l.issue_date + n, %(rel)s, '{}'"
        " FROM loans l, generate_series(1, %(n)d) n WHERE l.loan_ref = '%(ref)s'"
        % {'g': guarantor, 'n': n, 'ref': loan['loan_ref'],
           'rel': "l.issue_date + n, now(), '%s'" % guarantor if released else 'NULL, NULL, NULL'})
    return loan


def test_a_loan_holds_at_most_1000_guarantees_and_l050_stays_fast_at_the_cap():
    """Released guarantees free the amount L050 checks, so without a cap one loan took
    guarantees without bound and L050's peak (quadratic then) timed out a post and the
    bank's correction of the loan. 999 one-day guarantees of 1.00, on days of their own,
    are written directly (as guarantee_post writes them); the 1000th, over all their days,
    is posted, the 1001st refused."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, g = new_guarantor(reg)
    _, g2 = new_guarantor(reg)
    loan = _loan_with_day_guarantees(bank, ident.code, 999, released=False)
    whole = guarantee(loan, amount='1000.00', start_date='2005-01-04', end_date='2025-01-03')
    assert _timed(lambda: g.post('/v1/guarantees', json=whole)).status == 201
    for who in (g, g2):     # the cap is the loan's, whoever posts
        err = expect_error(_timed(lambda: who.post('/v1/guarantees', json=guarantee(
            loan, amount='1.00', start_date='2030-01-01', end_date='2030-12-31'))),
            409, 'conflict', 'loan_ref')
        assert '(1000)' in err['message'], err
    count = ("SELECT count(*) FROM guarantees g JOIN loans l ON l.id = g.loan_id"
             " WHERE l.loan_ref = '%s'" % loan['loan_ref'])
    assert harness.psql(count) == [['1000']]
    # A retry of a stored guarantee still answers; so do release and the bank's
    # corrections, and L050 is still exact: 1,000.00 plus one day's 1.00.
    assert _timed(lambda: g.post('/v1/guarantees', json=whole)).status == 200
    assert release(g, 'DAY-7', '2005-01-11').status == 200
    assert _timed(lambda: _correct(bank, loan, '4000000.00', 1)).status == 200
    r = _timed(lambda: _correct(bank, loan, '1000.99', 2))
    assert r.status == 422 and r.json()['error']['rule'] == 'L050', r
    assert '1001.00' in r.json()['error']['message'], r
    assert _timed(lambda: _correct(bank, loan, '1001.00', 2)).status == 200
    assert harness.psql(count) == [['1000']]


def test_l050_reads_a_loan_s_guarantees_once_each():
    """6,000 one-day guarantees released on their day, written directly (as guarantee_post
    and guarantee_release write them), on one loan: L050's peak summed them all once per
    start date, and a post over their days and the bank's correction lowering the amount
    each ran into the statement timeout (503; found by review). One pass now; so many are
    only guarantees stored before the cap, and a post on that loan is refused at once."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, g = new_guarantor(reg)
    loan = _loan_with_day_guarantees(bank, ident.code, 6000, released=True)
    whole = guarantee(loan, amount='1000.00', start_date='2005-01-04', end_date='2025-01-03')
    expect_error(_timed(lambda: g.post('/v1/guarantees', json=whole)), 409, 'conflict',
                 'loan_ref')
    assert _timed(lambda: _correct(bank, loan, '4000000.00', 1)).status == 200
    harness.psql("UPDATE guarantees SET released_on = NULL, released_at = NULL,"
                 " released_by = NULL WHERE guarantor_code = '%s' AND guarantee_ref = 'DAY-9'"
                 % ident.code)
    r = _timed(lambda: _correct(bank, loan, '0.99', 2))
    assert r.status == 422 and '1.00' in r.json()['error']['message'], r
    assert _timed(lambda: _correct(bank, loan, '1.00', 2)).status == 200


def test_racing_guarantee_posts_never_pass_the_loan_s_cap():
    """Ten posts at once on a loan holding 995 guarantees: five are stored, five refused
    (the count is taken under the loan's guarantee lock that every post holds)."""
    bank, reg = harness.client('bank'), harness.client('regulator')
    ident, _ = new_guarantor(reg)
    loan = _loan_with_day_guarantees(bank, ident.code, 995, released=True)
    answers = []

    def one(k):
        r = harness.client(ident).post('/v1/guarantees', json=guarantee(
            loan, amount='1.00', start_date='2030-01-%02d' % k, end_date='2030-01-%02d' % k))
        answers.append(r.status)
    threads = [threading.Thread(target=one, args=(k,)) for k in range(1, 11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [201] * 5 + [409] * 5, answers
    assert harness.psql("SELECT count(*) FROM guarantees g JOIN loans l ON l.id = g.loan_id"
                        " WHERE l.loan_ref = '%s'" % loan['loan_ref']) == [['1000']]
