"""Training and inference cost (docs/design.md#training, #inference), scalars or numpy arrays
that broadcast.

Conventions, stated once: FLOPs count a multiply-add as 2; dense peaks (no 2:4 sparsity); bytes
are SI; eFLOPs = FLOPs + I * bytes with I = peak FLOP/s / HBM B/s of the hardware (Kinetics);
``seconds`` is the replica time charged to one query, ``latency_s`` the wall time it waits
(time to first token + ``gen_tokens`` decode steps, each doing the whole batch's work).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

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


INFERENCE_COST_FIELDS: tuple[str, ...] = tuple(_core.INFERENCE_COST_FIELDS)
"""The fields of :class:`InferenceCost` in order: the names ``inference_cost(fields=...)`` takes
and the rows of its ``out=`` buffer."""

_FIELD_INDEX = {name: i for i, name in enumerate(INFERENCE_COST_FIELDS)}
_FEASIBLE = _FIELD_INDEX["feasible"]
_BINDING = _FIELD_INDEX["binding"]
_BINDING_NAMES: tuple[str, ...] = tuple(_core.BINDINGS)


@functools.lru_cache(maxsize=256)
def _parsed_attention(spelling: str) -> Attention:
    """A spelling parsed once: spellings are immutable strings, and a scalar call would
    otherwise spend more on parsing than on pricing."""
    return parse_attention(spelling)


def _one_attention(value: object) -> TypeGuard[str | Attention]:
    """A spelling, or an :class:`Attention` of plain numbers (what the gRPC server builds from
    a request): the scalar path takes either."""
    if type(value) is str:
        return True
    return type(value) is Attention and all(
        v is None or _plain(v) for v in (value.kv_budget, value.block_size)
    )


def _plain(value: object) -> bool:
    """A Python int or float a float64 holds exactly or as numpy would round it (not a bool,
    not a numpy scalar, not an int too large for a float)."""
    if type(value) is float:
        return True
    return isinstance(value, int) and type(value) is int and -(2**63) <= value <= 2**63


def _field_rows(fields: object) -> tuple[list[int], tuple[str, ...]] | None:
    """``fields`` of :func:`inference_cost` as row indices and names, None for all."""
    if fields is None:
        return None
    items = [fields] if isinstance(fields, str) else fields
    if not isinstance(items, Sequence) or not items:
        raise InvalidArgumentError(
            f"fields: expected a non-empty list of InferenceCost field names, got {fields!r}",
            field="fields",
        )
    rows: list[int] = []
    for i, name in enumerate(items):
        row = _FIELD_INDEX.get(name) if isinstance(name, str) else None
        if row is None:
            raise InvalidArgumentError(
                f"fields: unknown field {name!r} (known: {', '.join(INFERENCE_COST_FIELDS)})",
                field="fields",
                index=i,
            )
        if row in rows:
            raise InvalidArgumentError(
                f"fields: {name!r} is asked for twice", field="fields", index=i
            )
        rows.append(row)
    return rows, tuple(INFERENCE_COST_FIELDS[r] for r in rows)


def _new_cost(values: dict[str, Any]) -> InferenceCost:
    """An InferenceCost of ``values`` (every field), without the frozen dataclass's per-field
    ``object.__setattr__`` calls: the same object, built in a fraction of the time."""
    cost = object.__new__(InferenceCost)
    cost.__dict__.update(values)
    return cost


def inference_cost(
    model: str | Model,
    hardware: str | Hardware,
    *,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    attention: AttentionSpec | Sequence[AttentionSpec] | npt.ArrayLike = "dense",
    serving: Serving | None = None,
    streams: int = 1,
    fields: Sequence[str] | None = None,
    out: npt.NDArray[np.float64] | None = None,
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

    ``streams`` (default 1) runs every sequence as P parallel streams (ParScale,
    arXiv:2505.10475; docs/cost-model.md, "Parallel streams"): P times the FLOPs, KV reads and
    KV memory of one stream whose prompt is 48 tokens longer, weights grown by 0.2% per stream
    and read once per step for all streams. One whole number from 1 to ``MAX_STREAMS`` (64)
    per call; 1 prices exactly as without streams.

    For large arrays (docs/architecture.md, "The cost kernel"): ``fields`` (default None: all)
    names the fields to compute and return, in ``INFERENCE_COST_FIELDS`` order or any order;
    the others are None in the result. ``out`` (default None: fresh arrays) is a C-contiguous
    float64 array of shape (number of fields, number of configurations) written in place, one
    row per field (``feasible`` as 0/1, ``binding`` as its index in ``BINDINGS``); the result's
    numeric fields are views of its rows, so a caller pricing many batches of one size reuses
    one buffer.
    """
    p = _streams(streams)
    m = resolve_model(model, catalog)
    hw = resolve_hardware(hardware, catalog)
    options = _priced_serving(serving)
    if (
        fields is None
        and out is None
        and _plain(prompt_tokens)
        and _plain(gen_tokens)
        and _plain(samples)
        and _one_attention(attention)
        and not isinstance(options.batch, np.ndarray)
    ):
        return _scalar_cost(m, hw, prompt_tokens, gen_tokens, samples, attention, options, p)
    selected = _field_rows(fields)
    rows_wanted, names = selected if selected else (None, INFERENCE_COST_FIELDS)
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
        fields=rows_wanted,
        out=out,
        streams=p,
    )
    values: dict[str, Any] = dict.fromkeys(INFERENCE_COST_FIELDS)
    for name, row in zip(names, table, strict=True):
        if name == "feasible":
            feasible = row != 0
            values[name] = bool(feasible[0]) if args.scalar else feasible.reshape(args.shape)
        elif name == "binding":
            binding = _BINDINGS[row.astype(np.intp)]
            values[name] = str(binding[0]) if args.scalar else binding.reshape(args.shape)
        else:
            values[name] = args.shaped(row)
    return _new_cost(values)


