"""RAG as a planner (docs/planning.md#rag): the Yue et al. 2024 law by hand, plan_rag against an
exhaustive lattice written here (next to each wall), fit_rag on data drawn from the law, bad
input, the CLI and gRPC end to end."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from cli_support import run, usage_error
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan import errors
from scaleplan.v1 import planner_pb2

# The preset's constants as the paper states them (arXiv:2410.04343), written here again.
A = (0.325, 0.101, 0.177)
B = (-0.067, -0.008)
C = -0.730


def sigma(x: float) -> float:
    return 3.30 / (1 + math.exp(-1.81 * (x + 0.46))) - 2.18


def logit(k: float, m: float, n: float, i_doc: float, i_shot: float) -> float:
    return (
        (A[0] + B[0] * i_doc) * math.log(k + 0.01)
        + (A[1] + B[1] * i_shot) * math.log(m + 0.01)
        + A[2] * math.log(n + 0.01)
        + C
    )


def test_the_law_by_hand() -> None:
    law = sp.rag_law()
    assert (law.a, law.b, law.c) == (A, B, C)
    # k=10, m=4, n=2, i=(0.5, 1): x = 0.2915 ln 10.01 + 0.093 ln 4.01 + 0.177 ln 2.01 - 0.73
    # = 0.194222, P = 3.30 / (1 + exp(-1.81 * 0.654222)) - 2.18 = 0.346783.
    assert law.metric(10, 4, 2, i_doc=0.5, i_shot=1.0) == pytest.approx(0.346783, abs=1e-6)
    # k = m = 0, n = 1, i = 0: x = 0.426 ln 0.01 + 0.177 ln 1.01 - 0.73 = -2.690041.
    assert law.metric(0, 0, 1, i_doc=0, i_shot=0) == pytest.approx(sigma(-2.690041), abs=1e-6)
    grid = law.metric(np.array([1, 100]), 8, 1, i_doc=2.0, i_shot=3.0)
    assert grid == pytest.approx([sigma(logit(1, 8, 1, 2, 3)), sigma(logit(100, 8, 1, 2, 3))])
    # P stays in sigma's range (-2.18, 1.12).
    assert (
        -2.18
        < law.metric(0, 0, 1, i_doc=10, i_shot=10)
        < law.metric(1e4, 1e3, 30, i_doc=0, i_shot=0)
        < 1.12
    )


TOKENS = {"doc_tokens": 300, "question_tokens": 40, "answer_tokens": 10, "gen_tokens": 50}


def prompt(k: int, m: int, j: int) -> float:
    """Iteration j's input: m examples of (k documents, question, answer), k documents, the
    question, and j - 1 earlier outputs."""
    return m * (k * 300 + 40 + 10) + k * 300 + 40 + (j - 1) * 50


def grid_best(caps: tuple[int, int, int], fits: Any, i_doc: float, i_shot: float) -> Any:
    best = None
    for n, m, k in itertools.product(range(1, caps[2] + 1), range(caps[1] + 1), range(caps[0] + 1)):
        if not fits(k, m, n):
            continue
        x = logit(k, m, n, i_doc, i_shot)
        context = sum(prompt(k, m, j) for j in range(1, n + 1))
        if best is None or x > best[0] + 1e-12 or (x >= best[0] - 1e-12 and context < best[1]):
            best = (x, context, k, m, n)
    return best


CAPS = {"max_documents": 40, "max_shots": 8, "max_iterations": 3}


@pytest.mark.parametrize("budget", [39, 40, 500, 1290, 1289, 2140, 9_000, 60_000, 1e9])
def test_context_budget_plans_match_the_exhaustive_lattice(budget: float) -> None:
    plan = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=budget, **TOKENS, **CAPS)
    best = grid_best(
        (40, 8, 3),
        lambda k, m, n: sum(prompt(k, m, j) for j in range(1, n + 1)) <= budget,
        0.5,
        1.0,
    )
    if best is None:
        assert not plan.feasible and plan.binding == "context_budget"
        assert math.isnan(plan.metric)
        return
    assert plan.feasible
    assert (plan.documents, plan.shots, plan.iterations) == best[2:]
    assert plan.metric == pytest.approx(sigma(best[0]), abs=1e-12)
    assert plan.effective_context_tokens == best[1] <= budget


def test_one_more_document_just_fits_or_just_does_not() -> None:
    # No examples, one iteration: k documents take 300 k + 40 tokens.
    kw: dict[str, Any] = {**TOKENS, "max_shots": 0, "max_iterations": 1}
    at = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=300 * 7 + 40, **kw)
    below = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=300 * 7 + 39, **kw)
    assert (at.documents, below.documents) == (7, 6)


def test_caps_bind_and_informativeness_can_make_documents_useless() -> None:
    plan = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=1e12, **TOKENS, **CAPS)
    assert (plan.documents, plan.shots, plan.iterations) == (40, 8, 3)
    assert plan.binding in ("max_documents", "max_shots", "max_iterations")
    # i_doc > 0.325 / 0.067: each document lowers the prediction, so none is retrieved.
    useless = sp.plan_rag(i_doc=5.0, i_shot=1.0, context_budget_tokens=1e6, **TOKENS, **CAPS)
    assert useless.documents == 0


def test_eflops_and_latency_budgets_match_the_exhaustive_lattice() -> None:
    serving = sp.Serving(batch=1)
    caps = {"max_documents": 24, "max_shots": 4, "max_iterations": 2}

    def priced(k: int, m: int, n: int) -> tuple[float, float, bool]:
        costs = [
            sp.inference_cost(
                "qwen3-8b",
                "h100-sxm",
                prompt_tokens=prompt(k, m, j),
                gen_tokens=50,
                serving=serving,
            )
            for j in range(1, n + 1)
        ]
        return (
            sum(c.eflops for c in costs),
            sum(c.latency_s for c in costs),
            all(c.feasible for c in costs),
        )

    table = {
        (k, m, n): priced(k, m, n)
        for k, m, n in itertools.product(range(25), range(5), range(1, 3))
    }
    for kind, budget in [
        ("eflops", 2.5e14),
        ("eflops", 6e14),
        ("eflops", 1.5e15),
        ("latency", 0.35),
        ("latency", 0.8),
        ("latency", 2.0),
    ]:
        index = 0 if kind == "eflops" else 1
        args = {"budget_eflops": budget} if kind == "eflops" else {"latency_budget_s": budget}
        plan = sp.plan_rag(
            i_doc=0.5, i_shot=1.0, model="qwen3-8b", serving=serving, **args, **TOKENS, **caps
        )
        best = grid_best(
            (24, 4, 2),
            lambda k, m, n, i=index, b=budget: table[k, m, n][2] and table[k, m, n][i] <= b,
            0.5,
            1.0,
        )
        assert best is not None
        assert (plan.documents, plan.shots, plan.iterations) == best[2:], (kind, budget)
        assert plan.eflops == pytest.approx(table[best[2:]][0], rel=1e-12)


def test_the_budget_type_changes_the_decision() -> None:
    # The same informativeness under a context, an eFLOPs and a latency budget: different plans.
    kw: dict[str, Any] = {"i_doc": 0.5, "i_shot": 1.0}
    by_context = sp.plan_rag(context_budget_tokens=128_000, **kw)
    by_eflops = sp.plan_rag(budget_eflops=1e15, model="qwen3-8b", **kw)
    by_latency = sp.plan_rag(
        latency_budget_s=5.0, model="qwen3-8b", serving=sp.Serving(batch=1), **kw
    )
    assert (by_context.binding, by_eflops.binding, by_latency.binding) == (
        "context_budget",
        "budget",
        "latency",
    )
    decisions = {(p.documents, p.shots, p.iterations) for p in (by_context, by_eflops, by_latency)}
    assert len(decisions) == 3
    assert "Retrieve" in by_eflops.explain() and "eFLOPs budget binds" in by_eflops.explain()


def synthetic_rows(law: tuple[Any, ...], noise: float = 0.0) -> list[dict[str, float]]:
    a, b, c = law
    rows = []
    rng = np.random.default_rng(7)
    for k, m, n in itertools.product([0, 1, 5, 20, 100], [0, 1, 4, 16], [1, 2, 4]):
        i_doc, i_shot = 0.2 + 0.01 * k, 0.5 + 0.1 * m
        x = (
            (a[0] + b[0] * i_doc) * math.log(k + 0.01)
            + (a[1] + b[1] * i_shot) * math.log(m + 0.01)
            + a[2] * math.log(n + 0.01)
            + c
        )
        metric = sigma(x) + noise * rng.standard_normal()
        rows.append(
            {
                "documents": k,
                "shots": m,
                "iterations": n,
                "i_doc": i_doc,
                "i_shot": i_shot,
                "metric": metric,
            }
        )
    return rows


def test_fit_rag_recovers_a_b_c_and_the_fit_plans(tmp_path: Any) -> None:
    truth = ((0.3, 0.12, 0.2), (-0.05, -0.01), -0.6)
    fit = sp.fit_rag(synthetic_rows(truth), name="mine")
    assert fit.law.a == pytest.approx(truth[0], abs=1e-9)
    assert fit.law.b == pytest.approx(truth[1], abs=1e-9)
    assert fit.law.c == pytest.approx(truth[2], abs=1e-9)
    assert fit.rms < 1e-9 and fit.n_rows == 60 and fit.law.name == "mine"
    plan = sp.plan_rag(law=fit.law, i_doc=0.5, i_shot=1.0, context_budget_tokens=3e4)
    assert plan.feasible and plan.law == "mine"
    # With noise the residuals are the noise's size; a CSV file reads the same.
    noisy = synthetic_rows(truth, noise=0.01)
    path = tmp_path / "grid.csv"
    path.write_text(
        "documents,shots,iterations,i_doc,i_shot,metric\n"
        + "".join(",".join(str(r[c]) for c in sp.rag.FIT_COLUMNS) + "\n" for r in noisy)
    )
    from_file = sp.fit_rag(path)
    assert 0.005 < from_file.rms < 0.015
    assert from_file.residuals.shape == (60,)
    assert from_file.law.a == pytest.approx(truth[0], abs=0.05)


def test_bad_input_names_the_field() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"i_doc": -0.1, "i_shot": 0, "context_budget_tokens": 1e4}, "i_doc"),
        ({"i_doc": 0, "i_shot": math.nan, "context_budget_tokens": 1e4}, "i_shot"),
        ({"i_doc": 0, "i_shot": 0, "context_budget_tokens": 0}, "context_budget_tokens"),
        ({"i_doc": 0, "i_shot": 0, "budget_eflops": -1, "model": "qwen3-8b"}, "budget_eflops"),
        ({"i_doc": 0, "i_shot": 0, "latency_budget_s": 0, "model": "qwen3-8b"}, "latency_budget_s"),
        ({"i_doc": 0, "i_shot": 0}, "budget"),
        ({"i_doc": 0, "i_shot": 0, "budget_eflops": 1e15}, "model"),
        # The default serving's batch is "max", under which latency falls as prompts grow.
        ({"i_doc": 0, "i_shot": 0, "latency_budget_s": 5, "model": "qwen3-8b"}, "batch"),
        ({"i_doc": 0, "i_shot": 0, "context_budget_tokens": 1e4, "max_shots": -1}, "max_shots"),
        (
            {"i_doc": 0, "i_shot": 0, "context_budget_tokens": 1e4, "max_iterations": 0},
            "max_iterations",
        ),
        ({"i_doc": 0, "i_shot": 0, "context_budget_tokens": 1e4, "doc_tokens": 0}, "doc_tokens"),
        ({"i_doc": 0, "i_shot": 0, "context_budget_tokens": 1e4, "law": "nope"}, "law"),
        (
            {
                "i_doc": 0,
                "i_shot": 0,
                "budget_eflops": 1e15,
                "model": "qwen3-8b",
                "serving": sp.Serving(prefill=False),
            },
            "prefill",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(errors.InvalidArgumentError) as info:
            sp.plan_rag(**kwargs)
        assert info.value.field == field, (kwargs, info.value)
    for name, limit in [("max_documents", 16384), ("max_shots", 1024), ("max_iterations", 32)]:
        with pytest.raises(errors.LimitExceededError) as over:
            sp.plan_rag(i_doc=0, i_shot=0, context_budget_tokens=1e4, **{name: limit + 1})
        assert (over.value.field, over.value.limit, over.value.got) == (name, limit, limit + 1)
    rows = synthetic_rows(((0.3, 0.1, 0.2), (-0.05, -0.01), -0.6))
    rows[3]["metric"] = 1.5  # above sigma's range
    with pytest.raises(errors.InvalidArgumentError) as bad_row:
        sp.fit_rag(rows)
    assert (bad_row.value.field, bad_row.value.index) == ("rows.metric", 3)
    with pytest.raises(errors.InvalidArgumentError, match="does not determine") as flat:
        sp.fit_rag([{**rows[0], "documents": 5}] * 10)
    assert flat.value.field == "rows"
    with pytest.raises(errors.InvalidArgumentError) as missing:
        sp.fit_rag([{"documents": 1}] * 10)
    assert missing.value.field == "rows.shots"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run("plan", "rag", *args)


def test_cli_plans_and_names_bad_options() -> None:
    out = cli("--context-budget", "128k", "--i-doc", "0.5", "--i-shot", "1", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    want = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=128_000)
    assert (record["documents"], record["shots"], record["iterations"]) == (
        want.documents,
        want.shots,
        want.iterations,
    )
    assert record["context_budget_tokens"] == 128_000 and record["binding"] == "context_budget"
    table = cli("--budget", "1e15eflops", "--model", "qwen3-8b", "--i-doc", "0.5", "--i-shot", "1")
    assert table.returncode == 0 and "budget" in table.stdout and "eFLOPs" in table.stdout
    for args, message in [
        (
            ["--context-budget", "0", "--i-doc", "1", "--i-shot", "1"],
            "--context-budget: must be > 0",
        ),
        (["--context-budget", "1k", "--i-doc", "-1", "--i-shot", "1"], "--i-doc: must be >= 0"),
        (
            ["--context-budget", "1k", "--i-doc", "1", "--i-shot", "1", "--max-documents", "99999"],
            "--max-documents: 99999 exceeds the limit of 16384",
        ),
        (["--budget", "1e15eflops", "--i-doc", "1", "--i-shot", "1"], "--model:"),
        (
            ["--budget", "5gpu-h", "--model", "qwen3-8b", "--i-doc", "1", "--i-shot", "1"],
            "--budget:",
        ),
        (["--latency-budget", "soon", "--i-doc", "1", "--i-shot", "1"], "--latency-budget:"),
        (
            ["--latency-budget", "5s", "--model", "qwen3-8b", "--i-doc", "1", "--i-shot", "1"],
            "--batch: a latency budget needs a fixed batch",
        ),
        (
            [
                "--budget",
                "1e15eflops",
                "--model",
                "qwen3-8b",
                "--no-prefill",
                "--i-doc",
                "1",
                "--i-shot",
                "1",
            ],
            "--no-prefill: the RAG planner prices the prompt",
        ),
    ]:
        bad = cli(*args)
        usage_error(bad, message.split(":")[0])
        assert message in bad.stderr, (args, bad.stderr)


def same_plan(a: sp.RagPlan, b: sp.RagPlan) -> bool:
    """Equal field by field, NaN equal to NaN (a quantity that does not apply)."""
    return all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        or x == y
        for x, y in zip(a.to_dict().values(), b.to_dict().values(), strict=True)
    )


def test_grpc_plans_and_fits_as_the_python_api(client: sp.Client) -> None:
    kw: dict[str, Any] = {"i_doc": 0.5, "i_shot": 1.0, "latency_budget_s": 5.0, "model": "qwen3-8b"}
    kw["serving"] = sp.Serving(batch=1)
    assert same_plan(client.plan_rag(**kw), sp.plan_rag(**kw))
    infeasible = {"i_doc": 0.5, "i_shot": 1.0, "context_budget_tokens": 10}
    remote = client.plan_rag(**infeasible)
    assert (
        not remote.feasible and math.isnan(remote.documents) and remote.binding == "context_budget"
    )
    rows = synthetic_rows(((0.3, 0.12, 0.2), (-0.05, -0.01), -0.6))
    fit = client.fit_rag(rows, name="remote")
    local = sp.fit_rag(rows, name="remote")
    assert fit.law == local.law and fit.rms == local.rms
    assert np.array_equal(fit.residuals, local.residuals)
    # The fitted law travels back as a custom law.
    with_fit = {"i_doc": 0.5, "i_shot": 1.0, "context_budget_tokens": 3e4, "law": fit.law}
    assert same_plan(client.plan_rag(**with_fit), sp.plan_rag(**with_fit))
    with pytest.raises(errors.LimitExceededError) as over:
        client.plan_rag(i_doc=0, i_shot=0, context_budget_tokens=1e4, max_iterations=33)
    assert over.value.field == "max_iterations"


@pytest.mark.parametrize(
    ("request_message", "path"),
    [
        (planner_pb2.PlanRagRequest(i_shot=1, context_budget_tokens=1e4), "i_doc"),
        (planner_pb2.PlanRagRequest(i_doc=-1, i_shot=1, context_budget_tokens=1e4), "i_doc"),
        (
            planner_pb2.PlanRagRequest(i_doc=1, i_shot=1, context_budget_tokens=0),
            "context_budget_tokens",
        ),
        (planner_pb2.PlanRagRequest(i_doc=1, i_shot=1), "context_budget_tokens"),
        (
            planner_pb2.PlanRagRequest(
                i_doc=1, i_shot=1, context_budget_tokens=1e4, max_shots=5000
            ),
            "max_shots",
        ),
        (
            planner_pb2.PlanRagRequest(
                i_doc=1, i_shot=1, context_budget_tokens=1e4, custom_law=planner_pb2.RagLaw(a=[1.0])
            ),
            "custom_law.a",
        ),
        (
            planner_pb2.PlanRagRequest(i_doc=1, i_shot=1, budget_eflops=1e15),
            "model",
        ),
        (planner_pb2.FitRagRequest(rows=[planner_pb2.RagRow(iterations=1)] * 3), "rows"),
    ],
)
def test_grpc_invalid_requests_name_the_field(
    server: ServerThread, request_message: Any, path: str
) -> None:
    rpc = "FitRag" if isinstance(request_message, planner_pb2.FitRagRequest) else "PlanRag"
    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError) as info:
        getattr(stub(channel), rpc)(request_message, timeout=TIMEOUT_S)
    exc = info.value
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
    from test_grpc_plans import details

    _, bad, _ = details(exc)
    assert [v.field for v in bad.field_violations] == [path]


def test_a_cancelled_token_stops_the_plan_and_the_limits_bound_its_work() -> None:
    token = sp.CancelToken()
    token.cancel()
    with pytest.raises(errors.Cancelled):
        sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=1e6, cancel=token)
    # At every cap's limit and a budget that never binds, the plan is the caps' corner, and
    # the search's work is bounded by the caps, not by the budget.
    limits = {
        "max_documents": sp.rag.MAX_RAG_DOCUMENTS,
        "max_shots": sp.rag.MAX_RAG_SHOTS,
        "max_iterations": sp.rag.MAX_RAG_ITERATIONS,
    }
    plan = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=1e300, **limits)
    assert (plan.documents, plan.shots, plan.iterations) == (16384, 1024, 32)
    served = sp.plan_rag(i_doc=0.5, i_shot=1.0, budget_eflops=1e300, model="llama-3.1-8b", **limits)
    # The model's context window stops it (131,072 tokens for llama-3.1-8b).
    assert served.binding == "context"
    assert served.max_prompt_tokens + 64 <= sp.model("llama-3.1-8b").max_context


def test_the_catalog_lists_rag_laws_with_source_and_domain(client: sp.Client) -> None:
    assert sp.catalog()["rag"] == ["yue2024-gemini-flash"] == client.catalog()["rag"]
    table = run("catalog", "rag").stdout
    assert "yue2024-gemini-flash" in table and "arXiv:2410.04343" in table
    assert "(-2.18, 1.12)" in table  # the metric's domain: sigma's range
    # A user file adds a law in a [[rag]] section, planned by name.
    cat = sp.default_catalog().copy()
    cat.add_toml(
        "[[rag]]\nname = 'mine'\na = [0.3, 0.1, 0.2]\nb = [-0.05, 0.0]\nc = -0.5\n"
        "[rag.sigma]\nscale = 3.3\nslope = 1.81\nshift = 0.46\noffset = -2.18\n"
    )
    plan = sp.plan_rag(law="mine", i_doc=1, i_shot=1, context_budget_tokens=1e4, catalog=cat)
    assert plan.law == "mine" and plan.feasible
    with pytest.raises(errors.CatalogError) as bad:
        cat.add_toml("[[rag]]\nname = 'bad'\na = [0.3, 0.1, 0.2]\nb = [0.0, 0.0]\nc = 0\n")
    assert "sigma" in str(bad.value)
