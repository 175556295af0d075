# The two set-up commands of README.md: `make run` and `make test`. Both work on a fresh machine:
# they create .venv, install the pinned Python set, and build the Rust extension into it.

VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)
PYDIRS   := python tests benches
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: run test build lint rust-test py-test bench fuzz clean proto proto-check

$(STAMP): requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

build: $(STAMP)
	$(VENV)/bin/maturin develop --release --quiet

# The gRPC planning service on loopback; it prints a grpcurl line and a Python one-liner.
run: build
	$(VENV)/bin/scaleplan serve --host 127.0.0.1

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check $(PYDIRS)
	$(VENV)/bin/ruff format --check $(PYDIRS)

# Regenerate the committed Python stubs of proto/ (python/scaleplan/v1/*_pb2*.py{,i}).
proto: $(STAMP)
	scripts/gen_protos.sh

# buf lint (STANDARD) and format, stubs in sync with proto/, and no breaking change since the
# last release tag (once a tag with proto/ exists).
proto-check: $(STAMP)
	$(VENV)/bin/buf lint
	$(VENV)/bin/buf format --diff --exit-code
	scripts/gen_protos.sh --check
	@tag=$$(git describe --tags --abbrev=0 2>/dev/null); \
	if [ -n "$$tag" ] && git cat-file -e "$$tag:proto" 2>/dev/null; then \
		$(VENV)/bin/buf breaking --against ".git#tag=$$tag"; \
	else echo "buf breaking: no release tag with proto/ yet, skipped"; fi

rust-test:
	cargo test --workspace

py-test: build
	$(VENV)/bin/mypy --strict python/
	$(PY) -m mypy.stubtest scaleplan._core
	$(PY) -m pytest

test: lint proto-check rust-test py-test

# Peers compared in benches/ (the `chinchilla` package; NVIDIA's `aiconfigurator`) live in their
# own environment, made here only: `make test` and `make run` never install them. `pip check`
# fails the install if the pins of benches/requirements-peers.txt stop agreeing.
PEERS := .venv-peers
$(PEERS)/.installed: benches/requirements-peers.txt
	test -x $(PEERS)/bin/python || python3 -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -r benches/requirements-peers.txt
	$(PEERS)/bin/python -m pip check
	touch $@

bench: build $(PEERS)/.installed
	$(PY) benches/run.py

# The fuzz suites with many more examples than `make test` runs: every RPC against a real server
# and the Python API (minutes).
fuzz: build
	SCALEPLAN_FUZZ=1 $(PY) -m pytest -q tests/test_fuzz_grpc.py tests/test_limits_cancel.py

clean:
	rm -rf $(VENV) $(PEERS) target
