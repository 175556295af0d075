"""The one place where the public dataclasses meet the ``scaleplan.v1`` wire messages.

The gRPC server and :class:`scaleplan.Client` both convert through here, so a field that the wire
names differently (units in the name: ``max_context`` is ``max_context_tokens``) is renamed once.
A request field left unset (an ``_UNSPECIFIED`` enum, an absent ``optional``) is not passed on,
so the Python API's own defaults apply and are written down in one place.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from scaleplan import _core
from scaleplan._format import clip
from scaleplan.accuracy_fit import DEFAULT_BOOTSTRAP as ACCURACY_FIT_DEFAULT_BOOTSTRAP
from scaleplan.accuracy_fit import FORMAT as ACCURACY_FIT_FORMAT
from scaleplan.accuracy_fit import MAX_ROWS as ACCURACY_FIT_MAX_ROWS
from scaleplan.accuracy_fit import AccuracyFit, FittedAccuracy
from scaleplan.agent import CALLS_PREFIX, AgentPlan, agent_table
from scaleplan.calibrate import PARAMETERS as CALIBRATED
from scaleplan.calibrate import Calibration
from scaleplan.catalog import Catalog, Family, Hardware, Model, Moe
from scaleplan.cost import InferenceCost, TrainingCost
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.fit import KEYS as FIT_KEYS
from scaleplan.fit import REPETITION_KEYS, LawFit
from scaleplan.joint import JointPlan
from scaleplan.laws import ErrorLaw, Farseer, FittedRange, LossLaw, Repetition
from scaleplan.parscale import STREAMS, ParScaleLaw, ParScalePlan
from scaleplan.plan import (
    Extrapolation,
    LifetimePlan,
    Plan,
    TrainingPlan,
    extrapolation_records,
)
from scaleplan.provenance import KINDS, Provenance
from scaleplan.provenance import Input as ProvenanceInput
from scaleplan.rag import FIT_COLUMNS, RagFit, RagLaw, RagPlan, RagSigma
from scaleplan.serving import (
    DEFAULT_BATCH,
    Attention,
    Serving,
    attention_choices,
    serving_value,
)
from scaleplan.serving import attention as parse_attention
from scaleplan.sweep import SWEEP_AXES as _FACADE_AXES
from scaleplan.testtime import Accuracy, TestTimePlan, eval_columns
from scaleplan.uncertainty import Uncertainty
from scaleplan.v1 import catalog_pb2, cost_pb2, plan_pb2, planner_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

_D = TypeVar("_D")
_M = TypeVar("_M", bound=Message)

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
INFERENCE_COST_ARGS: dict[str, str] = {}  # filled below with the serving options' paths
TRAINING_COST_ARGS = {"seq_len": "seq_len_tokens"}
# The grid axes of InferenceCostSweepRequest, in the façade's grid order (scaleplan.sweep):
# (argument, field of the grid); a field is named as its argument but for the batch sizes.
SWEEP_AXES = tuple((arg, {"batch": "batch_sequences"}.get(arg, arg)) for arg in _FACADE_AXES)
SWEEP_ARGS: dict[str, str] = {}  # filled below: the grid's axes and the serving options' paths


# ---- enums: a Python option "block_topk" is the wire value ATTENTION_BLOCK_TOPK ----


def _prefix(enum: _EnumTypeWrapper[Any]) -> str:
    return enum.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")


# Both directions are tabled once per enum: the server converts several enums per request, and
# deriving each name from the descriptor cost ~1 us apiece.
@functools.cache
def _texts(enum: _EnumTypeWrapper[Any]) -> dict[int, str]:
    """The Python option of each wire value but ``_UNSPECIFIED``, by number."""
    prefix = _prefix(enum)
    return {
        v.number: v.name.removeprefix(prefix).lower() for v in enum.DESCRIPTOR.values if v.number
    }


@functools.cache
def _numbers(enum: _EnumTypeWrapper[Any]) -> dict[str, int]:
    return {text: number for number, text in _texts(enum).items()}


def enum_text(enum: _EnumTypeWrapper[Any], number: int, field: str) -> str | None:
    """The Python option a wire enum value stands for; None for ``_UNSPECIFIED`` (the default)."""
    if number == 0:
        return None
    text = _texts(enum).get(number)
    if text is None:
        raise InvalidArgumentError(f"{field}: unknown enum value {number}", field=field)
    return text


def enum_number(enum: _EnumTypeWrapper[Any], text: object, field: str) -> int:
    """The wire value of a Python option; an option the wire does not know names ``field``."""
    numbers = _numbers(enum)
    if isinstance(text, str) and text in numbers:
        return numbers[text]
    known = list(numbers)
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


# A law's one-letter coefficients get descriptive wire names (field names are lower_snake_case).
LAW_FIELDS = {
    "E": "irreducible_loss",
    "A": "params_coefficient",
    "B": "tokens_coefficient",
    "alpha": "params_exponent",
    "beta": "tokens_exponent",
    "error": "error_law",
}


@functools.lru_cache(maxsize=256)
def law_message(law: LossLaw) -> catalog_pb2.Law:
    message = catalog_pb2.Law()
    _to_message(law, message, LAW_FIELDS)
    return message


def law_from(message: catalog_pb2.Law, path: str = "law") -> LossLaw:
    """The law a message describes; an invalid coefficient names its field under ``path``."""
    try:
        if not message.units:
            # proto3 has no string default: an empty unit is the Chinchilla form's.
            copied = catalog_pb2.Law()
            copied.CopyFrom(message)
            copied.units = "nats_per_token"
            message = copied
        return _from_message(
            LossLaw,
            message,
            LAW_FIELDS,
            {
                "error": ErrorLaw,
                "fitted": FittedRange,
                "farseer": Farseer,
                "repetition": Repetition,
            },
        )
    except InvalidArgumentError as exc:
        head, dot, rest = exc.field.partition(".")
        field = f"{path}.{LAW_FIELDS.get(head, head)}{dot}{rest}"
        raise exc.replace(field=field) from exc


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
ModelRequest = InferenceRequest | planner_pb2.TrainingCostRequest


def _name(value: str, field: str) -> str:
    if not value:
        raise InvalidArgumentError(f"{field}: required (a catalog name)", field=field)
    return value


def _model_arg(request: ModelRequest) -> str | Model:
    """The request's model: a catalog name, or the message given whole in ``model_spec``."""
    if request.HasField("model_spec"):
        if request.model:
            raise InvalidArgumentError(
                "model: give model (a catalog name) or model_spec, not both", field="model"
            )
        return model_from(request.model_spec)
    return _name(request.model, "model")


def _family_models(kwargs: dict[str, Any], models: Sequence[catalog_pb2.Model]) -> None:
    """``family_models`` given whole: they are the family (a list of models in the API)."""
    if not models:
        return
    if "family" in kwargs:
        raise InvalidArgumentError(
            "family_models: give family (a catalog name) or family_models, not both",
            field="family_models",
        )
    kwargs["family"] = [model_from(m) for m in models]


def inference_cost_kwargs(request: planner_pb2.InferenceCostRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.inference_cost` for one request."""
    kwargs: dict[str, Any] = {
        "model": _model_arg(request),
        "hardware": _name(request.hardware, "hardware"),
        "prompt_tokens": request.prompt_tokens,
        "gen_tokens": request.gen_tokens,
        "attention": attention_from(request.attention, "attention"),
        "serving": serving_from(request.serving),
    }
    if request.HasField("samples"):
        kwargs["samples"] = request.samples
    if request.HasField("streams"):
        kwargs["streams"] = request.streams
    return kwargs


def _set(message: Message, field: str, value: object, arg: str) -> None:
    """Set one field; a value the field cannot hold (wrong type, out of range) names ``arg``."""
    try:
        setattr(message, field, value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{arg}: {exc}", field=arg) from None


def inference_cost_sweep_kwargs(request: planner_pb2.InferenceCostSweepRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.sweep.iter_inference_cost_sweep` for one request:
    the grid's numeric axes, its attentions (one spelling, or a list: the attention axis) and
    the Serving, whose batch is the grid's batch sizes where it has some."""
    grid = request.grid
    if request.serving.HasField("batch_sequences"):
        raise InvalidArgumentError(
            "batch_mode: a sweep's batch sizes go in grid.batch_sequences", field="batch_mode"
        )
    serving = serving_from(request.serving, sizes=len(grid.batch_sequences) > 0)
    if grid.batch_sequences:
        sizes = np.array(grid.batch_sequences, dtype=np.float64)
        serving = dataclasses.replace(serving, batch=sizes)
    kwargs: dict[str, Any] = {
        "model": _model_arg(request),
        "hardware": _name(request.hardware, "hardware"),
        "serving": serving,
    }
    for arg in ("prompt_tokens", "gen_tokens", "samples"):
        values = getattr(grid, arg)
        kwargs[arg] = np.array(values, dtype=np.float64) if len(values) else None
    spelled = [str(attention_from(c, "attention", i)) for i, c in enumerate(grid.attention)]
    if spelled:
        kwargs["attention"] = spelled[0] if len(spelled) == 1 else spelled
    if request.HasField("streams"):
        kwargs["streams"] = request.streams
    return kwargs


def inference_cost_request(
    model: str | Model,
    hardware: str,
    *,
    prompt_tokens: float,
    gen_tokens: float,
    samples: float,
    attention: Any,
    serving: Serving | None,
    streams: int = 1,
) -> planner_pb2.InferenceCostRequest:
    """The request for the scalar arguments of :func:`scaleplan.inference_cost`."""
    request = planner_pb2.InferenceCostRequest()
    _set_streams(request, streams)
    _write_model(request, model)
    _set(request, "hardware", hardware, "hardware")
    for arg, value in (
        ("prompt_tokens", prompt_tokens),
        ("gen_tokens", gen_tokens),
        ("samples", samples),
    ):
        _set(request, arg, value, arg)
    request.attention.CopyFrom(attention_message(parse_attention(attention)))
    s = serving_value(serving)
    if isinstance(s.batch, np.ndarray):
        raise InvalidArgumentError(
            "batch: one batch size per request (inference_cost_sweep takes several)", field="batch"
        )
    request.serving.CopyFrom(serving_message(s))
    return request


def inference_cost_sweep_request(
    model: str | Model,
    hardware: str,
    axes: Mapping[str, Any],
    *,
    attention: Sequence[Attention],
    serving: Serving,
    chunk_points: int,
    streams: int = 1,
) -> planner_pb2.InferenceCostSweepRequest:
    """The sweep request for numeric grid axes keyed by argument name (None: the axis is not
    swept), the attentions swept and the serving options (an array ``batch``: the batch axis)."""
    request = planner_pb2.InferenceCostSweepRequest()
    _set_streams(request, streams)
    _write_model(request, model)
    _set(request, "hardware", hardware, "hardware")
    for arg in ("prompt_tokens", "gen_tokens", "samples"):
        values = axes.get(arg)
        if values is not None:
            try:
                getattr(request.grid, arg).extend(values)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"{arg}: {exc}", field=arg) from None
    request.grid.attention.extend(attention_message(a) for a in attention)
    if isinstance(serving.batch, np.ndarray):
        request.grid.batch_sequences.extend(serving.batch.reshape(-1).tolist())
        request.serving.CopyFrom(serving_message(dataclasses.replace(serving, batch="max")))
        request.serving.batch_mode = cost_pb2.BATCH_MODE_FIXED
    else:
        request.serving.CopyFrom(serving_message(serving))
        if request.serving.HasField("batch_sequences"):
            request.grid.batch_sequences.append(request.serving.batch_sequences)
            request.serving.ClearField("batch_sequences")
    _set(request, "chunk_points", chunk_points, "chunk_points")
    return request


