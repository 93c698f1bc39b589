"""Lists whose filters no index serves walk at most 10,000 rows a page (sql/common.sql
list_scan_rows_max): a filter matching few of a bank's many loans, warnings, guarantees or
referrals once walked all of them in one statement, to the statement timeout at a national
registry's size. A page that walked its bound without filling ends there, and its
next_cursor resumes after the last row walked; following next_cursor until it is null
still gives every match once, in id order. Each test writes its many rows straight into
the table (copies of one posted through the API) and compares every page, items and
cursor, with a model of that rule computed from the table."""

import subprocess

import finreg_data as fd
import harness
from test_exports_xlsx import workbook
from test_guarantees import guarantee, guaranteed_loan, new_guarantor, post
from test_referrals import refer

WALK = 10000


def copy_rows(table, where, n, changes):
    """Inserts @n copies of the one row of @table matching @where, each with a new id and
    the members of jsonb expression @changes (which may use g, 1..n, and the row t)."""
    harness.psql(
        "INSERT INTO %s SELECT (jsonb_populate_record(t, jsonb_build_object('id',"
        " nextval(pg_get_serial_sequence('%s', 'id'))) || %s)).*"
        " FROM %s t, generate_series(1, %d) g WHERE %s"
        % (table, table, changes, table, n, where))


def model(rows, limit, bound=WALK):
    """The pages of a list: @rows are (id, matches) of every row its indexed filters give,
    in id order, each page walking at most @bound of them. Returns [(ids of the page's
    items, next_cursor or None)]."""
    pages, after = [], 0
    while True:
        walk = [r for r in rows if r[0] > after][:bound]
        hits = [i for i, m in walk if m][:limit + 1]
        if len(hits) == limit + 1:
            page, nxt = hits[:limit], hits[limit - 1]
        elif len(walk) == bound:
            page, nxt = hits, walk[-1][0]
        else:
            page, nxt = hits, None
        pages.append((page, None if nxt is None else str(nxt)))
        if nxt is None:
            return pages
        after = nxt


def pages_of(c, path, key_of):
    """Every page of GET @path with client @c: [(keys of its items, next_cursor)]."""
    pages, cursor = [], None
    while True:
        r = c.get(path + ('&cursor=' + cursor if cursor else ''))
        assert r.status == 200, r
        body = r.json()
        pages.append(([key_of(i) for i in body['items']], body['next_cursor']))
        cursor = body['next_cursor']
        assert len(pages) <= 50, pages[-3:]
        if cursor is None:
            return pages


def rows_of(sql):
    """(id, matches) of each row SELECT @sql gives (id, 't'/'f'), as the model takes them."""
    return [(int(i), m == 't') for i, m in harness.psql(sql)]


def expect(rows, limit, key_sql):
    """The model's pages of @rows at @limit, each item as the key SELECT @key_sql (id, key)
    gives it (the key pages_of reads from the item)."""
    keys = dict(harness.psql(key_sql))
    return [([keys[str(i)] for i in ids], nxt) for ids, nxt in model(rows, limit)]


def test_a_sparse_loan_filter_walks_a_bounded_stretch_a_page_and_misses_nothing():
    bank = harness.new_principal('bank')
    c, reg = harness.client(bank), harness.client('regulator')
    first = c.post('/v1/loans', json=fd.loan(issue_date='2020-03-02')).json()
    void = (5, 6, 7, 15000, 24990)
    copy_rows('loans', "t.bank_code = '%s'" % bank.code, 24999,
              "jsonb_build_object('loan_ref', t.loan_ref || '-' || g, 'status',"
              " CASE WHEN g IN %s THEN 'void' ELSE t.status END)" % (void,))
    where = "FROM loans WHERE bank_code = '%s'" % bank.code
    refs = "SELECT id, loan_ref " + where
    for limit in (2, 100):
        rows = rows_of("SELECT id, status = 'void' %s ORDER BY id" % where)
        want = expect(rows, limit, refs)
        assert sum(len(p) for p, _ in want) == len(void)
        assert pages_of(c, '/v1/loans?status=void&limit=%d' % limit,
                        lambda i: i['loan_ref']) == want
        assert pages_of(reg, '/v1/loans?bank=%s&status=void&limit=%d' % (bank.code, limit),
                        lambda i: i['loan_ref']) == want
    # Nothing matches: three pages of nothing, each a walk of 10,000 loans.
    rows = rows_of("SELECT id, false %s ORDER BY id" % where)
    got = pages_of(c, '/v1/loans?issued_from=2031-01-01', lambda i: i['loan_ref'])
    assert got == expect(rows, 100, refs) and len(got) == 3, got
    assert [p for p, _ in got] == [[], [], []]
    # The borrower is walked by its index, not tested row by row: a borrower the bank
    # never lent to is one empty page.
    got = pages_of(c, '/v1/loans?borrower=%s&status=void' % fd.firm()['uscc'],
                   lambda i: i['loan_ref'])
    assert got == [([], None)], got
    # The workbook follows the cursors too: every void loan, nothing else.
    ws = workbook(c.get('/v1/loans?format=xlsx&status=void'), 'loans')
    assert ws.max_row == 1 + len(void), ws.max_row
    titles = [x.value for x in next(ws.iter_rows())]
    col = titles.index('贷款合同号')  # loan_ref
    got = sorted(r[col].value for r in ws.iter_rows(min_row=2))
    assert got == sorted(first['loan_ref'] + '-%d' % g for g in void), got


