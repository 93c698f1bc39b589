"""The supply-chain financing summary (migration 032, sql/scf.sql "Financing summary"): a
program's figures and the core enterprises' reward figures follow every write of a loan
under a program (posts single and batched, repayments, a renewal, corrections of amount,
year, borrower and program, voids), whether the change is folded yet or still pending;
the folded summary equals a rebuild from the loans; the two reads read no loan; and until
finregd migrate has built the summary they answer 503, then the figures."""

import subprocess
import time

import finreg_data as fd
import harness
from finreg_data import loan
from test_guarantee_summary_migrate import (AS_OF, _migrate_alongside, _migrate_in_background,
                                            _outstanding, _rebuild_waits_on,
                                            _registry_asking_for_the_rebuild, _void_then_hold)
from test_loans_lifecycle import create, put, repay, void
from test_scf import add_member, create_program

# The figures as they were computed before the summary, from the loans themselves: the
# model every answer is compared with.
_MODEL_PROGRAM = """
SELECT l.borrower_uscc, count(*), sum(l.amount_fen),
       sum(CASE WHEN l.status = 'active' THEN l.amount_fen - l.repaid_fen ELSE 0 END)
FROM loans l WHERE l.scf_program_id = %d AND l.status <> 'void'
GROUP BY 1 ORDER BY 1"""

_MODEL_REWARDS = """
SELECT p.core_uscc, sum(l.amount_fen), count(DISTINCT l.borrower_uscc)
FROM scf_programs p JOIN loans l ON l.scf_program_id = p.id
WHERE l.status <> 'void' AND l.borrower_uscc <> p.core_uscc
  AND l.issue_date BETWEEN make_date(%d, 1, 1) AND make_date(%d, 12, 31)
GROUP BY 1 ORDER BY 1"""


def _fen(text):
    return int(text.replace('.', ''))   # two decimals always (api.md)


def _program_figures(who, pid):
    """{uscc: (loans, amount fen, outstanding fen)} of every firm with loans, core included,
    and the totals, as GET /v1/scf/programs/{id} answers them."""
    r = who.get(f'/v1/scf/programs/{pid}')
    assert r.status == 200, r
    d = r.json()
    figures = {m['uscc']: (m['loans'], _fen(m['amount']), _fen(m['outstanding']))
               for m in d['members'] if m['loans']}
    core = d['core_financing']
    if core['loans']:
        figures[d['core']['uscc']] = (core['loans'], _fen(core['amount']),
                                      _fen(core['outstanding']))
    t = d['totals']
    return figures, (t['loans'], _fen(t['amount']), _fen(t['outstanding']),
                     t['members_financed'])


def _program_model(pid, core_uscc):
    rows = harness.psql(_MODEL_PROGRAM % pid)
    figures = {u: (int(n), int(a), int(o)) for u, n, a, o in rows if u}
    totals = (sum(v[0] for v in figures.values()), sum(v[1] for v in figures.values()),
              sum(v[2] for v in figures.values()),
              len([u for u in figures if u != core_uscc]))
    return figures, totals


def _rewards(year):
    r = harness.client('regulator').get(f'/v1/stats/scf-rewards?year={year}')
    assert r.status == 200, r
    return {row['core_uscc']: (_fen(row['financing']), row['members_financed'])
            for row in r.json()['rows'] if row['members_financed']}


def _rewards_model(year):
    return {u: (int(a), int(n)) for u, a, n in harness.psql(_MODEL_REWARDS % (year, year))
            if u}


def _check(c, pid, core_uscc):
    for who in (c, harness.client('regulator')):
        assert _program_figures(who, pid) == _program_model(pid, core_uscc)
    for year in (2020, 2021):
        assert _rewards(year) == _rewards_model(year), year


def _folded():
    return harness.poll(lambda: harness.psql('SELECT count(*) FROM scf_financing_pending'),
                        timeout=20, until=lambda rows: rows == [['0']]) == [['0']]


def _summary():
    return harness.psql('SELECT program_id, year, borrower_uscc, loans, amount, outstanding'
                        ' FROM scf_financing WHERE loans <> 0 OR amount <> 0'
                        ' OR outstanding <> 0 ORDER BY 1, 2, 3')


