"""What the planner commands (``plan ...``, ``frontier ...``) share: the options every planner
has, the serving options of the test-time and joint planners (attention choices, batch, latency
SLO), and :func:`emit`, which prints plans as a table, JSON lines or CSV."""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from scaleplan import _format as fmt
from scaleplan._arrays import FloatArray
from scaleplan.commands import _common, _parse, _pricing
from scaleplan.commands._output import RowWriter
from scaleplan.plan import Plan
from scaleplan.testtime import AttentionChoice

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


def header(what: str, *, unit: str, law: str | None, details: Sequence[str] = ()) -> str:
    """The line above every plan table: what it is, the unit of its budgets and costs, the
    law in use (None where the planner has no loss law) and the rest of the problem."""
    parts = [f"budgets and costs in {unit}"]
    if law is not None:
        parts.append(f"law {law}")
    return f"{what}: " + "; ".join([*parts, *details])


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

ATTENTION_HELP = (
    "an attention choice the planner may pick: dense, topk:S (top-k sparse attention over S KV "
    "tokens) or block_topk:S:BLOCK (block top-k with blocks of BLOCK tokens); repeat the option "
    "or give a comma list for several (default: dense)"
)


def add_attention_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--attention", action="append", metavar="SPEC", help=ATTENTION_HELP)


def attention_choices(specs: Sequence[str] | None) -> list[AttentionChoice]:
    """``dense``, ``topk:1024``, ``block_topk:2048:16`` (repeated or comma lists) -> the
    façade's attention choices; None when not given (the façade's default)."""
    option = "--attention"
    out: list[AttentionChoice] = []
    for text in specs or []:
        for item in text.split(","):
            parts = [s.strip() for s in item.strip().split(":")]
            kind = parts[0]
            if kind not in _pricing.ATTENTIONS:
                raise _parse.UsageError(
                    option,
                    f"unknown attention {kind!r} in {text!r} (expected dense, topk:S or "
                    "block_topk:S:BLOCK)",
                )
            want = {"dense": 1, "topk": 2, "block_topk": 3}[kind]
            if len(parts) != want:
                shape = {"dense": "dense", "topk": "topk:S", "block_topk": "block_topk:S:BLOCK"}
                raise _parse.UsageError(
                    option, f"{item.strip()!r}: expected {shape[kind]} (S = KV tokens attended)"
                )
            numbers = [_parse.number(option, v) for v in parts[1:]]
            if kind == "dense":
                out.append("dense")
            elif kind == "topk":
                out.append((kind, numbers[0]))
            else:
                out.append((kind, numbers[0], numbers[1]))
    if specs is not None and not out:
        raise _parse.UsageError(option, "no attention choice given")
    return list(dict.fromkeys(out))


def attention_text(choices: Sequence[AttentionChoice]) -> str:
    """How a list of attention choices reads in a caption."""
    parts = []
    for c in choices:
        if isinstance(c, str):
            parts.append(c)
        else:
            parts.append(f"{c[0]}({', '.join(f'{v:g}' for v in c[1:])})")
    return " or ".join(parts)


BATCH_HELP = (
    "sequences decoded together on one replica: a number (capped by memory), 'max' (the largest "
    "that fits) or 'unset' (weight reads fully amortised, the Kinetics convention)"
)


GPUS_AUTO_HELP = (
    "GPUs serving one replica (tensor parallel): a number, or 'auto' to choose among 1, 2, 4 "
    "and 8, each priced with its all-reduces (default: auto)"
)


def gpus_value(text: str, *, auto: bool = True) -> int | None:
    """``--gpus``: ``auto`` (the planner chooses; where ``auto`` is allowed) -> None, else a
    whole number."""
    if text.strip().lower() == "auto":
        if not auto:
            raise _parse.UsageError("--gpus", "takes a whole number here, not auto")
        return None
    return _parse.whole("--gpus", text)


def add_serving_options(
    p: argparse.ArgumentParser, *, batch_default: str, gpus_auto: bool = False
) -> None:
    """Inference options of the test-time and joint planners, beside --attention."""
    p.add_argument(
        "--batch", metavar="N|max|unset", help=f"{BATCH_HELP} (default: {batch_default})"
    )
    if gpus_auto:
        p.add_argument("--gpus", default="auto", metavar="N|auto", help=GPUS_AUTO_HELP)
    else:
        p.add_argument(
            "--gpus", default="1", metavar="N", help="GPUs serving one replica (default: 1)"
        )
    p.add_argument(
        "--no-prefill", dest="prefill", action="store_false", help="leave prefill out (Kinetics)"
    )
    p.add_argument(
        "--prefill-mode",
        choices=_pricing.PREFILL_MODES,
        default="per_query",
        help="per_query: each query's prompt is prefilled in its own pass (default); batch: a "
        "static batch's prompts in one pass that every query waits for (needs --batch)",
    )
    p.add_argument(
        "--no-prefix-sharing",
        dest="prefix_sharing",
        action="store_false",
        help="each sample reads the prompt's KV cache itself",
    )
    _pricing.add_precision_options(p)
    p.add_argument(
        "--latency-slo",
        metavar="SECONDS",
        help="latency limit per query: 120, 120s, 2min, 500ms (default: none)",
    )


def batch_value(text: str | None, fallback: Any) -> Literal["max"] | float | None:
    """``--batch``: None (not given) -> the façade's default; ``unset`` -> None; ``max``; or one
    sequence count."""
    if text is None:
        return fallback  # type: ignore[no-any-return]
    word = text.strip().lower()
    if word == "unset":
        return None
    if word == "max":
        return "max"
    return _parse.number("--batch", text)


def latency(text: str | None) -> float | None:
    """``--latency-slo``: seconds, with an optional time unit."""
    if text is None:
        return None
    return _parse.duration("--latency-slo", text)


def serving_kwargs(
    args: argparse.Namespace, batch_fallback: Any, *, gpus_auto: bool = False
) -> dict[str, Any]:
    """The façade's keyword arguments for the options of :func:`add_serving_options` and
    ``--attention``."""
    kwargs: dict[str, Any] = {
        "batch": batch_value(args.batch, batch_fallback),
        "gpus": gpus_value(args.gpus, auto=gpus_auto),
        "prefill": args.prefill_mode if args.prefill else False,
        "prefix_sharing": args.prefix_sharing,
        "time_model": args.time_model,
        "weight_dtype": args.weight_dtype,
        "kv_dtype": args.kv_dtype,
        "compute_dtype": args.compute_dtype,
        "latency_slo_s": latency(args.latency_slo),
    }
    choices = attention_choices(args.attention)
    if choices:
        kwargs["attention"] = choices
    return kwargs


SERVING_OPTIONS = {
    "attention": "--attention",
    "kv_budget": "--attention",
    "block_size": "--attention",
    "latency_slo_s": "--latency-slo",
}
"""Façade fields whose option is not ``--field-name``."""


def batch_text(batch: Any) -> str:
    if batch is None:
        return "batch unset (weight reads amortised)"
    if batch == "max":
        return "batch max (the largest that fits)"
    return f"batch {fmt.count(float(batch))}"