def _set_streams(request: InferenceRequest, streams: object) -> None:
    """``streams`` (ParScale) in its field: a whole number; the server checks its range."""
    whole = (
        not isinstance(streams, bool)
        and isinstance(streams, int | float | np.integer | np.floating)
        and math.isfinite(streams)
        and float(streams).is_integer()
        and streams >= 0
    )
    if not whole:
        raise InvalidArgumentError(
            f"streams: expected a whole number of parallel streams, got {streams!r}",
            field="streams",
        )
    _set(request, "streams", int(cast(float, streams)), "streams")


def _write_model(request: ModelRequest, model: str | Model) -> None:
    """A catalog name in ``model``, a model object whole in ``model_spec``."""
    if isinstance(model, Model):
        request.model_spec.CopyFrom(model_message(model))
    else:
        _set(request, "model", model, "model")


def _split_models(values: dict[str, Any], key: str) -> list[Model]:
    """Take the model objects out of ``values[key]`` (a list), leaving the names there."""
    items = values.get(key)
    if items is None or isinstance(items, str | Model):
        items = None if items is None else [items]
    if items is None:
        return []
    objects = [m for m in items if isinstance(m, Model)]
    values[key] = [m for m in items if not isinstance(m, Model)] or None
    return objects


def _write_family(values: dict[str, Any], out: Any) -> dict[str, Any]:
    """A family given as a list of model objects goes whole into ``family_models``."""
    family = values.get("family")
    if family is None or isinstance(family, str):
        return values
    models = list(family) if not isinstance(family, Model) else [family]
    for i, m in enumerate(models):
        if not isinstance(m, Model):
            raise InvalidArgumentError(
                f"family[{i}]: a family sent as a list must hold scaleplan.Model objects "
                f"(name a catalog family by its name), got {m!r}",
                field="family",
                index=i,
            )
    out.extend(model_message(m) for m in models)
    return {**values, "family": None}


