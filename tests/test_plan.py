"""plan_training / plan_lifetime through the façade: published values, arrays, infeasible
plans, explain(), invariants and every error path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan import _core, errors


def test_closed_form_matches_hand_computation() -> None:
    # Hoffmann 2022: G = (0.34*406.4 / (0.28*410.7))^(1/0.62); N* = G (C/6)^(0.28/0.62)
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / 0.62)
    c = 1e23
    p = sp.plan_training(budget_flops=c, law="hoffmann2022")
    assert p.params == pytest.approx(g * (c / 6) ** (0.28 / 0.62), rel=1e-12)
    assert p.tokens == pytest.approx(c / (6 * p.params), rel=1e-12)
    assert p.loss == pytest.approx(1.69 + 406.4 / p.params**0.34 + 410.7 / p.tokens**0.28)
    assert p.feasible is True and p.binding == "budget"


def test_besiroglu_about_20_tokens_per_parameter() -> None:
    p = sp.plan_training(budget_flops=5.88e23, law="besiroglu2024")  # Chinchilla: 70B x 1.4T
    assert 18 <= p.tokens_per_param <= 24


def test_arrays_are_one_call_and_equal_the_scalar_plans() -> None:
    budgets = np.logspace(18, 27, 10).reshape(2, 5)
    arr = sp.plan_training(budget_flops=budgets)
    assert arr.params.shape == (2, 5) and arr.feasible.shape == (2, 5)
    for idx in np.ndindex(2, 5):
        one = sp.plan_training(budget_flops=float(budgets[idx]))
        assert arr.params[idx] == one.params and arr.loss[idx] == one.loss
        assert arr.at(idx) == one
    assert np.all(np.diff(arr.loss.ravel()) < 0)


def test_target_inverts_budget_and_infeasible_targets_are_plans() -> None:
    forward = sp.plan_training(budget_flops=1e22)
    back = sp.plan_training(target_loss=forward.loss)
    assert back.compute_flops == pytest.approx(1e22, rel=1e-9)
    assert back.binding == "target_loss"
    floor = sp.plan_training(target_loss=[1.5, 1.8172, 3.0])
    assert list(floor.feasible) == [False, False, True]
    assert list(floor.binding) == ["loss_floor", "loss_floor", "target_loss"]
    assert "irreducible" in floor.at(0).explain()


def test_data_limit_repeats_and_floors() -> None:
    free = sp.plan_training(budget_flops=1e24)
    limited = sp.plan_training(budget_flops=1e24, unique_tokens=1e11)
    assert limited.loss > free.loss
    assert limited.tokens > limited.effective_tokens > 1e11
    assert "repeats" in limited.explain()
    unreachable = sp.plan_training(target_loss=1.95, unique_tokens=1e10)
    assert unreachable.binding == "unique_data" and not unreachable.feasible


def test_gadre_error_law() -> None:
    law = sp.law("gadre2024-redpajama")
    loss = law.loss(6_889_410_560, 137_788_211_200)
    assert loss == pytest.approx(2.44275, rel=2e-5)
    assert law.error_rate(loss) == pytest.approx(0.47186, rel=2e-5)
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.law("hoffmann2022").error_rate(2.0)
    assert info.value.field == "law"


def test_inline_laws_are_validated() -> None:
    custom = sp.LossLaw(name="mine", E=1.7, A=400.0, B=400.0, alpha=0.33, beta=0.3)
    assert sp.plan_training(budget_flops=1e21, law=custom).law == "mine"
    for field, value in [("alpha", -0.3), ("B", 0.0), ("E", float("nan"))]:
        with pytest.raises(errors.InvalidArgumentError) as info:
            custom.replace(**{field: value})
        assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"budget_flops": -1.0}, "budget_flops"),
        ({"budget_flops": float("nan")}, "budget_flops"),
        ({"budget_flops": [1e20, float("inf")]}, "budget_flops"),
        ({"target_loss": float("nan")}, "target_loss"),
        ({}, "budget_flops"),
        ({"budget_flops": 1e20, "target_loss": 2.0}, "budget_flops"),
        ({"budget_flops": 1e20, "law": "kaplan2020"}, "law"),
        ({"budget_flops": 1e20, "unique_tokens": -1.0}, "unique_tokens"),
        ({"budget_flops": 1e20, "r_star": 5.0}, "r_star"),
    ],
)
def test_training_bad_input(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_training(**kwargs)
    assert info.value.field == field


DEMAND: dict[str, Any] = {"prompt_tokens": 512, "gen_tokens": 1024}


def test_lifetime_with_zero_demand_is_the_training_plan() -> None:
    # Both under the one default law: with no demand the lifetime plan is the training plan.
    life = sp.plan_lifetime(target_loss=2.2, queries=0, **DEMAND)
    train = sp.plan_training(target_loss=2.2)
    assert life.law == train.law == sp.DEFAULT_LAW
    assert life.params == pytest.approx(train.params, rel=1e-6)
    assert life.tokens == pytest.approx(train.tokens, rel=1e-6)
    assert life.total_cost == pytest.approx(train.compute_flops, rel=1e-9)
    assert life.cost_saved == pytest.approx(0.0, abs=1e-9 * life.total_cost)


@pytest.mark.parametrize(
    "pricing",
    [
        {},
        {
            "hardware": "kinetics-b200",
            "family": "qwen3-dense",
            "unit": "eflops",
            "serving": sp.Serving(batch="unset"),
        },
        {"hardware": "h100-sxm", "family": "qwen3-dense", "unit": "gpu_hours"},
    ],
)
def test_more_demand_shrinks_the_model_and_grows_its_tokens(pricing: dict[str, Any]) -> None:
    queries = np.array([0, 1e6, 1e8, 1e9, 1e10, 1e11])
    # sardana2023: the law this loss target and these sizes were chosen with.
    p = sp.plan_lifetime(target_loss=2.1, queries=queries, law="sardana2023", **DEMAND, **pricing)
    assert p.feasible.all()
    assert np.all(np.diff(p.params) <= 1e-9 * p.params[1:])
    assert np.all(np.diff(p.tokens) >= -1e-9 * p.tokens[1:])
    assert np.all(p.cost_saved >= -1e-9 * p.total_cost)


def test_lifetime_budget_mode_and_explain() -> None:
    p = sp.plan_lifetime(budget=1e23, queries=1e9, **DEMAND)
    assert p.total_cost == pytest.approx(1e23, rel=1e-9)
    assert p.binding == "budget"
    text = p.explain()
    assert "Lifetime cost" in text and "Chinchilla" in text
    broke = sp.plan_lifetime(budget=1e18, queries=1e15, **DEMAND)
    assert not broke.feasible and broke.binding == "inference_exceeds_budget"


def test_lifetime_usd_needs_prices() -> None:
    # gaudi3 has no catalog price (docs/catalog.md, "Prices"); a priced entry needs no argument.
    kw: dict[str, Any] = {
        "hardware": "gaudi3",
        "family": "qwen3-dense",
        "unit": "usd",
        "serving": sp.Serving(batch="unset"),
    }
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_lifetime(target_loss=2.1, queries=1e9, **DEMAND, **kw)
    assert info.value.field == "train_usd_per_hour"
    p = sp.plan_lifetime(
        target_loss=2.1, queries=1e9, **DEMAND, **kw, train_usd_per_hour=2.0, infer_usd_per_hour=2.0
    )
    assert p.feasible and p.total_cost > 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target_loss": 2.1, "queries": -5}, "queries"),
        ({"target_loss": 2.1, "queries": 1e9, "samples": 0}, "samples"),
        ({"target_loss": 2.1, "queries": 1e9, "unit": "joules"}, "unit"),
        ({"target_loss": 2.1, "queries": 1e9, "unit": "eflops"}, "unit"),
        ({"target_loss": 2.1, "queries": 1e9, "hardware": "h100-sxm"}, "family"),
        ({"target_loss": 2.1, "queries": 1e9, "hardware": "h100-sxm", "family": "gpt"}, "family"),
        ({"target_loss": 2.1, "queries": 1e9, "min_params": 1e10, "max_params": 1e9}, "max_params"),
        ({"budget": float("nan"), "queries": 1e9}, "budget"),
    ],
)
def test_lifetime_bad_input(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_lifetime(**{**DEMAND, **kwargs})
    assert info.value.field == field


@settings(max_examples=50, deadline=None)
@given(
    e=st.floats(18, 27),
    step=st.floats(0.01, 3),
    law=st.sampled_from(["hoffmann2022", "besiroglu2024", "sardana2023"]),
)
def test_more_budget_never_gives_a_higher_loss(e: float, step: float, law: str) -> None:
    p = sp.plan_training(budget_flops=[10**e, 10 ** (e + step)], law=law)
    assert p.loss[1] <= p.loss[0]


def _plan_columns(fields: list[str]) -> set[str]:
    """The core's columns, its extrapolation columns (extrapolated:<variable>:<part>) as the one
    field they make."""
    return {f.split(":")[0] for f in fields}


def test_plan_fields_match_the_core() -> None:
    names = {f for f in sp.TrainingPlan.__dataclass_fields__}
    assert _plan_columns(_core.TRAINING_PLAN_FIELDS) <= names
    lifetime = {f for f in sp.LifetimePlan.__dataclass_fields__}
    assert _plan_columns(_core.LIFETIME_PLAN_FIELDS) <= lifetime
    for variable in _core.EXTRAPOLATION_VARIABLES:
        for part in ("value", "bound", "factor"):
            assert f"extrapolated:{variable}:{part}" in _core.TRAINING_PLAN_FIELDS


def test_a_plan_on_the_memory_wall_says_so() -> None:
    p = sp.plan_lifetime(
        budget=1e9,
        queries=1e6,
        prompt_tokens=512,
        gen_tokens=1024,
        hardware="h100-sxm",
        family="qwen3-dense",
        unit="gpu_hours",
    )
    assert p.feasible and p.binding == "memory"
    assert "memory caps the model size" in p.explain()


# ---- one default law (python/scaleplan/laws.py, DEFAULT_LAW) ----


def test_every_planner_defaults_to_the_one_law() -> None:
    import inspect

    for fn in (sp.plan_training, sp.plan_lifetime, sp.plan_joint):  # frontier_joint: **kwargs
        assert inspect.signature(fn).parameters["law"].default == sp.DEFAULT_LAW, fn.__name__
    for name in ("plan_training", "plan_lifetime", "plan_joint", "frontier_joint"):
        method = getattr(sp.Client, name)
        assert inspect.signature(method).parameters["law"].default == sp.DEFAULT_LAW, name
    # The joint planner needs an error law: the default carries one, so it plans out of the box.
    assert sp.law(sp.DEFAULT_LAW).error is not None
    assert sp.plan_joint(budget=1e6, queries=1e8).law == sp.DEFAULT_LAW


def test_the_joint_planner_refuses_a_law_without_an_error_law() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_joint(budget=1e6, queries=1e8, law="besiroglu2024")
    assert info.value.field == "law" and "besiroglu2024" in str(info.value)


@pytest.mark.parametrize("law", [sp.DEFAULT_LAW, "sardana2023"])
def test_the_chinchilla_comparison_uses_the_plans_own_law(law: str) -> None:
    """The lifetime plan's "saved vs Chinchilla" is against the compute-optimal training plan
    of the same loss under the same law (docs/planning.md), priced at 2N FLOPs per token."""
    life = sp.plan_lifetime(target_loss=2.6, queries=1e9, law=law, **DEMAND)
    assert life.feasible and life.law == law
    the_law = sp.law(law)
    n, d = float(life.chinchilla_params), float(life.chinchilla_tokens)
    # Compute-optimal under 6ND = C (by hand, Lagrange): alpha A / N^alpha = beta B / D^beta.
    assert the_law.alpha * the_law.A / n**the_law.alpha == pytest.approx(
        the_law.beta * the_law.B / d**the_law.beta, rel=1e-6
    )
    # ... reaching the plan's loss.
    assert float(the_law.loss(n, d)) == pytest.approx(float(life.loss), rel=1e-9)
    if the_law.alpha == the_law.beta:  # gadre2024-redpajama: D/N = (B/A)^(1/alpha) = 7.42
        assert d / n == pytest.approx((the_law.B / the_law.A) ** (1 / the_law.alpha), rel=1e-6)
    # Its total cost: training 6ND plus 2N FLOPs for each of 1e9 x (512 + 1024) tokens.
    chinchilla_total = 6 * n * d + 2 * n * 1e9 * (512 + 1024)
    assert float(life.chinchilla_total_cost) == pytest.approx(chinchilla_total, rel=1e-9)
    assert float(life.cost_saved) == pytest.approx(
        chinchilla_total - float(life.total_cost), rel=1e-6
    )
    assert "Chinchilla-optimal model of the same loss under the same law" in life.explain()
