"""Supervision: the banks' scorecard (GET /v1/stats/scorecard, PUT /v1/scorecard/weights/{year})
and the loan-withdrawal watch (GET /v1/alerts/withdrawals) against the hand-made dataset of
supervision_world.py; every figure below is worked out by hand in the comments."""

import csv
import io

import finreg_data as fd
import supervision_world as w
from finreg_data import loan
from supervision_world import A, B, C, D, FIRMS

SC = '/v1/stats/scorecard?year=2020&as_of=2020-06-30'
INDICATORS = ['manufacturing_increase', 'first_loan_share', 'credit_share', 'medium_long_share',
              'renewal_share', 'small_micro_rate_change_pp', 'relief_funded_share',
              'scf_financing']

# New loans 1 Jan - 30 Jun 2020: A: A2 (2,000,000 credit first mlt), A3 (1,000,000 collateral);
# B: B2 (500,000 renewal), B3 (1,000,000 credit first scf); C: C1 (3,000,000 pledge); D none.
# manufacturing_increase (manufacturing outstanding 30 Jun 2020 - 31 Dec 2019):
#   A: (A1 800,000 + A2 2,000,000 + A3 1,000,000) - A1 1,000,000 = 2,800,000
#   B: B3 1,000,000 - 0 (F4 is 5212, not manufacturing) = 1,000,000;  C: C1 3,000,000 - 0
#   points: best C 3.0M, worst B 1.0M: A 100*(2.8-1.0)/(3.0-1.0) = 90.00, B 0, C 100
# first_loan_share: A 1/2, B 1/2, C 0/1 -> points A 100, B 100, C 0
# credit_share (amount): A 2.0M/3.0M = 2/3, B 1.0M/1.5M = 2/3 (equal exactly), C 0 -> 100, 100, 0
# medium_long_share: A 2.0M/3.0M = 0.6667 (only A2 runs over a year), B 0, C 0 -> 100, 0, 0
# renewal_share: A 0/2, B 1/2, C 0/1 -> 0, 100, 0
# small_micro_rate_change_pp (lower is better): inclusive new loans 2020 vs 1 Jan-30 Jun 2019
#   A: 4.5 (A2) - 5.0 (A1) = -0.5;  B: (5.0*0.5M + 4.0*1.0M)/1.5M - 6.0 (B1) = -1.66666..
#   C: no inclusive loan in 2019 -> null.  Best B, worst A: A 0, B 100, C 0 (null)
# relief_funded_share: A: F3 funded (by A3, issued 2020-03-01) + F1 referred -> 1/2;
#   B: F5 declined -> 0/1; C: no referral -> null.  Points A 100, B 0, C 0
# scf_financing: A 0.00, B 1,000,000.00 (B3), C 0.00 -> A 0, B 100, C 0
# D has no loan at all: every value null, every point 0, score 0.
VALUES = {
    A: ['2800000.00', 0.5, 0.6667, 0.6667, 0.0, -0.5, 0.5, '0.00'],
    B: ['1000000.00', 0.5, 0.6667, 0.0, 0.5, -1.6667, 0.0, '1000000.00'],
    C: ['3000000.00', 0.0, 0.0, 0.0, 0.0, None, None, '0.00'],
    D: [None] * 8,
}
POINTS = {
    A: [90, 100, 100, 100, 0, 0, 100, 0],
    B: [0, 100, 100, 0, 100, 100, 0, 100],
    C: [100, 0, 0, 0, 0, 0, 0, 0],
    D: [0] * 8,
}


def _check_indicators(row):
    bank = row['bank_code']
    ind = row['indicators']
    assert sorted(ind) == sorted(INDICATORS), ind
    for i, name in enumerate(INDICATORS):
        assert ind[name] == {'value': VALUES[bank][i], 'points': POINTS[bank][i]}, \
            (bank, name, ind[name])


def _ok_json(r):
    assert r.status == 200, r.text
    return r.json()


def _ranking(body):
    return [(r['bank_code'], r['rank'], r['score']) for r in body['rows']]


