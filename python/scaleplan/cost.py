"""Training and inference cost (docs/design.md#training, #inference), scalars or numpy arrays
that broadcast.

Conventions, stated once: FLOPs count a multiply-add as 2; dense peaks (no 2:4 sparsity); bytes
are SI; eFLOPs = FLOPs + I * bytes with I = peak FLOP/s / HBM B/s of the hardware (Kinetics);
``seconds`` is the replica time charged to one query, ``latency_s`` the wall time it waits
(time to first token + ``gen_tokens`` decode steps, each doing the whole batch's work).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan._schema import documented
from scaleplan.catalog import Catalog, Hardware, Model, resolve_hardware, resolve_model
from scaleplan.errors import InvalidArgumentError

Number = float | int | npt.ArrayLike
FloatOrArray = float | FloatArray
Attention = Literal["dense", "topk", "block_topk"]
TimeModel = Literal["additive", "roofline"]
Dtype = Literal["bf16", "fp16", "fp8"]
Prefill = bool | Literal["per_query", "batch"]

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


def _batch_mode(batch: Literal["max"] | Number | None) -> tuple[str, Any]:
    if batch is None:
        return "amortized", None
    if isinstance(batch, str):
        if batch != "max":
            raise InvalidArgumentError(
                f"batch: expected None, 'max' or a number of sequences, got {batch!r}",
                field="batch",
            )
        return "max", None
    return "fixed", batch


def _prefill_mode(prefill: object) -> tuple[bool, str]:
    """``prefill`` as (priced, mode): True is "per_query", False leaves prefill out."""
    if isinstance(prefill, bool | np.bool_):
        return bool(prefill), "per_query"
    if prefill in ("per_query", "batch"):
        return True, str(prefill)
    raise InvalidArgumentError(
        f"prefill: expected True, False, 'per_query' or 'batch', got {prefill!r}", field="prefill"
    )


def serving(
    batch: Literal["max"] | Number | None = None,
    prefix_sharing: bool = True,
    prefill: Prefill = True,
    time_model: TimeModel = "additive",
    weight_dtype: Dtype = "bf16",
    kv_dtype: Dtype = "bf16",
    compute_dtype: Dtype = "bf16",
    gpus: int = 1,
) -> _core.Serving:
    """The serving options every entry point that prices inference takes, checked once.

    An array ``batch`` (one size per configuration) gives the fixed mode; the sizes themselves
    travel with the configurations."""
    mode, batch_size = _batch_mode(batch)
    if not isinstance(prefix_sharing, bool | np.bool_):
        raise InvalidArgumentError(
            f"prefix_sharing: expected True or False, got {prefix_sharing!r}",
            field="prefix_sharing",
        )
    priced, prefill_mode = _prefill_mode(prefill)
    scalar_size = batch_size is not None and np.ndim(batch_size) == 0
    return _core.Serving(
        batch=mode,
        batch_size=_optional_number("batch", batch_size)
        if scalar_size
        else (None if batch_size is None else 1.0),
        prefix_sharing=bool(prefix_sharing),
        prefill=priced,
        prefill_mode=prefill_mode,
        time_model=_text("time_model", time_model),
        weight_dtype=_text("weight_dtype", weight_dtype),
        kv_dtype=_text("kv_dtype", kv_dtype),
        compute_dtype=_text("compute_dtype", compute_dtype),
        gpus=_count("gpus", gpus),
    )


def inference_cost(
    model: str | Model,
    hardware: str | Hardware,
    *,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    attention: Attention = "dense",
    kv_budget: Number | None = None,
    block_size: Number | None = None,
    prefix_sharing: bool = True,
    prefill: Prefill = True,
    batch: Literal["max"] | Number | None = None,
    time_model: TimeModel = "additive",
    weight_dtype: Dtype = "bf16",
    kv_dtype: Dtype = "bf16",
    compute_dtype: Dtype = "bf16",
    gpus: int = 1,
    catalog: Catalog | None = None,
) -> InferenceCost:
    """Price one query: FLOPs, memory traffic, eFLOPs, time, latency and memory fit.

    Numeric arguments broadcast like numpy; with arrays every field is an array of the broadcast
    shape, computed in one call into Rust with the GIL released.

    ``batch=None`` amortises weight reads fully (Kinetics); ``"max"`` uses the largest batch
    whose KV cache fits beside the weights; a number is capped by that largest batch.
    ``prefill=False`` leaves prefill out, as the Kinetics reference does; ``True`` (or
    ``"per_query"``) prefills each query's prompt in its own pass, ``"batch"`` prefills a static
    batch's prompts in one pass that every query of the batch waits for (needs ``batch``). A
    prefill pass takes at least one read of the weights. ``gpus`` GPUs serve one replica with
    ideal tensor parallelism.
    """
    m = resolve_model(model, catalog)
    hw = resolve_hardware(hardware, catalog)
    _, batch_size = _batch_mode(batch)
    options = serving(
        batch, prefix_sharing, prefill, time_model, weight_dtype, kv_dtype, compute_dtype, gpus
    )
    args = Broadcast(
        {
            "prompt_tokens": prompt_tokens,
            "gen_tokens": gen_tokens,
            "samples": samples,
            "kv_budget": kv_budget,
            "block_size": block_size,
            "batch": batch_size,
        }
    )
    table = _core.inference_cost(
        m._native,
        hw._native,
        args.required("prompt_tokens"),
        args.required("gen_tokens"),
        args.required("samples"),
        args.flat("kv_budget"),
        args.flat("block_size"),
        args.flat("batch"),
        attention=_text("attention", attention),
        serving=options,
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
