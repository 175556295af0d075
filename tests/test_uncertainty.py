"""Plans under uncertainty (docs/uncertainty.md): a planner given a LawFit against a Python loop
calling the same planner once per bootstrap sample's law, quantiles against numpy's, the
probabilities against the loop (the fixed plan's loss computed here from the law's formula),
and bad input named."""

from __future__ import annotations

import dataclasses
import threading
import warnings
from pathlib import Path
from typing import Any

import cli_support as cli
import grpc
import numpy as np
import numpy.typing as npt
import pytest
import scaleplan as sp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, ServerThread, stub
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan import _format as fmt
from scaleplan import uncertainty as uncertainty_module
from scaleplan.errors import Cancelled, InvalidArgumentError, LimitExceededError
from scaleplan.fit import KEYS, LawFit
from scaleplan.uncertainty import MAX_SAMPLE_PLANS
from scaleplan.v1 import catalog_pb2, planner_pb2

Arr = npt.NDArray[np.float64]
TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
REL = 1e-12


def _synthetic(n_runs: int, seed: int) -> tuple[Arr, Arr, Arr]:
    """Runs drawn from a Chinchilla-like law with 2% log-normal noise."""
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.0, 10.0, n_runs)
    d = 10 ** rng.uniform(9.0, 12.0, n_runs)
    t = TRUTH
    loss = t["E"] + t["A"] * n ** -t["alpha"] + t["B"] * d ** -t["beta"]
    return n, d, loss * np.exp(rng.normal(0.0, 0.02, n_runs))


@pytest.fixture(scope="module")
def fit() -> sp.LawFit:
    n, d, y = _synthetic(60, seed=3)
    f = sp.fit_law(n, d, y, bootstrap=40, seed=7)
    assert f.converged and f.samples.shape == (40, 5)
    return f


def sample_law(fit: sp.LawFit, row: Arr) -> sp.LossLaw:
    """The law of one sample, built in Python: the point law with the sample's numbers."""
    numbers: dict[str, Any] = dict(zip(KEYS, (float(v) for v in row), strict=True))
    return dataclasses.replace(fit.law, **numbers)


def formula_loss(row: Arr, n: float, d: float) -> float:
    e, a, b, alpha, beta = (float(v) for v in row)
    return float(e + a * n**-alpha + b * d**-beta)


def close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.allclose(a, b, rtol=REL, atol=0.0, equal_nan=True))


TRAINING_FIELDS = ("params", "tokens", "effective_tokens", "loss", "compute_flops")


# ---- training -------------------------------------------------------------------------------


@pytest.mark.parametrize("unique_tokens", [None, 3e11])
def test_training_budget_agrees_with_a_loop_over_the_samples(
    fit: sp.LawFit, unique_tokens: float | None
) -> None:
    budgets = np.array([1e20, 3e21, 1e23])
    point: Any = sp.plan_training(budget_flops=budgets, law=fit.law, unique_tokens=unique_tokens)
    # The point plan's own loss at the middle budget: the samples fall on both sides of it.
    reach = float(point.loss[1])
    plan = sp.plan_training(
        budget_flops=budgets, law=fit, unique_tokens=unique_tokens, reach_loss=reach
    )
    # The point plan is exactly what passing fit.law gives.
    for name in TRAINING_FIELDS:
        assert np.array_equal(getattr(plan, name), getattr(point, name)), name
    u: Any = plan.uncertainty
    assert u is not None and u.samples == len(fit.samples) and u.quantiles == sp.QUANTILES
    loop = {name: np.empty((len(fit.samples), 3)) for name in TRAINING_FIELDS}
    fixed = np.empty((len(fit.samples), 3))
    for s, row in enumerate(fit.samples):
        q = sp.plan_training(
            budget_flops=budgets, law=sample_law(fit, row), unique_tokens=unique_tokens
        )
        for name in TRAINING_FIELDS:
            loop[name][s] = getattr(q, name)
        for i in range(3):
            fixed[s, i] = formula_loss(
                row, float(point.params[i]), float(point.effective_tokens[i])
            )
    for name in TRAINING_FIELDS:
        assert close(u.per_sample[name], loop[name]), name
        assert close(u.bands[name], np.quantile(loop[name], sp.QUANTILES, axis=0)), name
    assert close(u.per_sample["fixed"], fixed)
    assert close(u.fixed, np.quantile(fixed, sp.QUANTILES, axis=0))
    assert np.array_equal(u.p_fixed, (fixed <= reach).mean(axis=0))
    assert np.array_equal(u.p_replanned, (loop["loss"] <= reach).mean(axis=0))
    assert np.array_equal(u.feasible_share, np.ones(3))
    # Both probabilities say something here: neither all nor none of the samples reach it at
    # the middle budget (otherwise this test could not tell them apart from a constant).
    assert 0.0 < float(u.p_fixed[1]) < 1.0 and 0.0 < float(u.p_replanned[1]) < 1.0


