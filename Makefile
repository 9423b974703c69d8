# Two commands on a fresh clone: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv

.PHONY: run test browser lint typecheck pytest bench sample-data clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(VENV)/bin/adbandit validate data/sample_stats.csv
	$(VENV)/bin/adbandit recommend data/sample_stats.csv --budget 1200 --current data/sample_current.csv --config data/sample_config.toml --seed 7
	$(VENV)/bin/adbandit serve --load data/sample_stats.csv --host 127.0.0.1 --port 8000

test: $(VENV)/.installed-dev browser lint typecheck pytest

# The review page's browser tests drive Debian's chromium (never a downloaded browser).
# Installed when missing and apt-get can; otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests (about 30 s)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "no chromium and no root apt-get: the browser tests will skip (apt-get install chromium)"; \
	  fi; }

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed-dev
	$(VENV)/bin/pytest -n 2 --durations=10

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/recommend_speed.py
	$(PY) benchmarks/service_load.py
	$(PY) benchmarks/log_aggregation.py
	$(PY) benchmarks/page_render.py

sample-data: $(VENV)/.installed-run
	$(PY) data/make_sample.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
