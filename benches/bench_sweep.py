"""``scaleplan sweep`` to CSV and Parquet, and CSV cell formatting against Python's csv module
(the writer the CLI used before ``_core.csv_lines``), on the same columns in one run.

The grid is examples/sweep_qwen3.toml with 480 generation lengths (2,073,600 rows; 120 with
--quick). Rows/s are of the whole command in-process (pricing, formatting, writing), in wall
time and in the process's CPU time (all threads; other work on a shared machine inflates it far
less than the wall time), with the process's peak resident memory (the sweep's memory is
bounded by its chunks, not the grid); the formatting rows compare CPU time
(``time.process_time``) of the two formatters on the same 65,536 rows, whose outputs are
checked to be byte-identical.
"""

from __future__ import annotations

import csv
import io
import math
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scaleplan import _core
from scaleplan.cli import main as cli_main
from scaleplan.commands import _pricing
from scaleplan.commands._output import _csv_cell, plain

REPO = Path(__file__).resolve().parents[1]
EXACT = 2.0**53


def python_cells(column: Any, n: int) -> list[Any]:
    """One column's cells as the Python writer made them (whole numbers as ints, NaN empty)."""
    if not isinstance(column, np.ndarray):
        return [_csv_cell(plain(column))] * n
    if column.dtype.kind == "f":
        whole = np.isfinite(column) & (np.abs(column) < EXACT) & (column == np.rint(column))
        if whole.all():
            return column.astype(np.int64).tolist()  # type: ignore[no-any-return]
    return [_csv_cell(v) for v in column.tolist()]


def python_csv(columns: list[Any], n: int) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        zip(*[python_cells(c, n) for c in columns], strict=True)
    )
    return out.getvalue()


def grid(tmp: Path, lengths: int) -> Path:
    text = (REPO / "examples" / "sweep_qwen3.toml").read_text()
    path = tmp / "grid.toml"
    path.write_text(text.replace('"1024:32768:11"', f'"1024:32768:{lengths}"'))
    return path


def sweep_rate(path: Path, out: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of the sweep to ``out``, and the file's size."""
    start, start_cpu = time.perf_counter(), time.process_time()
    code = cli_main(["sweep", "--grid", str(path), "--out", str(out)])
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert code == 0
    return seconds, cpu, out.stat().st_size


def formatting(n: int = 1 << 16) -> dict[str, float]:
    import scaleplan as sp

    cost = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=512,
        gen_tokens=np.linspace(1024, 32768, n),
        serving=sp.Serving(batch="max"),
    )
    columns: list[Any] = ["qwen3-8b", "h100-sxm", 1, "dense"]
    columns += [np.full(n, 512.0), np.linspace(1024, 32768, n), 1.0, None, None, "max"]
    columns += [True, "per_query", True, "additive", "bf16", "bf16", "bf16"]
    columns += [np.ravel(getattr(cost, f)) for f in _pricing.COST_FIELDS]
    best_rust = best_python = math.inf
    for _ in range(3):
        start = time.process_time()
        rust = _core.csv_lines(columns, n).decode()
        best_rust = min(best_rust, time.process_time() - start)
        start = time.process_time()
        python = python_csv(columns, n)
        best_python = min(best_python, time.process_time() - start)
    assert rust == python, "the two formatters disagree"
    cells = n * len(columns)
    return {
        "rows": n,
        "cells": cells,
        "binding_ns_per_cell_cpu": best_rust / cells * 1e9,
        "python_csv_ns_per_cell_cpu": best_python / cells * 1e9,
        "binding_rows_per_s_cpu": n / best_rust,
        "python_rows_per_s_cpu": n / best_python,
        "ratio": best_python / best_rust,
    }


def main(quick: bool = False) -> dict[str, Any]:
    fmt = formatting()
    print("CSV cell formatting, the sweep's row layout (37 fields), CPU time, best of 3")
    print(
        f"  _core.csv_lines {fmt['binding_ns_per_cell_cpu']:.0f} ns/cell "
        f"({fmt['binding_rows_per_s_cpu']:,.0f} rows/s); Python csv module "
        f"{fmt['python_csv_ns_per_cell_cpu']:.0f} ns/cell "
        f"({fmt['python_rows_per_s_cpu']:,.0f} rows/s); ratio {fmt['ratio']:.1f}x; "
        "byte-identical"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = grid(tmp, 120 if quick else 480)
        rows = 47_520 // 11 * (120 if quick else 480)
        csv_s, csv_cpu, csv_bytes = sweep_rate(path, tmp / "out.csv")
        parquet_s, parquet_cpu, parquet_bytes = sweep_rate(path, tmp / "out.parquet")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scaleplan sweep, {rows:,} rows, whole command in-process (goal >= 1M rows/s)")
    print(
        f"  CSV {rows / csv_cpu:,.0f} rows/s CPU ({rows / csv_s:,.0f} wall, "
        f"{csv_bytes / 1e6:.0f} MB); Parquet {rows / parquet_cpu:,.0f} rows/s CPU "
        f"({rows / parquet_s:,.0f} wall, {parquet_bytes / 1e6:.0f} MB, zstd); "
        f"peak RSS of the process {peak_mb:.0f} MB"
    )
    return {
        "formatting": fmt,
        "sweep": {
            "rows": rows,
            "csv_rows_per_s": rows / csv_s,
            "csv_rows_per_s_cpu": rows / csv_cpu,
            "parquet_rows_per_s_cpu": rows / parquet_cpu,
            "peak_rss_mb": peak_mb,
            "csv_bytes": csv_bytes,
            "parquet_rows_per_s": rows / parquet_s,
            "parquet_bytes": parquet_bytes,
        },
    }