def training_cost_kwargs(request: planner_pb2.TrainingCostRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.training_cost` for one request."""
    kwargs: dict[str, Any] = {
        "model": _model_arg(request),
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
    model: str | Model,
    tokens: float,
    hardware: str,
    *,
    gpus: int,
    mfu: float | None,
    seq_len: float | None,
    compute_dtype: str,
) -> planner_pb2.TrainingCostRequest:
    request = planner_pb2.TrainingCostRequest()
    _write_model(request, model)
    for arg, value in (
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


# ---- planners: plans <-> messages ----

# Plan fields carried as enums, by Python field name.
PLAN_ENUMS: dict[str, _EnumTypeWrapper[Any]] = {
    "binding": plan_pb2.PlanConstraint,
    "unit": plan_pb2.CostUnit,
    "aggregator": plan_pb2.AccuracyAggregator,
}
# A plan's `extrapolated`: a tuple of Extrapolation per plan, repeated Extrapolation messages on
# the wire (an Extrapolations message per element of a column).
EXTRAPOLATED = "extrapolated"
UNCERTAINTY = "uncertainty"
PROVENANCE = "provenance"


def _extrapolation_messages(items: Iterable[Extrapolation]) -> list[plan_pb2.Extrapolation]:
    return [plan_pb2.Extrapolation(**e._asdict()) for e in items]


def _extrapolations_from(messages: Iterable[plan_pb2.Extrapolation]) -> tuple[Extrapolation, ...]:
    return tuple(Extrapolation(m.variable, m.value, m.bound, m.factor) for m in messages)


# Plan fields that may be None as well as NaN (the oracle with a preset; a lifetime plan's shape
# with 2N pricing): None is the absent field, NaN (no plan) travels as NaN, so both round-trip.
NONE_OR_NAN_PLAN_FIELDS = frozenset(
    {"oracle_accuracy", "layers", "query_heads", "kv_heads", "head_dim"}
    | {"eval_samples"}
    # an agent plan's goal: the one not given is None
    | {"target_accuracy", "budget"}
)


def _not_applicable(value: object, name: str) -> bool:
    """A plan value sent as an absent field: None, or NaN (not applicable) unless the field
    tells None from NaN."""
    if value is None:
        return True
    nan = isinstance(value, float | np.floating) and math.isnan(value)
    return nan and name not in NONE_OR_NAN_PLAN_FIELDS


# Python field name -> wire field name, where they differ (the same in plans and their columns).
TRAINING_PLAN_FIELDS: dict[str, str] = {}
LIFETIME_PLAN_FIELDS: dict[str, str] = {}
TEST_TIME_PLAN_FIELDS = {
    "seconds": "replica_seconds",
    "oracle_accuracy": "oracle_upper_bound_accuracy",
}
JOINT_PLAN_FIELDS: dict[str, str] = {}


def provenance_message(prov: Provenance) -> plan_pb2.Provenance:
    """A plan's provenance as its message (docs/planning.md, "Provenance")."""
    out = plan_pb2.Provenance()
    for i in prov.inputs:
        item = out.inputs.add(
            name=i.name,
            kind=enum_number(plan_pb2.ProvenanceKind, i.kind, PROVENANCE),
            value=i.value,
            detail=i.detail,
        )
        if i.n is not None:
            item.n = i.n
    return out


def provenance_from(message: plan_pb2.Provenance) -> Provenance:
    """The provenance a plan message carries; an input of a kind this client does not know
    (UNSPECIFIED) is refused, naming the field."""
    inputs = []
    for i in message.inputs:
        kind = enum_text(plan_pb2.ProvenanceKind, i.kind, PROVENANCE)
        if kind not in KINDS:
            raise InvalidArgumentError(
                f"provenance: input {i.name!r} has no known kind", field=PROVENANCE
            )
        inputs.append(
            ProvenanceInput(
                name=i.name,
                kind=kind,
                value=i.value,
                detail=i.detail,
                n=i.n if i.HasField("n") else None,
            )
        )
    return Provenance(tuple(inputs))


def _plan_message(plan: Plan, message: _M, renames: Mapping[str, str]) -> _M:
    """A scalar plan (from a scalar goal) into ``message``; a value that does not apply (None,
    NaN) stays unset."""
    for f in dataclasses.fields(plan):
        value = getattr(plan, f.name)
        if _not_applicable(value, f.name):
            continue
        if f.name == EXTRAPOLATED:
            getattr(message, EXTRAPOLATED).extend(_extrapolation_messages(value))
            continue
        if f.name == PROVENANCE:
            getattr(message, PROVENANCE).CopyFrom(provenance_message(value))
            continue
        if isinstance(value, Uncertainty):
            getattr(message, f.name).CopyFrom(uncertainty_message(value))
            continue
        if isinstance(value, tuple):  # a list of names (an agent plan's tools)
            getattr(message, renames.get(f.name, f.name)).extend(value)
            continue
        if f.name in PLAN_ENUMS:
            value = enum_number(PLAN_ENUMS[f.name], str(value), f.name)
        elif isinstance(value, bool | np.bool_):
            value = bool(value)
        elif not isinstance(value, str):
            value = float(value)
        setattr(message, renames.get(f.name, f.name), value)
    return message


def _absent(field: FieldDescriptor, python_name: str) -> Any:
    """The Python value of an absent plan field: None for text and the fields that may be
    None, else NaN."""
    if python_name in NONE_OR_NAN_PLAN_FIELDS or field.type == FieldDescriptor.TYPE_STRING:
        return None
    return math.nan


def _plan_from(cls: type[_D], message: Message, renames: Mapping[str, str]) -> _D:
    kwargs: dict[str, Any] = {}
    fields = message.DESCRIPTOR.fields_by_name
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = renames.get(f.name, f.name)
        if f.name == EXTRAPOLATED:
            kwargs[f.name] = _extrapolations_from(getattr(message, name))
            continue
        if f.name == UNCERTAINTY:
            present = message.HasField(name)
            kwargs[f.name] = uncertainty_from(getattr(message, name)) if present else None
            continue
        if f.name == PROVENANCE:
            kwargs[f.name] = provenance_from(getattr(message, name))
            continue
        if fields[name].is_repeated:  # a list of names (an agent plan's tools)
            kwargs[f.name] = tuple(getattr(message, name))
            continue
        if fields[name].has_presence and not message.HasField(name):
            kwargs[f.name] = _absent(fields[name], f.name)
            continue
        value = getattr(message, name)
        if f.name in PLAN_ENUMS:
            value = enum_text(PLAN_ENUMS[f.name], value, f.name)
        kwargs[f.name] = value
    return cls(**kwargs)


def _enum_column(enum: _EnumTypeWrapper[Any], values: Any, field: str) -> list[int]:
    kinds, inverse = np.unique(np.asarray(values).reshape(-1), return_inverse=True)
    numbers = np.array([enum_number(enum, str(k), field) for k in kinds], dtype=np.int64)
    return numbers[inverse].tolist()  # type: ignore[no-any-return]


def _columns_message(plan: Plan, message: _M, renames: Mapping[str, str]) -> _M:
    """A plan of 1-D arrays as columns; a scalar field (law, unit) is one value for all."""
    fields = message.DESCRIPTOR.fields_by_name
    for f in dataclasses.fields(plan):
        value = getattr(plan, f.name)
        if value is None or f.name == UNCERTAINTY:  # frontiers carry none (FrontierJoint)
            continue
        name = renames.get(f.name, f.name)
        enum = PLAN_ENUMS.get(f.name)
        if f.name == PROVENANCE:
            getattr(message, PROVENANCE).CopyFrom(provenance_message(value))
            continue
        if not fields[name].is_repeated:
            setattr(message, name, str(value) if enum is None else enum_number(enum, value, name))
            continue
        array = np.asarray(value).reshape(-1)
        if f.name == EXTRAPOLATED:
            tables = np.asarray(value).reshape(-1, *np.shape(value)[-2:])
            column: list[Any] = [
                plan_pb2.Extrapolations(items=_extrapolation_messages(extrapolation_records(t)))
                for t in tables
            ]
        elif enum is not None:
            column = _enum_column(enum, value, f.name)
        elif fields[name].type == FieldDescriptor.TYPE_STRING:
            column = ["" if v is None else str(v) for v in array.tolist()]  # None: no plan
        else:
            column = (array if array.dtype.kind == "b" else array.astype(np.float64)).tolist()
        getattr(message, name).extend(column)
    return message


def _columns_from(cls: type[Plan], message: Message, renames: Mapping[str, str]) -> dict[str, Any]:
    """Columns as 1-D arrays keyed by the plan's field names (a chunk of a frontier); a scalar
    field (law, unit) as its value, an optional column without entries None."""
    out: dict[str, Any] = {}
    fields = message.DESCRIPTOR.fields_by_name
    for f in dataclasses.fields(cls):
        name = renames.get(f.name, f.name)
        field, value = fields[name], getattr(message, name)
        enum = PLAN_ENUMS.get(f.name)
        if f.name == UNCERTAINTY:
            out[f.name] = None
        elif f.name == PROVENANCE:
            out[f.name] = provenance_from(value)
        elif not field.is_repeated:
            out[f.name] = value if enum is None else enum_text(enum, value, f.name)
        elif f.name == EXTRAPOLATED:
            out[f.name] = _extrapolation_tables(value)
        elif enum is not None:
            names = {
                v.number: v.name.removeprefix(_prefix(enum)).lower() for v in enum.DESCRIPTOR.values
            }
            out[f.name] = np.array([names.get(v, "unspecified") for v in value], dtype=np.str_)
        elif field.type == FieldDescriptor.TYPE_BOOL:
            out[f.name] = np.array(value, dtype=np.bool_)
        elif field.type == FieldDescriptor.TYPE_STRING:
            out[f.name] = _object_column([v or None for v in value])  # "": no plan
        elif f.name in OPTIONAL_PLAN_FIELDS and not value:
            out[f.name] = None  # absent (the oracle of a preset)
        else:
            out[f.name] = np.array(value, dtype=np.float64)
    return out


def _extrapolation_tables(
    column: Iterable[plan_pb2.Extrapolations],
) -> npt.NDArray[np.float64]:
    """Extrapolations messages as the tables of an array-valued plan: (plans, variables, 3)
    of value, bound, factor, NaN where in range."""
    index = {v: i for i, v in enumerate(_core.EXTRAPOLATION_VARIABLES)}
    rows = list(column)
    out = np.full((len(rows), len(index), 3), np.nan)
    for r, message in enumerate(rows):
        for e in message.items:
            out[r, index[e.variable]] = (e.value, e.bound, e.factor)
    return out


def _object_column(values: Sequence[Any]) -> npt.NDArray[np.object_]:
    """A 1-D object array holding ``values`` as they are (tuples stay elements)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


# Plan fields that may be None (sent as an absent field, or an empty column).
OPTIONAL_PLAN_FIELDS = frozenset({"oracle_accuracy"} | {"eval_samples"})


def training_plan_message(plan: TrainingPlan) -> plan_pb2.TrainingPlan:
    return _plan_message(plan, plan_pb2.TrainingPlan(), TRAINING_PLAN_FIELDS)


def training_plan_from(message: plan_pb2.TrainingPlan) -> TrainingPlan:
    return _plan_from(TrainingPlan, message, TRAINING_PLAN_FIELDS)


def lifetime_plan_message(plan: LifetimePlan) -> plan_pb2.LifetimePlan:
    return _plan_message(plan, plan_pb2.LifetimePlan(), LIFETIME_PLAN_FIELDS)


def lifetime_plan_from(message: plan_pb2.LifetimePlan) -> LifetimePlan:
    return _plan_from(LifetimePlan, message, LIFETIME_PLAN_FIELDS)


def test_time_plan_message(plan: TestTimePlan) -> plan_pb2.TestTimePlan:
    return _plan_message(plan, plan_pb2.TestTimePlan(), TEST_TIME_PLAN_FIELDS)


def test_time_plan_from(message: plan_pb2.TestTimePlan) -> TestTimePlan:
    return _plan_from(TestTimePlan, message, TEST_TIME_PLAN_FIELDS)


def test_time_plan_columns(plan: TestTimePlan) -> plan_pb2.TestTimePlanColumns:
    return _columns_message(plan, plan_pb2.TestTimePlanColumns(), TEST_TIME_PLAN_FIELDS)


def test_time_plan_from_columns(message: plan_pb2.TestTimePlanColumns) -> dict[str, Any]:
    return _columns_from(TestTimePlan, message, TEST_TIME_PLAN_FIELDS)


def model_accuracy_curves(per_model: Mapping[str, Any]) -> list[plan_pb2.ModelAccuracyCurve]:
    return [
        plan_pb2.ModelAccuracyCurve(model=name, accuracy=np.asarray(a, dtype=np.float64).tolist())
        for name, a in per_model.items()
    ]


def joint_plan_message(plan: JointPlan) -> plan_pb2.JointPlan:
    return _plan_message(plan, plan_pb2.JointPlan(), JOINT_PLAN_FIELDS)


def joint_plan_from(message: plan_pb2.JointPlan) -> JointPlan:
    return _plan_from(JointPlan, message, JOINT_PLAN_FIELDS)


def joint_plan_columns(plan: JointPlan) -> plan_pb2.JointPlanColumns:
    return _columns_message(plan, plan_pb2.JointPlanColumns(), JOINT_PLAN_FIELDS)


def joint_plan_from_columns(message: plan_pb2.JointPlanColumns) -> dict[str, Any]:
    return _columns_from(JointPlan, message, JOINT_PLAN_FIELDS)


# ---- planner requests -> keyword arguments of the Python API (server side) ----

# Options read field by field: a field with presence (`optional`, a message) when set, a string
# when not empty, a repeated field when not empty, any other scalar always. (argument, field).
TRAINING_OPTIONS = (
    ("unique_tokens", "unique_tokens"),
    ("r_star", "r_star"),
    ("start_in_months", "start_in_months"),
)
LIFETIME_OPTIONS = tuple(
    (arg, arg)
    for arg in (
        "queries",
        "prompt_tokens",
        "gen_tokens",
        "samples",
        "hardware",
        "family",
        "train_hardware",
        "train_mfu",
        "train_usd_per_hour",
        "infer_usd_per_hour",
        "unique_tokens",
        "r_star",
        "min_params",
        "max_params",
    )
)
TEST_TIME_OPTIONS = tuple(
    (arg, arg)
    for arg in (
        "models",
        "family",
        "hardware",
        "prompt_tokens",
        "k_max",
        "latency_slo_s",
        "min_gen_tokens",
        "max_gen_tokens",
        "usd_per_hour",
    )
)
JOINT_OPTIONS = tuple(
    (arg, arg)
    for arg in (
        "queries",
        "prompt_tokens",
        "family",
        "hardware",
        "half_tokens",
        "hill",
        "kappa",
        "k_max",
        "min_gen_tokens",
        "max_gen_tokens",
        "min_params",
        "max_params",
        "latency_slo_s",
        "unique_tokens",
        "r_star",
        "train_mfu",
        "train_usd_per_hour",
        "infer_usd_per_hour",
    )
)
# Serving options: (argument, field of ServingOptions); "batch" is batch_mode + batch_sequences.
SERVING_ENUMS: tuple[tuple[str, _EnumTypeWrapper[Any]], ...] = (
    ("time_model", cost_pb2.TimeModel),
    ("weight_dtype", cost_pb2.Dtype),
    ("kv_dtype", cost_pb2.Dtype),
    ("compute_dtype", cost_pb2.Dtype),
)
SERVING_ARGS = {
    **{arg: f"serving.{arg}" for arg, _ in SERVING_ENUMS},
    "prefix_sharing": "serving.prefix_sharing",
    "gpus": "serving.gpus",
    "prefill": "serving.prefill",
    "prefill_mode": "serving.prefill_mode",
    "batch": "serving.batch_sequences",
    "batch_mode": "serving.batch_mode",
    "serving": "serving",
}
"""Fields of a Serving -> paths of the ServingOptions fields, for naming the field of an error."""
INFERENCE_COST_ARGS.update(SERVING_ARGS, attention="attention", kv_budget="attention")
INFERENCE_COST_ARGS.update(block_size="attention")
SWEEP_ARGS.update(SERVING_ARGS)
SWEEP_ARGS.update({arg: f"grid.{name}" for arg, name in SWEEP_AXES})
SWEEP_ARGS.update(kv_budget="grid.attention", block_size="grid.attention")


# ---- Serving <-> ServingOptions and Attention <-> AttentionChoice: each written once ----


def serving_message(serving: Serving) -> plan_pb2.ServingOptions:
    """Every field of ``serving`` (one batch size at most), explicitly; ``gpus`` None or
    "auto" leaves the field absent (the lifetime and joint planners choose)."""
    message = plan_pb2.ServingOptions()
    mode = serving.batch_mode
    message.batch_mode = {
        "unset": cost_pb2.BATCH_MODE_AMORTIZED,
        "max": cost_pb2.BATCH_MODE_MAX,
        "fixed": cost_pb2.BATCH_MODE_FIXED,
    }[mode]
    if mode == "fixed":
        _set(message, "batch_sequences", serving.batch, "batch")
    message.prefix_sharing = serving.prefix_sharing
    message.prefill = serving.prefill is not False
    if serving.prefill_mode is not None:
        message.prefill_mode = enum_number(  # type: ignore[assignment]
            cost_pb2.PrefillMode, serving.prefill_mode, "prefill"
        )
    for arg, enum in SERVING_ENUMS:
        setattr(message, arg, enum_number(enum, getattr(serving, arg), arg))
    if isinstance(serving.gpus, int):
        _set(message, "gpus", serving.gpus, "gpus")
    return message


def serving_from(message: plan_pb2.ServingOptions, *, sizes: bool = False) -> Serving:
    """The Serving a ServingOptions stands for; a field left unset takes ``Serving()``'s
    default. ``sizes``: the batch sizes come from elsewhere (a sweep's grid), so a FIXED or
    unspecified mode gives ``batch=1`` here, to be replaced by the sizes."""
    mode = enum_text(cost_pb2.BatchMode, message.batch_mode, "batch_mode")
    sized = message.HasField("batch_sequences")
    if mode == "fixed" and not sized and not sizes:
        raise InvalidArgumentError("batch: BATCH_MODE_FIXED needs batch_sequences", field="batch")
    if mode not in (None, "fixed") and (sized or sizes):
        raise InvalidArgumentError(
            f"batch: batch sizes are only read with BATCH_MODE_FIXED, not {mode}", field="batch"
        )
    batch: Any
    if sized:
        _check_option("batch", message.batch_sequences)
        batch = message.batch_sequences
    elif sizes:
        batch = 1.0
    elif mode == "amortized":
        batch = "unset"
    else:
        batch = DEFAULT_BATCH if mode is None else mode
    kwargs: dict[str, Any] = {"batch": batch}
    prefill_mode = enum_text(cost_pb2.PrefillMode, message.prefill_mode, "prefill_mode")
    if message.HasField("prefill") and not message.prefill:
        kwargs["prefill"] = False
    elif prefill_mode is not None:
        kwargs["prefill"] = prefill_mode
    if message.HasField("prefix_sharing"):
        kwargs["prefix_sharing"] = message.prefix_sharing
    for arg, enum in SERVING_ENUMS:
        if (text := enum_text(enum, getattr(message, arg), arg)) is not None:
            kwargs[arg] = text
    if message.HasField("gpus"):
        kwargs["gpus"] = message.gpus
    return Serving(**kwargs)


def attention_message(attention: Attention) -> plan_pb2.AttentionChoice:
    message = plan_pb2.AttentionChoice()
    message.attention = enum_number(cost_pb2.Attention, attention.kind, "attention")  # type: ignore[assignment]
    if attention.kv_budget is not None:
        message.kv_budget_tokens = attention.kv_budget
    if attention.block_size is not None:
        message.block_size_tokens = attention.block_size
    return message


def attention_from(
    message: plan_pb2.AttentionChoice, field: str, index: int | None = None
) -> Attention:
    """The Attention an AttentionChoice stands for, checked by the façade's one parser; an
    error names ``field`` (and ``index``, an element of a repeated field)."""
    kind = enum_text(cost_pb2.Attention, message.attention, field) or "dense"
    numbers = [
        getattr(message, name)
        for name in ("kv_budget_tokens", "block_size_tokens")
        if message.HasField(name)
    ]
    return parse_attention((kind, *numbers) if numbers else kind, field, index)


# Numeric options that may be +Infinity ("no bound"); every other one must be finite.
UNBOUNDED_OPTIONS = frozenset({"max_gen_tokens"})


def _check_option(arg: str, value: float) -> None:
    """A numeric option that was set is finite (or +inf where that means no bound) and not
    negative, whether or not the planner reads it in this request: an option it ignores
    (a price with a FLOPs unit) must not carry NaN through unnoticed."""
    if math.isnan(value) or value < 0 or (math.isinf(value) and arg not in UNBOUNDED_OPTIONS):
        raise InvalidArgumentError(f"{arg}: must be a finite number >= 0, got {value}", field=arg)


def _read_options(message: Message, options: Iterable[tuple[str, str]]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    fields = message.DESCRIPTOR.fields_by_name
    for arg, name in options:
        field, value = fields[name], getattr(message, name)
        if field.is_repeated:
            if len(value):
                kwargs[arg] = list(value)
        elif field.has_presence:
            if message.HasField(name):
                kwargs[arg] = value
        elif field.type != FieldDescriptor.TYPE_STRING or value:
            kwargs[arg] = value
        if field.type == FieldDescriptor.TYPE_DOUBLE and arg in kwargs and not field.is_repeated:
            _check_option(arg, kwargs[arg])
    return kwargs


# The messages with a `law` oneof of law_name and custom_law.
LawMessage = (
    planner_pb2.PlanTrainingRequest | planner_pb2.PlanLifetimeRequest | plan_pb2.JointOptions
)


def _uncertain_law(
    message: Any, kwargs: dict[str, Any], reach: str = "reach_loss"
) -> dict[str, Any]:
    """A planner request's law with its bootstrap samples as a LawFit (docs/uncertainty.md),
    and the uncertainty options (``reach``: reach_loss or reach_accuracy). Samples need the
    point law as custom_law."""
    if message.HasField("law_samples"):
        law = kwargs.get("law")
        if not isinstance(law, LossLaw):
            raise InvalidArgumentError(
                "law_samples: give the fitted point law as custom_law with its samples",
                field="law_samples",
            )
        kwargs["law"] = LawFit.from_samples(law, list(message.law_samples.values))
    if message.quantiles:
        kwargs["quantiles"] = list(message.quantiles)
    if message.HasField(reach):
        kwargs[reach] = getattr(message, reach)
    return kwargs


def uncertainty_message(u: Uncertainty) -> plan_pb2.Uncertainty:
    """A scalar plan's uncertainty (quantiles and samples as lists)."""
    out = plan_pb2.Uncertainty(
        samples=u.samples,
        quantiles=list(u.quantiles),
        fixed=np.asarray(u.fixed, dtype=np.float64).tolist(),
        feasible_share=float(u.feasible_share),
        outcome=u.outcome,
    )
    for name, values in u.bands.items():
        out.bands[name].values.extend(np.asarray(values, dtype=np.float64).tolist())
    for name, values in u.per_sample.items():
        out.per_sample[name].values.extend(np.asarray(values, dtype=np.float64).tolist())
    for name in ("threshold", "p_fixed", "p_replanned"):
        value = getattr(u, name)
        if value is not None:
            setattr(out, name, float(value))
    return out


def uncertainty_from(message: plan_pb2.Uncertainty) -> Uncertainty:
    def arrays(values: Mapping[str, plan_pb2.Values]) -> dict[str, Any]:
        return {k: np.array(v.values, dtype=np.float64) for k, v in values.items()}

    return Uncertainty(
        samples=message.samples,
        quantiles=tuple(message.quantiles),
        bands=arrays(message.bands),
        fixed=np.array(message.fixed, dtype=np.float64),
        feasible_share=message.feasible_share,
        threshold=message.threshold if message.HasField("threshold") else None,
        p_fixed=message.p_fixed if message.HasField("p_fixed") else None,
        p_replanned=message.p_replanned if message.HasField("p_replanned") else None,
        per_sample=arrays(message.per_sample),
        outcome=message.outcome,
    )


def _law_kwargs(message: LawMessage, prefix: str = "") -> dict[str, Any]:
    which = message.WhichOneof("law")
    if which == "law_name":
        return {"law": message.law_name}
    if which == "custom_law":
        return {"law": law_from(message.custom_law, f"{prefix}custom_law")}
    return {}


def _attention_choices(choices: Sequence[plan_pb2.AttentionChoice]) -> list[Attention]:
    """AttentionChoice messages as attentions; an error names its element."""
    return [attention_from(c, "attention", i) for i, c in enumerate(choices)]


def _goal(message: Message, oneof: str) -> dict[str, Any]:
    which = message.WhichOneof(oneof)
    return {} if which is None else {which: getattr(message, which)}


def _unit(number: int) -> dict[str, Any]:
    text = enum_text(plan_pb2.CostUnit, number, "unit")
    return {} if text is None else {"unit": text}


def plan_training_kwargs(request: planner_pb2.PlanTrainingRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_training` (no goal: the API names the error)."""
    kwargs = {
        **_goal(request, "goal"),
        **_law_kwargs(request),
        **_read_options(request, TRAINING_OPTIONS),
    }
    return _uncertain_law(request, kwargs)


def plan_lifetime_kwargs(request: planner_pb2.PlanLifetimeRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_lifetime`."""
    kwargs = {**_goal(request, "goal"), **_law_kwargs(request), **_unit(request.unit)}
    kwargs.update(_read_options(request, LIFETIME_OPTIONS))
    if request.HasField("attention"):
        kwargs["attention"] = attention_from(request.attention, "attention")
    kwargs["serving"] = serving_from(request.serving)
    _family_models(kwargs, request.family_models)
    return _uncertain_law(request, kwargs)


DEFAULT_ACCURACY_PRESET = "aime24-qwen3"  # scaleplan.frontier_test_time's default


def test_time_kwargs(
    options: plan_pb2.TestTimeOptions, catalog: Catalog, *, keep_fit: bool
) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.frontier_test_time` but budgets and unit; the
    accuracy is always built here (from ``catalog``), so a bad one fails before any budget.
    ``keep_fit``: an accuracy fit with bootstrap samples stays an AccuracyFit (PlanTestTime
    plans under its samples, docs/uncertainty.md); otherwise it is its point accuracy."""
    kwargs = _read_options(options, TEST_TIME_OPTIONS)
    if options.user_models:
        given = [model_from(m) for m in options.user_models]
        kwargs["models"] = [*kwargs.get("models", []), *given]
    if kwargs.get("max_gen_tokens") == math.inf:
        kwargs["max_gen_tokens"] = None  # no bound
    aggregator = enum_text(
        plan_pb2.AccuracyAggregator, options.accuracy_aggregator, "accuracy_aggregator"
    )
    if options.WhichOneof("accuracy") == "accuracy_fit":
        if aggregator is not None:
            raise InvalidArgumentError(
                "accuracy_aggregator: only a preset takes an aggregator (a fit gives pass@k)",
                field="accuracy_aggregator",
            )
        fit = accuracy_fit_from(options.accuracy_fit)
        accuracy = fit.as_accuracy(catalog)  # refuses an unconverged fit before any budget
        # Samples travel only when the caller plans under them (the point accuracy of a fit is
        # sent without); then the planner takes the candidates' samples and names a candidate
        # without any, as the façade and the CLI do.
        has_samples = fit.bootstrap > 0 and any(len(f.samples) for f in fit.fits)
        kwargs["accuracy"] = fit if keep_fit and has_samples else accuracy
    elif options.WhichOneof("accuracy") == "measured_accuracy":
        if aggregator is not None:
            raise InvalidArgumentError(
                "accuracy_aggregator: only a preset takes an aggregator (measured accuracy is "
                "pass@k of the eval counts)",
                field="accuracy_aggregator",
            )
        rows = _eval_rows(options.measured_accuracy.rows, _candidates(kwargs, catalog))
        kwargs["accuracy"] = Accuracy.measured(
            rows, catalog=catalog, name=options.measured_accuracy.name or None
        )
    else:
        name = options.accuracy_preset if options.HasField("accuracy_preset") else None
        kwargs["accuracy"] = Accuracy.preset(
            DEFAULT_ACCURACY_PRESET if name is None else name,
            aggregator or "coverage",  # type: ignore[arg-type]
            catalog=catalog,
        )
    if options.attention:
        kwargs["attention"] = _attention_choices(options.attention)
    kwargs["serving"] = serving_from(options.serving)
    return kwargs


EVAL_COUNT_MAX = 2**32 - 1
"""Largest ``n`` or ``c`` of an eval row (the core counts samples in 32 bits)."""


def _candidates(kwargs: Mapping[str, Any], catalog: Catalog) -> set[str] | None:
    """The candidate models the options name (None: every model the accuracy covers)."""
    if "models" in kwargs:
        return {m if isinstance(m, str) else m.name for m in kwargs["models"]}
    if "family" in kwargs:
        try:
            return set(catalog.family(kwargs["family"]).members)
        except InvalidArgumentError:
            return None  # the planner names the unknown family
    return None


def _eval_rows(
    rows: Sequence[plan_pb2.EvalRow], candidates: set[str] | None
) -> list[dict[str, Any]]:
    """Eval rows as the mappings Accuracy.measured reads, each checked: counts the core can
    hold, and a model among the candidates (a row for another model would be dropped without
    a word; it is more likely a typo than a wish)."""
    out = []
    for i, r in enumerate(rows):
        for name, count in (("n", r.n), ("c", r.c)):
            if count > EVAL_COUNT_MAX:
                raise InvalidArgumentError(
                    f"rows[{i}].{name}: must be at most {EVAL_COUNT_MAX}, got {count}",
                    field=f"rows[{i}].{name}",
                )
        if not math.isfinite(r.gen_tokens) or r.gen_tokens < 0:
            raise InvalidArgumentError(
                f"rows[{i}].gen_tokens: must be a finite number >= 0, got {r.gen_tokens}",
                field=f"rows[{i}].gen_tokens",
            )
        if candidates is not None and r.model not in candidates:
            raise InvalidArgumentError(
                f"rows[{i}].model: {clip(r.model)!r} is not a candidate model "
                f"(candidates: {', '.join(sorted(candidates))})",
                field=f"rows[{i}].model",
            )
        out.append(
            {"model": r.model, "gen_tokens": r.gen_tokens, "problem": r.problem, "n": r.n, "c": r.c}
        )
    return out


def plan_test_time_kwargs(
    request: planner_pb2.PlanTestTimeRequest, catalog: Catalog
) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_test_time`; with an accuracy fit's samples,
    the uncertainty options (docs/uncertainty.md)."""
    kwargs = {
        **_goal(request, "budget"),
        **test_time_kwargs(request.options, catalog, keep_fit=True),
    }
    if request.quantiles:
        kwargs["quantiles"] = list(request.quantiles)
    if request.HasField("reach_accuracy"):
        kwargs["reach_accuracy"] = request.reach_accuracy
    return kwargs


def joint_kwargs(options: plan_pb2.JointOptions) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_joint` but the goal."""
    kwargs = _read_options(options, JOINT_OPTIONS)
    _family_models(kwargs, options.family_models)
    kwargs.update(_law_kwargs(options, "options."))
    kwargs.update(_unit(options.unit))
    if options.attention:
        kwargs["attention"] = _attention_choices(options.attention)
    kwargs["serving"] = serving_from(options.serving)
    return kwargs


def plan_joint_kwargs(request: planner_pb2.PlanJointRequest) -> dict[str, Any]:
    kwargs = {**_goal(request, "goal"), **joint_kwargs(request.options)}
    return _uncertain_law(request, kwargs, reach="reach_accuracy")


# Python argument name -> request field path, for naming the field of an error. An argument
# with an element or a sub-field ("rows[3].c") is looked up by its head ("rows").
def _law_path(message: LawMessage, prefix: str) -> str:
    return prefix + (message.WhichOneof("law") or "law_name")


UNCERTAINTY_PATHS = {n: n for n in ("law_samples", "quantiles", "reach_loss")}


def plan_training_paths(request: planner_pb2.PlanTrainingRequest) -> dict[str, str]:
    return {"law": _law_path(request, ""), **UNCERTAINTY_PATHS}


def plan_lifetime_paths(request: planner_pb2.PlanLifetimeRequest) -> dict[str, str]:
    return {
        **dict(LIFETIME_OPTIONS),
        **SERVING_ARGS,
        "law": _law_path(request, ""),
        "attention": "attention",
        "kv_budget": "attention",
        "block_size": "attention",
        **UNCERTAINTY_PATHS,
    }


def _test_time_paths(prefix: str) -> dict[str, str]:
    paths = {arg: prefix + field for arg, field in TEST_TIME_OPTIONS}
    paths.update({arg: prefix + path for arg, path in SERVING_ARGS.items()})
    paths.update(
        accuracy=f"{prefix}accuracy_preset",
        accuracy_aggregator=f"{prefix}accuracy_aggregator",
        rows=f"{prefix}measured_accuracy.rows",
        accuracy_fit=f"{prefix}accuracy_fit",
        # Attention choices are checked one by one (_attention_choices); the core's own check
        # (a last line of defence) says no index.
        attention=f"{prefix}attention",
        kv_budget=f"{prefix}attention",
        block_size=f"{prefix}attention",
    )
    return paths


def plan_test_time_paths(request: planner_pb2.PlanTestTimeRequest) -> dict[str, str]:
    return {
        **_test_time_paths("options."),
        "budget": request.WhichOneof("budget") or "budget_eflops",
        "quantiles": "quantiles",
        "reach_accuracy": "reach_accuracy",
    }


def frontier_test_time_paths(request: planner_pb2.FrontierTestTimeRequest) -> dict[str, str]:
    return {**_test_time_paths("options."), "budget": "budgets"}


def _joint_paths(options: plan_pb2.JointOptions) -> dict[str, str]:
    paths = {arg: f"options.{field}" for arg, field in JOINT_OPTIONS}
    paths.update({arg: f"options.{path}" for arg, path in SERVING_ARGS.items()})
    paths.update(
        law=_law_path(options, "options."),
        unit="options.unit",
        attention="options.attention",
        kv_budget="options.attention",
        block_size="options.attention",
    )
    return paths


def plan_joint_paths(request: planner_pb2.PlanJointRequest) -> dict[str, str]:
    paths = {n: n for n in ("law_samples", "quantiles", "reach_accuracy")}
    return {**_joint_paths(request.options), **paths}


def frontier_joint_paths(request: planner_pb2.FrontierJointRequest) -> dict[str, str]:
    return {**_joint_paths(request.options), "budget": "budgets"}


# ---- the Python API's arguments -> planner requests (client side) ----


def _write_options(
    message: Message, values: Mapping[str, Any], options: Iterable[tuple[str, str]]
) -> None:
    """Set each option that is not None (a repeated field: its elements)."""
    for arg, name in options:
        value = values.get(arg)
        if value is None:
            continue
        if message.DESCRIPTOR.fields_by_name[name].is_repeated:
            items = [value] if isinstance(value, str) else value
            try:
                getattr(message, name).extend(items)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"{arg}: {exc}", field=arg) from None
        else:
            _set(message, name, value, arg)


