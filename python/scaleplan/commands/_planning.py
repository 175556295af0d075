"""What the planner commands (``plan ...``, ``frontier ...``) share: the options every planner
has, the serving options of the test-time and joint planners (attention choices, batch, latency
SLO), and :func:`emit`, which prints plans as a table, JSON lines or CSV."""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scaleplan import _format as fmt
from scaleplan._arrays import FloatArray
from scaleplan.catalog import default_catalog
from scaleplan.commands import _common, _parse, _pricing
from scaleplan.commands._output import RowWriter
from scaleplan.laws import LOSS_UNITS
from scaleplan.plan import Plan
from scaleplan.provenance import Provenance

Column = tuple[str, str, Callable[[float], str]]
"""A table column: field, header, how to render the value."""


def default(fn: Callable[..., Any], name: str) -> Any:
    """A façade argument's default, so help text never restates it by hand."""
    return inspect.signature(fn).parameters[name].default


def optional_number(option: str, text: str | None) -> float | None:
    return None if text is None else _parse.number(option, text)


def loss(v: float) -> str:
    return f"{v:.4f}"


def ratio(v: float) -> str:
    """A ratio: one decimal, or two significant digits below 1 (0.024, not 0.0)."""
    return f"{v:.1f}" if abs(v) >= 1 else f"{v:.2g}"


def percent(v: float) -> str:
    return f"{v:.1%}"


def header(
    what: str,
    *,
    unit: str,
    law: str | None,
    details: Sequence[str] = (),
    provenance: Provenance | None,
) -> str:
    """The line above every plan table: what it is, the unit of its budgets and costs, the
    law in use (None where the planner has no loss law), the rest of the problem and, last,
    where each input comes from (``provenance``, docs/planning.md, "Provenance"; None only for
    a plot's title, see :func:`title`). One line, so table parsers keep their line numbers."""
    parts = [f"budgets and costs in {unit}"]
    if law is not None:
        parts.append(f"law {law}")
    line = f"{what}: " + "; ".join([*parts, *details])
    return line if provenance is None else f"{line}{INPUTS}{provenance}"


INPUTS = "; inputs: "
"""Where the header's provenance starts."""

PROVENANCE_HELP = (
    "The line above each table ends with where every input comes from ('; inputs: law "
    "hoffmann2022: published (...); hardware h100-sxm: assumed (...)'): published with its "
    "citation, fitted or calibrated on n points, an assumed catalog value, or given by you "
    "(user); --json and --csv write it as 'provenance' (docs/planning.md, 'Provenance')."
)
"""The planner commands' word on the header's inputs, in ``plan`` and ``frontier`` --help."""


def title(caption: str) -> str:
    """A plot's title: the header without its inputs (no room for them there)."""
    return caption.split(INPUTS)[0]


def loss_units_detail(units: str) -> list[str]:
    """The header's word on the loss unit where it is not the usual nats per token (a
    bits-per-character law such as farseer2025; docs/planning.md, "Loss-law forms")."""
    return [] if units == "nats_per_token" else [f"loss in {LOSS_UNITS[units]}"]


def add_law_option(p: argparse.ArgumentParser, fn: Callable[..., Any], what: str = "") -> None:
    """``--law``, defaulting to the façade's (``scaleplan.DEFAULT_LAW`` for every planner)."""
    p.add_argument(
        "--law",
        default=default(fn, "law"),
        help=f"loss law{what}, a catalog name ('scaleplan catalog laws') (default: %(default)s, "
        "every planner's; docs/planning.md, 'The default law')",
    )


def budget_goal(
    args: argparse.Namespace, option: str, text: str, allowed: tuple[str, ...]
) -> tuple[FloatArray, str]:
    """``--budget``/``--budgets`` of a planner: the values and their unit (every budget carries
    one, :func:`_parse.budgets`). A ``--unit`` given too must agree; the façade's errors about
    the unit then name the budget option."""
    values, unit = _parse.budgets(option, text, allowed)
    given = getattr(args, "unit", None)
    if given is not None and given != unit:
        raise _parse.UsageError("--unit", f"{given} conflicts with the unit of {option} ({unit})")
    args.option_map = {**getattr(args, "option_map", {}), "unit": option}
    return values, unit


def add_plan_options(p: argparse.ArgumentParser, *, plot: str | None = None) -> None:
    """Options every planner subcommand has; ``plot`` says what ``--plot`` draws."""
    p.add_argument("--explain", action="store_true", help="say in words what each plan means")
    p.add_argument(
        "--require-feasible", action="store_true", help="exit 1 when any plan is infeasible"
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="write "
        + (plot or "the allocation (params, tokens, tokens/param) against the goal")
        + " to FILE.png or FILE.svg",
    )
    _common.add_format_options(p, what="plans")


