"""Issue 16, item 1: firm reference data the regulator set (a referral) is not replaced by
a bank's report (a loan, a supply-chain member or core): the bank's differing report is
kept in firm_history, not applied, with who reported it (firm_versions lists both). Data banks reported is replaced
by the regulator, and by banks as before (the last report wins). See
docs/firms-precedence.md."""

import finreg_data as fd
import harness


def firm_row(uscc):
    return harness.psql("SELECT name, county_code, size, updated_by, regulator_set FROM firms "
                        "WHERE uscc = '%s'" % uscc)


def history(uscc):
    return harness.psql("SELECT name, changed_by, source, applied FROM firm_versions "
                        "WHERE uscc = '%s' ORDER BY changed_at, id NULLS LAST" % uscc)


def test_a_bank_does_not_overwrite_what_the_regulator_set():
    bank, reg = harness.client('bank'), harness.client('regulator')
    firm = fd.firm(name='三明监管核定企业有限公司', size='micro')
    r = reg.post('/v1/referrals', json=dict(firm, bank_code='CIB-SM',
                                            requested_amount='1000000.00', reason='测试'))
    assert r.status == 201, r
    assert firm_row(firm['uscc']) == [[firm['name'], '350402', 'micro', 'SM-FSB', 't']]
    # A loan and a supply-chain member with other data: stored, the firm's data unchanged.
    wrong = dict(firm, name='银行录入的名称有限公司', size='medium')
    assert bank.post('/v1/loans', json=fd.loan(borrower=wrong)).status == 201
    assert bank.post('/v1/loans', json=fd.loan(borrower=wrong)).status == 201
    p = bank.post('/v1/scf/programs', json={
        'name': harness.unique('项目-'), 'core': fd.firm(industry_code='3120'),
        'product': 'receivables', 'credit_limit': '10000000.00', 'started_on': '2020-01-01'})
    assert p.status == 201, p
    r = bank.post('/v1/scf/programs/%d/members' % p.json()['id'],
                  json={'firm': dict(firm, county_code='350403'), 'side': 'upstream'})
    assert r.status == 201, r
    assert firm_row(firm['uscc']) == [[firm['name'], '350402', 'micro', 'SM-FSB', 't']]
    # Who wrote what: the regulator's version applied, each differing bank report once.
    assert history(firm['uscc']) == [
        [firm['name'], 'SM-FSB', 'referral', 't'],
        [wrong['name'], 'CIB-SM', 'loan', 'f'],
        [firm['name'], 'CIB-SM', 'scf', 'f'],
    ], history(firm['uscc'])


def test_banks_still_update_data_banks_reported_and_the_regulator_overrides_it():
    bank, bank2, reg = (harness.client('bank'), harness.client('bank2'),
                        harness.client('regulator'))
    firm = fd.firm(size='small')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    assert bank2.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='medium'))).status \
        == 201
    assert firm_row(firm['uscc'])[0][2:] == ['medium', 'RCB-SM', 'f']
    r = reg.post('/v1/referrals', json=dict(firm, size='micro', bank_code='CIB-SM',
                                            requested_amount='1000000.00', reason='测试'))
    assert r.status == 201, r
    assert firm_row(firm['uscc'])[0][2:] == ['micro', 'SM-FSB', 't']
    assert [h[1:] for h in history(firm['uscc'])] == [
        ['CIB-SM', 'loan', 't'], ['RCB-SM', 'loan', 't'], ['SM-FSB', 'referral', 't']]
