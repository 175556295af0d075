"""Retrieval-augmented generation as a planner (docs/planning.md#rag, docs/design.md).

The computation allocation model of Yue et al. 2024 (arXiv:2410.04343) predicts a RAG metric
from the documents k, in-context examples m and iterations n of a query, given how informative
one document and one example are; :func:`plan_rag` picks the integer (k, m, n) that maximise it
under a context-length, an eFLOPs or a latency budget, and :func:`fit_rag` refits the law's
a, b, c from a user's own grid.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, cast

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import _format as fmt
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast
from scaleplan._schema import documented
from scaleplan.cancel import CancelToken
from scaleplan.catalog import (
    Catalog,
    Hardware,
    Model,
    _entry_json,
    catalog_or_default,
    resolve_hardware,
    resolve_model,
)
from scaleplan.cost import FloatOrArray, Number
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.plan import Plan
from scaleplan.provenance import Provenance, hardware_input, models_input, provenance, rag_law_input
from scaleplan.serving import Serving, planner_serving

DEFAULT_RAG_LAW = "yue2024-gemini-flash"
"""The RAG law plan_rag and fit_rag use when none is given."""

MAX_RAG_DOCUMENTS: int = _core.MAX_RAG_DOCUMENTS
MAX_RAG_SHOTS: int = _core.MAX_RAG_SHOTS
MAX_RAG_ITERATIONS: int = _core.MAX_RAG_ITERATIONS
RAG_DOC_TOKEN_CAP: float = _core.RAG_DOC_TOKEN_CAP

_CONSTRAINTS = np.array(_core.CONSTRAINTS)

_WHY_RAG = {
    "context_budget": "the context-length budget binds: more tokens buy more documents, "
    "examples or iterations",
    "budget": "the eFLOPs budget binds",
    "latency": "the latency budget binds",
    "context": "the model's context window binds: the last iteration's prompt would not fit",
    "memory": "the serving hardware's memory binds: a longer prompt's KV cache would not fit",
    "max_documents": "documents are at max_documents",
    "max_shots": "in-context examples are at max_shots",
    "max_iterations": "iterations are at max_iterations",
    "no_gain": "no more documents, examples or iterations would raise the predicted metric "
    "at this informativeness",
}


@dataclass(frozen=True)
class RagSigma:
    """sigma(x) = scale / (1 + exp(-slope (x + shift))) + offset: P lies in (offset, offset +
    scale)."""

    scale: float
    slope: float
    shift: float
    offset: float


@dataclass(frozen=True)
class RagLaw:
    """sigma^-1(P) = (a + b * i)^T ln(theta + 0.01) + c, theta = (documents, examples,
    iterations), i = (i_doc, i_shot, 0); ``a`` lists (doc, shot, iteration), ``b`` (doc, shot)."""

    name: str
    a: tuple[float, float, float]
    b: tuple[float, float]
    c: float
    sigma: RagSigma
    description: str = ""
    source: str = ""
    _native: _core.NativeRagLaw = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.sigma, Mapping):
            object.__setattr__(self, "sigma", RagSigma(**self.sigma))
        object.__setattr__(self, "a", tuple(self.a))
        object.__setattr__(self, "b", tuple(self.b))
        native = _core.NativeRagLaw.from_json(_entry_json(self))
        object.__setattr__(self, "_native", native)

    @classmethod
    def _from_native(cls, native: _core.NativeRagLaw) -> Self:
        return cls(**json.loads(native.to_json()))

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def metric(
        self, documents: Any, shots: Any, iterations: Any, *, i_doc: Any, i_shot: Any
    ) -> Any:
        """The predicted metric P for scalars or arrays (broadcast together)."""
        from scaleplan._arrays import Broadcast

        args = Broadcast(
            {
                "documents": documents,
                "shots": shots,
                "iterations": iterations,
                "i_doc": i_doc,
                "i_shot": i_shot,
            }
        )
        return args.shaped(
            self._native.metric(
                args.required("documents"),
                args.required("shots"),
                args.required("iterations"),
                args.required("i_doc"),
                args.required("i_shot"),
            )
        )


def rag_law(name: str = DEFAULT_RAG_LAW, catalog: Catalog | None = None) -> RagLaw:
    """A RAG law from the catalog (``[[rag]]``): yue2024-gemini-flash, or one from a user file."""
    entry = catalog_or_default(catalog)._entry(
        "rag", name, lambda native: RagLaw._from_native(_core.rag_law(native, name))
    )
    return cast(RagLaw, entry)


def rag_law_names(catalog: Catalog | None = None) -> list[str]:
    """The names of the catalog's RAG laws."""
    return _core.rag_law_names(catalog_or_default(catalog)._native)


def _resolve(value: str | RagLaw, catalog: Catalog | None) -> RagLaw:
    if isinstance(value, RagLaw):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"law: expected a RAG law name or a scaleplan.RagLaw, got {type(value).__name__}",
            field="law",
        )
    return rag_law(value, catalog)


