"""N+1+N supply-chain programs: who may create, read and change programs and members, the
membership check of loans posted under a program (rule L021), a program's financing figures,
and the core enterprises' reward (GET /v1/stats/scf-rewards) at, below and above its member
threshold and its cap. Every expected figure is worked out by hand in the test."""

import harness
from finreg_data import firm, loan, make_uscc


def program_body(core=None, **fields):
    body = {'name': harness.unique('供应链项目-'), 'core': core or firm(industry_code='3120'),
            'product': 'receivables', 'credit_limit': '10000000.00', 'started_on': '2020-01-01'}
    body.update(fields)
    return body


def create_program(c, **fields):
    r = c.post('/v1/scf/programs', json=program_body(**fields))
    assert r.status == 201, r
    return r.json()


def add_member(c, pid, member=None, side='upstream', status=201, **fields):
    member = member or firm()
    r = c.post(f'/v1/scf/programs/{pid}/members', json={'firm': member, 'side': side, **fields})
    assert r.status == status, r
    return member, r.json()


def expect_error(r, status, code, field=None, rule=None):
    assert r.status == status, r
    err = r.json()['error']
    assert err['code'] == code, err
    if field is not None:
        assert err.get('field') == field, err
    if rule is not None:
        assert err.get('rule') == rule, err
    return err


# --------------------------------------------------------------------------- programs

def test_program_create_answers_201_then_200_on_retry_and_409_on_other_terms():
    bank = harness.new_principal()
    c = harness.client(bank)
    body = program_body(product='orders', credit_limit='50000000.5')
    r = c.post('/v1/scf/programs', json=body)
    assert r.status == 201, r
    p = r.json()
    assert isinstance(p['id'], int) and p['id'] > 0, p
    assert p['bank_code'] == bank.code and p['name'] == body['name'], p
    assert p['core'] == body['core'], p
    assert p['product'] == 'orders' and p['credit_limit'] == '50000000.50', p
    assert p['started_on'] == '2020-01-01' and p['members_current'] == 0, p

    again = c.post('/v1/scf/programs', json=body)
    assert again.status == 200, again
    assert again.json()['id'] == p['id'], again.json()

    other = dict(body, credit_limit='60000000.00')
    err = expect_error(c.post('/v1/scf/programs', json=other), 409, 'conflict', 'name')
    assert str(p['id']) in err['message'], err
    # Every rejection names its field in front of its message, once.
    assert err['message'].startswith('name: program %s ' % p['id']), err


def test_program_create_checks_every_field():
    c = harness.client(harness.new_principal())
    bad_core = firm()
    bad_core['uscc'] = bad_core['uscc'][:-1] + ('0' if bad_core['uscc'][-1] != '0' else '1')
    cases = [
        (dict(core=None), 'core', None),
        (dict(core=bad_core), 'core.uscc', 'L003'),
        (dict(core=dict(firm(), size='huge')), 'core.size', 'L007'),
        (dict(name=''), 'name', None),
        (dict(product='factoring'), 'product', None),
        (dict(credit_limit='0.00'), 'credit_limit', None),
        (dict(credit_limit=1000), 'credit_limit', None),
        (dict(credit_limit='1.001'), 'credit_limit', None),
        (dict(started_on='2020-02-30'), 'started_on', None),
    ]
    for fields, field, rule in cases:
        body = program_body()
        for k, v in fields.items():
            if v is None:
                body.pop(k)
            else:
                body[k] = v
        expect_error(c.post('/v1/scf/programs', json=body), 422, 'invalid_field', field, rule)
    body = dict(program_body(), limit='1.00')
    expect_error(c.post('/v1/scf/programs', json=body), 422, 'unknown_field', 'limit')
    body = program_body()
    body['core'] = dict(body['core'], note='x')
    expect_error(c.post('/v1/scf/programs', json=body), 422, 'unknown_field', 'core.note')


def test_only_banks_write_programs_and_guarantors_read_nothing():
    bank = harness.new_principal()
    p = create_program(harness.client(bank))
    reg = harness.client('regulator')
    expect_error(reg.post('/v1/scf/programs', json=program_body()), 403, 'forbidden')
    expect_error(reg.post(f'/v1/scf/programs/{p["id"]}/members',
                          json={'firm': firm(), 'side': 'upstream'}), 403, 'forbidden')
    expect_error(reg.post(f'/v1/scf/programs/{p["id"]}/members/{make_uscc()}/leave', json={}),
                 403, 'forbidden')
    g = harness.client('guarantor')
    expect_error(g.get('/v1/scf/programs'), 403, 'forbidden')
    expect_error(g.get(f'/v1/scf/programs/{p["id"]}'), 403, 'forbidden')
    expect_error(g.post('/v1/scf/programs', json=program_body()), 403, 'forbidden')
    expect_error(harness.client(None).get('/v1/scf/programs'), 401, 'unauthenticated')