MAX_STREAMS: int = int(_core.MAX_STREAMS)
"""Most parallel streams (ParScale) one configuration is priced with (the core's
``limits::MAX_STREAMS``; docs/limits.md)."""


def _streams(value: object) -> float:
    """``streams`` of :func:`inference_cost`: one whole number; the core checks it is in
    [1, MAX_STREAMS] (``streams`` named in either error)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(
            f"streams: expected a whole number of parallel streams from 1 to {MAX_STREAMS}, "
            f"got {value!r}",
            field="streams",
        )
    return float(value)


def _priced_serving(serving: object) -> Serving:
    options = serving_value(serving)
    if options.gpus == "auto":
        raise InvalidArgumentError(
            "gpus: inference_cost prices a given number of GPUs per replica; give a number",
            field="gpus",
        )
    return options


def _scalar_cost(
    m: Model,
    hw: Hardware,
    prompt_tokens: object,
    gen_tokens: object,
    samples: object,
    attention: str | Attention,
    options: Serving,
    streams: float,
) -> InferenceCost:
    """:func:`inference_cost` of one configuration of plain Python numbers (a scalar batch),
    through the core's scalar entry (no arrays built or read back)."""
    a = attention if isinstance(attention, Attention) else _parsed_attention(attention)
    row = _core.inference_cost_one(
        m._native,
        hw._native,
        cast(float, prompt_tokens),
        cast(float, gen_tokens),
        cast(float, samples),
        a.kv_budget,
        a.block_size,
        attention=a.kind,
        serving=options._native,
        streams=streams,
    )
    values: dict[str, Any] = dict(zip(INFERENCE_COST_FIELDS, row, strict=True))
    values["feasible"] = row[_FEASIBLE] != 0.0
    values["binding"] = _BINDING_NAMES[int(row[_BINDING])]
    return _new_cost(values)


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
