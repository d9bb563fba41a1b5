# homelab — `make run` runs the main job on the reference lab; `make test` runs the tests.
# Both create .venv and install every dependency on a fresh machine (Python is all it needs;
# Debian packages the integration tests need are installed with apt when missing).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB    := examples/reference/homelab.yaml
OUT    := build/reference

.PHONY: run test test-fast deps system-deps sandbox-rootfs bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,engines]'
	bash scripts/test-collections.sh
	touch $(STAMP)

deps: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

run: deps
	bash scripts/run-reference.sh

# As root the test session re-executes itself in a network namespace of its own (loopback and the test
# hosts' links only, no default route: tests/conftest.py, tests/netguard/); the sandbox hosts' root
# filesystem is built before that, while a Debian mirror is still reachable.
test: deps system-deps sandbox-rootfs
	$(BIN)/python -m pytest -q

sandbox-rootfs: deps
	@bash scripts/sandbox-rootfs.sh

# The inner loop: no real validators or engines, no root-only test hosts, on every core.
test-fast: deps
	$(BIN)/python -m pytest -q -m "not validators and not root" -n auto --dist loadfile

bench: deps
	$(BIN)/python bench/run.py

lint: deps
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) build .pytest_cache