def test_another_bank_gets_404_and_the_regulator_reads_every_program():
    owner, other = harness.new_principal(), harness.new_principal()
    c = harness.client(owner)
    p = create_program(c)
    member, _ = add_member(c, p['id'])
    o = harness.client(other)
    expect_error(o.get(f'/v1/scf/programs/{p["id"]}'), 404, 'not_found')
    expect_error(o.post(f'/v1/scf/programs/{p["id"]}/members',
                        json={'firm': firm(), 'side': 'downstream'}), 404, 'not_found')
    expect_error(o.post(f'/v1/scf/programs/{p["id"]}/members/{member["uscc"]}/leave',
                        json={}), 404, 'not_found')
    assert o.get('/v1/scf/programs').json()['items'] == []
    expect_error(o.get(f'/v1/scf/programs?bank={owner.code}'), 404, 'not_found')
    # The owner's program is unchanged by the other bank's attempts.
    d = c.get(f'/v1/scf/programs/{p["id"]}').json()
    assert [m['uscc'] for m in d['members']] == [member['uscc']], d

    reg = harness.client('regulator')
    r = reg.get(f'/v1/scf/programs/{p["id"]}')
    assert r.status == 200 and r.json()['bank_code'] == owner.code, r
    items = reg.get(f'/v1/scf/programs?core={p["core"]["uscc"]}').json()['items']
    assert [i['id'] for i in items] == [p['id']], items
    items = reg.get(f'/v1/scf/programs?bank={owner.code}').json()['items']
    assert [i['id'] for i in items] == [p['id']], items
    expect_error(reg.get('/v1/scf/programs?core=91350402ABC'), 422, 'invalid_field', 'core')
    expect_error(reg.get('/v1/scf/programs/0'), 404, 'not_found')
    expect_error(reg.get('/v1/scf/programs/abc'), 404, 'not_found')
    expect_error(reg.get('/v1/scf/programs/999999999999'), 404, 'not_found')


def test_program_list_is_keyset_paginated():
    bank = harness.new_principal()
    c = harness.client(bank)
    ids = [create_program(c)['id'] for _ in range(3)]
    first = c.get('/v1/scf/programs?limit=2').json()
    assert [i['id'] for i in first['items']] == ids[:2], first
    assert first['next_cursor'] is not None, first
    rest = c.get(f'/v1/scf/programs?limit=2&cursor={first["next_cursor"]}').json()
    assert [i['id'] for i in rest['items']] == ids[2:], rest
    assert rest['next_cursor'] is None, rest
    expect_error(c.get('/v1/scf/programs?limit=0'), 422, 'invalid_field', 'limit')


# --------------------------------------------------------------------------- members

