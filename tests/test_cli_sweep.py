"""``scaleplan sweep``, run as a subprocess: one row per grid point, streamed in bounded memory."""

from __future__ import annotations

import itertools
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import scaleplan as sp
from cli_support import REPO, command, csv_rows, json_lines, ok, run, usage_error

SMALL = """
model = ["qwen3-0.6b", "qwen3-8b"]
hardware = "h100-sxm"
prompt_tokens = [128, 512]
gen_tokens = "1024:8192:4"
samples = [1, 8]
attention = ["dense", "block_topk:512:16", "block_topk:2048:16"]
batch = ["max", 32]
"""


def scenario(tmp_path: Path, text: str, name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_one_row_per_grid_point_equal_to_the_python_api(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    out = tmp_path / "out.jsonl"
    ok("sweep", "--grid", str(grid), "--out", str(out))
    rows = json_lines(out.read_text())
    # Three attentions (each a setting), batch max or 32.
    attention = [("dense", None), ("block_topk:512:16", 512), ("block_topk:2048:16", 2048)]
    expected = list(
        itertools.product(
            ["qwen3-0.6b", "qwen3-8b"],
            attention,
            ["max", 32],
            [128, 512],
            [1024, 2048, 4096, 8192],
            [1, 8],
        )
    )
    assert len(rows) == len(expected) == 2 * 3 * 2 * 2 * 4 * 2
    keys = {
        (
            r["model"],
            (r["attention"], r["kv_budget"]),
            r["requested_batch"],
            r["prompt_tokens"],
            r["gen_tokens"],
            r["samples"],
        )
        for r in rows
    }
    assert keys == set(expected)  # every grid point, each once
    for r in rows[::7]:
        c = sp.inference_cost(
            r["model"],
            "h100-sxm",
            prompt_tokens=r["prompt_tokens"],
            gen_tokens=r["gen_tokens"],
            samples=r["samples"],
            attention=r["attention"],
            serving=sp.Serving(batch=r["requested_batch"], gpus=1),
        )
        assert r["eflops"] == pytest.approx(c.eflops, rel=1e-12)
        assert r["latency_s"] == pytest.approx(c.latency_s, rel=1e-12)
        assert r["max_batch"] == c.max_batch and r["feasible"] == c.feasible


def test_csv_output_parses(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    out = tmp_path / "out.csv"
    done = ok("sweep", "--grid", str(grid), "--out", str(out))
    rows = csv_rows(out.read_text())
    assert len(rows) == 192
    assert f"wrote {len(rows)} rows" in done.stderr
    assert "\r" not in done.stderr  # no progress bar when stderr is not a terminal
    assert {r["kv_budget"] for r in rows if r["attention"] == "dense"} == {""}
    assert all(float(r["eflops"]) >= float(r["flops"]) for r in rows)


def test_stdout_with_format(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    out = ok("sweep", "--grid", str(grid), "--out", "-", "--format", "jsonl")
    assert len(json_lines(out.stdout)) == 192


def test_the_example_scenario_runs(tmp_path: Path) -> None:
    out = tmp_path / "example.csv"
    ok("sweep", "--grid", str(REPO / "examples" / "sweep_qwen3.toml"), "--out", str(out))
    with out.open() as f:
        assert sum(1 for _ in f) == 47_520 + 1


def test_100k_points_in_bounded_memory(tmp_path: Path) -> None:
    """100,000 rows stream through in chunks: the child's peak RSS stays far below what holding
    the grid (tens of MB of floats, hundreds as Python objects) would take."""
    grid = scenario(
        tmp_path,
        """
        model = "qwen3-8b"
        hardware = "h100-sxm"
        prompt_tokens = "100:1000:10:lin"
        gen_tokens = "1000:100000:100:lin"
        samples = "1:100:100:lin"
        batch = "max"
    """,
    )
    out = tmp_path / "big.csv"
    # A fresh interpreter runs the sweep, so RUSAGE_CHILDREN covers that one child only.
    probe = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:]).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command(), "sweep", "--grid", str(grid), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    rc, peak_kib = done.stdout.split()
    assert rc == "0", done.stderr
    assert int(peak_kib) < 300 * 1024, f"peak RSS {int(peak_kib) / 1024:.0f} MB"
    with out.open() as f:
        assert sum(1 for _ in f) == 100_000 + 1


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*command(), "sweep", "--grid", str(grid), "--out", str(tmp_path / "o.csv")],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=60,
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"\r[" in seen and b"192/192 rows" in seen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('model = "qwen3-8b"\nhardwre = "h100-sxm"\n', "unknown key 'hardwre'"),
        ('model = "qwen3-8b"\nprompt_tokens = 1\ngen_tokens = 1\n', "hardware is required"),
        (SMALL + "gpus = [1, 0]\n", "gpus: must be >= 1"),
        (SMALL.replace("[1, 8]", "[1, 0]"), "samples: must be >= 1"),
        (SMALL.replace('"1024:8192:4"', '"1024:x:4"'), "gen_tokens: not a number"),
        (SMALL.replace("qwen3-0.6b", "qwen9"), "model: unknown model 'qwen9'"),
        (SMALL.replace("batch = [", "batch = [0, "), "batch: must be >= 1"),
        (SMALL + "prefill = 1\n", "prefill: expected true or false"),
        (SMALL + "kv_budget = 1024\n", "kv_budget: give it in the attention's spelling"),
        (SMALL.replace('"dense", ', '"dense:4", '), "attention: 'dense:4': expected dense, topk:S"),
        ("model = [\n", ""),
    ],
)
def test_bad_scenarios_exit_2_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    grid = scenario(tmp_path, text)
    out = tmp_path / "out.csv"
    done = run("sweep", "--grid", str(grid), "--out", str(out))
    usage_error(done, f"--grid {grid}: {message}")
    assert not out.exists() and list(tmp_path.iterdir()) == [grid]  # nothing half-written