@documented
@dataclass(frozen=True)
class RagPlan(Plan):
    """The documents, in-context examples and iterations that maximise the predicted RAG metric
    within the budgets; every numeric field an array of the broadcast shape where the
    informativeness or a budget was an array."""

    law: str
    documents: FloatOrArray
    shots: FloatOrArray
    iterations: FloatOrArray
    metric: FloatOrArray
    logit: FloatOrArray
    effective_context_tokens: FloatOrArray
    max_prompt_tokens: FloatOrArray
    eflops: FloatOrArray
    latency_s: FloatOrArray
    provenance: Provenance

    def _explain_one(self) -> str:
        why = _WHY_RAG[str(self.binding)]
        if not self.feasible:
            return f"No RAG configuration fits: {why}."
        cost = ""
        if not math.isnan(self.eflops):
            latency = fmt.seconds(float(self.latency_s))
            cost = f", {self.eflops:.4g} eFLOPs and {latency} of latency per query"
        return (
            f"Retrieve {fmt.plural(int(self.documents), 'document')} with "
            f"{fmt.plural(int(self.shots), 'in-context example')} over "
            f"{fmt.plural(int(self.iterations), 'iteration')}: predicted metric "
            f"{self.metric:.3f} ({self.law}) for {fmt.si(float(self.effective_context_tokens))} "
            f"effective context tokens{cost}. {why[0].upper() + why[1:]}."
        )


@documented
@dataclass(frozen=True)
class RagFit:
    """A RAG law refitted on a user's grid, with its residuals."""

    law: RagLaw
    residuals: npt.NDArray[np.float64]
    logit_residuals: npt.NDArray[np.float64]
    rms: float
    n_rows: int


def _count(name: str, value: object, low: int, limit: int) -> int:
    """A cap such as ``max_documents``: a whole number in [low, limit]."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{name}: expected a whole number, got {value!r}", field=name)
    number = float(value)
    if not number.is_integer():
        raise InvalidArgumentError(f"{name}: must be a whole number, got {value!r}", field=name)
    if number > limit:
        got = int(number)
        raise LimitExceededError(
            f"{name}: {got} exceeds the limit of {limit}", field=name, limit=limit, got=got
        )
    if number < low:
        raise InvalidArgumentError(f"{name}: must be >= {low}, got {value!r}", field=name)
    return int(number)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{name}: expected a number, got {value!r}", field=name)
    return float(value)


def _optional(name: str, value: object) -> float | None:
    return None if value is None else _number(name, value)


def plan_rag(
    *,
    i_doc: Number,
    i_shot: Number,
    context_budget_tokens: Number | None = None,
    budget_eflops: Number | None = None,
    latency_budget_s: Number | None = None,
    law: str | RagLaw = DEFAULT_RAG_LAW,
    model: str | Model | None = None,
    hardware: str | Hardware = "h100-sxm",
    serving: Serving | None = None,
    doc_tokens: float = 1024,
    question_tokens: float = 64,
    answer_tokens: float = 32,
    gen_tokens: float = 64,
    max_documents: int = 1000,
    max_shots: int = 256,
    max_iterations: int = 5,
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> RagPlan:
    """The documents k, in-context examples m and iterations n that maximise the metric the RAG
    law predicts at informativeness (``i_doc``, ``i_shot``), within every budget given (at
    least one): ``context_budget_tokens`` (effective context: input tokens over all
    iterations), ``budget_eflops`` and ``latency_budget_s`` per query (priced by the cost model
    for ``model`` on ``hardware`` with ``serving``; they need a model; a latency budget needs a
    batch other than "max"). With a model, the last iteration's prompt and its generation must
    fit its context window.

    ``i_doc``, ``i_shot`` and the budgets broadcast like numpy: with arrays every field of the
    plan is an array of the broadcast shape, all solved in one call into Rust (an error names
    the argument and ``.index`` the element, in the flattened broadcast order).

    Token accounting (docs/planning.md#rag): a document counts ``min(doc_tokens, 1024)``
    tokens; iteration j's prompt is m examples (k documents, a question, an answer), k
    documents, the question, and the ``gen_tokens`` each earlier iteration generated."""
    cat = catalog_or_default(catalog)
    the_law = _resolve(law, cat)
    native_model = native_hardware = native_serving = None
    priced: list[Any] = []
    if model is not None:
        the_model, hw = resolve_model(model, cat), resolve_hardware(hardware, cat)
        native_model, native_hardware = the_model._native, hw._native
        native_serving = planner_serving(serving, auto_gpus=False)[0]
        priced = [models_input([model], catalog, name="model"), hardware_input(hw)]
    args = Broadcast(
        {
            "i_doc": i_doc,
            "i_shot": i_shot,
            "context_budget_tokens": context_budget_tokens,
            "budget_eflops": budget_eflops,
            "latency_budget_s": latency_budget_s,
        }
    )
    arrays = _core.plan_rag(
        the_law._native,
        i_doc=args.required("i_doc"),
        i_shot=args.required("i_shot"),
        doc_tokens=_number("doc_tokens", doc_tokens),
        question_tokens=_number("question_tokens", question_tokens),
        answer_tokens=_number("answer_tokens", answer_tokens),
        gen_tokens=_number("gen_tokens", gen_tokens),
        max_documents=_count("max_documents", max_documents, 0, MAX_RAG_DOCUMENTS),
        max_shots=_count("max_shots", max_shots, 0, MAX_RAG_SHOTS),
        max_iterations=_count("max_iterations", max_iterations, 1, MAX_RAG_ITERATIONS),
        context_budget_tokens=args.flat("context_budget_tokens"),
        budget_eflops=args.flat("budget_eflops"),
        latency_budget_s=args.flat("latency_budget_s"),
        model=native_model,
        hardware=native_hardware,
        serving=native_serving,
        cancel=_cancel.resolve(cancel),
    )
    values: dict[str, Any] = dict(zip(_core.RAG_PLAN_FIELDS, arrays, strict=True))
    feasible = values.pop("feasible") != 0
    binding = _CONSTRAINTS[values.pop("binding").astype(np.intp)]
    plan: dict[str, Any] = {name: args.shaped(row) for name, row in values.items()}
    if args.scalar:
        plan["feasible"], plan["binding"] = bool(feasible[0]), str(binding[0])
    else:
        plan["feasible"] = feasible.reshape(args.shape)
        plan["binding"] = binding.reshape(args.shape)
    prov = provenance(rag_law_input(the_law), priced)
    return RagPlan(law=the_law.name, provenance=prov, **plan)


FIT_COLUMNS = ("documents", "shots", "iterations", "i_doc", "i_shot", "metric")
"""The columns of a RAG grid: one row per measured configuration."""


def rag_rows(source: str | os.PathLike[str] | Sequence[Mapping[str, Any]]) -> list[Any]:
    """The rows of a RAG grid: given as mappings, or read from a CSV or JSON file."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidArgumentError(
                f"rows: cannot read {path}: {exc.strerror}", field="rows"
            ) from None
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(f"rows: not JSON: {exc.msg}", field="rows") from None
            if not isinstance(data, list):
                raise InvalidArgumentError("rows: expected a JSON list of objects", field="rows")
            return data
        return list(csv.DictReader(text.splitlines()))
    if isinstance(source, Mapping) or not isinstance(source, Sequence):
        raise InvalidArgumentError(
            "rows: expected a sequence of rows (mappings) or a CSV/JSON file", field="rows"
        )
    return list(source)


