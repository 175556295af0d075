"""The training and lifetime planners (docs/design.md#training-allocation, #lifetime-allocation).

Every planner returns a :class:`Plan`: the decision values, the predicted loss, the cost
breakdown, the constraint that binds, ``feasible``, and ``explain()``. An impossible request is a
plan with ``feasible=False`` naming the constraint, never an exception. Goals may be numpy arrays;
all of them are solved in one call into Rust.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Self

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan._schema import documented
from scaleplan.cancel import CancelToken
from scaleplan.catalog import (
    Catalog,
    Hardware,
    Model,
    catalog_or_default,
    resolve_family,
    resolve_hardware,
)
from scaleplan.cost import FloatOrArray, Number, _text
from scaleplan.errors import InvalidArgumentError, ScaleplanError
from scaleplan.fit import LawFit
from scaleplan.laws import DEFAULT_LAW, LOSS_UNITS, LossLaw, resolve_law
from scaleplan.provenance import (
    EFFICIENCIES,
    Provenance,
    family_input,
    hardware_input,
    law_input,
    law_samples_input,
    number_input,
    price_input,
    progress_input,
    provenance,
    r_star_input,
)
from scaleplan.serving import AttentionSpec, Serving, planner_serving
from scaleplan.serving import attention as parse_attention
from scaleplan.uncertainty import (
    LOSS_LIFETIME,
    LOSS_TRAINING,
    Uncertainty,
    check_quantiles,
    loss_uncertainty,
    no_fit_options,
    sample_array,
    split_law,
)

_CONSTRAINTS = np.array(_core.CONSTRAINTS)

MAX_START_IN_MONTHS: float = _core.MAX_START_IN_MONTHS
"""Largest ``start_in_months`` :func:`plan_training` accepts (docs/limits.md)."""
ALGORITHMIC_PROGRESS: dict[str, Any] = {
    **_core.ALGORITHMIC_PROGRESS,
    "max_start_in_months": MAX_START_IN_MONTHS,
}
"""The halving time :func:`plan_training`'s ``start_in_months`` uses (Ho et al. 2024): ``name``,
``source``, ``halving_months`` and the 95% interval's ``halving_months_fast`` and
``halving_months_slow`` (rust/core/src/laws/progress.rs), and its domain: start offsets from 0
to ``max_start_in_months``."""
Unit = Literal["flops", "eflops", "gpu_hours", "usd"]

_WHY = {
    "budget": "the budget binds: more budget buys a lower loss",
    "target_loss": "the target loss binds: this is the cheapest way to reach it",
    "loss_floor": "the target is at or below the law's irreducible loss E",
    "unique_data": "the unique data cannot reach the target, however often repeated",
    "inference_exceeds_budget": "the inference demand alone costs more than the budget",
    "min_params": "the model sits at your lower bound on its size (min_params)",
    "max_params": "the model sits at your upper bound on its size (max_params)",
    "min_params_default": "the model sits at the default lower bound on its size (the lifetime "
    "planner's search floor of 1M parameters, or the joint planner's smallest family member); "
    "pass min_params to search below it",
    "max_params_default": "the model sits at the default upper bound on its size (the joint "
    "planner's largest family member, or the lifetime planner's search ceiling); pass "
    "max_params to search above it",
    "memory": "no model size in range fits the serving hardware's memory",
    "law_domain": "the model sits at the largest size its loss law was validated on (a law "
    "without a loss floor is planned only inside its domain)",
}


# What a binding constraint means in a plan that exists (where it differs from the infeasible case).
_BINDS = {
    "memory": "the serving hardware's memory caps the model size: a larger one would not fit "
    "beside one query's KV cache",
}


def _sci(value: float, digits: int = 3) -> str:
    """``6383.7`` -> ``'6.38e3'``: a number of any size, short."""
    mantissa, _, exponent = f"{value:.{digits}g}".partition("e")
    return mantissa + (f"e{int(exponent)}" if exponent else "")


class Extrapolation(NamedTuple):
    """One quantity of a plan outside the range its loss law was fitted on (docs/planning.md).
    A named tuple: a million plans build their records in a fraction of a second."""

    variable: str
    """``params``, ``tokens`` (those the law sees: D' under a data limit), ``tokens_per_param``
    or ``loss``."""
    value: float
    bound: float
    """The end of the fitted range the value is beyond."""
    factor: float
    """How far beyond, > 1: value / bound above the range, bound / value below it."""

    def __str__(self) -> str:
        side = "below" if self.value < self.bound else "above"
        return (
            f"{self.variable} {_sci(self.value)} is {_sci(self.factor, 2)}x {side} the fitted "
            f"{_sci(self.bound)}"
        )


Extrapolated = tuple[Extrapolation, ...]
"""What a plan says about its law's domain: empty when every quantity is inside the fit."""
_NOT_EXTRAPOLATED: Extrapolated = ()


def extrapolation_text(extrapolated: Extrapolated, law: str) -> str:
    """One sentence naming each quantity beyond the law's fit; empty when none is."""
    if not extrapolated:
        return ""
    items = "; ".join(str(e) for e in extrapolated)
    return f" Extrapolated beyond the range the {law} law was fitted on: {items}."


def extrapolation_records(table: Any) -> Extrapolated:
    """One plan's extrapolation table (one row per variable of
    ``_core.EXTRAPOLATION_VARIABLES``: value, bound, factor; NaN where in range) as records."""
    return tuple(
        Extrapolation(v, value, bound, factor)
        for v, (value, bound, factor) in zip(
            _core.EXTRAPOLATION_VARIABLES, np.asarray(table).tolist(), strict=True
        )
        if not math.isnan(factor)
    )


def _extrapolated(rows: dict[str, FloatArray], shape: tuple[int, ...], scalar: bool) -> Any:
    """Pop the binding's extrapolation columns (``extrapolated:<variable>:<part>``) and build
    the ``extrapolated`` field: a scalar plan's records, or for an array goal one table per plan
    (shape ``(*shape, variables, 3)``: value, bound, factor; NaN where in range), which ``at()``
    turns into records. A million plans then cost no Python objects."""
    parts = {k: rows.pop(k) for k in [k for k in rows if k.startswith("extrapolated:")]}
    variables = _core.EXTRAPOLATION_VARIABLES
    table = np.stack(
        [np.stack([parts[f"extrapolated:{v}:{p}"] for p in _PARTS], axis=-1) for v in variables],
        axis=1,
    )
    if scalar:
        return extrapolation_records(table[0])
    return table.reshape(*shape, len(variables), len(_PARTS))


_PARTS = ("value", "bound", "factor")
"""What each variable's extrapolation columns hold, in the binding's order."""


@dataclass(frozen=True)
class Plan:
    """Fields shared by every plan; array-valued when the goal was an array."""

    feasible: bool | npt.NDArray[np.bool_]
    binding: str | npt.NDArray[np.str_]

    def _scalar(self) -> bool:
        return isinstance(self.feasible, bool)

    def at(self, index: int | tuple[int, ...]) -> Any:
        """The plan for one element of an array-valued plan."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "extrapolated" and isinstance(v, np.ndarray):
                values[f.name] = extrapolation_records(v[index])
                continue
            if isinstance(v, Uncertainty):
                values[f.name] = v.at(index)
                continue
            item = v[index] if isinstance(v, np.ndarray) else v
            values[f.name] = item.item() if isinstance(item, np.generic) else item
        return type(self)(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def join(cls, parts: Sequence[Self]) -> Self:
        """Plans of 1-D arrays (chunks of one frontier, in order) as one: arrays concatenated,
        the other fields (law, unit) from the first part."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            first = getattr(parts[0], f.name)
            if isinstance(first, np.ndarray):
                first = np.concatenate([getattr(p, f.name) for p in parts])
            if isinstance(first, Uncertainty):
                first = Uncertainty.join([getattr(p, f.name) for p in parts])
            values[f.name] = first
        return cls(**values)

    def explain(self) -> str:
        """One paragraph in words per plan (one line per element of an array-valued plan)."""
        if not self._scalar():
            shape = np.shape(self.feasible)
            return "\n".join(self.at(i)._explain_one() for i in np.ndindex(shape))
        return self._explain_one()

    def _explain_one(self) -> str:
        raise NotImplementedError


@documented
@dataclass(frozen=True)
class TrainingPlan(Plan):
    """Loss-optimal parameters and tokens for a compute budget, or the least compute reaching a
    loss (arrays for an array goal)."""

    law: str
    loss_units: str
    params: FloatOrArray
    tokens: FloatOrArray
    effective_tokens: FloatOrArray
    loss: FloatOrArray
    compute_flops: FloatOrArray
    tokens_per_param: FloatOrArray
    extrapolated: Extrapolated | FloatArray
    effective_compute_flops: FloatOrArray
    compute_multiplier: FloatOrArray
    compute_multiplier_slow: FloatOrArray
    compute_multiplier_fast: FloatOrArray
    compute_flops_slow: FloatOrArray
    compute_flops_fast: FloatOrArray
    loss_slow: FloatOrArray
    loss_fast: FloatOrArray
    provenance: Provenance
    uncertainty: Uncertainty | None = None

    def _explain_one(self) -> str:
        if not self.feasible:
            return f"No plan: {_WHY[str(self.binding)]} (law {self.law})."
        return self._explain_now() + self._explain_later()

    def _explain_later(self) -> str:
        """The algorithmic-progress sentence of a plan that starts later ("" for one now)."""
        if float(self.compute_multiplier) == 1.0:
            return ""
        progress = ALGORITHMIC_PROGRESS
        band = (
            f"loss {float(self.loss_slow):.4f} to {float(self.loss_fast):.4f}"
            if self.binding == "budget"
            else f"{float(self.compute_flops_slow):.3g} to {float(self.compute_flops_fast):.3g} "
            "FLOPs"
        )
        return (
            f" Starting later, each FLOP is worth {float(self.compute_multiplier):.3g} of today's "
            f"(algorithmic progress, halving time {progress['halving_months']} months, "
            f"{progress['source'].split(',')[0]}): the plan is today's law at "
            f"{float(self.effective_compute_flops):.3g} effective FLOPs for "
            f"{float(self.compute_flops):.3g} physical ones; the model and tokens are today's "
            f"equivalent, not a prediction of tomorrow's recipe. Over the halving time's 95% "
            f"interval ({progress['halving_months_fast']} to "
            f"{progress['halving_months_slow']} months): {band}."
        )

    def _explain_now(self) -> str:
        repeated = ""
        if float(self.effective_tokens) < float(self.tokens) * (1 - 1e-12):
            repeated = (
                f" Data repeats: the {fmt.si(float(self.tokens))} tokens are worth "
                f"{fmt.si(float(self.effective_tokens))} unique ones."
            )
        return (
            f"Train a model of {fmt.si(float(self.params))} parameters on "
            f"{fmt.si(float(self.tokens))} tokens ({float(self.tokens_per_param):.1f} tokens per "
            f"parameter) with {float(self.compute_flops):.3g} FLOPs; the {self.law} law predicts "
            f"loss {float(self.loss):.4f} ({LOSS_UNITS[self.loss_units]}). "
            f"{_WHY[str(self.binding)].capitalize()}.{repeated}"
            f"{extrapolation_text(self.extrapolated, self.law)}"  # type: ignore[arg-type]
        ) + _uncertainty_text(self.uncertainty)


@documented
@dataclass(frozen=True)
class LifetimePlan(Plan):
    """Training plus lifetime inference: the model that minimises their total cost for a loss
    or within a budget (arrays for an array goal)."""

    law: str
    loss_units: str
    unit: str
    params: FloatOrArray
    tokens: FloatOrArray
    effective_tokens: FloatOrArray
    loss: FloatOrArray
    tokens_per_param: FloatOrArray
    training_flops: FloatOrArray
    training_cost: FloatOrArray
    inference_cost_per_query: FloatOrArray
    inference_cost: FloatOrArray
    total_cost: FloatOrArray
    chinchilla_params: FloatOrArray
    chinchilla_tokens: FloatOrArray
    chinchilla_total_cost: FloatOrArray
    cost_saved: FloatOrArray
    gpus: FloatOrArray
    layers: FloatOrArray | None
    query_heads: FloatOrArray | None
    kv_heads: FloatOrArray | None
    head_dim: FloatOrArray | None
    extrapolated: Extrapolated | FloatArray
    provenance: Provenance
    uncertainty: Uncertainty | None = None

    def _explain_one(self) -> str:
        if not self.feasible:
            return f"No plan: {_WHY[str(self.binding)]} (law {self.law})."
        unit = {"flops": "FLOPs", "eflops": "eFLOPs", "gpu_hours": "GPU-hours", "usd": "USD"}
        u = unit[self.unit]
        total, saved = float(self.total_cost), float(self.cost_saved)
        share = float(self.inference_cost) / total if total > 0 else 0.0
        ch_params = float(self.chinchilla_params)
        if math.isnan(ch_params):
            comparison = (
                "No training-only (Chinchilla) plan reaches the same loss, so the comparison "
                "with it does not apply."
            )
        elif math.isnan(saved):
            comparison = (
                "The Chinchilla-optimal model of the same loss under the same law "
                f"({fmt.si(ch_params)} parameters) does not fit the serving replicas as "
                "configured, so the comparison with it does not apply."
            )
        else:
            ch_ratio = float(self.chinchilla_tokens) / ch_params
            comparison = (
                "The Chinchilla-optimal model of the same loss under the same law "
                f"({fmt.si(ch_params)} parameters, {ch_ratio:.1f} tokens per parameter) would cost "
                f"{float(self.chinchilla_total_cost):.4g} {u}, {saved:.4g} more."
            )
        text = (
            f"Train a model of {fmt.si(float(self.params))} parameters on "
            f"{fmt.si(float(self.tokens))} tokens ({float(self.tokens_per_param):.1f} tokens per "
            f"parameter) for loss {float(self.loss):.4f} ({self.law}, "
            f"{LOSS_UNITS[self.loss_units]}). Lifetime cost {total:.4g} {u}: training "
            f"{float(self.training_cost):.4g}, inference "
            f"{float(self.inference_cost):.4g} ({share:.0%}; replicas of {int(self.gpus)} "
            f"GPU{'s' if int(self.gpus) > 1 else ''}). {comparison} "
            f"{_BINDS.get(str(self.binding), _WHY[str(self.binding)]).capitalize()}."
            f"{extrapolation_text(self.extrapolated, self.law)}"  # type: ignore[arg-type]
        ) + implied_shape(self.layers, self.query_heads, self.kv_heads, self.head_dim)
        return text + _uncertainty_text(self.uncertainty)


def _uncertainty_text(u: Uncertainty | None) -> str:
    """The band of a scalar plan under its law fit's samples, in words ("" without one)."""
    if u is None:
        return ""
    lo, hi = u.quantiles[0], u.quantiles[-1]
    params, loss = u.band("params"), u.band("loss")
    text = (
        f" Under the {u.samples} bootstrap samples of the law fit, the re-planned size runs "
        f"{fmt.si(params[0])} to {fmt.si(params[-1])} parameters and the loss {loss[0]:.4f} "
        f"to {loss[-1]:.4f} (P{100 * lo:g} to P{100 * hi:g})."
    )
    if u.p_fixed is not None and u.threshold is not None:
        text += (
            f" Committing to this plan reaches loss {float(u.threshold):.4f} "
            f"with probability {float(u.p_fixed):.1%}."
        )
    return text


def implied_shape(layers: Any, query_heads: Any, kv_heads: Any, head_dim: Any) -> str:
    """A sentence on the shape a family's smooth rule implies at a plan's size ("" without one)."""
    if layers is None or not float(layers) > 0:
        return ""
    return (
        f" The family's smooth shape rule prices it as {float(layers):.1f} layers, "
        f"{float(query_heads):.1f} query heads, {float(kv_heads):.1f} KV heads of size "
        f"{float(head_dim):.0f} (fitted, not a real config)."
    )


def _goal(budget: Any, target: Any, budget_name: str) -> tuple[str, Any]:
    if (budget is None) == (target is None):
        raise InvalidArgumentError(
            f"{budget_name}: give exactly one of {budget_name} and target_loss", field=budget_name
        )
    return (budget_name, budget) if budget is not None else ("target_loss", target)


def _assemble(args: Broadcast, fields: list[str], arrays: list[FloatArray]) -> dict[str, Any]:
    rows = dict(zip(fields, arrays, strict=True))
    extrapolated = _extrapolated(rows, args.shape, args.scalar)
    feasible = rows.pop("feasible") != 0
    binding = _CONSTRAINTS[rows.pop("binding").astype(np.intp)]
    values: dict[str, Any] = {name: args.shaped(row) for name, row in rows.items()}
    if args.scalar:
        values["feasible"], values["binding"] = bool(feasible[0]), str(binding[0])
    else:
        values["feasible"] = feasible.reshape(args.shape)
        values["binding"] = binding.reshape(args.shape)
    values["extrapolated"] = extrapolated
    return values


def _ratio(tokens: Any, params: Any) -> Any:
    """tokens / params; NaN where there is no plan (both NaN)."""
    r = np.asarray(tokens) / np.asarray(params)
    return float(r) if np.ndim(r) == 0 else r


def plan_training(
    *,
    budget_flops: Number | None = None,
    target_loss: Number | None = None,
    law: str | LossLaw | LawFit = DEFAULT_LAW,
    unique_tokens: float | None = None,
    r_star: float | None = None,
    quantiles: Sequence[float] | None = None,
    reach_loss: float | None = None,
    start_in_months: float = 0.0,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> TrainingPlan:
    """The loss-optimal parameters and tokens for a training budget (6*N*D FLOPs), or the least
    compute reaching ``target_loss``. ``unique_tokens`` limits unique data (Muennighoff et al.
    2023; ``r_star`` defaults to their fitted 15.387756).

    ``law`` may be a :class:`LawFit` with bootstrap samples: the plan is then its point law's
    (exactly what ``law=fit.law`` gives) and ``uncertainty`` holds the ``quantiles`` (default
    P10/P50/P90) of every field over the plans re-solved under each sample, and the
    probability of reaching ``target_loss`` (or, for a budget, ``reach_loss``) committing to
    this plan and re-planned per sample (docs/uncertainty.md).

    ``start_in_months`` (default 0: now; at most :data:`MAX_START_IN_MONTHS` = 120) starts the
    run later: algorithmic progress (Ho et al. 2024, arXiv:2403.05812: the compute for a fixed
    performance halves every 8.44 months, 95% interval 4.52 to 14.27) makes each FLOP worth
    ``compute_multiplier`` = 2^(months / 8.44) of today's. The plan is then today's law at the
    budget times that multiplier (``effective_compute_flops``) for the same physical compute
    (``compute_flops``), or today's least compute for the target divided by it; ``loss_slow``,
    ``loss_fast``, ``compute_flops_slow`` and ``compute_flops_fast`` give the plan at the
    interval's ends (docs/planning.md, "Training later: algorithmic progress")."""
    kind, values = _goal(budget_flops, target_loss, "budget_flops")
    point_law, fit = split_law(law)
    the_law = resolve_law(point_law, catalog)
    reach = _reach(fit, quantiles, reach_loss, kind)
    months = _opt(start_in_months, "start_in_months")
    args = Broadcast({kind: values})
    options: dict[str, Any] = {
        "unique_tokens": _opt(unique_tokens, "unique_tokens"),
        "r_star": _opt(r_star, "r_star"),
        "start_in_months": 0.0 if months is None else months,
    }
    arrays = _core.plan_training(
        the_law._native,
        kind,
        args.required(kind),
        **options,
        cancel=_cancel.resolve(cancel),
    )
    v = _assemble(args, _core.TRAINING_PLAN_FIELDS, arrays)
    plan = TrainingPlan(
        law=the_law.name,
        loss_units=the_law.units,
        tokens_per_param=_ratio(v["tokens"], v["params"]),
        provenance=provenance(
            law_input(the_law, fit),
            None if fit is None else law_samples_input(fit),
            r_star_input(options["unique_tokens"], options["r_star"], the_law),
            progress_input(options["start_in_months"], ALGORITHMIC_PROGRESS),
        ),
        **v,
    )
    if fit is None:
        return plan
    per_sample = _core.plan_training(
        the_law._native,
        kind,
        args.required(kind),
        **options,
        cancel=_cancel.resolve(cancel),
        law_samples=sample_array(fit),
    )
    u = loss_uncertainty(
        fit=fit,
        point_law=the_law,
        args=args,
        fields=_core.TRAINING_PLAN_FIELDS,
        arrays=per_sample,
        point=plan.to_dict(),
        quantiles=check_quantiles(quantiles),
        goal=kind,
        reach=reach,
        outcome=LOSS_TRAINING,
        cancel=cancel,
        unique_tokens=options["unique_tokens"],
        r_star=options["r_star"],
    )
    return dataclasses.replace(plan, uncertainty=u)


def _reach(fit: LawFit | None, quantiles: Any, reach_loss: Any, goal: str) -> float | None:
    """``reach_loss``, checked: only with a LawFit, only for a budget goal (a target goal's
    threshold is its target)."""
    if fit is None:
        no_fit_options(quantiles, reach_loss, "reach_loss")
        return None
    reach = _opt(reach_loss, "reach_loss")
    if reach is None:
        return None
    if goal == "target_loss":
        raise InvalidArgumentError(
            "reach_loss: with target_loss the probability is of reaching the target; give "
            "reach_loss with a budget",
            field="reach_loss",
        )
    if not (math.isfinite(reach) and reach > 0):
        raise InvalidArgumentError(
            f"reach_loss: must be a positive finite loss, got {reach}", field="reach_loss"
        )
    return reach


def plan_lifetime(
    *,
    target_loss: Number | None = None,
    budget: Number | None = None,
    queries: Number,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    law: str | LossLaw | LawFit = DEFAULT_LAW,
    hardware: str | Hardware | None = None,
    family: str | Sequence[str | Model] | None = None,
    unit: Unit = "flops",
    attention: AttentionSpec = "dense",
    serving: Serving | None = None,
    train_hardware: str | Hardware | None = None,
    train_mfu: float | None = None,
    train_usd_per_hour: float | None = None,
    infer_usd_per_hour: float | None = None,
    unique_tokens: float | None = None,
    r_star: float | None = None,
    min_params: float | None = None,
    max_params: float | None = None,
    quantiles: Sequence[float] | None = None,
    reach_loss: float | None = None,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> LifetimePlan:
    """Training plus lifetime inference (Sardana & Frankle 2023): the model size and token count
    that reach ``target_loss`` at the least total cost, or the lowest loss for a total
    ``budget``, given ``queries`` queries of ``prompt_tokens`` + ``samples`` x ``gen_tokens``.

    Without ``hardware``, inference costs 2N FLOPs per token (the paper's convention, unit
    "flops"). With ``hardware`` and ``family`` it is priced by the cost model
    (docs/design.md#inference), the model's shape at each size from the family's fitted rule
    (docs/cost-model.md#families), in ``unit`` flops,
    eflops, gpu_hours or usd (training on ``train_hardware``, default the same, at ``train_mfu``,
    ``train_usd_per_hour`` and the peak of ``compute_dtype``), with ``attention`` (``"dense"``,
    ``"topk:1024"``, ``"block_topk:1024:16"``) and ``serving`` (a :class:`scaleplan.Serving`,
    whose ``compute_dtype`` this is; None: ``Serving()``, batch "max", GPUs per replica chosen
    among 1, 2, 4 and 8).
    ``family`` is a catalog family or a list of models (names or :class:`Model` objects, such as
    :meth:`Model.from_hf_config` builds) interpolated as one family.

    ``law`` may be a :class:`LawFit` with bootstrap samples: ``uncertainty``, ``quantiles`` and
    ``reach_loss`` then as for :func:`plan_training` (docs/uncertainty.md).
    """
    kind, values = _goal(budget, target_loss, "budget")
    cat = catalog_or_default(catalog)
    point_law, fit = split_law(law)
    the_law = resolve_law(point_law, cat)
    reach = _reach(fit, quantiles, reach_loss, kind)
    options, auto_gpus = planner_serving(serving, auto_gpus=True)
    pricing = None
    if hardware is not None or family is not None:
        if hardware is None or family is None:
            missing = "hardware" if hardware is None else "family"
            raise InvalidArgumentError(
                f"{missing}: pricing with the cost model needs both hardware and family",
                field=missing,
            )
        a = parse_attention(attention)
        family_name, family_catalog = resolve_family(family, cat)
        pricing = _core.CostModelPricing(
            family_catalog._native,
            _text("family", family_name),
            resolve_hardware(hardware, cat)._native,
            attention=a.kind,
            kv_budget=a.kv_budget,
            block_size=a.block_size,
            serving=options,
        )
    args = Broadcast(
        {
            kind: values,
            "queries": queries,
            "prompt_tokens": prompt_tokens,
            "gen_tokens": gen_tokens,
            "samples": samples,
        }
    )
    flat = {name: args.required(name) for name in (kind, *_DEMAND)}
    call: dict[str, Any] = dict(
        pricing=pricing,
        unit=_text("unit", unit),
        train_hardware=None
        if train_hardware is None
        else _train_hardware(train_hardware, cat)._native,
        train_mfu=_opt(train_mfu, "train_mfu"),
        train_usd_per_hour=_opt(train_usd_per_hour, "train_usd_per_hour"),
        infer_usd_per_hour=_opt(infer_usd_per_hour, "infer_usd_per_hour"),
        unique_tokens=_opt(unique_tokens, "unique_tokens"),
        r_star=_opt(r_star, "r_star"),
        min_params=_opt(min_params, "min_params"),
        max_params=_opt(max_params, "max_params"),
        auto_gpus=auto_gpus,
        cancel=_cancel.resolve(cancel),
    )
    columns = [flat[kind], *(flat[name] for name in _DEMAND)]
    arrays = _core.plan_lifetime(the_law._native, kind, *columns, **call)
    v = _assemble(args, _core.LIFETIME_PLAN_FIELDS, arrays)
    if pricing is None:
        v.update(dict.fromkeys(("layers", "query_heads", "kv_heads", "head_dim")))
    plan = LifetimePlan(
        law=the_law.name,
        loss_units=the_law.units,
        unit=str(unit),
        tokens_per_param=_ratio(v["tokens"], v["params"]),
        provenance=_lifetime_provenance(
            the_law, fit, hardware, train_hardware, family, call, str(unit), cat
        ),
        **v,
    )
    if fit is None:
        return plan
    per_sample = _core.plan_lifetime(
        the_law._native, kind, *columns, **call, law_samples=sample_array(fit)
    )
    u = loss_uncertainty(
        fit=fit,
        point_law=the_law,
        args=args,
        fields=_core.LIFETIME_PLAN_FIELDS,
        arrays=per_sample,
        point=plan.to_dict(),
        quantiles=check_quantiles(quantiles),
        goal=kind,
        reach=reach,
        outcome=LOSS_LIFETIME,
        cancel=cancel,
        unique_tokens=call["unique_tokens"],
        r_star=call["r_star"],
    )
    return dataclasses.replace(plan, uncertainty=u)


_DEMAND = ("queries", "prompt_tokens", "gen_tokens", "samples")


def _lifetime_provenance(
    law: LossLaw,
    fit: LawFit | None,
    hardware: str | Hardware | None,
    train_hardware: str | Hardware | None,
    family: Any,
    call: dict[str, Any],
    unit: str,
    cat: Catalog,
) -> Provenance:
    """Where a lifetime plan's inputs come from: the law, the family and serving hardware of
    cost-model pricing, the training hardware's MFU (or the number given) when training is
    priced in GPU-hours or USD, and the prices of a USD plan (docs/planning.md, "Provenance")."""
    serving_hw = None if hardware is None else resolve_hardware(hardware, cat)
    train_hw = serving_hw if train_hardware is None else _train_hardware(train_hardware, cat)
    timed = unit in ("gpu_hours", "usd")
    train: Any = None
    if timed and call["train_mfu"] is not None:
        train = number_input("train_mfu", call["train_mfu"], None, "")
    elif timed and train_hw is not None:
        train = hardware_input(train_hw, EFFICIENCIES["training"], name="train_hardware")
    usd = unit == "usd"
    return provenance(
        law_input(law, fit),
        None if fit is None else law_samples_input(fit),
        r_star_input(call["unique_tokens"], call["r_star"], law),
        None if family is None else family_input(family, cat),
        None if serving_hw is None else hardware_input(serving_hw),
        train,
        price_input(call["train_usd_per_hour"], train_hw, name="train_usd_per_hour")
        if usd
        else None,
        price_input(call["infer_usd_per_hour"], serving_hw, name="infer_usd_per_hour")
        if usd
        else None,
    )


def _train_hardware(value: str | Hardware, catalog: Catalog) -> Hardware:
    """The training hardware; an error names ``train_hardware`` (not ``hardware``)."""
    try:
        return resolve_hardware(value, catalog)
    except ScaleplanError as exc:
        if exc.field != "hardware":
            raise
        raise exc.replace(field="train_hardware") from exc


def _opt(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{name}: expected a number, got {value!r}", field=name)
    return float(value)