def _one_goal(names: Sequence[str], values: Sequence[Any], field: str) -> tuple[str, Any] | None:
    """The one goal given (None when none is: the server names the error as the API does)."""
    given = [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
    if len(given) > 1:
        raise InvalidArgumentError(f"{field}: give exactly one of {', '.join(names)}", field=field)
    return given[0] if given else None


def _write_goal(message: Message, goal: tuple[str, Any] | None) -> None:
    if goal is not None:
        _set(message, goal[0], goal[1], goal[0])


def _write_uncertain_law(
    message: Any, law: str | LossLaw | LawFit, quantiles: Any, reach_loss: Any
) -> None:
    """The law, and with a LawFit its point law and samples, and the uncertainty options."""
    _write_law(message, _write_samples(message, law, quantiles, "reach_loss", reach_loss))


def _write_samples(
    message: Any, law: str | LossLaw | LawFit, quantiles: Any, reach: str, value: Any
) -> str | LossLaw:
    """A LawFit's samples and the uncertainty options into ``message``; the law to send (a
    LawFit's point law)."""
    if isinstance(law, LawFit):
        if law.samples.ndim == 2 and law.samples.shape[1] != len(FIT_KEYS):
            raise InvalidArgumentError(
                f"law: the samples of a {law.form!r} fit ({law.samples.shape[1]} numbers each) "
                "do not travel over gRPC (law_samples holds E, A, B, alpha, beta); plan "
                "locally, or send fit.law for the point plan",
                field="law",
            )
        message.law_samples.values.extend(np.asarray(law.samples, dtype=np.float64).ravel())
        law = law.law
    if quantiles is not None:
        try:
            message.quantiles.extend(np.atleast_1d(np.asarray(quantiles, dtype=np.float64)))
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"quantiles: expected numbers in [0, 1], got {quantiles!r}", field="quantiles"
            ) from None
    if value is not None:
        _set(message, reach, value, reach)
    return law