def test_members_join_leave_and_rejoin_with_their_history():
    c = harness.client(harness.new_principal())
    p = create_program(c)
    pid = p['id']
    m, row = add_member(c, pid, side='upstream', joined_on='2020-03-01')
    assert row == {'program_id': pid, 'uscc': m['uscc'], 'name': m['name'], 'side': 'upstream',
                   'current': True, 'joined_on': '2020-03-01', 'left_on': None,
                   'left_reason': None}, row
    # The same post again is a safe retry; the other side or another date is a conflict.
    add_member(c, pid, m, side='upstream', status=200)
    add_member(c, pid, m, side='upstream', joined_on='2020-03-01', status=200)
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': m, 'side': 'downstream'}), 409, 'conflict', 'side')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': m, 'side': 'upstream', 'joined_on': '2020-04-01'}),
                 409, 'conflict', 'joined_on')
    # The core takes part without joining; nobody joins before the program started.
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': p['core'], 'side': 'upstream'}),
                 422, 'invalid_field', 'firm.uscc')
    err = expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                              json={'firm': firm(), 'side': 'upstream', 'joined_on': '2019-12-31'}),
                       422, 'invalid_field', 'joined_on')
    # The field in front of the message, once.
    assert err['message'] == ('joined_on: 2019-12-31 is before the program started '
                              '(2020-01-01)'), err
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': firm(), 'side': 'upstream', 'joined_on': '2999-01-01'}),
                 422, 'invalid_field', 'joined_on')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members', json={'firm': firm(), 'side': 'up'}),
                 422, 'invalid_field', 'side')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members', json={'side': 'upstream'}),
                 422, 'invalid_field', 'firm')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': dict(firm(), county_code='35040'), 'side': 'upstream'}),
                 422, 'invalid_field', 'firm.county_code', 'L005')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': firm(), 'side': 'upstream', 'role': 'x'}),
                 422, 'unknown_field', 'role')

    leave = f'/v1/scf/programs/{pid}/members/{m["uscc"]}/leave'
    expect_error(c.post(leave, json={'left_on': '2020-02-29'}), 422, 'invalid_field', 'left_on')
    expect_error(c.post(leave, json={'reason': ''}), 422, 'invalid_field', 'reason')
    expect_error(c.post(leave, json={'date': '2020-06-30'}), 422, 'unknown_field', 'date')
    r = c.post(leave, json={'left_on': '2020-06-30', 'reason': '合作终止'})
    assert r.status == 200, r
    assert r.json()['current'] is False and r.json()['left_on'] == '2020-06-30', r.json()
    assert r.json()['left_reason'] == '合作终止', r.json()
    assert c.post(leave, json={'left_on': '2020-06-30', 'reason': '合作终止'}).status == 200
    assert c.post(leave, json={'reason': '合作终止'}).status == 200
    expect_error(c.post(leave, json={'left_on': '2020-07-01', 'reason': '合作终止'}),
                 409, 'conflict')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members/{make_uscc()}/leave', json={}),
                 404, 'not_found')
    expect_error(c.post(f'/v1/scf/programs/{pid}/members/NOT-A-USCC/leave', json={}),
                 404, 'not_found')

    # Rejoining: not before the day it left; on the other side this time.
    expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                        json={'firm': m, 'side': 'downstream', 'joined_on': '2020-06-29'}),
                 422, 'invalid_field', 'joined_on')
    _, row = add_member(c, pid, m, side='downstream', joined_on='2020-06-30')
    assert row['current'] is True and row['side'] == 'downstream', row
    other, _ = add_member(c, pid, side='downstream', joined_on='2020-01-01')

    d = c.get(f'/v1/scf/programs/{pid}').json()
    assert d['members_current'] == 2, d
    by_uscc = {x['uscc']: x for x in d['members']}
    assert set(by_uscc) == {m['uscc'], other['uscc']}, d['members']
    assert by_uscc[m['uscc']]['side'] == 'downstream' and by_uscc[m['uscc']]['current'], by_uscc
    assert by_uscc[m['uscc']]['periods'] == [
        {'side': 'upstream', 'joined_on': '2020-03-01', 'left_on': '2020-06-30',
         'left_reason': '合作终止'},
        {'side': 'downstream', 'joined_on': '2020-06-30', 'left_on': None, 'left_reason': None},
    ], by_uscc[m['uscc']]


def test_a_program_holds_at_most_10000_membership_periods_so_its_answer_stays_bounded():
    # GET /v1/scf/programs/{id} answers every firm that ever joined with all its periods;
    # without a cap a bank's program answered without bound (each join, or join and leave,
    # is a period). The first 9,999 periods are written here directly (posting them would
    # take minutes): firms joined and left, as scf_member_add and scf_member_leave write.
    c = harness.client(harness.new_principal())
    pid = create_program(c)['id']
    harness.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " SELECT 'CAP' || lpad(n::text, 15, '0'), '上限测试' || n, '350402', '3412', 'small',"
        " 'test' FROM generate_series(1, 9999) n ON CONFLICT DO NOTHING;"
        " INSERT INTO scf_members (program_id, uscc, side, joined_on, left_on, created_by)"
        " SELECT %d, 'CAP' || lpad(n::text, 15, '0'), 'upstream', '2020-02-01', '2020-03-01',"
        " 'test' FROM generate_series(1, 9999) n" % pid)
    m, _ = add_member(c, pid)
    err = expect_error(c.post(f'/v1/scf/programs/{pid}/members',
                              json={'firm': firm(), 'side': 'upstream'}), 409, 'conflict',
                       'firm')
    assert '10000' in err['message'], err
    # A retry of the current member still answers 200; leaving is still possible.
    add_member(c, pid, m, status=200)
    r = c.post(f'/v1/scf/programs/{pid}/members/{m["uscc"]}/leave', json={})
    assert r.status == 200, r
    assert harness.psql("SELECT count(*) FROM scf_members WHERE program_id = %d" % pid) == \
        [['10000']]
    r = c.get(f'/v1/scf/programs/{pid}')
    assert r.status == 200 and len(r.json()['members']) == 10000, r
    assert len(r.body) < 8 * 1024 * 1024, len(r.body)


