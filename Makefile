# The two commands of the README: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed

.PHONY: run test bench install clean system-deps browser-deps node-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages used by tests and benchmarks, installed only when missing.
system-deps:
	@missing=""; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# npm packages for the real peers the tests start (OpenID provider).
node-deps:
	@if [ -f tests/peers/package.json ]; then \
	  cd tests/peers && { [ -d node_modules ] && [ node_modules -nt package.json ] || npm install --no-audit --no-fund --silent; }; \
	fi

run: $(STAMP)
	$(PY) -m examples.mysite

test: $(STAMP) system-deps node-deps
	$(PY) -m pytest

bench: $(STAMP) system-deps
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) tests/peers/node_modules
