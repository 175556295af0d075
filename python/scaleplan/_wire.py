"""The one place where the public dataclasses meet the ``scaleplan.v1`` wire messages.

The gRPC server and :class:`scaleplan.Client` both convert through here, so a field that the wire
names differently (units in the name: ``max_context`` is ``max_context_tokens``) is renamed once.
A request field left unset (an ``_UNSPECIFIED`` enum, an absent ``optional``) is not passed on,
so the Python API's own defaults apply and are written down in one place.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from scaleplan.catalog import Family, Hardware, Model, Moe
from scaleplan.cost import InferenceCost, TrainingCost
from scaleplan.errors import InvalidArgumentError
from scaleplan.v1 import catalog_pb2, cost_pb2, planner_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

_D = TypeVar("_D")

# Python field name -> wire field name, where they differ.
HARDWARE_FIELDS = {
    "peak_flops_bf16": "peak_bf16_flops_per_s",
    "peak_flops_fp8": "peak_fp8_flops_per_s",
}
MODEL_FIELDS = {"max_context": "max_context_tokens"}
INFERENCE_COST_FIELDS = {
    "flops": "total_flops",
    "bytes": "total_bytes",
    "seconds": "replica_seconds",
    "batch": "batch_sequences",
    "max_batch": "max_batch_sequences",
}
TRAINING_COST_FIELDS = {"flops": "total_flops", "days": "wall_days"}

# Python argument name -> request field path, for naming the field of an error.
INFERENCE_COST_ARGS = {
    "kv_budget": "kv_budget_tokens",
    "block_size": "block_size_tokens",
    "batch": "batch_sequences",
}
TRAINING_COST_ARGS = {"seq_len": "seq_len_tokens"}
# The grid axes of InferenceCostSweepRequest, in grid order: (argument, field of the grid).
SWEEP_AXES = (
    ("prompt_tokens", "prompt_tokens"),
    ("gen_tokens", "gen_tokens"),
    ("samples", "samples"),
    ("kv_budget", "kv_budget_tokens"),
    ("block_size", "block_size_tokens"),
    ("batch", "batch_sequences"),
)
SWEEP_ARGS = {arg: f"grid.{name}" for arg, name in SWEEP_AXES}


# ---- enums: a Python option "block_topk" is the wire value ATTENTION_BLOCK_TOPK ----


def _prefix(enum: _EnumTypeWrapper[Any]) -> str:
    return enum.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")


def enum_text(enum: _EnumTypeWrapper[Any], number: int, field: str) -> str | None:
    """The Python option a wire enum value stands for; None for ``_UNSPECIFIED`` (the default)."""
    if number == 0:
        return None
    value = enum.DESCRIPTOR.values_by_number.get(number)
    if value is None:
        raise InvalidArgumentError(f"{field}: unknown enum value {number}", field=field)
    return value.name.removeprefix(_prefix(enum)).lower()


def enum_number(enum: _EnumTypeWrapper[Any], text: object, field: str) -> int:
    """The wire value of a Python option; an option the wire does not know names ``field``."""
    names = enum.DESCRIPTOR.values_by_name
    if isinstance(text, str) and text == text.lower():
        value = names.get(_prefix(enum) + text.upper())
        if value is not None and value.number != 0:
            return int(value.number)
    known = [v.name.removeprefix(_prefix(enum)).lower() for v in enum.DESCRIPTOR.values[1:]]
    raise InvalidArgumentError(f"{field}: expected one of {known}, got {text!r}", field=field)


# ---- dataclasses <-> messages, field by field ----


def _to_message(obj: Any, message: Message, renames: Mapping[str, str]) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not f.init or value is None:
            continue
        name = renames.get(f.name, f.name)
        if dataclasses.is_dataclass(value):
            _to_message(value, getattr(message, name), {})
        elif isinstance(value, tuple):
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)


def _from_message(
    cls: type[_D],
    message: Message,
    renames: Mapping[str, str],
    nested: Mapping[str, type[Any]] | None = None,
) -> _D:
    kwargs: dict[str, Any] = {}
    fields = message.DESCRIPTOR.fields_by_name
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        name = renames.get(f.name, f.name)
        if fields[name].has_presence and not message.HasField(name):
            if f.default is dataclasses.MISSING:
                kwargs[f.name] = None  # an optional result (TrainingCost.usd)
            continue
        value = getattr(message, name)
        if nested and f.name in nested:
            value = _from_message(nested[f.name], value, {})
        elif fields[name].is_repeated:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


# Entries are immutable and hashable, so their messages are built once. The cached messages are
# shared: copy one (as a message constructor or CopyFrom does) before changing it.


@functools.lru_cache(maxsize=1024)
def hardware_message(hw: Hardware) -> catalog_pb2.Hardware:
    message = catalog_pb2.Hardware()
    _to_message(hw, message, HARDWARE_FIELDS)
    return message


def hardware_from(message: catalog_pb2.Hardware) -> Hardware:
    return _from_message(Hardware, message, HARDWARE_FIELDS)


@functools.lru_cache(maxsize=1024)
def model_message(model: Model) -> catalog_pb2.Model:
    message = catalog_pb2.Model()
    _to_message(model, message, MODEL_FIELDS)
    return message


def model_from(message: catalog_pb2.Model) -> Model:
    return _from_message(Model, message, MODEL_FIELDS, {"moe": Moe})


@functools.lru_cache(maxsize=1024)
def family_message(family: Family) -> catalog_pb2.Family:
    message = catalog_pb2.Family()
    _to_message(family, message, {})
    return message


def family_from(message: catalog_pb2.Family) -> Family:
    return _from_message(Family, message, {})


# ---- cost results ----

_NUMERIC_COST_FIELDS = [
    f.name for f in dataclasses.fields(InferenceCost) if f.name not in ("feasible", "binding")
]


def inference_cost_message(cost: InferenceCost) -> cost_pb2.InferenceCost:
    """A scalar InferenceCost (from scalar arguments) as its message."""
    message = cost_pb2.InferenceCost(
        feasible=bool(cost.feasible),
        binding=enum_number(cost_pb2.BindingConstraint, cost.binding, "binding"),  # type: ignore[arg-type]
    )
    for name in _NUMERIC_COST_FIELDS:
        setattr(message, INFERENCE_COST_FIELDS.get(name, name), float(getattr(cost, name)))
    return message


def inference_cost_from(message: cost_pb2.InferenceCost) -> InferenceCost:
    values: dict[str, Any] = {
        name: getattr(message, INFERENCE_COST_FIELDS.get(name, name))
        for name in _NUMERIC_COST_FIELDS
    }
    binding = enum_text(cost_pb2.BindingConstraint, message.binding, "binding")
    return InferenceCost(**values, feasible=message.feasible, binding=binding or "none")


def inference_cost_columns(cost: InferenceCost) -> cost_pb2.InferenceCostColumns:
    """An InferenceCost of 1-D arrays as columns."""
    columns = cost_pb2.InferenceCostColumns()
    for name in _NUMERIC_COST_FIELDS:
        array = np.asarray(getattr(cost, name), dtype=np.float64)
        getattr(columns, INFERENCE_COST_FIELDS.get(name, name)).extend(array.tolist())
    columns.feasible.extend(np.asarray(cost.feasible).tolist())
    kinds, inverse = np.unique(np.asarray(cost.binding), return_inverse=True)
    numbers = np.array(
        [enum_number(cost_pb2.BindingConstraint, str(k), "binding") for k in kinds], dtype=np.int64
    )
    columns.binding.extend(numbers[inverse].tolist())
    return columns


def inference_cost_from_columns(
    columns: cost_pb2.InferenceCostColumns,
) -> dict[str, npt.NDArray[Any]]:
    """Columns as 1-D arrays keyed by InferenceCost field name (for concatenating chunks)."""
    out: dict[str, npt.NDArray[Any]] = {
        name: np.array(getattr(columns, INFERENCE_COST_FIELDS.get(name, name)), dtype=np.float64)
        for name in _NUMERIC_COST_FIELDS
    }
    out["feasible"] = np.array(columns.feasible, dtype=np.bool_)
    names = {
        v.number: v.name.removeprefix("BINDING_CONSTRAINT_").lower()
        for v in cost_pb2.BindingConstraint.DESCRIPTOR.values
    }
    out["binding"] = np.array([names.get(b, "unspecified") for b in columns.binding], dtype=np.str_)
    return out


def training_cost_message(cost: TrainingCost) -> cost_pb2.TrainingCost:
    message = cost_pb2.TrainingCost()
    for f in dataclasses.fields(cost):
        value = getattr(cost, f.name)
        if value is not None:
            setattr(message, TRAINING_COST_FIELDS.get(f.name, f.name), float(value))
    return message


def training_cost_from(message: cost_pb2.TrainingCost) -> TrainingCost:
    return _from_message(TrainingCost, message, TRAINING_COST_FIELDS)


# ---- requests -> keyword arguments of the Python API ----

InferenceRequest = planner_pb2.InferenceCostRequest | planner_pb2.InferenceCostSweepRequest


def _name(value: str, field: str) -> str:
    if not value:
        raise InvalidArgumentError(f"{field}: required (a catalog name)", field=field)
    return value


def inference_options(request: InferenceRequest) -> dict[str, Any]:
    """The options (everything but the numeric axes and the batch) that were set."""
    kwargs: dict[str, Any] = {
        "model": _name(request.model, "model"),
        "hardware": _name(request.hardware, "hardware"),
    }
    enums = [
        ("attention", cost_pb2.Attention, request.attention),
        ("time_model", cost_pb2.TimeModel, request.time_model),
        ("weight_dtype", cost_pb2.Dtype, request.weight_dtype),
        ("kv_dtype", cost_pb2.Dtype, request.kv_dtype),
        ("compute_dtype", cost_pb2.Dtype, request.compute_dtype),
    ]
    for name, enum, number in enums:
        if (text := enum_text(enum, number, name)) is not None:
            kwargs[name] = text
    if request.HasField("prefix_sharing"):
        kwargs["prefix_sharing"] = request.prefix_sharing
    if request.HasField("prefill"):
        kwargs["prefill"] = request.prefill
    if request.HasField("gpus"):
        kwargs["gpus"] = request.gpus
    return kwargs


def batch_argument(mode: int, has_sizes: bool) -> str | None:
    """The ``batch`` argument a batch mode stands for: "max", None (amortised) or "fixed" (the
    sizes in ``batch_sequences`` are the argument)."""
    text = enum_text(cost_pb2.BatchMode, mode, "batch_mode")
    if text is None:
        return "fixed" if has_sizes else None
    if text == "fixed":
        if not has_sizes:
            raise InvalidArgumentError(
                "batch: BATCH_MODE_FIXED needs batch_sequences", field="batch"
            )
        return "fixed"
    if has_sizes:
        raise InvalidArgumentError(
            f"batch: batch_sequences is only read with BATCH_MODE_FIXED, not {text}", field="batch"
        )
    return "max" if text == "max" else None


def inference_cost_kwargs(request: planner_pb2.InferenceCostRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.inference_cost` for one request."""
    kwargs = inference_options(request)
    kwargs["prompt_tokens"] = request.prompt_tokens
    kwargs["gen_tokens"] = request.gen_tokens
    for arg, field in (
        ("samples", "samples"),
        ("kv_budget", "kv_budget_tokens"),
        ("block_size", "block_size_tokens"),
    ):
        if request.HasField(field):  # type: ignore[arg-type]
            kwargs[arg] = getattr(request, field)
    batch = batch_argument(request.batch_mode, request.HasField("batch_sequences"))
    if batch == "fixed":
        kwargs["batch"] = request.batch_sequences
    elif batch is not None:
        kwargs["batch"] = batch
    return kwargs