def test_training_target_probabilities_follow_their_definitions(fit: sp.LawFit) -> None:
    target = 2.4
    plan = sp.plan_training(target_loss=target, law=fit, quantiles=[0.05, 0.5, 0.95])
    u: Any = plan.uncertainty
    assert u is not None and u.quantiles == (0.05, 0.5, 0.95)
    compute, fixed = [], []
    for row in fit.samples:
        q = sp.plan_training(target_loss=target, law=sample_law(fit, row))
        compute.append(q.compute_flops)
        fixed.append(formula_loss(row, float(plan.params), float(plan.effective_tokens)))
    c, f = np.array(compute), np.array(fixed)
    assert close(u.bands["compute_flops"], np.quantile(c, [0.05, 0.5, 0.95]))
    assert u.threshold == target
    # fixed: the point plan's (N, D) reaches the target under the sample's law
    assert u.p_fixed == pytest.approx((f <= target).mean(), abs=0)
    # re-planned: the sample's cheapest plan reaching the target costs no more than the point's
    assert u.p_replanned == pytest.approx((c <= plan.compute_flops).mean(), abs=0)
    assert isinstance(u.p_fixed, float) and u.band("params")[0] <= u.band("params")[-1]
    assert "bootstrap samples" in plan.explain() and "probability" in plan.explain()


def test_array_goals_keep_their_shape_and_at_picks_one(fit: sp.LawFit) -> None:
    budgets = np.geomspace(1e20, 1e23, 6).reshape(2, 3)
    plan = sp.plan_training(budget_flops=budgets, law=fit)
    u: Any = plan.uncertainty
    assert u is not None and u.threshold is None and u.p_fixed is None and u.p_replanned is None
    assert np.shape(u.bands["params"]) == (3, 2, 3)
    assert np.shape(u.per_sample["params"]) == (len(fit.samples), 2, 3)
    one = plan.at((1, 2))
    assert one.uncertainty is not None
    single = sp.plan_training(budget_flops=float(budgets[1, 2]), law=fit)
    assert single.uncertainty is not None
    assert close(one.uncertainty.bands["params"], single.uncertainty.bands["params"])
    assert one.uncertainty.band("tokens") == single.uncertainty.band("tokens")


def test_join_concatenates_chunks(fit: sp.LawFit) -> None:
    budgets = np.geomspace(1e20, 1e23, 5)
    whole = sp.plan_training(budget_flops=budgets, law=fit)
    parts = [
        sp.plan_training(budget_flops=budgets[:2], law=fit),
        sp.plan_training(budget_flops=budgets[2:], law=fit),
    ]
    joined = sp.TrainingPlan.join(parts)
    assert joined.uncertainty is not None and whole.uncertainty is not None
    for k, v in whole.uncertainty.bands.items():
        assert close(joined.uncertainty.bands[k], v), k


# ---- lifetime -------------------------------------------------------------------------------

LIFETIME_FIELDS = ("params", "tokens", "loss", "training_cost", "inference_cost", "total_cost")


