"""Test-time accuracy models and planners through the façade."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan import errors

# The batch these tests were written against (weight reads amortised), passed explicitly since
# the default became "max" (docs/planning.md, "Serving options").
AMORTISED = sp.Serving(batch="unset")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_eval.csv"


def rows(n: int, c: int, budgets: tuple[int, ...] = (1000,)) -> list[dict[str, Any]]:
    return [{"model": "qwen3-8b", "gen_tokens": b, "problem": "p", "n": n, "c": c} for b in budgets]


def test_unbiased_estimator_by_hand() -> None:
    acc = sp.Accuracy.measured(rows(5, 2))
    # 1 - C(3,k)/C(5,k): k=1 3/5, k=2 3/10, k=3 1/10, k=4 0
    assert acc("qwen3-8b", 1000, [1, 2, 3, 4]) == pytest.approx([0.4, 0.7, 0.9, 1.0], abs=1e-15)


def test_measured_interpolates_in_log_length_and_is_monotone() -> None:
    data = [
        {"model": "m", "gen_tokens": 1000, "problem": "a", "n": 4, "c": 1},
        {"model": "m", "gen_tokens": 4000, "problem": "a", "n": 4, "c": 3},
        {"model": "m", "gen_tokens": 16000, "problem": "a", "n": 4, "c": 2},  # noisy dip
    ]
    acc = sp.Accuracy.measured(data)
    # halfway in log between 1000 (0.25) and 4000 (0.75) is 2000
    assert acc("m", 2000, 1) == pytest.approx(0.5, abs=1e-12)
    # the dip is flattened: more budget never hurts a policy that may stop early
    assert acc("m", 16000, 1) == pytest.approx(0.75)
    assert acc("m", 1e6, 1) == pytest.approx(0.75)


def test_beta_pass_at_k_against_monte_carlo() -> None:
    acc = sp.Accuracy.preset("aime24-qwen3")  # kappa = 1
    rng = np.random.default_rng(0)
    for model, gen, k in [
        ("qwen3-1.7b", 8192, 8),
        ("qwen3-0.6b", 30720, 64),
        ("qwen3-8b", 1024, 3),
    ]:
        mu = float(acc(model, gen, 1))
        p = rng.beta(mu, 1 - mu, 400_000)
        hits = 1 - (1 - p) ** k
        want, se = hits.mean(), hits.std() / np.sqrt(hits.size)
        assert float(acc(model, gen, k)) == pytest.approx(want, abs=4 * se + 1e-12)


def test_majority_vote_against_monte_carlo() -> None:
    acc = sp.Accuracy.preset("aime24-qwen3", aggregator="majority")
    cov = sp.Accuracy.preset("aime24-qwen3")
    rng = np.random.default_rng(1)
    for k in (1, 4, 7):
        mu = float(cov("qwen3-4b", 4096, 1))
        p = rng.beta(mu, 1 - mu, 400_000)
        x = rng.binomial(k, p)
        wins = np.where(2 * x > k, 1.0, np.where(2 * x == k, 0.5, 0.0))
        se = wins.std() / np.sqrt(wins.size)
        assert float(acc("qwen3-4b", 4096, k)) == pytest.approx(wins.mean(), abs=4 * se + 1e-12)
        assert float(acc("qwen3-4b", 4096, k)) <= float(cov("qwen3-4b", 4096, k)) + 1e-12


def test_large_k_is_finite_and_monotone() -> None:
    acc = sp.Accuracy.preset("aime24-qwen3")
    v = acc("qwen3-0.6b", 30720, np.array([1, 10, 1e3, 1e6]))
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) >= 0) and v[-1] <= 1
    assert v[0] == pytest.approx(0.115, rel=1e-12)  # the published pass@1 at 30,720 tokens


def test_presets_reproduce_the_published_pass_at_1() -> None:
    acc = sp.Accuracy.preset("aime24-qwen3")
    published = {
        "qwen3-0.6b": 0.115,
        "qwen3-1.7b": 0.459,
        "qwen3-4b": 0.717,
        "qwen3-8b": 0.752,
        "qwen3-14b": 0.796,
        "qwen3-32b": 0.821,
    }
    for model, p in published.items():
        assert float(acc(model, 30720, 1)) == pytest.approx(p, rel=1e-12)


def test_plan_scalar_and_array_agree_and_explain() -> None:
    budgets = np.logspace(14, 17, 4)
    arr = sp.plan_test_time(serving=AMORTISED, budget_eflops=budgets, k_max=16)
    for i, b in enumerate(budgets):
        one = sp.plan_test_time(serving=AMORTISED, budget_eflops=float(b), k_max=16)
        assert one.model == arr.model[i] and one.accuracy == arr.accuracy[i]
        assert one.cost <= b * (1 + 1e-12)
    assert "Serve" in arr.at(3).explain()
    assert np.all(np.diff(arr.accuracy) >= 0)


def test_frontier_with_measured_data_reports_the_oracle_bound() -> None:
    acc = sp.Accuracy.measured(EXAMPLE)
    f = sp.frontier_test_time(
        serving=AMORTISED, budgets=np.logspace(14, 18, 12), accuracy=acc, k_max=16
    )
    assert f.oracle is not None
    ok = np.asarray(f.plan.feasible)
    assert not ok[0] and ok[1:].all()  # 1e14 eFLOPs fits nothing: no plan, no oracle
    assert np.isnan(f.oracle[0]) and np.isnan(f.plan.accuracy[0])
    assert np.all(f.oracle[ok] >= f.plan.accuracy[ok] - 1e-12)
    assert set(f.per_model) == {"qwen3-1.7b", "qwen3-4b", "qwen3-8b"}
    best_single = np.max(np.stack(list(f.per_model.values())), axis=0)
    np.testing.assert_allclose(best_single[ok], f.plan.accuracy[ok], rtol=0, atol=1e-12)


def test_infeasible_plans_name_the_constraint() -> None:
    p = sp.plan_test_time(serving=AMORTISED, budget_eflops=1e6)
    assert not p.feasible and p.binding == "budget"
    # Nothing applies: no model or attention (None, not ""), every quantity NaN (not 0).
    assert p.model is None and p.attention is None
    for name in ("samples", "gen_tokens", "accuracy", "cost", "eflops", "seconds", "latency_s"):
        assert math.isnan(getattr(p, name)), name
    assert "No configuration" in p.explain()
    frontier = sp.frontier_test_time(serving=AMORTISED, budgets=[1e6, 1e16])
    assert frontier.plan.model.tolist() == [None, "qwen3-14b"]
    p = sp.plan_test_time(serving=AMORTISED, budget_eflops=1e20, latency_slo_s=1e-4)
    assert not p.feasible and p.binding == "latency"


def test_usd_budgets_need_a_price() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_test_time(serving=AMORTISED, budget_usd=0.01, hardware="gaudi3")  # no price
    assert info.value.field == "usd_per_hour"
    p = sp.plan_test_time(serving=AMORTISED, budget_usd=0.01, usd_per_hour=6.0, hardware="h100-sxm")
    assert p.feasible and p.cost <= 0.01


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"budget_eflops": -1.0}, "budget"),
        ({"budget_eflops": float("nan")}, "budget"),
        ({}, "budget"),
        ({"budget_eflops": 1e16, "budget_seconds": 1.0}, "budget"),
        ({"budget_eflops": 1e16, "models": ["qwen3-9b"]}, "models"),
        ({"budget_eflops": 1e16, "family": "gpt"}, "family"),
        ({"budget_eflops": 1e16, "attention": [("topk",)]}, "attention"),
        ({"budget_eflops": 1e16, "attention": [("topk", 0)]}, "attention"),
        ({"budget_eflops": 1e16, "attention": ["topk:1024", "topk"]}, "attention"),
        ({"budget_eflops": 1e16, "k_max": 0}, "k_max"),
        ({"budget_eflops": 1e16, "accuracy": "gsm8k"}, "accuracy"),
        ({"budget_eflops": 1e16, "latency_slo_s": -1.0}, "latency_slo_s"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_test_time(serving=AMORTISED, **kwargs)
    assert info.value.field == field


def test_bad_measured_rows() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.Accuracy.measured(rows(4, 5))
    assert "c" in info.value.field
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.Accuracy.measured([{"model": "m"}])
    assert info.value.field == "rows"
    other = {"model": "qwen3-8b", "gen_tokens": 1000, "problem": "q", "n": 4, "c": 1}
    gap = [*rows(4, 1, (1000, 2000)), other]
    with pytest.raises(errors.InvalidArgumentError):
        sp.Accuracy.measured(gap)  # problem q has no result at 2000 tokens


def test_accuracy_repr_says_what_it_is_built_from() -> None:
    preset = sp.Accuracy.preset("aime24-qwen3", aggregator="majority")
    assert repr(preset) == (
        "<Accuracy preset 'aime24-qwen3': task 'aime24', aggregator 'majority', models "
        "qwen3-0.6b, qwen3-1.7b, qwen3-14b, qwen3-32b, ... (6 in all)>"
    )
    measured = sp.Accuracy.measured([*rows(4, 1), {**rows(4, 2)[0], "model": "qwen3-4b"}])
    assert repr(measured) == (
        "<Accuracy measured: task 'measured:rows', aggregator 'coverage', models "
        "qwen3-4b, qwen3-8b>"
    )
    from_file = sp.Accuracy.measured(EXAMPLE)
    assert repr(from_file).startswith(
        "<Accuracy measured 'synthetic_eval.csv': task 'measured:synthetic_eval.csv', "
        "aggregator 'coverage', models "
    )
