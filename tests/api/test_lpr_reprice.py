"""PUT /v1/lpr/{date} reprices the loans the new or corrected rates are in force for
(domain.md: a loan's LPR is "the rate in force on the issue date"): their lpr and spread_bp,
and the pricing statistics built on them, follow at once; loans issued under another row
keep theirs. The spread the database computes equals the one finregd computes for a new
loan of the same rate. A private cluster: the LPR table is the registry's."""

import subprocess
import threading

import harness
from finreg_data import firm, loan


def _fresh(ctx):
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)     # before the cluster goes
    return cl, srv


def _post(bank, ref, issue, maturity, rate, **kw):
    r = bank.post('/v1/loans', json=loan(ref, firm(size='small'), issue_date=issue,
                                          maturity_date=maturity, rate=rate,
                                          amount='1000000.00', credit_line=None, **kw))
    assert r.status == 201, r.text
    return r.json()


def _priced(bank, ref):
    r = bank.get('/v1/loans/' + ref)
    assert r.status == 200, r.text
    j = r.json()
    return j['lpr_tenor'], j['lpr'], j['spread_bp']


def test_an_lpr_put_reprices_the_loans_it_is_in_force_for_and_their_statistics(ctx):
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'A', '2020-05-12', '2021-05-11', '4.3500')          # 1Y 3.85: 50
    _post(bank, 'B', '2020-05-12', '2026-05-11', '4.5450')          # 5Y 4.65: -10.5 -> -11
    _post(bank, 'C', '2020-04-19', '2021-04-18', '4.3500')          # 2020-02-20's 4.05: 30
    _post(bank, 'D', '2021-07-16', '2022-07-15', '4.3550')          # 3.85: 50.5 -> 51
    assert [_priced(bank, x) for x in 'ABCD'] == [
        ('1Y', '3.8500', 50), ('5Y', '4.6500', -11), ('1Y', '4.0500', 30), ('1Y', '3.8500', 51)]
    before = reg.get('/v1/stats/pricing?month=2020-05').json()['rows'][0]
    assert before['avg_spread_bp'] == 19.5, before              # (50 - 11) / 2

    # A rate recorded late, in force from 1 May 2020 until the next row (none): A, B and D.
    r = reg.put('/v1/lpr/2020-05-01', json={'one_year': '3.8000', 'five_year': '4.6000'})
    assert r.status == 201 and r.json()['repriced'] == 3, r.text
    assert [_priced(bank, x) for x in 'ABCD'] == [
        ('1Y', '3.8000', 55), ('5Y', '4.6000', -6), ('1Y', '4.0500', 30), ('1Y', '3.8000', 56)]
    after = reg.get('/v1/stats/pricing?month=2020-05').json()['rows'][0]
    assert after['avg_spread_bp'] == 24.5, after                # (55 - 6) / 2

    # A later row splits the period: only D is issued from it on.
    r = reg.put('/v1/lpr/2021-07-01', json={'one_year': '4.0000', 'five_year': '4.7000'})
    assert r.status == 201 and r.json()['repriced'] == 1, r.text
    assert _priced(bank, 'D') == ('1Y', '4.0000', 36) and _priced(bank, 'A')[1] == '3.8000'
    # The same rates again change nothing.
    r = reg.put('/v1/lpr/2021-07-01', json={'one_year': '4.0000', 'five_year': '4.7000'})
    assert r.status == 200 and r.json()['repriced'] == 0, r.text

    # finregd's own spread for new loans of the same rates and days equals the database's.
    for ref, issue, maturity, rate in (('A2', '2020-05-12', '2021-05-11', '4.3500'),
                                       ('B2', '2020-05-12', '2026-05-11', '4.5450'),
                                       ('D2', '2021-07-16', '2022-07-15', '4.3550')):
        made = _post(bank, ref, issue, maturity, rate)
        assert _priced(bank, ref) == _priced(bank, ref[0]), (ref, made)

    # The summaries still equal a rebuild from the loans.
    q = ("SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM stats_new_loans s")
    folded = harness.poll(lambda: cl.psql('SELECT count(*) FROM stats_pending'), 10,
                          lambda v: v == [['0']])
    assert folded == [['0']], folded
    summaries = cl.psql(q)
    cl.psql('SELECT stats_rebuild()')
    assert cl.psql(q) == summaries


def _psql_session(cl, sql):
    """A psql session that has run @a sql (a transaction left open) until commit()."""
    p = subprocess.Popen([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', cl.url],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, text=True)
    p.stdin.write(sql + '\n')
    p.stdin.flush()
    held = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity "
                                        "WHERE state = 'idle in transaction'"), 10,
                        lambda v: v == [['1']])
    assert held == [['1']], held

    def commit():
        p.stdin.write('COMMIT;\n')
        p.stdin.close()
        p.wait(10)
    return commit


def _waiting(cl, n):
    got = harness.poll(lambda: cl.psql("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE wait_event_type = 'Lock'"), 10,
                       lambda v: v == [[str(n)]])
    assert got == [[str(n)]], got


def _in_background(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(r=fn()))
    t.start()
    return t, out


def test_a_reprice_prices_a_loan_as_a_concurrent_correction_left_it(ctx):
    """The PUT waits for a correction that changed the rate; it then prices the rate the
    correction committed (70 bp), not the one it read first (55 bp)."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'A', '2020-05-12', '2021-05-11', '4.3500')
    commit = _psql_session(cl, "BEGIN; UPDATE loans SET rate_e4 = 45000, spread_bp = 65, "
                               "version = version + 1 WHERE loan_ref = 'A';")
    t, out = _in_background(lambda: reg.put('/v1/lpr/2020-05-01',
                                            json={'one_year': '3.8000', 'five_year': '4.6000'}))
    _waiting(cl, 1)
    commit()
    t.join(60)
    assert out['r'].status == 201 and out['r'].json()['repriced'] == 1, out['r']
    assert _priced(bank, 'A') == ('1Y', '3.8000', 70)


def test_two_lpr_puts_at_once_take_turns(ctx):
    """A PUT of 1 May waits on a loan; a PUT of 1 June meanwhile waits for it, then prices
    the June loan against its own row, which the May PUT's period now ends before."""
    cl, srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    _post(bank, 'K', '2020-05-12', '2021-05-11', '4.3500')
    _post(bank, 'J', '2020-06-12', '2021-06-11', '4.3500')
    commit = _psql_session(cl, "BEGIN; SELECT 1 FROM loans WHERE loan_ref = 'K' FOR UPDATE;")
    ta, a = _in_background(lambda: reg.put('/v1/lpr/2020-05-01',
                                            json={'one_year': '3.8000', 'five_year': '4.6000'}))
    _waiting(cl, 1)
    reg2 = harness.Client('regulator', server=srv)
    tb, b = _in_background(lambda: reg2.put('/v1/lpr/2020-06-01',
                                             json={'one_year': '3.7000', 'five_year': '4.5000'}))
    _waiting(cl, 2)
    commit()
    ta.join(60)
    tb.join(60)
    assert (a['r'].status, b['r'].status) == (201, 201), (a['r'], b['r'])
    assert _priced(bank, 'K') == ('1Y', '3.8000', 55)
    assert _priced(bank, 'J') == ('1Y', '3.7000', 65)
