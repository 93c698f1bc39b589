"""Test data builders shared by the API tests: valid unified social credit codes (USCC,
GB 32100-2015 check character computed here, independently of the server), and loan
objects in the contract's shape with sensible defaults."""

import itertools
import random

ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY'
WEIGHTS = [pow(3, i, 31) for i in range(17)]
_counter = itertools.count(1)


def uscc_check(body17):
    total = sum(ALPHABET.index(c) * w for c, w in zip(body17, WEIGHTS))
    check = 31 - total % 31
    return ALPHABET[0 if check == 31 else check]


def make_uscc(rng=None):
    """A fresh, valid USCC: 91 (enterprise) + 350402 (Sanming) + 9 random + check."""
    rng = rng or random
    body = '91350402' + ''.join(rng.choice(ALPHABET) for _ in range(9))
    return body + uscc_check(body)


def firm(uscc=None, name=None, county_code='350402', industry_code='3412', size='small'):
    uscc = uscc or make_uscc()
    return {'uscc': uscc, 'name': name or '三明测试企业%s有限公司' % uscc[-5:],
            'county_code': county_code, 'industry_code': industry_code, 'size': size}


def loan(loan_ref=None, borrower=None, **fields):
    """A valid loan object; keyword arguments replace (or, with value ..., drop) fields."""
    body = {
        'loan_ref': loan_ref or 'T-%d-%06d' % (random.randrange(10**6), next(_counter)),
        'borrower': borrower or firm(),
        'amount': '5000000.00',
        'issue_date': '2020-05-12',
        'maturity_date': '2023-05-11',
        'rate': '4.3500',
        'guarantee_mode': 'credit',
        'guarantor_code': None,
        'first_loan': True,
        'renewal': False,
        'renews_loan_ref': None,
        'scf_program_id': None,
        'relief_fund': False,
        'credit_line': '5000000.00',
    }
    for k, v in fields.items():
        if v is ...:
            body.pop(k, None)
        else:
            body[k] = v
    return body
