"""Parallel streams as a serving lever (ParScale, Chen et al. 2025, arXiv:2505.10475;
docs/planning.md, "Parallel streams"): the parallel-scaling law L(N, P) = E + (A / (N (1 + k ln
P)))^alpha, and the planner that chooses the stream count P and the model size N serving a
target loss at the least per-query cost, or the lowest loss within a per-query budget."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self, cast

import numpy as np

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast
from scaleplan._schema import documented
from scaleplan.cancel import CancelToken
from scaleplan.catalog import (
    Catalog,
    Hardware,
    Model,
    _entry_json,
    catalog_or_default,
    resolve_family,
    resolve_hardware,
)
from scaleplan.cost import FloatOrArray, Number, _text
from scaleplan.errors import InvalidArgumentError
from scaleplan.plan import Extrapolated, Plan, _assemble, _opt, extrapolation_text
from scaleplan.provenance import (
    Provenance,
    family_input,
    hardware_input,
    parscale_law_input,
    provenance,
)
from scaleplan.serving import AttentionSpec, Serving, planner_serving
from scaleplan.serving import attention as parse_attention

Objective = Literal["gpu_seconds", "latency", "eflops"]
OBJECTIVES: tuple[str, ...] = ("gpu_seconds", "latency", "eflops")

DEFAULT_PARSCALE_LAW = "parscale2025-stack"
"""The parallel-scaling law the stream planner uses when none is given."""
DEFAULT_PARSCALE_FAMILY = "qwen3-dense"
"""The family whose smooth shape rule prices a model of any size N (the paper's models are
Qwen2-architecture dense transformers)."""
DEFAULT_OBJECTIVE: Objective = "gpu_seconds"
STREAMS: tuple[int, ...] = tuple(_core.PARSCALE_STREAMS)
"""The stream counts the published fits measured, and so the only ones a plan may choose."""

_UNITS = {"gpu_seconds": "GPU-s", "latency": "s", "eflops": "eFLOPs"}


@dataclass(frozen=True)
class ParScaleLaw:
    """L(N, P) = E + (A / (N (1 + k ln P)))^alpha: N non-embedding parameters (the streams' own
    included), P parallel streams, natural log; fitted on runs from ``params_min`` to
    ``params_max`` parameters at P in {1, 2, 4, 8}."""

    name: str
    E: float
    A: float
    alpha: float
    k: float
    params_min: float
    params_max: float
    description: str = ""
    source: str = ""
    domain: str = ""
    """The data the law was fitted on: its loss scale."""
    _native: _core.NativeParScaleLaw = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        native = _core.NativeParScaleLaw.from_json(_entry_json(self))
        object.__setattr__(self, "_native", native)

    @classmethod
    def _from_native(cls, native: _core.NativeParScaleLaw) -> Self:
        return cls(**json.loads(native.to_json()))

    def loss(self, params: Any, streams: Any) -> Any:
        """L(N, P) for scalars or arrays; P must be one of 1, 2, 4, 8."""
        args = Broadcast({"params": params, "streams": streams})
        out = self._native.loss(args.required("params"), args.required("streams"))
        return args.shaped(out)

    def params_for(self, loss: Any, streams: Any) -> Any:
        """The N reaching ``loss`` with P streams (closed form); NaN at or below E."""
        args = Broadcast({"loss": loss, "streams": streams})
        out = self._native.params_for(args.required("loss"), args.required("streams"))
        return args.shaped(out)


def parscale_law(name: str, catalog: Catalog | None = None) -> ParScaleLaw:
    """A parallel-scaling law from the catalog: parscale2025-stack (Stack-V2 Python) or
    parscale2025-pile (the Pile), or one added from a user file (``[[parscale_law]]``)."""
    entry = catalog_or_default(catalog)._entry(
        "parscale", name, lambda native: ParScaleLaw._from_native(_core.parscale_law(native, name))
    )
    return cast(ParScaleLaw, entry)


def parscale_law_names(catalog: Catalog | None = None) -> list[str]:
    """The names of the catalog's parallel-scaling laws."""
    return list(_core.parscale_law_names(catalog_or_default(catalog)._native))


def _resolve_law(value: object, catalog: Catalog) -> ParScaleLaw:
    if isinstance(value, ParScaleLaw):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"law: expected a parallel-scaling law name or a scaleplan.ParScaleLaw, got "
            f"{type(value).__name__}",
            field="law",
        )
    return parscale_law(value, catalog)


_WHY = {
    "target_loss": "the target loss binds: this is the cheapest (N, P) reaching it",
    "budget": "the budget binds: more budget buys a lower loss",
    "loss_floor": "the target is at or below the law's irreducible loss E",
    "memory": "the serving hardware's memory rules out a cheaper choice: the weights and the "
    "KV cache of P streams per sequence at the batch in use must fit",
    "latency": "the latency SLO (max_latency_s) rules out a cheaper choice",
    "context": "prompt + generation exceed the family's context",
    "min_params_default": "the model sits at the smallest size searched (1M parameters)",
    "max_params_default": "the model sits at the largest size searched (1e13 parameters)",
}


def _sentence(text: str) -> str:
    """``text`` with its first letter capitalised (the rest as written: SLO stays SLO)."""
    return text[:1].upper() + text[1:]


_NONE = {
    "memory": "no model reaching the goal fits the serving hardware's memory at the batch in use",
    "latency": "no model reaching the goal meets the latency SLO (max_latency_s)",
    "budget": "even the smallest model searched costs more than the budget",
}


