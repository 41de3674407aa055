# costwatch — two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PG_URL ?= postgres://postgres@127.0.0.1:5432/costwatch
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install install-dev serve bench lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  costwatch demo: http://$(HOST):$(PORT)/   log in as  demo / demo-password"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# Unit + integration + browser tests on SQLite, then the suite again on PostgreSQL with a
# real Celery worker on Redis (every test that uses a database: the others gave their
# answer in the first pass), each on two pytest-xdist workers (each with its own test
# database). COSTWATCH_REQUIRE_SERVICES=1 (CI) turns a missing service
# into a failure instead of a skip.
test: install-dev
	$(PY) bench/imports_graph.py
	$(PY) -m pytest -m "not services" -n 2 -p no:cacheprovider
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL pass =="; \
		DATABASE_URL=$(PG_URL) COSTWATCH_DB_TESTS_ONLY=1 $(PY) -m pytest -m "not e2e" -n 2 -p no:cacheprovider; \
	elif [ "$$COSTWATCH_REQUIRE_SERVICES" = "1" ]; then \
		echo "PostgreSQL at $(PG_URL) is required (COSTWATCH_REQUIRE_SERVICES=1) but not reachable"; exit 1; \
	else \
		echo "!! PostgreSQL not reachable at $(PG_URL): the PostgreSQL/Celery pass was SKIPPED"; \
	fi

bench: install-dev
	$(PY) bench/ingest.py

lint: install-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) costwatch.sqlite3 staticfiles
