# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Each creates the project venv (.venv) and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(BIN)/python dags_examples/seed_pipelines.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy airflow_mlw

test: $(STAMP) lint
	scripts/system-deps.sh
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --markdown test-artifacts/benchmarks.md

clean:
	rm -rf $(VENV) .cache build *.egg-info
