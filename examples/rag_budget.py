"""How many documents, examples and iterations should a RAG query use? It depends on what the
budget counts.

The computation allocation model of Yue et al. 2024 (arXiv:2410.04343; preset
yue2024-gemini-flash) predicts a RAG metric from the retrieved documents k, the in-context
examples m and the retrieval-generation iterations n. The same informativeness, three budgets:

  1. a context-length budget (input tokens over all iterations, the paper's measure);
  2. an eFLOPs budget per query, priced by the cost model for Qwen3-8B on an H100;
  3. a latency budget per query, the iterations run one after another (batch 1).

A token budget counts prompt tokens only. The eFLOPs and latency budgets price what a query
costs on the hardware (prefill compute, attention over the prompt, and the decode steps of every
iteration), so the same informativeness buys a different (k, m, n). The predicted metric is the
paper's normalised metric (in (-2.18, 1.12)), not an accuracy.

Run: .venv/bin/python examples/rag_budget.py
"""

from __future__ import annotations

import scaleplan as sp

INFORMATIVENESS = {"i_doc": 0.5, "i_shot": 1.0}  # measured on your task (docs/planning.md#rag)
MODEL = "qwen3-8b"
SERVING = sp.Serving(batch=1)

plans = {
    "context budget 128k tokens": sp.plan_rag(context_budget_tokens=128_000, **INFORMATIVENESS),
    "eFLOPs budget 1e15 per query": sp.plan_rag(
        budget_eflops=1e15, model=MODEL, serving=SERVING, **INFORMATIVENESS
    ),
    "latency budget 2 s per query": sp.plan_rag(
        latency_budget_s=2.0, model=MODEL, serving=SERVING, **INFORMATIVENESS
    ),
}

print(f"RAG plans for i_doc {INFORMATIVENESS['i_doc']}, i_shot {INFORMATIVENESS['i_shot']}:")
for label, p in plans.items():
    print(
        f"  {label:30s} k={int(p.documents):4d} documents, m={int(p.shots):3d} examples, "
        f"n={int(p.iterations)} iterations: metric {p.metric:.3f}, "
        f"{p.effective_context_tokens:,.0f} context tokens (binding: {p.binding})"
    )
decisions = {(p.documents, p.shots, p.iterations) for p in plans.values()}
print(f"-> the budget type changes the decision: {len(decisions)} different plans of 3.")
