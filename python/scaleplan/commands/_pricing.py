"""Pricing grids of queries through :func:`scaleplan.inference_cost`, shared by ``cost``,
``sweep`` and ``plot``: the options a grid varies, the row fields, and the cartesian product
(evaluated by numpy broadcasting; ``sweep`` cuts it into chunks with
:func:`scaleplan.sweep.iter_inference_cost_sweep`)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaleplan._arrays import FloatArray
from scaleplan.commands import _parse
from scaleplan.cost import Attention, Dtype, InferenceCost, Prefill, TimeModel, inference_cost
from scaleplan.sweep import SWEEP_AXES

AXES = SWEEP_AXES
"""Numeric options of inference_cost that broadcast: a grid's numeric axes, in row order."""

SETTING_FIELDS = (
    "model",
    "hardware",
    "gpus",
    "attention",
    "prefill",
    "prefill_mode",
    "prefix_sharing",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
)
INPUT_FIELDS = (
    "model",
    "hardware",
    "gpus",
    "attention",
    "prompt_tokens",
    "gen_tokens",
    "samples",
    "kv_budget",
    "block_size",
    "requested_batch",
    "prefill",
    "prefill_mode",
    "prefix_sharing",
    "time_model",
    "weight_dtype",
    "kv_dtype",
    "compute_dtype",
)
"""The inputs of one row; ``requested_batch`` is the ``batch`` argument (null when unset, "max",
or a number) since the result's own ``batch`` is the batch used (capped by memory)."""
COST_FIELDS = tuple(f.name for f in dataclasses.fields(InferenceCost))
ROW_FIELDS = INPUT_FIELDS + COST_FIELDS

ATTENTIONS: tuple[str, ...] = typing.get_args(Attention)
TIME_MODELS: tuple[str, ...] = typing.get_args(TimeModel)
DTYPES: tuple[str, ...] = typing.get_args(Dtype)

TIME_MODEL_HELP = (
    "how a step's compute and memory time combine: additive (FLOPs / peak + bytes / bandwidth, "
    "the Kinetics convention; default) or roofline (the larger of the two)"
)
DTYPE_HELP = {
    "weight": "storage type of the weights, which sets the bytes read per step (default: bf16)",
    "kv": "storage type of the KV cache, which sets its bytes and size (default: bf16)",
    "compute": "arithmetic precision, which picks the hardware's peak FLOP/s; where a plan prices "
    "training in GPU-hours or USD, training runs at it too (default: bf16)",
}
"""Help of --weight-dtype, --kv-dtype and --compute-dtype."""


def add_precision_options(parser: argparse.ArgumentParser) -> None:
    """``--time-model`` and the dtype options, with their help."""
    parser.add_argument(
        "--time-model", choices=TIME_MODELS, default="additive", help=TIME_MODEL_HELP
    )
    for which, text in DTYPE_HELP.items():
        parser.add_argument(f"--{which}-dtype", choices=DTYPES, default="bf16", help=text)


PREFILL_MODES = ("per_query", "batch")


@dataclass(frozen=True)
class Setting:
    """The options of inference_cost that do not broadcast: one façade call each."""

    model: str
    hardware: str
    gpus: int = 1
    attention: str = "dense"
    batch: str = "unset"
    """"unset", "max" or "fixed" (sizes on the ``batch`` axis)."""
    prefill: bool = True
    prefix_sharing: bool = True
    time_model: str = "additive"
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    compute_dtype: str = "bf16"
    prefill_mode: str = "per_query"
    """"per_query" (each query's prompt in its own pass) or "batch" (a static batch's prompts in
    one pass, in every query's time to first token)."""


def applicable_axes(setting: Setting, axes: Mapping[str, FloatArray | None]) -> dict[str, Any]:
    """The axes that apply to ``setting``: KV budget only for sparse attention, block size only
    for block top-k, batch sizes only for a fixed batch."""
    keep = dict(axes)
    if setting.attention == "dense":
        keep["kv_budget"] = None
    if setting.attention != "block_topk":
        keep["block_size"] = None
    if setting.batch != "fixed":
        keep["batch"] = None
    return {k: v for k, v in keep.items() if v is not None}


def grid_size(axes: Mapping[str, FloatArray]) -> int:
    size = 1
    for a in axes.values():
        size *= len(a)
    return size


