"""``scaleplan plan test-time``, ``scaleplan frontier test-time`` and the test-time figures
(``scaleplan plot test-time-frontier``, ``scaleplan plot accuracy``), over
:func:`scaleplan.plan_test_time` and :func:`scaleplan.frontier_test_time`."""

from __future__ import annotations

import argparse
import sys
import typing
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from scaleplan import _format as fmt
from scaleplan._arrays import FloatArray
from scaleplan.accuracy_fit import AccuracyFit
from scaleplan.catalog import model as catalog_model
from scaleplan.commands import _common, _parse, _planning, _plot
from scaleplan.commands import _uncertainty as uncertainty
from scaleplan.commands._planning import Column, default, percent
from scaleplan.commands._progress import frontier_chunks
from scaleplan.serving import attention_text
from scaleplan.sweep import TEST_TIME_CHUNK_BUDGETS
from scaleplan.testtime import (
    AGGREGATOR_MEANING,
    Accuracy,
    TestTimeFrontier,
    TestTimePlan,
    frontier_test_time,
    plan_test_time,
)

Unit = Literal["flops", "eflops", "seconds", "usd"]
UNITS: tuple[str, ...] = typing.get_args(Unit)
"""Per-query budget units; every budget carries one (``1e16eflops``, ``5s``, ``$0.01``)."""
_UNIT_WORDS = {
    "eflops": "eFLOPs",
    "flops": "FLOPs",
    "seconds": "replica-seconds",
    "usd": "USD",
}
PER_QUERY_EXAMPLES = {
    "flops": "1e16flops",
    "eflops": "1e16eflops",
    "seconds": "5s or 500ms",
    "usd": "$0.01",
}
"""Per-query budgets as the help shows them."""
OPTIONS = {
    **_planning.SERVING_OPTIONS,
    "budget_eflops": "--budget",
    "budget_flops": "--budget",
    "budget_seconds": "--budget",
    "budget_usd": "--budget",
    "budget": "--budget",
    "unit": "--budget",
    "rows": "--measured",
}

_PLAN_EXAMPLES = [
    "scaleplan plan test-time --budget 1e15eflops,1e16eflops,1e17eflops --explain",
    "scaleplan plan test-time --budget 1e16eflops --hardware kinetics-b200 --no-prefill "
    "--attention dense --attention topk:1024 --json",
    "scaleplan plan test-time --budget 5s --hardware h100-sxm --prompt-tokens 512 --batch 64 "
    "--latency-slo 2min --family qwen3-dense",
    "scaleplan plan test-time --budget '$0.001:$0.1:5' --hardware h200 --usd-per-hour 3.5",
    "scaleplan plan test-time --budget 1e14eflops:1e18eflops:5 "
    "--measured examples/data/synthetic_eval.csv "
    "--k-max 16",
]
_FRONTIER_EXAMPLES = [
    "scaleplan frontier test-time --budgets 1e13eflops:1e19eflops:200 --hardware kinetics-b200 "
    "--no-prefill --attention dense,topk:1024 --plot frontier.png",
    "scaleplan frontier test-time --budgets 1e14eflops:1e18eflops:9 --measured "
    "examples/data/synthetic_eval.csv --k-max 16 --csv",
    "scaleplan frontier test-time --budgets 0.1s:100s:7 --hardware h100-sxm --batch max --json",
]


