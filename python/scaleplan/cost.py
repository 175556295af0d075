"""Training and inference cost (docs/design.md#training, #inference), scalars or numpy arrays
that broadcast.

Conventions, stated once: FLOPs count a multiply-add as 2; dense peaks (no 2:4 sparsity); bytes
are SI; eFLOPs = FLOPs + I * bytes with I = peak FLOP/s / HBM B/s of the hardware (Kinetics);
``seconds`` is the replica time charged to one query, ``latency_s`` the wall time it waits
(time to first token + ``gen_tokens`` decode steps, each doing the whole batch's work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan._schema import documented
from scaleplan.catalog import Catalog, Hardware, Model, resolve_hardware, resolve_model
from scaleplan.errors import InvalidArgumentError
from scaleplan.serving import (
    Attention,
    AttentionSpec,
    Dtype,
    Serving,
    is_attention,
    serving_value,
)
from scaleplan.serving import attention as parse_attention

Number = float | int | npt.ArrayLike
FloatOrArray = float | FloatArray

_BINDINGS = np.array(_core.BINDINGS)

TRAIN_FLOPS_PER_PARAM_TOKEN: float = _core.TRAIN_FLOPS_PER_PARAM_TOKEN
"""The 6 of training compute C = 6*N*D FLOPs, from the core (docs/design.md#training)."""


@documented
@dataclass(frozen=True)
class InferenceCost:
    """Cost of one query (``samples`` samples). Every numeric field is a float for scalar input
    and an array of the broadcast shape for array input."""

    prefill_flops: FloatOrArray
    decode_flops: FloatOrArray
    flops: FloatOrArray
    kv_bytes: FloatOrArray
    weight_bytes: FloatOrArray
    bytes: FloatOrArray
    eflops: FloatOrArray
    seconds: FloatOrArray
    gpu_seconds: FloatOrArray
    ttft_s: FloatOrArray
    tpot_s: FloatOrArray
    latency_s: FloatOrArray
    batch: FloatOrArray
    max_batch: FloatOrArray
    max_queries: FloatOrArray
    weight_memory_bytes: FloatOrArray
    kv_memory_bytes_per_query: FloatOrArray
    min_gpus: FloatOrArray
    feasible: bool | npt.NDArray[np.bool_]
    binding: str | npt.NDArray[np.str_]


@documented
@dataclass(frozen=True)
class TrainingCost:
    """Cost of a training run (floats, or arrays of the broadcast shape of ``tokens``)."""

    flops: FloatOrArray
    gpu_hours: FloatOrArray
    wall_seconds: FloatOrArray
    days: FloatOrArray
    usd: FloatOrArray | None


def _attention_arrays(
    value: object,
) -> tuple[str, npt.NDArray[np.float64] | float | None, npt.NDArray[np.float64] | float | None]:
    """``attention`` of :func:`inference_cost` as (kind, kv budgets, block sizes): one spelling,
    or a list or array of spellings of one kind that broadcasts like the numeric arguments."""
    if is_attention(value):
        a = parse_attention(value)
        return a.kind, a.kv_budget, a.block_size
    if isinstance(value, np.ndarray):
        shape: tuple[int, ...] = value.shape
        items: list[Any] = value.reshape(-1).tolist()
    elif isinstance(value, list):
        shape, items = (len(value),), value
    else:
        parse_attention(value)  # raises, showing the accepted forms
        raise AssertionError  # pragma: no cover
    # Spellings repeat across a grid: parse each distinct one once.
    keys = [v if isinstance(v, str) else repr(v) for v in items]
    parsed: dict[str, Attention] = {}
    for k, v in zip(keys, items, strict=True):
        if k not in parsed:
            parsed[k] = parse_attention(v)
    order = {k: i for i, k in enumerate(parsed)}
    inverse = np.array([order[k] for k in keys], dtype=np.intp)
    kinds = sorted({a.kind for a in parsed.values()})
    if len(kinds) != 1:
        raise InvalidArgumentError(
            f"attention: an array of spellings takes one kind, got {', '.join(kinds)} (price "
            "each kind in its own call)",
            field="attention",
        )
    budgets = np.array([a.kv_budget or np.nan for a in parsed.values()])[inverse]
    blocks = np.array([a.block_size or np.nan for a in parsed.values()])[inverse]
    return (
        kinds[0],
        None if kinds[0] == "dense" else budgets.reshape(shape),
        blocks.reshape(shape) if kinds[0] == "block_topk" else None,
    )


def inference_cost(
    model: str | Model,
    hardware: str | Hardware,
    *,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    attention: AttentionSpec | Sequence[AttentionSpec] | npt.ArrayLike = "dense",
    serving: Serving | None = None,
    catalog: Catalog | None = None,
) -> InferenceCost:
    """Price one query: FLOPs, memory traffic, eFLOPs, time, latency and memory fit.

    Numeric arguments broadcast like numpy; with arrays every field is an array of the broadcast
    shape, computed in one call into Rust with the GIL released.

    ``attention`` is ``"dense"``, ``"topk:1024"`` or ``"block_topk:1024:16"`` (or the tuples
    ``("topk", 1024)``, ``("block_topk", 1024, 16)``); a list or array of spellings of one kind
    (``["topk:1024", "topk:4096"]``) broadcasts like the numeric arguments. ``serving`` is a
    :class:`scaleplan.Serving` (None: ``Serving()``, batch "max"); its ``batch`` may be an array
    of sizes, one per configuration, that broadcasts too (``Serving(batch=np.array([1, 8,
    64]))``). ``gpus`` "auto" or None means 1 here: the cost of a given deployment. The
    hardware's ``step_overhead_s`` (0 unless calibrated, docs/calibration.md) adds a fixed time
    to every decode step and prefill pass.
    """
    m = resolve_model(model, catalog)
    hw = resolve_hardware(hardware, catalog)
    options = serving_value(serving)
    if options.gpus == "auto":
        raise InvalidArgumentError(
            "gpus: inference_cost prices a given number of GPUs per replica; give a number",
            field="gpus",
        )
    kind, kv_budget, block_size = _attention_arrays(attention)
    args = Broadcast(
        {
            "prompt_tokens": prompt_tokens,
            "gen_tokens": gen_tokens,
            "samples": samples,
            "attention": kv_budget,
            "attention.block_size": block_size,
            "batch": options.batch if options.batch_mode == "fixed" else None,
        }
    )
    table = _core.inference_cost(
        m._native,
        hw._native,
        args.required("prompt_tokens"),
        args.required("gen_tokens"),
        args.required("samples"),
        args.flat("attention"),
        args.flat("attention.block_size"),
        args.flat("batch"),
        attention=kind,
        serving=options._native,
    )
    rows = dict(zip(_core.INFERENCE_COST_FIELDS, table, strict=True))
    feasible = rows.pop("feasible") != 0
    binding = _BINDINGS[rows.pop("binding").astype(np.intp)]
    values = {name: args.shaped(row) for name, row in rows.items()}
    if args.scalar:
        return InferenceCost(**values, feasible=bool(feasible[0]), binding=str(binding[0]))
    return InferenceCost(
        **values, feasible=feasible.reshape(args.shape), binding=binding.reshape(args.shape)
    )


def training_cost(
    model: str | Model,
    tokens: Number,
    hardware: str | Hardware,
    *,
    gpus: int = 1,
    mfu: float | None = None,
    seq_len: float | None = None,
    compute_dtype: Dtype = "bf16",
    catalog: Catalog | None = None,
) -> TrainingCost:
    """C = 6*N*D FLOPs (+ 6*l*H*d*seq_len*D for attention when ``seq_len`` is given), run at
    the hardware's dense peak for ``compute_dtype`` * MFU (the hardware's assumed ``train_mfu``
    unless ``mfu`` is given) on ``gpus`` GPUs (docs/design.md#training, #units)."""
    m = resolve_model(model, catalog)
    hw = resolve_hardware(hardware, catalog)
    args = Broadcast({"tokens": tokens})
    table, priced = _core.training_cost(
        m._native,
        hw._native,
        args.required("tokens"),
        gpus=_count("gpus", gpus),
        mfu=_optional_number("mfu", mfu),
        seq_len=_optional_number("seq_len", seq_len),
        compute_dtype=_text("compute_dtype", compute_dtype),
    )
    rows = dict(zip(_core.TRAINING_COST_FIELDS, table, strict=True))
    usd = rows.pop("usd")
    return TrainingCost(
        **{name: args.shaped(row) for name, row in rows.items()},
        usd=args.shaped(usd) if priced else None,
    )


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name}: expected a string, got {value!r}", field=name)
    return value


def _count(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{name}: expected a whole number, got {value!r}", field=name)
    return float(value)


def _optional_number(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{name}: expected a number, got {value!r}", field=name)
    return float(value)
