"""The schema's two homes: tables, types, indexes and data in migrations/, every function,
trigger and view in sql/<area>.sql. A fresh `finregd migrate` and an upgrade of a database
built by the migrations as they stood before the move (tests/fixtures/migrations-585b05f,
the landed schema whose functions lived in migrations 003-010) must give the same catalog,
and every function, trigger and view the old migrations built must still exist (nothing
lost; at the move itself, commit 6e2bf4b, the two catalogs were identical, body for body).
Each test uses its own cluster."""

import difflib
import os
import re
import subprocess

import harness

OLD_MIGRATIONS = os.path.join(harness.ROOT, 'tests', 'fixtures', 'migrations-585b05f')
PG_DUMP = '/usr/lib/postgresql/15/bin/pg_dump' \
    if os.path.exists('/usr/lib/postgresql/15/bin/pg_dump') else 'pg_dump'
# What migrate.c creates before the first migration.
SCHEMA_MIGRATIONS = ('CREATE TABLE IF NOT EXISTS schema_migrations ('
                     ' version int PRIMARY KEY, name text NOT NULL,'
                     ' applied_at timestamptz NOT NULL DEFAULT now());')
CODE_RE = re.compile(r'^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|VIEW|TRIGGER)\s+(\w+)',
                     re.IGNORECASE | re.MULTILINE)


# One firm, and the head of an insert of loans to it (the rows follow), for the tests that
# write the tables directly.
ONE_FIRM_AND_LOANS = """
INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)
VALUES ('913504020000000011', 'f', '350402', '3412', 'small', 'test');
INSERT INTO loans (bank_code, loan_ref, borrower_uscc, borrower_name, county_code, industry_code,
                   size, amount_fen, issue_date, maturity_date, rate_e4, guarantee_mode,
                   first_loan, renewal, relief_fund, credit_line_fen, term_months,
                   medium_long_term, manufacturing, inclusive_small_micro, lpr_tenor, lpr_e4,
                   spread_bp, content)
"""


def _cluster(ctx):
    c = harness.Cluster()
    ctx.defer(c.destroy)
    return c


def _db(c, name):
    """A new empty database @name in cluster @c; returns its connection string."""
    c.psql(f'CREATE DATABASE {name}')
    return c.url.replace('dbname=finreg', f'dbname={name}')