@pytest.mark.parametrize("goal", ["budget", "target_loss"])
def test_lifetime_agrees_with_a_loop_over_the_samples(fit: sp.LawFit, goal: str) -> None:
    values = np.array([1e22, 1e23]) if goal == "budget" else np.array([2.35, 2.6])
    demand: dict[str, Any] = {"queries": 1e9, "prompt_tokens": 512, "gen_tokens": 256}
    extra: dict[str, Any] = {"reach_loss": 2.4} if goal == "budget" else {}
    goals: dict[str, Any] = {goal: values}
    plan: Any = sp.plan_lifetime(**goals, law=fit, **demand, **extra)
    u: Any = plan.uncertainty
    assert u is not None
    loop = {name: np.empty((len(fit.samples), 2)) for name in LIFETIME_FIELDS}
    fixed = np.empty((len(fit.samples), 2))
    for s, row in enumerate(fit.samples):
        q = sp.plan_lifetime(**goals, law=sample_law(fit, row), **demand)
        for name in LIFETIME_FIELDS:
            loop[name][s] = getattr(q, name)
        fixed[s] = [
            formula_loss(row, float(plan.params[i]), float(plan.effective_tokens[i]))
            for i in range(2)
        ]
    for name in LIFETIME_FIELDS:
        assert close(u.per_sample[name], loop[name]), name
        assert close(u.bands[name], np.nanquantile(loop[name], sp.QUANTILES, axis=0)), name
    threshold = values if goal == "target_loss" else 2.4
    assert np.array_equal(u.p_fixed, (fixed <= threshold).mean(axis=0))
    met = (
        loop["total_cost"] <= np.asarray(plan.total_cost)
        if goal == "target_loss"
        else loop["loss"] <= 2.4
    )
    assert np.array_equal(u.p_replanned, met.mean(axis=0))


def test_lifetime_priced_by_the_cost_model_agrees_with_the_loop(fit: sp.LawFit) -> None:
    sub = dataclasses.replace(fit, samples=fit.samples[:6])
    kwargs: dict[str, Any] = {
        "budget": 2e5,
        "queries": 1e9,
        "prompt_tokens": 512,
        "gen_tokens": 256,
        "hardware": "h100-sxm",
        "family": "qwen3-dense",
        "unit": "gpu_hours",
    }
    plan = sp.plan_lifetime(law=sub, **kwargs)
    u: Any = plan.uncertainty
    assert u is not None
    for s, row in enumerate(sub.samples):
        q = sp.plan_lifetime(law=sample_law(sub, row), **kwargs)
        for name in ("params", "tokens", "gpus", "total_cost", "layers"):
            assert close(u.per_sample[name][s], getattr(q, name)), name


