"""Joint planning (docs/design.md#joint-allocation): one budget for training a model and serving a
deployment; choose parameters, training tokens, samples, generation length and attention."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast, FloatArray
from scaleplan._schema import documented
from scaleplan.cancel import CancelToken
from scaleplan.catalog import Catalog, Hardware, Model, resolve_family, resolve_hardware
from scaleplan.cost import FloatOrArray, _text
from scaleplan.errors import InvalidArgumentError
from scaleplan.fit import KEYS as FIT_KEYS
from scaleplan.fit import LawFit
from scaleplan.laws import DEFAULT_LAW, LossLaw, resolve_law
from scaleplan.plan import (
    _CONSTRAINTS,
    Extrapolated,
    Plan,
    Unit,
    _extrapolated,
    _opt,
    extrapolation_text,
    implied_shape,
)
from scaleplan.provenance import (
    EFFICIENCIES,
    Input,
    Provenance,
    family_input,
    hardware_input,
    law_input,
    law_samples_input,
    number_input,
    price_input,
    provenance,
    r_star_input,
)
from scaleplan.serving import AttentionSpec, Serving, attention_choices, planner_serving
from scaleplan.testtime import (
    _WHY_TEST_TIME,
    AGGREGATOR_MEANING,
    chosen,
)
from scaleplan.uncertainty import (
    ACCURACY_JOINT,
    Uncertainty,
    assess,
    check_quantiles,
    no_fit_options,
    per_sample_rows,
    probability_lines,
    sample_array,
    split_law,
)

_WHY_JOINT = {
    **_WHY_TEST_TIME,
    "budget": "the total budget binds",
    "target_accuracy": "this is the least total budget reaching the target accuracy",
}


@documented
@dataclass(frozen=True)
class JointPlan(Plan):
    """Training and serving decided together (arrays for an array of budgets or targets)."""

    law: str
    unit: str
    task: str
    aggregator: str
    params: FloatOrArray
    tokens: FloatOrArray
    samples: FloatOrArray
    gen_tokens: FloatOrArray
    attention: str | npt.NDArray[np.object_] | None
    accuracy: FloatOrArray
    loss: FloatOrArray
    mu_inf: FloatOrArray
    training_cost: FloatOrArray
    inference_cost: FloatOrArray
    total_cost: FloatOrArray
    latency_s: FloatOrArray
    marginal_accuracy: FloatOrArray
    gpus: FloatOrArray
    layers: FloatOrArray
    query_heads: FloatOrArray
    kv_heads: FloatOrArray
    head_dim: FloatOrArray
    extrapolated: Extrapolated | FloatArray
    provenance: Provenance
    uncertainty: Uncertainty | None = None

    def _explain_one(self) -> str:
        if not self.feasible:
            return (
                f"No plan reaches the target within any budget: the {self.law} law caps task "
                f"accuracy ({self.task}, {self.aggregator}) at about "
                f"{float(self.accuracy):.1%} here."
                if self.binding == "target_accuracy"
                else f"No plan fits: {_WHY_JOINT[str(self.binding)]}."
            )
        total = float(self.total_cost)
        share = float(self.training_cost) / total if total > 0 else 0.0
        text = (
            f"Train a model of {fmt.si(float(self.params))} parameters on "
            f"{fmt.si(float(self.tokens))} tokens (loss {float(self.loss):.4f}), then answer each "
            f"query with {fmt.plural(int(self.samples), 'sample')} of up to "
            f"{fmt.si(float(self.gen_tokens))} "
            f"tokens ({self.attention} attention, latency {fmt.seconds(float(self.latency_s))}, "
            f"replicas of {fmt.plural(int(self.gpus), 'GPU')}): "
            f"accuracy {float(self.accuracy):.1%} (task: {self.task}; "
            f"{AGGREGATOR_MEANING[self.aggregator]}). Total {total:.4g} {self.unit}, "
            f"{share:.0%} on training. {_WHY_JOINT[str(self.binding)].capitalize()}; 1% more "
            f"budget would add {float(self.marginal_accuracy) * 100:.3f} accuracy points."
            f"{extrapolation_text(self.extrapolated, self.law)}"  # type: ignore[arg-type]
        ) + implied_shape(self.layers, self.query_heads, self.kv_heads, self.head_dim)
        if self.uncertainty is not None:
            text += " " + " ".join(probability_lines(self.uncertainty))
        return text


@dataclass(frozen=True)
class JointProblem:
    """A joint problem built once: ``evaluate`` is the objective the planner maximises (for
    baselines and plots); ``plan_joint`` solves it."""

    native: _core.JointProblem
    law: str
    unit: str
    attention: tuple[str, ...]
    provenance: Provenance

    def evaluate(
        self, budget: float, params: Any, samples: Any, gen_tokens: Any, attention: Any = 0
    ) -> Any:
        """Accuracy at (N, k, L, attention index) with the rest of ``budget`` on training; 0
        where a constraint fails."""
        args = Broadcast(
            {"params": params, "samples": samples, "gen_tokens": gen_tokens, "attention": attention}
        )
        number = _opt(budget, "budget")
        if number is None:
            raise InvalidArgumentError("budget: is required", field="budget")
        out = self.native.evaluate(
            number,
            args.required("params"),
            args.required("samples"),
            args.required("gen_tokens"),
            args.required("attention"),
        )
        return args.shaped(out)


def joint_problem(**kwargs: Any) -> JointProblem:
    """The problem :func:`plan_joint` solves, with the same keyword arguments (no goal)."""
    defaults = dict(_DEFAULTS)
    unknown = set(kwargs) - set(defaults)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidArgumentError(f"{name}: unknown option", field=name)
    defaults.update(kwargs)
    return _build(defaults)


def _build(kwargs: dict[str, Any]) -> JointProblem:
    kwargs = dict(kwargs)
    family_arg, catalog_arg = kwargs.pop("family"), kwargs.pop("catalog")
    family, cat = resolve_family(family_arg, catalog_arg)
    point_law, fit = split_law(kwargs.pop("law"))
    law = resolve_law(point_law, cat)
    saturation = {name: _opt(kwargs.pop(name), name) for name in ("half_tokens", "hill", "kappa")}
    choices = attention_choices(kwargs.pop("attention"))
    options, auto_gpus = planner_serving(kwargs.pop("serving"), auto_gpus=True)
    hardware = resolve_hardware(kwargs.pop("hardware"), cat)
    numbers = {k: _opt(v, k) for k, v in kwargs.items() if k not in ("unit", "k_max")}
    required = ("queries", "prompt_tokens", "min_gen_tokens", "max_gen_tokens")
    for name, value in [*((n, numbers.get(n)) for n in required), *saturation.items()]:
        if value is None:
            raise InvalidArgumentError(f"{name}: is required (a number)", field=name)
    problem = _core.JointProblem(
        cat._native,
        law._native,
        _text("family", family),
        hardware._native,
        unit=_text("unit", kwargs["unit"]),
        k_max=_cancel.samples("k_max", kwargs["k_max"]),
        attention=[(c.kind, c.kv_budget, c.block_size) for c in choices],
        **saturation,  # type: ignore[arg-type]
        **numbers,  # type: ignore[arg-type]
        serving=options,
        auto_gpus=auto_gpus,
    )
    labels = tuple(str(c) for c in choices)
    unit = str(kwargs["unit"])
    prov = _provenance(law, fit, family_arg, hardware, saturation, numbers, unit, cat)
    return JointProblem(problem, law.name, unit, labels, prov)


def _provenance(
    law: LossLaw,
    fit: LawFit | None,
    family: Any,
    hardware: Hardware,
    saturation: dict[str, float | None],
    numbers: dict[str, float | None],
    unit: str,
    cat: Catalog,
) -> Provenance:
    """Where a joint plan's inputs come from (docs/planning.md, "Provenance"): the law and its
    error law, the family, the hardware (its training MFU too, or the number given, when
    training is priced in GPU-hours or USD), the length-saturation constants and the prices."""
    timed = unit in ("gpu_hours", "usd")
    uses = EFFICIENCIES["serving"]
    train: Input | None = None
    if timed and numbers.get("train_mfu") is None:
        uses = (*uses, *EFFICIENCIES["training"])
    elif timed:
        train = number_input("train_mfu", numbers["train_mfu"], None, "")
    law_in = law_input(law, fit)
    error: Input | None = None
    if law.error is not None and law_in.kind != "published":
        # A preset's error law is part of the preset; any other law's was given with it.
        error = Input("error_law", "user", law.name, "loss-to-error law given with the law")
    usd = unit == "usd"
    return provenance(
        law_in,
        None if fit is None else law_samples_input(fit),
        error,
        r_star_input(numbers.get("unique_tokens"), numbers.get("r_star"), law),
        family_input(family, cat),
        hardware_input(hardware, uses),
        train,
        [
            number_input(
                name,
                value,
                _DEFAULTS[name],
                "assumed length saturation and dispersion (as the aime24-qwen3 preset)",
            )
            for name, value in saturation.items()
        ],
        price_input(numbers.get("train_usd_per_hour"), hardware, name="train_usd_per_hour")
        if usd
        else None,
        price_input(numbers.get("infer_usd_per_hour"), hardware, name="infer_usd_per_hour")
        if usd
        else None,
    )


# The joint planner's accuracy chain ends in pass@k of the beta model (rust/core/src/plan/joint.rs).
JOINT_AGGREGATOR = "coverage"


def joint_task(law: str) -> str:
    """What a joint plan's accuracy is measured on: its law's error law, fitted (Gadre et al.
    2024) on top-1 error averaged over downstream tasks."""
    return f"{law} error law (downstream average)"


def _solve(goal: str, values: Any, kwargs: dict[str, Any]) -> JointPlan:
    token = kwargs.pop("cancel", None)
    cancel = _cancel.resolve(token)
    _, fit = split_law(kwargs["law"])
    if fit is not None and fit.samples.shape[1] != len(FIT_KEYS):
        raise InvalidArgumentError(
            f"law: the joint planner does not plan under a {fit.form!r} fit's samples yet (its "
            "data limit is set once, not per sample's R*_D); pass fit.law for the point plan "
            "(docs/uncertainty.md)",
            field="law",
        )
    quantiles, reach = kwargs.pop("quantiles", None), kwargs.pop("reach_accuracy", None)
    if fit is None:
        no_fit_options(quantiles, reach, "reach_accuracy")
    reach_value = _reach_accuracy(reach, goal)
    levels = check_quantiles(quantiles)
    problem = _build(kwargs)
    args = Broadcast({goal: values})
    arrays = problem.native.solve(goal, args.required(goal), cancel=cancel)
    rows = dict(zip(_core.JOINT_FIELDS, arrays, strict=True))
    rows_point = dict(rows)  # flat, before the fields are shaped and named
    extrapolated = _extrapolated(rows, args.shape, args.scalar)
    feasible = rows.pop("feasible") != 0
    binding = _CONSTRAINTS[rows.pop("binding").astype(np.intp)]
    attention = chosen(problem.attention, rows.pop("attention"), feasible)
    values_out: dict[str, Any] = {k: args.shaped(v) for k, v in rows.items()}
    extra: dict[str, Any]
    if args.scalar:
        extra = {
            "feasible": bool(feasible[0]),
            "binding": str(binding[0]),
            "attention": attention[0],
        }
    else:
        extra = {
            "feasible": feasible.reshape(args.shape),
            "binding": binding.reshape(args.shape),
            "attention": attention.reshape(args.shape),
        }
    plan = JointPlan(
        law=problem.law,
        unit=problem.unit,
        task=joint_task(problem.law),
        aggregator=JOINT_AGGREGATOR,
        extrapolated=extrapolated,
        provenance=problem.provenance,
        **values_out,
        **extra,
    )
    if fit is None:
        return plan
    samples = sample_array(fit)
    sampled = problem.native.solve(goal, args.required(goal), cancel=cancel, law_samples=samples)
    n_samples, size = len(samples), args.size()
    sample_rows, feasible_rows = per_sample_rows(_core.JOINT_FIELDS, sampled, n_samples, size)
    sample_rows.pop("marginal_accuracy")  # not solved per sample (docs/uncertainty.md)
    sample_rows.pop("attention")  # an index, not a quantity
    point = {
        name: np.ascontiguousarray(np.reshape(rows_point[name], -1))
        for name in ("total_cost", "params", "samples", "gen_tokens", "attention", "gpus")
    }
    fixed = problem.native.accuracy_at(
        samples,
        point["total_cost"],
        point["params"],
        point["samples"],
        point["gen_tokens"],
        point["attention"],
        point["gpus"],
        cancel=cancel,
    ).reshape(n_samples, size)
    u = assess(
        n_samples=n_samples,
        args=args,
        rows=sample_rows,
        feasible=feasible_rows,
        fixed=fixed,
        point={"feasible": feasible, "total_cost": point["total_cost"]},
        quantiles=levels,
        goal=goal,
        reach=reach_value,
        outcome=ACCURACY_JOINT,
    )
    return dataclasses.replace(plan, uncertainty=u)


def _reach_accuracy(reach: Any, goal: str) -> float | None:
    """``reach_accuracy``: a fraction in (0, 1], only with a budget goal."""
    value = _opt(reach, "reach_accuracy")
    if value is None:
        return None
    if goal == "target_accuracy":
        raise InvalidArgumentError(
            "reach_accuracy: with target_accuracy the probability is of reaching the target; "
            "give reach_accuracy with a budget",
            field="reach_accuracy",
        )
    if not 0.0 < value <= 1.0:
        raise InvalidArgumentError(
            f"reach_accuracy: must be in (0, 1], got {value}", field="reach_accuracy"
        )
    return value


def plan_joint(
    *,
    budget: Any = None,
    target_accuracy: Any = None,
    queries: float,
    prompt_tokens: float = 128,
    family: str | Sequence[str | Model] = "qwen3-dense",
    hardware: str | Hardware = "h100-sxm",
    law: str | LossLaw | LawFit = DEFAULT_LAW,
    unit: Unit = "gpu_hours",
    half_tokens: float = 4096,
    hill: float = 1.5,
    kappa: float = 1.0,
    k_max: int = 16,
    attention: AttentionSpec | Sequence[AttentionSpec] = ("dense",),
    min_gen_tokens: float = 256,
    max_gen_tokens: float = 32768,
    min_params: float | None = None,
    max_params: float | None = None,
    latency_slo_s: float | None = None,
    unique_tokens: float | None = None,
    r_star: float | None = None,
    train_mfu: float | None = None,
    train_usd_per_hour: float | None = None,
    infer_usd_per_hour: float | None = None,
    serving: Serving | None = None,
    quantiles: Sequence[float] | None = None,
    reach_accuracy: float | None = None,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> JointPlan:
    """Choose model size N (continuous over ``family``), training tokens D, samples k, generation
    length L and attention for one total ``budget`` (in ``unit``) covering training plus
    ``queries`` queries, maximising task accuracy; or the least budget reaching
    ``target_accuracy``. Accuracy: ``law`` (with its error law) -> mean accuracy at unlimited
    length -> saturation in L (``half_tokens``, ``hill``: assumptions, as in the aime24-qwen3
    preset) -> pass@k with dispersion ``kappa``. Budgets or targets may be arrays.

    ``family`` is a catalog family or a list of models (names or :class:`Model` objects, such as
    :meth:`Model.from_hf_config` builds) interpolated as one family.

    ``attention``: the attentions the planner may pick (``"dense"``, ``"topk:1024"``,
    ``"block_topk:1024:16"``). ``serving``: a :class:`scaleplan.Serving` (None: ``Serving()``,
    batch "max", GPUs per replica chosen among 1, 2, 4 and 8). In GPU-hours or USD, training runs
    at the hardware's peak for ``serving.compute_dtype`` (as serving does) times ``train_mfu``
    (docs/design.md#units).

    ``law`` may be a :class:`LawFit` with bootstrap samples: ``uncertainty`` then holds the
    ``quantiles`` of the plan re-solved under each sample and the probability of reaching
    ``target_accuracy`` (or, for a budget, ``reach_accuracy``) committing to this plan and
    re-planned per sample (docs/uncertainty.md).
    """
    if (budget is None) == (target_accuracy is None):
        raise InvalidArgumentError(
            "budget: give exactly one of budget and target_accuracy", field="budget"
        )
    goal, values = (
        ("budget", budget) if budget is not None else ("target_accuracy", target_accuracy)
    )
    kwargs = dict(locals())
    for name in ("budget", "target_accuracy", "goal", "values"):
        kwargs.pop(name)
    return _solve(goal, values, kwargs)


_DEFAULTS: dict[str, Any] = {
    name: param.default
    for name, param in inspect.signature(plan_joint).parameters.items()
    if name not in ("budget", "target_accuracy", "cancel", "quantiles", "reach_accuracy")
}
_DEFAULTS["queries"] = 0.0


def frontier_joint(*, budgets: Any, **kwargs: Any) -> JointPlan:
    """:func:`plan_joint` at every budget of an array (one Rust call)."""
    return plan_joint(budget=np.asarray(budgets, dtype=float), **kwargs)
