# The two commands of the README:  make demo   (a real inversion: figures + summary)
#                                  make test   (ruff, mypy and the test suite)
# Both run the idempotent set-up first (Debian's FEniCSx, .venv, the package).
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= results/flagship

.PHONY: setup demo demo-quick test test-fast test-sweep test-debian13 lint typecheck peers \
	benchmark-function-space clean docs

setup:
	@VENV=$(VENV) ./tools/setup.sh

demo: setup
	$(PY) examples/schrodinger_flagship.py --output $(OUT)

demo-quick: setup
	$(PY) examples/schrodinger_flagship.py --quick --output $(OUT)-quick

# the API reference (from the docstrings) and the tutorials, as HTML in docs/_build/html;
# offline, warnings are errors
docs: setup
	$(PY) -m sphinx -b html -W --keep-going docs docs/_build/html

lint: setup
	$(PY) -m ruff check .

# mypy on bayesinv/ (configured in pyproject.toml: the scientific stack other than numpy is Any)
typecheck: setup
	$(PY) -m mypy

test: lint typecheck
	$(PY) -m pytest

# the quick loop while developing (< 60 s on 2 cores): everything but the tests marked slow
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# every statistical test with SEEDS seeds under each OpenBLAS kernel this CPU supports
# (OPENBLAS_CORETYPE is set only for those pytest processes): failures vs their stated rates
SEEDS ?= 20
KERNELS ?=
test-sweep: setup
	$(PY) tools/test_sweep.py --seeds $(SEEDS) $(if $(KERNELS),--kernels $(KERNELS))

# `make test` inside a Debian 13 root (dolfinx 0.9, Python 3.13, numpy 2): debootstrap once,
# cached in DEBIAN13_ROOT (outside the repo), then a fresh clone of HEAD. Needs root.
DEBIAN13_ROOT ?= /var/tmp/bayesinv-debian13
test-debian13:
	DEBIAN13_ROOT=$(DEBIAN13_ROOT) ./tools/test-debian13.sh

# the peers that benchmarks/function_space.py compares against: legacy FEniCS (Debian 12's
# python3-dolfin) and hIPPYlib in their own venv (PEERS_VENV, default /work/peers/hippylib-venv)
peers:
	./tools/install-peers.sh

# low-rank Laplace samplers at 32², 64², 128² side by side with hIPPYlib (long: about an hour)
benchmark-function-space: setup peers
	$(PY) benchmarks/function_space.py --fine --peer-meshes 32 64 128

clean:
	rm -rf results .pytest_cache .ruff_cache .mypy_cache docs/_build