def test_infeasible_samples_are_left_out_of_the_quantiles_and_counted(fit: sp.LawFit) -> None:
    """A target between the samples' floors E: samples with E above it have no plan."""
    es = np.sort(fit.samples[:, 0])
    target = float((es[len(es) // 2 - 1] + es[len(es) // 2]) / 2)
    if not target > fit.estimate["E"]:
        target = fit.estimate["E"] + 1e-3
    plan = sp.plan_training(target_loss=target, law=fit)
    u: Any = plan.uncertainty
    assert u is not None
    has_plan = fit.samples[:, 0] < target
    assert u.feasible_share == pytest.approx(has_plan.mean(), abs=0)
    params = np.asarray(u.per_sample["params"])
    assert np.isnan(params[~has_plan]).all() and not np.isnan(params[has_plan]).any()
    assert close(u.bands["params"], np.quantile(params[has_plan], sp.QUANTILES))


@settings(max_examples=25, deadline=None)
@given(
    budget=st.floats(1e19, 1e25),
    levels=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    reach=st.floats(1.9, 3.0),
)
def test_bands_are_ordered_and_probabilities_are_shares(
    fit: sp.LawFit, budget: float, levels: list[float], reach: float
) -> None:
    plan = sp.plan_training(budget_flops=budget, law=fit, quantiles=levels, reach_loss=reach)
    u: Any = plan.uncertainty
    assert u is not None
    order = np.argsort(levels)
    for name, band in u.bands.items():
        values = np.asarray(band)[order]
        assert np.all(np.diff(values) >= -1e-12 * np.abs(values[1:])), name
    for p in (u.p_fixed, u.p_replanned):
        assert p is not None and 0.0 <= float(p) <= 1.0
        assert float(p) * u.samples == pytest.approx(round(float(p) * u.samples), abs=1e-9)


# ---- bad input ------------------------------------------------------------------------------


def test_a_fit_without_samples_is_an_error_naming_law(fit: sp.LawFit) -> None:
    bare = dataclasses.replace(fit, samples=np.zeros((0, 5)))
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_training(budget_flops=1e21, law=bare)
    assert caught.value.field == "law" and "bootstrap" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantiles": [0.5]}, "quantiles"),
        ({"reach_loss": 2.0}, "reach_loss"),
    ],
)
def test_uncertainty_options_without_a_fit_are_named(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_training(budget_flops=1e21, **kwargs)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field", "error"),
    [
        ({"budget_flops": 1e21, "quantiles": [1.5]}, "quantiles", InvalidArgumentError),
        ({"budget_flops": 1e21, "quantiles": []}, "quantiles", InvalidArgumentError),
        ({"budget_flops": 1e21, "quantiles": "x"}, "quantiles", InvalidArgumentError),
        ({"budget_flops": 1e21, "quantiles": [0.5] * 100}, "quantiles", LimitExceededError),
        ({"target_loss": 2.5, "reach_loss": 2.4}, "reach_loss", InvalidArgumentError),
        ({"budget_flops": 1e21, "reach_loss": float("nan")}, "reach_loss", InvalidArgumentError),
        ({"budget_flops": 1e21, "reach_loss": "2"}, "reach_loss", InvalidArgumentError),
    ],
)
def test_bad_uncertainty_options_are_named(
    fit: sp.LawFit, kwargs: dict[str, Any], field: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        sp.plan_training(law=fit, **kwargs)
    assert getattr(caught.value, "field", None) == field


def test_an_invalid_sample_is_named_with_its_row(fit: sp.LawFit) -> None:
    samples = fit.samples.copy()
    samples[3, 1] = -1.0  # A < 0
    bad = dataclasses.replace(fit, samples=samples)
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_lifetime(budget=1e22, queries=1e9, prompt_tokens=10, gen_tokens=10, law=bad)
    assert caught.value.field == "law_samples" and caught.value.index == 3
    assert "A" in str(caught.value)


def test_the_sample_count_and_plan_count_are_bounded(fit: sp.LawFit) -> None:
    many = dataclasses.replace(
        fit, samples=np.repeat(fit.samples[:1], sp.uncertainty.MAX_LAW_SAMPLES + 1, axis=0)
    )
    with pytest.raises(LimitExceededError) as caught:
        sp.plan_training(budget_flops=1e21, law=many)
    assert (
        caught.value.field == "law_samples" and caught.value.limit == sp.uncertainty.MAX_LAW_SAMPLES
    )
    budgets = np.full(sp.uncertainty.MAX_SAMPLE_PLANS // len(fit.samples) + 1, 1e21)
    with pytest.raises(LimitExceededError) as caught:
        sp.plan_training(budget_flops=budgets, law=fit)
    assert caught.value.limit == MAX_SAMPLE_PLANS


def test_a_cancelled_token_stops_the_per_sample_plans(fit: sp.LawFit) -> None:
    many = dataclasses.replace(fit, samples=np.repeat(fit.samples, 250, axis=0))  # 10,000
    token = sp.CancelToken()
    timer = threading.Timer(0.05, token.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            sp.plan_lifetime(
                budget=np.geomspace(1e21, 1e24, 100),
                queries=1e9,
                prompt_tokens=512,
                gen_tokens=256,
                law=many,
                cancel=token,
            )
    finally:
        timer.cancel()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(1e-3, 1e4), min_size=5, max_size=5))
def test_a_law_given_in_python_reaches_the_core_exactly(numbers: list[float]) -> None:
    """The loop above must plan the very numbers the core plans: a law crosses into the core
    as JSON, parsed with serde_json's exact (float_roundtrip) parsing."""
    values: dict[str, Any] = dict(zip(KEYS, numbers, strict=True))
    law = sp.LossLaw(name="x", **values)
    assert sp.LossLaw._from_native(law._native) == law


# ---- gRPC -----------------------------------------------------------------------------------


def assert_same_uncertainty(got: sp.Uncertainty, want: sp.Uncertainty) -> None:
    assert (got.samples, got.quantiles) == (want.samples, want.quantiles)
    assert set(got.bands) == set(want.bands) and set(got.per_sample) == set(want.per_sample)
    for k in want.bands:
        assert np.array_equal(got.bands[k], want.bands[k], equal_nan=True), k
        assert np.array_equal(got.per_sample[k], want.per_sample[k], equal_nan=True), k
    assert np.array_equal(got.fixed, want.fixed, equal_nan=True)
    for name in ("feasible_share", "threshold", "p_fixed", "p_replanned"):
        assert getattr(got, name) == getattr(want, name), name


def test_the_planner_rpcs_carry_the_samples_and_the_uncertainty(
    client: sp.Client, fit: sp.LawFit
) -> None:
    want = sp.plan_training(budget_flops=3e21, law=fit, reach_loss=2.3, quantiles=[0.25, 0.75])
    got = client.plan_training(budget_flops=3e21, law=fit, reach_loss=2.3, quantiles=[0.25, 0.75])
    assert got.params == want.params and got.uncertainty is not None
    assert want.uncertainty is not None
    assert_same_uncertainty(got.uncertainty, want.uncertainty)
    demand: dict[str, Any] = {"queries": 1e9, "prompt_tokens": 512, "gen_tokens": 256}
    want_l = sp.plan_lifetime(target_loss=2.4, law=fit, **demand)
    got_l = client.plan_lifetime(target_loss=2.4, law=fit, **demand)
    assert got_l.total_cost == want_l.total_cost
    assert got_l.uncertainty is not None and want_l.uncertainty is not None
    assert_same_uncertainty(got_l.uncertainty, want_l.uncertainty)
    # Without samples, no uncertainty travels.
    assert client.plan_training(budget_flops=3e21, law=fit.law).uncertainty is None


LAW = catalog_pb2.Law(
    name="x",
    irreducible_loss=1.8,
    params_coefficient=400,
    tokens_coefficient=400,
    params_exponent=0.3,
    tokens_exponent=0.3,
)


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (
            planner_pb2.PlanTrainingRequest(
                budget_flops=1e21,
                law_name="hoffmann2022",
                law_samples=planner_pb2.LawSamples(values=[1.8, 400, 400, 0.3, 0.3]),
            ),
            "law_samples",
        ),
        (
            planner_pb2.PlanTrainingRequest(
                budget_flops=1e21,
                custom_law=LAW,
                law_samples=planner_pb2.LawSamples(values=[1.8, 400, 400, 0.3]),
            ),
            "law_samples",
        ),
        (
            planner_pb2.PlanTrainingRequest(
                budget_flops=1e21,
                custom_law=LAW,
                law_samples=planner_pb2.LawSamples(values=[1.8, -4, 400, 0.3, 0.3]),
            ),
            "law_samples",
        ),
        (
            planner_pb2.PlanTrainingRequest(
                budget_flops=1e21,
                custom_law=LAW,
                law_samples=planner_pb2.LawSamples(values=[1.8, 400, 400, 0.3, 0.3]),
                quantiles=[2.0],
            ),
            "quantiles",
        ),
        (planner_pb2.PlanTrainingRequest(budget_flops=1e21, reach_loss=2.0), "reach_loss"),
    ],
)
def test_bad_uncertainty_requests_name_their_field(request_: Any, path: str) -> None:
    with (
        ServerThread() as server,
        grpc.insecure_channel(server.target) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        stub(channel).PlanTraining(request_, timeout=TIMEOUT_S)
    exc = caught.value
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(exc)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    # an invalid sample is named by its row: law_samples[0]
    assert bad.field_violations[0].field.split("[")[0] == path


# ---- CLI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fit_file(fit: sp.LawFit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    fit.save(path)
    return path


def test_cli_prints_the_band_next_to_each_decision_and_the_probabilities(
    fit: sp.LawFit, fit_file: Path
) -> None:
    out = cli.ok(
        "plan",
        "training",
        "--budget",
        "3e21flops",
        "--law-fit",
        str(fit_file),
        "--reach-loss",
        "2.3",
    )
    want = sp.plan_training(budget_flops=3e21, law=fit, reach_loss=2.3)
    u: Any = want.uncertainty
    header = out.stdout.splitlines()[1]
    assert "params P10/P50/P90" in header and "loss P10/P50/P90" in header
    band = "/".join(fmt.si(v) for v in u.band("params"))
    assert band in out.stdout
    assert f"P(loss <= 2.3) committing to this plan (fixed plan, per sample): {u.p_fixed:.1%}" in (
        out.stdout
    )
    assert f"(re-planned per sample): {u.p_replanned:.1%}" in out.stdout
    row = cli.json_lines(
        cli.ok(
            "plan",
            "training",
            "--budget",
            "3e21flops",
            "--law-fit",
            str(fit_file),
            "--quantiles",
            "0.05,0.95",
            "--json",
        ).stdout
    )[0]
    levels = sp.plan_training(budget_flops=3e21, law=fit, quantiles=[0.05, 0.95])
    lu: Any = levels.uncertainty
    assert row["params_p5"] == lu.band("params")[0] and row["params_p95"] == lu.band("params")[1]
    assert row["p_fixed"] is None and row["params"] == want.params


def test_cli_lifetime_with_a_fit_and_a_target(fit: sp.LawFit, fit_file: Path) -> None:
    args = ["--queries", "1e10", "--prompt-tokens", "512", "--gen-tokens", "256"]
    out = cli.ok(
        "plan", "lifetime", "--target-loss", "2.3", *args, "--law-fit", str(fit_file), "--csv"
    )
    row = cli.csv_rows(out.stdout)[0]
    want = sp.plan_lifetime(
        target_loss=2.3, queries=1e10, prompt_tokens=512, gen_tokens=256, law=fit
    )
    u: Any = want.uncertainty
    assert float(row["total_cost_p90"]) == u.band("total_cost")[2]
    assert float(row["p_fixed"]) == u.p_fixed and float(row["p_replanned"]) == u.p_replanned


def test_cli_uncertainty_options_are_checked(
    fit: sp.LawFit, fit_file: Path, tmp_path: Path
) -> None:
    cli.usage_error(
        cli.run("plan", "training", "--budget", "1e21flops", "--reach-loss", "2"), "--reach-loss"
    )
    cli.usage_error(
        cli.run(
            "plan",
            "training",
            "--budget",
            "1e21flops",
            "--law-fit",
            str(fit_file),
            "--quantiles",
            "1.5",
        ),
        "--quantiles",
    )
    cli.usage_error(
        cli.run(
            "plan",
            "training",
            "--target-loss",
            "2.3",
            "--law-fit",
            str(fit_file),
            "--reach-loss",
            "2.2",
        ),
        "--reach-loss",
    )
    bare = tmp_path / "bare.json"
    dataclasses.replace(fit, samples=np.zeros((0, 5))).save(bare)
    out = cli.ok("plan", "training", "--budget", "1e21flops", "--law-fit", str(bare))
    assert "P10/P50/P90" not in out.stdout and "no bootstrap samples" in out.stderr


@settings(max_examples=50, deadline=None)
@given(
    samples=st.integers(1, 40),
    columns=st.integers(1, 6),
    nan_share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_quantiles_are_numpys_nanquantile(
    samples: int, columns: int, nan_share: float, seed: int
) -> None:
    """The fast path (np.quantile where a column has no NaN) agrees with np.nanquantile."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(size=(samples, columns, 2))
    values[rng.random(values.shape) < nan_share] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanquantile(values, sp.QUANTILES, axis=0)
    got = uncertainty_module._quantiles(values, sp.QUANTILES)
    assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True)


# ---- joint ----------------------------------------------------------------------------------

# A small joint problem (few samples per query, a narrow length range) keeps each plan fast.
JOINT: dict[str, Any] = {
    "queries": 1e8,
    "k_max": 4,
    "min_gen_tokens": 512,
    "max_gen_tokens": 4096,
}


@pytest.fixture(scope="module")
def joint_fit(fit: sp.LawFit) -> sp.LawFit:
    """The fit with the gadre2024-redpajama error law (the joint planner needs one); five
    samples."""
    error = sp.law("gadre2024-redpajama").error
    assert error is not None
    return dataclasses.replace(fit.with_error(error), samples=fit.samples[:5])


def test_joint_budget_agrees_with_a_loop_over_the_samples(joint_fit: sp.LawFit) -> None:
    budgets = np.array([3e5, 3e6])
    plan = sp.plan_joint(budget=budgets, law=joint_fit, reach_accuracy=0.5, **JOINT)
    point = sp.plan_joint(budget=budgets, law=joint_fit.law, **JOINT)
    for name in ("params", "tokens", "samples", "gen_tokens", "accuracy", "total_cost"):
        assert np.array_equal(getattr(plan, name), getattr(point, name)), name
    u: Any = plan.uncertainty
    assert u.outcome == "accuracy" and "marginal_accuracy" not in u.bands
    fields = ("params", "tokens", "samples", "gen_tokens", "accuracy", "loss", "total_cost")
    loop = {name: np.empty((5, 2)) for name in fields}
    for s, row in enumerate(joint_fit.samples):
        q = sp.plan_joint(budget=budgets, law=sample_law(joint_fit, row), **JOINT)
        for name in fields:
            loop[name][s] = getattr(q, name)
    for name in fields:
        assert close(u.per_sample[name], loop[name]), name
        assert close(u.bands[name], np.quantile(loop[name], sp.QUANTILES, axis=0)), name
    assert np.array_equal(u.p_replanned, (loop["accuracy"] >= 0.5).mean(axis=0))
    assert np.array_equal(u.p_fixed, (np.asarray(u.per_sample["fixed"]) >= 0.5).mean(axis=0))


def test_joint_fixed_accuracy_is_the_point_plans_under_its_own_law(joint_fit: sp.LawFit) -> None:
    """A sample equal to the point law: the fixed plan's accuracy is the point plan's own
    (evaluated at its configuration with its total budget), to rounding."""
    own = np.array(
        [
            [
                joint_fit.law.E,
                joint_fit.law.A,
                joint_fit.law.B,
                joint_fit.law.alpha,
                joint_fit.law.beta,
            ]
        ]
    )
    same = dataclasses.replace(joint_fit, samples=np.repeat(own, 2, axis=0))
    plan = sp.plan_joint(budget=1e6, law=same, **JOINT)
    u: Any = plan.uncertainty
    assert np.allclose(u.per_sample["fixed"], plan.accuracy, rtol=1e-9, atol=0)
    assert np.allclose(u.per_sample["accuracy"], plan.accuracy, rtol=1e-12, atol=0)


def test_joint_target_accuracy_probabilities(joint_fit: sp.LawFit) -> None:
    two = dataclasses.replace(joint_fit, samples=joint_fit.samples[:2])
    plan = sp.plan_joint(target_accuracy=0.5, law=two, **JOINT)
    u: Any = plan.uncertainty
    costs = [
        sp.plan_joint(target_accuracy=0.5, law=sample_law(two, row), **JOINT).total_cost
        for row in two.samples
    ]
    assert u.threshold == 0.5
    assert u.p_replanned == pytest.approx((np.array(costs) <= plan.total_cost).mean(), abs=0)
    assert u.p_fixed == pytest.approx((np.asarray(u.per_sample["fixed"]) >= 0.5).mean(), abs=0)


def test_joint_bad_uncertainty_input_is_named(joint_fit: sp.LawFit, fit: sp.LawFit) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_joint(target_accuracy=0.5, law=joint_fit, reach_accuracy=0.5, **JOINT)
    assert caught.value.field == "reach_accuracy"
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_joint(budget=1e6, reach_accuracy=0.5, **JOINT)
    assert caught.value.field == "reach_accuracy"
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_joint(budget=1e6, law=joint_fit, reach_accuracy=1.5, **JOINT)
    assert caught.value.field == "reach_accuracy"
    with pytest.raises(InvalidArgumentError) as caught:  # no error law on the fit's law
        sp.plan_joint(budget=1e6, law=fit, **JOINT)
    assert caught.value.field == "law"


def test_plan_joint_rpc_carries_the_uncertainty(client: sp.Client, joint_fit: sp.LawFit) -> None:
    want = sp.plan_joint(budget=1e6, law=joint_fit, reach_accuracy=0.5, **JOINT)
    got = client.plan_joint(budget=1e6, law=joint_fit, reach_accuracy=0.5, **JOINT)
    assert got.accuracy == want.accuracy
    assert got.uncertainty is not None and want.uncertainty is not None
    assert_same_uncertainty(got.uncertainty, want.uncertainty)
    assert got.uncertainty.outcome == "accuracy"
    with pytest.raises(InvalidArgumentError) as caught:
        client.frontier_joint(budgets=[1e5, 1e6], law=joint_fit, **JOINT)
    assert caught.value.field == "law"


def test_cli_joint_with_a_fit_needs_an_error_law_and_prints_bands(
    joint_fit: sp.LawFit, fit_file: Path
) -> None:
    args = [
        "plan",
        "joint",
        "--budget",
        "3e5gpu-h",
        "--queries",
        "1e8",
        "--k-max",
        "4",
        "--min-gen-tokens",
        "512",
        "--max-gen-tokens",
        "4096",
        "--law-fit",
        str(fit_file),
    ]
    cli.usage_error(cli.run(*args), "--error-law")
    cli.usage_error(cli.run(*args[:-2], "--reach-accuracy", "0.5"), "--reach-accuracy")
    row = cli.json_lines(
        cli.ok(
            *args, "--error-law", "gadre2024-redpajama", "--reach-accuracy", "0.5", "--json"
        ).stdout
    )[0]
    fit = LawFit.load(fit_file)
    error = sp.law("gadre2024-redpajama").error
    assert error is not None
    want = sp.plan_joint(budget=3e5, law=fit.with_error(error), reach_accuracy=0.5, **JOINT)
    u: Any = want.uncertainty
    assert row["accuracy_p90"] == u.band("accuracy")[2] and row["p_fixed"] == u.p_fixed


@pytest.mark.parametrize("name", ["muennighoff2023", "besiroglu2024"])
def test_samples_equal_to_the_point_law_reproduce_the_point_plan_under_a_data_limit(
    name: str,
) -> None:
    """Every sample is the point law (five columns; a muennighoff point law lends the samples its
    R*_D and R*_N): the committed plan's loss under each sample is the point plan's loss, and the
    probabilities follow from it alone (it misses 0.01 below its loss, reaches 0.01 above)."""
    law = sp.law(name)
    fit = sp.LawFit.from_samples(law, [[law.E, law.A, law.B, law.alpha, law.beta]] * 4)
    point = sp.plan_training(budget_flops=1e23, law=law, unique_tokens=1e10)
    for reach, p in ((point.loss - 0.01, 0.0), (point.loss + 0.01, 1.0)):
        plan = sp.plan_training(budget_flops=1e23, law=fit, unique_tokens=1e10, reach_loss=reach)
        assert plan.loss == point.loss
        u = plan.uncertainty
        assert u is not None
        np.testing.assert_allclose(u.fixed, point.loss, rtol=1e-12)
        assert (u.p_fixed, u.p_replanned) == (p, p)