def test_sparse_warning_guarantee_and_referral_filters_walk_bounded_stretches():
    bank = harness.new_principal('bank')
    c, reg = harness.client(bank), harness.client('regulator')
    ident, g = new_guarantor(reg)
    loan = guaranteed_loan(c, amount='90000000.00')
    # Warnings: 12,000 of rule W901 on the bank's loan, 3 of them W902.
    harness.psql("INSERT INTO loan_warnings (loan_id, version, bank_code, loan_ref, rule,"
                 " field, message) SELECT id, 1, bank_code, loan_ref, CASE WHEN g IN"
                 " (1, 10001, 12000) THEN 'W902' ELSE 'W901' END, 'amount', 'test'"
                 " FROM loans, generate_series(1, 12000) g WHERE bank_code = '%s'" % bank.code)
    where = "FROM loan_warnings WHERE bank_code = '%s'" % bank.code
    rows = rows_of("SELECT id, rule = 'W902' %s ORDER BY id" % where)
    want = expect(rows, 2, "SELECT id, id::text " + where)
    assert pages_of(c, '/v1/warnings?rule=W902&limit=2', lambda i: str(i['id'])) == want
    assert [len(p) for p, _ in want] == [1, 2]
    # Guarantees: 12,000 of one guarantor on the loan, 3 naming another borrower.
    other = fd.firm()['uscc']
    first = post(g, guarantee(loan, amount='1.00'))
    copy_rows('guarantees', "t.guarantor_code = '%s'" % ident.code, 11999,
              "jsonb_build_object('guarantee_ref', t.guarantee_ref || '-' || g, 'content',"
              " t.content || jsonb_build_object('guarantee_ref', t.guarantee_ref || '-' || g),"
              " 'borrower_uscc', CASE WHEN g IN (3, 10500, 11999) THEN '%s'"
              " ELSE t.borrower_uscc END)" % other)
    where = "FROM guarantees WHERE guarantor_code = '%s'" % ident.code
    rows = rows_of("SELECT id, borrower_uscc = '%s' %s ORDER BY id" % (other, where))
    want = expect(rows, 100, "SELECT id, guarantee_ref " + where)
    assert [len(p) for p, _ in want] == [1, 2]
    for who, path in ((g, '/v1/guarantees?borrower=%s' % other),
                      (c, '/v1/guarantees?borrower=%s' % other),
                      (reg, '/v1/guarantees?guarantor=%s&borrower=%s' % (ident.code, other))):
        got = pages_of(who, path, lambda i: i['guarantee_ref'])
        assert got == want, (path, got, want)
    assert first['guarantee_ref'] not in [k for p, _ in want for k in p]
    # Referrals: 12,000 to the bank, 3 in another county.
    referral = refer(bank=bank.code)
    copy_rows('referrals', "t.ref = '%s'" % referral['id'], 11999,
              "jsonb_build_object('ref', t.ref || lpad(g::text, 6, '0'), 'status',"
              " 'declined', 'decline_reason', 'test', 'county_code', CASE WHEN g IN"
              " (2, 10002, 11000) THEN '350481' ELSE '350402' END)")
    harness.psql("UPDATE referrals SET county_code = '350402' WHERE ref = '%s'"
                 % referral['id'])
    where = "FROM referrals WHERE bank_code = '%s'" % bank.code
    rows = rows_of("SELECT id, county_code = '350481' %s ORDER BY id" % where)
    want = expect(rows, 100, "SELECT id, ref " + where)
    assert [len(p) for p, _ in want] == [1, 2]
    assert pages_of(c, '/v1/referrals?county=350481', lambda i: i['id']) == want
    assert pages_of(reg, '/v1/referrals?bank=%s&county=350481' % bank.code,
                    lambda i: i['id']) == want