def _write_law(message: LawMessage, law: str | LossLaw) -> None:
    if isinstance(law, LossLaw):
        message.custom_law.CopyFrom(law_message(law))
    else:
        _set(message, "law_name", law, "law")


def _write_accuracy(
    options: plan_pb2.TestTimeOptions, accuracy: Any, *, samples: bool = False
) -> None:
    """A preset name, an Accuracy.preset, measured rows (mappings) or a file of them (a path
    object; a str is a preset name). An AccuracyFit travels with its bootstrap samples when
    ``samples`` (and it was given as the fit, not as ``fit.accuracy``)."""
    if isinstance(accuracy, str):
        options.accuracy_preset = accuracy
        options.accuracy_aggregator = plan_pb2.ACCURACY_AGGREGATOR_COVERAGE
        return
    fit = accuracy.fit if isinstance(accuracy, Accuracy) else accuracy
    if isinstance(fit, AccuracyFit):
        # The point plan needs (a, b) per model and length only; the samples travel only when
        # the plan is to be made under them (the fit itself given to plan_test_time).
        keep = samples and isinstance(accuracy, AccuracyFit)
        options.accuracy_fit.CopyFrom(accuracy_fit_message(fit, samples=keep))
        return
    if isinstance(accuracy, Accuracy):
        if accuracy.preset_name is None:
            raise InvalidArgumentError(
                "accuracy: an Accuracy.measured object cannot be sent; pass its rows (or a "
                "pathlib.Path of the file) as accuracy instead",
                field="accuracy",
            )
        options.accuracy_preset = accuracy.preset_name
        options.accuracy_aggregator = enum_number(  # type: ignore[assignment]
            plan_pb2.AccuracyAggregator, accuracy.aggregator, "accuracy"
        )
        return
    # Read and checked as Accuracy.measured reads them: an error names the file's row.
    columns, path = eval_columns(accuracy)
    message = options.measured_accuracy
    if path is not None:
        message.name = Path(path).name  # as Accuracy.measured names a file's task
    for model, gen_tokens, problem, n, c in zip(*columns, strict=True):
        message.rows.add(model=model, gen_tokens=gen_tokens, problem=problem, n=n, c=c)


def plan_training_request(
    *,
    budget_flops: float | None,
    target_loss: float | None,
    law: str | LossLaw | LawFit,
    unique_tokens: float | None,
    r_star: float | None,
    quantiles: Any = None,
    reach_loss: float | None = None,
    start_in_months: float = 0.0,
) -> planner_pb2.PlanTrainingRequest:
    request = planner_pb2.PlanTrainingRequest()
    goal = _one_goal(("budget_flops", "target_loss"), (budget_flops, target_loss), "budget_flops")
    _write_goal(request, goal)
    _write_uncertain_law(request, law, quantiles, reach_loss)
    options = {"unique_tokens": unique_tokens, "r_star": r_star, "start_in_months": start_in_months}
    _write_options(request, options, TRAINING_OPTIONS)
    return request