def emit(
    args: argparse.Namespace,
    plans: Sequence[Plan],
    inputs: Sequence[Mapping[str, Any]],
    input_fields: list[str],
    columns: list[Column],
    caption: str,
    *,
    extra_fields: Sequence[str] = (),
    note: str | None = None,
) -> int:
    """Print plans as a table (with ``--explain``, each plan in words after it), JSON lines or
    CSV (with ``--explain``, an ``explanation`` field); exit 1 under ``--require-feasible`` if
    any plan is infeasible.

    ``inputs`` holds the inputs of each row (``input_fields``, first in JSON and CSV, shown in
    the table even for an infeasible plan) and any ``extra_fields``, written after the plan's
    own fields. A field the plan has too is written once. ``note`` follows the table."""
    style = _common.output_format(args)
    records = [{**i, **p.to_dict()} for i, p in zip(inputs, plans, strict=True)]
    if style == "table":
        header = [c[1] for c in columns] + ["binding"]
        rows = []
        for r in records:
            cells = [
                _cell(render, r[name]) if r["feasible"] or name in input_fields else "-"
                for name, _, render in columns
            ]
            cells.append(str(r["binding"]) + ("" if r["feasible"] else " (infeasible)"))
            rows.append(cells)
        print(caption + ".")
        print(fmt.table(header, rows, align=_align(columns)))
        for line in _warnings(plans):
            print(line)
        if note:
            print(note)
        if args.explain:
            print()
            for p in plans:
                print(p.explain())
    else:
        own = [f for f in plans[0].to_dict() if f not in input_fields]
        fields = input_fields + own + list(extra_fields)
        if args.explain:
            fields.append("explanation")
            for r, p in zip(records, plans, strict=True):
                r["explanation"] = p.explain()
        RowWriter(sys.stdout, style, fields).write_rows(records)
    infeasible = [p for p in plans if not p.feasible]
    if args.require_feasible and infeasible:
        why = sorted({str(p.binding) for p in infeasible})
        print(
            f"scaleplan: {len(infeasible)} of {fmt.plural(len(plans), 'plan')} infeasible "
            f"({', '.join(why)})",
            file=sys.stderr,
        )
        return _common.EXIT_INFEASIBLE
    return _common.EXIT_OK


def _warnings(plans: Sequence[Plan]) -> list[str]:
    """One line per plan (row) that extrapolates its law beyond the range it was fitted on."""
    out = []
    for row, p in enumerate(plans, start=1):
        extrapolated = getattr(p, "extrapolated", ())
        if extrapolated:
            law = getattr(p, "law", "the")
            items = "; ".join(str(e) for e in extrapolated)
            out.append(f"warning: row {row} extrapolates the {law} law beyond its fit: {items}")
    return out


def _cell(render: Callable[[float], str], value: Any) -> str:
    """A table cell; "-" where the value does not apply (None, NaN, an empty string)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value or "-"
    if math.isnan(float(value)):
        return "-"
    return render(float(value))


_TEXT_COLUMNS = ("model", "attention")


def _align(columns: list[Column]) -> str:
    return "".join("l" if c[0] in _TEXT_COLUMNS else "r" for c in columns) + "l"


# ---- serving options of the test-time and joint planners --------------------------------------


def add_serving_options(p: argparse.ArgumentParser, *, gpus_auto: bool = False) -> None:
    """The serving options of every command that prices inference (``--attention`` takes the
    choices the planner may pick among), and ``--latency-slo``."""
    _pricing.add_serving_options(
        p,
        attention_help="repeat the option or give a comma list for choices the planner may "
        "pick among (default: dense)",
        gpus="auto" if gpus_auto else "one",
    )
    p.add_argument(
        "--latency-slo",
        metavar="SECONDS",
        help="latency limit per query: 120, 120s, 2min, 500ms (default: none)",
    )


def latency(text: str | None) -> float | None:
    """``--latency-slo``: seconds, with an optional time unit."""
    if text is None:
        return None
    return _parse.duration("--latency-slo", text)


def serving_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The façade's ``serving``, ``attention`` and ``latency_slo_s`` from the options of
    :func:`add_serving_options`."""
    return {
        "serving": _pricing.serving(args),
        "attention": _pricing.attentions(args.attention),
        "latency_slo_s": latency(args.latency_slo),
    }


SERVING_OPTIONS = {"latency_slo_s": "--latency-slo"}
"""Façade fields whose option is not ``--field-name``."""


# ---- the price a USD plan used (docs/catalog.md, "Prices") ----------------------------------


def usd_prices(unit: str, *priced: tuple[str, str | None, float | None]) -> list[str]:
    """For a plan in USD, how each GPU-hour was priced, for the table's header: each (role,
    hardware, price given) as the price given, or the hardware's catalog price with its date
    (an assumption, not a quote); nothing for any other unit."""
    if unit != "usd":
        return []
    out = []
    for role, name, given in priced:
        if given is not None:
            out.append(f"{role} at ${given:g}/GPU-h (given)")
            continue
        hw = None if name is None else default_catalog().hardware(name)
        if hw is not None and hw.usd_per_hour is not None:
            out.append(
                f"{role} at ${hw.usd_per_hour:g}/GPU-h ({hw.name}'s catalog price, an assumption "
                f"dated {hw.price_date or 'unknown'}; override with a price option)"
            )
    return out
