# Everything a fresh machine needs: `make run` (the main job) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pymdp 1.x (JAX) lives apart from the main environment: it needs other numpy/scipy pins,
# and benchmarks and conformance tests run it in its own process.
PEER_PYMDP1 := .peers/pymdp-1.0.4
# `make run PORT=8001` (default: the settings', 8000); the server's SQLite database lives in
# this checkout's data/ folder unless FREEAGENTICS_DATA_DIR or FREEAGENTICS_DATABASE_URL says otherwise
PORT ?=
DATA_DIR ?= $(or $(FREEAGENTICS_DATA_DIR),$(CURDIR)/data)
LOCK_FLAGS = --universal --python-version 3.11 --custom-compile-command "make lock" \
	--quiet $(if $(UPGRADE),--upgrade)

.PHONY: run test test-quick peers bench lint lock clean

# Exact versions come from the lock files (`make lock` regenerates them from pyproject's
# ranges); the server's own set first, the test extras on top only for the suite.
$(VENV)/.installed-run: pyproject.toml requirements/run.lock
	@echo "==> $(VENV): installing the server's dependencies (requirements/run.lock; a minute or two the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install -r requirements/run.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-run requirements/test.lock
	@echo "==> $(VENV): installing the test extras (requirements/test.lock)"
	$(PY) -m pip install --quiet -r requirements/test.lock
	touch $@

# Regenerate both locks from pyproject's ranges, keeping the locked versions that still
# satisfy them (`make lock UPGRADE=1` moves every package to its newest allowed release).
lock: $(VENV)/.installed-run
	$(PY) -m pip install --quiet uv==0.13.9
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements/run.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra test $(LOCK_FLAGS) -o requirements/test.lock

$(PEER_PYMDP1)/.installed: | $(VENV)/.installed
	$(PY) -m pip install --quiet --target $(PEER_PYMDP1) inferactively-pymdp==1.0.4 jax==0.10.2 jaxlib==0.10.2
	touch $@

peers: $(PEER_PYMDP1)/.installed

run: $(VENV)/.installed-run
	FREEAGENTICS_DATA_DIR="$(DATA_DIR)" $(VENV)/bin/freeagentics serve $(if $(PORT),--port $(PORT))

test: $(VENV)/.installed $(PEER_PYMDP1)/.installed browsers promtool
	FREEAGENTICS_PYMDP1_PATH=$(PEER_PYMDP1) $(PY) -m pytest

# Debian's chromium for the dashboard's browser tests (Playwright drives it; no downloads)
.PHONY: browsers
browsers:
	@if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium; fi

# Debian's prometheus package for promtool: the alert rules and dashboard queries are
# checked by Prometheus's own parser and rule unit tests
.PHONY: promtool
promtool:
	@if ! command -v promtool >/dev/null; then apt-get update && apt-get install -y --no-install-recommends prometheus; fi

test-quick: $(VENV)/.installed
	$(PY) -m pytest -m "not slow" -q

bench: $(VENV)/.installed $(PEER_PYMDP1)/.installed
	FREEAGENTICS_PYMDP1_PATH=$(PEER_PYMDP1) $(PY) benchmarks/engine.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check freeagentics tests benchmarks
	$(VENV)/bin/ruff format --check freeagentics tests benchmarks

clean:
	rm -rf $(VENV) .peers .pytest_cache .hypothesis
