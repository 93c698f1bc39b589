"""Another party's record answers exactly as one that does not exist, on every route that
names a record: the same status, error code, field and words, byte for byte once the
probed name is replaced by a placeholder, and nothing changes. A bank probes another
bank's loans (read, history, correction, void, repayment), programs (read, members, leave)
and referrals (read, answer); a guarantor another guarantor's guarantees (read, release)
and figures; a bank a firm it never lent to."""

import json

import finreg_data as fd
import harness
from test_guarantees import guarantee, guaranteed_loan, new_guarantor, post
from test_referrals import refer
from test_scf import add_member, create_program


def same_as_missing(c, method, template, theirs, missing, body=None, headers=None):
    """@method @template (its '{}' filled with @theirs, then with @missing) as client @c,
    with JSON @body (a function of the name: called with it):
    both answers are 4xx and equal once each name is replaced by 'NAME' (and without their
    request ids). Returns the answer to @theirs."""
    answers = []
    for name in (theirs, missing):
        r = c.request(method, template.format(harness.quote(name)),
                      json=body(name) if callable(body) else body, headers=headers)
        assert 400 <= r.status < 500, (method, template, name, r)
        text = r.body.decode().replace(json.dumps(name)[1:-1], 'NAME').replace(name, 'NAME')
        body_ = json.loads(text)
        body_.get('error', {}).pop('request_id', None)  # each answer's own
        answers.append((r.status, r.header('Content-Type'), body_))
    assert answers[0] == answers[1], (method, template, answers)
    return answers[0]


def test_a_bank_learns_nothing_of_another_banks_loans_programs_and_referrals():
    owner, other = harness.new_principal('bank'), harness.new_principal('bank')
    c, o = harness.client(owner), harness.client(other)
    loan = fd.loan(issue_date='2020-03-02')
    assert c.post('/v1/loans', json=loan).status == 201
    ref, missing = loan['loan_ref'], fd.loan_ref('NONE')
    before = harness.psql("SELECT version, status, repaid_fen FROM loans WHERE bank_code = '%s'"
                          " AND loan_ref = '%s'" % (owner.code, ref))
    for method, path, body, headers in (
            ('GET', '/v1/loans/{}', None, None),
            ('GET', '/v1/loans/{}/history', None, None),
            ('PUT', '/v1/loans/{}', lambda name: dict(loan, loan_ref=name, amount='4000000.00'),
             {'If-Match': '"1"'}),
            ('POST', '/v1/loans/{}/void', {'reason': '录入错误'}, None),
            ('POST', '/v1/loans/{}/repayments',
             fd.repayment('R-1', date='2020-04-01', amount='100.00'), None)):
        status, _, err = same_as_missing(o, method, path, ref, missing, body, headers)
        assert status == 404 and err['error']['code'] == 'not_found', (path, err)
    # Naming the owner in the query changes nothing either (a bank reads itself only).
    status, _, _ = same_as_missing(o, 'GET', '/v1/loans/{}?bank=' + owner.code, ref, missing)
    assert status == 404
    assert harness.psql("SELECT version, status, repaid_fen FROM loans WHERE bank_code = '%s'"
                        " AND loan_ref = '%s'" % (owner.code, ref)) == before

    p = create_program(c)
    member, _ = add_member(c, p['id'])
    gone = str(int(harness.psql("SELECT max(id) FROM scf_programs")[0][0]) + 1000)
    for method, path, body in (
            ('GET', '/v1/scf/programs/{}', None),
            ('POST', '/v1/scf/programs/{}/members', {'firm': fd.firm(), 'side': 'downstream'}),
            ('POST', '/v1/scf/programs/{}/members/' + member['uscc'] + '/leave', {})):
        status, _, err = same_as_missing(o, method, path, str(p['id']), gone, body)
        assert status == 404 and err['error']['code'] == 'not_found', (path, err)
    assert harness.psql("SELECT count(*) FROM scf_members WHERE program_id = %d" % p['id']) == \
        [['1']]

    referral = refer(bank=owner.code)
    year = referral['id'][3:7]
    nowhere = 'RF-%s-%06d' % (year, 999999)
    for method, path, body in (('GET', '/v1/referrals/{}', None),
                               ('PATCH', '/v1/referrals/{}', {'status': 'accepted'})):
        status, _, err = same_as_missing(o, method, path, referral['id'], nowhere, body)
        assert status == 404 and err['error']['code'] == 'not_found', (path, err)
    assert harness.psql("SELECT status FROM referrals WHERE ref = '%s'" % referral['id']) == \
        [['referred']]

    # A firm the bank never lent to reads as an unknown one.
    never = fd.make_uscc()
    status, _, err = same_as_missing(o, 'GET', '/v1/firms/{}', loan['borrower']['uscc'], never)
    assert status == 404, err


def test_a_guarantor_learns_nothing_of_another_guarantors_guarantees():
    reg = harness.client('regulator')
    mine, g = new_guarantor(reg)
    theirs, g2 = new_guarantor(reg)
    loan = guaranteed_loan(harness.client('bank'), amount='3000000.00')
    taken = post(g2, guarantee(loan))
    ref, missing = taken['guarantee_ref'], fd.loan_ref('NONE')
    for method, path, body in (('GET', '/v1/guarantees/{}', None),
                               ('POST', '/v1/guarantees/{}/release',
                                {'date': '2020-06-30'})):
        status, _, err = same_as_missing(g, method, path, ref, missing, body)
        assert status == 404 and err['error']['code'] == 'not_found', (path, err)
    assert harness.psql("SELECT released_on FROM guarantees WHERE guarantor_code = '%s'"
                        " AND guarantee_ref = '%s'" % (theirs.code, ref)) == [['']]
    # Its figures: another guarantor's code reads as an unknown one.
    for path in ('/v1/guarantors/{}', '/v1/guarantees?guarantor={}',
                 '/v1/stats/guarantee-leverage?guarantor={}'):
        same_as_missing(g, 'GET', path, theirs.code, 'NO-SUCH-GUARANTOR')
