# Everything a fresh machine needs: `make run` (the main job) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pymdp 1.x (JAX) lives apart from the main environment: it needs other numpy/scipy pins,
# and benchmarks and conformance tests run it in its own process.
PEER_PYMDP1 := .peers/pymdp-1.0.4

.PHONY: run test test-quick peers bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(PEER_PYMDP1)/.installed: | $(VENV)/.installed
	$(PY) -m pip install --quiet --target $(PEER_PYMDP1) inferactively-pymdp==1.0.4 jax==0.10.2 jaxlib==0.10.2
	touch $@

peers: $(PEER_PYMDP1)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/freeagentics serve

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
