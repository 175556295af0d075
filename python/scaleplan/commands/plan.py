"""``scaleplan plan <planner>``: the planners of :mod:`scaleplan.plan`, one subcommand each.

Every goal (budget or target) may be a list or a range; all of them are solved in one call to the
planner. Planners register through :data:`PLANNERS`; the test-time and joint planners live in
:mod:`.testtime` and :mod:`.joint`. All share :mod:`._planning` (options, :func:`emit`).
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Callable
from typing import Any

import numpy as np

from scaleplan import _format as fmt
from scaleplan._arrays import FloatArray
from scaleplan.commands import (
    _common,
    _parse,
    _planning,
    _plot,
    _pricing,
    agent,
    joint,
    parscale,
    rag,
    testtime,
)
from scaleplan.commands import _uncertainty as uncertainty
from scaleplan.commands._planning import (
    PROVENANCE_HELP,
    Column,
    add_plan_options,
    default,
    emit,
    loss,
    optional_number,
    ratio,
)
from scaleplan.plan import Unit, plan_lifetime, plan_training


def register(sub: _common.Subparsers) -> None:
    p = sub.add_parser(
        "plan",
        help="plan training, a model's lifetime, test-time compute, training and serving "
        "together, or an agent's tool-call budget",
        description="Solve a planning problem. Goals take lists and ranges (1e18:1e26:30); "
        "every goal is solved in one call. Exit 1 with --require-feasible when a plan is "
        "infeasible. " + PROVENANCE_HELP,
        epilog="examples:\n  scaleplan plan training --budget 1e21flops,1e23flops\n"
        "  scaleplan plan lifetime --target-loss 2.1 --queries 1e10 --prompt-tokens 512 "
        "--gen-tokens 1024\n"
        "  scaleplan plan test-time --budget 1e15eflops,1e16eflops --attention dense,topk:1024\n"
        "  scaleplan plan joint --budget 2e5gpu-h --queries 1e9 --explain\n"
        "  scaleplan plan agent TABLE.csv --target-accuracy 0.6 --usd-per-hour 2.5\n"
        "  scaleplan plan rag --context-budget 128k --i-doc 0.5 --i-shot 1\n\nplanners: "
        + ", ".join(name for name, _ in PLANNERS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    planners = p.add_subparsers(dest="planner", required=True, metavar="PLANNER")
    for _, add in PLANNERS:
        add(planners)


# ---- plan training ---------------------------------------------------------------------------


def add_training(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "training",
        help="loss-optimal params and tokens for a training budget (Chinchilla)",
        description="The parameters N and tokens D minimising the law's loss L(N, D) under a "
        "training budget of 6*N*D FLOPs, or the least compute that reaches --target-loss. "
        "With --unique-tokens, repeated data is worth less (Muennighoff et al. 2023). With "
        "--start-in MONTHS the run starts later: algorithmic progress (Ho et al. 2024) makes "
        "each FLOP worth 2^(MONTHS/8.44) of today's, and the plan is today's law at the budget "
        "times that multiplier (effective compute), physical compute unchanged, with the plan at "
        "the halving time's 95 percent interval (4.52 to 14.27 months) as a band.",
        examples=[
            "scaleplan plan training --budget 1e21flops,1e23flops --explain",
            "scaleplan plan training --budget 1e23flops --start-in 6 --explain",
            "scaleplan plan training --target-loss 2.1 --law hoffmann2022 --json",
            "scaleplan plan training --budget 1e18flops:1e26flops:30 --unique-tokens 1e12 "
            "--plot alloc.png",
            "scaleplan plan training --budget 1e22flops --law-fit fit.json --reach-loss 2.3",
        ],
    )
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument(
        "--budget",
        metavar="BUDGET",
        help="training budget in FLOPs, with its unit: 1e21flops (list or range: "
        "1e18flops:1e26flops:30)",
    )
    goal.add_argument("--target-loss", metavar="LOSS", help="loss to reach (list or range)")
    _planning.add_law_option(p, plan_training)
    uncertainty.add_options(p)
    p.add_argument("--unique-tokens", metavar="TOKENS", help="unique data available")
    p.add_argument("--r-star", metavar="R", help="repetition constant R* (default: 15.387756)")
    p.add_argument(
        "--start-in",
        metavar="MONTHS",
        help="months from now until the run starts, 0 to 120 (default: 0, now): the budget "
        "buys 2^(MONTHS/8.44) times as much (algorithmic progress, Ho et al. 2024)",
    )
    add_plan_options(p)
    p.set_defaults(func=run_training)


@_common.guarded(
    {"budget_flops": "--budget", "start_in_months": "--start-in", **uncertainty.OPTIONS}
)
def run_training(args: argparse.Namespace) -> int:
    law_arg, uncertain = uncertainty.law(args, default(plan_training, "law"))
    if args.budget is not None:
        goal_name, label = "budget_flops", "budget"
        goals, _ = _planning.budget_goal(args, "--budget", args.budget, ("flops",))
    else:
        goal_name, label = "target_loss", "target loss"
        goals = _parse.values("--target-loss", args.target_loss)
    _plot.check_path("--plot", args.plot, need_points=len(goals))
    unique = optional_number("--unique-tokens", args.unique_tokens)
    start_in = optional_number("--start-in", args.start_in)
    plan = plan_training(
        budget_flops=goals if goal_name == "budget_flops" else None,
        target_loss=goals if goal_name == "target_loss" else None,
        law=law_arg,
        unique_tokens=unique,
        r_star=optional_number("--r-star", args.r_star),
        **uncertainty.kwargs(args, uncertain),
        start_in_months=0.0 if start_in is None else start_in,
    )
    plans = [plan.at(i) for i in range(len(goals))]
    inputs: list[dict[str, Any]] = [{goal_name: g} for g in goals.tolist()]
    caption = _planning.header(
        "Training plans",
        unit=_parse.UNIT_LABELS["flops"],
        law=plan.law,
        details=[
            *_planning.loss_units_detail(plan.loss_units),
            *([f"{fmt.si(unique)} unique tokens"] if unique is not None else []),
            *([f"starting in {start_in:g} months"] if start_in else []),
        ],
        provenance=plan.provenance,
    )
    goal_render = (lambda v: fmt.si(v, "FLOP")) if goal_name == "budget_flops" else loss
    columns: list[Column] = [
        (goal_name, label, goal_render),
        ("params", "params", fmt.si),
        ("tokens", "tokens", fmt.si),
        ("tokens_per_param", "tokens/param", ratio),
        ("loss", "loss", loss),
        ("compute_flops", "compute", lambda v: fmt.si(v, "FLOP")),
    ]
    if start_in:
        columns += [
            ("compute_multiplier", "multiplier", lambda v: f"{v:.4f}"),
            ("effective_compute_flops", "effective compute", lambda v: fmt.si(v, "FLOP")),
            ("loss_slow", "loss (slow)", loss),
            ("loss_fast", "loss (fast)", loss),
        ]
    note = uncertainty.note(plans)
    band: dict[str, Callable[[float], str]] = {
        "params": fmt.si,
        "tokens": fmt.si,
        "loss": loss,
        **({"compute_flops": fmt.si} if goal_name == "target_loss" else {}),
    }
    if plan.uncertainty is not None:
        columns = uncertainty.with_bands(columns, band, plan.uncertainty.quantiles)
    plans, extra, names = uncertainty.rows(plans, band)
    inputs = [{**i, **e} for i, e in zip(inputs, extra, strict=True)]
    code = emit(args, plans, inputs, [goal_name], columns, caption, extra_fields=names, note=note)
    if args.plot:
        _plot.allocation(
            args.plot,
            goals,
            [plans],
            [""],
            xlabel="training budget (FLOPs)" if goal_name == "budget_flops" else "target loss",
            title=_planning.title(caption),
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return code


# ---- plan lifetime ---------------------------------------------------------------------------


LIFETIME_UNITS = ("flops", "eflops", "gpu_hours", "usd")
_LIFETIME_AXES = ("queries", "prompt_tokens", "gen_tokens", "samples")


def add_lifetime(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "lifetime",
        help="training + lifetime inference at least total cost (Sardana & Frankle 2023)",
        description="The model size and training tokens reaching --target-loss at the least "
        "training + inference cost for QUERIES queries of PROMPT + SAMPLES x GEN tokens, or "
        "the lowest loss within a total --budget. Without --hardware, inference costs 2N FLOPs "
        "per token (the paper's convention); with --hardware and --family it is priced by the "
        "cost model (memory traffic included), the size interpolated over the family. "
        "A budget always carries its unit, which is the plan's unit: 1e24flops, 1e24eflops, "
        "2e5gpu-h, '$5e6' (USD needs prices: --train-usd-per-hour and --infer-usd-per-hour, or "
        "catalog prices); with --target-loss, --unit picks it. Demand options take lists and "
        "ranges (one plan per combination).",
        examples=[
            "scaleplan plan lifetime --target-loss 2.1 --queries 1e10 --prompt-tokens 512 "
            "--gen-tokens 1024 --explain",
            "scaleplan plan lifetime --budget 2e5gpu-h,1e6gpu-h --queries 1e9 --prompt-tokens "
            "512 --gen-tokens 1024 --hardware h100-sxm --family qwen3-dense --batch max",
            "scaleplan plan lifetime --budget '$1e5:$1e7:20' --queries 1e9,1e11 --prompt-tokens "
            "512 --gen-tokens 1024 --hardware h100-sxm --family qwen3-dense "
            "--train-usd-per-hour 2 --infer-usd-per-hour 2.5 --plot lifetime.png",
        ],
    )
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument(
        "--budget",
        metavar="BUDGET",
        help="total budget with its unit: "
        + _parse.units_text(LIFETIME_UNITS)
        + " (list or range)",
    )
    goal.add_argument("--target-loss", metavar="LOSS", help="loss to reach (list or range)")
    p.add_argument("--queries", required=True, help="queries over the model's life")
    p.add_argument("--prompt-tokens", required=True, metavar="TOKENS", help="per query")
    p.add_argument("--gen-tokens", required=True, metavar="TOKENS", help="per sample")
    p.add_argument("--samples", default="1", metavar="K", help="per query (default: 1)")
    _planning.add_law_option(p, plan_lifetime)
    p.add_argument("--hardware", help="price inference on this hardware (needs --family)")
    p.add_argument(
        "--family",
        help="model family interpolated over N, or a comma list of models (e.g. read with "
        "--model-config) interpolated as one (needs --hardware)",
    )
    p.add_argument(
        "--unit",
        choices=LIFETIME_UNITS,
        help="cost unit of a --target-loss plan (default: flops); a --budget carries its own",
    )
    _pricing.add_serving_options(p, gpus="auto")
    p.add_argument("--train-hardware", help="training hardware (default: --hardware)")
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
    p.add_argument("--unique-tokens", metavar="TOKENS", help="unique data available")
    p.add_argument("--r-star", metavar="R", help="repetition constant R* (default: 15.387756)")
    p.add_argument("--min-params", metavar="N", help="smallest model size allowed")
    p.add_argument("--max-params", metavar="N", help="largest model size allowed")
    uncertainty.add_options(p)
    add_plan_options(p)
    p.set_defaults(func=run_lifetime)


@_common.guarded(uncertainty.OPTIONS)
def run_lifetime(args: argparse.Namespace) -> int:
    law_arg, uncertain = uncertainty.law(args, default(plan_lifetime, "law"))
    if args.budget is not None:
        goal_name = "budget"
        goals, unit = _planning.budget_goal(args, "--budget", args.budget, LIFETIME_UNITS)
    else:
        goal_name = "target_loss"
        goals = _parse.values("--target-loss", args.target_loss)
        unit = args.unit or "flops"
    axes: dict[str, FloatArray] = {goal_name: goals}
    for name in _LIFETIME_AXES:
        axes[name] = _parse.values(
            _common.option_name(name), getattr(args, name), integer=name != "queries"
        )
    varying = [n for n in _LIFETIME_AXES if len(axes[n]) > 1]
    _plot.check_path("--plot", args.plot, need_points=len(goals))
    mesh = _pricing.open_mesh(axes)
    serving = _pricing.serving(args)
    attention = _pricing.one_attention(args.attention)
    plan = plan_lifetime(
        budget=mesh[goal_name] if goal_name == "budget" else None,
        target_loss=mesh[goal_name] if goal_name == "target_loss" else None,
        queries=mesh["queries"],
        prompt_tokens=mesh["prompt_tokens"],
        gen_tokens=mesh["gen_tokens"],
        samples=mesh["samples"],
        law=law_arg,
        hardware=args.hardware,
        family=_parse.family("--family", args.family),
        unit=typing.cast(Unit, unit),
        attention=attention,
        serving=serving,
        train_hardware=args.train_hardware,
        train_mfu=optional_number("--train-mfu", args.train_mfu),
        train_usd_per_hour=(
            train_price := optional_number("--train-usd-per-hour", args.train_usd_per_hour)
        ),
        infer_usd_per_hour=(
            infer_price := optional_number("--infer-usd-per-hour", args.infer_usd_per_hour)
        ),
        unique_tokens=optional_number("--unique-tokens", args.unique_tokens),
        r_star=optional_number("--r-star", args.r_star),
        min_params=optional_number("--min-params", args.min_params),
        max_params=optional_number("--max-params", args.max_params),
        **uncertainty.kwargs(args, uncertain),
    )
    shape = tuple(len(a) for a in axes.values())
    index = list(np.ndindex(shape))
    plans = [plan.at(i) for i in index]
    names = list(axes)
    inputs = [{n: float(axes[n][k]) for n, k in zip(names, i, strict=True)} for i in index]
    pricing = (
        f"inference priced on {args.hardware} over family {args.family}, {attention} attention, "
        f"serving: {serving}"
        if args.hardware
        else "inference priced at 2N FLOPs per token"
    )
    fixed = [
        f"{n.replace('_', ' ')} {fmt.count(float(axes[n][0]))}"
        for n in _LIFETIME_AXES
        if n not in varying
    ]
    prices = _planning.usd_prices(
        unit,
        ("training", args.train_hardware or args.hardware, train_price),
        ("serving", args.hardware, infer_price),
    )
    caption = _planning.header(
        "Lifetime plans",
        unit=_parse.UNIT_LABELS[unit],
        law=plan.law,
        details=[
            *_planning.loss_units_detail(plan.loss_units),
            *([pricing, ", ".join(fixed)] if fixed else [pricing]),
            *prices,
        ],
        provenance=plan.provenance,
    )

    def cost(v: float) -> str:
        return fmt.quantity(v, unit)

    goal_render = cost if goal_name == "budget" else loss
    columns: list[Column] = [(goal_name, goal_name.replace("_", " "), goal_render)]
    columns += [(n, n.replace("_", " "), fmt.count) for n in varying]
    columns += [
        ("params", "params", fmt.si),
        ("tokens", "tokens", fmt.si),
        ("tokens_per_param", "tokens/param", ratio),
        ("loss", "loss", loss),
        ("training_cost", "training", cost),
        ("inference_cost", "inference", cost),
        ("total_cost", "total", cost),
        ("chinchilla_params", "Chinchilla params", fmt.si),
        ("cost_saved", "saved vs Chinchilla", cost),
    ]
    if args.hardware is not None:
        columns.append(("gpus", "GPUs/replica", fmt.count))
    note = uncertainty.note(plans)
    band: dict[str, Callable[[float], str]] = {
        "params": fmt.si,
        "tokens": fmt.si,
        "loss": loss,
        **({"total_cost": cost} if goal_name == "target_loss" else {}),
    }
    if plan.uncertainty is not None:
        columns = uncertainty.with_bands(columns, band, plan.uncertainty.quantiles)
    plans, extra, names = uncertainty.rows(plans, band)
    inputs = [{**i, **e} for i, e in zip(inputs, extra, strict=True)]
    code = emit(
        args,
        plans,
        inputs,
        [goal_name, *_LIFETIME_AXES],
        columns,
        caption,
        extra_fields=names,
        note=note,
    )
    if args.plot:
        # One line per combination of the demand options that vary, the goal along x.
        lines = [plans[k :: len(index) // len(goals)] for k in range(len(index) // len(goals))]
        labels = [
            ", ".join(f"{n.replace('_', ' ')} {fmt.count(inputs[k][n])}" for n in varying)
            for k in range(len(lines))
        ]
        xlabel = (
            f"lifetime budget ({_parse.UNIT_LABELS[unit]})"
            if goal_name == "budget"
            else "target loss"
        )
        _plot.allocation(
            args.plot, goals, lines, labels, xlabel=xlabel, title=_planning.title(caption)
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return code


# ---- registration --------------------------------------------------------------------------

PLANNERS: list[tuple[str, Callable[[_common.Subparsers], None]]] = [
    ("training", add_training),
    ("lifetime", add_lifetime),
    ("test-time", testtime.add_plan),
    ("joint", joint.add_plan),
    # Parallel streams (ParScale).
    ("parscale", parscale.add_plan),
    ("agent", agent.add_plan),
    ("rag", rag.add_plan),
]
"""(name, register) per planner."""
