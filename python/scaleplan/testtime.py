"""Test-time planning (docs/design.md#test-time-allocation: the Kinetics trade-off).

For a per-query budget, pick the model, samples k, generation length L and attention that
maximise accuracy, pricing inference by compute and memory traffic. Accuracy comes from a
catalog preset (the parametric beta model) or from measured per-problem eval counts.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast, FloatArray, as_float_array
from scaleplan._schema import documented
from scaleplan.calibrate import Calibration
from scaleplan.cancel import CancelToken
from scaleplan.catalog import (
    Catalog,
    Hardware,
    Model,
    catalog_or_default,
    resolve_hardware,
    resolve_models,
)
from scaleplan.cost import FloatOrArray, _text
from scaleplan.errors import InvalidArgumentError, ScaleplanError
from scaleplan.plan import _CONSTRAINTS, _WHY, Plan, _opt
from scaleplan.provenance import (
    Provenance,
    accuracy_input,
    accuracy_samples_input,
    family_input,
    hardware_input,
    hardware_samples_input,
    models_input,
    price_input,
    provenance,
)
from scaleplan.serving import AttentionSpec, Serving, attention_choices, planner_serving
from scaleplan.uncertainty import (
    Uncertainty,
    accuracy_samples,
    check_quantiles,
    probability_lines,
    reshaped,
    test_time_latency_uncertainty,
    test_time_uncertainty,
)

if TYPE_CHECKING:
    from scaleplan.accuracy_fit import AccuracyFit

Aggregator = Literal["coverage", "majority"]

_WHY_TEST_TIME = {
    **_WHY,
    "budget": "the per-query budget binds: more budget buys more samples or tokens",
    "latency": "the latency SLO binds",
    "max_gen_tokens": "the generation length is at its upper bound (max_gen_tokens)",
    "min_gen_tokens": "the generation length is at its lower bound (min_gen_tokens)",
    "measured_length": "the generation length is at the longest length the eval measured "
    "(accuracy is not known beyond it)",
    "context": "the generation fills the model's context window",
    "max_samples": "samples per query are at k_max",
    "eval_samples": "samples per query are at the eval's samples per problem (pass@k is not "
    "measured beyond it)",
    "memory": "the serving hardware's memory binds: a longer generation, more samples or a "
    "larger model would not fit beside the weights",
}


AGGREGATOR_MEANING = {
    "coverage": "coverage: pass@k with a perfect verifier, an upper bound on what deploys",
    "majority": "majority vote: deployable without a verifier",
}
"""What each aggregator's accuracy means, for explanations and table captions."""


