"""The agent planner (docs/planning.md#agent-plans; Liu et al. 2025, budget-aware tool use,
arXiv:2511.17006).

An agent answers a query with model calls and tool calls (search, browse, ...). From a measured
table of accuracy against (model, tool-call budget), pick the cheapest configuration reaching a
target accuracy, or the most accurate one within a per-query budget. Each row is priced with the
paper's unified cost: its tokens through the cost model on the serving hardware, plus each
tool's calls times its price per call. Only measured rows are plans: the planner never
interpolates between tool budgets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast
from scaleplan._schema import documented
from scaleplan.cancel import CancelToken
from scaleplan.catalog import Catalog, Hardware, catalog_or_default, resolve_hardware
from scaleplan.cost import FloatOrArray, _text
from scaleplan.errors import InvalidArgumentError, LimitExceededError, ScaleplanError
from scaleplan.plan import _CONSTRAINTS, Plan, _opt
from scaleplan.provenance import (
    Input,
    Provenance,
    hardware_input,
    models_input,
    price_input,
    provenance,
    tool_price_inputs,
)
from scaleplan.serving import Serving, planner_serving
from scaleplan.testtime import _located, _read_rows, chosen

AgentUnit = Literal["usd", "gpu_seconds"]

DEFAULT_TOOL_PRICES: Mapping[str, float] = {"search": 0.001, "browse": 0.001}
"""US dollars per call of the tools Liu et al. 2025 (arXiv:2511.17006) price: $0.001 per search
and per browse. A table's other tools need a price in ``tool_prices``."""

CALLS_PREFIX = "calls_"
"""A table's column ``calls_<tool>`` holds the mean calls per query to ``<tool>``."""

REQUIRED_COLUMNS = ("model", "tool_budget", "accuracy", "input_tokens", "output_tokens")
"""Columns every row of an agent table has; ``turns`` (default 1) and ``calls_<tool>`` are
optional."""

_WHY_AGENT = {
    "budget": "the per-query budget binds: a more accurate measured configuration costs more",
    "target_accuracy": "the target accuracy binds: this is the cheapest measured configuration "
    "reaching it",
    "measured_table": "no measured configuration is more accurate: the table binds, not the "
    "budget (measure larger tool budgets or models to go further)",
    "memory": "the serving hardware's memory binds: the more accurate configurations do not fit "
    "beside the weights",
    "context": "the more accurate configurations' turns exceed the model's context",
}

_WHY_NONE = {
    "budget": "every servable measured configuration costs more than the budget",
    "target_accuracy": "no measured configuration reaches the target accuracy",
    "memory": "the configurations that would meet the goal do not fit the serving hardware's "
    "memory",
    "context": "the configurations that would meet the goal exceed the model's context",
}


@documented
@dataclass(frozen=True)
class AgentPlan(Plan):
    """The measured agent configuration (model, tool-call budget) that meets the goal at the
    least unified cost, or the most accurate within a budget (arrays for an array goal)."""

    unit: str
    tools: tuple[str, ...]
    target_accuracy: FloatOrArray | None
    budget: FloatOrArray | None
    model: str | npt.NDArray[np.object_] | None
    row: FloatOrArray
    tool_budget: FloatOrArray
    accuracy: FloatOrArray
    cost: FloatOrArray
    token_cost: FloatOrArray
    tool_cost: FloatOrArray
    gpu_seconds: FloatOrArray
    tool_calls: FloatOrArray
    latency_s: FloatOrArray
    provenance: Provenance

    def _explain_one(self) -> str:
        goal = (
            f"target accuracy {float(self.target_accuracy):.1%}"
            if self.target_accuracy is not None
            else f"budget {fmt.quantity(float(self.budget), self.unit)} per query"  # type: ignore[arg-type]
        )
        if not self.feasible:
            return f"No plan for {goal}: {_WHY_NONE[str(self.binding)]}."
        return (
            f"Run {self.model} with a tool-call budget of {float(self.tool_budget):g} (table row "
            f"{int(self.row)}): measured accuracy {float(self.accuracy):.1%} for "
            f"{fmt.quantity(float(self.cost), self.unit)} per query (tokens "
            f"{fmt.quantity(float(self.token_cost), self.unit)}, "
            f"{float(self.tool_calls):.3g} tool calls "
            f"{fmt.quantity(float(self.tool_cost), self.unit)}). "
            f"{_WHY_AGENT[str(self.binding)].capitalize()}."
        )


