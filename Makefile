# Revline: `make run` serves the demo, `make test` runs the whole suite. Both set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint migrate demo worker bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/revline migrate --noinput

demo: migrate
	$(BIN)/revline demo

run: demo
	$(BIN)/revline serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: setup lint
	REVLINE_DATABASE_URL=$${REVLINE_DATABASE_URL:-sqlite:///$(CURDIR)/var/check.sqlite3} \
		$(BIN)/revline makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

worker: setup
	$(BIN)/revline worker

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
