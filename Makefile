# The two commands of the README: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed
# `make run` installs only what running the example site needs (pip warns and installs the
# base package if an extra is not defined). `make run HOST=0.0.0.0 PORT=8001` picks the address.
RUN_EXTRAS ?= server,store,cli
RUN_STAMP  := $(VENV)/.installed-run
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install clean system-deps browser-deps node-deps docs docs-build

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[test,bench]'
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[$(RUN_EXTRAS)]'
	touch $(RUN_STAMP)

install: $(STAMP)

# Debian packages used by tests and benchmarks, installed only when missing (waiting for another
# apt-get, e.g. a second checkout's `make test`, instead of failing on its lock).
system-deps:
	@missing=""; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	fi

# npm packages for the real peers the tests start (OpenID provider).
node-deps:
	@if [ -f tests/peers/package.json ]; then \
	  cd tests/peers && { [ -d node_modules ] && [ node_modules -nt package.json ] || npm install --no-audit --no-fund --silent; }; \
	fi

run: $(RUN_STAMP)
	HOST='$(HOST)' PORT='$(PORT)' $(PY) -m examples.mysite

# The sync example against local stand-ins on free ports, run twice (python -m examples.oro_sync --demo).
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[flows,server]'
	touch $(DEMO_STAMP)

.PHONY: demo-sync
demo-sync: $(DEMO_STAMP)
	$(PY) -m examples.oro_sync --demo

# The suite runs on SQLite and, when a PostgreSQL server answers, on PostgreSQL too.
# INTERLINK_TEST_POSTGRES_URL points elsewhere; the default is the local server (trust auth,
# database `test`), started with pg_ctlcluster when it is installed but not running.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PG_PROBE = $(PY) -c "import sys, psycopg; psycopg.connect(sys.argv[1].replace('+psycopg', ''), connect_timeout=3).close()"

# Test files run in 3 processes (servers wait on I/O as often as they compute); one file's
# tests stay in one process, so a file's peers start once. PYTEST_ARGS= runs them in one.
PYTEST_ARGS ?= -n 3 --dist loadfile

test: $(STAMP) system-deps node-deps
	@url="$${INTERLINK_TEST_POSTGRES_URL:-$(TEST_POSTGRES_URL)}"; \
	if ! $(PG_PROBE) "$$url" 2>/dev/null && [ -z "$$INTERLINK_TEST_POSTGRES_URL" ] && command -v pg_lsclusters >/dev/null; then \
	  pg_lsclusters --no-header 2>/dev/null | awk '$$4 != "online" {print $$1, $$2}' | \
	    while read version cluster; do pg_ctlcluster "$$version" "$$cluster" start || true; done; \
	fi; \
	if $(PG_PROBE) "$$url" 2>/dev/null; then \
	  echo "PostgreSQL answers at $$url: the suite runs on SQLite and PostgreSQL"; \
	  INTERLINK_TEST_POSTGRES_URL="$$url" $(PY) -m pytest $(PYTEST_ARGS); \
	else \
	  echo "NOTE: no PostgreSQL answers at $$url, so the suite runs on SQLite only."; \
	  echo "      For both: a PostgreSQL server on 127.0.0.1:5432 (trust auth, database 'test'),"; \
	  echo "      or INTERLINK_TEST_POSTGRES_URL=postgresql+psycopg://USER:PASS@HOST:PORT/DB make test"; \
	  $(PY) -m pytest $(PYTEST_ARGS); \
	fi

# The user documentation (MkDocs Material), offline: search and fonts come from the wheel, no CDN.
DOCS_HOST ?= 127.0.0.1
DOCS_PORT ?= 8001
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr $(DOCS_HOST):$(DOCS_PORT)

docs-build: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# `make bench BENCH="soap flows"` measures those sections again and keeps the others.
BENCH ?=

bench: $(STAMP) system-deps node-deps
	$(PY) -m benchmarks.run $(BENCH)

clean:
	rm -rf $(VENV) tests/peers/node_modules