@dataclass(frozen=True)
class AgentTable:
    """An agent table as columns, every value checked: ``calls`` has one list per row, a mean
    per tool in the order of ``tools``."""

    model: list[str]
    tool_budget: list[float]
    accuracy: list[float]
    input_tokens: list[float]
    output_tokens: list[float]
    turns: list[float]
    tools: tuple[str, ...]
    calls: list[list[float]]
    source: str | None = None
    """The file the rows were read from (None for rows given)."""


def agent_table(source: str | os.PathLike[str] | Sequence[Any] | AgentTable) -> AgentTable:
    """The rows of an agent table (a CSV with a header, a JSON list of objects or JSON lines
    file, or mappings), one per (model, tool_budget): columns ``model``, ``tool_budget``,
    ``accuracy`` (a fraction), ``input_tokens`` and ``output_tokens`` (means per query, summed
    over the agent's turns), optionally ``turns`` (model calls per query, default 1) and one
    ``calls_<tool>`` per tool (mean calls per query; ``tools`` lists them sorted by name). An
    error names the column
    (``rows.accuracy``) and the row: its index in a list, its row (1-based, header not counted)
    and the file in a file. The one reader of agent tables (façade, CLI, gRPC client)."""
    if isinstance(source, AgentTable):
        return source
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        with _located(path):
            return dataclasses.replace(_table(_read_rows(path)), source=path)
    if not isinstance(source, Sequence):
        raise InvalidArgumentError(
            f"rows: expected a file or a list of rows, got {type(source).__name__}", field="rows"
        )
    return _table(list(source))


def _table(rows: Sequence[Any]) -> AgentTable:
    if not rows:
        raise InvalidArgumentError("rows: the table has no rows", field="rows")
    if len(rows) > _core.MAX_AGENT_ROWS:
        raise LimitExceededError(
            f"rows: {len(rows)} rows is over the limit of {_core.MAX_AGENT_ROWS}",
            field="rows",
            limit=_core.MAX_AGENT_ROWS,
            got=len(rows),
        )
    tools: tuple[str, ...] | None = None
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(
                f"rows: expected a mapping of {', '.join(REQUIRED_COLUMNS)}, got "
                f"{type(row).__name__}",
                field="rows",
                index=i,
            )
        missing = [k for k in REQUIRED_COLUMNS if k not in row or _blank(row[k])]
        if missing:
            raise InvalidArgumentError(
                f"rows: missing {', '.join(missing)} (every row needs "
                f"{', '.join(REQUIRED_COLUMNS)})",
                field=f"rows.{missing[0]}",
                index=i,
            )
        own = tuple(
            sorted(str(k)[len(CALLS_PREFIX) :] for k in row if str(k).startswith(CALLS_PREFIX))
        )
        if tools is None:
            tools = own
        elif set(own) != set(tools):
            raise InvalidArgumentError(
                f"rows: the calls columns differ from the first row's "
                f"({', '.join(CALLS_PREFIX + t for t in tools) or 'none'})",
                field="rows.calls",
                index=i,
            )
    assert tools is not None
    if len(tools) > _core.MAX_AGENT_TOOLS:
        raise LimitExceededError(
            f"rows: {len(tools)} tools is over the limit of {_core.MAX_AGENT_TOOLS}",
            field="rows.calls",
            limit=_core.MAX_AGENT_TOOLS,
            got=len(tools),
        )
    calls = [_numbers(rows, CALLS_PREFIX + t, "rows.calls") for t in tools]
    return AgentTable(
        model=[str(r["model"]).strip() for r in rows],
        tool_budget=_numbers(rows, "tool_budget"),
        accuracy=_numbers(rows, "accuracy"),
        input_tokens=_numbers(rows, "input_tokens"),
        output_tokens=_numbers(rows, "output_tokens"),
        turns=_numbers(rows, "turns", default=1.0),
        tools=tools,
        calls=[list(c) for c in zip(*calls, strict=True)] if calls else [[] for _ in rows],
    )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _numbers(
    rows: Sequence[Mapping[str, Any]],
    key: str,
    field: str | None = None,
    default: float | None = None,
) -> list[float]:
    """Column ``key`` as finite numbers; an error names ``field`` (``rows.<key>``) and the row."""
    name = field or f"rows.{key}"
    out = []
    for i, row in enumerate(rows):
        value = row.get(key)
        if default is not None and _blank(value):
            out.append(default)
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"{name}: {key}: expected a number, got {value!r}", field=name, index=i
            ) from None
        if not math.isfinite(number):
            raise InvalidArgumentError(
                f"{name}: {key}: must be finite, got {value!r}", field=name, index=i
            )
        out.append(number)
    return out