class Accuracy:
    """Per-model test-time accuracy: a catalog preset (beta model) or measured eval counts.

    ``task`` is what the accuracy is measured on (a preset's task such as ``aime24``, or
    ``measured:<file or label>``); ``aggregator`` how k samples become one answer: ``coverage``
    (pass@k with a perfect verifier: an upper bound on what deploys) or ``majority``."""

    def __init__(
        self,
        native: _core.AccuracySource,
        label: str,
        catalog: Catalog,
        task: str,
        preset_name: str | None = None,
        measured_name: str | None = None,
        fit: AccuracyFit | None = None,
    ) -> None:
        self._native = native
        self.label = label
        self.preset_name = preset_name
        """The catalog preset's name; None for measured results."""
        self._catalog = catalog
        self.task = task
        self.aggregator: Aggregator = native.aggregator()  # type: ignore[assignment]
        # The file or name of measured results (None for a preset or unnamed rows).
        self._measured_name = measured_name
        self.fit = fit
        """The :class:`scaleplan.AccuracyFit` the accuracy comes from; None otherwise."""

    def __repr__(self) -> str:
        if self.preset_name is not None:
            built = f"preset {self.preset_name!r}"
        elif self.fit is not None:
            built = f"fitted {self.fit.name!r}"
        elif self._measured_name is not None:
            built = f"measured {self._measured_name!r}"
        else:
            built = "measured"
        models = self.models()
        shown = ", ".join(models[:4]) + (f", ... ({len(models)} in all)" if len(models) > 4 else "")
        return (
            f"<Accuracy {built}: task {self.task!r}, aggregator {self.aggregator!r}, "
            f"models {shown or 'none'}>"
        )

    @classmethod
    def preset(
        cls,
        name: str = "aime24-qwen3",
        aggregator: Aggregator = "coverage",
        catalog: Catalog | None = None,
    ) -> Accuracy:
        """The beta model with a catalog preset; ``aggregator="majority"`` for majority vote
        without a verifier."""
        cat = catalog_or_default(catalog)
        native = _core.AccuracySource.preset(cat._native, name, aggregator)
        return cls(native, f"{name} ({aggregator})", cat, native.task() or name, preset_name=name)

    @classmethod
    def measured(
        cls,
        source: str | os.PathLike[str] | Sequence[dict[str, Any]],
        catalog: Catalog | None = None,
        name: str | None = None,
    ) -> Accuracy:
        """Per-problem results, one row per (model, gen_tokens, problem) with ``n`` samples and
        ``c`` correct: a CSV or JSON (list of objects / JSON lines) file, or the rows. ``name``
        says what the eval is (the task is ``measured:<name>``); the file's name by default."""
        columns, path = eval_columns(source)
        with _located(path):
            native = _core.AccuracySource.measured(*columns)
        cat = catalog_or_default(catalog)
        if name is None and isinstance(source, str | os.PathLike):
            name = Path(source).name
        label = f"measured ({name})" if name else "measured"
        task = f"measured:{name or 'rows'}"
        return cls(native, label, cat, task, measured_name=name)

    def models(self) -> list[str]:
        return self._native.models(self._catalog._native)

    def __call__(self, model: str, gen_tokens: Any, samples: Any = 1) -> Any:
        """Accuracy of ``model`` with ``samples`` samples of at most ``gen_tokens`` tokens. A
        measured source is unknown below the eval's shortest length and beyond its samples per
        problem: NaN there (no extrapolation); above its longest length the value at the longest
        holds (a generation may stop there). A fitted source (:func:`scaleplan.fit_accuracy`)
        is likewise unknown below its shortest length, but prices samples beyond the eval's
        (the fit's extrapolation)."""
        args = Broadcast({"gen_tokens": gen_tokens, "samples": samples})
        out = self._native.accuracy(
            self._catalog._native, model, args.required("gen_tokens"), args.required("samples")
        )
        return args.shaped(out)


EvalColumns = tuple[list[str], list[float], list[str], list[int], list[int]]
"""Eval rows as columns: model, gen_tokens, problem, n, c."""


def eval_columns(source: str | os.PathLike[str] | Sequence[Any]) -> tuple[EvalColumns, str | None]:
    """The columns of eval rows given as a file (CSV, JSON or JSON lines) or as mappings, and
    the file's path (None for rows). Every value is checked here: an error names the column
    (``rows.n``) and the row, as the file's ``row`` and ``file`` or the list's ``index``. The
    one reader of eval rows (``Accuracy.measured``, the gRPC client)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        with _located(path):
            return _eval_columns(_read_rows(path)), path
    return _eval_columns(list(source)), None


@contextlib.contextmanager
def _located(path: str | None) -> Iterator[None]:
    """Errors about rows read from the file ``path`` are named by the file and their row there
    (1-based, the header not counted) rather than by their index in the list read."""
    try:
        yield
    except ScaleplanError as exc:
        if path is None or exc.file is not None:
            raise
        row = exc.row if exc.index is None else exc.index + 1
        raise exc.replace(index=None, row=row, file=path) from exc


def _read_rows(path: str | os.PathLike[str]) -> list[Any]:
    """The rows of an eval file (CSV with a header, a JSON list of objects, or JSON lines). An
    error names the file (``file``) and, where it is about one row, the row (1-based, the CSV
    header and blank lines not counted)."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArgumentError(
            f"rows: cannot read: {reason}", field="rows", file=str(p)
        ) from None
    if p.suffix == ".csv":
        return list(csv.DictReader(text.splitlines()))
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"rows: not JSON: {exc}", field="rows", file=str(p)
            ) from None
        if not isinstance(data, list):
            raise InvalidArgumentError("rows: not a list of objects", field="rows", file=str(p))
        return data
    rows = []
    for line in text.splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(
                    f"rows: not JSON: {exc.msg}", field="rows", row=len(rows) + 1, file=str(p)
                ) from None
    return rows