def test_a_bank_runs_at_most_100_programs_around_one_core_so_the_firm_view_stays_bounded():
    # GET /v1/firms/{uscc} lists every program around the firm: without a cap one bank's
    # programs made it grow without bound. 99 programs are written directly (as
    # scf_program_create writes them), the 100th is posted, the 101st refused.
    bank = harness.new_principal()
    c = harness.client(bank)
    core = firm(industry_code='3120')
    first = create_program(c, core=core)
    harness.psql(
        "INSERT INTO scf_programs (bank_code, name, core_uscc, product, credit_limit_fen,"
        " started_on, created_by) SELECT '%s', '上限项目' || n, '%s', 'receivables', 100,"
        " '2020-01-01', '%s' FROM generate_series(1, 98) n" % (bank.code, core['uscc'], bank.code))
    hundredth = create_program(c, core=core)
    body = program_body(core=core)
    err = expect_error(c.post('/v1/scf/programs', json=body), 409, 'conflict', 'core')
    assert '100 programs' in err['message'], err
    # Nothing was written by the refusal; a retry of an existing program still answers.
    assert harness.psql("SELECT count(*) FROM scf_programs WHERE bank_code = '%s'"
                        " AND core_uscc = '%s'" % (bank.code, core['uscc'])) == [['100']]
    r = c.post('/v1/scf/programs', json=dict(program_body(core=core), name=first['name']))
    assert r.status == 200 and r.json()['id'] == first['id'], r
    # The cap is the bank's: another bank still creates a program around the same core.
    create_program(harness.client(harness.new_principal()), core=core)
    v = harness.client('regulator').get(f'/v1/firms/{core["uscc"]}')
    assert v.status == 200, v
    mine = [p for p in v.json()['scf_programs'] if p['bank_code'] == bank.code]
    assert len(mine) == 100 and {first['id'], hundredth['id']} <= {p['id'] for p in mine}, mine


def test_a_firm_is_a_current_member_of_at_most_100_programs_of_one_bank():
    # The firm view lists the programs a firm is a current member of: one bank's programs
    # could make that grow without bound. 99 memberships are written directly.
    bank = harness.new_principal()
    c = harness.client(bank)
    m = firm()
    progs = [create_program(c) for _ in range(3)]
    pids = [p['id'] for p in progs]
    harness.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " VALUES ('%(u)s', '三明成员测试有限公司', '350402', '3412', 'small', 'test')"
        " ON CONFLICT DO NOTHING;"
        " WITH p AS (INSERT INTO scf_programs (bank_code, name, core_uscc, product,"
        "   credit_limit_fen, started_on, created_by)"
        "   SELECT '%(b)s', '成员上限' || n, '%(core)s', 'orders', 100, '2020-01-01', '%(b)s'"
        "   FROM generate_series(1, 99) n RETURNING id)"
        " INSERT INTO scf_members (program_id, uscc, side, joined_on, created_by)"
        " SELECT id, '%(u)s', 'upstream', '2020-02-01', '%(b)s' FROM p"
        % {'u': m['uscc'], 'b': bank.code, 'core': progs[2]['core']['uscc']})
    add_member(c, pids[0], m)
    err = expect_error(c.post(f'/v1/scf/programs/{pids[1]}/members',
                              json={'firm': m, 'side': 'upstream'}), 409, 'conflict', 'firm')
    assert '100' in err['message'], err
    assert harness.psql("SELECT count(*) FROM scf_members WHERE program_id = %d" % pids[1]) \
        == [['0']]
    # A retry of a current membership still answers; once the firm leaves one program it
    # may join another; another bank's programs do not count.
    add_member(c, pids[0], m, status=200)
    r = c.post(f'/v1/scf/programs/{pids[0]}/members/{m["uscc"]}/leave', json={})
    assert r.status == 200, r
    add_member(c, pids[1], m)
    expect_error(c.post(f'/v1/scf/programs/{pids[2]}/members',
                        json={'firm': m, 'side': 'upstream'}), 409, 'conflict', 'firm')
    other = harness.client(harness.new_principal())
    add_member(other, create_program(other)['id'], m)
    v = harness.client('regulator').get(f'/v1/firms/{m["uscc"]}').json()
    assert len([p for p in v['scf_programs'] if p['bank_code'] == bank.code]) == 100, v


