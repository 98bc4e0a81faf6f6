# The two commands in the README, `make run` and `make test`, do all of their
# own set-up on a fresh clone: virtualenv, dependencies, migrations, demo data.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/hotel
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# The benchmark's own database (emptied and refilled by `make bench`) and Redis dbs.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/hotel_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/6
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/7
BENCH_ENV = DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) \
	CELERY_BROKER_URL=$(BENCH_BROKER_URL)

.PHONY: run test lint format migrate worker beat check-services install clean bench loadtest

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Serves http://127.0.0.1:8000. With no environment: SQLite, local-memory cache
# and eager Celery. With DATABASE_URL, REDIS_URL and CELERY_BROKER_URL set: the
# real services, and a Celery worker with beat runs beside the server.
run: $(STAMP)
	mkdir -p var
	$(PY) manage.py ensure_database
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@if [ -n "$$CELERY_BROKER_URL" ]; then \
		echo "Starting a Celery worker with beat on $$CELERY_BROKER_URL"; \
		$(BIN)/celery -A config worker --beat --loglevel=INFO --concurrency=2 & \
		trap "kill $$! 2>/dev/null" EXIT INT TERM; \
		$(PY) manage.py runserver 127.0.0.1:8000; \
	else \
		$(PY) manage.py runserver 127.0.0.1:8000; \
	fi

check-services: $(STAMP)
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m tests.check_services

test: check-services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A backup (restored and checked) comes first when migrations are unapplied;
# `make run` and the test suite call `migrate` directly and take none.
migrate: $(STAMP)
	$(PY) manage.py backup_before_migrate
	$(PY) manage.py migrate --noinput

worker: $(STAMP)
	$(BIN)/celery -A config worker --loglevel=INFO

beat: $(STAMP)
	$(BIN)/celery -A config beat --loglevel=INFO

# Builds the dataset (BENCH_ARGS="--scale 0.1" for a smaller one), times the
# operations, the contention, the notification delivery and the backups (whose
# restore replaces the database with its backup), writes
# benchmarks/results/bench.{md,json}.
bench: $(STAMP)
	$(BENCH_ENV) $(PY) -m benchmarks all $(BENCH_ARGS)

# gunicorn (production settings) on 127.0.0.1 under locust: a fixed run at
# 500 req/s, then steps up; writes benchmarks/results/loadtest.{md,json}.
loadtest: $(STAMP)
	$(BENCH_ENV) $(PY) -m benchmarks loadtest $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