@documented
@dataclass(frozen=True)
class TestTimePlan(Plan):
    """The best configuration for a per-query budget (arrays for an array of budgets)."""

    __test__ = False  # not a pytest class

    unit: str
    task: str
    aggregator: str
    budget: FloatOrArray
    model: str | npt.NDArray[np.object_] | None
    attention: str | npt.NDArray[np.object_] | None
    samples: FloatOrArray
    gen_tokens: FloatOrArray
    accuracy: FloatOrArray
    cost: FloatOrArray
    eflops: FloatOrArray
    seconds: FloatOrArray
    latency_s: FloatOrArray
    oracle_accuracy: FloatOrArray | None
    eval_samples: FloatOrArray | None
    provenance: Provenance
    uncertainty: Uncertainty | None = None

    @property
    def extrapolated_samples(self) -> Any:
        """Whether the plan's samples exceed the eval's samples per problem (``eval_samples``):
        its accuracy is then the fit's extrapolation (docs/fitting.md). False for a preset."""
        if self.eval_samples is None:
            return np.zeros(np.shape(self.samples), dtype=bool) if np.ndim(self.samples) else False
        out = np.asarray(self.samples) > np.asarray(self.eval_samples)
        return out if out.ndim else bool(out)

    def _explain_one(self) -> str:
        if not self.feasible:
            return (
                f"No configuration fits {float(self.budget):.4g} {self.unit}: "
                + _WHY_TEST_TIME[str(self.binding)]
                + "."
            )
        oracle = ""
        if self.oracle_accuracy is not None:
            oracle = f" Per-problem oracle (upper bound): {float(self.oracle_accuracy):.1%}."
        return (
            f"Serve {self.model} with {fmt.plural(int(self.samples), 'sample')} of up to "
            f"{fmt.si(float(self.gen_tokens))} tokens, {self.attention} attention: accuracy "
            f"{float(self.accuracy):.1%} (task: {self.task}; "
            f"{AGGREGATOR_MEANING[self.aggregator]}) for {float(self.cost):.4g} {self.unit} per "
            "query "
            f"(latency {fmt.seconds(float(self.latency_s))}). "
            f"{_WHY_TEST_TIME[str(self.binding)].capitalize()}.{oracle}"
            f"{self._extrapolation_note()}"
        ) + (
            "" if self.uncertainty is None else " " + " ".join(probability_lines(self.uncertainty))
        )

    def _extrapolation_note(self) -> str:
        if self.eval_samples is None or not bool(self.extrapolated_samples):
            return ""
        return (
            f" Extrapolated: {int(self.samples)} samples is beyond the eval's "
            f"{int(float(self.eval_samples))} per problem; accuracy there is the fitted "
            "beta-binomial's pass@k, not measured."
        )


@documented
@dataclass(frozen=True)
class TestTimeFrontier:
    """The best plan at every budget, each model's own best accuracy, and (measured data) the
    per-problem oracle upper bound."""

    __test__ = False

    budgets: FloatArray
    plan: TestTimePlan
    per_model: dict[str, FloatArray]
    oracle: FloatArray | None

    @classmethod
    def join(cls, parts: Sequence[TestTimeFrontier]) -> TestTimeFrontier:
        """Frontiers over consecutive chunks of budgets (in order) as one frontier."""
        oracles = [p.oracle for p in parts if p.oracle is not None]
        names = parts[0].per_model
        return cls(
            budgets=np.concatenate([p.budgets for p in parts]),
            plan=TestTimePlan.join([p.plan for p in parts]),
            per_model={n: np.concatenate([p.per_model[n] for p in parts]) for n in names},
            oracle=np.concatenate(oracles) if oracles else None,
        )


def _number(value: object, name: str) -> float:
    """A required scalar option."""
    number = _opt(value, name)
    if number is None:
        raise InvalidArgumentError(f"{name}: is required", field=name)
    return number


_EVAL_COLUMNS = ("model", "gen_tokens", "problem", "n", "c")


