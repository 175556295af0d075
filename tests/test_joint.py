"""The joint planner through the façade."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan import errors


def test_budget_plan_costs_add_up_and_explain() -> None:
    p = sp.plan_joint(budget=1e6, queries=1e8)
    assert p.feasible
    assert p.training_cost + p.inference_cost == pytest.approx(1e6, rel=1e-9)
    assert 0 < p.accuracy < 1 and p.marginal_accuracy >= 0
    text = p.explain()
    assert "Train a model" in text and "1% more budget" in text


def test_target_is_the_least_budget_reaching_it() -> None:
    p = sp.plan_joint(target_accuracy=0.6, queries=1e8)
    assert p.feasible and p.accuracy >= 0.6 and p.binding == "target_accuracy"
    less = sp.plan_joint(budget=p.total_cost * 0.99, queries=1e8)
    assert less.accuracy < 0.6
    out_of_reach = sp.plan_joint(target_accuracy=0.999, queries=1e8)
    assert not out_of_reach.feasible and "caps" in out_of_reach.explain()


def test_frontier_is_monotone_and_matches_scalar_plans() -> None:
    budgets = np.logspace(4, 7, 4)
    f = sp.frontier_joint(budgets=budgets, queries=1e8, k_max=8)
    assert np.all(np.diff(f.accuracy) >= -1e-12)
    one = sp.plan_joint(budget=float(budgets[2]), queries=1e8, k_max=8)
    assert f.accuracy[2] == one.accuracy and f.params[2] == one.params


def test_more_queries_shift_spend_to_inference_share() -> None:
    few = sp.plan_joint(budget=1e6, queries=1e6)
    many = sp.plan_joint(budget=1e6, queries=1e9)
    assert many.inference_cost / many.total_cost > few.inference_cost / few.total_cost
    assert many.accuracy <= few.accuracy


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"budget": 1e6, "queries": -1}, "queries"),
        ({"budget": 1e6, "queries": 1e8, "law": "hoffmann2022"}, "law"),
        (
            {
                "budget": 1e6,
                "queries": 1e8,
                "family": "llama-3.1",
                "hardware": "gaudi3",  # no catalog price
                "unit": "usd",
            },
            "train_usd_per_hour",
        ),
        ({"queries": 1e8}, "budget"),
        ({"budget": 1e6, "queries": 1e8, "kappa": 0}, "kappa"),
        (
            {"budget": 1e6, "queries": 1e8, "min_gen_tokens": 4096, "max_gen_tokens": 1024},
            "max_gen_tokens",
        ),
    ],
)
def test_bad_input(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_joint(**kwargs)
    assert info.value.field == field
