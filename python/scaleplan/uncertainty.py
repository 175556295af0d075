"""Plans under uncertainty (docs/uncertainty.md): a planner given a :class:`LawFit` solves its
plan once per bootstrap sample of the fit (one Rust call, rayon over the samples) and reports,
beside the point plan, the quantiles of each decision and outcome and the probability that a
target is met.

Quantiles are numpy's (``np.nanquantile``, its default linear interpolation between order
statistics) over the samples whose plan exists; ``feasible_share`` says how many that is.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan._schema import documented
from scaleplan.cost import FloatOrArray
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.fit import KEYS as FIT_KEYS
from scaleplan.fit import LawFit
from scaleplan.laws import LossLaw

QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
"""The quantiles a plan under uncertainty reports unless ``quantiles=`` says otherwise."""
MAX_QUANTILES = 99
"""Most quantiles one call may ask for."""
MAX_LAW_SAMPLES: int = _core.MAX_LAW_SAMPLES
"""Most law samples one plan is solved under (the most bootstrap samples a fit keeps)."""
MAX_SAMPLE_PLANS: int = _core.MAX_SAMPLE_PLANS
"""Most plans (samples x goals) one call solves."""


@documented
@dataclass(frozen=True)
class Uncertainty:
    """How sure a plan is: the plan solved again under each bootstrap sample of its law fit
    ("re-planned": what the planner would decide had the sample been the law), and the point
    plan evaluated under each sample ("fixed": what a lab committing to the point plan gets).
    Arrays have the quantiles first, then the goal's shape; ``per_sample`` arrays have the
    samples first."""

    samples: int
    quantiles: tuple[float, ...]
    bands: dict[str, Any]
    fixed: FloatOrArray
    feasible_share: FloatOrArray
    threshold: FloatOrArray | None
    p_fixed: FloatOrArray | None
    p_replanned: FloatOrArray | None
    per_sample: dict[str, FloatArray]
    outcome: str = "loss"

    def band(self, name: str) -> tuple[float, ...]:
        """The quantiles of one field of a scalar plan, as floats (``band("params")``)."""
        values = np.asarray(self.bands[name], dtype=np.float64)
        if values.ndim != 1:
            raise InvalidArgumentError(
                f"name: band() is for a scalar plan; index bands['{name}'] instead", field="name"
            )
        return tuple(float(v) for v in values)

    def at(self, index: int | tuple[int, ...]) -> Uncertainty:
        """The uncertainty of one element of an array-valued plan."""
        idx = index if isinstance(index, tuple) else (index,)

        def pick(v: Any, lead: bool) -> Any:
            if v is None or np.ndim(v) == 0:
                return v
            a = np.asarray(v)
            key: tuple[Any, ...] = (slice(None), *idx) if lead else idx
            item = a[key]
            return item.item() if np.ndim(item) == 0 else item

        return Uncertainty(
            samples=self.samples,
            quantiles=self.quantiles,
            bands={k: pick(v, True) for k, v in self.bands.items()},
            fixed=pick(self.fixed, True),
            feasible_share=pick(self.feasible_share, False),
            threshold=pick(self.threshold, False),
            p_fixed=pick(self.p_fixed, False),
            p_replanned=pick(self.p_replanned, False),
            per_sample={k: pick(v, True) for k, v in self.per_sample.items()},
            outcome=self.outcome,
        )

    @classmethod
    def join(cls, parts: Sequence[Uncertainty]) -> Uncertainty:
        """Uncertainties of consecutive chunks of one 1-D frontier, as one."""

        def cat(values: list[Any], axis: int) -> Any:
            if values[0] is None:
                return None
            return np.concatenate([np.asarray(v) for v in values], axis=axis)

        first = parts[0]
        return cls(
            samples=first.samples,
            quantiles=first.quantiles,
            bands={k: cat([p.bands[k] for p in parts], 1) for k in first.bands},
            fixed=cat([p.fixed for p in parts], 1),
            feasible_share=cat([p.feasible_share for p in parts], 0),
            threshold=cat([p.threshold for p in parts], 0),
            p_fixed=cat([p.p_fixed for p in parts], 0),
            p_replanned=cat([p.p_replanned for p in parts], 0),
            per_sample={k: cat([p.per_sample[k] for p in parts], 1) for k in first.per_sample},
            outcome=first.outcome,
        )

    def summary(self, fields: Sequence[str] = ("params", "tokens", "loss")) -> str:
        """A line per field of a scalar plan, ``params: P10 .. P50 .. P90``, and the
        probabilities."""
        lines = [f"under {self.samples} bootstrap samples (quantiles {_levels(self.quantiles)}):"]
        for name in fields:
            if name in self.bands:
                values = ", ".join(f"{v:.4g}" for v in self.band(name))
                lines.append(f"  {name}: {values}")
        lines.extend(probability_lines(self))
        return "\n".join(lines)


def _levels(q: Sequence[float]) -> str:
    return "/".join(f"P{100 * v:g}" for v in q)


def probability_lines(u: Uncertainty) -> list[str]:
    """The probability sentences of a scalar plan's uncertainty (empty without a threshold)."""
    if u.threshold is None or u.p_fixed is None or u.p_replanned is None:
        return []
    t = float(u.threshold)
    event = {
        "accuracy": f"accuracy >= {t:.4g}",
        "latency_s": f"latency <= {t:.4g} s",
    }.get(u.outcome, f"loss <= {t:.4g}")
    return [
        f"P({event}) committing to this plan (fixed plan, per sample): {float(u.p_fixed):.1%}",
        f"P({event}) had each sample's law been known (re-planned per sample): "
        f"{float(u.p_replanned):.1%}",
    ]


