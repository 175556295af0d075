"""Sweeps to CSV (formatted in the binding), Parquet and Arrow record batches
(docs/architecture.md, "Sweeps")."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scaleplan as sp
from cli_support import REPO, run
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan import _core
from scaleplan.commands._output import _csv_cell, plain

GRID = REPO / "examples" / "sweep_qwen3.toml"


def python_csv(columns: list[Any], n: int) -> str:
    """What the Python writer writes for these columns: each cell through ``_csv_cell`` and
    the csv module (the reference the binding must match byte for byte)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i in range(n):
        row = []
        for c in columns:
            value = c[i] if isinstance(c, np.ndarray | list) else c
            row.append(_csv_cell(plain(value)))
        writer.writerow(row)
    return out.getvalue()


def test_numbers_format_as_python_writes_them_over_random_bit_patterns() -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63, 100_000, dtype=np.int64).view(np.uint64) * np.uint64(2)
    x = (bits + rng.integers(0, 2, 100_000).astype(np.uint64)).view(np.float64)
    scaled = rng.random(50_000) * 10.0 ** rng.integers(-8, 20, 50_000)
    wholes = np.round(rng.random(20_000) * 10.0 ** rng.integers(0, 17, 20_000))
    edges = np.array(
        [0.0, -0.0, 0.1, 1e-4, 1e-5, 1e16, 1.5e16, 2.0**53, 2.0**53 - 1, -(2.0**53), 2.0**60]
    )
    extremes = np.array([5e-324, 1.7976931348623157e308, np.nan, np.inf, -np.inf, 123456789012.5])
    values = np.concatenate([edges, extremes, x, scaled, -scaled, wholes])
    got = _core.csv_lines([values], len(values)).decode()
    assert got == python_csv([values], len(values))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_numbers_property(values: list[float]) -> None:
    array = np.array(values, dtype=np.float64)
    assert _core.csv_lines([array], len(array)).decode() == python_csv([array], len(array))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=8), min_size=1, max_size=20)
)
def test_text_is_quoted_as_the_csv_module_quotes_it(texts: list[str]) -> None:
    n = len(texts)
    columns: list[Any] = [np.array(texts, dtype=object), "a,b", 'say "x"', None, True, 3, 2.5]
    assert _core.csv_lines(columns, n).decode() == python_csv(columns, n)


def test_a_call_after_a_larger_one_writes_only_its_own_lines() -> None:
    """The binding keeps its line buffer between calls (rust/python/src/csvfmt.rs): nothing of
    an earlier, longer output may leak into a later one."""
    long = np.arange(5000, dtype=np.float64) * 1.5
    assert _core.csv_lines([long, "x"], 5000).decode() == python_csv([long, "x"], 5000)
    short = np.array([0.25, 2.0, -1e-7])
    assert _core.csv_lines([short], 3).decode() == "0.25\n2\n-1e-07\n"
    assert _core.csv_lines([], 0) == b""


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "latin-1", None])
def test_row_writer_output_is_the_same_through_any_stream(encoding: str | None) -> None:
    """CSV columns go straight to a UTF-8 text stream's binary buffer (no decode and encode);
    through a stream of another encoding, or one without a buffer, as text: the same rows in
    the same order either way, also when rows written as mappings follow columns."""
    from scaleplan.commands._output import RowWriter

    def write(stream: Any) -> None:
        writer = RowWriter(stream, "csv", ["model", "x", "flag"])
        writer.write_columns({"model": "qwén", "x": np.array([1.0, 0.5]), "flag": True}, 2)
        writer.write_rows([{"model": "a,b", "x": 3.0}])
        writer.write_columns({"model": "z", "x": np.array([1e-9]), "flag": False}, 1)
        stream.flush()

    want = 'model,x,flag\nqwén,1,true\nqwén,0.5,true\n"a,b",3,\nz,1e-09,false\n'
    if encoding is None:
        text = io.StringIO(newline="")
        write(text)
        assert text.getvalue() == want
        return
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, newline="")
    write(stream)
    assert raw.getvalue().decode(encoding) == want


def test_flags_and_repeated_cells() -> None:
    flags = np.array([True, False, True])
    assert _core.csv_lines([flags, False, 7, 1e-7, None, "x"], 3) == (
        b"true,false,7,1e-07,,x\nfalse,false,7,1e-07,,x\ntrue,false,7,1e-07,,x\n"
    )


def test_a_column_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match=r"columns\[1\]: 2 values for 3 rows"):
        _core.csv_lines([np.zeros(3), np.zeros(2)], 3)