@documented
@dataclass(frozen=True)
class ParScalePlan(Plan):
    """The stream count P and model size N that serve a target loss at the least cost per
    query, or the lowest loss within a per-query budget (arrays for an array goal)."""

    law: str
    objective: str
    streams: FloatOrArray
    params: FloatOrArray
    backbone_params: FloatOrArray
    loss: FloatOrArray
    cost: FloatOrArray
    gpu_seconds: FloatOrArray
    latency_s: FloatOrArray
    eflops: FloatOrArray
    batch: FloatOrArray
    max_batch: FloatOrArray
    weight_memory_bytes: FloatOrArray
    kv_memory_bytes_per_query: FloatOrArray
    single_stream_params: FloatOrArray
    single_stream_cost: FloatOrArray
    extrapolated: Extrapolated | Any
    provenance: Provenance

    def _explain_one(self) -> str:
        binding = str(self.binding)
        if not self.feasible:
            why = _NONE.get(binding, _WHY[binding])
            return f"No plan: {why} (law {self.law})."
        unit = _UNITS[self.objective]
        p = int(float(self.streams))
        single = float(self.single_stream_cost)
        if p == 1:
            versus = "One stream is the cheapest way to serve this loss."
        elif math.isnan(single):
            versus = (
                f"The one-stream model of the same loss ({fmt.si(float(self.single_stream_params))}"
                " parameters) does not fit the serving hardware."
            )
        else:
            versus = (
                f"The one-stream model of the same loss ({fmt.si(float(self.single_stream_params))}"
                f" parameters) would cost {single:.4g} {unit}."
            )
        streams = f"{p} parallel stream{'s' if p > 1 else ''}"
        return (
            f"Serve {streams} of a {fmt.si(float(self.params))}-parameter model (backbone "
            f"{fmt.si(float(self.backbone_params))}): loss {float(self.loss):.4f} ({self.law}), "
            f"{float(self.cost):.4g} {unit} per query (latency {float(self.latency_s):.3g} s, "
            f"batch {float(self.batch):.4g}). {versus} {_sentence(_WHY[binding])}."
            f"{extrapolation_text(self.extrapolated, self.law)}"
        )


def _streams(value: object) -> list[float]:
    items = list(value) if isinstance(value, Sequence | np.ndarray) else [value]
    out = []
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise InvalidArgumentError(
                f"streams: expected stream counts among 1, 2, 4, 8, got {v!r}",
                field="streams",
                index=None if len(items) == 1 else i,
            )
        out.append(float(v))
    return out


def plan_parscale(
    *,
    target_loss: Number | None = None,
    budget: Number | None = None,
    hardware: str | Hardware,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    law: str | ParScaleLaw = DEFAULT_PARSCALE_LAW,
    family: str | Sequence[str | Model] = DEFAULT_PARSCALE_FAMILY,
    objective: Objective = DEFAULT_OBJECTIVE,
    streams: int | Sequence[int] = STREAMS,
    max_latency_s: float | None = None,
    attention: AttentionSpec = "dense",
    serving: Serving | None = None,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> ParScalePlan:
    """Parallel streams (ParScale) as a lever: the stream count P (among ``streams``, each one
    of 1, 2, 4, 8) and model size N that reach ``target_loss`` under a parallel-scaling ``law``
    at the least ``objective`` per query (``"gpu_seconds"``, ``"latency"`` or ``"eflops"``),
    or the lowest loss whose per-query ``objective`` is at most ``budget`` (in its unit: GPU-s,
    s or eFLOPs).

    Each candidate is priced by the cost model with P streams per sequence (docs/cost-model.md,
    "Parallel streams") on ``hardware``, the model's shape at each N from ``family``'s smooth
    rule, for queries of ``prompt_tokens`` + ``samples`` x ``gen_tokens``, with ``attention``
    and ``serving`` (a :class:`scaleplan.Serving`; batch "max" is priced as a fleet average, a
    numeric batch must fit whole). It must fit in memory and, with ``max_latency_s``, meet that
    latency; ``binding`` names what decides the plan (docs/planning.md, "Parallel streams").
    """
    if (budget is None) == (target_loss is None):
        raise InvalidArgumentError(
            "budget: give exactly one of budget and target_loss", field="budget"
        )
    kind, values = ("budget", budget) if budget is not None else ("target_loss", target_loss)
    cat = catalog_or_default(catalog)
    the_law = _resolve_law(law, cat)
    if objective not in OBJECTIVES:
        raise InvalidArgumentError(
            f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}",
            field="objective",
        )
    options, _ = planner_serving(serving, auto_gpus=False)
    a = parse_attention(attention)
    family_name, family_catalog = resolve_family(family, cat)
    hw = resolve_hardware(hardware, cat)
    args = Broadcast(
        {
            kind: values,
            "prompt_tokens": prompt_tokens,
            "gen_tokens": gen_tokens,
            "samples": samples,
        }
    )
    arrays = _core.plan_parscale(
        the_law._native,
        kind,
        args.required(kind),
        args.required("prompt_tokens"),
        args.required("gen_tokens"),
        args.required("samples"),
        catalog=family_catalog._native,
        family=_text("family", family_name),
        hardware=hw._native,
        attention=a.kind,
        kv_budget=a.kv_budget,
        block_size=a.block_size,
        serving=options,
        streams=_streams(streams),
        objective=objective,
        max_latency_s=_opt(max_latency_s, "max_latency_s"),
        cancel=_cancel.resolve(cancel),
    )
    v = _assemble(args, _core.PARSCALE_PLAN_FIELDS, arrays)
    prov = provenance(
        parscale_law_input(the_law),
        family_input(family, cat),
        hardware_input(hw),
    )
    return ParScalePlan(law=the_law.name, objective=str(objective), provenance=prov, **v)


__all__ = [
    "DEFAULT_PARSCALE_LAW",
    "ParScaleLaw",
    "ParScalePlan",
    "parscale_law",
    "parscale_law_names",
    "plan_parscale",
]