def _eval_columns(rows: Sequence[Any]) -> EvalColumns:
    """The columns of eval rows; an error names the column (``rows.<column>``) and the row's
    index."""
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(
                f"rows: expected a mapping of {', '.join(_EVAL_COLUMNS)}, got {type(row).__name__}",
                field="rows",
                index=i,
            )
        missing = [key for key in _EVAL_COLUMNS if key not in row]
        if missing:
            raise InvalidArgumentError(
                f"rows: missing {', '.join(missing)} (every row needs {', '.join(_EVAL_COLUMNS)})",
                field="rows",
                index=i,
            )
    return (
        [str(r["model"]) for r in rows],
        _number_column(rows, "gen_tokens"),
        [str(r["problem"]) for r in rows],
        _count_column(rows, "n"),
        _count_column(rows, "c"),
    )


def _number_column(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    out = []
    for i, row in enumerate(rows):
        value = row[key]
        try:
            if isinstance(value, bool):
                raise ValueError
            out.append(float(value))
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"rows.{key}: expected a number, got {value!r}", field=f"rows.{key}", index=i
            ) from None
    return out


def _count_column(rows: Sequence[Mapping[str, Any]], key: str) -> list[int]:
    """The ``n`` or ``c`` column of eval rows: whole numbers in [0, 2^32 - 1]."""
    out = []
    for i, row in enumerate(rows):
        value = row[key]
        try:
            number = int(float(value)) if isinstance(value, str) else int(value)
            whole = float(value) == number
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole or isinstance(value, bool):
            raise InvalidArgumentError(
                f"rows.{key}: expected a whole number, got {value!r}",
                field=f"rows.{key}",
                index=i,
            )
        if not 0 <= number <= _U32_MAX:
            raise InvalidArgumentError(
                f"rows.{key}: must be in [0, {_U32_MAX}], got {number}",
                field=f"rows.{key}",
                index=i,
            )
        out.append(number)
    return out


_U32_MAX = 2**32 - 1


def _budget(**budgets: Any) -> tuple[str, Any]:
    given = [(k, v) for k, v in budgets.items() if v is not None]
    if len(given) != 1:
        names = ", ".join(f"budget_{k}" for k in budgets)
        raise InvalidArgumentError(f"budget: give exactly one of {names}", field="budget")
    return given[0]


def _problem(
    models: Sequence[str | Model] | str | Model | None,
    family: str | None,
    hardware: str | Hardware,
    accuracy: str | Accuracy | AccuracyFit,
    unit: str,
    catalog: Catalog | None,
    **kw: Any,
) -> tuple[
    _core.TestTimeProblem, list[str], list[str], Accuracy, Provenance, AccuracyFit | None, Catalog
]:
    cat = catalog_or_default(catalog)
    from scaleplan.accuracy_fit import AccuracyFit

    fit = accuracy if isinstance(accuracy, AccuracyFit) else None
    if isinstance(accuracy, AccuracyFit):
        acc = accuracy.as_accuracy(cat)
    elif isinstance(accuracy, Accuracy):
        acc = accuracy
    else:
        acc = Accuracy.preset(accuracy, catalog=cat)
    if models is not None and family is not None:
        raise InvalidArgumentError("models: give models or family, not both", field="models")
    if family is not None:
        names = list(cat.family(family).members)
    elif models is not None:
        names, cat = resolve_models(models, cat)
    else:
        names = acc.models()
    choices = attention_choices(kw.pop("attention"))
    hw = resolve_hardware(hardware, cat)
    problem = _core.TestTimeProblem(
        cat._native,
        names,
        acc._native,
        hw._native,
        unit=unit,
        attention=[(c.kind, c.kv_budget, c.block_size) for c in choices],
        **kw,
    )
    given = [models] if isinstance(models, str | Model) else models
    prov = provenance(
        accuracy_input(acc),
        family_input(family, cat)
        if family is not None
        else models_input(list(given) if given is not None else names, catalog),
        hardware_input(hw),
        price_input(kw.get("usd_per_hour"), hw) if unit == "usd" else None,
    )
    return problem, names, [str(c) for c in choices], acc, prov, fit, cat