@contextlib.contextmanager
def _rows_of(path: str | None) -> Iterator[None]:
    """An error about a row (``rows.<column>`` at an index) of the table read from ``path`` is
    named by the file and its row there (1-based, the header not counted)."""
    try:
        yield
    except ScaleplanError as exc:
        if path is None or exc.index is None or not exc.field.startswith("rows"):
            raise
        raise exc.replace(index=None, row=exc.index + 1, file=path) from exc


def tool_prices_for(tools: Sequence[str], given: Mapping[str, float] | None) -> list[float]:
    """USD per call of each of ``tools``: ``given`` over :data:`DEFAULT_TOOL_PRICES`. A tool
    with no price, or a price for a tool the table does not have, is an error naming
    ``tool_prices``."""
    if given is not None and not isinstance(given, Mapping):
        raise InvalidArgumentError(
            "tool_prices: expected a mapping of tool name to USD per call, "
            f"got {type(given).__name__}",
            field="tool_prices",
        )
    given = dict(given or {})
    for name, price in given.items():
        if name not in tools:
            raise InvalidArgumentError(
                f"tool_prices: {name!r} is not a tool of the table (its tools: "
                f"{', '.join(tools) or 'none'}; a tool is a {CALLS_PREFIX}<tool> column)",
                field="tool_prices",
            )
        if isinstance(price, bool) or not isinstance(price, int | float | np.number):
            raise InvalidArgumentError(
                f"tool_prices: {name}: expected a number, got {price!r}", field="tool_prices"
            )
        if not (math.isfinite(float(price)) and float(price) >= 0):
            raise InvalidArgumentError(
                f"tool_prices: {name}: must be a finite number >= 0, got {price!r}",
                field="tool_prices",
            )
    prices = {**DEFAULT_TOOL_PRICES, **{k: float(v) for k, v in given.items()}}
    missing = [t for t in tools if t not in prices]
    if missing:
        raise InvalidArgumentError(
            f"tool_prices: no price for {', '.join(missing)} (defaults exist only for "
            f"{', '.join(DEFAULT_TOOL_PRICES)}); give tool_prices={{{missing[0]!r}: USD per call}}",
            field="tool_prices",
        )
    return [prices[t] for t in tools]


