"""The layers of docs/architecture.md, checked on the sources: data flows one way, handler ->
db -> handler. The db layer never writes to HTTP (no http/ or handlers/ header, no reply_*
call), only db/ talks to PostgreSQL and only http/ to libmicrohttpd, and every database
outcome is mapped to a reply in one place (handlers/outcome.c)."""

import glob
import os
import re

import harness

SERVICE = os.path.join(harness.ROOT, 'service')


def _sources(pattern):
    for path in sorted(glob.glob(os.path.join(SERVICE, pattern))):
        with open(path, encoding='utf-8') as f:
            yield os.path.relpath(path, harness.ROOT), f.read()


def test_the_db_layer_never_writes_to_http():
    bad = []
    for path, text in _sources('db/*.[ch]'):
        if re.search(r'#include\s+"(http|handlers)/', text) or re.search(r'\breply_\w+\(', text):
            bad.append(path)
    assert not bad, bad


def test_only_db_includes_libpq_and_only_http_includes_microhttpd():
    bad = []
    for path, text in list(_sources('*.[ch]')) + list(_sources('*/*.[ch]')):
        area = path.split(os.sep)[1]
        if '<libpq-fe.h>' in text and area != 'db':
            bad.append(path)
        if '<microhttpd.h>' in text and area != 'http':
            bad.append(path)
    assert not bad, bad


def test_database_rejection_codes_are_mapped_in_one_place():
    # The codes a database function answers are turned into errors by handlers/outcome.c
    # only: no other handler compares an outcome's code with "conflict" or "not_found".
    bad = [path for path, text in _sources('handlers/*.c')
           if not path.endswith('outcome.c')
           and re.search(r'strcmp\(\s*\w+(->|\.)code,\s*"(conflict|not_found|invalid_field)"',
                         text)]
    assert not bad, bad