def test_racing_programs_and_joins_never_pass_the_caps():
    # The caps are counted under advisory locks of the bank and firm: eight new programs
    # around one core at 96, and one firm joining eight programs at 96 memberships, race on
    # eight connections of a server with eight threads; exactly four of each get in.
    bank = harness.new_principal()
    srv = harness.Server(threads=8)
    try:
        clients = [srv.client(bank) for _ in range(8)]
        core = firm(industry_code='3120')
        progs = [create_program(clients[0]) for _ in range(8)]
        create_program(clients[0], core=core)
        m = firm()
        harness.psql(
            "INSERT INTO scf_programs (bank_code, name, core_uscc, product, credit_limit_fen,"
            " started_on, created_by) SELECT '%(b)s', '竞争项目' || n, '%(core)s', 'orders',"
            " 100, '2020-01-01', '%(b)s' FROM generate_series(1, 95) n;"
            " INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
            " VALUES ('%(u)s', '三明竞争成员有限公司', '350402', '3412', 'small', 'test');"
            " WITH p AS (INSERT INTO scf_programs (bank_code, name, core_uscc, product,"
            "   credit_limit_fen, started_on, created_by)"
            "   SELECT '%(b)s', '竞争成员' || n, '%(other)s', 'orders', 100, '2020-01-01',"
            "   '%(b)s' FROM generate_series(1, 96) n RETURNING id)"
            " INSERT INTO scf_members (program_id, uscc, side, joined_on, created_by)"
            " SELECT id, '%(u)s', 'upstream', '2020-02-01', '%(b)s' FROM p"
            % {'b': bank.code, 'core': core['uscc'], 'u': m['uscc'],
               'other': progs[0]['core']['uscc']})
        made = harness.race(clients, lambda i, cl: cl.post(
            '/v1/scf/programs', json=program_body(core=core)).status)
        assert sorted(made) == [201] * 4 + [409] * 4, made
        joined = harness.race(clients, lambda i, cl: cl.post(
            f'/v1/scf/programs/{progs[i]["id"]}/members',
            json={'firm': m, 'side': 'upstream'}).status)
        assert sorted(joined) == [201] * 4 + [409] * 4, joined
        assert harness.psql(
            "SELECT (SELECT count(*) FROM scf_programs WHERE bank_code = '%(b)s'"
            "        AND core_uscc = '%(core)s'),"
            "       (SELECT count(*) FROM scf_members x JOIN scf_programs g ON g.id = x.program_id"
            "        WHERE x.uscc = '%(u)s' AND x.left_on IS NULL AND g.bank_code = '%(b)s')"
            % {'b': bank.code, 'core': core['uscc'], 'u': m['uscc']}) == [['100', '100']]
    finally:
        srv.stop()


def test_leave_without_a_date_is_today_and_joining_records_firm_data():
    c = harness.client(harness.new_principal())
    pid = create_program(c)['id']
    m = firm(name='三明原名供应商有限公司')
    add_member(c, pid, m)
    renamed = dict(m, name='三明新名供应商有限公司', size='medium')
    add_member(c, pid, renamed, status=200)
    d = harness.client('regulator').get(f'/v1/scf/programs/{pid}').json()
    assert d['members'][0]['name'] == '三明新名供应商有限公司', d
    rows = harness.psql(f"SELECT size, source FROM firm_versions WHERE uscc = '{m['uscc']}' "
                        f"ORDER BY changed_at, id NULLS LAST")
    assert rows == [['small', 'scf'], ['medium', 'scf']], rows
    r = c.post(f'/v1/scf/programs/{pid}/members/{m["uscc"]}/leave', json={})
    assert r.status == 200, r
    today = harness.psql("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")[0][0]
    assert r.json()['left_on'] == today and r.json()['left_reason'] is None, r.json()


# --------------------------------------------------------------------------- loans (L021)