def walked_pages(call, limit, table, bound, overrides='', heap_only=False):
    """Every page of list function @call (SQL, %d for the cursor) asked for @limit + 1 rows as
    the handlers ask, each in its own session with list_scan_rows_max() at @bound and the
    functions of SQL @overrides (a schema walk_bound ahead of public on the search path,
    rolled back): [(ids of its items, next_cursor as the handler answers it, index entries
    read plus heap rows scanned or fetched in @table; when @heap_only, the rows of @table
    read by sequential or bitmap scans alone (an index scan counts its fetches on the
    index))]."""
    pages, after = [], 0
    indexes = ('0' if heap_only else
               "(SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)"
               " FROM pg_index i WHERE i.indrelid = '%s'::regclass)::bigint" % table)
    while True:
        rows = harness.psql(
            "BEGIN; CREATE SCHEMA walk_bound; CREATE FUNCTION walk_bound.list_scan_rows_max()"
            " RETURNS integer LANGUAGE sql IMMUTABLE RETURN %d;%s"
            " SET LOCAL search_path = walk_bound, public;"
            " CREATE FUNCTION pg_temp.examined() RETURNS bigint LANGUAGE sql AS $$"
            " SELECT pg_stat_get_xact_tuples_returned('%s'::regclass)"
            " + pg_stat_get_xact_tuples_fetched('%s'::regclass) + %s $$;"
            " CREATE TEMP TABLE walk_before AS SELECT pg_temp.examined() AS n;"
            " SELECT 'row', id, item IS NULL FROM %s;"
            " SELECT 'examined', pg_temp.examined() - n, NULL FROM walk_before; ROLLBACK;"
            % (bound, overrides, table, table, indexes, call % after))
        items = [int(i) for k, i, marker in rows if k == 'row' and marker == 'f']
        markers = [int(i) for k, i, marker in rows if k == 'row' and marker == 't']
        examined = [int(n) for k, n, _ in rows if k == 'examined']
        if len(items) == limit + 1:
            nxt = items[limit - 1]
        else:
            nxt = markers[-1] if markers else None
        pages.append((items[:limit], None if nxt is None else str(nxt), examined[0]))
        assert len(pages) <= 200, pages[-3:]
        if nxt is None:
            return pages
        after = nxt


def test_a_page_walks_its_bound_along_the_index_even_when_the_planner_guesses_otherwise():
    """A bank's rows after every other bank's (a bank that joined late: its ids are all
    larger) were walked along the primary key, testing the bank on each row, as the planner
    reckons a bank's rows spread evenly: the first page walked all the other banks' rows
    (3.3 million loans on a scratch cluster, a bank of 300,000 at the end: 0.85 s, filter
    or none), later ones sorted every row after the cursor. And a bank's guarantees from one
    guarantor (or a guarantor's at one bank) had no index in id order: a page read all of
    the bank's or all of the guarantor's. Each page must read about its bound of index
    entries and rows, whatever the planner reckons (found by review)."""
    bound, limit = 100, 2
    early, late = harness.new_principal('bank'), harness.new_principal('bank')
    for b in (early, late):
        r = harness.client(b).post('/v1/loans', json=fd.loan(issue_date='2020-03-02'))
        assert r.status == 201, r
        copy_rows('loans', "t.bank_code = '%s'" % b.code, 2999,
                  "jsonb_build_object('loan_ref', t.loan_ref || '-' || g)")
    harness.psql('ANALYZE loans')
    rows = rows_of("SELECT id, false FROM loans WHERE bank_code = '%s' ORDER BY id"
                   % late.code)
    pages = walked_pages("loan_list_page('%s', NULL, '2031-01-01', NULL, NULL, %%d, %d)"
                         % (late.code, limit + 1), limit, 'loans', bound)
    want = model(rows, limit, bound)
    assert [(p, n) for p, n, _ in pages] == want, (pages[:3], want[:3])
    assert max(e for _, _, e in pages) <= bound + 10, [e for _, _, e in pages]

    # A borrower's loans, all after the others' (found by the review of the live-loans
    # index: a borrower with 220,000 loans at the end of 3.2 million walked the primary
    # key, 1.1 s): a page reads the borrower's own loans, not the rows before them.
    firm = fd.firm()
    r = harness.client(late).post('/v1/loans', json=fd.loan(borrower=firm))
    assert r.status == 201, r
    copy_rows('loans', "t.borrower_uscc = '%s'" % firm['uscc'], 999,
              "jsonb_build_object('loan_ref', t.loan_ref || '-' || g)")
    harness.psql('ANALYZE loans')
    before = int(harness.psql("SELECT count(*) FROM loans WHERE id < (SELECT min(id) FROM"
                              " loans WHERE borrower_uscc = '%s')" % firm['uscc'])[0][0])
    assert before >= 6000, before
    rows = rows_of("SELECT id, status = 'void' FROM loans WHERE borrower_uscc = '%s'"
                   " ORDER BY id" % firm['uscc'])
    for bank in ('NULL', "'%s'" % late.code):
        pages = walked_pages("loan_list_page(%s, '%s', NULL, NULL, 'void', %%d, %d)"
                             % (bank, firm['uscc'], limit + 1), limit, 'loans', bound)
        assert [(p, n) for p, n, _ in pages] == model(rows, limit, bound), pages[:3]
        assert max(e for _, _, e in pages) <= 2 * len(rows) + bound + 10, \
            (bank, [e for _, _, e in pages], before)

    # Guarantees: the bank's 3,000 of guarantor one, 3 of guarantor two, whose other
    # 3,000 are another bank's (copies on one loan: the rule of 1,000 a loan is the API's).
    reg = harness.client('regulator')
    (one, g1), (two, g2) = new_guarantor(reg), new_guarantor(reg)
    mine = guaranteed_loan(harness.client(late), amount='90000000.00')
    theirs = guaranteed_loan(harness.client(early), amount='90000000.00')
    for g, ident, loan, n in ((g1, one, mine, 2999), (g2, two, theirs, 2999)):
        post(g, guarantee(loan, amount='1.00'))
        copy_rows('guarantees', "t.guarantor_code = '%s'" % ident.code, n,
                  "jsonb_build_object('guarantee_ref', t.guarantee_ref || '-' || g,"
                  " 'content', t.content || jsonb_build_object('guarantee_ref',"
                  " t.guarantee_ref || '-' || g))")
    other = guaranteed_loan(harness.client(late), amount='90000000.00')
    for _ in range(3):
        post(g2, guarantee(other, amount='1.00'))
    harness.psql('ANALYZE guarantees')
    where = ("FROM guarantees WHERE guarantor_code = '%s' AND bank_code = '%s'"
             % (two.code, late.code))
    rows = rows_of("SELECT id, true %s ORDER BY id" % where)
    assert len(rows) == 3
    pages = walked_pages("guarantee_list_page(current_date, '%s', '%s', NULL, NULL, %%d, %d)"
                         % (two.code, late.code, limit + 1), limit, 'guarantees', bound)
    want = model(rows, limit, bound)
    assert [(p, n) for p, n, _ in pages] == want, (pages[:3], want[:3])
    assert max(e for _, _, e in pages) <= bound + 10, [e for _, _, e in pages]
    # Through the API, for each of the three callers that may name both.
    want = expect(rows, limit, "SELECT id, guarantee_ref " + where)
    for who, path in ((harness.client(late), '/v1/guarantees?guarantor=%s' % two.code),
                      (g2, '/v1/guarantees?bank=%s' % late.code),
                      (reg, '/v1/guarantees?guarantor=%s&bank=%s' % (two.code, late.code))):
        got = pages_of(who, path + '&limit=%d' % limit, lambda i: i['guarantee_ref'])
        assert got == want, (path, got, want)


