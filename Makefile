# Two commands for a fresh machine:
#   make run    install into .venv and serve the app on its embedded default (SQLite, jobs in-process)
#   make test   install what the tests need and run every check CI runs
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install run demo test checks services browser-deps

$(BIN)/coursesignal: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The example third-party plugin (tests/example_plugin) is installed for the tests by its own entry point,
# exactly as a plugin author's package would be; `make run` removes it, so it never shows up in a real app.
EXAMPLE_PLUGIN := coursesignal-example-shop

install: $(BIN)/coursesignal
	@$(BIN)/python -m pip show --quiet $(EXAMPLE_PLUGIN) >/dev/null 2>&1 || \
		$(BIN)/python -m pip install --quiet --no-deps -e tests/example_plugin

run: $(BIN)/coursesignal
	@$(BIN)/python -m pip uninstall --quiet --yes $(EXAMPLE_PLUGIN) >/dev/null 2>&1 || true
	$(BIN)/coursesignal run $(ARGS)

services:
	@bash .ci/services

checks: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=.ci $(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r core adapters coursesignal plugins

# The suite runs on two workers (pytest-xdist): the machines have 2 cores, and much of the suite waits on
# browsers, servers and fault timings. --dist loadgroup keeps each module marked xdist_group on one worker.
TEST_WORKERS ?= 2

test: install services browser-deps checks
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# What the browser tests inject into pages (axe-core), pinned in tests/e2e/axe/package-lock.json, and
# puppeteer-core, which drives firefox-esr over WebDriver BiDi, pinned in tests/e2e/engines/package-lock.json
# (the engines themselves come from Debian, installed by .ci/services).
browser-deps: tests/e2e/axe/node_modules/axe-core/axe.min.js tests/e2e/engines/node_modules/puppeteer-core/package.json

tests/e2e/axe/node_modules/axe-core/axe.min.js: tests/e2e/axe/package-lock.json
	cd tests/e2e/axe && npm ci --no-audit --no-fund --silent
	@touch $@

tests/e2e/engines/node_modules/puppeteer-core/package.json: tests/e2e/engines/package-lock.json
	cd tests/e2e/engines && npm ci --no-audit --no-fund --silent
	@touch $@
