#!/usr/bin/env bash
# Generate the Python modules of proto/scaleplan/v1/*.proto (messages, gRPC stubs and mypy stubs)
# with the pinned grpcio-tools and mypy-protobuf of .venv.
#   scripts/gen_protos.sh            regenerate python/scaleplan/v1/ in place
#   scripts/gen_protos.sh --check    regenerate into a temporary directory and fail on any drift
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VIRTUAL_ENV:-$PWD/.venv}"
PY="$VENV/bin/python"
DEST=python/scaleplan/v1

generate() {  # $1: output root (a python-source directory)
    mkdir -p "$1/scaleplan/v1"
    # grpc_tools.protoc adds its bundled well-known types to the include path itself;
    # the mypy plugins are found on PATH.
    PATH="$VENV/bin:$PATH" "$PY" -m grpc_tools.protoc -Iproto \
        --python_out="$1" --mypy_out=quiet:"$1" proto/scaleplan/v1/*.proto
    # Services live in planner.proto only; the other files would get empty *_grpc modules.
    PATH="$VENV/bin:$PATH" "$PY" -m grpc_tools.protoc -Iproto \
        --grpc_python_out="$1" --mypy_grpc_out=quiet:"$1" proto/scaleplan/v1/planner.proto
}

if [[ "${1:-}" == "--check" ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    # Compare the generated files only (v1/__init__.py is hand-written).
    if ! diff -r -x __init__.py -x __pycache__ "$tmp/scaleplan/v1" "$DEST"; then
        echo "error: $DEST drifted from proto/; run 'make proto' and commit the result" >&2
        exit 1
    fi
    echo "generated stubs match proto/"
else
    rm -f "$DEST"/*_pb2.py "$DEST"/*_pb2.pyi "$DEST"/*_pb2_grpc.py "$DEST"/*_pb2_grpc.pyi
    generate python
    echo "regenerated $DEST"
fi
