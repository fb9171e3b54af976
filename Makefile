# Redress — the two commands a new machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
export FLASK_APP := app

.PHONY: run test install install-test translations messages bench clean

run: $(VENV)/.installed translations ## Set up and start the portal (web and clock) on SQLite with demo data
	mkdir -p instance
	PORTAL_ENV=development $(BIN)/flask db upgrade
	PORTAL_ENV=development $(BIN)/flask demo load
	PORTAL_ENV=development $(BIN)/flask sla recompute
	@echo "Redress is at http://127.0.0.1:5000 (Ctrl-C stops the web server and the clock)"
	PORTAL_ENV=development $(BIN)/python -m portal.devserver --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-test translations ## Lint, then run the whole suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test ## Benchmarks, as ratios against a baseline (bench/README.md)
	$(BIN)/python -m bench

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# constraints.txt pins every package (direct and indirect) so that installs are repeatable.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

translations: $(VENV)/.installed ## Compile the message catalogues (the .mo files are not committed)
	@# pybabel silently skips fuzzy entries and catalogues: refuse them instead.
	@! grep -l "^#, fuzzy" translations/*/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile --domain messages --directory translations --statistics

messages: $(VENV)/.installed ## Extract new strings and merge them into every catalogue
	$(BIN)/pybabel extract --mapping-file babel.cfg --keywords _l --keywords lazy_gettext --keywords N_ \
		--no-location --sort-output --project Redress --output-file translations/messages.pot .
	$(BIN)/pybabel update --input-file translations/messages.pot --output-dir translations \
		--no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