def split_law(law: Any) -> tuple[Any, LawFit | None]:
    """(the law to plan the point plan with, the fit or None): a :class:`LawFit` plans its
    point law (exactly as passing ``fit.law``) and, with its samples, the uncertainty."""
    if not isinstance(law, LawFit):
        return law, None
    if len(law.samples) == 0:
        raise InvalidArgumentError(
            "law: this LawFit has no bootstrap samples, so there is no uncertainty to plan "
            "under; fit with bootstrap > 0, or pass fit.law for the point plan alone",
            field="law",
        )
    return law.law, law


def check_quantiles(quantiles: Any) -> tuple[float, ...]:
    """``quantiles=``: levels in [0, 1], at most :data:`MAX_QUANTILES` of them; None gives the
    default :data:`QUANTILES`."""
    if quantiles is None:
        return QUANTILES
    try:
        values = tuple(float(q) for q in np.atleast_1d(np.asarray(quantiles, dtype=np.float64)))
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"quantiles: expected numbers in [0, 1], got {quantiles!r}", field="quantiles"
        ) from None
    if not values:
        raise InvalidArgumentError("quantiles: give at least one", field="quantiles")
    if len(values) > MAX_QUANTILES:
        raise LimitExceededError(
            f"quantiles: {len(values)} exceeds the limit of {MAX_QUANTILES}",
            field="quantiles",
            limit=MAX_QUANTILES,
            got=len(values),
        )
    if not all(0.0 <= q <= 1.0 for q in values):
        raise InvalidArgumentError(
            f"quantiles: each must be in [0, 1], got {list(values)}", field="quantiles"
        )
    return values


def no_fit_options(quantiles: Any, reach: Any, reach_name: str) -> None:
    """Without a LawFit, the uncertainty options are an error (they would be silently ignored)."""
    for name, value in (("quantiles", quantiles), (reach_name, reach)):
        if value is not None:
            raise InvalidArgumentError(
                f"{name}: applies only when law is a LawFit with bootstrap samples",
                field=name,
            )


