# Each target sets up what it needs, so a fresh clone needs one command for each job.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The server on the embedded PostgreSQL (started on first use under $$FLOWPILOT_HOME, default
# ~/.flowpilot) with an in-process worker and scheduler, and the examples as demo workflows.
run: setup
	$(BIN)/flowpilot serve --demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/compile.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
