# finreg build, run and test. `make run` and `make test` are the two commands of the README;
# everything else here is a step they use or a developer's convenience.

SHELL := /bin/bash
CC ?= gcc
PKGS := libmicrohttpd gnutls libpq jansson libcrypto xlsxwriter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -Iservice -Ibuild/gen $(WARN)
CFLAGS ?= -O2 -g
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC := $(sort $(wildcard service/*.c service/*/*.c))
DOMAIN_SRC := $(sort $(wildcard service/domain/*.c))
# Unit tests link the pure parts only: domain rules, JSON/CSV parsing, the error list.
UNIT_LINK_SRC := $(DOMAIN_SRC) $(sort $(wildcard service/json/*.c)) service/errors.c service/log.c \
	service/buf.c service/crypto.c service/chunk_size.c \
	service/db/loan_group.c service/db/loan_item.c service/db/loan_outcomes.c service/handlers/outcome.c \
	service/handlers/loan_items.c
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
PROCEDURES := $(sort $(wildcard sql/*.sql))

GEN := build/gen/migrations.c build/gen/openapi.c
OBJ := $(SRC:%.c=build/obj/%.o) build/obj/gen/migrations.o build/obj/gen/openapi.o
ASAN_OBJ := $(SRC:%.c=build/asan/%.o) build/asan/gen/migrations.o build/asan/gen/openapi.o
UNIT_LINK_OBJ := $(UNIT_LINK_SRC:%.c=build/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/unit/%)

.PHONY: all setup build certs db migrate run stop test check asan unit fuzz lint format format-check clean \
	install test-ha check-deploy openapi-lint
.PHONY: web demo

all: build
build: build/finregd web

setup:
	@scripts/setup.sh

build/finregd: $(OBJ)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

build/asan/finregd: $(ASAN_OBJ)
	$(CC) $(ASAN_FLAGS) $(BASE_CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

build/obj/%.o: %.c $(wildcard service/*.h service/*/*.h service/*.def) | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(PKG_CFLAGS) -MMD -c -o $@ $<

build/asan/%.o: %.c $(wildcard service/*.h service/*/*.h service/*.def) | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(BASE_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -c -o $@ $<

build/asan/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(BASE_CFLAGS) -c -o $@ $<

# Migrations and sql/ files are compiled into the binary, so `finregd migrate` needs no
# files beside it.
build/gen/migrations.c: scripts/embed-migrations.sh $(MIGRATIONS) $(PROCEDURES)
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(MIGRATIONS) -- $(PROCEDURES) > $@.tmp && mv $@.tmp $@

build/gen/openapi.c: scripts/embed-text.sh docs/openapi.json
	@mkdir -p $(dir $@)
	scripts/embed-text.sh openapi_json docs/openapi.json > $@.tmp && mv $@.tmp $@

build/unit/%: tests/unit/%.c tests/unit/check.h $(UNIT_LINK_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(UNIT_LINK_OBJ) $(PKG_LIBS)

unit: $(UNIT_BIN)

# The dashboard's static files (served by finregd at /dashboard/ from FINREG_WEB_DIR):
# web/src/ plus ECharts, fetched by `npm ci` at the version pinned in web/package-lock.json.
WEB_SRC := $(sort $(wildcard web/src/*))
web: build/web/index.html
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
build/web/index.html: $(WEB_SRC) web/node_modules/.package-lock.json
	@mkdir -p build/web
	cp web/node_modules/echarts/dist/echarts.min.js build/web/echarts.min.js
	cp $(filter-out web/src/index.html,$(WEB_SRC)) build/web/
	cp web/src/index.html build/web/index.html

# A realistic year (2020) of loans, repayments, referrals, guarantees, whitelist entries and
# supply-chain programs, posted through the API to the server `make run` started.
demo: certs
	scripts/dev.sh demo

certs: certs/dev/ca.pem
certs/dev/ca.pem: certs/make-dev-certs
	certs/make-dev-certs certs/dev

# Private development cluster and server (see README).
db: setup build certs
	scripts/dev.sh db

run: setup build certs
	scripts/dev.sh run

stop:
	scripts/dev.sh stop

# The whole suite: unit tests, then the API tests against the normal and the sanitizer build.
test: setup build build/asan/finregd unit certs openapi-lint
	tests/run-all.sh

# The served contract (docs/openapi.json) linted with Redocly's CLI, pinned in
# tools/openapi-lint/package-lock.json and fetched with npm ci (docs/exports.md).
REDOCLY := tools/openapi-lint/node_modules/.bin/redocly
openapi-lint: $(REDOCLY)
	cd tools/openapi-lint && ./node_modules/.bin/redocly lint --config redocly.yaml ../../docs/openapi.json

$(REDOCLY): tools/openapi-lint/package.json tools/openapi-lint/package-lock.json
	cd tools/openapi-lint && npm ci --no-audit --no-fund
	touch $@

check: build unit certs
	FINREG_SUITES=normal tests/run-all.sh

asan: build/asan/finregd unit certs
	FINREG_SUITES=asan tests/run-all.sh

# libFuzzer on the JSON/CSV -> validated loan path; FUZZ_SECONDS=600 make fuzz for longer.
FUZZ_SECONDS ?= 60
FUZZ_SRC := fuzz/fuzz_loan.c $(UNIT_LINK_SRC)
build/fuzz_loan: $(FUZZ_SRC) $(wildcard service/*.h service/*/*.h)
	@mkdir -p $(dir $@)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Iservice \
		$(PKG_CFLAGS) -o $@ $(FUZZ_SRC) $(PKG_LIBS) -lpthread

fuzz: build/fuzz_loan
	@mkdir -p build/fuzz-corpus
	build/fuzz_loan -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz-corpus fuzz/corpus

# The mutual-TLS load generator of bench/ingest.
build/loadgen: bench/loadgen.c service/domain/uscc.c service/domain/uscc.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c17 -D_GNU_SOURCE -Iservice -Wall -Wextra -o $@ bench/loadgen.c \
		service/domain/uscc.c -lssl -lcrypto -lpthread

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		-Iservice --std=c11 service

format:
	clang-format -i $(SRC) $(wildcard service/*.h service/*/*.h) $(UNIT_SRC)

format-check:
	clang-format --dry-run -Werror $(SRC) $(wildcard service/*.h service/*/*.h) $(UNIT_SRC)

clean:
	rm -rf build

# Installs finregd, its systemd unit, its sysusers.d entry and the example environment
# under $(DESTDIR)$(PREFIX) and $(DESTDIR)/etc/finreg; creates nothing else (no user, no
# database: see docs/operations.md for the steps that follow).
PREFIX ?= /usr/local
DESTDIR ?=
install: build/finregd
	install -D -m 0755 build/finregd "$(DESTDIR)$(PREFIX)/bin/finregd"
	install -d -m 0755 "$(DESTDIR)$(PREFIX)/lib/systemd/system" "$(DESTDIR)$(PREFIX)/lib/sysusers.d"
	sed 's|/usr/local/bin/finregd|$(PREFIX)/bin/finregd|' deploy/finregd.service \
		> "$(DESTDIR)$(PREFIX)/lib/systemd/system/finregd.service"
	chmod 0644 "$(DESTDIR)$(PREFIX)/lib/systemd/system/finregd.service"
	install -m 0644 deploy/finreg.sysusers "$(DESTDIR)$(PREFIX)/lib/sysusers.d/finreg.conf"
	install -D -m 0644 deploy/finregd.env.example "$(DESTDIR)/etc/finreg/finregd.env.example"

# The loopback topology of deploy/topology: failover without losing an acknowledged loan,
# reads on the replica, read-only instances (70 s to 2 min 10 s on the 2-core VM).
test-ha: build certs
	python3 tests/ha/test_ha.py

# The deploy/ files checked by their own tools (systemd-analyze, haproxy, pgbouncer,
# promtool) and `make install` into a scratch DESTDIR.
check-deploy: build
	scripts/check-deploy.sh

-include $(OBJ:.o=.d)
