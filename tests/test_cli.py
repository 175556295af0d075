"""The scaleplan console script, run as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import scaleplan as sp
from scaleplan.plan import ALGORITHMIC_PROGRESS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("scaleplan") or ""
    cmd = [exe, *args] if exe else [sys.executable, "-m", "scaleplan.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_reference_prices_every_model() -> None:
    out = run("reference", "--hardware", "h200")
    assert out.returncode == 0, out.stderr
    for name in sp.catalog()["models"]:
        assert name in out.stdout


def test_catalog_json_equals_the_python_api() -> None:
    out = run("catalog", "--json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)  # entries with their values; names as the Python API lists them
    # Beside the catalog's kinds, the algorithmic-progress table plans use.
    assert [e["name"] for e in doc.pop("progress")] == [ALGORITHMIC_PROGRESS["name"]]
    assert {kind: [e["name"] for e in entries] for kind, entries in doc.items()} == sp.catalog()


def test_unknown_hardware_exits_2_naming_it() -> None:
    out = run("reference", "--hardware", "tpu-v9")
    assert out.returncode == 2
    assert "hardware" in out.stderr and "tpu-v9" in out.stderr