def test_scorecard_2020_every_indicator_points_score_and_rank_by_hand():
    body = w.get('regulator', SC).json()
    assert (body['year'], body['as_of']) == (2020, '2020-06-30'), body
    assert body['weights'] == {name: 1 for name in INDICATORS}, body['weights']
    # Scores (weights 1): A 490/8 = 61.25, B 500/8 = 62.50, C 100/8 = 12.50, D 0.
    assert _ranking(body) == [(B, 1, 62.5), (A, 2, 61.25), (C, 3, 12.5), (D, 4, 0)], body
    for row in body['rows']:
        _check_indicators(row)


def test_a_bank_that_lent_only_in_earlier_years_has_a_row_and_one_that_never_lent_none():
    """Year 2021 up to 3 January, before any loan of 2021: A, B and C lent in 2019-2020
    (their rows before 1 January say so), D never.
    A, B, C: manufacturing balance unchanged since 31 Dec -> 0.00 each, all equal -> 100
    points; no new loan -> the shares, the rate change and scf null (0 points); no referral
    in 2021 yet -> null. Score 100/8 = 12.50, a shared rank 1. D: every value null, 0."""
    body = w.get('regulator', '/v1/stats/scorecard?year=2021&as_of=2021-01-03').json()
    assert _ranking(body) == [(A, 1, 12.5), (B, 1, 12.5), (C, 1, 12.5), (D, 4, 0)], body
    for row in body['rows']:
        lent = row['bank_code'] != D
        for name in INDICATORS:
            want = ({'value': '0.00', 'points': 100} if lent and name == 'manufacturing_increase'
                    else {'value': None, 'points': 0})
            assert row['indicators'][name] == want, (row['bank_code'], name, row)


def test_scorecard_after_changed_weights_and_ties_share_a_rank():
    reg = w.client('regulator')
    try:
        r = reg.put('/v1/scorecard/weights/2020',
                    json={'manufacturing_increase': 3, 'scf_financing': 0})
        assert r.status == 200, r.text
        weights = dict({n: 1 for n in INDICATORS}, manufacturing_increase=3, scf_financing=0)
        assert r.json() == {'year': 2020, 'weights': weights}, r.text
        body = w.get('regulator', SC).json()
        assert body['weights'] == weights
        # Σw = 9. A: (3*90 + 100+100+100+0+0+100 + 0)/9 = 670/9 = 74.44;
        # B: (0 + 100+100+0+100+100+0 + 0)/9 = 400/9 = 44.44; C: 3*100/9 = 33.33; D 0.
        assert _ranking(body) == [(A, 1, 74.44), (B, 2, 44.44), (C, 3, 33.33), (D, 4, 0)]
        for row in body['rows']:
            _check_indicators(row)     # points do not depend on the weights
        # Half up: manufacturing 1, renewal 31, the rest 0 -> Σw = 32.
        # C: 100/32 = 3.125 -> 3.13; A: 90/32 = 2.8125 -> 2.81; B: 31*100/32 = 96.875 -> 96.88.
        zero = {n: 0 for n in INDICATORS}
        r = reg.put('/v1/scorecard/weights/2020',
                    json=dict(zero, manufacturing_increase=1, renewal_share=31))
        assert r.status == 200, r.text
        assert _ranking(w.get('regulator', SC).json()) == [
            (B, 1, 96.88), (C, 2, 3.13), (A, 3, 2.81), (D, 4, 0)]
        # Only first_loan_share: A and B 100 share rank 1; C and D 0 share rank 3, by code.
        r = reg.put('/v1/scorecard/weights/2020', json=dict(zero, first_loan_share=1))
        assert r.status == 200, r.text
        assert _ranking(w.get('regulator', SC).json()) == [
            (A, 1, 100), (B, 1, 100), (D, 3, 0), (C, 3, 0)]
    finally:
        r = reg.put('/v1/scorecard/weights/2020', json={})
        assert r.status == 200 and r.json()['weights'] == {n: 1 for n in INDICATORS}, r.text
    rows = w.world()['cluster'].psql("SELECT indicator, weight, updated_by FROM scorecard_weights"
                                     " WHERE year = 2020 ORDER BY indicator")
    assert rows == [[n, '1', 'SM-FSB'] for n in sorted(INDICATORS)], rows