def test_grid_size_cap(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    done = run("sweep", "--grid", str(grid), "--out", str(tmp_path / "o.csv"), "--max-rows", "100")
    usage_error(done, f"--grid {grid}: 192 rows exceed the cap of 100")
    big = scenario(
        tmp_path,
        SMALL.replace("[1, 8]", '"1:1000:1000:lin"').replace(
            '"1024:8192:4"', '"1:1e9:1000000:lin"'
        ),
        "big.toml",
    )
    usage_error(run("sweep", "--grid", str(big), "--out", str(tmp_path / "o.csv")), "--grid")


def test_output_name_and_missing_file(tmp_path: Path) -> None:
    grid = scenario(tmp_path, SMALL)
    usage_error(run("sweep", "--grid", str(grid), "--out", str(tmp_path / "o.json")), "--out")
    usage_error(run("sweep", "--grid", str(tmp_path / "none.toml"), "--out", "o.csv"), "--grid")


def test_prefill_mode_is_a_setting(tmp_path: Path) -> None:
    grid = scenario(
        tmp_path,
        """
        model = "qwen3-8b"
        hardware = "h100-sxm"
        prompt_tokens = 128
        gen_tokens = 1
        batch = 8
        prefill_mode = ["per_query", "batch"]
        """,
    )
    rows = json_lines(ok("sweep", "--grid", str(grid), "--out", "-", "--format", "jsonl").stdout)
    assert [r["prefill_mode"] for r in rows] == ["per_query", "batch"]
    for r in rows:
        c = sp.inference_cost(
            "qwen3-8b",
            "h100-sxm",
            prompt_tokens=128,
            gen_tokens=1,
            serving=sp.Serving(batch=8, prefill=r["prefill_mode"]),
        )
        assert r["ttft_s"] == pytest.approx(c.ttft_s, rel=1e-12)
    assert rows[1]["ttft_s"] > rows[0]["ttft_s"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--chunk-rows", "0", "must be in [1, 1048576]"),
        ("--chunk-rows", str(2**20 + 1), "must be in [1, 1048576]"),
        ("--max-rows", "0", "must be in [1, 100,000,000]"),
        ("--max-rows", str(10**8 + 1), "must be in [1, 100,000,000]"),
    ],
)
def test_chunk_and_row_bounds(tmp_path: Path, option: str, value: str, message: str) -> None:
    """The bounds of scaleplan.sweep (docs/limits.md), named by the option."""
    grid = scenario(tmp_path, SMALL)
    done = run("sweep", "--grid", str(grid), "--out", str(tmp_path / "o.csv"), option, value)
    usage_error(done, f"{option}: {message}")
