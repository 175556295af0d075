"""``scaleplan plan joint`` and ``scaleplan frontier joint``, over :func:`scaleplan.plan_joint`
and :func:`scaleplan.frontier_joint`: one budget for training a model and serving a deployment."""

from __future__ import annotations

import argparse
import math
import sys
import typing
from collections.abc import Callable
from typing import Any

from scaleplan import _format as fmt
from scaleplan._arrays import FloatArray
from scaleplan.commands import _common, _parse, _planning, _plot
from scaleplan.commands import _uncertainty as uncertainty
from scaleplan.commands._planning import Column, default, loss, optional_number, percent
from scaleplan.commands._progress import frontier_chunks
from scaleplan.fit import LawFit
from scaleplan.joint import JOINT_AGGREGATOR, JointPlan, frontier_joint, joint_task, plan_joint
from scaleplan.laws import LossLaw
from scaleplan.laws import law as law_entry
from scaleplan.plan import Unit
from scaleplan.provenance import Provenance
from scaleplan.serving import attention_text
from scaleplan.sweep import JOINT_CHUNK_BUDGETS
from scaleplan.testtime import AGGREGATOR_MEANING

UNITS: tuple[str, ...] = typing.get_args(Unit)
OPTIONS = {**_planning.SERVING_OPTIONS, "unit": "--unit"}

_PLAN_EXAMPLES = [
    "scaleplan plan joint --budget 2e5gpu-h --queries 1e9 --explain",
    "scaleplan plan joint --budget 1e5gpu-h:1e7gpu-h:5 --queries 1e7,1e9 --prompt-tokens 512 "
    "--k-max 1",
    "scaleplan plan joint --target-accuracy 0.6,0.8 --queries 1e8 --latency-slo 60s --json",
    "scaleplan plan joint --budget '$5e6' --queries 1e9 --hardware h100-sxm "
    "--train-usd-per-hour 2 --infer-usd-per-hour 2.5 --attention dense,topk:1024",
]
_FRONTIER_EXAMPLES = [
    "scaleplan frontier joint --budgets 1e4gpu-h:1e8gpu-h:30 --queries 1e8 --plot joint.png",
    "scaleplan frontier joint --budgets 1e22flops:1e26flops:9 --queries 1e9,1e11 --csv",
]


def add_problem_options(p: argparse.ArgumentParser) -> None:
    """Deployment, model family, accuracy law and bounds of the joint problem."""
    p.add_argument(
        "--queries",
        required=True,
        metavar="Q",
        help="queries served over the model's life (list or range: one plan per value)",
    )
    p.add_argument(
        "--prompt-tokens",
        default=str(default(plan_joint, "prompt_tokens")),
        metavar="TOKENS",
        help="prompt length (default: %(default)s)",
    )
    p.add_argument(
        "--unit",
        choices=UNITS,
        help="cost unit of a --target-accuracy plan (default: gpu_hours); a budget carries its own",
    )
    p.add_argument(
        "--family",
        default=default(plan_joint, "family"),
        help="model family, size interpolated over its members, or a comma list of models "
        "(e.g. read with --model-config) interpolated as one (default: %(default)s)",
    )
    p.add_argument(
        "--hardware",
        default=default(plan_joint, "hardware"),
        help="training and serving hardware (default: %(default)s)",
    )
    _planning.add_law_option(p, plan_joint, " with an error law (loss to task accuracy)")
    for name, what in (
        ("half_tokens", "generation length at which accuracy reaches half its limit"),
        ("hill", "steepness of the saturation in generation length"),
        ("kappa", "dispersion of per-problem success (beta concentration)"),
    ):
        p.add_argument(
            _common.option_name(name),
            default=str(default(plan_joint, name)),
            metavar="X",
            help=f"{what} (default: %(default)s)",
        )
    p.add_argument(
        "--k-max",
        default=str(default(plan_joint, "k_max")),
        metavar="K",
        help="most samples per query; 1 = one sample, a bigger model (default: %(default)s)",
    )
    p.add_argument(
        "--min-gen-tokens",
        default=str(default(plan_joint, "min_gen_tokens")),
        metavar="TOKENS",
        help="(default: %(default)s)",
    )
    p.add_argument(
        "--max-gen-tokens",
        default=str(default(plan_joint, "max_gen_tokens")),
        metavar="TOKENS",
        help="(default: %(default)s)",
    )
    p.add_argument("--min-params", metavar="N", help="smallest model size allowed")
    p.add_argument("--max-params", metavar="N", help="largest model size allowed")
    p.add_argument("--unique-tokens", metavar="TOKENS", help="unique training data available")
    p.add_argument("--r-star", metavar="R", help="repetition constant R* (default: 15.387756)")
    p.add_argument("--train-mfu", metavar="MFU", help="training MFU (default: the hardware's)")
    p.add_argument(
        "--train-usd-per-hour",
        metavar="USD",
        help="training price per GPU-hour (default: the training hardware's catalog price, a "
        "dated assumption listed by 'scaleplan catalog hardware')",
    )
    p.add_argument(
        "--infer-usd-per-hour",
        metavar="USD",
        help="serving price per GPU-hour (default: the hardware's catalog price, a dated "
        "assumption listed by 'scaleplan catalog hardware')",
    )
    _planning.add_serving_options(p, gpus_auto=True)