def plan_agent(
    table: str | os.PathLike[str] | Sequence[Any] | AgentTable,
    *,
    target_accuracy: npt.ArrayLike | None = None,
    budget: npt.ArrayLike | None = None,
    unit: AgentUnit = "usd",
    hardware: str | Hardware = "h100-sxm",
    tool_prices: Mapping[str, float] | None = None,
    usd_per_hour: float | None = None,
    serving: Serving | None = None,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> AgentPlan:
    """The measured (model, tool-call budget) configuration of ``table`` (a file or rows, see
    :func:`agent_table`) that reaches ``target_accuracy`` at the least unified cost per query,
    or the most accurate one costing at most ``budget`` per query (give exactly one; arrays
    give one plan each).

    Unified cost (Liu et al. 2025, arXiv:2511.17006) = token cost + sum over tools of calls x
    price per call. Tokens are priced by the cost model on ``hardware`` with ``serving`` (None:
    ``Serving()``): a row's ``turns`` model calls, each of input_tokens/turns prompt and
    output_tokens/turns generated tokens, in GPU-seconds, at the hardware's price per GPU-hour
    (``usd_per_hour`` overrides it) for ``unit="usd"``. ``unit="gpu_seconds"`` counts the
    tokens' GPU-seconds and converts the tools' USD at that price. ``tool_prices``: USD per call
    by tool name, over the defaults of $0.001 per ``search`` and per ``browse``.

    Only measured rows are plans (no interpolation between tool budgets). A goal no row meets
    is a plan with ``feasible=False`` naming the constraint in ``binding``, not an error."""
    data = agent_table(table)
    if (target_accuracy is None) == (budget is None):
        raise InvalidArgumentError(
            "goal: give exactly one of target_accuracy and budget", field="target_accuracy"
        )
    goal = "target_accuracy" if target_accuracy is not None else "budget"
    args = Broadcast({goal: target_accuracy if target_accuracy is not None else budget})
    cat = catalog_or_default(catalog)
    names = list(dict.fromkeys(data.model))
    index = {n: i for i, n in enumerate(names)}
    values = args.required(goal)
    hw = resolve_hardware(hardware, cat)
    prices = tool_prices_for(data.tools, tool_prices)
    with _rows_of(data.source):
        problem = _core.AgentProblem(
            cat._native,
            names,
            hw._native,
            model=[index[m] for m in data.model],
            tool_budget=data.tool_budget,
            accuracy=data.accuracy,
            calls=data.calls,
            input_tokens=data.input_tokens,
            output_tokens=data.output_tokens,
            turns=data.turns,
            unit=_text("unit", unit),
            tool_prices=prices,
            usd_per_hour=_opt(usd_per_hour, "usd_per_hour"),
            serving=planner_serving(serving, auto_gpus=False)[0],
        )
        arrays = problem.solve(goal, values, cancel=_cancel.resolve(cancel))
    rows = dict(zip(_core.AGENT_FIELDS, arrays, strict=True))
    feasible = rows.pop("feasible") != 0
    # A GPU-hour's price enters a USD plan, and a GPU-seconds one through priced tools.
    priced = unit == "usd" or any(p > 0 for p in prices)
    n_rows = len(data.model)
    prov = provenance(
        Input(
            "table",
            "user",
            f"{n_rows} rows",
            "measured accuracy, tool calls and tokens per (model, tool budget)",
            n_rows,
        ),
        models_input(names, cat),
        hardware_input(hw),
        price_input(_opt(usd_per_hour, "usd_per_hour"), hw) if priced else None,
        tool_price_inputs(data.tools, tool_prices, DEFAULT_TOOL_PRICES),
    )
    fields: dict[str, Any] = {
        "feasible": feasible,
        "binding": _CONSTRAINTS[rows.pop("binding").astype(np.intp)],
        "model": chosen(names, rows.pop("model"), feasible),
        "target_accuracy": values if goal == "target_accuracy" else None,
        "budget": values if goal == "budget" else None,
        **rows,
    }
    if args.scalar:
        plan = AgentPlan(unit=str(unit), tools=data.tools, provenance=prov, **fields)
        return plan.at(0)  # type: ignore[no-any-return]
    shaped = {
        k: (v.reshape(args.shape) if isinstance(v, np.ndarray) else v) for k, v in fields.items()
    }
    return AgentPlan(unit=str(unit), tools=data.tools, provenance=prov, **shaped)


__all__ = [
    "CALLS_PREFIX",
    "DEFAULT_TOOL_PRICES",
    "REQUIRED_COLUMNS",
    "AgentPlan",
    "AgentTable",
    "agent_table",
    "plan_agent",
    "tool_prices_for",
]
