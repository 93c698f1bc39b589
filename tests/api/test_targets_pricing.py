"""The pricing target (domain.md 7.4, `small_micro_rate_change_pp` in GET /v1/stats/targets):
the amount-weighted average rate of new inclusive small-micro loans in the month of `as_of`
up to `as_of`, minus the same days a year before; at most 0 every month, at most the
year's stored target (-0.5 for 2020) in December; met judged on the exact change, which
is shown rounded to four decimals. A private cluster: the targets read the whole registry."""

import harness
from finreg_data import firm, loan


def _fresh(ctx):
    cl = harness.private_cluster(ctx)
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)     # before the cluster goes
    return srv


def _small(ref, day, rate, amount='1000000.00'):
    y, m, d = day.split('-')
    return loan(ref, firm(size='small'), amount=amount, issue_date=day,
                maturity_date=f'{int(y) + 1}-{m}-{d}', rate=rate, credit_line=None)


def _pricing_row(reg, as_of):
    r = reg.get(f'/v1/stats/targets?year=2020&as_of={as_of}')
    assert r.status == 200, r.text
    return [x for x in r.json()['rows'] if x['metric'] == 'small_micro_rate_change_pp'][0]


def test_the_pricing_target_is_month_to_date_at_most_zero_and_met_on_the_exact_change(ctx):
    srv = _fresh(ctx)
    bank, reg = srv.client('bank'), srv.client('regulator')
    for body in (_small('J19', '2019-06-05', '5.0000'), _small('J20a', '2020-06-10', '4.0000'),
                 _small('J20b', '2020-06-20', '6.0000'), _small('L19', '2019-07-05', '5.0000'),
                 _small('L20', '2020-07-05', '4.7000'), _small('D19', '2019-12-05', '5.0000'),
                 _small('D20a', '2020-12-05', '4.5000', '600000.00'),
                 _small('D20b', '2020-12-06', '4.5001', '400000.00')):
        r = bank.post('/v1/loans', json=body)
        assert r.status == 201, r.text
    # Mid-June: J20b (20 June) is not yet issued; 1-15 June 2019 holds J19.
    row = _pricing_row(reg, '2020-06-15')
    assert row == {
        'metric': 'small_micro_rate_change_pp', 'metric_name': '普惠小微贷款利率变动（百分点）',
        'target': 0, 'actual': -1.0, 'progress': None, 'met': True}, row
    # The whole of June: (4 + 6) / 2 - 5 = 0, at most 0: met.
    row = _pricing_row(reg, '2020-06-30')
    assert (row['target'], row['actual'], row['met']) == (0, 0, True), row
    # July: -0.3 meets "at most 0 every month"; -0.5 is December's.
    row = _pricing_row(reg, '2020-07-31')
    assert (row['target'], row['actual'], row['met']) == (0, -0.3, True), row
    # December: 0.6 x 4.5 + 0.4 x 4.5001 - 5 = -0.49996, shown -0.5 but above -0.5: not met.
    row = _pricing_row(reg, '2020-12-31')
    assert (row['target'], row['actual'], row['met']) == (-0.5, -0.5, False), row
    # The pricing answer itself still compares whole months.
    r = reg.get('/v1/stats/pricing?month=2020-06')
    assert r.status == 200 and r.json()['change_pp'] == 0, r.text