def plan_lifetime_request(
    *,
    target_loss: float | None,
    budget: float | None,
    law: str | LossLaw | LawFit,
    unit: str,
    attention: Any,
    serving: Serving | None,
    quantiles: Any = None,
    reach_loss: float | None = None,
    **options: Any,
) -> planner_pb2.PlanLifetimeRequest:
    """The request for :func:`scaleplan.plan_lifetime`'s arguments (scalars); ``options`` are
    those of LIFETIME_OPTIONS."""
    request = planner_pb2.PlanLifetimeRequest()
    _write_goal(request, _one_goal(("budget", "target_loss"), (budget, target_loss), "budget"))
    _write_uncertain_law(request, law, quantiles, reach_loss)
    request.unit = enum_number(plan_pb2.CostUnit, unit, "unit")  # type: ignore[assignment]
    request.attention.CopyFrom(attention_message(parse_attention(attention)))
    options = _write_family(options, request.family_models)
    _write_options(request, options, LIFETIME_OPTIONS)
    request.serving.CopyFrom(serving_message(serving_value(serving)))
    return request


def test_time_options(
    options: plan_pb2.TestTimeOptions,
    *,
    accuracy: Any,
    attention: Any,
    serving: Serving | None,
    fit_samples: bool,
    **values: Any,
) -> None:
    """Fill TestTimeOptions from :func:`scaleplan.frontier_test_time`'s arguments;
    ``fit_samples``: an AccuracyFit travels with its bootstrap samples (PlanTestTime plans
    under them)."""
    values = dict(values)
    if values.get("max_gen_tokens", 0) is None:
        values["max_gen_tokens"] = math.inf  # no bound
    options.user_models.extend(model_message(m) for m in _split_models(values, "models"))
    _write_options(options, values, TEST_TIME_OPTIONS)
    _write_accuracy(options, accuracy, samples=fit_samples)
    options.attention.extend(attention_message(a) for a in attention_choices(attention))
    options.serving.CopyFrom(serving_message(serving_value(serving)))


TEST_TIME_BUDGETS = ("budget_eflops", "budget_seconds", "budget_usd", "budget_flops")


def plan_test_time_request(
    budgets: Mapping[str, float | None], **options: Any
) -> planner_pb2.PlanTestTimeRequest:
    request = planner_pb2.PlanTestTimeRequest()
    goal = _one_goal(TEST_TIME_BUDGETS, [budgets[n] for n in TEST_TIME_BUDGETS], "budget")
    _write_goal(request, goal)
    quantiles, reach = options.pop("quantiles", None), options.pop("reach_accuracy", None)
    test_time_options(request.options, **options, fit_samples=True)
    if quantiles is not None:
        request.quantiles.extend(float(q) for q in np.atleast_1d(quantiles))
    if reach is not None:
        _set(request, "reach_accuracy", reach, "reach_accuracy")
    return request


def frontier_test_time_request(
    budgets: Sequence[float], unit: str, chunk_points: int, **options: Any
) -> planner_pb2.FrontierTestTimeRequest:
    request = planner_pb2.FrontierTestTimeRequest()
    _write_options(request, {"budgets": budgets}, [("budgets", "budgets")])
    request.unit = enum_number(plan_pb2.CostUnit, unit, "unit")  # type: ignore[assignment]
    _set(request, "chunk_points", chunk_points, "chunk_points")
    for name in ("quantiles", "reach_accuracy"):
        if options.pop(name, None) is not None:
            raise InvalidArgumentError(
                f"{name}: FrontierTestTime plans the accuracy fit's point accuracy; plans "
                "under its samples travel one budget at a time (PlanTestTime)",
                field=name,
            )
    test_time_options(request.options, **options, fit_samples=False)
    return request


def joint_options(
    options: plan_pb2.JointOptions,
    *,
    law: str | LossLaw,
    unit: str,
    attention: Any,
    serving: Serving | None,
    **values: Any,
) -> None:
    """Fill JointOptions from :func:`scaleplan.plan_joint`'s arguments but the goal."""
    values = _write_family(values, options.family_models)
    _write_options(options, values, JOINT_OPTIONS)
    _write_law(options, law)
    options.unit = enum_number(plan_pb2.CostUnit, unit, "unit")  # type: ignore[assignment]
    options.attention.extend(attention_message(a) for a in attention_choices(attention))
    options.serving.CopyFrom(serving_message(serving_value(serving)))


def plan_joint_request(
    *,
    budget: float | None,
    target_accuracy: float | None,
    quantiles: Any = None,
    reach_accuracy: float | None = None,
    **options: Any,
) -> planner_pb2.PlanJointRequest:
    request = planner_pb2.PlanJointRequest()
    goal = _one_goal(("budget", "target_accuracy"), (budget, target_accuracy), "budget")
    _write_goal(request, goal)
    law = _write_samples(request, options.pop("law"), quantiles, "reach_accuracy", reach_accuracy)
    joint_options(request.options, law=law, **options)
    return request


def frontier_joint_request(
    budgets: Sequence[float], chunk_points: int, **options: Any
) -> planner_pb2.FrontierJointRequest:
    quantiles, reach = options.pop("quantiles", None), options.pop("reach_accuracy", None)
    if isinstance(options.get("law"), LawFit) or quantiles is not None or reach is not None:
        raise InvalidArgumentError(
            "law: plans under uncertainty travel one budget at a time over gRPC (PlanJoint); "
            "call plan_joint per budget, or pass fit.law for the frontier of the point law",
            field="law",
        )
    request = planner_pb2.FrontierJointRequest()
    _write_options(request, {"budgets": budgets}, [("budgets", "budgets")])
    _set(request, "chunk_points", chunk_points, "chunk_points")
    joint_options(request.options, **options)
    return request


# ---- FitLaw ----------------------------------------------------------------------------------

_FIT_FIELDS = (
    "irreducible_loss",
    "params_coefficient",
    "tokens_coefficient",
    "params_exponent",
    "tokens_exponent",
)
"""FitLawResponse fields of E, A, B, alpha, beta (scaleplan.fit.KEYS order)."""
FIT_LAW_ARGS = {"params": "runs[].params", "tokens": "runs[].tokens", "loss": "runs[].loss"}
"""Request paths of fit_law's arguments: element i of ``params`` is ``runs[i].params``; the
whole argument is ``runs`` (server/errors.py, field_path)."""


