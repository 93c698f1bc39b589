"""Issue 16, item 5: the credential lifecycle from the command line. `token issue` prints
the token and its id, `token revoke ID` stops it; `principal cert add|remove` keeps several
certificates per principal (rotation without downtime); `principal enable` undoes disable;
`principal list` shows it all. Each change reaches every running server within a second
(NOTIFY finreg_principals) and is logged with who made it."""

import hashlib
import subprocess
import time

import harness

WITHIN = 1.0   # seconds from the command's exit to every server answering the new way


def status(who=None, token=None, server=None):
    headers = {'Authorization': 'Bearer ' + token} if token else None
    return harness.client(who, server=server).get('/v1/whoami', headers=headers).status


def becomes(want, servers, **kw):
    """Polls every server until each answers `want`; returns the seconds that took (fails
    past WITHIN, with what each answered last)."""
    start = time.monotonic()
    while True:
        got = [status(server=s, **kw) for s in servers]
        if all(g == want for g in got):
            return time.monotonic() - start
        assert time.monotonic() - start < WITHIN, (want, got)
        time.sleep(0.02)


def fingerprint(cert):
    der = subprocess.run(['openssl', 'x509', '-in', cert, '-outform', 'DER'], check=True,
                         stdout=subprocess.PIPE).stdout
    return hashlib.sha256(der).hexdigest()


def two_servers():
    return [harness.server(), harness.Server()]


def test_a_revoked_token_is_refused_by_every_server_within_a_second():
    who = harness.new_principal('bank')
    p = harness.finregd('token', 'issue', '--principal', who.code)
    token, token_id = p.stdout.split()
    assert 'credentials: token %s issued to %s' % (token_id, who.code) in p.stderr, p.stderr
    other = harness.issue_token(who.code)
    servers = two_servers()
    for s in servers:
        assert status(token=token, server=s) == 200
    p = harness.finregd('token', 'revoke', token_id)
    assert p.stdout.startswith('revoked token %s of %s' % (token_id, who.code)), p.stdout
    assert 'credentials: token %s of %s revoked by' % (token_id, who.code) in p.stderr
    becomes(401, servers, token=token)
    assert all(status(token=other, server=s) == 200 for s in servers)
    assert harness.psql("SELECT revoked_at IS NOT NULL FROM principal_tokens WHERE id = %s"
                        % token_id) == [['t']]
    again = harness.finregd('token', 'revoke', token_id)
    assert again.stdout.startswith('already revoked'), again.stdout
    assert harness.finregd('token', 'revoke', '999999999999', check=False).returncode == 1
    assert harness.finregd('token', 'revoke', 'abc', check=False).returncode == 2
    servers[1].stop()


def test_certificate_rotation_without_downtime():
    old = harness.new_principal('guarantor')
    new_cert, new_key = harness.make_client_cert(old.code)
    new = harness.Identity(old.kind, old.code, old.name, new_cert, new_key)
    servers = two_servers()
    assert status(new, server=servers[0]) == 401
    p = harness.finregd('principal', 'cert', 'add', old.code, '--cert', new_cert)
    assert p.stdout.startswith('added certificate sha256 ' + fingerprint(new_cert)), p.stdout
    assert 'credentials: certificate %s added to %s' % (fingerprint(new_cert), old.code) \
        in p.stderr, p.stderr
    becomes(200, servers, who=new)
    assert all(status(old, server=s) == 200 for s in servers)   # both work meanwhile
    again = harness.finregd('principal', 'cert', 'add', old.code, '--cert', new_cert)
    assert again.stdout.startswith('already had'), again.stdout
    # The old one goes, by fingerprint (colons and capitals as openssl prints them work).
    fp = fingerprint(old.cert).upper()
    p = harness.finregd('principal', 'cert', 'remove', old.code,
                        ':'.join(fp[i:i + 2] for i in range(0, 64, 2)))
    assert '(1 left)' in p.stdout, p.stdout
    assert 'credentials: certificate %s removed from %s' % (fp.lower(), old.code) in p.stderr
    becomes(401, servers, who=old)
    assert all(status(new, server=s) == 200 for s in servers)
    assert harness.psql("SELECT count(*) FROM principal_certs c JOIN principals p "
                        "ON p.id = c.principal_id WHERE p.code = '%s'" % old.code) == [['1']]
    # Removing what it does not have, or taking another principal's certificate, fails.
    assert harness.finregd('principal', 'cert', 'remove', old.code, '--cert', old.cert,
                           check=False).returncode == 1
    bank_cert = harness.cert_paths('bank')[0]
    p = harness.finregd('principal', 'cert', 'add', old.code, '--cert', bank_cert, check=False)
    assert p.returncode == 1 and 'another principal' in p.stderr, p
    assert status('bank') == 200
    p = harness.finregd('principal', 'cert', 'add', 'NO-SUCH-' + harness.unique().upper(),
                        '--cert', old.cert, check=False)
    assert p.returncode == 1, p
    assert harness.finregd('principal', 'cert', 'remove', old.code, 'abc',
                           check=False).returncode == 2
    servers[1].stop()


def test_enable_brings_a_disabled_principal_back():
    who = harness.new_principal('bank')
    token = harness.issue_token(who.code)
    assert status(who) == 200
    harness.finregd('principal', 'disable', who.code)
    becomes(401, [harness.server()], who=who)
    assert status(token=token) == 401
    p = harness.finregd('principal', 'enable', who.code)
    assert p.stdout.strip() == 'enabled ' + who.code, p.stdout
    assert 'credentials: principal %s enabled by' % who.code in p.stderr, p.stderr
    becomes(200, [harness.server()], who=who)
    assert status(token=token) == 200
    assert harness.psql("SELECT active, disabled_at IS NULL FROM principals WHERE code = '%s'"
                        % who.code) == [['t', 't']]
    assert harness.finregd('principal', 'enable', 'NO-SUCH-' + harness.unique().upper(),
                           check=False).returncode == 1


def test_principal_list_shows_kinds_states_certificates_and_tokens():
    who = harness.new_principal('regulator')
    token_line = harness.finregd('token', 'issue', '--principal', who.code).stdout.split()
    harness.finregd('token', 'revoke', token_line[1])
    harness.finregd('principal', 'disable', who.code)
    out = harness.finregd('principal', 'list').stdout
    lines = out.splitlines()
    i = lines.index('%s regulator disabled %s' % (who.code, who.name))
    assert lines[i + 1].startswith('  cert %s added ' % fingerprint(who.cert)), lines[i + 1]
    assert lines[i + 2].startswith('  token %s issued ' % token_line[1]), lines[i + 2]
    assert ' revoked ' in lines[i + 2], lines[i + 2]
    assert 'CIB-SM bank active 兴业银行三明分行' in lines
    assert token_line[0] not in out   # tokens are never shown, only their ids
