"""``plan_rag`` over arrays: the informativeness and the budgets broadcast like numpy, solved in
one call into Rust, every element equal to its own scalar plan and to the exhaustive lattice."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from grpc_support import TIMEOUT_S, ServerThread
from scaleplan import errors
from test_rag import CAPS, TOKENS, grid_best, prompt, sigma

FIELDS = (
    "documents",
    "shots",
    "iterations",
    "metric",
    "logit",
    "effective_context_tokens",
    "max_prompt_tokens",
    "eflops",
    "latency_s",
    "feasible",
    "binding",
)


def same(a: Any, b: Any) -> bool:
    return bool(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def test_an_array_of_context_budgets_matches_the_exhaustive_lattice() -> None:
    budgets = np.array([39, 40, 500, 1290, 1289, 2140, 9_000, 60_000, 1e9])
    plans = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=budgets, **TOKENS, **CAPS)
    assert np.shape(plans.documents) == budgets.shape
    for i, budget in enumerate(budgets):
        best = grid_best(
            (40, 8, 3),
            lambda k, m, n, b=budget: sum(prompt(k, m, j) for j in range(1, n + 1)) <= b,
            0.5,
            1.0,
        )
        if best is None:
            assert not plans.feasible[i] and plans.binding[i] == "context_budget"
            assert math.isnan(plans.metric[i])
            continue
        assert plans.feasible[i]
        got = (plans.documents[i], plans.shots[i], plans.iterations[i])
        assert got == best[2:], budget
        assert plans.metric[i] == pytest.approx(sigma(best[0]), abs=1e-12)
        assert plans.effective_context_tokens[i] == best[1] <= budget


def test_informativeness_and_budgets_broadcast_and_equal_scalar_plans() -> None:
    i_doc = np.array([[0.0], [0.5], [5.0]])
    budgets = [40, 1290, 9_000, 1e6]
    plans = sp.plan_rag(i_doc=i_doc, i_shot=1.0, context_budget_tokens=budgets, **TOKENS, **CAPS)
    assert np.shape(plans.metric) == (3, 4) and plans.binding.shape == (3, 4)
    for r, d in enumerate(i_doc[:, 0]):
        for c, b in enumerate(budgets):
            one = sp.plan_rag(i_doc=float(d), i_shot=1.0, context_budget_tokens=b, **TOKENS, **CAPS)
            for f in FIELDS:
                assert same(getattr(one, f), getattr(plans, f)[r, c].item()), (f, d, b)
            at = plans.at((r, c))
            assert all(same(getattr(at, f), getattr(one, f)) for f in FIELDS)
    assert "document" in plans.explain()


def test_arrays_of_eflops_and_latency_budgets_equal_scalar_plans() -> None:
    kw: dict[str, Any] = {
        "model": "qwen3-8b",
        "serving": sp.Serving(batch=1),
        **TOKENS,
        "max_documents": 24,
        "max_shots": 4,
        "max_iterations": 2,
    }
    for name, values in (("budget_eflops", [2.5e14, 6e14, 1.5e15]), ("latency_budget_s", [0.8, 2])):
        plans = sp.plan_rag(i_doc=0.5, i_shot=[0.0, 1.0], **{name: np.c_[values]}, **kw)
        assert np.shape(plans.documents) == (len(values), 2)
        for r, v in enumerate(values):
            for c, shot in enumerate([0.0, 1.0]):
                one = sp.plan_rag(i_doc=0.5, i_shot=shot, **{name: v}, **kw)
                for f in FIELDS:
                    assert same(getattr(one, f), getattr(plans, f)[r, c].item()), (name, f)


def test_bad_elements_name_the_argument_and_index() -> None:
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.plan_rag(i_doc=[0.5, 1.0, -1.0], i_shot=1.0, context_budget_tokens=1e4)
    assert (caught.value.field, caught.value.index) == ("i_doc", 2)
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=[1e4, math.nan])
    assert (caught.value.field, caught.value.index) == ("context_budget_tokens", 1)
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.plan_rag(i_doc=[0.5, 1.0], i_shot=1.0, context_budget_tokens=[1e4, 2e4, 3e4])
    assert caught.value.field == "context_budget_tokens"
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.plan_rag(i_doc=[0.5, "x"], i_shot=1.0, context_budget_tokens=1e4)
    assert caught.value.field == "i_doc"
    # A scalar call's error carries no index, as before.
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.plan_rag(i_doc=-1.0, i_shot=1.0, context_budget_tokens=1e4)
    assert (caught.value.field, caught.value.index) == ("i_doc", None)


def test_an_empty_array_plans_nothing() -> None:
    plans = sp.plan_rag(i_doc=0.5, i_shot=1.0, context_budget_tokens=np.array([]))
    assert np.shape(plans.documents) == (0,) and plans.feasible.shape == (0,)


def test_the_client_plans_one_value_per_call() -> None:
    # As for the other planners: the server plans scalars; an array is refused, named.
    with ServerThread() as server, sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        kw: dict[str, Any] = {"i_doc": 0.5, "i_shot": 1.0, **TOKENS, **CAPS}
        got = client.plan_rag(context_budget_tokens=2140, **kw)
        want = sp.plan_rag(context_budget_tokens=[2140, 9_000], **kw).at(0)
        assert all(same(getattr(got, f), getattr(want, f)) for f in FIELDS)
        with pytest.raises(errors.InvalidArgumentError) as caught:
            client.plan_rag(context_budget_tokens=[2140, 9_000], **kw)
        assert caught.value.field == "context_budget_tokens"
