"""Plans at the walls (docs/planning.md, docs/solvers.md): the cases where a search once walked
off the feasible side of a wall or named the wrong `binding`, checked against pinned-variable
evaluations on fine grids right next to each wall, and the generic rule that relaxing the
reported bound changes the plan while relaxing a bound the plan does not sit on changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from hypothesis import given, settings
from hypothesis import strategies as st

LIFETIME: dict[str, Any] = {
    "target_loss": 1.81,
    "queries": 1e8,
    "prompt_tokens": 512,
    "gen_tokens": 1024,
    "family": "qwen3-dense",
    "law": "sardana2023",
    "unit": "gpu_hours",
}
# One GPU per replica: the wall cases of the issue (the planner otherwise chooses the degree).
ONE_GPU: dict[str, Any] = {**LIFETIME, "serving": sp.Serving(gpus=1)}


def _pinned_lifetime(n: float, **kw: Any) -> Any:
    return sp.plan_lifetime(min_params=n, max_params=n, **{**ONE_GPU, **kw})


@pytest.mark.parametrize("hardware", ["a100-80gb", "h100-sxm"])
def test_lifetime_plan_stops_on_the_memory_wall_not_beyond_it(hardware: str) -> None:
    plan = sp.plan_lifetime(hardware=hardware, **ONE_GPU)
    assert plan.feasible and plan.binding == "memory", plan
    # No pinned size on a fine grid around the plan is cheaper, and the plan's size is the
    # largest that fits: 1e-6 larger is infeasible for memory.
    for n in np.geomspace(plan.params / 1.5, plan.params * 1.05, 120):
        pinned = _pinned_lifetime(float(n), hardware=hardware)
        if pinned.feasible:
            assert pinned.total_cost >= plan.total_cost * (1 - 1e-9), (n, pinned.total_cost)
    above = _pinned_lifetime(plan.params * (1 + 1e-6), hardware=hardware)
    assert not above.feasible and above.binding == "memory"
    below = _pinned_lifetime(plan.params * (1 - 1e-6), hardware=hardware)
    assert below.feasible and below.total_cost > plan.total_cost
    # Relaxing the binding constraint by 1% moves the plan: a larger model, cheaper.
    hw = sp.hardware(hardware)
    roomier = hw.replace(hbm_bytes=hw.hbm_bytes * 1.01)
    relaxed = sp.plan_lifetime(hardware=roomier, **ONE_GPU)
    assert relaxed.params > plan.params * 1.001 and relaxed.total_cost < plan.total_cost
    # Relaxing a bound the plan does not sit on changes nothing.
    capped = sp.plan_lifetime(hardware=hardware, max_params=plan.params * 2, **ONE_GPU)
    assert capped.params == pytest.approx(plan.params, rel=1e-7)


def test_lifetime_memory_wall_case_of_the_issue() -> None:
    # Was N = 32.76e9 at 3.86e13 GPU-h naming target_loss; N pinned at 3.9e10 costs 2.66e10.
    plan = sp.plan_lifetime(hardware="a100-80gb", **ONE_GPU)
    pinned = _pinned_lifetime(3.9e10, hardware="a100-80gb")
    assert pinned.feasible and pinned.total_cost == pytest.approx(2.66e10, rel=0.02)
    assert plan.total_cost <= pinned.total_cost
    assert 3.9e10 < plan.params < 4.0e10


@pytest.mark.parametrize("target", [1.77, 1.78, 1.80, 1.81, 1.9, 2.2])
@pytest.mark.parametrize("hardware", ["a100-80gb", "h100-sxm", "b200"])
def test_lifetime_chooses_the_gpus_per_replica(hardware: str, target: float) -> None:
    kw = {**LIFETIME, "target_loss": target, "hardware": hardware}
    plan = sp.plan_lifetime(**kw)
    assert plan.feasible and plan.gpus in (1, 2, 4, 8)
    pinned = {g: sp.plan_lifetime(**kw, serving=sp.Serving(gpus=g)) for g in (1, 2, 4, 8)}
    for g, p in pinned.items():
        if p.feasible:  # never beaten by a pinned degree
            assert plan.total_cost <= p.total_cost * (1 + 1e-12), (g, p.total_cost)
    assert plan.total_cost == pytest.approx(pinned[int(plan.gpus)].total_cost, rel=1e-12)
    # Memory binds only where 8 GPUs cannot hold the model the target wants.
    if plan.binding == "memory":
        assert plan.gpus == 8 and pinned[8].binding == "memory"
    else:
        assert plan.binding == "target_loss"


def test_lifetime_on_eight_gpus_names_memory() -> None:
    # With the smooth family rule the 8-GPU wall is at 3.197e11 parameters: target 1.77 has its
    # optimum 0.03% inside it (3.196e11, target_loss binds), 1.76 presses against it.
    plan = sp.plan_lifetime(**{**LIFETIME, "target_loss": 1.76, "hardware": "a100-80gb"})
    assert (plan.binding, plan.gpus) == ("memory", 8)
    # The issue's case: one GPU forced a 39.8B model at 1.94e10 GPU-h; eight hold 300B at ~1e8.
    auto = sp.plan_lifetime(**{**LIFETIME, "hardware": "a100-80gb"})
    one = sp.plan_lifetime(**ONE_GPU, hardware="a100-80gb")
    assert auto.gpus == 8 and auto.total_cost < one.total_cost / 100


def test_lifetime_default_floor_is_named_as_a_default() -> None:
    # Inference priced at 2N per token, a huge demand and an easy target: the smallest model
    # allowed wins, and the plan says the bound was the default search floor.
    plan = sp.plan_lifetime(target_loss=6.0, queries=1e15, prompt_tokens=512, gen_tokens=1024)
    assert plan.binding == "min_params_default" and plan.params == pytest.approx(1e6)
    user = sp.plan_lifetime(
        target_loss=6.0, queries=1e15, prompt_tokens=512, gen_tokens=1024, min_params=2e6
    )
    assert user.binding == "min_params" and user.params == pytest.approx(2e6)


JOINT: dict[str, Any] = {"queries": 1e7}


def _relax(binding: str, plan: Any, kw: dict[str, Any]) -> dict[str, Any] | None:
    """The options with one bound relaxed by 1% (one more sample for k_max)."""
    hw = sp.hardware(kw.get("hardware", "h100-sxm"))
    edits: dict[str, dict[str, Any]] = {
        "max_samples": {"k_max": kw.get("k_max", 16) + 1},
        "max_params": {"max_params": float(plan.params) * 1.01},
        "max_params_default": {"max_params": float(plan.params) * 1.01},
        "min_params": {"min_params": float(plan.params) / 1.01},
        "min_params_default": {"min_params": float(plan.params) / 1.01},
        "max_gen_tokens": {"max_gen_tokens": kw.get("max_gen_tokens", 32768) * 1.01},
        "min_gen_tokens": {"min_gen_tokens": kw.get("min_gen_tokens", 256) / 1.01},
        "memory": {"hardware": hw.replace(hbm_bytes=hw.hbm_bytes * 1.01)},
    }
    if "latency_slo_s" in kw:
        edits["latency"] = {"latency_slo_s": kw["latency_slo_s"] * 1.01}
    if binding not in edits:
        return None
    return {**kw, **edits[binding]}


JOINT_CASES = [
    {"budget": b, "queries": q} for b in (1e4, 1e5, 1e6, 1e7, 1e8) for q in (1e7, 1e9)
] + [
    {"budget": 1e6, "queries": 1e8, "k_max": 4},
    {"budget": 1e6, "queries": 1e8, "max_params": 1.2e9},
    {"budget": 1e6, "queries": 1e8, "max_gen_tokens": 2000},
    {"budget": 1e5, "queries": 1e8, "latency_slo_s": 20.0},
    {"budget": 1e7, "queries": 1e8, "hardware": "a100-80gb"},
]


def _case_id(kw: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("kw", JOINT_CASES, ids=_case_id)
def test_joint_binding_is_the_bound_whose_relaxation_buys_the_most(kw: dict[str, Any]) -> None:
    plan = sp.plan_joint(**kw)
    assert plan.feasible
    gains = {}
    names = ["max_samples", "max_gen_tokens", "min_gen_tokens", "memory", "latency"]
    names += ["max_params" if "max_params" in kw else "max_params_default"]
    names += ["min_params" if "min_params" in kw else "min_params_default"]
    for name in names:
        relaxed_kw = _relax(name, plan, kw)
        if relaxed_kw is not None:
            gains[name] = float(sp.plan_joint(**relaxed_kw).accuracy) - float(plan.accuracy)
    # One more sample relaxes k_max by 100/k_max percent: compared per 1%.
    gains["max_samples"] *= 0.01 * kw.get("k_max", 16)
    tol = 1e-7 * float(plan.accuracy)
    # Serving memory also prices a max batch (more HBM, larger batch, cheaper queries), so it
    # can buy accuracy without being a wall the plan sits on; the budget then buys more.
    budget_gain = float(sp.plan_joint(**{**kw, "budget": kw["budget"] * 1.01}).accuracy) - float(
        plan.accuracy
    )
    if plan.binding == "budget":
        assert all(g <= tol for n, g in gains.items() if n != "memory"), gains
        assert gains["memory"] <= budget_gain, (gains, budget_gain)
    else:
        assert plan.binding in gains, (plan.binding, gains)
        assert gains[plan.binding] > tol, (plan.binding, gains)
        best = max(gains.values())
        assert gains[plan.binding] >= best - 1e-3 * abs(best), (plan.binding, gains)


def test_joint_never_beaten_by_pinned_lengths_next_to_infeasibility() -> None:
    # Budgets just above the smallest feasible one, where only short generations fit.
    kw: dict[str, Any] = {"queries": 1e8, "unit": "eflops"}
    budgets = np.geomspace(1e19, 1e22, 13)
    plans = sp.plan_joint(budget=budgets, **kw)
    for i, budget in enumerate(budgets):
        best_pinned = 0.0
        for cap in np.geomspace(256, 32768, 40):
            pinned = sp.plan_joint(budget=float(budget), max_gen_tokens=float(cap), **kw)
            if pinned.feasible:
                best_pinned = max(best_pinned, float(pinned.accuracy))
        # An infeasible plan reaches nothing (its accuracy is NaN: not applicable).
        reached = float(plans.accuracy[i]) if plans.feasible[i] else 0.0
        assert reached >= best_pinned * (1 - 1e-9), (budget, best_pinned)


def test_joint_default_size_cap_is_named() -> None:
    # A budget big enough to want more than the family's largest member (qwen3-32b), length
    # saturating early (half_tokens 64) and samples nearly useless (kappa 1e-3): the default
    # size cap binds and says so.
    kw: dict[str, Any] = {"budget": 1e9, "queries": 1e3, "half_tokens": 64, "kappa": 1e-3}
    plan = sp.plan_joint(**kw)
    assert plan.binding == "max_params_default", plan
    assert plan.params == pytest.approx(sp.model("qwen3-32b").flop_params, rel=1e-6)
    assert sp.plan_joint(max_params=plan.params * 1.01, **kw).accuracy > plan.accuracy
    assert "default" in plan.explain()


MEASURED = "examples/data/synthetic_eval.csv"


def test_measured_plan_at_the_evals_sample_count_names_it() -> None:
    acc = sp.Accuracy.measured(MEASURED)
    plan = sp.plan_test_time(budget_eflops=1e18, accuracy=acc)
    assert plan.samples == 16 and plan.binding == "eval_samples", plan
    assert plan.cost < 1e18  # budget left over: the eval's n is what stops the plan
    assert "eval" in plan.explain()
    # k_max below the eval's n binds as k_max instead.
    capped = sp.plan_test_time(budget_eflops=1e18, accuracy=acc, k_max=8)
    assert capped.samples == 8 and capped.binding == "max_samples"


def test_measured_accuracy_is_not_extrapolated() -> None:
    acc = sp.Accuracy.measured(MEASURED)
    # The synthetic eval measures 2,048 to 32,768 tokens with 16 samples per problem.
    inside = acc("qwen3-8b", [2048, 8192, 32768], 1)
    assert np.all(np.isfinite(inside)) and np.all(np.diff(inside) >= 0)
    assert np.isnan(acc("qwen3-8b", 1024, 1))
    # "At most L tokens": above the longest measured length a generation may stop there.
    assert acc("qwen3-8b", 65536, 1) == inside[-1]
    assert np.isfinite(acc("qwen3-8b", 4096, 16)) and np.isnan(acc("qwen3-8b", 4096, 17))
    # Plans stay inside the measured lengths whatever the options allow.
    plans = sp.plan_test_time(budget_eflops=np.geomspace(1e14, 1e19, 25), accuracy=acc, k_max=64)
    used = np.asarray(plans.gen_tokens)[np.asarray(plans.feasible)]
    assert used.min() >= 2048 and used.max() <= 32768


# ---- cases found by review: each named the wrong constraint or missed a feasible plan ----


def test_joint_context_is_not_memory() -> None:
    # A long prompt: the generation fills the context while the replica has room for 12 more
    # queries; the plan used to say memory.
    roomy = sp.hardware("h200").replace(hbm_bytes=1e12)
    kw: dict[str, Any] = {
        "queries": 1e7,
        "k_max": 64,
        "serving": sp.Serving(gpus=1),
        "prompt_tokens": 10000,
        "half_tokens": 65536,
        "max_params": 1e13,
        "hardware": roomy,
    }
    plan = sp.plan_joint(budget=1e6, **kw)
    assert plan.binding == "context" and plan.gen_tokens == pytest.approx(40960 - 10000)
    # The same with max_gen_tokens equal to the context's room: relaxing it buys nothing.
    capped = sp.plan_joint(budget=1e6, max_gen_tokens=30960, **kw)
    assert capped.binding == "context"


def test_joint_names_a_bound_only_when_relaxing_it_buys_something() -> None:
    # k_max=1 is the only relaxable bound the plan sits on, and k=2 is no better: not named.
    kw: dict[str, Any] = {"queries": 1e7, "min_params": 1e8}
    plan = sp.plan_joint(budget=100, k_max=1, **kw)
    assert plan.samples == 1 and plan.binding != "max_samples"
    assert sp.plan_joint(budget=100, k_max=2, **kw).accuracy == pytest.approx(plan.accuracy)


def test_joint_with_a_latency_slo_searches_every_k() -> None:
    # A static batch's shared prefill makes latency fall as k grows: k=1 misses a 520 s SLO
    # that k=4 meets. The planner used to stop at the first k that did not fit.
    roomy = sp.hardware("h200").replace(hbm_bytes=1e12)
    plan = sp.plan_joint(
        budget=1e6,
        queries=1e6,
        k_max=4,
        serving=sp.Serving(gpus=1, prefill="batch"),
        prompt_tokens=256,
        min_params=32.76e9,
        max_params=32.76e9,
        latency_slo_s=520,
        hardware=roomy,
    )
    assert plan.feasible and plan.samples > 1 and plan.binding == "latency"


def test_infeasible_plans_say_why() -> None:
    joint = sp.plan_joint(budget=1e9, queries=1e7, prompt_tokens=50000)  # context 40,960
    assert not joint.feasible and joint.binding == "context"
    for goal in ({"target_loss": 2.0}, {"budget": 1e7}):
        life = sp.plan_lifetime(
            queries=1e8,
            prompt_tokens=40000,
            gen_tokens=2000,
            hardware="a100-80gb",
            family="qwen3-dense",
            unit="gpu_hours",
            **goal,
        )
        assert not life.feasible and life.binding == "context"


def test_a_default_ceiling_never_undercuts_the_users_floor() -> None:
    budget = sp.plan_lifetime(
        budget=1e22, queries=0, prompt_tokens=1, gen_tokens=1, min_params=1e13
    )
    assert budget.feasible and budget.binding == "min_params"
    target = sp.plan_lifetime(
        target_loss=2.5, queries=0, prompt_tokens=1, gen_tokens=1, min_params=1e25
    )
    assert target.feasible and target.binding == "min_params"


def test_caps_that_cannot_be_relaxed_win_ties() -> None:
    # k_max equal to the eval's 16 samples per problem: raising k_max alone changes nothing.
    acc = sp.Accuracy.measured(MEASURED)
    assert sp.plan_test_time(budget_eflops=1e18, accuracy=acc, k_max=16).binding == "eval_samples"


def test_the_degree_is_chosen_only_where_gpus_cost_something() -> None:
    # In FLOPs or eFLOPs more GPUs per replica would be free: the degree given (1) is used.
    assert sp.plan_joint(budget=1e24, queries=1e7, unit="eflops").gpus == 1
    assert sp.plan_joint(budget=1e8, queries=1e7).gpus == 8


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    log_budget=st.floats(20.0, 30.0),
    log_queries=st.floats(6.0, 12.0),
    log_unique=st.one_of(st.none(), st.floats(8.0, 13.0)),
)
def test_lifetime_budget_and_target_goals_are_dual(
    log_budget: float, log_queries: float, log_unique: float | None
) -> None:
    """The least cost of the loss a budget buys is that budget, and the Chinchilla model of the
    same loss never costs less (a default ceiling once capped data-limited budget plans at a
    model e^3 times the data-unlimited optimum: 'saved vs Chinchilla' -6.2e25 at 1e26 FLOPs)."""
    kw: dict[str, Any] = {"queries": 10**log_queries, "prompt_tokens": 512, "gen_tokens": 1024}
    if log_unique is not None:
        kw["unique_tokens"] = 10**log_unique
    budget = 10**log_budget
    plan = sp.plan_lifetime(budget=budget, **kw)
    if not plan.feasible:
        return
    dual = sp.plan_lifetime(target_loss=float(plan.loss) * (1 + 1e-12), **kw)
    assert dual.feasible
    assert dual.total_cost == pytest.approx(budget, rel=1e-6)
    if np.isfinite(plan.cost_saved):
        assert plan.cost_saved >= -1e-6 * budget


def test_joint_under_an_slo_refines_k_between_geometric_steps() -> None:
    # Latency grows with k here (batch unset): the SLO stops k at an interior 180, which is not
    # one of the geometric steps above 16 (..., 156, 176, 198, ...). Every k in 150..210 is the
    # k_max of some plan (k_max is always searched), so their best is a brute force over k.
    kw: dict[str, Any] = {
        "budget": 1e6,
        "queries": 1e5,
        "max_gen_tokens": 1024,
        "latency_slo_s": 5,
        "serving": sp.Serving(gpus=1, batch="unset"),
    }
    plan = sp.plan_joint(k_max=300, **kw)
    assert 16 < plan.samples < 300 and plan.feasible
    brute = max(float(sp.plan_joint(k_max=k, **kw).accuracy) for k in range(150, 211))
    assert float(plan.accuracy) >= brute * (1 - 1e-9)


def test_no_queries_no_infinite_per_query_cost() -> None:
    # A model too large for any replica, trained for no queries: its per-query cost does not
    # apply (NaN, null in JSON), it is not infinite.
    plan = sp.plan_lifetime(
        budget=1e30,
        queries=0,
        prompt_tokens=512,
        gen_tokens=1024,
        hardware="h100-sxm",
        family="qwen3-dense",
        unit="gpu_hours",
    )
    assert plan.feasible and np.isnan(plan.inference_cost_per_query)
    assert plan.inference_cost == 0 and np.isfinite(plan.total_cost)