def test_a_sparse_firm_search_walks_a_bounded_stretch_of_the_county():
    """The regulator's firm search without a name: the county's firms (or a class's, or all)
    walked in id order, a division and the size tested on them."""
    reg = harness.client('regulator')
    county = '350481'
    usccs = set()
    while len(usccs) < 12000:
        usccs.add(fd.make_uscc())
    large = (4, 10003, 11999)
    harness.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " SELECT u, '走查企业' || n, '%s', '1312', CASE WHEN n IN %s THEN 'large'"
        " ELSE 'micro' END, 'test' FROM unnest(ARRAY[%s]) WITH ORDINALITY AS t(u, n)"
        % (county, large, ','.join("'%s'" % u for u in sorted(usccs))))
    where = "FROM firms WHERE county_code = '%s'" % county
    rows = rows_of("SELECT id, size = 'large' AND left(industry_code, 2) = '13' %s ORDER BY id"
                   % where)
    want = expect(rows, 100, "SELECT id, uscc " + where)
    assert sum(len(p) for p, _ in want) >= len(large) and len(want) >= 2, want
    got = pages_of(reg, '/v1/firms?county=%s&industry=13&size=large' % county,
                   lambda i: i['uscc'])
    assert got == want, (got, want)


def firm_search_model(rows, limit, q_bound, indexed, looks_rare):
    """The pages of the firm search with a name fragment (sql/firms.sql firm_list): @rows are
    (id, matches the fragment, passes the other filters) of the county's firms in id order.
    When @indexed (a trigram), a page is taken from the fragment's matches when its
    candidates (here its matches: names holding its trigrams hold it) are at most @q_bound and the fragment looks rare: by the planner's sample
    (@looks_rare: then tried first, and only once), or else in the walk of @q_bound firms
    (in fewer than 1 in 100 of them) when it did not fill the page; otherwise it is the
    walk's. [(ids of the page's items, cursor)]."""
    pages, after = [], 0
    matches = [r for r in rows if r[1]]
    while True:
        rest = [r for r in rows if r[0] > after]
        page, nxt = model([(i, q and ok) for i, q, ok in rest], limit, q_bound)[0]
        walk = rest[:q_bound]
        if indexed and looks_rare:
            from_matches = len(matches) <= q_bound
        else:
            from_matches = (indexed and len(page) < limit and len(walk) == q_bound
                            and sum(r[1] for r in walk) * 100 < q_bound
                            and len(matches) <= q_bound)
        if from_matches:
            hits = [i for i, _, ok in matches if i > after and ok][:limit + 1]
            page = hits[:limit]
            nxt = hits[limit - 1] if len(hits) > limit else None
        pages.append((page, None if nxt is None else str(nxt)))
        if nxt is None:
            return pages
        after = int(nxt)


