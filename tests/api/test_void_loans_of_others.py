"""Another bank's void loans to a firm must not make a bank's own work on that firm grow
without bound. registry_first_loan (sql/loans.sql loan_facts) and warning W001
(loan_warnings_raise) ask whether the registry holds an earlier non-void loan to the
firm: `EXISTS (... borrower_uscc = $1 AND issue_date < $2 AND status <> 'void')`. The only
index is loans (borrower_uscc, issue_date), so that test walks every void loan of every
bank to the firm dated before the loan, once per loan posted, corrected or read. One bank
that posts and voids many loans to a firm, dated early, so makes every other bank's batch
to that firm time out (503, and the same again on every retry).

Audit, 3 December 2026: 1,000,000 void loans of one bank to a firm (5 million loans in
all) made another bank's single post to that firm 0.94 s, a batch of 5 loans to it 2.9 s
and a batch of 20 503 (5 s statement timeout), its GET of its own loan to that firm
1.3-1.9 s; a batch of 20 loans to another firm took 24 ms. Linear in the void loans per
item: a 1000-loan batch reaches the 5 s timeout at some 10,000 void loans."""

import finreg_data as fd
import harness
from test_list_walk import copy_rows

VOID_COPIES = 40000


def test_another_banks_void_loans_to_a_firm_do_not_make_a_batch_to_it_unavailable(ctx):
    s = harness.Server(env={'FINREG_STATEMENT_TIMEOUT_MS': 2000})
    ctx.defer(s.stop)
    a, b = harness.new_principal('bank'), harness.new_principal('bank')
    ca, cb = s.client(a), s.client(b)
    firm = fd.firm()
    # Bank A: one loan to the firm dated early, voided, then copied (void) 40,000 times.
    early = fd.loan(borrower=firm, issue_date='2019-01-02', maturity_date='2020-01-02')
    r = ca.post('/v1/loans', json=early)
    assert r.status == 201, r
    r = ca.post('/v1/loans/%s/void' % harness.quote(early['loan_ref']), json={'reason': '重复'})
    assert r.status == 200, r
    copy_rows('loans', "t.bank_code = '%s'" % a.code, VOID_COPIES,
              "jsonb_build_object('loan_ref', t.loan_ref || '-' || g)")
    voids = harness.psql("SELECT count(*) FROM loans WHERE borrower_uscc = '%s'"
                         " AND status = 'void'" % firm['uscc'])
    assert int(voids[0][0]) == VOID_COPIES + 1, voids
    # Bank B: its first loan to the firm (the registry's first: every earlier one is void).
    mine = fd.loan(borrower=firm, issue_date='2020-05-12')
    r = cb.post('/v1/loans', json=mine)
    assert r.status == 201, r
    assert r.json()['registry_first_loan'] is True and r.json()['warnings'] == [], r.json()
    # A batch of 1000 later loans to the firm, rightly not first loans: each is judged
    # against the registry (W001), which must not walk bank A's void loans one by one.
    batch = [fd.loan(borrower=firm, issue_date='2021-03-01', first_loan=False)
             for _ in range(1000)]
    r = cb.post('/v1/loans/batch', json={'loans': batch})
    assert r.status == 200, r
    assert r.json()['created'] == 1000 and r.json()['stored'] is True, r.json()
    # Reading its loans and the firm stays within bounds too, and right.
    r = cb.get('/v1/loans/' + harness.quote(mine['loan_ref']))
    assert r.status == 200 and r.json()['registry_first_loan'] is True, r
    r = cb.get('/v1/loans?borrower=%s&limit=100' % firm['uscc'])
    assert r.status == 200, r
    assert all(i['registry_first_loan'] is False and i['warnings'] == []
               for i in r.json()['items'] if i['loan_ref'] != mine['loan_ref']), r.json()
    r = cb.get('/v1/firms/' + firm['uscc'])
    assert r.status == 200, r
    assert r.json()['registry_first_loan']['loan_ref'] == mine['loan_ref'], r.json()
    assert r.json()['loans'] == 1001, r.json()