def add_problem_options(p: argparse.ArgumentParser) -> None:
    """The test-time problem: candidate models, hardware, accuracy, search bounds, serving."""
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--models",
        metavar="NAME[,NAME]",
        help="candidate catalog models (default: every model the accuracy source knows)",
    )
    who.add_argument("--family", metavar="NAME", help="every model of a catalog family")
    p.add_argument(
        "--hardware",
        default=default(frontier_test_time, "hardware"),
        help="serving hardware (default: %(default)s)",
    )
    p.add_argument(
        "--prompt-tokens",
        default=str(default(frontier_test_time, "prompt_tokens")),
        metavar="TOKENS",
        help="prompt length (default: %(default)s)",
    )
    acc = p.add_mutually_exclusive_group()
    acc.add_argument(
        "--accuracy",
        metavar="PRESET",
        help="accuracy preset, the parametric beta model (default: "
        f"{default(frontier_test_time, 'accuracy')})",
    )
    acc.add_argument(
        "--measured",
        metavar="FILE",
        help="measured eval counts instead: FILE.csv or FILE.json(l) with one row per model, "
        "gen_tokens and problem (n samples, c correct), as examples/data/synthetic_eval.csv",
    )
    acc.add_argument(
        "--accuracy-fit",
        metavar="FIT.json",
        help="a beta-binomial fit of eval counts written by 'scaleplan fit accuracy --save': "
        "pass@k beyond the eval's samples per problem is extrapolated and --explain says so",
    )
    p.add_argument(
        "--aggregator",
        choices=("coverage", "majority"),
        help="how k samples answer a preset: coverage (pass@k, a perfect verifier; default) or "
        "majority vote",
    )
    p.add_argument(
        "--k-max",
        default=str(default(frontier_test_time, "k_max")),
        metavar="K",
        help="most samples per query (default: %(default)s)",
    )
    p.add_argument(
        "--min-gen-tokens",
        default=str(default(frontier_test_time, "min_gen_tokens")),
        metavar="TOKENS",
        help="shortest generation per sample (default: %(default)s)",
    )
    p.add_argument(
        "--max-gen-tokens",
        default=str(default(frontier_test_time, "max_gen_tokens")),
        metavar="TOKENS|none",
        help="longest generation per sample, 'none' for the model's context (default: %(default)s)",
    )
    p.add_argument(
        "--usd-per-hour",
        metavar="USD",
        help="price of one GPU-hour for USD budgets (default: the hardware's catalog price, a "
        "dated assumption listed by 'scaleplan catalog hardware')",
    )
    _planning.add_serving_options(p)


@dataclass
class Problem:
    """The façade's keyword arguments (all but the budgets) and how to describe them."""

    kwargs: dict[str, Any]
    accuracy: Accuracy
    details: list[str]
    """The problem in words, for the header."""


def problem(args: argparse.Namespace) -> Problem:
    """Parse the options of :func:`add_problem_options` into the façade's arguments."""
    source = _accuracy(args)
    kwargs: dict[str, Any] = {
        "hardware": args.hardware,
        "prompt_tokens": _parse.number("--prompt-tokens", args.prompt_tokens),
        "accuracy": source,
        "k_max": _parse.whole("--k-max", args.k_max),
        "min_gen_tokens": _parse.number("--min-gen-tokens", args.min_gen_tokens),
        "max_gen_tokens": _max_gen(args.max_gen_tokens),
        "usd_per_hour": _planning.optional_number("--usd-per-hour", args.usd_per_hour),
        **_planning.serving_kwargs(args),
    }
    if args.models is not None:
        kwargs["models"] = _parse.names("--models", args.models)
        who = ", ".join(kwargs["models"])
    elif args.family is not None:
        kwargs["family"] = args.family
        who = f"family {args.family}"
    else:
        who = "the models of " + ("the measured data" if args.measured else "the preset")
        if args.measured:
            args.option_map = {**getattr(args, "option_map", {}), "models": "--measured"}
        if getattr(args, "accuracy_fit", None):
            who = "the models of the accuracy fit"
            args.option_map = {**getattr(args, "option_map", {}), "models": "--accuracy-fit"}
    longest = kwargs["max_gen_tokens"]
    parts = [
        f"best of {who} on {args.hardware}",
        f"accuracy: task {source.task}, {AGGREGATOR_MEANING[source.aggregator]}",
        f"prompt {fmt.count(kwargs['prompt_tokens'])} tokens",
        f"{attention_text(kwargs['attention'])} attention",
        f"k <= {kwargs['k_max']}",
        f"L {fmt.count(kwargs['min_gen_tokens'])} to "
        + ("the context" if longest is None else fmt.count(longest)),
        f"serving: {kwargs['serving'].resolved(auto_gpus=False)}",
    ]
    if kwargs["latency_slo_s"] is not None:
        parts.append(f"latency <= {fmt.seconds(kwargs['latency_slo_s'])}")
    if source.fit is not None:
        n = min(f.eval_samples for f in source.fit.fits)
        parts.append(f"k above the eval's {n} samples per problem is the fit's extrapolation")
    return Problem(kwargs, source, parts)