def test_corrections_and_voids_move_the_scorecard_figures_read_from_the_summaries():
    """The new-loan indicators come from the day and month summaries (not the loans): a
    correction that unlinks B3 from B's program takes its 1,000,000.00 out of scf_financing
    and a correction of its rate moves the small-micro change; both come back with it."""
    b = w.client('bank2')
    before = w.get('regulator', SC).json()
    stored = _ok_json(b.get('/v1/loans/B3'))
    body = loan('B3', FIRMS['F5'], amount='1000000.00', issue_date='2020-05-10',
                maturity_date='2021-05-09', rate='5.0000', guarantee_mode='credit',
                first_loan=True, credit_line=None)
    try:
        r = b.put('/v1/loans/B3', json=body,
                  headers={'If-Match': '"%s"' % stored['version']})
        assert r.status == 200, r.text
        rows = {x['bank_code']: x['indicators'] for x in w.get('regulator', SC).json()['rows']}
        # scf: every bank 0.00 now, all equal -> 100 points each (D has none: null, 0).
        assert rows[B]['scf_financing'] == {'value': '0.00', 'points': 100}, rows[B]
        assert rows[A]['scf_financing'] == {'value': '0.00', 'points': 100}, rows[A]
        # B: (5.0*0.5M + 5.0*1.0M)/1.5M - 6.0 = -1.0; A -0.5 still: B best, A worst.
        assert rows[B]['small_micro_rate_change_pp'] == {'value': -1.0, 'points': 100}, rows[B]
    finally:
        r = b.put('/v1/loans/B3', json=dict(body, rate='4.0000',
                                            scf_program_id=stored['scf_program_id']),
                  headers={'If-Match': '"%d"' % (stored['version'] + 1)})
        assert r.status == 200, r.text
    assert w.get('regulator', SC).json() == before


def test_weights_refuse_unknown_indicators_negative_or_all_zero_and_change_nothing():
    reg = w.client('regulator')
    for body, code, field in (({'loan_growth': 1}, 'unknown_field', 'loan_growth'),
                              ({'credit_share': -1}, 'invalid_field', 'credit_share'),
                              ({'credit_share': '2'}, 'invalid_field', 'credit_share'),
                              ({n: 0 for n in INDICATORS}, 'invalid_field', None)):
        r = reg.put('/v1/scorecard/weights/2020', json=body)
        assert r.status == 422, (body, r.text)
        assert r.json()['error']['code'] == code, r.text
        assert r.json()['error'].get('field') == field, r.text
    assert w.get('regulator', SC).json()['weights'] == {n: 1 for n in INDICATORS}
    for who in ('bank', 'guarantor'):
        r = w.client(who).put('/v1/scorecard/weights/2020',
                                                json={'credit_share': 2})
        assert r.status == 403, r.text


def test_a_bank_reads_its_own_row_ranked_among_all_and_nothing_else():
    body = w.get('bank', SC + '&bank=self').json()
    assert body['bank'] == A and _ranking(body) == [(A, 2, 61.25)], body
    _check_indicators(body['rows'][0])
    body = w.get('D', SC + '&bank=self').json()
    assert _ranking(body) == [(D, 4, 0)], body
    w.get('bank', SC, expect=403)
    w.get('bank', SC + '&bank=' + B, expect=403)
    w.get('guarantor', SC, expect=403)
    # The regulator may look at one bank the same way.
    assert _ranking(w.get('regulator', SC + '&bank=' + C).json()) == [(C, 3, 12.5)]


def test_scorecard_bad_parameters_are_422_with_the_field():
    for q, field in (('', 'year'), ('year=20x0', 'year'), ('year=2020&as_of=2021-01-01', 'as_of'),
                     ('year=2020&as_of=2020-02-30', 'as_of')):
        r = w.get('regulator', '/v1/stats/scorecard?' + q, expect=422)
        assert r.json()['error']['field'] == field, (q, r.text)


# --------------------------------------------------------------------------- withdrawal watch

WATCH = '/v1/alerts/withdrawals?as_of=2021-09-30'
# Window (2021-07-02, 2021-09-30]:
#  G1/A: AR1 1,000,000 repaid 400,000 (07-15) + 600,000 (08-10) -> 0 on 08-10, 30 days before
#        maturity 09-09: recall; balance 1,000,000 -> 0 with no new loan: cutoff on 08-10.
#  G2/A: AR2 repaid at maturity 08-31 and AR3 lent 09-05: 500,000 -> 500,000, nothing.
#  G3/B: 2,000,000 - 1,400,000 = 600,000 = 30% <= 70%: cut, date = as_of.
#  G4/B: 1,000,000 - 300,000 = 700,000 = exactly 70%: cut.
#  G7/B: BR3 renewed by BR4 on 07-31: 1,000,000 -> 1,000,000, nothing.
#  G5/C: CR1 repaid at maturity 07-20 (0 days before: no recall), no new loan: cutoff 07-20.
#  G6/C: repaid early in full, but a large firm: nothing.
G1, G3, G4, G5 = (FIRMS[k]['uscc'] for k in ('G1', 'G3', 'G4', 'G5'))


