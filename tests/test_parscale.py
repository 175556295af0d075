"""Parallel streams (ParScale, Chen et al. 2025, arXiv:2505.10475): the two catalog laws against
the paper's published numbers and its measured runs (by independent math), the stream planner
through the façade and the CLI, and bad input named."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from cli_support import json_lines, ok, run, usage_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scaleplan.errors import InvalidArgumentError, ScaleplanError

# The issue's constants (refit of the authors' parametric_fit.py), typed here, not read from the
# catalog: E, A, alpha, k.
STACK = (0.6912367816825951, 1.1306163088441717e7, 0.1893706657237289, 0.39346300224429864)
PILE = (1.288765627100468, 1.9735202641384547e8, 0.19633307942032127, 0.3344555658761527)


def by_hand(consts: tuple[float, float, float, float], n: float, p: int) -> float:
    e, a, alpha, k = consts
    return e + (a / (n * (1 + k * math.log(p)))) ** alpha


def inverse_by_hand(consts: tuple[float, float, float, float], loss: float, p: int) -> float:
    e, a, alpha, k = consts
    return a / ((loss - e) ** (1 / alpha) * (1 + k * math.log(p)))


def test_catalog_laws_hold_the_published_constants() -> None:
    for name, consts in (("parscale2025-stack", STACK), ("parscale2025-pile", PILE)):
        law = sp.parscale_law(name)
        assert (law.E, law.A, law.alpha, law.k) == consts
        assert law.source and law.domain and "2505.10475" in law.source
        # The fitted runs span 535.8M to 4.41B non-embedding parameters (parametric_fit.py).
        assert (law.params_min, law.params_max) == (535813376, 4414502408)
    assert sp.parscale_law_names() == ["parscale2025-pile", "parscale2025-stack"]


def test_published_check_stack() -> None:
    """L(2.8e9, P=4) = 1.01548, equal to P=1 at 4.33e9, P=2 at 3.40e9, P=8 at 2.38e9."""
    assert by_hand(STACK, 2.8e9, 4) == pytest.approx(1.01548, abs=5e-6)
    law = sp.parscale_law("parscale2025-stack")
    loss = law.loss(2.8e9, 4)
    assert loss == pytest.approx(by_hand(STACK, 2.8e9, 4), rel=1e-14)
    for p, n in ((1, 4.33e9), (2, 3.40e9), (8, 2.38e9)):
        # Independently: by hand the equal-loss size rounds to the published figure...
        assert float(f"{inverse_by_hand(STACK, 1.01548, p):.3g}") == n
        # ... and the façade's closed form agrees with it, and with the law at that size.
        got = law.params_for(loss, p)
        assert got == pytest.approx(inverse_by_hand(STACK, loss, p), rel=1e-12)
        assert float(f"{got:.3g}") == n
        assert law.loss(got, p) == pytest.approx(loss, rel=1e-13)
    assert math.isnan(law.params_for(STACK[0], 2))


# The paper's measured runs (its parametric_fit.py): non-embedding parameters per P, and the
# final losses on Stack-V2 Python and the Pile.
RUN_PARAMS = {
    1: [535813376, 693753856, 1088376320, 1571472384, 2774773760, 4353203200],
    2: [538195842, 696738818, 1092762882, 1577522690, 2784937986, 4368529922],
    4: [540577412, 699722756, 1097148164, 1583571460, 2795100164, 4383854084],
    8: [545340552, 705690632, 1105918728, 1595669000, 2815424520, 4414502408],
}
STACK_LOSS = {
    1: [1.1722, 1.1496, 1.1131, 1.0817, 1.0451, 1.0213],
    2: [1.1507, 1.1262, 1.094, 1.0623, 1.0244, 1.0025],
    4: [1.1354, 1.1124, 1.0808, 1.049, 1.0126, 0.9906],
    8: [1.1231, 1.0997, 1.0688, 1.0383, 1.0016, 0.9794],
}
PILE_LOSS = {
    1: [2.1113, 2.0671, 2.0027, 1.9539, 1.8876, 1.8451],
    2: [2.0772, 2.0363, 1.973, 1.9266, 1.861, 1.8137],
    4: [2.0544, 2.0128, 1.9509, 1.904, 1.8394, 1.7938],
    8: [2.0364, 1.9933, 1.9318, 1.8856, 1.8218, 1.7772],
}


@pytest.mark.parametrize(
    ("name", "consts", "measured"),
    [("parscale2025-stack", STACK, STACK_LOSS), ("parscale2025-pile", PILE, PILE_LOSS)],
)
def test_laws_fit_the_measured_runs(name: str, consts: tuple[float, ...], measured: dict) -> None:
    law = sp.parscale_law(name)
    for p, losses in measured.items():
        n = np.array(RUN_PARAMS[p], dtype=float)
        got = law.loss(n, p)
        np.testing.assert_allclose(got, [by_hand(consts, x, p) for x in n], rtol=1e-13)  # type: ignore[arg-type]
        # A fit of 24 runs: every run within 1%.
        np.testing.assert_allclose(got, losses, rtol=0.01)


SERVE = {"hardware": "h100-sxm", "prompt_tokens": 512, "gen_tokens": 1024}


def test_target_loss_closed_form_per_stream_count() -> None:
    """Where the cost rises with N (GPU-seconds at batch 1) the plan's N is the closed form for
    its P, computed here by hand."""
    for p in (1, 2, 4, 8):
        plan = sp.plan_parscale(target_loss=0.95, streams=[p], serving=sp.Serving(batch=1), **SERVE)
        assert plan.feasible and plan.streams == p
        assert plan.params == pytest.approx(inverse_by_hand(STACK, 0.95, p), rel=1e-9)
        assert plan.backbone_params == pytest.approx(
            plan.params / (1 + (0.002 * p if p > 1 else 0)), rel=1e-12
        )
        assert plan.loss == pytest.approx(0.95, rel=1e-9)
        assert plan.binding == "target_loss"
        assert plan.cost == plan.gpu_seconds
    one = sp.plan_parscale(target_loss=0.95, streams=[1], serving=sp.Serving(batch=1), **SERVE)
    assert one.single_stream_params == pytest.approx(one.params, rel=1e-12)
    assert one.single_stream_cost == pytest.approx(one.cost, rel=1e-12)


def test_streams_win_small_batch_lose_large() -> None:
    small = sp.plan_parscale(
        target_loss=1.02, objective="latency", serving=sp.Serving(batch=1), **SERVE
    )
    assert small.streams > 1 and small.extrapolated == ()
    assert small.cost < small.single_stream_cost
    assert f"{int(small.streams)} parallel streams" in small.explain()
    for batch in (64, "max"):
        large = sp.plan_parscale(
            target_loss=1.02,
            objective="eflops",
            serving=sp.Serving(batch=batch),  # type: ignore[arg-type]
            **SERVE,
        )
        assert large.streams == 1
        assert "One stream is the cheapest" in large.explain()


def test_array_goals_and_budget_dual() -> None:
    plan = sp.plan_parscale(target_loss=np.array([1.0, 0.95, 0.9]), **SERVE)
    assert plan.streams.shape == (3,)
    assert np.all(np.diff(plan.params) > 0)
    # The dual: the lowest loss within a per-query GPU-second budget, no cheaper than asked.
    budget = float(plan.cost[1])
    dual = sp.plan_parscale(budget=budget, **SERVE)
    assert dual.feasible and dual.cost <= budget * (1 + 1e-9)
    assert dual.loss <= 0.95 + 1e-6
    assert dual.binding in ("budget", "memory")
    none = sp.plan_parscale(budget=1e-12, **SERVE)
    assert not none.feasible and none.binding == "budget"
    assert "No plan" in none.explain()


def test_latency_slo_binds() -> None:
    # At the largest batch that fits, GPU-seconds favour one stream; P streams shrink the batch
    # (P times the KV cache per sequence) and so the latency.
    free = sp.plan_parscale(target_loss=1.02, **SERVE)
    fast = sp.plan_parscale(target_loss=1.02, objective="latency", **SERVE)
    assert free.streams == 1 and fast.streams > 1
    assert fast.latency_s < free.latency_s
    slo = 0.5 * (fast.latency_s + free.latency_s)
    bound = sp.plan_parscale(target_loss=1.02, max_latency_s=slo, **SERVE)
    assert bound.binding == "latency" and bound.latency_s <= slo
    assert bound.streams > 1 and bound.cost > free.cost
    # Relaxed past the unconstrained plan's latency, the SLO changes nothing.
    relaxed = sp.plan_parscale(target_loss=1.02, max_latency_s=free.latency_s * 1.001, **SERVE)
    assert (relaxed.streams, relaxed.binding) == (1, "target_loss")
    impossible = sp.plan_parscale(target_loss=1.02, max_latency_s=1e-3, **SERVE)
    assert not impossible.feasible and impossible.binding == "latency"


def test_bad_input_is_named() -> None:
    for bad in ([3], [1, 16], [], [True], ["2"]):
        with pytest.raises(InvalidArgumentError) as e:
            sp.plan_parscale(target_loss=1.0, streams=bad, **SERVE)  # type: ignore[arg-type]
        assert e.value.field == "streams"
    floor = sp.plan_parscale(target_loss=STACK[0], **SERVE)
    assert not floor.feasible and floor.binding == "loss_floor"
    assert "irreducible" in floor.explain()
    below = sp.plan_parscale(target_loss=0.5, **SERVE)
    assert below.binding == "loss_floor" and math.isnan(below.params)
    for kwargs, field in (
        ({"objective": "usd"}, "objective"),
        ({"max_latency_s": -1.0}, "max_latency_s"),
        ({"law": "hoffmann2022"}, "law"),
        ({"serving": sp.Serving(gpus="auto")}, "gpus"),
    ):
        with pytest.raises(ScaleplanError) as e:
            sp.plan_parscale(target_loss=1.0, **{**SERVE, **kwargs})  # type: ignore[arg-type]
        assert e.value.field == field
    with pytest.raises(InvalidArgumentError) as e:
        sp.plan_parscale(target_loss=1.0, budget=1.0, **SERVE)
    assert e.value.field == "budget"
    with pytest.raises(InvalidArgumentError) as e:
        sp.parscale_law("parscale2025-stack").loss(1e9, 3)
    assert e.value.field == "streams"


def test_cli_plan_parscale() -> None:
    args = ("--hardware", "h100-sxm", "--prompt-tokens", "512", "--gen-tokens", "1024")
    rows = json_lines(
        ok("plan", "parscale", "--target-loss", "1.0,0.95", *args, "--batch", "1", "--json").stdout
    )
    plan = sp.plan_parscale(target_loss=np.array([1.0, 0.95]), serving=sp.Serving(batch=1), **SERVE)
    assert [r["target_loss"] for r in rows] == [1.0, 0.95]
    for i, r in enumerate(rows):
        assert r["streams"] == plan.streams[i]
        assert r["params"] == pytest.approx(plan.params[i], rel=1e-12)
    table = ok("plan", "parscale", "--target-loss", "0.95", *args, "--explain").stdout
    assert "Parallel-stream plans" in table and "parallel stream" in table
    usage_error(run("plan", "parscale", "--target-loss", "1", *args, "--streams", "3"), "--streams")
    usage_error(
        run("plan", "parscale", "--target-loss", "1", *args, "--latency-slo", "-1"),
        "--latency-slo",
    )
    usage_error(run("plan", "parscale", "--target-loss", "1", *args, "--plot", "x.png"), "--plot")
    # A budget carries its unit, which picks the objective: GPU-hours are GPU time (x 3600 s).
    for budget, objective, value in (("1e-4gpu-h", "gpu_seconds", 0.36), ("60s", "latency", 60.0)):
        (row,) = json_lines(ok("plan", "parscale", "--budget", budget, *args, "--json").stdout)
        assert row["objective"] == objective and row["budget"] == pytest.approx(value)
        want = sp.plan_parscale(budget=value, objective=objective, **SERVE)  # type: ignore[arg-type]
        assert row["loss"] == pytest.approx(want.loss, rel=1e-9)
    usage_error(
        run("plan", "parscale", "--budget", "3s", *args, "--objective", "eflops"), "--objective"
    )
    usage_error(run("plan", "parscale", "--budget", "3", *args), "--budget")
    help_text = ok("plan", "parscale", "--help").stdout
    assert "parscale2025-stack" in help_text and "(default: 1,2,4,8)" in help_text
    assert "(default: gpu_seconds)" in help_text


def test_catalog_laws_lists_them_with_sources_and_domains() -> None:
    out = ok("catalog", "laws").stdout
    assert "parallel-scaling laws" in out
    for name in ("parscale2025-stack", "parscale2025-pile"):
        law = sp.parscale_law(name)
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert law.domain in line and "arXiv:2505.10475" in line and "1,2,4,8" in line


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.floats(0.7, 1.3),
    prompt=st.integers(0, 8192),
    gen=st.integers(1, 8192),
    batch=st.sampled_from([1, 4, 32, 256, "max", "unset"]),
    hardware=st.sampled_from(["h100-sxm", "a100-80gb", "h200"]),
    objective=st.sampled_from(["gpu_seconds", "latency", "eflops"]),
    allowed=st.sets(st.sampled_from([1, 2, 4, 8]), min_size=1),
)
def test_invariants(
    target: float,
    prompt: int,
    gen: int,
    batch: Any,
    hardware: str,
    objective: Any,
    allowed: set[int],
) -> None:
    """A feasible plan reaches the target with no NaN and one of the allowed stream counts; it
    never costs more than the best plan restricted to one allowed stream count."""
    common = {
        "hardware": hardware,
        "prompt_tokens": prompt,
        "gen_tokens": gen,
        "objective": objective,
        "serving": sp.Serving(batch=batch),
    }
    plan = sp.plan_parscale(target_loss=target, streams=sorted(allowed), **common)
    if not plan.feasible:
        assert plan.binding in ("memory", "latency", "context", "loss_floor")
        assert math.isnan(plan.params)
        return
    assert plan.streams in allowed and plan.loss <= target * (1 + 1e-9)
    # NaN only where the one-stream model of the same loss does not fit.
    for name, value in plan.to_dict().items():
        if isinstance(value, float) and name != "single_stream_cost":
            assert not math.isnan(value), name
    for p in allowed:
        alone = sp.plan_parscale(target_loss=target, streams=[p], **common)
        if alone.feasible:
            assert plan.cost <= alone.cost * (1 + 1e-9)


def test_a_user_catalog_adds_a_parscale_law() -> None:
    cat = sp.default_catalog().copy()
    entry = 'name = "mine"\nE = 1.0\nA = 1e7\nalpha = 0.2\nparams_min = 1e8\nparams_max = 1e9\n'
    cat.add_toml(f"[[parscale_law]]\n{entry}k = 0.3\n")
    law = sp.parscale_law("mine", cat)
    assert law.loss(5e8, 2) == pytest.approx(by_hand((1.0, 1e7, 0.2, 0.3), 5e8, 2), rel=1e-14)
    plan = sp.plan_parscale(target_loss=1.2, law="mine", catalog=cat, **SERVE)
    assert plan.feasible and plan.law == "mine"
    with pytest.raises(ScaleplanError) as e:
        cat.add_toml(f"[[parscale_law]]\n{entry.replace('mine', 'bad')}k = -0.3\n")
    assert e.value.field == "k"