def _prices(unit: str, prob: Problem) -> list[str]:
    """The GPU-hour price of a USD budget, for the header (the catalog's or the one given)."""
    return _planning.usd_prices(
        unit, ("serving", prob.kwargs["hardware"], prob.kwargs["usd_per_hour"])
    )


def _accuracy(args: argparse.Namespace) -> Accuracy:
    if getattr(args, "accuracy_fit", None):
        if args.aggregator == "majority":
            raise _parse.UsageError(
                "--aggregator", "majority vote applies to --accuracy presets; a fit gives pass@k"
            )
        return AccuracyFit.load(args.accuracy_fit).as_accuracy()
    if args.measured is None:
        name = args.accuracy or default(frontier_test_time, "accuracy")
        return Accuracy.preset(name, aggregator=args.aggregator or "coverage")
    if args.aggregator == "majority":
        raise _parse.UsageError(
            "--aggregator",
            "majority vote applies to --accuracy presets; measured counts give pass@k (coverage)",
        )
    # An error names the file and row itself (scaleplan.commands._common.describe).
    return Accuracy.measured(args.measured)


def catalog_size(plan: TestTimePlan, prob: Problem) -> float:
    """The parameters of a plan's chosen model (NaN without a plan), for the model-size band."""
    if not plan.feasible or plan.model is None:
        return float("nan")
    models = prob.kwargs.get("models") or []
    for m in models:
        if not isinstance(m, str) and getattr(m, "name", None) == plan.model:
            return float(m.total_params)
    return float(catalog_model(str(plan.model)).total_params)


def _max_gen(text: str) -> float | None:
    if text.strip().lower() in ("none", "inf"):
        return None
    return _parse.number("--max-gen-tokens", text)


def budgets(args: argparse.Namespace, option: str, text: str) -> tuple[FloatArray, str]:
    """Per-query budgets and their unit (every budget carries one)."""
    return _planning.budget_goal(args, option, text, UNITS)


def _quantity(unit: str) -> Any:
    def render(v: float) -> str:
        return fmt.quantity(v, unit)

    return render


def _tokens(v: float) -> str:
    return f"{v:,.0f}"


def columns(unit: str, *, oracle: bool, aggregator: str) -> list[Column]:
    """Table columns of a test-time plan in ``unit``; the accuracy's header names its
    aggregator."""
    cols: list[Column] = [
        ("budget", "budget/query", _quantity(unit)),
        ("model", "model", str),
        ("attention", "attention", str),
        ("samples", "k", fmt.count),
        ("gen_tokens", "gen tokens", _tokens),
        ("accuracy", f"accuracy ({aggregator})", percent),
        ("cost", "spent", _quantity(unit)),
    ]
    if unit != "eflops":
        cols.append(("eflops", "eFLOPs", lambda v: fmt.si(v, "eFLOP")))
    if unit != "seconds":
        cols.append(("seconds", "replica time", fmt.seconds))
    cols.append(("latency_s", "latency", fmt.seconds))
    if oracle:
        cols.append(("oracle_accuracy", "oracle (upper bound)", percent))
    return cols


def ordered(names: list[str]) -> list[str]:
    """Model names smallest first (catalog FLOP params), for columns, colours and legends."""
    return sorted(names, key=lambda n: (catalog_model(n).flop_params, n))