def test_the_figures_follow_every_write_pending_or_folded_and_equal_a_rebuild():
    c = harness.client(harness.new_principal())
    p = create_program(c, credit_limit='90000000.00')
    pid, core = p['id'], p['core']
    other = create_program(c, credit_limit='90000000.00')['id']
    a, _ = add_member(c, pid, side='upstream', joined_on='2020-01-01')
    b, _ = add_member(c, pid, side='downstream', joined_on='2020-01-01')
    m = [add_member(c, pid, joined_on='2020-01-01')[0] for _ in range(3)]
    add_member(c, other, dict(a), joined_on='2020-01-01')

    def scf(borrower, amount, day, program=pid, **kw):
        return loan(borrower=dict(borrower), amount=amount, credit_line=amount, issue_date=day,
                    maturity_date='2023-06-30', scf_program_id=program, **kw)

    def version(body):
        return c.get('/v1/loans/' + harness.quote(body['loan_ref'])).json()['version']

    a1 = scf(a, '3000000.00', '2020-03-01')
    a2 = scf(a, '1500000.00', '2021-02-01', first_loan=False)
    b1 = scf(b, '2000000.00', '2020-04-01')
    core1 = scf(core, '2500000.00', '2020-05-01')
    plain = loan(borrower=dict(b), first_loan=False)     # under no program
    for body in (a1, a2, b1, core1, plain):
        create(c, body)
    batch = [scf(x, '1000000.00', '2020-06-0%d' % (i + 1)) for i, x in enumerate(m)]
    r = c.post('/v1/loans/batch?atomic=true', json={'loans': batch})
    assert r.status == 200 and all(x['status'] == 'created' for x in r.json()['results']), r
    _check(c, pid, core['uscc'])

    # Repayments: part of a1, all of b1 (repaid: nothing outstanding), some of plain.
    assert repay(c, a1['loan_ref'], date='2020-08-01', amount='500000.00').status == 201
    assert repay(c, b1['loan_ref'], date='2020-08-01', amount='2000000.00').status == 201
    assert repay(c, plain['loan_ref'], date='2020-08-01', amount='1.00').status == 201
    # A renewal of a2: renewed, nothing outstanding; the new loan counts in 2021.
    create(c, scf(a, '1400000.00', '2021-06-01', first_loan=False, renewal=True,
                  renews_loan_ref=a2['loan_ref']))
    _check(c, pid, core['uscc'])

    # Corrections: the core's loan larger and in 2021; a member's loan to another member;
    # a1 moved to the other program; b1 voided.
    for body, change in ((core1, dict(amount='2600000.00', credit_line='2600000.00',
                                      issue_date='2021-01-05')),
                         (batch[0], dict(borrower=dict(m[1]))),
                         (a1, dict(scf_program_id=other))):
        r = put(c, dict(body, **change), version(body))
        assert r.status == 200, r
    assert void(c, b1['loan_ref']).status == 200
    _check(c, pid, core['uscc'])
    assert _program_figures(c, other) == _program_model(other, None)

    # Folded, the summary equals one rebuilt from the loans.
    assert _folded()
    _check(c, pid, core['uscc'])
    folded = _summary()
    assert [row for row in folded if row[0] == str(pid)], folded
    rebuilt = harness.psql('BEGIN; SELECT scf_financing_rebuild();'
                           ' SELECT program_id, year, borrower_uscc, loans, amount, outstanding'
                           ' FROM scf_financing WHERE loans <> 0 OR amount <> 0'
                           ' OR outstanding <> 0 ORDER BY 1, 2, 3; ROLLBACK')
    assert rebuilt[1:] == folded


def test_the_two_reads_read_no_loan():
    c = harness.client(harness.new_principal())
    p = create_program(c)
    member, _ = add_member(c, p['id'], joined_on='2020-01-01')
    create(c, loan(borrower=member, scf_program_id=p['id'], issue_date='2020-03-01'))
    for call in ("length(scf_program_detail(%d, NULL)::text)" % p['id'],
                 "count(*) FROM scf_reward_figures(2020)"):
        scans = harness.psql(
            "BEGIN; SELECT %s; SELECT pg_stat_get_xact_numscans('loans'::regclass) + (SELECT"
            " sum(pg_stat_get_xact_numscans(i.indexrelid)) FROM pg_index i"
            " WHERE i.indrelid = 'loans'::regclass); ROLLBACK" % call)
        assert int(scans[-1][0]) == 0, (call, scans)


