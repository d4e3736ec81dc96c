# make run   : the panel at http://127.0.0.1:8000/ with a local Tallyfy sandbox on :8001
#              and one background task worker
# make test  : the whole suite on SQLite, then on PostgreSQL when one answers
# make screenshots : PNGs of every page under test-artifacts/screenshots/
# make bench : the benchmarks under bench/ (BENCH="downloads deletion load log" picks some;
#              BENCH=chaos: the chaos test of issue 18 over several seeds, minutes a seed;
#              BENCH=erasure: one guest erased from an empty index, about 5 minutes)
# make lock  : refresh requirements.lock (every dependency pinned, with hashes) from the ranges
#              in pyproject.toml; `make` installs from the lock only

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
SANDBOX_PORT ?= 8001
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_ARTIFACTS ?= test-artifacts
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# Browser tests keep a screenshot and a Playwright trace of every failure.
PYTEST := $(PY) -m pytest -n 2 --screenshot only-on-failure --tracing retain-on-failure

.PHONY: run test test-sqlite test-postgres lint bench clean screenshots lock

$(STAMP): requirements.lock
	@PYBIN=$$(scripts/find-python) && \
	  { [ -x $(PY) ] || $$PYBIN -m venv $(VENV); }
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	@touch $@

# uv resolves; pip installs. The lock covers the test extra and any platform (--universal).
lock: | $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --generate-hashes --universal \
	  --python-version 3.12 --upgrade -o requirements.lock

.env: | $(STAMP)
	$(PY) scripts/init_env.py .env $(SANDBOX_PORT)

run: $(STAMP) .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py setup_demo --sandbox-url http://127.0.0.1:$(SANDBOX_PORT)/api
	@$(PY) -m sandbox --port $(SANDBOX_PORT) & SANDBOX_PID=$$!; \
	  $(PY) manage.py run_worker --no-reload & WORKER_PID=$$!; \
	  trap "kill $$SANDBOX_PID $$WORKER_PID 2>/dev/null" EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(STAMP) node_modules/.package-lock.json lint test-sqlite test-postgres

# axe-core for the browser tests' accessibility checks, pinned by package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# PNGs of every page (light and dark, desktop and phone) under test-artifacts/screenshots/.
screenshots: $(STAMP) node_modules/.package-lock.json
	env -u DATABASE_URL SCREENSHOTS_DIR=$(TEST_ARTIFACTS)/screenshots $(PY) -m pytest -n 0 \
	  tests/e2e/test_pages.py -k screenshots -q --output $(TEST_ARTIFACTS)/screenshots-run

test-sqlite: $(STAMP)
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(PYTEST) --output $(TEST_ARTIFACTS)/sqlite $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if $(PY) scripts/db_ready.py "$(PG_URL)"; then \
	  echo "== test suite on PostgreSQL ($(PG_URL)) =="; \
	  DATABASE_URL="$(PG_URL)" $(PYTEST) --output $(TEST_ARTIFACTS)/postgres $(PYTEST_ARGS); \
	else \
	  echo "== no PostgreSQL answers at $(PG_URL): ran the suite on SQLite only =="; \
	fi

bench: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
	  || echo "wrk could not be installed: the load benchmark will be skipped"
	$(PY) bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) var