ORACLE_NOTE = (
    "oracle: every problem takes its own best configuration from the measured counts; an upper "
    "bound, not a deployable policy."
)


# ---- plan test-time ---------------------------------------------------------------------------


def add_plan(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "test-time",
        help="best model, samples, generation length and attention for a per-query budget "
        "(Kinetics)",
        description="For a per-query budget, pick the model, samples k, generation length L and "
        "attention that maximise accuracy, with inference priced by compute and memory traffic "
        "(eFLOPs = FLOPs + I x bytes). Budgets are per query and always carry their unit: "
        "1e16eflops, 1e16flops, 5s or 500ms (replica time charged to the query), '$0.01' (needs "
        "a price: --usd-per-hour or the catalog's). Lists and ranges give one plan per budget.",
        examples=_PLAN_EXAMPLES,
    )
    p.add_argument(
        "--budget",
        required=True,
        metavar="BUDGET",
        help="per-query budget with its unit: "
        + _parse.units_text(UNITS, PER_QUERY_EXAMPLES)
        + " (list or range)",
    )
    add_problem_options(p)
    uncertainty.add_accuracy_fit_options(p)
    _planning.add_plan_options(
        p, plot="accuracy against budget, coloured by the chosen model (needs two budgets)"
    )
    p.set_defaults(func=run_plan)