def fit_law_kwargs(request: planner_pb2.FitLawRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.fit_law`."""
    runs = request.runs
    return {
        "params": [r.params for r in runs],
        "tokens": [r.tokens for r in runs],
        "loss": [r.loss for r in runs],
        "form": request.form or "chinchilla",
        "delta": request.delta if request.HasField("delta") else 1e-3,
        "bootstrap": request.bootstrap,
        "seed": request.seed,
        "unique_tokens": request.unique_tokens if request.HasField("unique_tokens") else None,
    }


def fit_law_level(request: planner_pb2.FitLawRequest) -> float:
    level = request.level if request.HasField("level") else 0.95
    if not 0.0 < level < 1.0:
        raise InvalidArgumentError(f"level: must be in (0, 1), got {level}", field="level")
    return level


def fit_law_request(
    params: Any,
    tokens: Any,
    loss: Any,
    *,
    form: str,
    delta: float,
    bootstrap: int,
    seed: int,
    unique_tokens: float | None,
    level: float | None,
) -> planner_pb2.FitLawRequest:
    n, d, y = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (params, tokens, loss))
    if not len(n) == len(d) == len(y):
        raise InvalidArgumentError(
            f"tokens, loss: expected as many values as params ({len(n)}), got {len(d)} and "
            f"{len(y)}",
            field="tokens" if len(d) != len(n) else "loss",
        )
    request = planner_pb2.FitLawRequest(
        runs=[planner_pb2.Run(params=a, tokens=b, loss=c) for a, b, c in zip(n, d, y, strict=True)],
        form=form,
        delta=delta,
        bootstrap=bootstrap,
        seed=seed,
    )
    if unique_tokens is not None:
        request.unique_tokens = unique_tokens
    if level is not None:
        request.level = level
    return request


def fit_law_message(fit: LawFit, level: float) -> planner_pb2.FitLawResponse:
    out = planner_pb2.FitLawResponse(
        converged=fit.converged,
        message=fit.message,
        n_points=fit.n_points,
        objective=fit.objective,
        level=level,
        covariance_source=fit.covariance_source,
        residuals=fit.residuals.tolist(),
        samples=fit.samples.ravel().tolist(),
        covariance=[] if fit.covariance is None else fit.covariance.ravel().tolist(),
        bootstrap_unconverged=fit.bootstrap_unconverged,
    )
    if fit.converged:
        out.law.CopyFrom(law_message(fit.law))
    stderr = fit.stderr
    intervals = fit.interval(level) if len(fit.samples) else None
    for key, name in zip(FIT_KEYS, _FIT_FIELDS, strict=True):
        param = getattr(out, name)
        param.estimate = fit.estimate[key]
        if stderr is not None:
            param.stderr = stderr[key]
        if intervals is not None:
            param.lower, param.upper = intervals[key]
    if fit.form == "muennighoff" and fit.converged:
        # The decay constants: estimates from the law, spreads from the bootstrap.
        repetition = fit.law.repetition
        for key in REPETITION_KEYS:
            param = getattr(out, key)
            param.estimate = getattr(repetition, key)
            if stderr is not None:
                param.stderr = stderr[key]
            if intervals is not None:
                param.lower, param.upper = intervals[key]
    return out


def law_fit_from(response: planner_pb2.FitLawResponse, **settings: Any) -> LawFit:
    estimate = {
        k: getattr(response, name).estimate for k, name in zip(FIT_KEYS, _FIT_FIELDS, strict=True)
    }
    cov = np.asarray(response.covariance, dtype=np.float64)
    width = len(FIT_KEYS) + (len(REPETITION_KEYS) if settings.get("form") == "muennighoff" else 0)
    return LawFit(
        estimate=estimate,
        covariance=cov.reshape(width, width) if cov.size == width * width else None,
        covariance_source=response.covariance_source,
        samples=np.asarray(response.samples, dtype=np.float64).reshape(-1, width),
        residuals=np.asarray(response.residuals, dtype=np.float64),
        n_points=response.n_points,
        objective=response.objective,
        converged=response.converged,
        message=response.message,
        bootstrap_unconverged=response.bootstrap_unconverged,
        _law=law_from(response.law) if response.HasField("law") else None,
        **settings,
    )


# ---- Calibrate -------------------------------------------------------------------------------

CALIBRATE_ARGS = {
    "rows": "runs",
    "runs": "runs",
    "batch": "runs[].batch_sequences",
    "prompt_tokens": "runs[].prompt_tokens",
    "gen_tokens": "runs[].gen_tokens",
    "gpus": "runs[].gpus",
    "ttft_s": "runs[].ttft_s",
    "tpot_s": "runs[].tpot_s",
}
"""Request paths of calibrate's arguments: a run's column ``ttft_s`` at index i is
``runs[i].ttft_s``, its model (``rows.model``) ``runs[i].model``."""


def calibrate_kwargs(request: planner_pb2.CalibrateRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.calibrate`."""
    rows = [
        {
            "model": r.model,
            "batch": r.batch_sequences,
            "prompt_tokens": r.prompt_tokens,
            "gen_tokens": r.gen_tokens,
            "gpus": r.gpus if r.HasField("gpus") else 1,
            "ttft_s": r.ttft_s,
            "tpot_s": r.tpot_s,
        }
        for r in request.runs
    ]
    return {
        "rows": rows,
        "hardware": request.hardware,
        "model": request.model if request.HasField("model") else None,
        "name": request.name if request.HasField("name") else None,
        "bootstrap": request.bootstrap if request.HasField("bootstrap") else 0,
        "seed": request.seed,
    }


def calibrate_request(
    runs: Sequence[Mapping[str, Any]],
    hardware: str,
    model: str | None,
    name: str | None,
    bootstrap: int = 0,
    seed: int = 0,
) -> planner_pb2.CalibrateRequest:
    """The request of runs in calibrate's canonical columns (``calibrate.runs_of``)."""
    request = planner_pb2.CalibrateRequest(hardware=hardware)
    if bootstrap:
        _set(request, "bootstrap", bootstrap, "bootstrap")
    _set(request, "seed", seed, "seed")
    for i, r in enumerate(runs):
        gpus = float(r.get("gpus", 1))
        if not (gpus.is_integer() and 1 <= gpus < 2**32):
            raise InvalidArgumentError(
                f"gpus: must be a whole number of at least 1, got {gpus}", field="gpus", index=i
            )
        request.runs.add(
            model=str(r.get("model") or ""),
            batch_sequences=r["batch"],
            prompt_tokens=r["prompt_tokens"],
            gen_tokens=r["gen_tokens"],
            ttft_s=r["ttft_s"],
            tpot_s=r["tpot_s"],
            gpus=int(gpus),
        )
    if model is not None:
        request.model = model
    if name is not None:
        request.name = name
    return request


def calibrate_message(cal: Calibration) -> planner_pb2.CalibrateResponse:
    out = planner_pb2.CalibrateResponse(
        ttft_relative=cal.residuals["ttft"].tolist(),
        tpot_relative=cal.residuals["tpot"].tolist(),
        ttft_predicted_s=cal.predicted["ttft_s"].tolist(),
        tpot_predicted_s=cal.predicted["tpot_s"].tolist(),
        prefill_compute_bound=list(cal.prefill_compute_bound),
        n_runs=cal.n_runs,
        rms_relative_error=cal.rms_relative_error,
        samples=cal.samples.ravel().tolist(),
        bootstrap=cal.bootstrap,
        seed=cal.seed,
        bootstrap_failed=cal.bootstrap_failed,
    )
    out.hardware.CopyFrom(hardware_message(cal.hardware))
    for k in CALIBRATED:
        param = getattr(out, k)
        param.estimate = cal.parameters[k]
        param.stderr = cal.stderr[k]
        param.at_bound = cal.at_bound[k]
    return out


def calibration_from(
    response: planner_pb2.CalibrateResponse, runs: Sequence[Mapping[str, Any]]
) -> Calibration:
    def array(values: Iterable[float]) -> npt.NDArray[np.float64]:
        return np.asarray(list(values), dtype=np.float64)

    return Calibration(
        hardware=hardware_from(response.hardware),
        parameters={k: getattr(response, k).estimate for k in CALIBRATED},
        stderr={k: getattr(response, k).stderr for k in CALIBRATED},
        at_bound={k: getattr(response, k).at_bound for k in CALIBRATED},
        residuals={"ttft": array(response.ttft_relative), "tpot": array(response.tpot_relative)},
        predicted={
            "ttft_s": array(response.ttft_predicted_s),
            "tpot_s": array(response.tpot_predicted_s),
        },
        prefill_compute_bound=tuple(response.prefill_compute_bound),
        n_runs=response.n_runs,
        rms_relative_error=response.rms_relative_error,
        runs=tuple(dict(r) for r in runs),
        samples=array(response.samples).reshape(-1, len(CALIBRATED)),
        bootstrap=response.bootstrap,
        seed=response.seed,
        bootstrap_failed=response.bootstrap_failed,
    )


# ---- FitAccuracy -----------------------------------------------------------------------------

FIT_ACCURACY_ARGS = {"rows": "rows", "accuracy_fit": "rows"}
"""Request paths of fit_accuracy's arguments (a row's column ``rows.c`` at index i is
``rows[i].c``)."""


def fitted_accuracy_message(f: FittedAccuracy, *, samples: bool = True) -> plan_pb2.FittedAccuracy:
    out = plan_pb2.FittedAccuracy(
        model=f.model,
        gen_tokens=f.gen_tokens,
        problems=f.problems,
        eval_samples=f.eval_samples,
        pass1=f.pass1,
        converged=f.converged,
        message=f.message,
        samples=f.samples.ravel().tolist() if samples else [],
        bootstrap_failed=f.bootstrap_failed,
    )
    for name in ("a", "b", "log_likelihood"):
        value = getattr(f, name)
        if value is not None:
            setattr(out, name, value)
    return out


def accuracy_fit_message(fit: AccuracyFit, *, samples: bool = True) -> plan_pb2.AccuracyFit:
    return plan_pb2.AccuracyFit(
        fits=[fitted_accuracy_message(f, samples=samples) for f in fit.fits],
        name=fit.name,
        rows=fit.rows,
        bootstrap=fit.bootstrap,
        seed=fit.seed,
    )


def accuracy_fit_from(message: plan_pb2.AccuracyFit) -> AccuracyFit:
    """An AccuracyFit from its message, checked as a saved fit is (AccuracyFit.from_dict):
    an error names ``accuracy_fit``."""
    data = {
        "format": ACCURACY_FIT_FORMAT,
        "name": message.name or "rows",
        "rows": message.rows,
        "bootstrap": message.bootstrap,
        "seed": message.seed,
        "fits": [
            {
                "model": f.model,
                "gen_tokens": f.gen_tokens,
                "problems": f.problems,
                "eval_samples": f.eval_samples,
                "pass1": f.pass1,
                "a": f.a if f.HasField("a") else None,
                "b": f.b if f.HasField("b") else None,
                "log_likelihood": f.log_likelihood if f.HasField("log_likelihood") else None,
                "converged": f.converged,
                "message": f.message,
                "samples": list(f.samples),
                "bootstrap_failed": f.bootstrap_failed,
            }
            for f in message.fits
        ],
    }
    if not message.fits:
        raise InvalidArgumentError("accuracy_fit: has no fits", field="accuracy_fit")
    if any(len(f.samples) % 2 for f in message.fits):
        raise InvalidArgumentError(
            "accuracy_fit: samples must hold (a, b) pairs", field="accuracy_fit"
        )
    return AccuracyFit.from_dict(data, source="request")


def fit_accuracy_kwargs(request: planner_pb2.FitAccuracyRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.fit_accuracy`."""
    if len(request.rows) > ACCURACY_FIT_MAX_ROWS:
        raise LimitExceededError(
            f"rows: {len(request.rows)} exceeds the limit of {ACCURACY_FIT_MAX_ROWS}",
            field="rows",
            limit=ACCURACY_FIT_MAX_ROWS,
            got=len(request.rows),
        )
    return {
        "rows": _eval_rows(request.rows, None),
        "bootstrap": request.bootstrap
        if request.HasField("bootstrap")
        else ACCURACY_FIT_DEFAULT_BOOTSTRAP,
        "seed": request.seed,
        "name": request.name or None,
    }


def fit_accuracy_request(
    rows: Any, *, bootstrap: int, seed: int, name: str | None
) -> planner_pb2.FitAccuracyRequest:
    """The request for fit_accuracy's arguments: rows (mappings) or a file of them, read and
    checked here as the façade reads them (an error names the file's row)."""
    columns, path = eval_columns(rows)
    request = planner_pb2.FitAccuracyRequest(bootstrap=bootstrap, seed=seed)
    request.name = name if name is not None else (Path(path).name if path is not None else "")
    for model, gen_tokens, problem, n, c in zip(*columns, strict=True):
        request.rows.add(model=model, gen_tokens=gen_tokens, problem=problem, n=n, c=c)
    return request


# ---- parallel streams (ParScale): scaleplan.plan_parscale ----

PARSCALE_PLAN_FIELDS: dict[str, str] = {}
PARSCALE_OPTIONS = tuple(
    (arg, arg)
    for arg in (
        "hardware",
        "prompt_tokens",
        "gen_tokens",
        "samples",
        "law",
        "family",
        "objective",
        "streams",
        "max_latency_s",
    )
)


def parscale_plan_message(plan: ParScalePlan) -> plan_pb2.ParScalePlan:
    return _plan_message(plan, plan_pb2.ParScalePlan(), PARSCALE_PLAN_FIELDS)


def parscale_plan_from(message: plan_pb2.ParScalePlan) -> ParScalePlan:
    return _plan_from(ParScalePlan, message, PARSCALE_PLAN_FIELDS)


def plan_parscale_kwargs(request: planner_pb2.PlanParScaleRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_parscale` (an unset field: the façade's
    default)."""
    kwargs = {**_goal(request, "goal"), **_read_options(request, PARSCALE_OPTIONS)}
    # Required by the façade: an empty name is an unknown hardware (NOT_FOUND naming it).
    kwargs.setdefault("hardware", request.hardware)
    if request.HasField("attention"):
        kwargs["attention"] = attention_from(request.attention, "attention")
    kwargs["serving"] = serving_from(request.serving)
    return kwargs


# ---- PlanAgent -------------------------------------------------------------------------------

AGENT_PLAN_FIELDS: dict[str, str] = {}

PLAN_AGENT_ARGS = {
    **SERVING_ARGS,
    "rows": "rows",
    "target_accuracy": "target_accuracy",
    "budget": "budget",
    "unit": "unit",
    "hardware": "hardware",
    "tool_prices": "tool_prices",
    "usd_per_hour": "usd_per_hour",
}
"""Request paths of plan_agent's arguments: a row's column ``rows.accuracy`` at index i is
``rows[i].accuracy``, its calls ``rows[i].calls``."""


def plan_agent_kwargs(request: planner_pb2.PlanAgentRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_agent` (the rows as the mappings
    :func:`scaleplan.agent.agent_table` reads)."""
    rows: list[dict[str, Any]] = []
    for r in request.rows:
        row: dict[str, Any] = {
            "model": r.model,
            "tool_budget": r.tool_budget,
            "accuracy": r.accuracy,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
        }
        if r.HasField("turns"):
            row["turns"] = r.turns
        row.update({CALLS_PREFIX + tool: calls for tool, calls in sorted(r.calls.items())})
        rows.append(row)
    kwargs: dict[str, Any] = {"table": rows, **_goal(request, "goal"), **_unit(request.unit)}
    if request.hardware:
        kwargs["hardware"] = request.hardware
    if request.tool_prices:
        kwargs["tool_prices"] = dict(request.tool_prices)
    if request.HasField("usd_per_hour"):
        kwargs["usd_per_hour"] = request.usd_per_hour
    kwargs["serving"] = serving_from(request.serving)
    return kwargs


def plan_parscale_paths(request: planner_pb2.PlanParScaleRequest) -> dict[str, str]:
    return {
        **dict(PARSCALE_OPTIONS),
        **SERVING_ARGS,
        "attention": "attention",
        "kv_budget": "attention",
        "block_size": "attention",
    }


def plan_parscale_request(
    *,
    target_loss: float | None,
    budget: float | None,
    attention: Any,
    serving: Serving | None,
    **options: Any,
) -> planner_pb2.PlanParScaleRequest:
    """The request for :func:`scaleplan.plan_parscale`'s arguments (scalars; catalog names for
    the law, the hardware and the family); ``options`` are those of PARSCALE_OPTIONS."""
    request = planner_pb2.PlanParScaleRequest()
    _write_goal(request, _one_goal(("budget", "target_loss"), (budget, target_loss), "budget"))
    request.attention.CopyFrom(attention_message(parse_attention(attention)))
    streams = options.get("streams")
    if streams is not None and not isinstance(streams, Sequence | np.ndarray):
        options = {**options, "streams": [streams]}
    _write_options(request, options, PARSCALE_OPTIONS)
    request.serving.CopyFrom(serving_message(serving_value(serving)))
    return request


def plan_agent_request(
    table: Any,
    *,
    target_accuracy: Any,
    budget: Any,
    unit: str,
    hardware: str | Hardware,
    tool_prices: Mapping[str, float] | None,
    usd_per_hour: float | None,
    serving: Serving | None,
) -> planner_pb2.PlanAgentRequest:
    """The request of :func:`scaleplan.plan_agent`'s arguments (the table read and checked by
    :func:`scaleplan.agent.agent_table`, the one reader)."""
    data = agent_table(table)
    request = planner_pb2.PlanAgentRequest()
    for i in range(len(data.model)):
        row = request.rows.add(
            model=data.model[i],
            tool_budget=data.tool_budget[i],
            accuracy=data.accuracy[i],
            input_tokens=data.input_tokens[i],
            output_tokens=data.output_tokens[i],
            turns=data.turns[i],
        )
        row.calls.update(dict(zip(data.tools, data.calls[i], strict=True)))
    _write_goal(
        request, _one_goal(("target_accuracy", "budget"), [target_accuracy, budget], "goal")
    )
    request.unit = enum_number(plan_pb2.CostUnit, unit, "unit")  # type: ignore[assignment]
    if not isinstance(hardware, str):
        raise InvalidArgumentError(
            "hardware: the client sends a catalog name (the server prices on its catalog)",
            field="hardware",
        )
    request.hardware = hardware
    for name, price in (tool_prices or {}).items():
        try:
            request.tool_prices[name] = price
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"tool_prices: {exc}", field="tool_prices") from None
    if usd_per_hour is not None:
        _set(request, "usd_per_hour", usd_per_hour, "usd_per_hour")
    request.serving.CopyFrom(serving_message(serving_value(serving)))
    return request


def agent_plan_message(plan: AgentPlan) -> plan_pb2.AgentPlan:
    return _plan_message(plan, plan_pb2.AgentPlan(), AGENT_PLAN_FIELDS)


def agent_plan_from(message: plan_pb2.AgentPlan) -> AgentPlan:
    return _plan_from(AgentPlan, message, AGENT_PLAN_FIELDS)


# ---- RAG (docs/planning.md#rag) ----

RAG_PLAN_FIELDS: dict[str, str] = {}
"""RagPlan: Python field name -> wire field name, where they differ (none)."""

_RAG_SIGMA = ("scale", "slope", "shift", "offset")

RAG_OPTIONS = [
    (name, name)
    for name in (
        "i_doc",
        "i_shot",
        "context_budget_tokens",
        "budget_eflops",
        "latency_budget_s",
        "model",
        "hardware",
        "doc_tokens",
        "question_tokens",
        "answer_tokens",
        "gen_tokens",
        "max_documents",
        "max_shots",
        "max_iterations",
    )
]
"""Options of PlanRagRequest read and written as they are (argument name = field name)."""


# ---- the other law families of the catalog listing (ListCatalog) ----


def parscale_law_message(law: ParScaleLaw) -> catalog_pb2.ParScaleLaw:
    """A parallel-scaling law (ParScale) as listed by ListCatalog."""
    return catalog_pb2.ParScaleLaw(
        name=law.name,
        irreducible_loss=law.E,
        params_coefficient=law.A,
        params_exponent=law.alpha,
        streams_coefficient=law.k,
        params_min=law.params_min,
        params_max=law.params_max,
        streams=list(STREAMS),
        description=law.description,
        source=law.source,
        domain=law.domain,
    )


def algorithmic_progress_message(progress: Mapping[str, Any]) -> catalog_pb2.AlgorithmicProgress:
    """The algorithmic-progress table (``scaleplan.plan.ALGORITHMIC_PROGRESS``) and its domain,
    the start offsets ``plan_training`` accepts."""
    return catalog_pb2.AlgorithmicProgress(
        name=progress["name"],
        halving_months=progress["halving_months"],
        halving_months_fast=progress["halving_months_fast"],
        halving_months_slow=progress["halving_months_slow"],
        source=progress["source"],
        max_start_in_months=progress["max_start_in_months"],
    )


def rag_law_message(law: RagLaw) -> planner_pb2.RagLaw:
    return planner_pb2.RagLaw(
        name=law.name,
        a=list(law.a),
        b=list(law.b),
        c=law.c,
        description=law.description,
        source=law.source,
        **{f"sigma_{k}": getattr(law.sigma, k) for k in _RAG_SIGMA},
    )


def rag_law_from(message: planner_pb2.RagLaw, path: str) -> RagLaw:
    """The law a message describes; an invalid coefficient names its field under ``path``."""
    for name, size in (("a", 3), ("b", 2)):
        if len(getattr(message, name)) != size:
            raise InvalidArgumentError(
                f"{path}.{name}: expected {size} values, got {len(getattr(message, name))}",
                field=f"{path}.{name}",
            )
    try:
        return RagLaw(
            name=message.name or "custom",
            a=tuple(message.a),  # type: ignore[arg-type]
            b=tuple(message.b),  # type: ignore[arg-type]
            c=message.c,
            sigma=RagSigma(**{k: getattr(message, f"sigma_{k}") for k in _RAG_SIGMA}),
            description=message.description,
            source=message.source,
        )
    except InvalidArgumentError as exc:
        field = exc.field.replace("sigma.", "sigma_").split("[")[0]
        raise exc.replace(field=f"{path}.{field}") from exc


def rag_plan_message(plan: RagPlan) -> planner_pb2.RagPlan:
    return _plan_message(plan, planner_pb2.RagPlan(), RAG_PLAN_FIELDS)


def rag_plan_from(message: planner_pb2.RagPlan) -> RagPlan:
    return _plan_from(RagPlan, message, RAG_PLAN_FIELDS)


def plan_rag_kwargs(request: planner_pb2.PlanRagRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.plan_rag` (an unset option takes its default)."""
    kwargs = _read_options(request, RAG_OPTIONS)
    for required in ("i_doc", "i_shot"):
        if required not in kwargs:
            raise InvalidArgumentError(f"{required}: is required", field=required)
    which = request.WhichOneof("law")
    if which == "law_name":
        kwargs["law"] = request.law_name
    elif which == "custom_law":
        kwargs["law"] = rag_law_from(request.custom_law, "custom_law")
    if request.HasField("serving"):
        kwargs["serving"] = serving_from(request.serving)
    return kwargs


def plan_rag_paths(request: planner_pb2.PlanRagRequest) -> dict[str, str]:
    paths = {arg: field for arg, field in RAG_OPTIONS}
    paths.update(SERVING_ARGS)
    paths["law"] = request.WhichOneof("law") or "law_name"
    paths["budget"] = "context_budget_tokens"
    paths["prefill"] = "serving.prefill"
    return paths


def plan_rag_request(
    *, law: str | RagLaw, serving: Serving | None, **options: Any
) -> planner_pb2.PlanRagRequest:
    request = planner_pb2.PlanRagRequest()
    for name in ("model", "hardware"):
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            options[name] = value.name  # a catalog entry the server knows by name
    _write_options(request, options, RAG_OPTIONS)
    if isinstance(law, RagLaw):
        request.custom_law.CopyFrom(rag_law_message(law))
    else:
        request.law_name = law
    if serving is not None:
        request.serving.CopyFrom(serving_message(serving))
    return request


FIT_RAG_ARGS = {"rows": "rows", "base": "base_name", "name": "name"}
"""fit_rag's arguments -> FitRagRequest field paths, for naming the field of an error."""


def fit_rag_kwargs(request: planner_pb2.FitRagRequest) -> dict[str, Any]:
    """Keyword arguments of :func:`scaleplan.fit_rag`."""
    kwargs: dict[str, Any] = {
        "rows": [
            {c: getattr(r, c) for c in ("documents", "shots", "iterations", "i_doc", "i_shot")}
            | {"metric": r.metric}
            for r in request.rows
        ]
    }
    which = request.WhichOneof("base")
    if which == "base_name":
        kwargs["base"] = request.base_name
    elif which == "custom_base":
        kwargs["base"] = rag_law_from(request.custom_base, "custom_base")
    if request.name:
        kwargs["name"] = request.name
    return kwargs


def fit_rag_request(rows: Sequence[Mapping[str, Any]], base: str | RagLaw, name: str) -> Any:
    request = planner_pb2.FitRagRequest(name=name)
    for i, row in enumerate(rows):
        try:
            request.rows.append(planner_pb2.RagRow(**{c: float(row[c]) for c in FIT_COLUMNS}))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"rows: row {i}: {exc}", field="rows", index=i) from None
    if isinstance(base, RagLaw):
        request.custom_base.CopyFrom(rag_law_message(base))
    else:
        request.base_name = base
    return request


def fit_rag_response(fit: RagFit) -> planner_pb2.FitRagResponse:
    return planner_pb2.FitRagResponse(
        law=rag_law_message(fit.law),
        residuals=np.asarray(fit.residuals, dtype=np.float64).tolist(),
        logit_residuals=np.asarray(fit.logit_residuals, dtype=np.float64).tolist(),
        rms=fit.rms,
        n_rows=fit.n_rows,
    )


def rag_fit_from(message: planner_pb2.FitRagResponse) -> RagFit:
    return RagFit(
        law=rag_law_from(message.law, "law"),
        residuals=np.array(message.residuals, dtype=np.float64),
        logit_residuals=np.array(message.logit_residuals, dtype=np.float64),
        rms=message.rms,
        n_rows=message.n_rows,
    )
