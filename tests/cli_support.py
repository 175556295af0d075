"""Helpers of the CLI tests: run the real ``scaleplan`` console script as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scaleplan.commands._output import plain

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120


def command() -> list[str]:
    """The installed console script (the one beside this interpreter, as in .venv/bin), else
    the module."""
    beside = Path(sys.executable).parent / "scaleplan"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("scaleplan")
    return [found] if found else [sys.executable, "-m", "scaleplan.cli"]


def run(*args: str, cwd: Path | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=cwd or REPO,
        **kwargs,
    )


def ok(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    out = run(*args, **kwargs)
    assert out.returncode == 0, out.stderr
    return out


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def usage_error(out: subprocess.CompletedProcess[str], option: str) -> None:
    """Exit 2 with one line ``scaleplan: error: OPTION...`` on stderr and nothing on stdout."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"scaleplan: error: {option}"), out.stderr
    assert out.stdout == ""


def png_ok(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000, len(data)


def assert_plan_row(row: dict[str, Any], plan: Any) -> None:
    """A JSON line (or a parsed CSV row, as text) holds every field of a scalar plan."""
    for name, value in plan.to_dict().items():
        got = row[name]
        value = plain(value)  # as written: records (a plan's `extrapolated`) as dicts
        if isinstance(value, dict) and isinstance(got, str):  # CSV: a record as one JSON cell
            got = json.loads(got)
        if isinstance(value, list):
            if isinstance(got, str):  # CSV: one cell of JSON, empty for none
                got = json.loads(got) if got else []
            assert got == value, name
            continue
        if isinstance(got, str) and not isinstance(value, str):
            got = None if got == "" else {"true": True, "false": False}.get(got, got)
            if isinstance(value, float) and got is not None:
                got = float(got)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            assert got in (None, float("inf")), name
        elif isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12, abs=0), name
        else:
            assert got == value, name