def firm_bounds(q_bound, looks_rare, may_fit=True):
    """walked_pages' overrides for the firm search: firm_q_rows_max() at @q_bound, and the
    planner's sample saying @looks_rare of every fragment, and that its candidates @may_fit
    within the bound (test_a_fragment_looks_rare_… checks both verdicts themselves)."""
    return (" CREATE FUNCTION walk_bound.firm_q_rows_max() RETURNS integer LANGUAGE sql"
            " IMMUTABLE RETURN %d; CREATE FUNCTION walk_bound.firm_q_looks_rare(float8)"
            " RETURNS boolean LANGUAGE sql RETURN %s; CREATE FUNCTION"
            " walk_bound.firm_q_candidates_may_fit(float8) RETURNS boolean"
            " LANGUAGE sql RETURN %s;" % (q_bound, looks_rare, may_fit))


def test_a_firm_search_with_a_name_reads_a_bounded_number_of_firms_a_page():
    """GET /v1/firms?q=: the planner chose between every match of the trigram index, ordered
    by id, and the firms in id order until the page filled, so a fragment common to every
    name with a filter matching none read every firm (1.7 s at 2 million). A page now
    takes the index's matches when the fragment looks rare (by the planner's sample, here
    set by the test, or in the walk) and they are few, and otherwise walks a bounded
    stretch; following the cursors gives every match once, in id order, either way.
    Bounds lowered (300 firms a walk with a fragment) so that 3,000 firms show it."""
    bound, q_bound, limit = 100, 300, 2
    county = '359971'
    common, rare, many = harness.unique('cm'), harness.unique('rr'), harness.unique('mn')
    twin = harness.unique('tw')
    usccs = set()
    while len(usccs) < 3000:
        usccs.add(fd.make_uscc())
    # Every firm's name holds @common and 乙丙 (two characters: no trigram); 3 hold @rare
    # (the 15th, 1,500th and last: two of them large); firms 1,000-1,399 hold @many; the
    # first two and the last hold @twin.
    harness.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " SELECT u, '乙丙' || '%s' || CASE WHEN n IN (15, 1500, 3000) THEN '%s' ELSE '' END"
        " || CASE WHEN n BETWEEN 1000 AND 1399 THEN '%s' ELSE '' END"
        " || CASE WHEN n IN (1, 2, 3000) THEN '%s' ELSE '' END || n, '%s', '1312',"
        " CASE WHEN n IN (15, 3000) THEN 'large' ELSE 'micro' END, 'test'"
        " FROM unnest(ARRAY[%s]) WITH ORDINALITY AS t(u, n)"
        % (common, rare, many, twin, county, ','.join("'%s'" % u for u in sorted(usccs))))
    harness.psql('ANALYZE firms')

    def check(q, size, indexed, looks_rare, most, index_read=None):
        like = harness.psql("SELECT '%%' || replace(replace(replace('%s', '\\', '\\\\'),"
                            " '%%', '\\%%'), '_', '\\_') || '%%'" % q)[0][0]
        rows = [(int(i), m == 't', ok == 't') for i, m, ok in harness.psql(
            "SELECT id, name ILIKE '%s', %s FROM firms WHERE county_code = '%s' ORDER BY id"
            % (like, "size = '%s'" % size if size else 'true', county))]
        call = ("firm_list('%s', '%s', NULL, %s, %%d, %d)"
                % (q, county, "'%s'" % size if size else 'NULL', limit + 1))
        pages = walked_pages(call, limit, 'firms', bound, firm_bounds(q_bound, looks_rare))
        want = firm_search_model(rows, limit, q_bound, indexed, looks_rare)
        assert [(p, n) for p, n, _ in pages] == want, (q, size, pages[:4], want[:4])
        got = [i for p, _, _ in pages for i in p]
        assert got == [i for i, m, ok in rows if m and ok], (q, size, got)
        # Besides: the index entries of the fragment's matches, when they are read (a
        # bitmap holds them all, as many as firms match, before the table is read).
        if looks_rare if index_read is None else index_read:
            most += int(harness.psql("SELECT count(*) FROM firms WHERE name ILIKE '%s'"
                                     % like)[0][0])
        assert max(e for _, _, e in pages) <= most, (q, size, [e for _, _, e in pages])
        return pages

    # A fragment in every name, a filter matching none: ten walks of 300 firms (and an
    # empty one after the last), each read once and its index entries twice (the matches,
    # then where the walk stopped).
    pages = check(common, 'medium', True, False, 3 * q_bound + 20)
    assert len(pages) == 11 and all(p == [] for p, _, _ in pages), pages
    # The same, had the planner's sample found it rare: 301 matches read first, then
    # the same walks.
    pages = check(common, 'medium', True, True, (q_bound + 1) * 2 + 3 * q_bound + 20)
    assert len(pages) == 11 and all(p == [] for p, _, _ in pages), pages
    # A rare fragment: its matches from the trigram index, not the walk.
    pages = check(rare, None, True, True, 3 * 3 + 20)
    assert [len(p) for p, _, _ in pages] == [2, 1], pages
    pages = check(rare, 'large', True, True, 3 * 3 + 20)
    assert [len(p) for p, _, _ in pages] == [2], pages
    # A fragment in 400 firms (more than 300 matches): its index read (301 matches), then
    # the walk.
    pages = check(many, 'medium', True, True, (q_bound + 1) * 2 + 3 * q_bound + 20)
    assert all(p == [] for p, _, _ in pages) and len(pages) == 11, pages
    # A fragment the sample found common but the walk meets in fewer than 1 in 100 of
    # its 300 firms (the first two): its matches, once the walk did not fill the page.
    pages = check(twin, 'large', True, False, 4 * q_bound + 3 * 3 + 20, index_read=True)
    assert [len(p) for p, _, _ in pages] == [1], pages
    # Two characters, no trigram: the walk alone (the index would be read whole).
    pages = check('乙丙', 'large', False, True, 3 * q_bound + 20, index_read=False)
    assert len(pages) == 11 and [i for p, _, _ in pages for i in p] != [], pages

    # Through the API, at the real bounds (3,000 firms: one walk), every match once.
    reg = harness.client('regulator')
    for q, size, n in ((common, 'large', 2), (common, 'medium', 0), (rare, None, 3),
                       ('乙丙', 'large', 2)):
        path = '/v1/firms?county=%s&q=%s%s' % (county, harness.quote(q),
                                               '&size=' + size if size else '')
        got = [u for p, _ in pages_of(reg, path, lambda i: i['uscc']) for u in p]
        assert len(got) == n and len(set(got)) == n, (q, size, got)


