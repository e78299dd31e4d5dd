# Convenience wrappers around tasks.py (which needs nothing but Python 3.11).
PYTHON ?= python3

.PHONY: demo test bench clean

demo:
	$(PYTHON) tasks.py demo

test:
	$(PYTHON) tasks.py test

bench:
	$(PYTHON) tasks.py bench

clean:
	rm -rf .venv results .pytest_cache .ruff_cache .hypothesis