def _set(message: Message, field: str, value: object, arg: str) -> None:
    """Set one field; a value the field cannot hold (wrong type, out of range) names ``arg``."""
    try:
        setattr(message, field, value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{arg}: {exc}", field=arg) from None


def inference_cost_request(
    model: str,
    hardware: str,
    *,
    prompt_tokens: float,
    gen_tokens: float,
    samples: float,
    attention: str,
    kv_budget: float | None,
    block_size: float | None,
    prefix_sharing: bool,
    prefill: bool,
    batch: str | float | None,
    time_model: str,
    weight_dtype: str,
    kv_dtype: str,
    compute_dtype: str,
    gpus: int,
) -> planner_pb2.InferenceCostRequest:
    """The request for the scalar arguments of :func:`scaleplan.inference_cost`."""
    request = planner_pb2.InferenceCostRequest()
    _set_options(request, model, hardware, attention, prefix_sharing, prefill, time_model,
                 weight_dtype, kv_dtype, compute_dtype, gpus)  # fmt: skip
    for arg, value in (
        ("prompt_tokens", prompt_tokens),
        ("gen_tokens", gen_tokens),
        ("samples", samples),
        ("kv_budget", kv_budget),
        ("block_size", block_size),
    ):
        if value is not None:
            _set(request, INFERENCE_COST_ARGS.get(arg, arg), value, arg)
    request.batch_mode = _batch_mode(batch)  # type: ignore[assignment]
    if batch is not None and not isinstance(batch, str):
        _set(request, "batch_sequences", batch, "batch")
    return request


def inference_cost_sweep_request(
    model: str,
    hardware: str,
    axes: Mapping[str, Any],
    *,
    attention: str,
    prefix_sharing: bool,
    prefill: bool,
    batch_mode: str | None,
    time_model: str,
    weight_dtype: str,
    kv_dtype: str,
    compute_dtype: str,
    gpus: int,
    chunk_points: int,
) -> planner_pb2.InferenceCostSweepRequest:
    """The sweep request for grid axes keyed by argument name (None: the axis is not swept)."""
    request = planner_pb2.InferenceCostSweepRequest()
    _set_options(request, model, hardware, attention, prefix_sharing, prefill, time_model,
                 weight_dtype, kv_dtype, compute_dtype, gpus)  # fmt: skip
    for arg, field in SWEEP_AXES:
        values = axes.get(arg)
        if values is not None:
            try:
                getattr(request.grid, field).extend(values)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"{arg}: {exc}", field=arg) from None
    request.batch_mode = _batch_mode(batch_mode)  # type: ignore[assignment]
    _set(request, "chunk_points", chunk_points, "chunk_points")
    return request