def frontier_test_time(
    *,
    budgets: npt.ArrayLike,
    unit: Literal["flops", "eflops", "seconds", "usd"] = "eflops",
    models: Sequence[str | Model] | str | Model | None = None,
    family: str | None = None,
    hardware: str | Hardware | Calibration = "kinetics-b200",
    prompt_tokens: float = 128,
    accuracy: str | Accuracy | AccuracyFit = "aime24-qwen3",
    k_max: int = 64,
    attention: AttentionSpec | Sequence[AttentionSpec] = ("dense",),
    latency_slo_s: float | None = None,
    min_gen_tokens: float = 256,
    max_gen_tokens: float | None = 32768,
    usd_per_hour: float | None = None,
    serving: Serving | None = None,
    quantiles: Sequence[float] | None = None,
    reach_accuracy: float | None = None,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> TestTimeFrontier:
    """The best test-time plan at every per-query budget in ``unit`` (one Rust call), each
    model's best accuracy per budget, and the oracle upper bound with measured data.

    ``attention``: the attentions the planner may pick, each ``"dense"``, ``"topk:1024"`` or
    ``"block_topk:1024:16"`` (or a tuple ``("topk", 1024)``). ``serving``: a
    :class:`scaleplan.Serving` (None: ``Serving()``, batch "max", 1 GPU per replica).

    ``accuracy`` may be an :class:`scaleplan.AccuracyFit` with bootstrap samples: the plan is
    then exactly what ``fit.accuracy`` gives, and ``plan.uncertainty`` holds the ``quantiles``
    (default 0.1, 0.5, 0.9) of the plan re-solved under each sample and the probability of
    reaching ``reach_accuracy`` committing to this plan and re-planned per sample
    (docs/uncertainty.md, "Test-time plans").

    ``hardware`` may be a :class:`scaleplan.Calibration`: the plan is made on its calibrated
    entry and, when it has bootstrap samples, ``plan.uncertainty`` holds the plan re-solved on
    each sample's hardware, the point plan's latency on each (``fixed``) and, with
    ``latency_slo_s``, the probability that the SLO is met (docs/uncertainty.md, "Calibrated
    hardware"). Samples of an accuracy fit and of a calibration are not combined: give one."""
    calibration = hardware if isinstance(hardware, Calibration) else None
    serving_hw: str | Hardware = (
        hardware.hardware if isinstance(hardware, Calibration) else hardware
    )
    flat = as_float_array("budgets", budgets).reshape(-1).copy()
    problem, names, labels, acc, prov, fit, cat = _problem(
        models,
        family,
        serving_hw,
        accuracy,
        _text("unit", unit),
        catalog,
        prompt_tokens=_number(prompt_tokens, "prompt_tokens"),
        k_max=_cancel.samples("k_max", k_max),
        attention=attention,
        latency_slo_s=_opt(latency_slo_s, "latency_slo_s"),
        min_gen_tokens=_number(min_gen_tokens, "min_gen_tokens"),
        max_gen_tokens=_opt(max_gen_tokens, "max_gen_tokens"),
        usd_per_hour=_opt(usd_per_hour, "usd_per_hour"),
        serving=planner_serving(serving, auto_gpus=False)[0],
    )
    samples = None if fit is None else accuracy_samples(fit, names)
    hw_samples = None
    if calibration is not None and len(calibration.samples):
        hw_samples = calibration.samples
        if samples is not None:
            raise InvalidArgumentError(
                "hardware: plans under the samples of an accuracy fit and of a calibration at "
                "once are not supported; pass calibration.hardware or fit.accuracy for one of "
                "them",
                field="hardware",
            )
        if reach_accuracy is not None:
            raise InvalidArgumentError(
                "reach_accuracy: on a calibration's samples the probability is of meeting "
                "latency_slo_s; reach_accuracy needs an AccuracyFit with bootstrap samples",
                field="reach_accuracy",
            )
    if samples is None and hw_samples is None:
        for name, value in (("quantiles", quantiles), ("reach_accuracy", reach_accuracy)):
            if value is not None:
                raise InvalidArgumentError(
                    f"{name}: applies only when accuracy is an AccuracyFit (or hardware a "
                    "Calibration) with bootstrap samples",
                    field=name,
                )
    reach = _reach_accuracy(reach_accuracy)
    levels = check_quantiles(quantiles)
    if samples is not None:
        prov = provenance(prov.inputs, accuracy_samples_input(len(samples)))
    if hw_samples is not None:
        prov = provenance(prov.inputs, hardware_samples_input(len(hw_samples)))
    arrays, per = problem.solve(flat, cancel=_cancel.resolve(cancel))
    plan = _assemble(arrays, flat, names, labels, str(unit), acc, prov)
    if samples is not None or hw_samples is not None:  # never both (refused above)
        common: dict[str, Any] = {
            "problem": problem,
            "budgets": flat,
            "point": dict(zip(_core.TEST_TIME_FIELDS, arrays, strict=True)),
            "model_params": np.array([cat.model(n).total_params for n in names]),
            "quantiles": levels,
            "cancel": cancel,
        }
        if samples is not None:
            u = test_time_uncertainty(samples=samples, reach=reach, **common)
        elif hw_samples is not None:
            u = test_time_latency_uncertainty(
                hardware_samples=hw_samples,
                latency_slo_s=_opt(latency_slo_s, "latency_slo_s"),
                **common,
            )
        plan = dataclasses.replace(plan, uncertainty=u)
    return TestTimeFrontier(
        budgets=flat,
        plan=plan,
        per_model={name: per[i] for i, name in enumerate(names)},
        oracle=None if plan.oracle_accuracy is None else np.asarray(plan.oracle_accuracy),
    )


def plan_test_time(
    *,
    budget_eflops: float | None = None,
    budget_seconds: float | None = None,
    budget_usd: float | None = None,
    budget_flops: float | None = None,
    **kwargs: Any,
) -> TestTimePlan:
    """The model, samples k, generation length L and attention that maximise accuracy within a
    per-query budget (give exactly one ``budget_*``). Takes every option of
    :func:`frontier_test_time`; budgets may be arrays."""
    unit, value = _budget(
        eflops=budget_eflops, seconds=budget_seconds, usd=budget_usd, flops=budget_flops
    )
    args = Broadcast({f"budget_{unit}": value})
    frontier = frontier_test_time(budgets=args.required(f"budget_{unit}"), unit=unit, **kwargs)  # type: ignore[arg-type]
    p = frontier.plan
    if args.scalar:
        return p.at(0)  # type: ignore[no-any-return]
    shaped: dict[str, Any] = {
        k: (v.reshape(args.shape) if isinstance(v, np.ndarray) else v)
        for k, v in p.to_dict().items()
    }
    if p.uncertainty is not None:
        shaped["uncertainty"] = reshaped(p.uncertainty, args.shape)
    return TestTimePlan(**shaped)


def _reach_accuracy(reach: Any) -> float | None:
    """``reach_accuracy``: a fraction in (0, 1]."""
    value = _opt(reach, "reach_accuracy")
    if value is not None and not 0.0 < value <= 1.0:
        raise InvalidArgumentError(
            f"reach_accuracy: must be in (0, 1], got {value}", field="reach_accuracy"
        )
    return value


def chosen(options: Sequence[str], index: FloatArray, feasible: npt.NDArray[np.bool_]) -> Any:
    """The option each plan chose (an object array), None where there is no plan."""
    out = np.asarray(options, dtype=object)[index.astype(np.intp)]
    out[~feasible] = None
    return out


def _assemble(
    arrays: list[FloatArray],
    budgets: FloatArray,
    names: list[str],
    labels: list[str],
    unit: str,
    accuracy: Accuracy,
    prov: Provenance,
) -> TestTimePlan:
    rows: dict[str, Any] = dict(zip(_core.TEST_TIME_FIELDS, arrays, strict=True))
    oracle = rows.pop("oracle_accuracy")
    eval_samples = rows.pop("eval_samples")
    feasible = rows.pop("feasible") != 0
    return TestTimePlan(
        feasible=feasible,
        binding=_CONSTRAINTS[rows.pop("binding").astype(np.intp)],
        unit=unit,
        task=accuracy.task,
        aggregator=accuracy.aggregator,
        budget=budgets,
        model=chosen(names, rows.pop("model"), feasible),
        attention=chosen(labels, rows.pop("attention"), feasible),
        oracle_accuracy=None if np.all(oracle < 0) else oracle,
        eval_samples=None if np.all(eval_samples < 0) else eval_samples,
        provenance=prov,
        **rows,
    )
