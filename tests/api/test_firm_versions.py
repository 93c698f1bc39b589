"""A firm's current version in its row (migration 022): a new firm writes no firm_history
row; a change writes the version it replaces there, as it was reported; firm_versions and
GET /v1/firms/{uscc}/history list every version either way, and a firm stored before 022
(its current version in firm_history too) answers as before and is never listed twice."""

import json

import finreg_data as fd
import harness


def history(uscc):
    r = harness.client('regulator').get('/v1/firms/%s/history' % uscc)
    assert r.status == 200, r
    return r


def stored_history(uscc):
    return harness.psql("SELECT name, size, changed_by, source, applied, ts_text(changed_at) "
                        "FROM firm_history WHERE uscc = '%s' ORDER BY id" % uscc)


def firm_row(uscc):
    return harness.psql("SELECT name, size, updated_by, source, ts_text(updated_at) FROM firms "
                        "WHERE uscc = '%s'" % uscc)[0]


def test_a_new_firm_writes_one_row_and_a_change_keeps_the_version_it_replaced():
    bank, bank2 = harness.client('bank'), harness.client('bank2')
    firm = fd.firm(name='三明版本测试机械有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    u = firm['uscc']
    assert stored_history(u) == []
    v1 = firm_row(u)
    assert v1[:4] == [firm['name'], 'small', 'CIB-SM', 'loan'], v1
    assert history(u).json()['items'] == [
        {'changed_at': v1[4], 'changed_by': 'CIB-SM', 'name': firm['name'],
         'county_code': '350402', 'industry_code': '3412', 'size': 'small', 'applied': True}]
    # The same data again changes nothing and writes nothing.
    assert bank2.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    assert stored_history(u) == [] and firm_row(u) == v1

    # Another bank reports a new size, then the first bank a new name: each change keeps
    # the version it replaced, with who reported it, how and when.
    assert bank2.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='micro'))).status == 201
    v2 = firm_row(u)
    assert v2[:4] == [firm['name'], 'micro', 'RCB-SM', 'loan'] and v2[4] > v1[4], v2
    renamed = dict(firm, name='三明版本测试机械股份有限公司', size='micro')
    assert bank.post('/v1/loans', json=fd.loan(borrower=renamed)).status == 201
    v3 = firm_row(u)
    assert v3[:4] == [renamed['name'], 'micro', 'CIB-SM', 'loan'], v3
    assert stored_history(u) == [[firm['name'], 'small', 'CIB-SM', 'loan', 't', v1[4]],
                                 [firm['name'], 'micro', 'RCB-SM', 'loan', 't', v2[4]]]
    items = history(u).json()['items']
    assert [(i['name'], i['size'], i['changed_by'], i['changed_at'], i['applied'])
            for i in items] == [(firm['name'], 'small', 'CIB-SM', v1[4], True),
                                (firm['name'], 'micro', 'RCB-SM', v2[4], True),
                                (renamed['name'], 'micro', 'CIB-SM', v3[4], True)], items
    assert harness.psql("SELECT count(*) FROM firm_versions WHERE uscc = '%s'" % u) == [['3']]


def test_a_firm_stored_before_022_answers_as_before_and_is_never_listed_twice():
    bank = harness.client('bank')
    firm = fd.firm(name='三明旧版企业有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    u = firm['uscc']
    before = history(u).text
    # The shape of a firm stored before 022: the current version in firm_history too (here
    # written by firms_keep_replaced, as the update clears source) and source NULL.
    harness.psql("UPDATE firms SET source = NULL WHERE uscc = '%s'" % u)
    assert len(stored_history(u)) == 1 and firm_row(u)[3] == ''  # NULL
    assert history(u).text == before
    # A change by this code keeps that version once (it is already in firm_history) and
    # the row holds the new one from then on.
    assert bank.post('/v1/loans', json=fd.loan(borrower=dict(firm, size='medium'))).status == 201
    assert len(stored_history(u)) == 1 and firm_row(u)[3] == 'loan'
    items = history(u).json()['items']
    assert [(i['size'], i['applied']) for i in items] == [('small', True), ('medium', True)], \
        items
    assert items[0] == json.loads(before)['items'][0], (items, before)


def test_a_regulators_confirmation_and_a_refused_report_keep_their_order():
    bank, reg = harness.client('bank'), harness.client('regulator')
    firm = fd.firm(name='三明确认顺序企业有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=firm)).status == 201
    # The regulator refers the firm with the same data: its version replaces the bank's
    # (regulator_set), then a bank's differing report is kept, not applied.
    r = reg.post('/v1/referrals', json=dict(firm, bank_code='CIB-SM',
                                            requested_amount='1000000.00', reason='测试'))
    assert r.status == 201, r
    other = dict(firm, name='银行另报名称有限公司')
    assert bank.post('/v1/loans', json=fd.loan(borrower=other)).status == 201
    items = history(firm['uscc']).json()['items']
    assert [(i['name'], i['changed_by'], i['applied']) for i in items] == [
        (firm['name'], 'CIB-SM', True), (firm['name'], 'SM-FSB', True),
        (other['name'], 'CIB-SM', False)], items
    assert [i['changed_at'] for i in items] == sorted(i['changed_at'] for i in items), items