def _run_sql(url, sql):
    p = subprocess.run([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', '-'],
                       input=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       cwd='/')
    assert p.returncode == 0, f'psql failed: {p.stderr}'
    return p.stdout


def _old_migrate(url):
    """Applies the fixture's migrations as the finregd of that time did: each in its own
    transaction, recorded in schema_migrations."""
    files = sorted(f for f in os.listdir(OLD_MIGRATIONS) if re.fullmatch(r'\d+_.*\.sql', f))
    assert len(files) == 10, files
    _run_sql(url, SCHEMA_MIGRATIONS)
    for f in files:
        with open(os.path.join(OLD_MIGRATIONS, f), encoding='utf-8') as fh:
            sql = fh.read()
        name = f[:-len('.sql')]
        version = int(name.split('_')[0])
        _run_sql(url, f'BEGIN;\n{sql}\n;INSERT INTO schema_migrations (version, name) '
                      f"VALUES ({version}, '{name}');\nCOMMIT;\n")


def _migrate(c, url):
    harness.finregd('migrate', cluster=c, env={'FINREG_DATABASE_URL': url})


def _dump(url):
    """pg_dump --schema-only without comments, SET lines, blank lines and the random
    \\restrict keys of newer pg_dump."""
    p = subprocess.run([PG_DUMP, '--schema-only', '--no-owner', '--no-privileges', '-d', url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/')
    assert p.returncode == 0, f'pg_dump failed: {p.stderr}'
    keep = []
    for line in p.stdout.splitlines():
        if not line.strip() or line.startswith('--') or line.startswith('SET ') \
                or line.startswith('SELECT pg_catalog.set_config') \
                or line.startswith(('\\restrict ', '\\unrestrict ')):   # random per dump
            continue
        keep.append(line)
    return keep


def _assert_same(a, b, what_a, what_b):
    if a != b:
        diff = list(difflib.unified_diff(a, b, what_a, what_b, lineterm='', n=2))
        raise AssertionError(f'{what_a} and {what_b} differ ({len(diff)} diff lines):\n'
                             + '\n'.join(diff[:120]))


def _code(url):
    """Every function (pg_get_functiondef), view and trigger of schema public, by name."""
    out = _run_sql(url, r"""
\pset format unaligned
\pset tuples_only on
\pset recordsep '\x1e'
\pset fieldsep '\x1f'
SELECT 'function ' || p.oid::regprocedure::text, pg_get_functiondef(p.oid)
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d            -- an extension's own (pg_trgm)
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                    AND d.deptype = 'e')
UNION ALL
SELECT 'view ' || c.relname, pg_get_viewdef(c.oid)
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
ORDER BY 1;
""")
    rows = [r for r in out.rstrip('\n').split('\x1e') if r.strip()]
    return dict(r.strip('\n').split('\x1f', 1) for r in rows)


def _sql_dir_objects():
    """(kind, name) -> [files] of every CREATE OR REPLACE FUNCTION/VIEW/TRIGGER in sql/."""
    found = {}
    d = os.path.join(harness.ROOT, 'sql')
    for f in sorted(os.listdir(d)):
        if f.endswith('.sql'):
            with open(os.path.join(d, f), encoding='utf-8') as fh:
                for kind, name in CODE_RE.findall(fh.read()):
                    found.setdefault((kind.lower(), name), []).append(f)
    return found


def _sql_dropped_functions():
    """Names of the functions sql/ drops by an old signature (DROP FUNCTION IF EXISTS)."""
    names = set()
    d = os.path.join(harness.ROOT, 'sql')
    for f in sorted(os.listdir(d)):
        if f.endswith('.sql'):
            with open(os.path.join(d, f), encoding='utf-8') as fh:
                names.update(re.findall(r'^DROP FUNCTION IF EXISTS (\w+)\(', fh.read(),
                                        re.MULTILINE))
    return names


# Views and functions retired on purpose by a migration (sql/ no longer creates them):
# migration 019 took stats_pricing into stats_new_loans.
RETIRED = {'view stats_pricing_all', 'function stats_pricing_of'}


def test_fresh_migrate_and_upgrade_from_the_landed_schema_give_identical_catalogs(ctx):
    c = _cluster(ctx)
    old = _db(c, 'schema_old')
    upgraded = _db(c, 'schema_upgraded')
    fresh = _db(c, 'schema_fresh')
    _old_migrate(old)
    _old_migrate(upgraded)
    _migrate(c, upgraded)
    _migrate(c, fresh)

    upgraded_dump, fresh_dump = _dump(upgraded), _dump(fresh)
    assert any('CREATE FUNCTION public.loan_ingest' in line for line in fresh_dump), \
        'the fresh dump has no loan_ingest: the comparison would prove nothing'
    _assert_same(upgraded_dump, fresh_dump, 'upgraded', 'fresh')

    # Nothing the old migrations built was lost (later changes may redefine it). A function
    # whose arguments changed is dropped in sql/ by its old signature (sql/README.md): it
    # counts as kept when one of its name is still there.
    old_code, fresh_code = _code(old), _code(fresh)
    assert len(fresh_code) >= 80, sorted(fresh_code)
    dropped = _sql_dropped_functions()
    fresh_names = {k.split('(')[0] for k in fresh_code}
    retired = RETIRED
    lost = {k for k in set(old_code) - set(fresh_code)
            if not (k.split('(')[0] in fresh_names and k.split('(')[0][len('function '):] in dropped)
            and k.split('(')[0] not in retired}
    assert not lost, sorted(lost)

    # An upgraded database migrates again to the same catalog (sql/ re-applied, idempotent).
    _migrate(c, upgraded)
    _assert_same(_dump(upgraded), fresh_dump, 'upgraded twice', 'fresh')
    versions = _run_sql(upgraded, 'SELECT string_agg(version::text, \',\' ORDER BY version) '
                                  'FROM schema_migrations')
    assert '1,2,3,4,5,6,7,8,9,10' in versions, versions


def test_every_function_trigger_and_view_lives_once_in_sql(ctx):
    c = _cluster(ctx)
    fresh = _db(c, 'schema_fresh')
    _migrate(c, fresh)
    in_sql = _sql_dir_objects()
    catalog = set()
    overloads = {}
    for key in _code(fresh):
        kind, ident = key.split(' ', 1)
        name = (kind, ident.split('(')[0])
        catalog.add(name)
        overloads[name] = overloads.get(name, 0) + 1
    # A name written more than once is as many functions of other argument types (the
    # loan_ingest of builds before migration 021 beside today's), each written once.
    twice = {k: v for k, v in in_sql.items() if len(v) > 1 and len(v) != overloads.get(k)}
    assert not twice, twice
    assert catalog == set(in_sql), \
        {'in the catalog, not in sql/': sorted(catalog - set(in_sql)),
         'in sql/, not in the catalog': sorted(set(in_sql) - catalog)}
    # A migration may create a function only when something it creates needs it then (a
    # DEFAULT, CHECK or index expression); sql/ still owns the live text.
    d = os.path.join(harness.ROOT, 'migrations')
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), encoding='utf-8') as fh:
            for kind, name in CODE_RE.findall(fh.read()):
                assert (kind.lower(), name) in in_sql, f'{f} creates {kind} {name}, not in sql/'


def test_an_upgrade_folds_the_old_statistics_deltas_into_the_summaries(ctx):
    """Migration 013 replaced the delta tables by one pending row per loan change: what
    the old triggers had appended and no compactor had folded yet lands in the summaries,
    equal to what a rebuild from the loans makes."""
    c = _cluster(ctx)
    url = _db(c, 'schema_deltas')
    _old_migrate(url)
    _run_sql(url, ONE_FIRM_AND_LOANS + """
SELECT 'CIB-SM', 'D' || g, '913504020000000011', 'f', '350402', '3412', 'small', 100000 * g,
       date '2020-03-01' + g, date '2021-03-01', 43500, 'credit', g = 1, false, false,
       100000 * g, 12, false, true, true, '1Y', 38500, 50, '{}'
FROM generate_series(1, 3) g;
INSERT INTO repayments (loan_id, repayment_ref, repaid_on, amount_fen)
SELECT id, 'R1', '2020-05-01', 1000 FROM loans WHERE loan_ref = 'D2';
""")
    counts = "\\pset tuples_only on\nSELECT (SELECT count(*) FROM stats_new_loans) || ',' || " \
             "(SELECT count(*) > 0 FROM stats_new_loans_delta);"
    out = _run_sql(url, counts)
    assert out.split() == ['0,true'], out                 # unfolded deltas, no summary
    _migrate(c, url)
    summaries = """\\pset tuples_only on
\\pset format unaligned
SELECT count(*) FROM stats_pending;
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_new_loans s WHERE n <> 0;
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_balance s WHERE delta <> 0;
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_new_loans s WHERE sm_n <> 0;
SELECT n, amount FROM stats_new_loans_window('b', '*', '2020-03-01', '2020-03-31', NULL);
"""
    folded = _run_sql(url, summaries).split('\n')
    assert folded[0] == '0' and all(folded[1:4]), folded
    assert folded[4] == '3|600000', folded              # 1,000 + 2,000 + 3,000.00
    _run_sql(url, 'SELECT stats_rebuild();')
    assert _run_sql(url, summaries).split('\n') == folded


def test_migration_019_backfills_pricing_and_scf_less_what_is_still_pending(ctx):
    """Migration 019 gives the new-loan summaries their small-micro pricing and supply-chain
    figures from the loans, less what is still pending, so summaries plus pending equal the
    loans before and after the fold. Here on a database in the state 019 meets: some
    loans folded (their new figures zero, as before 019), others pending (no compactor runs
    on this database), a correction that unlinks a loan from its program and a void
    pending; then 019's data steps, as written in the migration, run; then the fold."""
    c = _cluster(ctx)
    url = _db(c, 'schema_019')
    _migrate(c, url)
    loans = """
INSERT INTO loans (bank_code, loan_ref, borrower_uscc, borrower_name, county_code, industry_code,
                   size, amount_fen, issue_date, maturity_date, rate_e4, guarantee_mode,
                   first_loan, renewal, relief_fund, credit_line_fen, term_months,
                   medium_long_term, manufacturing, inclusive_small_micro, lpr_tenor, lpr_e4,
                   spread_bp, scf_program_id, content)
SELECT 'CIB-SM', '{p}' || g, '913504020000000011', 'f', '350402', '3412', 'small', 100000 * g,
       date '2020-03-01' + g, date '2021-03-01', 43500 + g, 'credit', g = 1, false, false,
       100000 * g, 12, false, true, g % 3 <> 0, '1Y', 38500, CASE WHEN g % 2 = 0 THEN 50 END,
       CASE WHEN g % 2 = 1 THEN (SELECT id FROM scf_programs) END, '{{}}'
FROM generate_series(1, 6) g;
"""
    _run_sql(url, """
INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)
VALUES ('913504020000000011', 'f', '350402', '3412', 'small', 'test'),
       ('913504020000000029', 'core', '350402', '3120', 'large', 'test');
INSERT INTO scf_programs (bank_code, name, core_uscc, product, credit_limit_fen, started_on,
                          created_by)
VALUES ('CIB-SM', 'p', '913504020000000029', 'receivables', 100000000, '2020-01-01', 'test');
""" + loans.format(p='F') + """
DO $$ BEGIN WHILE stats_compact() > 0 LOOP NULL; END LOOP; END $$;
UPDATE stats_new_loans SET sm_n = 0, sm_amount = 0, sm_rate_x_amount = 0,
                           sm_spread_amount = 0, sm_spread_x_amount = 0, scf_amount = 0;
""" + loans.format(p='P') + """
UPDATE loans SET scf_program_id = NULL WHERE loan_ref IN ('F1', 'P3');
UPDATE loans SET status = 'void' WHERE loan_ref IN ('F5', 'P1');
-- Pending rows written before 019 have no scf field (NULL after ADD ATTRIBUTE).
UPDATE stats_pending SET loan.scf = NULL WHERE sign IS NOT NULL;
""")
    with open(os.path.join(harness.ROOT, 'migrations', '019_new_loans_pricing_and_scf.sql'),
              encoding='utf-8') as fh:
        migration = fh.read()
    steps = re.search(r'^UPDATE stats_pending SET loan\.scf = false.*?;$', migration,
                      re.MULTILINE | re.DOTALL).group(0) + '\n' + \
        migration[migration.index('-- The new figures of every loan'):]
    # In slices of two (the migration's are 100,000), so that slices end on the count too.
    assert 'v_n >= 100000' in steps
    steps = steps.replace('v_n >= 100000', 'v_n >= 2')
    figures = """\\pset tuples_only on
\\pset format unaligned
SELECT sum(sm_n), sum(sm_amount), sum(sm_rate_x_amount), sum(sm_spread_amount),
       sum(sm_spread_x_amount), sum(scf_amount)
FROM stats_new_loans_window('b', '*', '2020-01-01', '2020-12-31', NULL);
"""
    pending = _run_sql(url, '\\pset tuples_only on\nSELECT count(*) FROM stats_pending').split()
    _run_sql(url, steps)
    unset = _run_sql(url, '\\pset tuples_only on\nSELECT count(*) FROM stats_pending '
                          'WHERE sign IS NOT NULL AND (loan).scf IS NULL').split()
    assert unset == ['0'], unset                        # 019 gave them false
    before_fold = _run_sql(url, figures)
    # By hand: inclusive are g = 1, 2, 4, 5; void F5 and P1: live F1 F2 F4 P2 P4 P5, 1.8M;
    # spreads on even g: F2 F4 P2 P4, 1.2M at 50 bp. Linked to the program: odd g, less F1
    # and P3 (unlinked) and F5 and P1 (void): F3 P5, 800,000.
    rate = 43501 * 100000 + 2 * (43502 * 200000 + 43504 * 400000) + 43505 * 500000
    assert pending != ['0'] and \
        before_fold.split() == ['6|1800000|%d|1200000|60000000|800000' % rate], \
        (before_fold, pending)
    _run_sql(url, 'DO $$ BEGIN WHILE stats_compact() > 0 LOOP NULL; END LOOP; END $$;')
    assert _run_sql(url, figures) == before_fold
    summaries = """\\pset tuples_only on
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_new_loans s
WHERE (n, sm_n, sm_amount, sm_rate_x_amount, scf_amount) <> (0, 0, 0, 0, 0);
"""
    folded = _run_sql(url, summaries)
    _run_sql(url, 'SELECT stats_rebuild();')
    assert _run_sql(url, summaries) == folded


def test_migration_021_leaves_the_item_type_to_the_functions_that_use_it(ctx):
    """`finregd migrate` commits each migration before it applies sql/, and until then the
    previous release's loan_ingest and loan_correct are live and read loan_item.content: the
    migrations alone must keep that attribute (021 only makes loans.content nullable), and
    sql/loans.sql drops it in the transaction that replaces those functions."""
    c = _cluster(ctx)
    url = _db(c, 'schema_021')
    _run_sql(url, SCHEMA_MIGRATIONS)
    d = os.path.join(harness.ROOT, 'migrations')
    for f in sorted(x for x in os.listdir(d) if re.fullmatch(r'\d+_.*\.sql', x)):
        with open(os.path.join(d, f), encoding='utf-8') as fh:
            sql = fh.read()
        name = f[:-len('.sql')]
        _run_sql(url, f'BEGIN;\n{sql}\n;INSERT INTO schema_migrations (version, name) '
                      f"VALUES ({int(name.split('_')[0])}, '{name}');\nCOMMIT;\n")
    shape = ("\\pset tuples_only on\nSELECT (SELECT string_agg(attname, ',' ORDER BY attnum)"
             " FROM (SELECT attname, attnum FROM pg_attribute"
             " WHERE attrelid = 'loan_item'::regclass AND attnum > 0 AND NOT attisdropped"
             " ORDER BY attnum LIMIT 3) a) || ' ' || (SELECT is_nullable"
             " FROM information_schema.columns"
             " WHERE table_name = 'loans' AND column_name = 'content');")
    got = _run_sql(url, shape).strip()
    assert got == 'idx,loan_ref,content YES', got
    _migrate(c, url)
    got = _run_sql(url, shape).strip()
    assert got == 'idx,loan_ref,uscc YES', got
    _migrate(c, url)   # sql/ applies again: the drop is idempotent
    got = _run_sql(url, shape).strip()
    assert got == 'idx,loan_ref,uscc YES', got


def test_migration_020_gives_year_rows_equal_to_the_months_and_the_fold_keeps_them(ctx):
    """Migration 020 adds year rows to the new-loan summaries by bank, the sums of their
    month rows, while loans stay pending (the fold and readers fan those out at every grain),
    and installs the fan-out with the year grain in its own transaction, so that a fold
    run before the sql/ files are applied again keeps the year rows too. Here on a database
    put back into the state 020 meets: the CHECK that allows day and month rows only, a
    fan-out without year rows (this tree's text less its year grain), loans of two years
    folded by it, a correction and a void pending; then migration 020 as written; then a
    fold of part of the pending rows before the sql/ files; then the sql/ files (as
    `finregd migrate` runs them after it) and the rest of the fold. At each step a window
    of whole years reads what the day rows hold, and at the end the summaries equal a
    rebuild's."""
    c = _cluster(ctx)
    url = _db(c, 'schema_020')
    _migrate(c, url)
    with open(os.path.join(harness.ROOT, 'sql', 'stats.sql'), encoding='utf-8') as fh:
        fan_out = re.search(r'^CREATE OR REPLACE FUNCTION stats_new_loans_of\(.*?^\$\$;$',
                            fh.read(), re.MULTILINE | re.DOTALL).group(0)
    year = """
                               ('m', date_trunc('month', b.issue_date)::date),
                               ('y', date_trunc('year', b.issue_date)::date)) AS g(grain, period)
    WHERE g.grain <> 'y' OR d.dim = 'b'
"""
    assert year in fan_out, fan_out
    old_fan_out = fan_out.replace(year, """
                               ('m', date_trunc('month', b.issue_date)::date)) AS g(grain, period)
""")
    _run_sql(url, """
DELETE FROM stats_new_loans WHERE grain = 'y';
ALTER TABLE stats_new_loans DROP CONSTRAINT stats_new_loans_grain_check;
ALTER TABLE stats_new_loans ADD CONSTRAINT stats_new_loans_grain_check
    CHECK (grain IN ('d', 'm'));
""" + old_fan_out + '\n' + ONE_FIRM_AND_LOANS + """
SELECT CASE WHEN g % 2 = 0 THEN 'CIB-SM' ELSE 'RCB-SM' END, 'Y' || g, '913504020000000011',
       'f', '350402', '3412', 'small', 100000 * g, date '2019-10-01' + 31 * g,
       date '2022-03-01', 43500, 'credit', g = 1, false, false, 100000 * g, 12, g % 3 = 0,
       g % 2 = 0, true, '1Y', 38500, 50, '{}'
FROM generate_series(1, 12) g;
DO $$ BEGIN WHILE stats_compact() > 0 LOOP NULL; END LOOP; END $$;
UPDATE loans SET amount_fen = amount_fen + 7 WHERE loan_ref = 'Y3';
UPDATE loans SET status = 'void' WHERE loan_ref = 'Y8';
""")
    figures = """\\pset tuples_only on
\\pset format unaligned
SELECT count(*) FROM stats_new_loans WHERE grain = 'y';
SELECT count(*) FROM stats_pending;
SELECT sum(n), sum(amount), sum(mlt_amount) FROM stats_new_loans_window('b', '*', '2019-01-01', '2020-12-31', NULL);
SELECT sum(n), sum(amount), sum(mlt_amount) FROM stats_new_loans_window('s', 'CIB-SM', '-infinity', '2020-12-31', true);
SELECT sum(n), sum(amount), sum(mlt_amount) FROM stats_new_loans_all WHERE grain = 'd' AND dim = 'b' AND bank_code = '*';
"""
    years = """\\pset tuples_only on
SELECT count(*) FROM (
    SELECT dim, bank_code, date_trunc('year', period)::date, key, manufacturing, sum(n),
           sum(amount), sum(sm_rate_x_amount), sum(scf_amount)
    FROM stats_new_loans WHERE grain = 'm' AND dim = 'b' GROUP BY 1, 2, 3, 4, 5
    EXCEPT
    SELECT dim, bank_code, period, key, manufacturing, n, amount, sm_rate_x_amount, scf_amount
    FROM stats_new_loans WHERE grain = 'y') x;
SELECT count(*) FROM stats_new_loans WHERE grain = 'y' AND dim <> 'b';
"""
    before = _run_sql(url, figures).split('\n')
    # Loans Y1..Y12 issued 2019-11-01 .. 2020-10-07, 1,000.00 yuan x g; Y8 void, Y3 7 fen
    # more: 11 loans, 7,000,007 fen; medium/long-term Y3, Y6, Y9, Y12: 3,000,007 fen. (The
    # windows are not asked before: this code's window reads year rows, which are gone.)
    assert before[0] == '0' and before[1] != '0', before
    assert before[4] == '11|7000007|3000007', before
    with open(os.path.join(harness.ROOT, 'migrations', '020_new_loans_year_rows.sql'),
              encoding='utf-8') as fh:
        _run_sql(url, 'BEGIN;\n' + fh.read() + '\nCOMMIT;\n')   # as migrate.c runs it
    # Before the sql/ files: one pending row folded (of the correction's two, or the void's
    # one) by the fan-out 020 left, as a running instance's compactor would.
    assert _run_sql(url, '\\pset tuples_only on\nSELECT stats_compact(1);').split() == ['1']
    between = _run_sql(url, figures).split('\n')
    assert _run_sql(url, years).split() == ['0', '0']
    _migrate(c, url)                                    # 020 applied: the sql/ files only
    after = _run_sql(url, figures).split('\n')
    assert between[0] != '0' and int(between[1]) == int(before[1]) - 1, (before, between)
    assert between[2:5] == after[2:5] and after[0] == between[0], (between, after)
    assert after[2] == after[4] == before[4], (before, after)
    # CIB-SM's manufacturing (even g) loans: Y2 Y4 Y6 Y10 Y12 (Y8 void), 3,400,000 fen;
    # medium/long-term Y6 and Y12.
    assert after[3] == '5|3400000|1800000', after
    # The bank dimension's year rows are its months' sums; no other dimension has any.
    assert _run_sql(url, years).split() == ['0', '0']
    _run_sql(url, 'DO $$ BEGIN WHILE stats_compact() > 0 LOOP NULL; END LOOP; END $$;')
    folded = _run_sql(url, figures).split('\n')
    assert folded[1] == '0' and folded[2:5] == after[2:5], folded
    summaries = """\\pset tuples_only on
SELECT string_agg(format('%s', s), ';' ORDER BY s::text) FROM stats_new_loans s
WHERE (n, amount, sm_rate_x_amount, scf_amount) <> (0, 0, 0, 0);
"""
    kept = _run_sql(url, summaries)
    assert ',y,' in kept, kept[:200]
    _run_sql(url, 'SELECT stats_rebuild();')
    assert _run_sql(url, summaries) == kept


def test_migrations_024_and_025_apply_over_the_live_functions_and_views(ctx):
    """Migrations 024-025 change the type of summary columns that live code depends on:
    the views over the summaries and watch_balance_on, whose SQL-standard body PostgreSQL
    ties to the column. The other upgrade test starts from the fixture's old schema, where
    neither exists; this one puts the tables back as 023 left them, with every sql/ file
    live as on a database of that release, and migrates."""
    c = _cluster(ctx)
    db = _db(c, 'schema_live')
    _migrate(c, db)
    sql_files = sorted(os.path.join(harness.ROOT, 'sql', f)
                       for f in os.listdir(os.path.join(harness.ROOT, 'sql'))
                       if f.endswith('.sql'))
    back = ['BEGIN;',
            'DROP VIEW stats_new_loans_all, stats_balance_all;',
            'DROP FUNCTION watch_balance_on(text, text, date);',
            'ALTER TABLE stats_new_loans ' + ', '.join(
                f'ALTER {col} TYPE bigint' for col in (
                    'amount', 'first_amount', 'credit_amount', 'mlt_amount', 'renewal_amount',
                    'sm_amount', 'sm_spread_amount', 'scf_amount')) + ';',
            'ALTER TABLE stats_balance ALTER delta TYPE bigint;',
            'ALTER TABLE watch_balance ALTER delta TYPE bigint, ALTER balance TYPE bigint;',
            'ALTER TABLE watch_balance_delta ALTER delta TYPE bigint;']
    back += [f'\\i {f}' for f in sql_files]
    back += ['DELETE FROM schema_migrations WHERE version IN (24, 25);', 'COMMIT;']
    _run_sql(db, '\n'.join(back))
    assert _run_sql(db, "SELECT count(*) FROM pg_proc WHERE proname = 'watch_balance_on'"
                        " AND prosqlbody IS NOT NULL").split()[2] == '1'
    _migrate(c, db)
    types = _run_sql(db, "SELECT string_agg(table_name || '.' || column_name || ' ' || data_type,"
                         " ', ') FROM information_schema.columns"
                         " WHERE (table_name, column_name) IN (('stats_new_loans', 'amount'),"
                         " ('stats_balance', 'delta'), ('watch_balance', 'balance'),"
                         " ('watch_balance_delta', 'delta'))")
    for col in ('stats_balance.delta', 'stats_new_loans.amount', 'watch_balance.balance',
                'watch_balance_delta.delta'):
        assert col + ' numeric' in types, types


def test_a_migrate_that_deadlocks_with_a_running_transaction_is_run_again_and_succeeds(ctx):
    """During a rolling upgrade the instances keep writing while `finregd migrate` replaces
    triggers and views, each of which locks its table. A transaction holding loans (as an
    ingest does) that then needs firms, which migrate locked for its trigger before waiting
    for loans, is a deadlock; PostgreSQL chose migrate as the victim and the upgrade
    failed (seen in CI: test_least_privilege's migrate beside the other tests' servers).
    Here the transaction waits out PostgreSQL's deadlock check (deadlock_timeout 60 s) so
    that migrate's own check finds the cycle: migrate is the victim, and runs again."""
    c = _cluster(ctx)
    db = _db(c, 'schema_deadlock')
    _migrate(c, db)
    script = os.path.join(harness.run_dir(), 'deadlock-holder.sql')
    with open(script, 'w') as f:
        f.write("""
SET deadlock_timeout = '60s';
BEGIN;
LOCK TABLE loans IN ROW EXCLUSIVE MODE;
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE NOT l.granted AND l.relation = 'loans'::regclass) LOOP
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
LOCK TABLE firms IN ROW EXCLUSIVE MODE;
COMMIT;
""")
    holder = subprocess.Popen(
        [harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/')
    ctx.defer(lambda: holder.poll() is None and holder.kill())
    # migrate starts once the holder has loans: were migrate first there, the holder would
    # wait for it and never see the waiter it waits for.
    holds = ("\\pset tuples_only on\nSELECT count(*) FROM pg_locks l JOIN pg_database d"
             " ON d.oid = l.database AND d.datname = current_database()"
             " WHERE l.granted AND l.relation = 'loans'::regclass"
             " AND l.mode = 'RowExclusiveLock'")
    held = harness.poll(lambda: _run_sql(db, holds).split(), 10.0, lambda v: v == ['1'])
    assert held == ['1'], held
    p = harness.finregd('migrate', cluster=c, env={'FINREG_DATABASE_URL': db}, check=False)
    out, err = holder.communicate(timeout=30)
    assert holder.returncode == 0, err
    assert 'deadlock detected' in p.stderr, p.stderr
    assert 'deadlocked with running instances; attempt 2 of 10' in p.stderr, p.stderr
    assert p.returncode == 0, p.stderr
    # The retry applied every sql/ file: a function of the last one is there.
    assert _run_sql(db, "SELECT count(*) FROM pg_proc WHERE proname = 'firm_history_page'"
                    ).split()[2] == '1'