def problem(args: argparse.Namespace) -> tuple[dict[str, Any], FloatArray]:
    """The façade's keyword arguments but the goal and queries; and the queries."""
    kwargs: dict[str, Any] = {
        "prompt_tokens": _parse.number("--prompt-tokens", args.prompt_tokens),
        "family": _parse.family("--family", args.family),
        "hardware": args.hardware,
        "law": args.law,
        "k_max": _parse.whole("--k-max", args.k_max),
        "min_gen_tokens": _parse.number("--min-gen-tokens", args.min_gen_tokens),
        "max_gen_tokens": _parse.number("--max-gen-tokens", args.max_gen_tokens),
        **_planning.serving_kwargs(args),
    }
    for name in ("half_tokens", "hill", "kappa"):
        kwargs[name] = _parse.number(_common.option_name(name), getattr(args, name))
    for name in (
        "min_params",
        "max_params",
        "unique_tokens",
        "r_star",
        "train_mfu",
        "train_usd_per_hour",
        "infer_usd_per_hour",
    ):
        kwargs[name] = optional_number(_common.option_name(name), getattr(args, name))
    queries = _parse.values("--queries", args.queries)
    return kwargs, queries


def goal(
    args: argparse.Namespace, option: str, budget: str | None, target: str | None
) -> tuple[str, FloatArray, str]:
    """(``budget`` or ``target_accuracy``, the values, the cost unit)."""
    if budget is None:
        assert target is not None
        return (
            "target_accuracy",
            _parse.values("--target-accuracy", target),
            args.unit or "gpu_hours",
        )
    values, unit = _planning.budget_goal(args, option, budget, UNITS)
    return "budget", values, unit


def _caption(
    what: str,
    kwargs: dict[str, Any],
    unit: str,
    queries: FloatArray,
    provenance: Provenance | None,
) -> str:
    q = "" if len(queries) > 1 else f"{fmt.si(float(queries[0]))} queries of "
    given = kwargs["law"]
    law = given if isinstance(given, str) else getattr(given, "name", None) or given.law.name
    parts = [
        f"{q}{fmt.count(kwargs['prompt_tokens'])} prompt tokens",
        f"family {kwargs['family']} on {kwargs['hardware']}",
        f"accuracy: task {joint_task(law)}, {AGGREGATOR_MEANING[JOINT_AGGREGATOR]}",
        f"k <= {kwargs['k_max']}",
        f"{attention_text(kwargs['attention'])} attention",
        f"serving: {kwargs['serving'].resolved(auto_gpus=True)}",
    ]
    if kwargs["latency_slo_s"] is not None:
        parts.append(f"latency <= {fmt.seconds(kwargs['latency_slo_s'])}")
    parts += _planning.usd_prices(
        unit,
        ("training", kwargs["hardware"], kwargs.get("train_usd_per_hour")),
        ("serving", kwargs["hardware"], kwargs.get("infer_usd_per_hour")),
    )
    return _planning.header(
        what, unit=_parse.UNIT_LABELS[unit], law=law, details=parts, provenance=provenance
    )


