"""A read replica that stops answering without closing its connections (a stopped server, a
paused VM, a proxy that stops forwarding): the request that measures its lag waits at most
the check's deadline (1 s), reads then go to the primary, and writes never wait on it.
The replica here is the shared primary seen through a TCP proxy the test can freeze."""

import re
import time

import finreg_data as fd
import harness
from freezable_proxy import FreezableProxy


def test_a_replica_that_stops_answering_holds_one_read_for_at_most_the_check_deadline():
    cluster = harness._shared_cluster()
    db_port = int(re.search(r'port=(\d+)', cluster.app_url).group(1))
    proxy = FreezableProxy(db_port)
    read_url = cluster.app_url.replace(f'port={db_port}', f'port={proxy.port}')
    s = harness.Server(env={'FINREG_READ_DATABASE_URL': read_url}, threads=2)
    try:
        c = s.client('bank', timeout=30)
        assert c.get('/v1/loans?limit=1').status == 200
        metrics = s.client('regulator').get('/metrics').text
        assert re.search(r'finreg_db_reads_total\{target="replica"\} [1-9]', metrics), metrics
        proxy.frozen.set()
        time.sleep(0.7)   # past the check interval (0.5 s): the next read measures the lag
        for _ in range(3):
            t0 = time.monotonic()
            r = c.get('/v1/loans?limit=1')
            took = time.monotonic() - t0
            assert r.status == 200 and took < 3, (r, took, s.log_tail())
        t0 = time.monotonic()
        assert c.post('/v1/loans', json=fd.loan()).status == 201
        assert time.monotonic() - t0 < 3
        assert 'read replica unusable' in s.log_tail(), s.log_tail()
    finally:
        s.stop()
        proxy.close()