def options(setting: Setting) -> dict[str, Any]:
    """The keyword arguments of inference_cost a setting stands for, but a fixed batch's sizes
    (those are the ``batch`` axis)."""
    out: dict[str, Any] = {
        "attention": typing.cast(Attention, setting.attention),
        "prefix_sharing": setting.prefix_sharing,
        "prefill": typing.cast(Prefill, setting.prefill_mode) if setting.prefill else False,
        "time_model": typing.cast(TimeModel, setting.time_model),
        "weight_dtype": typing.cast(Dtype, setting.weight_dtype),
        "kv_dtype": typing.cast(Dtype, setting.kv_dtype),
        "compute_dtype": typing.cast(Dtype, setting.compute_dtype),
        "gpus": setting.gpus,
    }
    if setting.batch != "fixed":
        out["batch"] = None if setting.batch == "unset" else "max"
    return out


def price(setting: Setting, axes: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Price every point of ``axes`` (arrays that broadcast together) in ONE inference_cost
    call; returns flat row columns (inputs and results) and the number of rows."""
    cost = inference_cost(setting.model, setting.hardware, **axes, **options(setting))
    return rows(setting, axes, cost)


def rows(
    setting: Setting, axes: Mapping[str, Any], cost: InferenceCost
) -> tuple[dict[str, Any], int]:
    """The flat row columns (inputs and results) of ``cost``, priced at ``axes`` (arrays that
    broadcast together) under ``setting``, and the number of rows."""
    shape = np.shape(cost.flops)
    n = int(np.prod(shape, dtype=np.int64))
    columns: dict[str, Any] = {f: getattr(setting, f) for f in SETTING_FIELDS}
    for name in ("prompt_tokens", "gen_tokens", "samples", "kv_budget", "block_size"):
        value = axes.get(name, 1 if name == "samples" else None)
        if value is not None:
            value = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).reshape(-1)
        columns[name] = value
    if setting.batch == "fixed":
        columns["requested_batch"] = np.broadcast_to(
            np.asarray(axes["batch"], dtype=np.float64), shape
        ).reshape(-1)
    else:
        columns["requested_batch"] = None if setting.batch == "unset" else "max"
    for name in COST_FIELDS:
        columns[name] = np.asarray(getattr(cost, name)).reshape(-1)
    return columns, n


def open_mesh(axes: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """The axes reshaped to broadcast against each other (``np.ix_``): their cartesian product
    in C order, first axis slowest, without materialising it."""
    names = list(axes)
    return dict(zip(names, np.ix_(*(axes[n] for n in names)), strict=True))


# ---- options shared by the commands that price queries -----------------------------------


def add_serving_options(
    parser: argparse.ArgumentParser, *, lists: bool = True, prefill_mode: bool = True
) -> None:
    """Options of inference_cost beyond model, hardware and the token counts. With ``lists``,
    numeric ones accept lists and ranges (one row per combination); ``prefill_mode`` offers
    ``--prefill-mode``."""
    many = " (list or range)" if lists else ""
    parser.add_argument(
        "--attention",
        choices=ATTENTIONS,
        default="dense",
        help="attention over the KV cache (default: dense)",
    )
    parser.add_argument(
        "--kv-budget", metavar="TOKENS", help=f"KV tokens attended by sparse attention{many}"
    )
    parser.add_argument(
        "--block-size", metavar="TOKENS", help=f"block size of block_topk attention{many}"
    )
    parser.add_argument(
        "--batch",
        metavar="N|max",
        help="sequences decoded together: a number"
        + (" (list or range)" if lists else "")
        + " capped by memory, or 'max' (largest that fits); unset: weight reads fully "
        "amortised (the Kinetics convention)",
    )
    parser.add_argument(
        "--no-prefill", dest="prefill", action="store_false", help="leave prefill out (Kinetics)"
    )
    if prefill_mode:
        parser.add_argument(
            "--prefill-mode",
            choices=PREFILL_MODES,
            default="per_query",
            help="per_query: each query's prompt is prefilled in its own pass (default); batch: a "
            "static batch's prompts in one pass that every query waits for (needs --batch)",
        )
    parser.add_argument(
        "--no-prefix-sharing",
        dest="prefix_sharing",
        action="store_false",
        help="each sample reads the prompt's KV cache itself",
    )
    add_precision_options(parser)


def numeric_axes(args: argparse.Namespace) -> tuple[dict[str, FloatArray], _parse.Batch]:
    """The numeric axes given on the command line (lists and ranges parsed)."""
    axes: dict[str, FloatArray] = {}
    for name in ("prompt_tokens", "gen_tokens", "samples", "kv_budget", "block_size"):
        text = getattr(args, name, None)
        if text is not None:
            axes[name] = _parse.values(f"--{name.replace('_', '-')}", text, integer=True)
    batch = _parse.batch("--batch", args.batch)
    if batch.sizes is not None:
        axes["batch"] = batch.sizes
    return axes, batch