def sweep(tmp_path: Path, name: str, *extra: str) -> Path:
    out = tmp_path / name
    done = run("sweep", "--grid", str(GRID), "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return out


def test_sweep_csv_is_what_the_python_writer_writes(tmp_path: Path) -> None:
    """The whole example sweep (47,520 rows: infeasible rows with NaN cells, whole and
    fractional numbers, text) against the rows formatted cell by cell in Python."""
    text = sweep(tmp_path, "a.csv").read_text()
    header, _, body = text.partition("\n")
    table = pq.read_table(sweep(tmp_path, "a.parquet"))
    assert header.split(",") == table.column_names
    columns = []
    for name in table.column_names:
        values = table.column(name).to_pylist()
        kind = table.schema.field(name).type
        if pa.types.is_floating(kind):
            columns.append(np.array([math.nan if v is None else v for v in values]))
        else:
            columns.append(values)
    assert body == python_csv(columns, table.num_rows)


def test_parquet_sweep_types_and_values(tmp_path: Path) -> None:
    table = pq.read_table(sweep(tmp_path, "s.parquet"))
    rows = list(csv.DictReader(sweep(tmp_path, "s.csv").open()))
    assert table.num_rows == len(rows) == 47_520
    schema = table.schema
    assert pa.types.is_dictionary(schema.field("model").type)
    assert pa.types.is_boolean(schema.field("feasible").type)
    assert schema.field("eflops").type == pa.float64()
    dense = [i for i, r in enumerate(rows) if r["attention"] == "dense"]
    assert table.column("kv_budget").take(dense[:10]).null_count == 10
    names = ("model", "attention", "requested_batch", "prompt_tokens", "eflops", "binding")
    fixed = next(i for i, r in enumerate(rows) if r["requested_batch"] == "64")
    for name in (*names, "latency_s"):
        got = table.column(name).to_pylist()
        for i in (0, 1, 777, fixed, fixed + 1, len(rows) - 1):
            want = rows[i][name]
            value = got[i]
            if isinstance(value, float):
                assert value == float(want)
            else:
                assert str(value) == want


def test_parquet_dictionary_pages_only_for_text(tmp_path: Path) -> None:
    """Text columns are dictionary-encoded in the file; numbers and flags are not (trying a
    dictionary on every float column tripled the writer's CPU time)."""
    out = tmp_path / "s.parquet"
    small = tmp_path / "small.toml"
    small.write_text(
        'model = "qwen3-8b"\nhardware = "h100-sxm"\nprompt_tokens = 128\n'
        'gen_tokens = [1024, 2048, 4096]\nbatch = ["max", 64]\n'
    )
    assert run("sweep", "--grid", str(small), "--out", str(out)).returncode == 0
    meta = pq.ParquetFile(out).metadata
    group = meta.row_group(0)
    encodings = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(meta.num_columns)
    }
    for name in ("model", "attention", "requested_batch", "binding"):
        assert any("DICTIONARY" in e for e in encodings[name]), (name, encodings[name])
    for name in ("eflops", "prompt_tokens", "feasible"):
        assert not any("DICTIONARY" in e for e in encodings[name]), (name, encodings[name])


def test_parquet_to_stdout(tmp_path: Path) -> None:
    small = tmp_path / "small.toml"
    small.write_text(
        'model = "qwen3-8b"\nhardware = "h100-sxm"\nprompt_tokens = 128\n'
        "gen_tokens = [1024, 2048]\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaleplan.cli",
            "sweep",
            "--grid",
            str(small),
            "--out",
            "-",
            "--format",
            "parquet",
        ],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(io.BytesIO(done.stdout))
    assert table.column("gen_tokens").to_pylist() == [1024.0, 2048.0]


def test_record_batches_are_the_sweep_in_chunks() -> None:
    args: dict[str, Any] = {
        "prompt_tokens": [128, 512],
        "gen_tokens": [1024, 4096, 8192],
        "attention": ["topk:1024", "topk:4096"],
    }
    batches = list(
        sp.iter_inference_cost_record_batches("qwen3-8b", "h100-sxm", **args, chunk_size=5)
    )
    assert [b.num_rows for b in batches] == [5, 5, 2]
    table = pa.Table.from_batches(batches)
    whole = sp.inference_cost_sweep("qwen3-8b", "h100-sxm", **args)
    assert table.column("eflops").to_pylist() == np.ravel(whole.eflops).tolist()
    assert table.column("binding").to_pylist() == np.ravel(whole.binding).tolist()
    assert table.column("attention").to_pylist() == ["topk:1024", "topk:4096"] * 6
    assert table.column("gen_tokens").to_pylist() == [1024.0, 1024.0, 4096.0, 4096.0] * 1 + [
        8192.0,
        8192.0,
    ] + [1024.0, 1024.0, 4096.0, 4096.0, 8192.0, 8192.0]
