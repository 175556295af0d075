"""``scaleplan plan agent``: the measured agent configuration (model, tool-call budget) that
reaches a target accuracy at the least unified cost, or the most accurate one within a per-query
budget, over :func:`scaleplan.plan_agent`."""

from __future__ import annotations

import argparse
import typing

from scaleplan import _format as fmt
from scaleplan.agent import DEFAULT_TOOL_PRICES, AgentUnit, plan_agent
from scaleplan.commands import _common, _parse, _planning, _pricing
from scaleplan.commands._planning import Column, default, optional_number, percent

UNITS: tuple[str, ...] = typing.get_args(AgentUnit)
EXAMPLES = {"usd": "$0.05", "gpu_seconds": "20gpu-s"}
OPTIONS = {
    "budget": "--budget",
    "target_accuracy": "--target-accuracy",
    "unit": "--unit",
    "rows": "TABLE",
    "tool_prices": "--tool-price",
}

_DEFAULTS = ", ".join(f"{t} ${p:g}" for t, p in DEFAULT_TOOL_PRICES.items())


def add_plan(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "agent",
        help="cheapest measured agent configuration (model, tool-call budget) for a target "
        "accuracy, or the best within a per-query budget (tool calls priced with tokens)",
        description="From a measured TABLE of accuracy against (model, tool-call budget), pick "
        "the configuration reaching --target-accuracy at the least unified cost per query, or "
        "the most accurate within --budget. Unified cost (Liu et al. 2025, arXiv:2511.17006) = "
        "the row's tokens priced by the cost model on --hardware (GPU-seconds, at the price "
        "per GPU-hour) + the sum over tools of calls x price per call. Only measured rows are "
        "plans: tool budgets are never interpolated. TABLE is a CSV (with a header) or JSON "
        "file with columns model, tool_budget, accuracy, input_tokens, output_tokens (means "
        "per query over all turns), optional turns (default 1) and calls_<tool> per tool "
        "(docs/planning.md, 'Agent plans').",
        examples=[
            "scaleplan plan agent examples/data/synthetic_agent_table.csv --target-accuracy "
            "0.6 --usd-per-hour 2.5 --explain",
            "scaleplan plan agent examples/data/synthetic_agent_table.csv --budget "
            "'$0.01,$0.05,$0.2' --usd-per-hour 2.5 --tool-price search=0.005",
            "scaleplan plan agent examples/data/synthetic_agent_table.csv --budget "
            "20gpu-s,60gpu-s --hardware h200 --batch 32 --tool-price search=0 "
            "--tool-price browse=0 --json",
        ],
    )
    p.add_argument("table", metavar="TABLE", help="the measured table (CSV or JSON)")
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument(
        "--target-accuracy",
        metavar="FRACTION",
        help="accuracy to reach at the least cost, a fraction (list or range)",
    )
    goal.add_argument(
        "--budget",
        metavar="BUDGET",
        help="per-query budget with its unit: "
        + _parse.units_text(UNITS, EXAMPLES)
        + " (list or range)",
    )
    p.add_argument(
        "--unit",
        choices=UNITS,
        help="cost unit of a --target-accuracy plan (default: usd); a --budget carries its own",
    )
    p.add_argument(
        "--hardware",
        default=default(plan_agent, "hardware"),
        help="serving hardware that prices the tokens (default: %(default)s)",
    )
    p.add_argument(
        "--usd-per-hour",
        metavar="USD",
        help="price of a GPU-hour (default: the hardware's catalog price); converts "
        "GPU-seconds to USD",
    )
    p.add_argument(
        "--tool-price",
        action="append",
        metavar="TOOL=USD",
        help=f"USD per call of a tool of the table (repeatable; defaults: {_DEFAULTS}, the "
        "prices of Liu et al. 2025)",
    )
    _pricing.add_serving_options(p)
    _planning.add_plan_options(p)
    p.set_defaults(func=run_plan)


def tool_prices(items: list[str] | None) -> dict[str, float]:
    """``--tool-price TOOL=USD`` (repeated) as a mapping."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _parse.UsageError("--tool-price", f"expected TOOL=USD, got {item!r}")
        out[name.strip()] = _parse.number("--tool-price", value.lstrip("$"))
    return out


def columns(goal: str, unit: str) -> list[Column]:
    def cost(v: float) -> str:
        return fmt.quantity(v, unit)

    first: Column = (
        ("target_accuracy", "target accuracy", percent)
        if goal == "target_accuracy"
        else ("budget", "budget", cost)
    )
    return [
        first,
        ("model", "model", str),
        ("tool_budget", "tool budget", fmt.count),
        ("accuracy", "accuracy", percent),
        ("cost", "cost", cost),
        ("token_cost", "tokens", cost),
        ("tool_cost", "tools", cost),
        ("tool_calls", "tool calls", fmt.count),
        ("gpu_seconds", "GPU-s", fmt.count),
        ("latency_s", "latency", fmt.seconds),
    ]


@_common.guarded(OPTIONS)
def run_plan(args: argparse.Namespace) -> int:
    if args.plot:
        raise _parse.UsageError("--plot", "agent plans have no plot; use --json or --csv")
    if args.budget is not None:
        goal = "budget"
        values, unit = _planning.budget_goal(args, "--budget", args.budget, UNITS)
    else:
        goal = "target_accuracy"
        values = _parse.values("--target-accuracy", args.target_accuracy)
        unit = args.unit or "usd"
    serving = _pricing.serving(args)
    plan = plan_agent(
        args.table,
        target_accuracy=values if goal == "target_accuracy" else None,
        budget=values if goal == "budget" else None,
        unit=typing.cast(AgentUnit, unit),
        hardware=args.hardware,
        tool_prices=tool_prices(args.tool_price),
        usd_per_hour=optional_number("--usd-per-hour", args.usd_per_hour),
        serving=serving,
    )
    plans = [plan.at(i) for i in range(len(values))]
    caption = _planning.header(
        "Agent plans",
        unit=f"{_parse.UNIT_LABELS[unit]} per query",
        law=None,
        details=[
            f"table {args.table}",
            f"tokens priced on {args.hardware}, serving: {serving}",
            "tools " + (", ".join(plan.tools) or "none"),
        ],
        provenance=plan.provenance,
    )
    return _planning.emit(
        args,
        plans,
        [{goal: v} for v in values.tolist()],
        [goal],
        columns(goal, unit),
        caption,
    )