def _set_options(
    request: InferenceRequest,
    model: str,
    hardware: str,
    attention: str,
    prefix_sharing: bool,
    prefill: bool,
    time_model: str,
    weight_dtype: str,
    kv_dtype: str,
    compute_dtype: str,
    gpus: int,
) -> None:
    _set(request, "model", model, "model")
    _set(request, "hardware", hardware, "hardware")
    _set(request, "prefix_sharing", prefix_sharing, "prefix_sharing")
    _set(request, "prefill", prefill, "prefill")
    _set(request, "gpus", gpus, "gpus")
    request.attention = enum_number(cost_pb2.Attention, attention, "attention")  # type: ignore[assignment]
    request.time_model = enum_number(cost_pb2.TimeModel, time_model, "time_model")  # type: ignore[assignment]
    for name, text in (
        ("weight_dtype", weight_dtype),
        ("kv_dtype", kv_dtype),
        ("compute_dtype", compute_dtype),
    ):
        setattr(request, name, enum_number(cost_pb2.Dtype, text, name))


def _batch_mode(batch: str | float | None) -> int:
    if batch is None:
        return cost_pb2.BATCH_MODE_AMORTIZED
    if isinstance(batch, str):
        if batch == "fixed":
            return cost_pb2.BATCH_MODE_FIXED
        if batch != "max":
            raise InvalidArgumentError(
                f"batch: expected None, 'max' or a number of sequences, got {batch!r}",
                field="batch",
            )
        return cost_pb2.BATCH_MODE_MAX
    return cost_pb2.BATCH_MODE_FIXED


