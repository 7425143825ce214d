# Termtable: `make run` (install, migrate, demo data, serve) and `make test` (install, run the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint format bench clean s3server

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("Termtable needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Without an exported SECRET_KEY the app makes one on first start (instance/secret_key).
# The background worker (jobs: e-mail, large generations, the schedule) runs beside the web
# server and stops with it (Ctrl-C).
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask worker & worker=$$!; trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(BIN)/flask run --host $(HOST) --port $(PORT)

test: install s3server
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The S3-compatible server the storage tests run against (s3rver, from tests/s3server's
# package-lock.json). Without npm those tests are skipped (REQUIRE_S3=1 fails them instead).
s3server:
	@if ! command -v npm >/dev/null; then \
		echo "npm not found: the S3 storage tests will be skipped"; \
	elif [ ! tests/s3server/node_modules/.package-lock.json -nt tests/s3server/package-lock.json ]; then \
		cd tests/s3server && npm ci --no-audit --no-fund --loglevel=error; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/grid.py
	$(BIN)/python bench/login_flood.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis tests/s3server/node_modules