def test_a_fragment_looks_rare_by_the_planners_sample_of_the_registry(ctx):
    """firm_q_looks_rare (which sends a fragment first to the trigram index) reads the
    planner's statistics of firms: the common names' shares and the histogram's bounds of
    the others (of the USCCs for a prefix); without statistics it says nothing (NULL, and
    the search walks first). The serving role reads them too."""
    cl = harness.private_cluster(ctx)
    usccs = set()
    while len(usccs) < 2000:
        usccs.add(fd.make_uscc())
    usccs = sorted(usccs)
    # 1,000 names hold aaqcommon, 5 (sorting together) zzqrare.
    cl.psql("INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
            " SELECT u, CASE WHEN n <= 1000 THEN 'aaqcommon' WHEN n <= 1005 THEN 'zzqrare'"
            " ELSE 'mmqother' END || n, '350402', '1312', 'small', 'test'"
            " FROM unnest(ARRAY[%s]) WITH ORDINALITY AS t(u, n)"
            % ','.join("'%s'" % u for u in usccs))

    def rare(q, prefix=False, role=''):
        return cl.psql("%sSELECT coalesce(firm_q_looks_rare(firm_q_candidate_share('%s',"
                       " firm_q_trigram_likes('%s'), %s))::text, 'null')"
                       % (role, q, q, prefix))[-1][0]

    assert rare('aaqcommon') == 'null'
    cl.psql('ANALYZE firms')
    assert [rare(q) for q in ('aaqcommon', 'zzqrare', 'nowhere')] == ['false', 'true', 'true']
    assert rare('aaqcommon', role='SET ROLE finreg_app; ') == 'false'
    # No name holds qcommonaaq, but half the names hold the trigrams it is looked up by
    # (qco, mmo, aaq): its candidates are what a page reads, and they are common (found
    # by review: judged on the matches, such a fragment read its candidates up to the
    # bound, then walked, on every page).
    assert rare('qcommonaaq') == 'false'
    # Every USCC starts with 91350402 (finreg_data.make_uscc); one USCC's first 17 are its own.
    assert rare('91350402', True) == 'false'
    assert rare(usccs[7][:17], True) == 'true'
    # Whether the candidates may fit the bound: the sample's share of the firms counted
    # (1,000 and 5 here) against firm_q_rows_max(), 100,000, and 100 in a schema ahead.
    def fit(q, bound=''):
        return cl.psql("%sSELECT firm_q_candidates_may_fit(firm_q_candidate_share('%s',"
                       " firm_q_trigram_likes('%s'), false))::text" % (bound, q, q))[-1][0]

    low = ("BEGIN; CREATE SCHEMA walk_bound; CREATE FUNCTION walk_bound.firm_q_rows_max()"
           " RETURNS integer LANGUAGE sql IMMUTABLE RETURN 100;"
           " SET LOCAL search_path = walk_bound, public; ")
    assert [fit('aaqcommon'), fit('zzqrare')] == ['true', 'true']
    assert [fit('aaqcommon', low), fit('zzqrare', low)] == ['false', 'true']
    srv = harness.Server(cluster=cl)
    ctx.defer(srv.stop)
    body = srv.client('regulator').get('/v1/firms?q=zzqrare').json()
    assert (len(body['items']), body['next_cursor']) == (5, None), body


