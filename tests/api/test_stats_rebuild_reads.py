"""A statistics read that arrives while stats_rebuild() replaces the summaries waits for it
and then answers the figures, not zeros. The readers are SQL functions, whose queries run
on the snapshot of the statement that called them, taken before they waited for the
rebuild's locks; TRUNCATE is not MVCC-safe, so until 3 December 2026 such a read saw empty
summaries (found after review B of the guarantee summary found the same in its rebuild)."""

import subprocess
import time

import finreg_data as fd
import harness


def test_a_new_loans_read_that_waits_for_stats_rebuild_answers_the_figures():
    ident = harness.new_principal('bank')
    bank, reg = harness.client(ident), harness.client('regulator')
    body = fd.loan(amount='1234567.00', credit_line='1234567.00', issue_date='2019-03-05',
                   maturity_date='2020-03-04')
    r = bank.post('/v1/loans', json=body)
    assert r.status == 201, r
    q = '/v1/stats/new-loans?from=2019-03-05&to=2019-03-05&group_by=bank'

    def own_row():
        r = reg.get(q)
        assert r.status == 200, r
        rows = [x for x in r.json()['rows'] if x['group'] == ident.code]
        return (rows[0]['count'], rows[0]['amount']) if rows else None

    assert own_row() == (1, '1234567.00')
    rebuild = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', harness.cluster().url,
         '-c', 'BEGIN', '-c', 'SELECT stats_rebuild()', '-c', 'SELECT pg_sleep(2)',
         '-c', 'COMMIT'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd='/')
    try:
        # The read starts once the rebuild has written the summaries, before it commits.
        assert harness.poll(lambda: harness.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)'"
            " AND state = 'active'") == [['1']], timeout=60)
        started = time.monotonic()
        got = own_row()
        waited = time.monotonic() - started
    finally:
        _, err = rebuild.communicate(timeout=120)
    assert rebuild.returncode == 0, err
    assert got == (1, '1234567.00'), (got, waited)
    assert waited > 0.5, waited    # it did wait for the rebuild
    assert own_row() == (1, '1234567.00')
