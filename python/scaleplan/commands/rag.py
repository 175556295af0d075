"""``scaleplan plan rag``: documents, in-context examples and iterations of a RAG query under a
context-length, eFLOPs or latency budget (docs/planning.md#rag)."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

from scaleplan import _format as fmt
from scaleplan.commands import _common, _parse, _planning, _pricing
from scaleplan.commands._planning import Column, add_plan_options, default, emit
from scaleplan.rag import RAG_DOC_TOKEN_CAP, plan_rag

_TOKENS = re.compile(r"^\s*(?P<num>[0-9.eE+_-]+?)\s*(?P<mult>[kKMG]?)\s*$")
_MULT = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def tokens(option: str, text: str) -> float:
    """A token count: ``131072``, ``128k`` (k = 1,000), ``1.5M``."""
    m = _TOKENS.match(text)
    if m is None:
        raise _parse.UsageError(option, f"not a token count: {text!r} (e.g. 128k, 131072, 2M)")
    return _parse.number(option, m["num"]) * _MULT[m["mult"]]


def add_plan(planners: _common.Subparsers) -> None:
    p = _common.add_command(
        planners,
        "rag",
        help="documents, in-context examples and iterations of a RAG query (Yue et al. 2024)",
        description="The retrieved documents k, in-context examples m and iterations n that "
        "maximise the metric the RAG computation allocation model predicts at the "
        "informativeness you measured (--i-doc, --i-shot), within every budget given: "
        "--context-budget (effective context: input tokens over all iterations), --budget "
        "(eFLOPs per query) and --latency-budget (seconds per query); the last two are priced "
        "by the cost model and need --model. Exact search over the integer lattice "
        "(docs/planning.md#rag).",
        examples=[
            "scaleplan plan rag --context-budget 128k --i-doc 0.5 --i-shot 1 --explain",
            "scaleplan plan rag --budget 1e15eflops --model qwen3-8b --i-doc 0.5 --i-shot 1",
            "scaleplan plan rag --latency-budget 5s --model qwen3-8b --batch 1 --i-doc 0.5 "
            "--i-shot 1",
        ],
    )
    p.add_argument(
        "--i-doc",
        required=True,
        metavar="I",
        help="informativeness of one retrieved document (>= 0), as you measured it",
    )
    p.add_argument(
        "--i-shot",
        required=True,
        metavar="I",
        help="informativeness of one in-context example (>= 0), as you measured it",
    )
    p.add_argument(
        "--context-budget",
        metavar="TOKENS",
        help="effective context length budget: input tokens over all iterations (128k, 1M)",
    )
    p.add_argument(
        "--budget",
        metavar="BUDGET",
        help="eFLOPs per query, with its unit: 1e15eflops (needs --model)",
    )
    p.add_argument(
        "--latency-budget",
        metavar="SECONDS",
        help="latency per query, all iterations: 5, 5s, 500ms (needs --model and a --batch "
        "other than max: under max a longer prompt shrinks the batch and can shorten latency)",
    )
    p.add_argument(
        "--law",
        default=default(plan_rag, "law"),
        help="RAG law, a catalog name (default: %(default)s)",
    )
    p.add_argument("--model", help="the model that serves the queries (catalog name)")
    p.add_argument(
        "--hardware",
        default=default(plan_rag, "hardware"),
        help="the serving hardware (default: %(default)s)",
    )
    for name, what in (
        ("doc_tokens", f"tokens of one document, counted up to {RAG_DOC_TOKEN_CAP:.0f}"),
        ("question_tokens", "tokens of a question"),
        ("answer_tokens", "tokens of an in-context example's answer"),
        ("gen_tokens", "tokens generated per iteration, fed back into the next"),
    ):
        p.add_argument(
            _common.option_name(name),
            metavar="TOKENS",
            help=f"{what} (default: {default(plan_rag, name)})",
        )
    for name, what in (
        ("max_documents", "most documents per query"),
        ("max_shots", "most in-context examples"),
        ("max_iterations", "most iterations"),
    ):
        p.add_argument(
            _common.option_name(name),
            metavar="N",
            help=f"{what} (default: {default(plan_rag, name)})",
        )
    _pricing.add_serving_options(p, attention_help="the RAG planner prices dense attention only")
    add_plan_options(p)
    p.set_defaults(func=run_plan)


_OPTIONS = {
    "context_budget_tokens": "--context-budget",
    "budget_eflops": "--budget",
    "latency_budget_s": "--latency-budget",
    "prefill": "--no-prefill",
}


@_common.guarded(_OPTIONS)
def run_plan(args: argparse.Namespace) -> int:
    if args.attention:
        raise _parse.UsageError("--attention", "the RAG planner prices dense attention only")
    if args.plot:
        raise _parse.UsageError("--plot", "plan rag has nothing to plot")
    kwargs: dict[str, Any] = {
        "i_doc": _parse.number("--i-doc", args.i_doc),
        "i_shot": _parse.number("--i-shot", args.i_shot),
        "law": args.law,
        "hardware": args.hardware,
    }
    if args.context_budget is not None:
        kwargs["context_budget_tokens"] = tokens("--context-budget", args.context_budget)
    if args.budget is not None:
        values, _ = _parse.budgets("--budget", args.budget, ("eflops",))
        if len(values) != 1:
            raise _parse.UsageError("--budget", "takes one budget")
        kwargs["budget_eflops"] = float(values[0])
    if args.latency_budget is not None:
        kwargs["latency_budget_s"] = _parse.duration("--latency-budget", args.latency_budget)
    for name in ("doc_tokens", "question_tokens", "answer_tokens", "gen_tokens"):
        text = getattr(args, name)
        if text is not None:
            kwargs[name] = tokens(_common.option_name(name), text)
    for name in ("max_documents", "max_shots", "max_iterations"):
        text = getattr(args, name)
        if text is not None:
            kwargs[name] = _parse.whole(_common.option_name(name), text)
    if args.model is not None:
        kwargs["model"] = args.model
        kwargs["serving"] = _pricing.serving(args)
    plan = plan_rag(**kwargs)
    inputs = [
        {
            "context_budget_tokens": kwargs.get("context_budget_tokens", math.nan),
            "budget_eflops": kwargs.get("budget_eflops", math.nan),
            "latency_budget_s": kwargs.get("latency_budget_s", math.nan),
        }
    ]
    columns: list[Column] = [
        ("documents", "documents", fmt.count),
        ("shots", "examples", fmt.count),
        ("iterations", "iterations", fmt.count),
        ("metric", "metric", lambda v: f"{v:.3f}"),
        ("effective_context_tokens", "context tokens", fmt.si),
    ]
    if args.model is not None:
        columns += [("eflops", "eFLOPs", fmt.si), ("latency_s", "latency", fmt.seconds)]
    details = [f"i_doc {kwargs['i_doc']:g}, i_shot {kwargs['i_shot']:g}"]
    if args.model is not None:
        details.append(f"model {args.model} on {args.hardware}")
    caption = _planning.header(
        "RAG plan",
        unit="tokens, eFLOPs and seconds",
        law=plan.law,
        details=details,
        provenance=plan.provenance,
    )
    return emit(args, [plan], inputs, list(inputs[0]), columns, caption)