def analyzed_ids(county, seed, name, county_of, n):
    """Adds @n micro firms of class 1312 (SQL @name and @county_of of n, 1 to @n; USCCs
    9... from md5 of @seed and n), analyzes firms (the sample the firm search judges
    fragments by) and answers the ids of @county's firms in order."""
    harness.psql(
        "INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
        " SELECT '9' || upper(left(md5('%s' || n), 17)), %s, %s, '1312', 'micro', 'test'"
        " FROM generate_series(1, %d) n; ANALYZE firms" % (seed, name, county_of, n))
    return [int(r[0]) for r in harness.psql(
        "SELECT id FROM firms WHERE county_code = '%s' ORDER BY id" % county)]


def test_a_firm_search_page_reads_a_bounded_number_of_firms_whatever_the_fragment():
    """Two kinds of q found rare had their matches read from the indexes without a bound on
    the firms read (found by review): a USCC prefix of one or two characters has no
    trigram, so the trigram index was read whole and every firm rechecked (q=A: every
    firm, 2.0 s at 1.5 million firms); and a fragment whose every trigram is in many names
    though the fragment is in none (发展发展发 against names ending 发展发展) had each such
    name read and rechecked, whatever the filters (300,000 firms, 0.40 s there). A page
    fetches at most firm_q_rows_max() + 1 firms from the indexes' bitmaps (the walk's,
    along an index, count on the index, not here); following the cursors still gives every
    match once."""
    bound, q_bound, limit = 100, 300, 2
    county = '359972'
    s = harness.unique('fp')
    # Every name holds @s and its first two characters again: every trigram of @s @s,
    # never @s @s itself. No name holds Y or X (@s is hex), and no USCC (9...) starts
    # with Y.
    ids = analyzed_ids(county, s, "'乙丙%s' || left('%s', 2) || n" % (s, s), "'%s'" % county,
                       3000)
    most = (q_bound + 1) + 2 * q_bound + limit + 1 + 20
    for q in (s + s, 'Y', 'YX'):
        call = "firm_list('%s', '%s', NULL, NULL, %%d, %d)" % (q, county, limit + 1)
        pages = walked_pages(call, limit, 'firms', bound, firm_bounds(q_bound, True),
                             heap_only=True)
        assert [i for p, _, _ in pages for i in p] == [], (q, pages[:3])
        assert max(e for _, _, e in pages) <= most, (q, [e for _, _, e in pages])
        # Ten walks of 300 (and an empty one after the last) cover the county.
        assert [int(n) for _, n, _ in pages[:-1]] == ids[q_bound - 1::q_bound], (q, pages)
    # A match among them is found, once.
    harness.psql("UPDATE firms SET name = name || '%s' WHERE id = %d" % (s + s, ids[1700]))
    call = "firm_list('%s', '%s', NULL, NULL, %%d, %d)" % (s + s, county, limit + 1)
    pages = walked_pages(call, limit, 'firms', bound, firm_bounds(q_bound, True),
                         heap_only=True)
    assert [i for p, _, _ in pages for i in p] == [ids[1700]], pages
    assert max(e for _, _, e in pages) <= most, [e for _, _, e in pages]
    # The planner's sample finding it common, the walk that does not fill meets its
    # candidates (every name holds its trigrams) in every firm, not its matches (one in
    # 3,000): no candidate is read from the bitmaps (the walk's fetches count on the index,
    # not here). Judged on the matches, each page read 301 candidates, then walked.
    pages = walked_pages(call, limit, 'firms', bound, firm_bounds(q_bound, False),
                         heap_only=True)
    assert [i for p, _, _ in pages for i in p] == [ids[1700]], pages
    assert max(e for _, _, e in pages) <= 20, [e for _, _, e in pages]


