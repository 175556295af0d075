"""``scaleplan plan parscale``: parallel streams (ParScale) as a serving lever
(:func:`scaleplan.plan_parscale`, docs/planning.md "Parallel streams")."""

from __future__ import annotations

import argparse
import typing

from scaleplan import _format as fmt
from scaleplan.commands import _common, _parse, _pricing
from scaleplan.commands._planning import (
    Column,
    add_plan_options,
    default,
    emit,
    header,
    latency,
    loss,
)
from scaleplan.parscale import OBJECTIVES, STREAMS, Objective, plan_parscale

_UNITS = {"gpu_seconds": "GPU-s", "latency": "s", "eflops": "eFLOPs"}
BUDGET_UNITS = ("gpu_hours", "seconds", "eflops")
# The objective a budget's unit stands for, and the factor to its unit (GPU-hours to GPU-s).
_BY_UNIT = {
    "gpu_hours": ("gpu_seconds", 3600.0),
    "seconds": ("latency", 1.0),
    "eflops": ("eflops", 1.0),
}


def add_plan(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "parscale",
        help="parallel streams (ParScale): the stream count P and model size N serving a loss "
        "at the least cost per query",
        description="Parallel streams (ParScale, Chen et al. 2025): a model of N parameters "
        "run as P parallel streams reaches the loss of a model of about N (1 + k ln P) "
        "parameters at P times the FLOPs and KV cache, reading its weights once per step. For "
        "--target-loss, the P (among --streams) and N that reach it at the least --objective "
        "per query; with --budget (per query, in GPU-hours, seconds of latency or eFLOPs: its "
        "unit picks the objective), the lowest loss within it. Costs print in GPU-s, s or "
        "eFLOPs. Every candidate must fit in memory at the batch in use (a "
        "numeric --batch whole; 'max' shrinks as P grows) and meet --latency-slo if given.",
        examples=[
            "scaleplan plan parscale --target-loss 0.95 --hardware h100-sxm --prompt-tokens 512 "
            "--gen-tokens 1024 --batch 1 --objective latency --explain",
            "scaleplan plan parscale --target-loss 1.0,0.95,0.9 --law parscale2025-stack "
            "--hardware a100-80gb --prompt-tokens 512 --gen-tokens 1024 --streams 1,2,4",
            "scaleplan plan parscale --budget 1e-4gpu-h,2e-4gpu-h --hardware h100-sxm "
            "--prompt-tokens 512 --gen-tokens 1024 --batch 8 --latency-slo 10s",
        ],
    )
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-loss", metavar="LOSS", help="loss to reach (list or range)")
    goal.add_argument(
        "--budget",
        metavar="COST",
        help="per-query budget with its unit, which picks the objective: "
        + _parse.units_text(BUDGET_UNITS, {"gpu_hours": "1e-4gpu-h", "seconds": "30s, 500ms"})
        + ": GPU time, latency or eFLOPs per query (list or range)",
    )
    p.add_argument("--hardware", required=True, help="serving hardware (a catalog name)")
    p.add_argument("--prompt-tokens", required=True, metavar="TOKENS", help="per query")
    p.add_argument("--gen-tokens", required=True, metavar="TOKENS", help="per sample")
    p.add_argument("--samples", default="1", metavar="K", help="per query (default: 1)")
    p.add_argument(
        "--law",
        default=default(plan_parscale, "law"),
        help="parallel-scaling law, a catalog name ('scaleplan catalog laws' lists them under "
        "parallel-scaling laws) (default: %(default)s)",
    )
    p.add_argument(
        "--family",
        default=default(plan_parscale, "family"),
        help="model family whose shape rule prices a model of any N (default: %(default)s)",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        help="what to minimise per query with --target-loss (default: "
        + default(plan_parscale, "objective")
        + "); a --budget's unit picks it",
    )
    p.add_argument(
        "--streams",
        default=",".join(str(s) for s in STREAMS),
        metavar="P[,P]",
        help="stream counts allowed, each one of 1, 2, 4, 8 (default: %(default)s)",
    )
    p.add_argument(
        "--latency-slo",
        metavar="SECONDS",
        help="latency limit per query: 120, 120s, 2min, 500ms (default: none)",
    )
    _pricing.add_serving_options(p)
    add_plan_options(p)
    p.set_defaults(func=run)


@_common.guarded({"max_latency_s": "--latency-slo"})
def run(args: argparse.Namespace) -> int:
    if args.plot:
        raise _parse.UsageError("--plot", "plan parscale draws no plot; use --json or --csv")
    if args.budget is not None:
        goal_name = "budget"
        values, unit = _parse.budgets("--budget", args.budget, BUDGET_UNITS)
        objective_text, scale = _BY_UNIT[unit]
        if args.objective is not None and args.objective != objective_text:
            raise _parse.UsageError(
                "--objective", f"{args.objective} conflicts with the unit of --budget ({unit})"
            )
        goals = values * scale
        args.option_map = {"budget": "--budget", "objective": "--budget"}
    else:
        goal_name = "target_loss"
        goals = _parse.values("--target-loss", args.target_loss)
        objective_text = args.objective or default(plan_parscale, "objective")
    streams = [_parse.whole("--streams", s) for s in _parse.names("--streams", args.streams)]
    serving = _pricing.serving(args)
    attention = _pricing.one_attention(args.attention)
    objective = typing.cast(Objective, objective_text)
    plan = plan_parscale(
        target_loss=goals if goal_name == "target_loss" else None,
        budget=goals if goal_name == "budget" else None,
        hardware=args.hardware,
        prompt_tokens=_parse.number("--prompt-tokens", args.prompt_tokens),
        gen_tokens=_parse.number("--gen-tokens", args.gen_tokens),
        samples=_parse.number("--samples", args.samples),
        law=args.law,
        family=args.family,
        objective=objective,
        streams=streams,
        max_latency_s=latency(args.latency_slo),
        attention=attention,
        serving=serving,
    )
    plans = [plan.at(i) for i in range(len(goals))]
    inputs = [{goal_name: g} for g in goals.tolist()]
    unit = _UNITS[objective]
    slo = "" if args.latency_slo is None else f", latency SLO {latency(args.latency_slo):g} s"
    caption = header(
        "Parallel-stream plans",
        unit=unit,
        law=plan.law,
        details=[
            f"on {args.hardware} over family {args.family}, {attention} attention, streams "
            f"{','.join(str(s) for s in streams)}{slo}, serving: {serving}"
        ],
        provenance=plan.provenance,
    )

    def cost(v: float) -> str:
        return f"{v:.4g} {unit}"

    columns: list[Column] = [
        (goal_name, goal_name.replace("_", " "), cost if goal_name == "budget" else loss),
        ("streams", "P", fmt.count),
        ("params", "params", fmt.si),
        ("loss", "loss", loss),
        ("cost", "cost/query", cost),
        ("latency_s", "latency s", lambda v: f"{v:.3g}"),
        ("batch", "batch", lambda v: f"{v:.4g}"),
        ("single_stream_params", "P=1 params", fmt.si),
        ("single_stream_cost", "P=1 cost", cost),
    ]
    return emit(args, plans, inputs, [goal_name], columns, caption)
