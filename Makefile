# Two entry points that work on a fresh machine with only Python 3.11:
#   make demo   sets up .venv, simulates scenarios/paper.yaml, prints the summary
#   make test   sets up .venv and runs the test suite (and ruff)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/distsim run scenarios/paper.yaml

test: $(STAMP)
	$(BIN)/ruff check distsim tests benchmarks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache .hypothesis
