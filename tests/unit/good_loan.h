/* The contract's example loan as JSON text: valid under every rule (today 2026-01-01 or
 * later), shared by the unit tests that parse, convert or prepare a loan. */
#ifndef FINREG_GOOD_LOAN_H
#define FINREG_GOOD_LOAN_H

#define GOOD_LOAN_JSON                                                                                 \
	"{\"loan_ref\": \"CIB-SM-2020-000123\","                                                       \
	" \"borrower\": {\"uscc\": \"91350200776049653A\", \"name\": \"三明某机械有限公司\"," \
	"  \"county_code\": \"350402\", \"industry_code\": \"3412\", \"size\": \"small\"},"            \
	" \"amount\": \"5000000.00\", \"issue_date\": \"2020-05-12\","                                 \
	" \"maturity_date\": \"2023-05-11\", \"rate\": \"4.3500\", \"guarantee_mode\": "               \
	"\"credit\","                                                                                  \
	" \"guarantor_code\": null, \"first_loan\": true, \"renewal\": false,"                         \
	" \"renews_loan_ref\": null, \"scf_program_id\": null, \"relief_fund\": false,"                \
	" \"credit_line\": \"5000000.00\"}"

#endif
