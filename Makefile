# The two set-up commands of README.md: `make run` and `make test`. Both work on a fresh machine:
# they create .venv, install the pinned Python set, and build the Rust extension into it.

VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)
PYDIRS   := python tests benches
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: run test build lint rust-test py-test bench clean

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

build: $(STAMP)
	$(VENV)/bin/maturin develop --release --quiet

run: build
	$(VENV)/bin/scaleplan reference

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check $(PYDIRS)
	$(VENV)/bin/ruff format --check $(PYDIRS)

rust-test:
	cargo test --workspace

py-test: build
	$(VENV)/bin/mypy --strict python/
	$(PY) -m mypy.stubtest scaleplan._core
	$(PY) -m pytest

test: lint rust-test py-test

bench: build
	$(PY) benches/run.py

clean:
	rm -rf $(VENV) target