def _quantiles(values: FloatArray, q: tuple[float, ...]) -> FloatArray:
    """numpy's linear quantiles over axis 0, ignoring NaN (samples without a plan): np.quantile
    for the columns without NaN (vectorised), np.nanquantile for the others (the same
    definition; it loops over columns in Python, ~0.6 ms each)."""
    columns = values.reshape(values.shape[0], -1)
    out: FloatArray = np.empty((len(q), columns.shape[1]))
    has_nan = np.isnan(columns).any(axis=0)
    if not has_nan.all():
        out[:, ~has_nan] = np.quantile(columns[:, ~has_nan], q, axis=0)
    if has_nan.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN, as documented
            out[:, has_nan] = np.nanquantile(columns[:, has_nan], q, axis=0)
    return out.reshape(len(q), *values.shape[1:])


class Outcome(NamedTuple):
    """What a planner's uncertainty measures: ``field`` (``loss`` or ``accuracy``), whether
    higher is better, the goal that is a target of it, and the cost a re-planned sample must
    not exceed to reach such a target."""

    field: str
    higher_is_better: bool
    target_goal: str
    cost_field: str


LOSS_TRAINING = Outcome("loss", False, "target_loss", "compute_flops")
LOSS_LIFETIME = Outcome("loss", False, "target_loss", "total_cost")
ACCURACY_JOINT = Outcome("accuracy", True, "target_accuracy", "total_cost")


def per_sample_rows(
    fields: list[str], arrays: list[FloatArray], n_samples: int, size: int
) -> tuple[dict[str, FloatArray], npt.NDArray[np.bool_]]:
    """The per-sample columns (samples x goals) by field, without the binding code, the
    extrapolation columns and ``feasible`` (returned apart)."""
    rows = {
        name: a.reshape(n_samples, size)
        for name, a in zip(fields, arrays, strict=True)
        if not name.startswith("extrapolated:") and name not in ("binding",)
    }
    feasible = rows.pop("feasible") != 0
    rows["tokens_per_param"] = rows["tokens"] / rows["params"]
    return rows, feasible


def assess(
    *,
    n_samples: int,
    args: Broadcast,
    rows: dict[str, FloatArray],
    feasible: npt.NDArray[np.bool_],
    fixed: FloatArray,
    point: dict[str, Any],
    quantiles: tuple[float, ...],
    goal: str,
    reach: float | None,
    outcome: Outcome,
) -> Uncertainty:
    """The uncertainty of a plan from its per-sample fields ``rows`` (samples x goals) and
    ``fixed``, the point plan's outcome under each sample (samples x goals). ``goal`` is the
    plan's goal argument: the outcome's target goal makes the target the threshold; a budget
    goal uses ``reach`` (may be None: no probability)."""
    size = args.size()
    cost = np.reshape(np.asarray(point[outcome.cost_field], dtype=np.float64), -1)
    point_feasible = np.reshape(np.asarray(point["feasible"]), -1)

    def meets(values: FloatArray, t: FloatArray) -> npt.NDArray[np.bool_]:
        return values >= t if outcome.higher_is_better else values <= t  # NaN: False

    threshold: FloatArray | None = None
    p_fixed = p_replanned = None
    if goal == outcome.target_goal:
        threshold = args.required(goal)
    elif reach is not None:
        threshold = np.full(size, reach)
    if threshold is not None:
        p_fixed = np.where(point_feasible, meets(fixed, threshold).mean(axis=0), math.nan)
        if goal == outcome.target_goal:
            # Re-planned, a target goal: the sample's cheapest plan reaching the target costs
            # no more than the point plan (equivalently, the point plan's budget, spent as the
            # sample's law says, reaches the target).
            met = feasible & (rows[outcome.cost_field] <= cost)
        else:
            met = feasible & meets(rows[outcome.field], threshold)
        p_replanned = np.where(point_feasible, met.mean(axis=0), math.nan)

    def shaped(v: FloatArray, lead: int | None) -> Any:
        if lead is None:
            return float(v[0]) if args.scalar else v.reshape(args.shape)
        return v.reshape(lead, *args.shape)

    return Uncertainty(
        samples=n_samples,
        quantiles=quantiles,
        bands={k: shaped(_quantiles(v, quantiles), len(quantiles)) for k, v in rows.items()},
        fixed=shaped(_quantiles(fixed, quantiles), len(quantiles)),
        feasible_share=shaped(feasible.mean(axis=0), None),
        threshold=None if threshold is None else shaped(threshold, None),
        p_fixed=None if p_fixed is None else shaped(p_fixed, None),
        p_replanned=None if p_replanned is None else shaped(p_replanned, None),
        per_sample={
            **{k: shaped(v, n_samples) for k, v in rows.items()},
            "fixed": shaped(fixed, n_samples),
        },
        outcome=outcome.field,
    )