def test_a_firm_search_reads_no_candidates_the_sample_puts_over_the_bound():
    """A county's walk that does not fill and meets a fragment's candidates in under 1 in
    100 of its firms turned to the fragment's matches, though the planner's sample put the
    candidates over firm_q_rows_max() across the registry (a name of another county, say):
    each page read firm_q_rows_max() + 1 candidates from the indexes, found them too many,
    and kept its walk (320 ms of a 500 ms page in a county of 500,000 firms whose fragment
    half the other names hold; found by review). The walk alone, now."""
    bound, q_bound, limit = 100, 300, 2
    county, other = '359975', '359976'
    s = harness.unique('fo')
    # 3,000 firms of @county, none holding @s; 3,000 of @other, each holding it.
    ids = analyzed_ids(county, s, "CASE WHEN n <= 3000 THEN '乙丙' ELSE '丁戊%s' END || n" % s,
                       "CASE WHEN n <= 3000 THEN '%s' ELSE '%s' END" % (county, other), 6000)
    call = "firm_list('%s', '%s', NULL, NULL, %%d, %d)" % (s, county, limit + 1)
    pages = walked_pages(call, limit, 'firms', bound, firm_bounds(q_bound, False, False),
                         heap_only=True)
    assert [i for p, _, _ in pages for i in p] == [], pages[:3]
    assert [int(n) for _, n, _ in pages[:-1]] == ids[q_bound - 1::q_bound], pages
    assert max(e for _, _, e in pages) <= 20, [e for _, _, e in pages]


def test_a_fragments_trigrams_are_in_every_name_holding_it_whatever_the_case_mapping():
    """firm_q_trigram_likes lowered each three-character piece of q on its own; under a
    collation whose lower() reads the context (ICU: a Greek capital sigma ending a word
    becomes ς, else σ; İ becomes i and a combining dot, no word character), the piece
    ΣΑΣ of ΑΣΑΣΑ became σας, which the name ΑΣΑΣΑ (ασασα) does not hold: the match was
    not among the candidates, so missed; and İST gave i̇st, in which pg_trgm finds no
    trigram, so the trigram index was read whole and every firm with it (1.6 s at 1.5
    million firms; found by review). The pieces are now taken from lower(q), the text
    ILIKE compares: each is in every name holding q, and is three word characters."""
    fragments = ('ΑΣΑΣΑ', 'ΟΔΟΣ ΑΣΑΣ', 'İSTANBUL', 'İST', 'STRASSE ẞ', 'ＡＢＣＤ', '三明鑫源')
    for coll in ('default', 'und-x-icu'):
        rows = harness.psql(
            "SELECT q, coalesce(bool_and((q COLLATE \"%s\") ILIKE l), true),"
            " coalesce(bool_and((substr(l, 2, length(l) - 2) COLLATE \"default\")"
            " ~ '^[[:alnum:]]{3}$'), true)"
            " FROM unnest(ARRAY[%s]) q"
            " LEFT JOIN LATERAL unnest(firm_q_trigram_likes(q COLLATE \"%s\")) l ON true"
            " GROUP BY q"
            % (coll, ','.join("'%s'" % q for q in fragments), coll))
        assert all(held == 't' and words == 't' for _, held, words in rows), (coll, rows)


def test_a_fragment_that_is_no_uscc_prefix_has_no_usccs_among_its_candidates(ctx):
    """The candidates of the firm search's matches were the names holding the fragment's
    trigrams and, whatever the fragment, the USCCs in [q, q || 'Z'): none unless q is a
    prefix in the C collations, but under a linguistic one (ICU, en_US) a prefix typed in
    lower case (91350402ma, which is no USCC prefix) holds every USCC starting 91350402MA,
    each read from the primary key and counted against firm_q_rows_max(): past it, the
    search walked instead of reading its matches (found by review). Only a USCC prefix's
    range is read now. A database of the test's own, with an ICU collation."""
    cl = harness.Cluster()
    ctx.defer(cl.destroy)
    subprocess.run([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
                    cl.url.replace('dbname=finreg', 'dbname=postgres'),
                    '-c', 'DROP DATABASE finreg',
                    '-c', "CREATE DATABASE finreg TEMPLATE template0 LOCALE_PROVIDER icu"
                          " ICU_LOCALE 'und'"], check=True, capture_output=True)
    harness.finregd('migrate', cluster=cl)
    # 3,000 USCCs starting 91350402MA; one name holds 91350402ma.
    cl.psql("INSERT INTO firms (uscc, name, county_code, industry_code, size, updated_by)"
            " SELECT '91350402MA' || lpad(n::text, 8, '0'), CASE WHEN n = 2000"
            " THEN '甲91350402ma' ELSE '乙' END || n, '350402', '1312', 'small', 'test'"
            " FROM generate_series(1, 3000) n; ANALYZE firms")
    q = '91350402ma'
    rows = cl.psql(
        "BEGIN; CREATE SCHEMA walk_bound; CREATE FUNCTION walk_bound.firm_q_rows_max()"
        " RETURNS integer LANGUAGE sql IMMUTABLE RETURN 100;"
        " SET LOCAL search_path = walk_bound, public;"
        " SELECT firm_q_is_uscc_prefix('%s'), firm_q_matches('%s', firm_q_trigram_likes('%s'),"
        " '%%%s%%', false, NULL, NULL, NULL, 0) = ARRAY(SELECT id FROM firms"
        " WHERE name LIKE '甲%%'); ROLLBACK" % (q, q, q, q))
    assert rows[-1] == ['f', 't'], rows