def training_cost_kwargs(request: planner_pb2.TrainingCostRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.training_cost` for one request."""
    kwargs: dict[str, Any] = {
        "model": _name(request.model, "model"),
        "hardware": _name(request.hardware, "hardware"),
        "tokens": request.tokens,
    }
    if request.HasField("gpus"):
        kwargs["gpus"] = request.gpus
    if request.HasField("mfu"):
        kwargs["mfu"] = request.mfu
    if request.HasField("seq_len_tokens"):
        kwargs["seq_len"] = request.seq_len_tokens
    dtype = enum_text(cost_pb2.Dtype, request.compute_dtype, "compute_dtype")
    if dtype is not None:
        kwargs["compute_dtype"] = dtype
    return kwargs


def training_cost_request(
    model: str,
    tokens: float,
    hardware: str,
    *,
    gpus: int,
    mfu: float | None,
    seq_len: float | None,
    compute_dtype: str,
) -> planner_pb2.TrainingCostRequest:
    request = planner_pb2.TrainingCostRequest()
    for arg, value in (
        ("model", model),
        ("hardware", hardware),
        ("tokens", tokens),
        ("gpus", gpus),
        ("mfu", mfu),
        ("seq_len", seq_len),
    ):
        if value is not None:
            _set(request, TRAINING_COST_ARGS.get(arg, arg), value, arg)
    request.compute_dtype = enum_number(cost_pb2.Dtype, compute_dtype, "compute_dtype")  # type: ignore[assignment]
    return request