def test_loans_under_a_program_go_to_its_core_or_a_current_member_of_the_posting_bank():
    bank, bank2 = harness.new_principal(), harness.new_principal()
    c, c2 = harness.client(bank), harness.client(bank2)
    p = create_program(c)
    pid = p['id']
    member, _ = add_member(c, pid, joined_on='2020-01-01')
    gone, _ = add_member(c, pid, side='downstream', joined_on='2020-01-01')
    assert c.post(f'/v1/scf/programs/{pid}/members/{gone["uscc"]}/leave',
                  json={'left_on': '2020-03-01'}).status == 200

    assert c.post('/v1/loans', json=loan(borrower=member, scf_program_id=pid)).status == 201
    assert c.post('/v1/loans', json=loan(borrower=p['core'], scf_program_id=pid)).status == 201
    for borrower in (firm(), gone):
        err = expect_error(c.post('/v1/loans', json=loan(borrower=borrower, scf_program_id=pid)),
                           422, 'invalid_field', 'scf_program_id', 'L021')
        assert 'program' in err['message'], err
    # Another bank cannot lend under this program, even to its members.
    expect_error(c2.post('/v1/loans', json=loan(borrower=member, scf_program_id=pid)),
                 422, 'invalid_field', 'scf_program_id', 'L021')
    expect_error(c.post('/v1/loans', json=loan(borrower=member, scf_program_id=999999999999)),
                 422, 'invalid_field', 'scf_program_id', 'L021')
    # Batches apply the same check, item by item.
    r = c.post('/v1/loans/batch', json={'loans': [
        loan(borrower=member, scf_program_id=pid), loan(borrower=firm(), scf_program_id=pid)]})
    assert r.status == 200, r
    res = r.json()['results']
    assert [x['status'] for x in res] == ['created', 'rejected'], res
    assert res[1]['error']['rule'] == 'L021', res
    assert res[1]['error']['field'].endswith('scf_program_id'), res
    # A correction that moves the loan to a non-member is refused the same way.
    body = loan(borrower=member, scf_program_id=pid)
    assert c.post('/v1/loans', json=body).status == 201
    moved = dict(body, borrower=firm())
    expect_error(c.put(f'/v1/loans/{harness.quote(body["loan_ref"])}', json=moved,
                       headers={'If-Match': '"1"'}),
                 422, 'invalid_field', 'scf_program_id', 'L021')
    # After leaving, a member's new loans are refused; rejoining allows them again.
    assert c.post(f'/v1/scf/programs/{pid}/members/{member["uscc"]}/leave',
                  json={'left_on': '2020-06-01'}).status == 200
    expect_error(c.post('/v1/loans', json=loan(borrower=member, scf_program_id=pid)),
                 422, 'invalid_field', 'scf_program_id', 'L021')
    add_member(c, pid, member, joined_on='2020-07-01')
    assert c.post('/v1/loans', json=loan(borrower=member, scf_program_id=pid,
                                         issue_date='2020-07-15')).status == 201


# --------------------------------------------------------------------------- figures

def test_program_figures_count_non_void_loans_and_outstanding_against_the_limit():
    c = harness.client(harness.new_principal())
    p = create_program(c, credit_limit='10000000.00')
    pid = p['id']
    a, _ = add_member(c, pid, side='upstream', joined_on='2020-01-01')
    b, _ = add_member(c, pid, side='downstream', joined_on='2020-01-01')
    idle, _ = add_member(c, pid, side='downstream', joined_on='2020-01-01')

    def post(borrower, amount):
        body = loan(borrower=borrower, amount=amount, credit_line=amount, scf_program_id=pid)
        r = c.post('/v1/loans', json=body)
        assert r.status == 201, r
        return harness.quote(body['loan_ref'])

    a1 = post(a, '3000000.00')
    post(a, '1500000.00')
    b_void = post(b, '2000000.00')
    b_repaid = post(b, '1000000.00')
    post(p['core'], '2500000.00')
    assert c.post(f'/v1/loans/{a1}/repayments', json={
        'repayment_ref': 'R1', 'date': '2020-08-01', 'amount': '500000.00'}).status == 201
    assert c.post(f'/v1/loans/{b_repaid}/repayments', json={
        'repayment_ref': 'R1', 'date': '2020-08-01', 'amount': '1000000.00'}).status == 201
    assert c.post(f'/v1/loans/{b_void}/void', json={'reason': '录入错误'}).status == 200

    # A: 3,000,000.00 + 1,500,000.00 = 4,500,000.00 lent; 2,500,000.00 + 1,500,000.00 owed.
    # B: the void loan does not count; the repaid 1,000,000.00 counts as lent, owes nothing.
    # Core: 2,500,000.00 lent and owed. Totals: 4 loans, 8,000,000.00 lent, 6,500,000.00
    # outstanding, 10,000,000.00 - 6,500,000.00 = 3,500,000.00 of the limit remaining.
    for who in (c, harness.client('regulator')):
        d = who.get(f'/v1/scf/programs/{pid}').json()
        members = {m['uscc']: m for m in d['members']}
        fig = {u: (m['loans'], m['amount'], m['outstanding']) for u, m in members.items()}
        assert fig == {a['uscc']: (2, '4500000.00', '4000000.00'),
                       b['uscc']: (1, '1000000.00', '0.00'),
                       idle['uscc']: (0, '0.00', '0.00')}, fig
        assert members[a['uscc']]['side'] == 'upstream', members
        assert members[b['uscc']]['side'] == 'downstream', members
        assert d['core_financing'] == {'loans': 1, 'amount': '2500000.00',
                                       'outstanding': '2500000.00'}, d
        assert d['totals'] == {'loans': 4, 'amount': '8000000.00', 'outstanding': '6500000.00',
                               'credit_limit': '10000000.00', 'remaining': '3500000.00',
                               'members_financed': 2}, d['totals']


# --------------------------------------------------------------------------- rewards

