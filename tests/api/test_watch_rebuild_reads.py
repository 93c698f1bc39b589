"""watch_rebuild() (sql/supervision.sql), the operator's rebuild of the withdrawal watch's
balance timeline, against the watch's readers and the loan writers that overlap it. It
truncated the timeline, as stats_rebuild() once did its summaries (test_stats_rebuild_reads):
a withdrawal read that waited for it read on a snapshot taken before it waited, and
TRUNCATE is not MVCC-safe, so it saw no timeline and answered no alert (3 December 2026)."""

import os
import subprocess

import finreg_data as fd
import harness

AS_OF = '2019-06-30'   # 90 days: the window is (2019-04-01, 2019-06-30]


def test_a_withdrawal_read_overlapping_watch_rebuild_answers_the_figures():
    """A loan of 1,000,000.00 half repaid in the window: a cut, from 1,000,000.00 to
    500,000.00. Read while watch_rebuild() has rebuilt the timeline and not committed,
    whether the read waits for it or not, the cut is there with its figures."""
    ident = harness.new_principal('bank')
    bank, reg = harness.client(ident), harness.client('regulator')
    borrower = fd.firm()
    body = fd.loan(borrower=borrower, amount='1000000.00', credit_line='1000000.00',
                   issue_date='2019-01-10', maturity_date='2020-01-09')
    assert bank.post('/v1/loans', json=body).status == 201
    r = bank.post('/v1/loans/%s/repayments' % harness.quote(body['loan_ref']),
                  json={'repayment_ref': harness.unique('R'), 'date': '2019-05-10',
                        'amount': '500000.00'})
    assert r.status == 201, r

    def own_alerts():
        r = reg.get('/v1/alerts/withdrawals?as_of=%s&window_days=90&bank=%s'
                    % (AS_OF, ident.code))
        assert r.status == 200, r
        return [(x['kind'], x['outstanding_before'], x['outstanding_as_of'])
                for x in r.json()['rows'] if x['uscc'] == borrower['uscc']]

    cut = [('cut', '1000000.00', '500000.00')]
    assert own_alerts() == cut
    got, waited = harness.while_uncommitted('SELECT watch_rebuild()', own_alerts)
    assert got == cut, (got, waited)
    assert own_alerts() == cut


def test_a_writer_changing_a_payoff_then_a_balance_does_not_deadlock_with_watch_rebuild():
    """A transaction corrects a loan's maturity (its payoff row is rewritten: watch_payoffs)
    and then its issue date (its balance changes: watch_balance_delta). The rebuild took
    the timeline's tables in the other order and waited for the payoffs, the writer for the
    changes: a deadlock, the rebuild its victim. It now waits for the loan writes under
    way before it takes any of the timeline's tables, and both succeed."""
    ident = harness.new_principal('bank')
    bank = harness.client(ident)
    body = fd.loan(amount='1000000.00', credit_line='1000000.00',
                   issue_date='2019-01-10', maturity_date='2020-01-09')
    assert bank.post('/v1/loans', json=body).status == 201
    name = harness.unique('payoff-then-balance')
    script = os.path.join(harness.run_dir(), name + '.sql')
    where = "bank_code = '%s' AND loan_ref = '%s'" % (ident.code, body['loan_ref'])
    with open(script, 'w') as f:
        f.write("""
SET deadlock_timeout = '60s';
BEGIN;
UPDATE loans SET maturity_date = maturity_date + 1 WHERE %(where)s;
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE NOT l.granted AND l.locktype = 'relation'
                        AND l.pid <> pg_backend_pid()) LOOP
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
UPDATE loans SET issue_date = issue_date + 1 WHERE %(where)s;
COMMIT;
""" % {'where': where})
    writer = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', harness.cluster().url,
         '-f', script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/',
        env=dict(os.environ, PGAPPNAME=name))
    rebuild = None
    try:
        assert harness.poll(lambda: harness.psql(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.granted AND l.relation = 'watch_payoffs'::regclass"
            " AND a.application_name = '%s'" % name) == [['1']], timeout=20)
        rebuild = subprocess.Popen(
            [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', harness.cluster().url,
             '-c', 'SELECT watch_rebuild()'],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
        _, rebuild_err = rebuild.communicate(timeout=120)
    finally:
        if rebuild is not None and rebuild.poll() is None:
            rebuild.kill()
        _, writer_err = writer.communicate(timeout=120)
    assert writer.returncode == 0, writer_err
    assert rebuild.returncode == 0, rebuild_err
    # Both changes are in the timeline: the loan's balance starts a day later.
    assert harness.psql(
        "SELECT watch_balance_on('%s', '%s', '2019-01-10'),"
        " watch_balance_on('%s', '%s', '2019-01-11')"
        % (ident.code, body['borrower']['uscc'], ident.code, body['borrower']['uscc'])) \
        == [['0', '100000000']]