def _alert(kind, bank, f, before, after, date, ref, flags):
    return {'kind': kind, 'bank_code': bank, 'uscc': FIRMS[f]['uscc'], 'name': FIRMS[f]['name'],
            'county_code': FIRMS[f]['county_code'], 'outstanding_before': before,
            'outstanding_as_of': after, 'date': date, 'loan_ref': ref, 'flags': flags}


EXPECTED = [
    _alert('cutoff', A, 'G1', '1000000.00', '0.00', '2021-08-10', None, ['referred']),
    _alert('recall', A, 'G1', '1000000.00', '0.00', '2021-08-10', 'AR1', ['referred']),
    _alert('cut', B, 'G3', '2000000.00', '600000.00', '2021-09-30', None, ['whitelisted']),
    _alert('cut', B, 'G4', '1000000.00', '700000.00', '2021-09-30', None, []),
    _alert('cutoff', C, 'G5', '800000.00', '0.00', '2021-07-20', None, ['scf_member']),
]


def test_watch_finds_each_kind_and_not_renewals_repaid_at_maturity_or_large_firms():
    body = w.get('regulator', WATCH + '&window_days=90').json()
    assert (body['as_of'], body['window_days'], body['total']) == ('2021-09-30', 90, 5), body
    assert body['rows'] == EXPECTED, body['rows']
    # window_days defaults to 90.
    assert w.get('regulator', WATCH).json()['rows'] == EXPECTED


def test_watch_filters_by_kind_county_bank_and_window():
    kinds = w.get('regulator', WATCH + '&kind=cut').json()
    assert kinds['rows'] == EXPECTED[2:4] and kinds['total'] == 2, kinds
    county = w.get('regulator', WATCH + '&county=350427').json()
    assert county['rows'] == EXPECTED[4:], county
    one = w.get('regulator', WATCH + '&bank=' + B).json()
    assert one['rows'] == EXPECTED[2:4], one
    # A 30-day window (2021-08-31, 2021-09-30]: only G3's repayment of 09-01 falls in it;
    # G3 before = 2,000,000 (end of 08-31), after 600,000: cut.
    short = w.get('regulator', WATCH + '&window_days=30').json()
    assert short['rows'] == [EXPECTED[2]], short
    # The 2020 data: A1's partial repayment (1,000,000 -> 800,000 = 80%) and B1's renewal by
    # B2 fall in (2020-04-01, 2020-06-30]: neither alerts.
    assert w.get('regulator', '/v1/alerts/withdrawals?as_of=2020-06-30').json()['rows'] == []


def test_a_bank_sees_only_its_own_alerts():
    own = w.get('bank', WATCH + '&bank=self').json()
    assert own['rows'] == EXPECTED[:2], own
    assert w.get('C', WATCH + '&bank=self').json()['rows'] == EXPECTED[4:]
    w.get('bank', WATCH, expect=403)
    w.get('bank', WATCH + '&bank=' + B, expect=403)
    w.get('guarantor', WATCH, expect=403)