def test_rewards_are_the_regulators_and_need_a_year():
    expect_error(harness.client('bank').get('/v1/stats/scf-rewards?year=2020'), 403, 'forbidden')
    expect_error(harness.client('guarantor').get('/v1/stats/scf-rewards?year=2020'),
                 403, 'forbidden')
    reg = harness.client('regulator')
    for q in ('', '?year=', '?year=20x0', '?year=1200'):
        expect_error(reg.get('/v1/stats/scf-rewards' + q), 422, 'invalid_field', 'year')
    r = reg.get('/v1/stats/scf-rewards?year=2020')
    assert r.status == 200, r
    assert r.json()['rule'] == {'rate': 0.01, 'rate_bp': 100, 'min_members_financed': 10,
                                'cap': '2000000.00'}, r.json()


def _own_registry():
    """A private cluster and server (rewards sum over every bank), with two banks and the
    regulator registered in it."""
    cl = harness.Cluster()
    harness.finregd('migrate', cluster=cl)
    ids = []
    for kind in ('bank', 'bank', 'regulator'):
        code = harness.unique('S-').upper()
        cert, key = harness.make_client_cert(code)
        harness.finregd('principal', 'add', '--kind', kind, '--code', code, '--name',
                        f'测试{kind}{code}', '--cert', cert, cluster=cl)
        ids.append(harness.Identity(kind, code, code, cert, key))
    srv = harness.Server(cluster=cl)
    return cl, srv, ids


