"""``scaleplan sweep``: the cartesian product of a TOML scenario's values, priced through
:func:`scaleplan.inference_cost` in chunks and streamed to CSV or JSON lines, in bounded memory.

Scenario file (every key takes one value or a list; see examples/sweep_qwen3.toml)::

    family = "qwen3-dense"          # and/or model = ["qwen3-8b", ...]
    hardware = ["h100-sxm", "h200"]
    gpus = [1, 2]
    streams = [1, 4]                # parallel streams per sequence (ParScale), 1 to 64; default 1
    prompt_tokens = [128, 512]
    gen_tokens = "1024:32768:11"    # numbers, lists, or the command line's list/range syntax
    samples = [1, 4, 16]
    attention = ["dense", "block_topk:1024:16", "topk:4096"]  # as --attention spells it
    batch = ["max", 64]             # "max" (default: the largest that fits), "unset", or sizes
    prefill = true                  # also: prefix_sharing, time_model, *_dtype (one or a list)
    prefill_mode = "per_query"      # or "batch": a static batch's prefill in its TTFT (needs batch)

Rows: every combination of model, hardware, gpus, streams, attention, batch mode and the other
settings (outer loops, in that order), and inside each, of prompt_tokens x gen_tokens x samples x
batch sizes (C order, the last fastest).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaleplan._arrays import FloatArray
from scaleplan.catalog import family
from scaleplan.commands import _common, _parse, _pricing
from scaleplan.commands._output import ParquetRowWriter, RowWriter
from scaleplan.commands._progress import Progress
from scaleplan.serving import DEFAULT_BATCH, Serving
from scaleplan.sweep import (
    DEFAULT_CHUNK_POINTS,
    MAX_CHUNK_POINTS,
    MAX_SWEEP_POINTS,
    iter_inference_cost_sweep,
)

MAX_ROWS = MAX_SWEEP_POINTS
CHUNK_ROWS = DEFAULT_CHUNK_POINTS
FORMATS = {".csv": "csv", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}

_TEXT_KEYS = (
    "model",
    "hardware",
    "attention",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
    "prefill_mode",
)
_BOOL_KEYS = ("prefill", "prefix_sharing")
_NUMERIC_KEYS = ("prompt_tokens", "gen_tokens", "samples")
KEYS = ("family", *_TEXT_KEYS, "gpus", "streams", *_BOOL_KEYS, *_NUMERIC_KEYS, "batch")
_DEFAULTS: dict[str, list[Any]] = {
    "gpus": [1],
    "attention": ["dense"],
    "time_model": ["additive"],
    "weight_dtype": ["bf16"],
    "kv_dtype": ["bf16"],
    "compute_dtype": ["bf16"],
    "prefill": [True],
    "prefix_sharing": [True],
    "prefill_mode": ["per_query"],
}


def _plain(doc: str) -> str:
    """The module docstring as plain text for ``--help``: no reStructuredText markup."""
    text = re.sub(r":\w+:`([^`]+)`", r"\1", doc)  # :func:`scaleplan.x` -> scaleplan.x
    text = text.replace("``", "").replace("::\n", ":\n")
    return text.strip()


def register(sub: _common.Subparsers) -> None:
    p = _common.add_command(
        sub,
        "sweep",
        help="price a grid of scenarios from a TOML file, streamed to CSV, JSON lines or Parquet",
        description=_plain(__doc__ or "")
        + f"\n\nChunks of {CHUNK_ROWS:,} rows per core call; a progress bar on stderr when it "
        "is a terminal. The output appears only when complete (written beside it, then "
        "renamed).",
        examples=[
            "scaleplan sweep --grid examples/sweep_qwen3.toml --out results.csv",
            "scaleplan sweep --grid examples/sweep_qwen3.toml --out - --format jsonl | head",
            "scaleplan sweep --grid examples/sweep_qwen3.toml --out results.parquet",
        ],
    )
    p.add_argument("--grid", required=True, metavar="SCENARIO.toml", help="the grid to price")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="FILE.csv, FILE.jsonl, FILE.parquet (Arrow types: text dictionary-encoded, "
        "flags boolean, numbers float64, not-applicable null; zstd), or - for stdout",
    )
    p.add_argument(
        "--format", choices=("csv", "jsonl", "parquet"), help="output format (default: from --out)"
    )
    p.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        help=f"refuse larger grids (default and most: {MAX_ROWS:,})",
    )
    p.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


@dataclass
class Group:
    setting: _pricing.Setting
    axes: dict[str, FloatArray]
    rows: int


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def load(path: str) -> dict[str, Any]:
    """The scenario's keys, checked; each a list of values (numeric ones parsed)."""
    option = f"--grid {path}"
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise _parse.UsageError("--grid", f"no such file: {path!r}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _parse.UsageError(option, str(exc)) from None
    for key in ("kv_budget", "block_size"):
        if key in data:
            raise _parse.UsageError(
                option,
                f"{key}: give it in the attention's spelling, e.g. attention = "
                '["topk:1024", "block_topk:1024:16"]',
            )
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise _parse.UsageError(option, f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    for key in ("hardware", "prompt_tokens", "gen_tokens"):
        if key not in data:
            raise _parse.UsageError(option, f"{key} is required")
    out: dict[str, Any] = {}
    models: list[str] = []
    for name in _as_list(data.get("family", [])):
        models += family(_text(option, "family", name)).members
    models += [_text(option, "model", m) for m in _as_list(data.get("model", []))]
    if not models:
        raise _parse.UsageError(option, "give model or family")
    out["model"] = list(dict.fromkeys(models))
    for key in _TEXT_KEYS[1:]:
        out[key] = [_text(option, key, v) for v in _as_list(data.get(key, _DEFAULTS.get(key)))]
        if not out[key]:
            raise _parse.UsageError(option, f"{key}: empty list")
    try:
        out["attention"] = _pricing.attentions(out["attention"])
    except _parse.UsageError as exc:
        raise _parse.UsageError(option, f"attention: {exc.message}") from None
    for key in _BOOL_KEYS:
        out[key] = [_bool(option, key, v) for v in _as_list(data.get(key, _DEFAULTS[key]))]
    out["gpus"] = [_parse.whole(f"{option}: gpus", str(v)) for v in _as_list(data.get("gpus", 1))]
    out["streams"] = list(
        dict.fromkeys(
            _parse.whole(f"{option}: streams", str(v)) for v in _as_list(data.get("streams", 1))
        )
    )
    if not out["streams"]:
        raise _parse.UsageError(option, "streams: empty list")
    for key in _NUMERIC_KEYS:
        if key in data:
            out[key] = _numbers(f"{option}: {key}", data[key])
    modes: list[str] = []
    sizes: list[float] = []
    for v in _as_list(data.get("batch", DEFAULT_BATCH)):
        if isinstance(v, str) and v.strip().lower() in ("max", "unset"):
            modes.append(v.strip().lower())
        else:
            sizes += _numbers(f"{option}: batch", v).tolist()
    if sizes:
        modes.append("fixed")
        out["batch"] = np.array(list(dict.fromkeys(sizes)))
    out["batch_modes"] = list(dict.fromkeys(modes))
    return out


def _text(option: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _parse.UsageError(option, f"{key}: expected a string, got {value!r}")
    return value


def _bool(option: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _parse.UsageError(option, f"{key}: expected true or false, got {value!r}")
    return value


def _numbers(option: str, value: Any) -> FloatArray:
    parts = []
    for v in _as_list(value):
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise _parse.UsageError(option, f"expected numbers, got {v!r}")
        parts.append(_parse.values(option, v if isinstance(v, str) else repr(v), integer=True))
    if not parts:
        raise _parse.UsageError(option, "empty list")
    return np.concatenate(parts)


def groups(scenario: dict[str, Any]) -> Iterator[Group]:
    numeric = {k: scenario[k] for k in _pricing.AXES if k in scenario}
    for (
        model,
        hw,
        gpus,
        streams,
        attention,
        batch,
        prefill,
        sharing,
        tm,
        wd,
        kd,
        cd,
        pm,
    ) in itertools.product(
        scenario["model"],
        scenario["hardware"],
        scenario["gpus"],
        scenario["streams"],
        scenario["attention"],
        scenario["batch_modes"],
        scenario["prefill"],
        scenario["prefix_sharing"],
        scenario["time_model"],
        scenario["weight_dtype"],
        scenario["kv_dtype"],
        scenario["compute_dtype"],
        scenario["prefill_mode"],
    ):
        serving = Serving(
            batch=scenario["batch"][0] if batch == "fixed" else batch,
            prefix_sharing=sharing,
            prefill=pm if prefill else False,
            time_model=tm,
            weight_dtype=wd,
            kv_dtype=kd,
            compute_dtype=cd,
            gpus=gpus,
        )
        setting = _pricing.Setting(model, hw, attention, serving, streams)
        axes = _pricing.applicable_axes(setting, numeric)
        yield Group(setting, axes, _pricing.grid_size(axes))


def probe(group: Group) -> None:
    """Price every value of every axis at least once (a short diagonal through the grid), so a
    bad value fails before any output is written."""
    length = max(len(a) for a in group.axes.values())
    diagonal = {k: np.resize(a, length) for k, a in group.axes.items()}
    _pricing.price(group.setting, diagonal)


@contextlib.contextmanager
def _destination(path: str, binary: bool = False) -> Iterator[Any]:
    """stdout for ``-``; otherwise a file beside ``path``, renamed onto it only on success."""
    if path == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        mode = {"mode": "wb"} if binary else {"mode": "w", "newline": ""}
        with os.fdopen(fd, buffering=1 << 20, **mode) as stream:  # type: ignore[call-overload]
            yield stream
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a usual file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@_common.guarded()
def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    fmt = args.format or FORMATS.get(os.path.splitext(args.out)[1].lower())
    if fmt is None:
        raise _parse.UsageError(
            "--out",
            f"cannot tell the format of {args.out!r}: name it .csv or .jsonl, or give --format",
        )
    fmt = "json" if fmt == "jsonl" else fmt
    if args.out != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise _parse.UsageError("--out", f"folder of {args.out!r} does not exist")
    if not 1 <= args.chunk_rows <= MAX_CHUNK_POINTS:
        raise _parse.UsageError("--chunk-rows", f"must be in [1, {MAX_CHUNK_POINTS}]")
    if not 1 <= args.max_rows <= MAX_SWEEP_POINTS:
        raise _parse.UsageError("--max-rows", f"must be in [1, {MAX_SWEEP_POINTS:,}]")
    option = f"--grid {args.grid}"
    args.option_map = {k: f"{option}: {k}" for k in (*KEYS, "batch")}
    scenario = load(args.grid)
    plan = list(groups(scenario))
    total = sum(g.rows for g in plan)
    if total > args.max_rows:
        raise _parse.UsageError(
            option, f"{total:,} rows exceed the cap of {args.max_rows:,} (--max-rows)"
        )
    for group in plan:
        probe(group)
    with _destination(args.out, fmt == "parquet") as stream, Progress(total) as bar:
        writer: RowWriter | ParquetRowWriter
        if fmt == "parquet":
            writer = ParquetRowWriter(stream, _pricing.ROW_KINDS)
        else:
            writer = RowWriter(stream, fmt, _pricing.ROW_FIELDS)
        for group in plan:
            setting = group.setting
            arguments = _pricing.arguments(setting, group.axes)
            for chunk in iter_inference_cost_sweep(
                setting.model, setting.hardware, **arguments, chunk_size=args.chunk_rows
            ):
                columns, n = _pricing.rows(setting, chunk.points, chunk.cost)
                writer.write_columns(columns, n)
                bar.advance(n)
        writer.close()
    if args.out != "-":
        print(
            f"scaleplan: wrote {total:,} rows to {args.out} in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
    return _common.EXIT_OK