def test_a_banks_alert_flags_count_only_its_own_referrals_and_programs():
    """Another bank's referral of the firm and its program with the firm as core are not a
    bank's to see: its alert has no such flags, the regulator's (any bank's) has both."""
    h = w.harness
    x = h.new_principal()
    bank, reg, other = h.client(x), h.client('regulator'), h.client('bank2')
    firm = fd.firm(name='三明抽贷标记测试有限公司')
    ref = h.unique('FLAG-')
    assert bank.post('/v1/loans', json=fd.loan(
        loan_ref=ref, borrower=firm, amount='500000.00', credit_line=None,
        issue_date='2021-01-10', maturity_date='2022-01-09')).status == 201
    assert bank.post('/v1/loans/%s/repayments' % h.quote(ref), json={
        'repayment_ref': 'R1', 'date': '2021-03-01', 'amount': '500000.00'}).status == 201
    assert reg.post('/v1/referrals', json=dict(
        firm, bank_code='RCB-SM', requested_amount='100000.00', reason='测试',
        referred_on='2021-02-01')).status == 201
    assert other.post('/v1/scf/programs', json={
        'name': h.unique('项目-'), 'core': firm, 'product': 'receivables',
        'credit_limit': '1000000.00', 'started_on': '2021-01-01'}).status == 201
    q = '/v1/alerts/withdrawals?as_of=2021-03-31&kind=recall&bank='
    own = bank.get(q + 'self')
    assert own.status == 200 and [(r['loan_ref'], r['flags']) for r in own.json()['rows']] \
        == [(ref, [])], own.json()
    seen = reg.get(q + x.code).json()['rows']
    assert [(r['loan_ref'], r['flags']) for r in seen] == [(ref, ['referred', 'scf_member'])], \
        seen
    # The six-argument call of the builds before (kept for a rolling upgrade) scopes the
    # flags to the bank it asks for.
    assert h.psql("SELECT loan_ref, referred, scf_member FROM withdrawal_alerts("
                  f"'2021-01-01', '2021-03-31', '{x.code}', NULL, 'recall', 10)") == \
        [[ref, 'f', 'f']]


def test_watch_timeline_equals_the_loans_every_day_renewals_included():
    # B1 renewed by B2 on 2020-04-30 and BR3 by BR4 on 2021-07-31: the renewed loan's balance
    # goes to 0 on the renewal date as the new one starts; every other pair as posted.
    cl = w.world()['cluster']
    check = w.TIMELINE_MISMATCHES % ('2019-01-01', '2022-12-31')
    assert cl.psql(check) == [['0']]
    cl.psql('SELECT stats_compact();')
    assert cl.psql(check) == [['0']]
    assert cl.psql(w.CUT_MISMATCHES) == [['0']]


def test_watch_csv_has_bom_header_and_the_same_rows():
    r = w.get('regulator', WATCH + '&format=csv')
    assert r.header('Content-Type').startswith('text/csv'), r.header('Content-Type')
    assert 'attachment' in r.header('Content-Disposition'), r.header('Content-Disposition')
    assert r.body.startswith(b'\xef\xbb\xbf'), r.body[:10]
    rows = list(csv.reader(io.StringIO(r.body[3:].decode('utf-8'))))
    assert rows[0] == ['kind', 'bank_code', 'uscc', 'name', 'county_code', 'outstanding_before',
                       'outstanding_as_of', 'date', 'loan_ref', 'flags'], rows[0]
    assert rows[1:] == [[e['kind'], e['bank_code'], e['uscc'], e['name'], e['county_code'],
                         e['outstanding_before'], e['outstanding_as_of'], e['date'],
                         e['loan_ref'] or '', ';'.join(e['flags'])] for e in EXPECTED], rows


def test_watch_bad_parameters_are_422_with_the_field():
    for q, field in (('as_of=2021-02-30', 'as_of'), ('window_days=0', 'window_days'),
                     ('window_days=ninety', 'window_days'), ('window_days=3661', 'window_days'),
                     ('kind=squeeze', 'kind'), ('county=35040', 'county'),
                     ('format=pdf', 'format')):
        r = w.get('regulator', '/v1/alerts/withdrawals?' + q, expect=422)
        assert r.json()['error']['field'] == field, (q, r.text)


def test_targets_keep_their_rows_and_carry_the_scorecard_ranking():
    body = w.get('regulator', '/v1/stats/targets?year=2020&as_of=2020-06-30').json()
    assert sorted(r['metric'] for r in body['rows']) == sorted([
        'guarantee_leverage', 'lending_increase', 'manufacturing_loan_increase',
        'relief_referrals', 'small_micro_rate_change_pp']), body['rows']
    sc = body['scorecard']
    assert (sc['year'], sc['as_of']) == (2020, '2020-06-30'), sc
    assert sc['rows'] == [{'bank_code': B, 'rank': 1, 'score': 62.5},
                          {'bank_code': A, 'rank': 2, 'score': 61.25},
                          {'bank_code': C, 'rank': 3, 'score': 12.5},
                          {'bank_code': D, 'rank': 4, 'score': 0}], sc
