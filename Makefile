# The two commands of the README:  make demo   (a real inversion: figures + summary)
#                                  make test   (ruff + the test suite)
# Both run the idempotent set-up first (Debian's FEniCSx, .venv, the package).
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= results/flagship

.PHONY: setup demo demo-quick test test-fast lint benchmarks clean

setup:
	@VENV=$(VENV) ./tools/setup.sh

demo: setup
	$(PY) examples/schrodinger_flagship.py --output $(OUT)

demo-quick: setup
	$(PY) examples/schrodinger_flagship.py --quick --output $(OUT)-quick

lint: setup
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf results .pytest_cache .ruff_cache