@_common.guarded({**OPTIONS, **uncertainty.OPTIONS})
def run_plan(args: argparse.Namespace) -> int:
    values, unit = budgets(args, "--budget", args.budget)
    _plot.check_path("--plot", args.plot, need_points=len(values))
    prob = problem(args)
    fit, uncertain = uncertainty.accuracy_fit(args, prob.accuracy.fit)
    goal: dict[str, Any] = {f"budget_{unit}": values}
    kwargs = dict(prob.kwargs)
    if uncertain:
        kwargs["accuracy"] = fit
    plan = plan_test_time(**goal, **kwargs, **uncertainty.kwargs(args, uncertain))
    plans = [plan.at(i) for i in range(len(values))]
    has_oracle = plan.oracle_accuracy is not None
    caption = _planning.header(
        "Test-time plans",
        unit=f"{_UNIT_WORDS[unit]} per query",
        law=None,
        details=prob.details + _prices(unit, prob),
        provenance=plan.provenance,
    )
    cols = columns(unit, oracle=has_oracle, aggregator=prob.accuracy.aggregator)
    band: dict[str, Any] = {
        "samples": fmt.count,
        "gen_tokens": _tokens,
        "accuracy": percent,
    }
    notes = [ORACLE_NOTE] if has_oracle else []
    if plan.uncertainty is not None:
        band_cols: list[Column] = [("model_params", "model size", fmt.si)]
        cols = cols[:2] + band_cols + cols[2:]
        band["model_params"] = fmt.si
        cols = uncertainty.with_bands(cols, band, plan.uncertainty.quantiles)
        notes.append(uncertainty.note(plans) or "")
    inputs: list[dict[str, Any]] = [{"budget": b} for b in values.tolist()]
    model_sizes = [
        {"model_params": catalog_size(p, prob)} if plan.uncertainty is not None else {}
        for p in plans
    ]
    plans, extra, names = uncertainty.rows(plans, band)
    inputs = [{**i, **m, **e} for i, m, e in zip(inputs, model_sizes, extra, strict=True)]
    code = _planning.emit(
        args,
        plans,
        inputs,
        ["budget"],
        cols,
        caption,
        extra_fields=names,
        note="\n".join(n for n in notes if n) or None,
    )
    if args.plot:
        _plot.accuracy_frontier(
            args.plot,
            values,
            plan,
            models=ordered(sorted({str(m) for m in np.asarray(plan.model).tolist() if m})),
            unit_label=_UNIT_WORDS[unit],
            title=_planning.title(caption),
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return code


# ---- frontier test-time -----------------------------------------------------------------------


def add_frontier(frontiers: _common.Subparsers) -> None:
    p = _common.add_command(
        frontiers,
        "test-time",
        help="the best test-time plan at every per-query budget, and each model's best",
        description="The test-time frontier: at every per-query budget, the best plan (model, "
        "samples k, generation length L, attention), each candidate model's own best accuracy "
        "(columns named by model) and, with --measured data, the per-problem oracle (an upper "
        "bound: every problem picks its own configuration, which no single deployment can). "
        "Budgets as for `plan test-time`; all of them are solved in one call.",
        examples=_FRONTIER_EXAMPLES,
    )
    p.add_argument(
        "--budgets",
        required=True,
        metavar="BUDGETS",
        help="per-query budgets with their unit: "
        + _parse.units_text(UNITS, PER_QUERY_EXAMPLES)
        + " (list or range)",
    )
    add_problem_options(p)
    _planning.add_plan_options(
        p,
        plot="the frontier (accuracy against budget, coloured by the chosen model, each model's "
        "best as a thin line, the oracle dashed)",
    )
    p.set_defaults(func=run_frontier)


@dataclass
class Frontier:
    values: FloatArray
    unit: str
    plan: TestTimePlan
    per_model: dict[str, FloatArray]
    oracle: FloatArray | None
    problem: Problem
    caption: str


def solve_frontier(args: argparse.Namespace, option: str, text: str) -> Frontier:
    values, unit = budgets(args, option, text)
    prob = problem(args)
    f = TestTimeFrontier.join(
        frontier_chunks(
            values,
            TEST_TIME_CHUNK_BUDGETS,
            lambda part: frontier_test_time(
                budgets=part, unit=typing.cast(Unit, unit), **prob.kwargs
            ),
        )
    )
    per_model = {name: f.per_model[name] for name in ordered(list(f.per_model))}
    caption = _planning.header(
        "Test-time frontier",
        unit=f"{_UNIT_WORDS[unit]} per query",
        law=None,
        details=prob.details + _prices(unit, prob),
        provenance=f.plan.provenance,
    )
    return Frontier(values, unit, f.plan, per_model, f.oracle, prob, caption)


@_common.guarded({**OPTIONS, "budgets": "--budgets", "budget": "--budgets"})
def run_frontier(args: argparse.Namespace) -> int:
    _plot.check_path("--plot", args.plot, need_points=2)
    f = solve_frontier(args, "--budgets", args.budgets)
    _plot.check_path("--plot", args.plot, need_points=len(f.values))
    plans = [f.plan.at(i) for i in range(len(f.values))]
    names = list(f.per_model)
    prefix = _plot.common_prefix(names)
    style = _common.output_format(args)
    inputs: list[dict[str, Any]] = []
    for i, b in enumerate(f.values.tolist()):
        best = {n: float(f.per_model[n][i]) for n in names}
        # JSON nests the per-model accuracies as the Python API does; CSV (and the table)
        # flattens them into per_model_<model> columns.
        flat = {f"per_model_{n}": v for n, v in best.items()}
        inputs.append({"budget": b, "per_model": best, **flat})
    extra = [f"per_model_{n}" for n in names] if style == "csv" else ["per_model"]
    cols = columns(f.unit, oracle=False, aggregator=f.problem.accuracy.aggregator)
    cols += [(f"per_model_{n}", n[len(prefix) :], percent) for n in names]
    if f.oracle is not None:
        cols.append(("oracle_accuracy", "oracle (upper bound)", percent))
    note = (
        f"Columns {', '.join(n[len(prefix) :] for n in names)}: each model's own best "
        "accuracy at that budget."
    )
    if f.oracle is not None:
        note += "\n" + ORACLE_NOTE
    code = _planning.emit(
        args, plans, inputs, ["budget"], cols, f.caption, extra_fields=extra, note=note
    )
    if args.plot:
        _plot.accuracy_frontier(
            args.plot,
            f.values,
            f.plan,
            models=names,
            per_model=f.per_model,
            oracle=f.oracle,
            unit_label=_UNIT_WORDS[f.unit],
            title=_planning.title(f.caption),
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return code


# ---- figures ----------------------------------------------------------------------------------


def _add_figure_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    p.add_argument(
        "--budgets",
        required=True,
        metavar="BUDGETS",
        help="per-query budgets with their unit (a range)",
    )
    add_problem_options(p)


def add_frontier_plot(figures: _common.Subparsers) -> None:
    p = _common.add_command(
        figures,
        "test-time-frontier",
        help="the test-time frontier: accuracy against per-query budget, chosen model marked",
        description="The best accuracy at every per-query budget, the line coloured by the "
        "model chosen and each change of model or attention annotated; each model's own best "
        "as a thin line; the per-problem oracle dashed with --measured data; below, the "
        "samples and generation length chosen. The same figure as `scaleplan frontier "
        "test-time --plot`.",
        examples=[
            "scaleplan plot test-time-frontier --budgets 1e13eflops:1e19eflops:200 "
            "--hardware kinetics-b200 "
            "--no-prefill --attention dense,topk:1024 --out frontier.png",
        ],
    )
    _add_figure_options(p)
    p.set_defaults(func=run_frontier_plot)


@_common.guarded({**OPTIONS, "budgets": "--budgets", "budget": "--budgets"})
def run_frontier_plot(args: argparse.Namespace) -> int:
    _plot.check_path("--out", args.out)
    f = solve_frontier(args, "--budgets", args.budgets)
    _plot.check_path("--out", args.out, need_points=len(f.values))
    _plot.accuracy_frontier(
        args.out,
        f.values,
        f.plan,
        models=list(f.per_model),
        per_model=f.per_model,
        oracle=f.oracle,
        unit_label=_UNIT_WORDS[f.unit],
        title=_planning.title(f.caption),
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return _common.EXIT_OK


def add_accuracy_plot(figures: _common.Subparsers) -> None:
    p = _common.add_command(
        figures,
        "accuracy",
        help="accuracy against per-query budget, one line per model",
        description="Left: each candidate model's best accuracy at every per-query budget "
        "(its own samples, generation length and attention), the best of them dashed, and the "
        "per-problem oracle with --measured data. Right: the accuracy source itself, pass@1 "
        "against generation length per model.",
        examples=[
            "scaleplan plot accuracy --budgets 1e13eflops:1e19eflops:120 --hardware kinetics-b200 "
            "--no-prefill --out accuracy.png",
            "scaleplan plot accuracy --budgets 1e14eflops:1e18eflops:60 --measured "
            "examples/data/synthetic_eval.csv --k-max 16 --out measured.svg",
        ],
    )
    _add_figure_options(p)
    p.set_defaults(func=run_accuracy_plot)


@_common.guarded({**OPTIONS, "budgets": "--budgets", "budget": "--budgets"})
def run_accuracy_plot(args: argparse.Namespace) -> int:
    _plot.check_path("--out", args.out)
    f = solve_frontier(args, "--budgets", args.budgets)
    _plot.check_path("--out", args.out, need_points=len(f.values))
    kw = f.problem.kwargs
    top = kw["max_gen_tokens"] or 131072.0
    lengths = np.geomspace(kw["min_gen_tokens"], max(top, 2 * kw["min_gen_tokens"]), 64)
    curves = {name: np.asarray(f.problem.accuracy(name, lengths, 1)) for name in f.per_model}
    _plot.accuracy_per_model(
        args.out,
        f.values,
        f.per_model,
        best=np.asarray(f.plan.accuracy),
        oracle=f.oracle,
        lengths=lengths,
        curves=curves,
        unit_label=_UNIT_WORDS[f.unit],
        title=_planning.header(
            "Accuracy per model",
            unit=f"{_UNIT_WORDS[f.unit]} per query",
            law=None,
            details=f.problem.details,
            provenance=None,
        ),
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return _common.EXIT_OK