def loss_uncertainty(
    *,
    fit: LawFit,
    point_law: LossLaw,
    args: Broadcast,
    fields: list[str],
    arrays: list[FloatArray],
    point: dict[str, Any],
    quantiles: tuple[float, ...],
    goal: str,
    reach: float | None,
    outcome: Outcome,
    cancel: _cancel.CancelToken | None,
    unique_tokens: float | None = None,
    r_star: float | None = None,
) -> Uncertainty:
    """:func:`assess` for a loss planner (training, lifetime): the fixed plan's outcome is its
    loss L_s(N, D') under each sample's law, computed in the core. A muennighoff fit's samples
    (seven columns) under a data limit (``unique_tokens``) discount the point plan's tokens and
    parameters with each sample's own R*_D (unless ``r_star`` is given) and R*_N."""
    n_samples, size = len(fit.samples), args.size()
    rows, feasible = per_sample_rows(fields, arrays, n_samples, size)
    if point.get("layers") is None:
        for name in ("layers", "query_heads", "kv_heads", "head_dim"):
            rows.pop(name, None)

    def flat(name: str) -> npt.NDArray[np.float64]:
        return np.ascontiguousarray(np.reshape(np.asarray(point[name], dtype=np.float64), -1))

    # Under a data limit the fixed plan is discounted as its samples plan: by each sample's R*_D
    # and R*_N, which a seven-column sample carries and a five-column one inherits from a point
    # law with repetition constants (muennighoff2023 sent with five-column samples over gRPC).
    limited = fit.samples.shape[1] != len(FIT_KEYS) or point_law.repetition is not None
    if limited and unique_tokens is not None:
        fixed = _core.losses_limited_at(
            point_law._native,
            sample_array(fit),
            flat("params"),
            flat("tokens"),
            unique_tokens,
            r_star,
            cancel=_cancel.resolve(cancel),
        ).reshape(n_samples, size)
    else:
        fixed = _core.losses_at(
            point_law._native,
            sample_array(fit),
            flat("params"),
            flat("effective_tokens"),
            cancel=_cancel.resolve(cancel),
        ).reshape(n_samples, size)
    return assess(
        n_samples=n_samples,
        args=args,
        rows=rows,
        feasible=feasible,
        fixed=fixed,
        point=point,
        quantiles=quantiles,
        goal=goal,
        reach=reach,
        outcome=outcome,
    )


def sample_array(fit: LawFit) -> npt.NDArray[np.float64]:
    """The fit's samples as the binding takes them (rows E, A, B, alpha, beta; the muennighoff
    form's then R*_D, R*_N)."""
    return np.ascontiguousarray(fit.samples, dtype=np.float64)


__all__ = ["QUANTILES", "Uncertainty"]


# Test-time plans under an accuracy fit (docs/uncertainty.md, "Test-time plans").

ACCURACY_TEST_TIME = Outcome("accuracy", True, "target_accuracy", "cost")
"""A test-time plan's outcome: accuracy at a per-query budget (no target goal: the probability
is of reaching ``reach_accuracy``)."""

TEST_TIME_INDEX_FIELDS = ("model", "attention")
"""Per-sample choices that are indices (into the candidates, in the order of
``TestTimeFrontier.per_model``, and into the attention choices as given): kept per sample, no
quantiles."""