def _columns(goal_name: str, unit: str, vary_queries: bool) -> list[Column]:
    def cost(v: float) -> str:
        return fmt.quantity(v, unit)

    cols: list[Column] = [
        (goal_name, goal_name.replace("_", " "), cost if goal_name == "budget" else percent)
    ]
    if vary_queries:
        cols.append(("queries", "queries", fmt.si))
    cols += [
        ("params", "params", fmt.si),
        ("tokens", "tokens", fmt.si),
        ("samples", "k", fmt.count),
        ("gen_tokens", "gen tokens", lambda v: f"{v:,.0f}"),
        ("attention", "attention", str),
        ("accuracy", f"accuracy ({JOINT_AGGREGATOR})", percent),
        ("loss", "loss", loss),
        ("training_cost", "training", cost),
        ("inference_cost", "inference", cost),
        ("training_share", "% training", lambda v: f"{v:.0%}"),
        ("latency_s", "latency", fmt.seconds),
        ("gpus", "GPUs/replica", fmt.count),
    ]
    return cols


def solve(
    args: argparse.Namespace, goal_name: str, goals: FloatArray, unit: str, *, frontier: bool
) -> tuple[list[list[JointPlan]], FloatArray, dict[str, Any]]:
    """One façade call per queries value (the goals vectorised): plans[q][g]."""
    kwargs, queries = problem(args)
    kwargs["unit"] = unit
    if not frontier:
        kwargs.update(_fit_kwargs(args))
    lines = []
    for q in queries.tolist():
        if frontier:

            def chunk(part: FloatArray, q: float = q) -> JointPlan:
                return frontier_joint(budgets=part, queries=q, **kwargs)

            plan = JointPlan.join(frontier_chunks(goals, JOINT_CHUNK_BUDGETS, chunk))
        else:
            target: dict[str, Any] = {goal_name: goals}
            plan = plan_joint(**target, queries=q, **kwargs)
        lines.append([plan.at(i) for i in range(len(goals))])
    return lines, queries, kwargs


