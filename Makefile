# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Each creates the project venv (.venv) and installs what it needs on first use: `run` only the
# examples extra (pandas, pyarrow, scikit-learn), `test`/`lint`/`bench` the test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-examples
TEST_STAMP := $(VENV)/.installed
# Test files run on this many pytest-xdist workers (each file on one worker; each worker starts its
# own PostgreSQL, S3, Azurite and Redis; the Docker engine is shared). The end-to-end stack tests
# spend most of their time waiting on Airflow's scheduler loops, so two workers overlap well on 2 cores.
TEST_WORKERS ?= 2

.PHONY: run test lint bench clean

$(RUN_STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[examples]'
	touch $(RUN_STAMP)

# The test extras include the examples extra, so this stamp also stands for the run stamp.
# System packages first: mysqlclient (test extras) compiles against libmariadb-dev.
$(TEST_STAMP): setup.cfg pyproject.toml
	scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[test]'
	touch $(TEST_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(BIN)/python dags_examples/seed_pipelines.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy airflow_mlw

test: $(TEST_STAMP) lint
	scripts/system-deps.sh
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/run_all.py --markdown test-artifacts/benchmarks.md

clean:
	rm -rf $(VENV) .cache build *.egg-info