def accuracy_samples(fit: Any, names: Sequence[str]) -> _core.AccuracySamples | None:
    """The bootstrap samples of an :class:`scaleplan.AccuracyFit` for the candidates ``names``,
    as the core takes them: sample s holds the s-th resample of every fitted (model, length)
    (each fit's resamples are drawn independently, so pairing them by index is a draw from their
    joint distribution). Fits with failed resamples have fewer: the fewest of the candidates'
    fits is the number of samples. None when the fit has no bootstrap (a point plan only)."""
    if fit.bootstrap == 0:
        return None
    groups = [f for f in fit.fits if f.model in set(names)]
    empty = [f for f in groups if len(f.samples) == 0]
    if empty:
        listed = ", ".join(f"{f.model} at {f.gen_tokens:g} tokens" for f in empty)
        raise InvalidArgumentError(
            f"accuracy_fit: no bootstrap resample has a fit for {listed}, so there is no "
            "uncertainty to plan under; plan with fit.accuracy for the point plan alone",
            field="accuracy_fit",
        )
    m = min(len(f.samples) for f in groups)
    rows = np.stack([np.asarray(f.samples[:m], dtype=np.float64) for f in groups], axis=1)
    return _core.AccuracySamples(
        [f.model for f in groups],
        [float(f.gen_tokens) for f in groups],
        [int(f.eval_samples) for f in groups],
        np.ascontiguousarray(rows),
    )


def test_time_uncertainty(
    *,
    problem: _core.TestTimeProblem,
    samples: _core.AccuracySamples,
    budgets: FloatArray,
    point: dict[str, Any],
    model_params: FloatArray,
    quantiles: tuple[float, ...],
    reach: float | None,
    cancel: _cancel.CancelToken | None,
) -> Uncertainty:
    """The uncertainty of test-time plans (1-D ``budgets``) from the plans re-solved under each
    accuracy sample (one core call) and the point plan's accuracy under each sample. ``point``
    holds the point plan's flat columns (``feasible``, ``model`` index, ``samples``,
    ``gen_tokens``, ``cost``); ``model_params`` the parameters of each candidate, so the model
    decision has quantiles as a size (``model_params``)."""
    token = _cancel.resolve(cancel)
    n_samples, size = len(samples), budgets.size
    arrays = problem.solve_samples(budgets, samples, cancel=token)
    rows, feasible, index = _test_time_rows(arrays, n_samples, size, model_params)
    point_feasible = np.asarray(point["feasible"], dtype=bool)
    fixed = problem.accuracy_at(
        samples,
        np.ascontiguousarray(np.where(point_feasible, point["model"], math.nan)),
        np.ascontiguousarray(point["gen_tokens"], dtype=np.float64),
        np.ascontiguousarray(point["samples"], dtype=np.float64),
        cancel=token,
    ).reshape(n_samples, size)
    return _test_time_assess(
        rows, feasible, index, fixed, budgets, point, quantiles, reach, ACCURACY_TEST_TIME
    )


def _test_time_rows(
    arrays: Sequence[Any], n_samples: int, size: int, model_params: FloatArray
) -> tuple[dict[str, FloatArray], npt.NDArray[np.bool_], dict[str, FloatArray]]:
    """The per-sample test-time plans the core solved (``arrays``, the TEST_TIME_FIELDS
    columns, samples x goals flattened) as quantile rows (the chosen model as its size,
    ``model_params``), the feasibility, and the categorical choices (model and attention
    index, NaN where no plan exists), which get no quantiles."""
    rows = {
        name: np.asarray(a, dtype=np.float64).reshape(n_samples, size)
        for name, a in zip(_core.TEST_TIME_FIELDS, arrays, strict=True)
        if name not in ("binding", "oracle_accuracy", "eval_samples")
    }
    feasible = rows.pop("feasible") != 0
    index = {name: rows.pop(name) for name in TEST_TIME_INDEX_FIELDS}
    for name in TEST_TIME_INDEX_FIELDS:
        index[name][~feasible] = math.nan
    safe = np.where(np.isnan(index["model"]), 0, index["model"]).astype(np.intp)
    rows = {"model_params": np.where(feasible, model_params[safe], math.nan), **rows}
    return rows, feasible, index


