"""``scaleplan cost``: price queries with :func:`scaleplan.inference_cost`, one row per
combination of the values given (lists and ranges), each model's grid in one vectorised call."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from typing import Any

import numpy as np

from scaleplan import _format as fmt
from scaleplan.catalog import family
from scaleplan.commands import _common, _parse, _pricing
from scaleplan.commands._output import RowWriter

MAX_ROWS = 1_000_000
"""Rows one ``cost`` command prints at most; ``scaleplan sweep`` streams larger grids."""

EXAMPLES = [
    "scaleplan cost --model qwen3-8b --hardware h100-sxm --prompt-tokens 512 --gen-tokens 8192 "
    "--samples 8",
    "scaleplan cost --model qwen3-8b,qwen3-32b --hardware h200 --prompt-tokens 512 "
    "--gen-tokens 1024:32768:6 --samples 1,8 --attention block_topk:1024:16,block_topk:4096:16 "
    "--batch unset",
    "scaleplan cost --family qwen3-dense --hardware kinetics-b200 --prompt-tokens 128 "
    "--gen-tokens 16384 --no-prefill --batch unset --json",
]


def register(sub: _common.Subparsers) -> None:
    p = _common.add_command(
        sub,
        "cost",
        help="price queries: FLOPs, memory traffic, eFLOPs, time, latency, memory fit",
        description="Price one query (prompt + SAMPLES x GEN_TOKENS generated tokens) per row. "
        "Numeric options take a number, a comma list (1024,4096) or a log-spaced range "
        "START:STOP:N (1024:32768:6; START:STOP:N:lin for linear; ranges round to whole "
        "tokens); the rows are every combination. --model, --hardware and --gpus take comma "
        "lists too (one core call each). Memory fit counts weights and KV cache; 'fits' names "
        "what binds when a row cannot run.",
        examples=EXAMPLES,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", metavar="NAME[,NAME]", help="catalog model(s)")
    who.add_argument("--family", metavar="NAME", help="every model of a catalog family")
    p.add_argument("--hardware", required=True, metavar="NAME[,NAME]", help="catalog hardware")
    p.add_argument("--prompt-tokens", required=True, metavar="TOKENS", help="prompt length")
    p.add_argument(
        "--gen-tokens", required=True, metavar="TOKENS", help="tokens generated per sample"
    )
    p.add_argument("--samples", default="1", metavar="K", help="samples per query (default: 1)")
    p.add_argument(
        "--streams",
        default="1",
        metavar="P[,P]",
        help=_pricing.STREAMS_HELP + "; a comma list gives one row each",
    )
    _pricing.add_serving_options(
        p,
        attention_help="repeat or give a comma list for one row each (default: dense)",
        batch_lists=True,
        gpus="lists",
    )
    p.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        help=f"refuse grids larger than this (default: {MAX_ROWS:,}; use `scaleplan sweep` "
        "to stream larger ones)",
    )
    _common.add_format_options(p)
    p.set_defaults(func=run)


def models(args: argparse.Namespace) -> list[str]:
    if args.family is not None:
        return list(family(args.family).members)
    return _parse.names("--model", args.model)


@_common.guarded()
def run(args: argparse.Namespace) -> int:
    names = models(args)
    hardware = _parse.names("--hardware", args.hardware)
    gpus = [_parse.whole("--gpus", g) for g in _parse.names("--gpus", args.gpus)]
    streams = _pricing.streams(args.streams)
    attentions = _pricing.attentions(args.attention)
    axes = _pricing.numeric_axes(args)
    batch = axes["batch"][0] if "batch" in axes else _pricing.batches(args.batch)
    servings = [_pricing.serving(args, batch=batch, gpus=g) for g in gpus]
    per_setting = _pricing.grid_size(axes)
    total = per_setting * len(names) * len(hardware) * len(gpus) * len(streams) * len(attentions)
    if total > args.max_rows:
        sizes = {
            "model": len(names),
            "hardware": len(hardware),
            "gpus": len(gpus),
            "streams": len(streams),
            "attention": len(attentions),
        }
        sizes |= {k: len(v) for k, v in axes.items()}
        varying = [_common.option_name(k) for k, size in sizes.items() if size > 1]
        raise _parse.UsageError(
            " x ".join(varying) or "--max-rows",
            f"{total:,} combinations exceed --max-rows {args.max_rows:,}; "
            "use `scaleplan sweep` to stream large grids",
        )
    mesh = _pricing.open_mesh(axes)
    results: list[dict[str, Any]] = []
    counts: list[int] = []
    combos = itertools.product(names, hardware, servings, streams, attentions)
    for model, hw, serving, p, attention in combos:
        setting = _pricing.Setting(model, hw, attention, serving, p)
        columns, n = _pricing.price(setting, mesh)
        results.append(columns)
        counts.append(n)
    style = _common.output_format(args)
    if style == "table":
        shown = servings[0]
        if "batch" in axes:
            shown = dataclasses.replace(shown, batch=axes["batch"])
        text = str(shown)
        if len(gpus) > 1:
            text = text.rsplit(", ", 1)[0] + ", GPUs/replica per row"
        print(render_table(results, counts, text))
        return _common.EXIT_OK
    writer = RowWriter(sys.stdout, style, _pricing.ROW_FIELDS)
    for columns, n in zip(results, counts, strict=True):
        writer.write_columns(columns, n)
    return _common.EXIT_OK


# ---- the human table ------------------------------------------------------------------------

_INPUT_COLUMNS: list[tuple[str, str, Any]] = [
    ("model", "model", str),
    ("hardware", "hardware", str),
    ("gpus", "GPUs", lambda v: f"{v:.0f}"),
    ("streams", "streams", fmt.count),
    ("prompt_tokens", "prompt", fmt.count),
    ("gen_tokens", "generated", fmt.count),
    ("samples", "samples", fmt.count),
    ("kv_budget", "KV budget", fmt.count),
    ("block_size", "block", fmt.count),
    ("attention", "attention", str),
    ("requested_batch", "batch asked", lambda v: v if isinstance(v, str) else fmt.count(v)),
]
"""Inputs: a column when they vary, else named in the caption."""
_RESULT_COLUMNS: list[tuple[str, str, Any]] = [
    ("flops", "FLOPs", fmt.si),
    ("bytes", "bytes read", lambda v: fmt.si(v, "B")),
    ("eflops", "eFLOPs", fmt.si),
    ("gpu_seconds", "GPU time", fmt.seconds),
    ("latency_s", "latency", fmt.seconds),
    ("batch", "batch", fmt.count),
    ("max_batch", "max batch", fmt.count),
]


def _column(columns: dict[str, Any], name: str, n: int) -> list[Any]:
    value = columns.get(name)
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    return [value] * n


def render_table(results: list[dict[str, Any]], counts: list[int], serving: str) -> str:
    """Inputs that vary get a column; the others go in the caption line, followed by the
    serving options in use (``serving``, its batch and GPUs as the columns or caption say)."""
    cols: dict[str, list[Any]] = {}
    for name in [c[0] for c in _INPUT_COLUMNS + _RESULT_COLUMNS] + ["feasible", "binding"]:
        cols[name] = [v for r, n in zip(results, counts, strict=True) for v in _column(r, name, n)]
    shown, fixed = [], []
    for name, label, render in _INPUT_COLUMNS:
        distinct = set(cols[name])
        if name == "model" or len(distinct) > 1:
            shown.append((name, label, render))
        elif name == "attention":
            fixed.append(f"{next(iter(distinct))} attention")
        elif name == "streams" and distinct == {1}:
            continue  # one stream: no ParScale, nothing to say
        elif name not in ("requested_batch", "gpus") and distinct != {None}:
            fixed.append(f"{label} {render(next(iter(distinct)))}")
    caption = "One query per row; " + ", ".join(fixed) + "; serving: " + serving + "."
    header = (
        [label for _, label, _ in shown] + [label for _, label, _ in _RESULT_COLUMNS] + ["fits"]
    )
    rows = []
    for i in range(len(cols["model"])):
        cells = [render(cols[name][i]) for name, _, render in shown]
        cells += [render(float(cols[name][i])) for name, _, render in _RESULT_COLUMNS]
        cells.append("yes" if cols["feasible"][i] else f"no ({cols['binding'][i]})")
        rows.append(cells)
    align = "".join("l" if name in ("model", "hardware") else "r" for name, _, _ in shown)
    align += "r" * len(_RESULT_COLUMNS) + "l"
    return caption + "\n" + fmt.table(header, rows, align=align)