def test_the_reads_answer_503_until_a_migrate_builds_the_summary(ctx):
    cl = harness.private_cluster(ctx, who=('bank', 'regulator'))
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    bank, reg = srv.client('bank'), srv.client('regulator')
    pid = create_program(bank)['id']
    members = [add_member(bank, pid, joined_on='2020-01-01')[0] for _ in range(2)]
    for x in members:
        r = bank.post('/v1/loans', json=loan(borrower=x, amount='1000000.00',
                                             credit_line='1000000.00', issue_date='2020-03-01',
                                             scf_program_id=pid))
        assert r.status == 201, r
    # The registry as migration 032 leaves one: loans under a program, the summary asked
    # for and empty.
    cl.psql("INSERT INTO summary_rebuilds VALUES ('scf_financing');"
            " DELETE FROM scf_financing; DELETE FROM scf_financing_pending")
    for r in (bank.get(f'/v1/scf/programs/{pid}'), reg.get('/v1/stats/scf-rewards?year=2020')):
        assert r.status == 503 and r.json()['error']['code'] == 'unavailable', r
        assert r.header('Retry-After'), r
    harness.finregd('migrate', cluster=cl)
    d = bank.get(f'/v1/scf/programs/{pid}')
    assert d.status == 200, d
    assert d.json()['totals']['loans'] == 2 and d.json()['totals']['amount'] == '2000000.00'
    rows = reg.get('/v1/stats/scf-rewards?year=2020').json()['rows']
    assert [(x['financing'], x['members_financed']) for x in rows] == [('2000000.00', 2)], rows


def test_a_transaction_voiding_a_loan_under_a_program_then_a_guaranteed_one_does_not_deadlock_the_migrate(ctx):
    """Both summaries asked for, as a registry from before migration 031 has them. A
    transaction voids a loan under a program (its change appended to
    scf_financing_pending), then a loan with guarantees (its trigger reads
    guarantee_capped_loans). In one transaction with the guarantees' rebuild first, the
    migrate held the capped loans and waited for loans (the financing's rebuild locks
    them): a deadlock, the migrate its victim. Each rebuild now commits before the next
    (summary_rebuild_next), the financing's first: the migrate waits for the transaction
    and builds both without a deadlock, the void loans counting for nothing."""
    cl, bank, reg, code, _, guaranteed, _ = _registry_asking_for_the_rebuild(ctx)
    p = create_program(bank, started_on='2019-01-01')
    member, _ = add_member(bank, p['id'], joined_on='2019-01-01')
    under = create(bank, loan(borrower=member, scf_program_id=p['id'],
                              issue_date='2019-03-01'))
    cl.psql("INSERT INTO summary_rebuilds VALUES ('scf_financing');"
            " DELETE FROM scf_financing; DELETE FROM scf_financing_pending")
    holder = _void_then_hold(
        ctx, cl, 'void-scf-then-guaranteed', under,
        "UPDATE loans SET status = 'void' WHERE bank_code = '%s' AND loan_ref = '%s';"
        % (guaranteed['bank_code'], guaranteed['loan_ref']), waits_for='loans')
    _migrate_alongside(cl, holder, deadlock=False)
    assert _outstanding(reg, code) == '0.00'
    d = bank.get('/v1/scf/programs/%d' % p['id'])
    assert d.status == 200 and d.json()['totals']['loans'] == 0, d


def test_loans_go_on_while_the_guarantees_rebuild_when_a_migrate_builds_both_summaries(ctx):
    """A registry from before migration 031 has both summaries asked for by one migrate.
    The guarantees' rebuild alone lets every loan write go on (docs/operations.md: "other
    loan writes go on"); the financing's holds loan writes (SHARE on loans) only while it
    reads the loans under a program. Both ran in one transaction, so the SHARE lock on loans
    stayed held through the guarantees' rebuild: every loan post, repayment and correction
    of every bank waited for it (13.9 s at 3 million guarantees), past the statement
    timeout. Here a reader of the capped loans holds the guarantees' rebuild three seconds:
    a plain loan must be stored at once meanwhile."""
    cl, bank, reg, code, _, _, _ = _registry_asking_for_the_rebuild(ctx)
    cl.psql("INSERT INTO summary_rebuilds VALUES ('scf_financing');"
            " DELETE FROM scf_financing; DELETE FROM scf_financing_pending")
    write = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url, '-c', 'BEGIN',
         '-c', 'LOCK TABLE guarantee_capped_loans IN ACCESS SHARE MODE',
         '-c', 'SELECT pg_sleep(3)', '-c', 'COMMIT'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
    migrate = None
    try:
        assert harness.poll(lambda: cl.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)'"
            " AND state = 'active'") == [['1']], timeout=10)
        migrate, migrated = _migrate_in_background(cl)
        assert harness.poll(lambda: _rebuild_waits_on(cl, 'guarantee_capped_loans'),
                            timeout=10)
        started = time.monotonic()
        r = bank.post('/v1/loans', json=fd.loan())
        stored_in = time.monotonic() - started
    finally:
        if migrate is not None:
            migrate.join(timeout=60)
        _, err = write.communicate(timeout=30)
    assert write.returncode == 0, err
    assert migrated and migrated[0].returncode == 0, migrated
    assert r.status == 201 and stored_in < 1.0, (r, stored_in)
    assert cl.psql("SELECT count(*) FROM summary_rebuilds") == [['0']]
    assert _outstanding(reg, code) == '3000000.00'