def _test_time_assess(
    rows: dict[str, FloatArray],
    feasible: npt.NDArray[np.bool_],
    index: dict[str, FloatArray],
    fixed: FloatArray,
    budgets: FloatArray,
    point: dict[str, Any],
    quantiles: tuple[float, ...],
    reach: float | None,
    outcome: Outcome,
) -> Uncertainty:
    """The uncertainty of test-time plans from their per-sample rows and the point plan's
    ``outcome`` under each sample (``fixed``); the categorical choices are kept per sample."""
    n_samples, size = fixed.shape
    u = assess(
        n_samples=n_samples,
        args=Broadcast({"budget": budgets}),
        rows=rows,
        feasible=feasible,
        fixed=fixed,
        point={"feasible": np.asarray(point["feasible"], dtype=bool), "cost": point["cost"]},
        quantiles=quantiles,
        goal="budget",
        reach=reach,
        outcome=outcome,
    )
    per_sample = {**u.per_sample, **{k: v.reshape(n_samples, size) for k, v in index.items()}}
    return dataclasses.replace(u, per_sample=per_sample)


def reshaped(u: Uncertainty, shape: tuple[int, ...]) -> Uncertainty:
    """The uncertainty of a flat 1-D plan given the goal's (array) shape."""

    def shaped(v: Any, lead: bool) -> Any:
        if v is None:
            return None
        a = np.asarray(v)
        return a.reshape(a.shape[0], *shape) if lead else a.reshape(shape)

    return Uncertainty(
        samples=u.samples,
        quantiles=u.quantiles,
        bands={k: shaped(v, True) for k, v in u.bands.items()},
        fixed=shaped(u.fixed, True),
        feasible_share=shaped(u.feasible_share, False),
        threshold=shaped(u.threshold, False),
        p_fixed=shaped(u.p_fixed, False),
        p_replanned=shaped(u.p_replanned, False),
        per_sample={k: shaped(v, True) for k, v in u.per_sample.items()},
        outcome=u.outcome,
    )


# Test-time plans on a calibration's bootstrap samples (docs/uncertainty.md, "Calibrated
# hardware").

LATENCY_TEST_TIME = Outcome("latency_s", False, "latency_slo_s", "cost")
"""A test-time plan's latency on calibrated hardware; its threshold is the plan's latency SLO."""


def test_time_latency_uncertainty(
    *,
    problem: _core.TestTimeProblem,
    hardware_samples: npt.NDArray[np.float64],
    budgets: FloatArray,
    point: dict[str, Any],
    model_params: FloatArray,
    quantiles: tuple[float, ...],
    latency_slo_s: float | None,
    cancel: _cancel.CancelToken | None,
) -> Uncertainty:
    """The uncertainty of test-time plans (1-D ``budgets``) on a calibration's bootstrap
    samples (rows prefill_mfu, decode_bw_util, step_overhead_s): the plans re-solved on each
    sample's hardware (one core call), and the point plan's latency on each (``fixed``); with a
    latency SLO, the probability that it is met."""
    token = _cancel.resolve(cancel)
    rows_in = np.ascontiguousarray(hardware_samples, dtype=np.float64)
    n_samples, size = len(rows_in), budgets.size
    arrays = problem.solve_hardware_samples(budgets, rows_in, cancel=token)
    rows, feasible, index = _test_time_rows(arrays, n_samples, size, model_params)
    point_feasible = np.asarray(point["feasible"], dtype=bool)

    def flat(name: str) -> npt.NDArray[np.float64]:
        values = np.asarray(point[name], dtype=np.float64)
        return np.ascontiguousarray(np.where(point_feasible, values, math.nan))

    fixed = problem.latency_at(
        rows_in,
        flat("model"),
        flat("gen_tokens"),
        flat("samples"),
        flat("attention"),
        cancel=token,
    ).reshape(n_samples, size)
    return _test_time_assess(
        rows, feasible, index, fixed, budgets, point, quantiles, latency_slo_s, LATENCY_TEST_TIME
    )
