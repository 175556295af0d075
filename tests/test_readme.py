"""The README's examples run as written: every ```sh command (through the installed
``scaleplan`` entry point) and every ```python block (exec'd, in order, in one namespace), in a
scratch directory that sees the repository's ``examples/``. Only what needs a server is skipped:
``make`` targets, ``scaleplan serve``, ``grpcurl`` and the Python ``sp.Client`` block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import REPO

README = REPO / "README.md"
_BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SERVER_COMMANDS = ("make ",)


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every sh and python block, in README order."""
    return [(m[1], m[2]) for m in _BLOCK.finditer(README.read_text())]


def commands(code: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, ``make`` targets left out; a
    block that starts a server or calls one (the gRPC section) is left out whole."""
    if "scaleplan serve" in code or "grpcurl " in code:
        return []
    joined = code.replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith(_SERVER_COMMANDS)
    ]


def test_the_readme_has_examples_to_run() -> None:
    kinds = [kind for kind, _ in blocks()]
    assert kinds.count("python") >= 4 and kinds.count("sh") >= 3
    cli = [c for kind, code in blocks() if kind == "sh" for c in commands(code)]
    assert sum(c.startswith("scaleplan plan ") for c in cli) >= 5


def test_readme_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MPLBACKEND": "Agg",
    }
    namespace: dict[str, object] = {"__name__": "readme"}
    ran = 0
    for kind, code in blocks():
        if kind == "python":
            if "sp.Client(" in code:  # needs a running server
                continue
            exec(compile(code, f"README.md ({code.splitlines()[0]})", "exec"), namespace)
            ran += 1
            continue
        for command in commands(code):
            done = subprocess.run(
                ["bash", "-c", command],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=300,
            )
            assert done.returncode == 0, (command, done.stderr)
            assert "Traceback" not in done.stderr, (command, done.stderr)
            ran += 1
    assert ran >= 15
    # What the examples say they write is there.
    for name in ("fit.json", "runs.csv", "alloc.png", "results.csv", "frontier.png", "joint.png"):
        assert (tmp_path / name).stat().st_size > 0, name