def render(
    args: argparse.Namespace,
    what: str,
    goal_name: str,
    goals: FloatArray,
    unit: str,
    *,
    frontier: bool,
) -> int:
    """Solve, print (goal-major rows, then queries) and plot."""
    lines, queries, kwargs = solve(args, goal_name, goals, unit, frontier=frontier)
    plans, inputs = [], []
    for g in range(len(goals)):
        for k, q in enumerate(queries.tolist()):
            p = lines[k][g]
            plans.append(p)
            # Not applicable (NaN) without a plan, as every quantity of an infeasible plan.
            share = p.training_cost / p.total_cost if p.feasible else math.nan
            inputs.append({goal_name: float(goals[g]), "queries": q, "training_share": share})
    # Every plan has the same inputs: the queries vary, not where the inputs come from.
    caption = _caption(what, kwargs, unit, queries, plans[0].provenance if plans else None)
    columns = _columns(goal_name, unit, len(queries) > 1)
    note = uncertainty.note(plans)
    band: dict[str, Callable[[float], str]] = {"params": fmt.si, "tokens": fmt.si}
    band.update({"accuracy": percent} if goal_name == "budget" else {})
    if plans and plans[0].uncertainty is not None:
        columns = uncertainty.with_bands(columns, band, plans[0].uncertainty.quantiles)
    plans, extra, names = uncertainty.rows(plans, band)
    inputs = [{**i, **e} for i, e in zip(inputs, extra, strict=True)]
    code = _planning.emit(
        args,
        plans,
        inputs,
        [goal_name, "queries"],
        columns,
        caption,
        extra_fields=names,
        note=note,
    )
    if args.plot:
        labels = [f"{fmt.si(q)} queries" if len(queries) > 1 else "" for q in queries.tolist()]
        xlabel = (
            f"total budget ({_parse.UNIT_LABELS[unit]})"
            if goal_name == "budget"
            else "target accuracy"
        )
        _plot.joint(
            args.plot,
            goals,
            lines,
            labels,
            xlabel=xlabel,
            unit=unit,
            title=_planning.title(caption),
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return code


# ---- plan joint -------------------------------------------------------------------------------


def add_plan(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "joint",
        help="model size, training tokens, samples and generation length under one budget",
        description="Choose the model size N (continuous over --family), training tokens D, "
        "samples k, generation length L and attention for one total budget covering training "
        "and QUERIES queries, maximising task accuracy; or the least budget reaching "
        "--target-accuracy. Accuracy: the loss law -> task accuracy at unlimited length -> "
        "saturation in L (--half-tokens, --hill: assumptions) -> pass@k (--kappa). A budget "
        "always carries its unit, which is the plan's unit: 2e5gpu-h, '$5e6' (needs prices: "
        "--train-usd-per-hour and --infer-usd-per-hour, or the catalog's), 1e24flops or "
        "1e24eflops. Goals and --queries take lists and ranges "
        "(one plan per combination).",
        examples=_PLAN_EXAMPLES,
    )
    goal_group = p.add_mutually_exclusive_group(required=True)
    goal_group.add_argument(
        "--budget",
        metavar="BUDGET",
        help="total budget with its unit: " + _parse.units_text(UNITS) + " (list or range)",
    )
    goal_group.add_argument(
        "--target-accuracy", metavar="ACC", help="accuracy to reach, in (0, 1] (list or range)"
    )
    add_problem_options(p)
    uncertainty.add_options(p, reach="accuracy")
    p.add_argument(
        "--error-law",
        metavar="LAW",
        help="with --law-fit: the catalog law whose error law (loss to task error) the fitted "
        "law uses; it must be on your loss scale (required with --law-fit)",
    )
    _planning.add_plan_options(
        p, plot="accuracy, N and D, k and L, and the training share against the goal"
    )
    p.set_defaults(func=run_plan)


def _fit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """With --law-fit: the fit (its law given --error-law's error law) and the uncertainty
    options; nothing otherwise."""
    if getattr(args, "law_fit", None) is None:
        uncertainty.law(args, default(plan_joint, "law"))  # refuses the options without a fit
        if getattr(args, "error_law", None) is not None:
            raise _parse.UsageError("--error-law", "applies only with --law-fit")
        return {}
    if args.error_law is None:
        raise _parse.UsageError(
            "--error-law",
            "the joint planner needs an error law for --law-fit's law: name a "
            "catalog law whose error law is on your loss scale",
        )
    error = law_entry(args.error_law).error
    if error is None:
        raise _parse.UsageError("--error-law", f"'{args.error_law}' has no error law")
    fit, uncertain = uncertainty.law(args, default(plan_joint, "law"))
    if isinstance(fit, LawFit):
        fit = fit.with_error(error)
    elif isinstance(fit, LossLaw):  # a saved fit without samples: its point law
        fit = fit.replace(error=error)
    return {"law": fit, **uncertainty.kwargs(args, uncertain)}


@_common.guarded({**OPTIONS, **uncertainty.OPTIONS})
def run_plan(args: argparse.Namespace) -> int:
    goal_name, goals, unit = goal(args, "--budget", args.budget, args.target_accuracy)
    _plot.check_path("--plot", args.plot, need_points=len(goals))
    return render(args, "Joint plans", goal_name, goals, unit, frontier=False)


# ---- frontier joint ---------------------------------------------------------------------------


def add_frontier(frontiers: _common.Subparsers) -> None:
    p = _common.add_command(
        frontiers,
        "joint",
        help="the best joint plan (training + serving) at every total budget",
        description="The joint frontier: `plan joint` at every budget of a list or range, one "
        "row per budget (and per --queries value). Budgets as for `plan joint`.",
        examples=_FRONTIER_EXAMPLES,
    )
    p.add_argument(
        "--budgets",
        required=True,
        metavar="BUDGETS",
        help="total budgets with their unit: " + _parse.units_text(UNITS) + " (list or range)",
    )
    add_problem_options(p)
    _planning.add_plan_options(
        p, plot="accuracy, N and D, k and L, and the training share against the budget"
    )
    p.set_defaults(func=run_frontier)


@_common.guarded({**OPTIONS, "budget": "--budgets", "budgets": "--budgets"})
def run_frontier(args: argparse.Namespace) -> int:
    goal_name, goals, unit = goal(args, "--budgets", args.budgets, None)
    _plot.check_path("--plot", args.plot, need_points=len(goals))
    return render(args, "Joint frontier", goal_name, goals, unit, frontier=True)