def test_reward_rule_below_at_and_above_its_threshold_and_cap():
    cl, srv, (bank_x, bank_y, regulator) = _own_registry()
    x, y = srv.client(bank_x), srv.client(bank_y)
    reg = srv.client(regulator)

    def program(c, core, started_on='2020-01-01'):
        r = c.post('/v1/scf/programs', json=program_body(core=core, started_on=started_on,
                                                         credit_limit='900000000.00'))
        assert r.status == 201, r
        return r.json()['id']

    def members(c, pid, n):
        out = []
        for _ in range(n):
            m, _ = add_member(c, pid, joined_on=program_start[pid])
            out.append(m)
        return out

    def lend(c, pid, pairs, expect='created'):
        """pairs: (borrower, amount, issue_date)."""
        bodies = [loan(borrower=b, amount=amt, credit_line=amt, issue_date=day,
                       maturity_date='2022-06-30', scf_program_id=pid)
                  for b, amt, day in pairs]
        r = c.post('/v1/loans/batch?atomic=true', json={'loans': bodies})
        assert r.status == 200, r
        assert all(res['status'] == expect for res in r.json()['results']), r.json()
        return bodies

    core = {k: firm(name=f'三明核心企业{k}有限公司', industry_code='3120') for k in 'ABCDEF'}
    program_start = {}

    def new_program(c, k, started_on='2020-01-01'):
        pid = program(c, core[k], started_on)
        program_start[pid] = started_on
        return pid

    # A: 9 members x 1,000,000.00 = 9,000,000.00; one member short of the threshold: 0.
    pa = new_program(x, 'A')
    lend(x, pa, [(m, '1000000.00', '2020-03-01') for m in members(x, pa, 9)])

    # B: exactly 10 members: 8 x 1,000,000.00, one with two loans of 500,000.00, one with
    # 1,000,000.50 issued on 31 December = 10,000,000.50; 1% = 100,000.005 -> 100,000.01
    # (half away from zero). Not counted: the core's own loan, a void loan, a loan issued
    # on 31 December 2019 and one on 1 January 2021.
    pb = new_program(x, 'B', started_on='2019-06-01')
    mb = members(x, pb, 10)
    lend(x, pb, [(m, '1000000.00', '2020-05-05') for m in mb[:8]]
         + [(mb[8], '500000.00', '2020-01-01'), (mb[8], '500000.00', '2020-12-31'),
            (mb[9], '1000000.50', '2020-12-31'), (core['B'], '7000000.00', '2020-04-01'),
            (mb[0], '3000000.00', '2019-12-31'), (mb[1], '4000000.00', '2021-01-01')])
    void = lend(x, pb, [(mb[2], '6000000.00', '2020-06-01')])[0]
    assert x.post(f'/v1/loans/{harness.quote(void["loan_ref"])}/void',
                  json={'reason': '重复录入'}).status == 200

    # C: 11 members, 10 x 18,000,000.00 + 19,999,999.00 = 199,999,999.00; 1% =
    # 1,999,999.99, just below the cap.
    pc = new_program(y, 'C')
    mc = members(y, pc, 11)
    lend(y, pc, [(m, '18000000.00', '2020-07-01') for m in mc[:10]]
         + [(mc[10], '19999999.00', '2020-07-01')])

    # D: two programs of two banks, 6 + 6 members with one firm in both = 11 distinct;
    # 150,000,000.00 + 100,000,000.00 = 250,000,000.00; 1% = 2,500,000.00 -> capped at
    # 2,000,000.00.
    pd1, pd2 = new_program(x, 'D'), new_program(y, 'D')
    md1 = members(x, pd1, 6)
    shared = md1[0]
    add_member(y, pd2, shared, joined_on='2020-01-01')
    md2 = [shared] + members(y, pd2, 5)
    lend(x, pd1, [(m, '25000000.00', '2020-09-09') for m in md1])
    lend(y, pd2, [(m, '16000000.00', '2020-09-09') for m in md2[:5]]
         + [(md2[5], '20000000.00', '2020-09-09')])

    # E: 10 members x 20,000,000.00 = 200,000,000.00; 1% = 2,000,000.00, exactly the cap.
    pe = new_program(y, 'E')
    lend(y, pe, [(m, '20000000.00', '2020-10-10') for m in members(y, pe, 10)])

    # F: a program started in 2021 has no row for 2020.
    new_program(x, 'F', started_on='2021-01-01')

    r = reg.get('/v1/stats/scf-rewards?year=2020')
    assert r.status == 200, r
    body = r.json()
    assert body['year'] == 2020, body
    assert body['rule'] == {'rate': 0.01, 'rate_bp': 100, 'min_members_financed': 10,
                            'cap': '2000000.00'}, body
    got = [(row['core_uscc'], row['core_name'], row['financing'], row['members_financed'],
            row['qualified'], row['reward']) for row in body['rows']]

    def row(k, financing, n, reward):
        return (core[k]['uscc'], core[k]['name'], financing, n, n >= 10, reward)

    assert got == [row('D', '250000000.00', 11, '2000000.00'),
                   row('E', '200000000.00', 10, '2000000.00'),
                   row('C', '199999999.00', 11, '1999999.99'),
                   row('B', '10000000.50', 10, '100000.01'),
                   row('A', '9000000.00', 9, '0.00')], got
    # 250,000,000.00 + 200,000,000.00 + 199,999,999.00 + 10,000,000.50 + 9,000,000.00
    assert body['total'] == {'financing': '668999999.50', 'reward': '6100000.00',
                             'cores_rewarded': 4}, body['total']

    # 2019: only B's program had started; its one loan of 31 December 2019.
    r = reg.get('/v1/stats/scf-rewards?year=2019').json()
    assert [(x_['core_uscc'], x_['financing'], x_['members_financed'], x_['reward'])
            for x_ in r['rows']] == [(core['B']['uscc'], '3000000.00', 1, '0.00')], r

    # The rule is configurable: with a threshold of 9 members and 1.5%, A earns
    # 9,000,000.00 x 1.5% = 135,000.00 and B 10,000,000.50 x 1.5% = 150,000.0075 -> 150,000.01.
    cl.psql("UPDATE policy_params SET value = 9 WHERE name = 'scf_reward_min_members';"
            "UPDATE policy_params SET value = 150 WHERE name = 'scf_reward_rate_bp';")
    body = reg.get('/v1/stats/scf-rewards?year=2020').json()
    assert body['rule'] == {'rate': 0.015, 'rate_bp': 150, 'min_members_financed': 9,
                            'cap': '2000000.00'}, body
    rewards = {row['core_uscc']: (row['qualified'], row['reward']) for row in body['rows']}
    assert rewards == {core['A']['uscc']: (True, '135000.00'),
                       core['B']['uscc']: (True, '150000.01'),
                       core['C']['uscc']: (True, '2000000.00'),
                       core['D']['uscc']: (True, '2000000.00'),
                       core['E']['uscc']: (True, '2000000.00')}, rewards


def test_a_programs_members_are_estimated_as_a_chains_whenever_they_were_analyzed(ctx):
    """ANALYZE of a registry with one program stored the distinct programs of scf_members
    as an absolute count, 1, kept however many programs came after: a program's detail then
    scanned every membership of the registry twice (39,910 rows for a program of 50
    members; audit, 4 December 2026). Migration 037 fixes the ratio at 50 memberships a
    program, which every ANALYZE keeps."""
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    c = srv.client('bank')
    pid = create_program(c)['id']
    for _ in range(30):
        add_member(c, pid)
    out = cl.psql("ANALYZE scf_members; SELECT n_distinct FROM pg_stats"
                  " WHERE tablename = 'scf_members' AND attname = 'program_id'")
    assert out == [['-0.02']], out