def fit_rag(
    rows: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    base: str | RagLaw = DEFAULT_RAG_LAW,
    name: str = "rag-fit",
    catalog: Catalog | None = None,
    cancel: CancelToken | None = None,
) -> RagFit:
    """Refit a, b and c of ``base`` (sigma kept) by least squares on sigma^-1(metric), from
    rows with ``documents``, ``shots``, ``iterations``, ``i_doc``, ``i_shot`` and ``metric``
    (mappings, or a CSV or JSON file of them). The metric must lie in the law's sigma range;
    the grid must vary enough to determine all six coefficients. The fitted law plans like any
    other: ``plan_rag(law=fit.law, ...)``."""
    the_base = _resolve(base, catalog)
    data = rag_rows(rows)
    columns: dict[str, list[float]] = {c: [] for c in FIT_COLUMNS}
    for i, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(f"rows: row {i} is not a mapping", field="rows", index=i)
        for c in FIT_COLUMNS:
            if c not in row:
                raise InvalidArgumentError(
                    f"rows.{c}: missing in row {i}", field=f"rows.{c}", index=i
                )
            value = row[c]
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"rows.{c}: expected a number, got {value!r}", field=f"rows.{c}", index=i
                ) from None
            if isinstance(value, bool):
                raise InvalidArgumentError(
                    f"rows.{c}: expected a number, got {value!r}", field=f"rows.{c}", index=i
                )
            columns[c].append(number)
    native, residuals, logit_residuals, rms = _core.fit_rag(
        the_base._native,
        *(columns[c] for c in FIT_COLUMNS),
        name=name,
        cancel=_cancel.resolve(cancel),
    )
    return RagFit(
        law=RagLaw._from_native(native),
        residuals=residuals,
        logit_residuals=logit_residuals,
        rms=float(rms),
        n_rows=len(data),
    )


__all__ = [
    "DEFAULT_RAG_LAW",
    "FIT_COLUMNS",
    "RagFit",
    "RagLaw",
    "RagPlan",
    "RagSigma",
    "fit_rag",
    "plan_rag",
    "rag_law",
    "rag_law_names",
]
