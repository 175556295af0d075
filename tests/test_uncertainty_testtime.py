"""Test-time plans under an accuracy fit's bootstrap samples (docs/uncertainty.md, "Test-time
plans"): plan_test_time given an AccuracyFit against a Python loop calling plan_test_time once
per sample with that sample's fit (built here, without samples), the point plan's accuracy under
each sample computed here through Accuracy.__call__, quantiles against numpy's, the
probabilities against the loop, the surfaces (gRPC, CLI) against the façade, and bad input
named."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import cli_support as cli
import numpy as np
import pytest
import scaleplan as sp
from scaleplan.errors import Cancelled, InvalidArgumentError, LimitExceededError
from scaleplan.uncertainty import MAX_SAMPLE_PLANS

# Per (model, length): the Beta(a, b) of per-problem success the eval rows are drawn from.
TRUTH = {
    ("qwen3-4b", 4096): (0.6, 1.4),
    ("qwen3-4b", 16384): (0.8, 1.1),
    ("qwen3-8b", 4096): (0.9, 1.2),
    ("qwen3-8b", 16384): (1.2, 0.9),
}
BUDGETS = np.geomspace(3e14, 3e17, 7)
PLAN_FIELDS = ("samples", "gen_tokens", "accuracy", "cost", "eflops", "seconds", "latency_s")


def draw_rows(problems: int, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for (model, length), (a, b) in TRUTH.items():
        p = rng.beta(a, b, problems)
        c = rng.binomial(n, p)
        rows += [
            {"model": model, "gen_tokens": length, "problem": f"q{i}", "n": n, "c": int(c[i])}
            for i in range(problems)
        ]
    return rows


@pytest.fixture(scope="module")
def fit() -> sp.AccuracyFit:
    f = sp.fit_accuracy(draw_rows(40, 8, seed=11), bootstrap=30, seed=5)
    assert f.converged and all(len(g.samples) == 30 for g in f.fits)
    return f


def sample_fit(fit: sp.AccuracyFit, s: int) -> sp.AccuracyFit:
    """The fit of bootstrap sample s, built in Python: each (model, length) with its s-th
    resample's (a, b) as the estimate, and no samples of its own."""
    fits = tuple(
        dataclasses.replace(
            g, a=float(g.samples[s, 0]), b=float(g.samples[s, 1]), samples=np.empty((0, 2))
        )
        for g in fit.fits
    )
    return dataclasses.replace(fit, fits=fits, bootstrap=0)


def loop(fit: sp.AccuracyFit, budgets: Any, **kw: Any) -> list[sp.TestTimePlan]:
    return [
        sp.plan_test_time(budget_eflops=budgets, accuracy=sample_fit(fit, s), **kw)
        for s in range(len(fit.fits[0].samples))
    ]


def model_size(name: Any) -> float:
    return float(sp.model(str(name)).total_params) if name is not None else np.nan


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # the infeasible budget
def test_per_sample_plans_agree_with_a_loop_over_the_samples(fit: sp.AccuracyFit) -> None:
    plan = sp.plan_test_time(budget_eflops=BUDGETS, accuracy=fit, reach_accuracy=0.7)
    u = plan.uncertainty
    assert u is not None and u.samples == 30 and u.outcome == "accuracy"
    plans = loop(fit, BUDGETS)
    names = sorted({g.model for g in fit.fits})  # the candidates: the fit's models, in order
    for s, p in enumerate(plans):
        for name in PLAN_FIELDS:
            want = np.asarray(getattr(p, name), dtype=float)
            assert np.array_equal(u.per_sample[name][s], want, equal_nan=True), (s, name)
        chosen = [names.index(m) if m is not None else np.nan for m in p.model]
        assert np.array_equal(u.per_sample["model"][s], chosen, equal_nan=True), s
        sizes = [model_size(m) for m in p.model]
        assert np.array_equal(u.per_sample["model_params"][s], sizes, equal_nan=True), s
        attention = np.where(p.feasible, 0.0, np.nan)
        assert np.array_equal(u.per_sample["attention"][s], attention, equal_nan=True)
    # The decisions vary over the samples somewhere (else this test would prove little).
    assert np.nanmax(np.ptp(u.per_sample["samples"], axis=0)) > 0
    assert np.nanmax(np.ptp(u.per_sample["gen_tokens"], axis=0)) > 0
    # Quantiles: numpy's, over the samples with a plan.
    for name in (*PLAN_FIELDS, "model_params"):
        want = np.nanquantile(u.per_sample[name], [0.1, 0.5, 0.9], axis=0)
        assert np.array_equal(u.bands[name], want, equal_nan=True), name
    # Fixed plan: the point plan's (model, k, L) under each sample's fit, computed here.
    fixed = np.array(
        [
            [
                sample_fit(fit, s).accuracy(str(m), float(g), int(k)) if ok else np.nan
                for m, g, k, ok in zip(
                    plan.model, plan.gen_tokens, plan.samples, plan.feasible, strict=True
                )
            ]
            for s in range(30)
        ]
    )
    assert np.allclose(u.per_sample["fixed"], fixed, rtol=1e-12, atol=0, equal_nan=True)
    # NaN where the point plan does not exist (the smallest budget), else shares of the samples.
    assert not plan.feasible[0] and np.all(plan.feasible[1:])
    want_fixed = np.where(plan.feasible, (fixed >= 0.7).mean(axis=0), np.nan)
    assert np.array_equal(u.p_fixed, want_fixed, equal_nan=True)
    replanned = np.array([np.asarray(p.accuracy) >= 0.7 for p in plans]).mean(axis=0)
    assert np.array_equal(u.p_replanned, np.where(plan.feasible, replanned, np.nan), equal_nan=True)
    assert np.any((u.p_fixed > 0) & (u.p_fixed < 1))  # some budget is in doubt


def test_the_point_plan_is_the_plan_of_the_fits_accuracy(fit: sp.AccuracyFit) -> None:
    with_fit = sp.plan_test_time(budget_eflops=BUDGETS, accuracy=fit)
    point = sp.plan_test_time(budget_eflops=BUDGETS, accuracy=fit.accuracy)
    assert point.uncertainty is None and with_fit.uncertainty is not None
    for name, value in point.to_dict().items():
        if name not in ("uncertainty", "provenance"):
            got, want = np.asarray(with_fit.to_dict()[name]), np.asarray(value)
            if want.dtype.kind == "f":
                assert np.array_equal(got, want, equal_nan=True), name
            else:
                assert got.tolist() == want.tolist(), name
    assert with_fit.uncertainty.p_fixed is None and with_fit.uncertainty.threshold is None
    # The same inputs, and the samples the bands rest on.
    *inputs, samples = with_fit.provenance.inputs
    assert tuple(inputs) == point.provenance.inputs
    assert (samples.name, samples.n) == ("accuracy_samples", with_fit.uncertainty.samples)


def test_scalar_and_array_budgets_and_the_frontier_agree(fit: sp.AccuracyFit) -> None:
    grid = BUDGETS[:6].reshape(2, 3)
    plan = sp.plan_test_time(budget_eflops=grid, accuracy=fit, reach_accuracy=0.6)
    u = plan.uncertainty
    assert u is not None and u.bands["accuracy"].shape == (3, 2, 3)
    assert u.per_sample["accuracy"].shape == (30, 2, 3) and np.shape(u.p_fixed) == (2, 3)
    one = sp.plan_test_time(budget_eflops=float(grid[1, 2]), accuracy=fit, reach_accuracy=0.6)
    assert one.uncertainty is not None
    assert one.uncertainty.band("accuracy") == tuple(u.bands["accuracy"][:, 1, 2])
    assert one.uncertainty.p_fixed == u.p_fixed[1, 2]
    assert plan.at((1, 2)).uncertainty.band("gen_tokens") == one.uncertainty.band("gen_tokens")
    frontier = sp.frontier_test_time(budgets=grid.ravel(), accuracy=fit, reach_accuracy=0.6)
    fu = frontier.plan.uncertainty
    assert fu is not None
    assert np.array_equal(fu.bands["accuracy"], u.bands["accuracy"].reshape(3, 6), equal_nan=True)
    assert "P(accuracy >= 0.6) committing to this plan" in one.explain()


def test_a_latency_slo_and_a_usd_budget_are_planned_per_sample_too(fit: sp.AccuracyFit) -> None:
    kw: dict[str, Any] = {"latency_slo_s": 20.0, "hardware": "h100-sxm"}
    plan = sp.plan_test_time(budget_eflops=BUDGETS[-3:], accuracy=fit, **kw)
    u = plan.uncertainty
    assert u is not None
    for s, p in enumerate(loop(fit, BUDGETS[-3:], **kw)):
        assert np.array_equal(u.per_sample["latency_s"][s], p.latency_s, equal_nan=True)
        assert np.all(np.asarray(p.latency_s)[np.asarray(p.feasible)] <= 20.0 * (1 + 1e-12))


def test_infeasible_budgets_leave_no_plan_in_any_sample(fit: sp.AccuracyFit) -> None:
    plan = sp.plan_test_time(budget_eflops=1e6, accuracy=fit, reach_accuracy=0.5)
    u = plan.uncertainty
    assert not plan.feasible and u is not None
    assert u.feasible_share == 0.0 and np.isnan(u.p_fixed) and np.isnan(u.p_replanned)
    assert all(np.isnan(v) for v in u.band("accuracy"))


def test_a_fit_without_bootstrap_plans_the_point_alone(fit: sp.AccuracyFit) -> None:
    bare = dataclasses.replace(sample_fit(fit, 0))
    plan = sp.plan_test_time(budget_eflops=1e16, accuracy=bare)
    assert plan.uncertainty is None and plan.feasible
    for name, value in (("quantiles", [0.5]), ("reach_accuracy", 0.5)):
        with pytest.raises(InvalidArgumentError) as caught:
            sp.plan_test_time(budget_eflops=1e16, accuracy=bare, **{name: value})
        assert caught.value.field == name
        with pytest.raises(InvalidArgumentError) as caught:
            sp.plan_test_time(budget_eflops=1e16, **{name: value})  # a preset
        assert caught.value.field == name


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reach_accuracy": 1.5}, "reach_accuracy"),
        ({"reach_accuracy": 0.0}, "reach_accuracy"),
        ({"reach_accuracy": float("nan")}, "reach_accuracy"),
        ({"quantiles": [1.2]}, "quantiles"),
        ({"quantiles": list(np.linspace(0, 1, 100))}, "quantiles"),
    ],
)
def test_bad_options_are_named(fit: sp.AccuracyFit, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(budget_eflops=1e16, accuracy=fit, **kwargs)
    assert caught.value.field == field


def test_a_group_without_resamples_and_a_bad_sample_are_named(fit: sp.AccuracyFit) -> None:
    fits = list(fit.fits)
    fits[1] = dataclasses.replace(fits[1], samples=np.empty((0, 2)))
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(budget_eflops=1e16, accuracy=dataclasses.replace(fit, fits=tuple(fits)))
    assert caught.value.field == "accuracy_fit" and "qwen3-4b at 16384" in str(caught.value)
    bad = fit.fits[2].samples.copy()
    bad[7, 0] = -1.0
    fits = list(fit.fits)
    fits[2] = dataclasses.replace(fits[2], samples=bad)
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(budget_eflops=1e16, accuracy=dataclasses.replace(fit, fits=tuple(fits)))
    assert caught.value.field == "accuracy_fit" and caught.value.index == 7


def test_groups_with_fewer_resamples_set_the_sample_count(fit: sp.AccuracyFit) -> None:
    fits = list(fit.fits)
    fits[3] = dataclasses.replace(fits[3], samples=fits[3].samples[:12])
    short = dataclasses.replace(fit, fits=tuple(fits))
    plan = sp.plan_test_time(budget_eflops=BUDGETS, accuracy=short)
    assert plan.uncertainty is not None and plan.uncertainty.samples == 12
    full = sp.plan_test_time(budget_eflops=BUDGETS, accuracy=fit)
    assert full.uncertainty is not None
    for name in PLAN_FIELDS:
        assert np.array_equal(
            plan.uncertainty.per_sample[name],
            full.uncertainty.per_sample[name][:12],
            equal_nan=True,
        )


def test_the_plan_count_is_bounded_and_cancellation_stops_it(fit: sp.AccuracyFit) -> None:
    budgets = np.full(MAX_SAMPLE_PLANS // 30 + 1, 1e16)
    with pytest.raises(LimitExceededError) as caught:
        sp.plan_test_time(budget_eflops=budgets, accuracy=fit)
    assert caught.value.field == "accuracy_fit" and caught.value.limit == MAX_SAMPLE_PLANS
    many = dataclasses.replace(
        fit,
        fits=tuple(
            dataclasses.replace(g, samples=np.repeat(g.samples, 300, axis=0)) for g in fit.fits
        ),
    )  # 9,000 samples
    token = sp.CancelToken()
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            sp.plan_test_time(budget_eflops=BUDGETS, accuracy=many, cancel=token)
    finally:
        timer.cancel()


# ---- gRPC and CLI -----------------------------------------------------------------------------


def test_plan_test_time_rpc_carries_the_samples_and_the_uncertainty(
    client: sp.Client, fit: sp.AccuracyFit
) -> None:
    kw: dict[str, Any] = {"reach_accuracy": 0.7, "quantiles": [0.25, 0.75]}
    want = sp.plan_test_time(budget_eflops=3e16, accuracy=fit, **kw)
    got = client.plan_test_time(budget_eflops=3e16, accuracy=fit, **kw)
    assert got.accuracy == want.accuracy and got.uncertainty is not None
    w = want.uncertainty
    assert w is not None
    assert got.uncertainty.quantiles == (0.25, 0.75) and got.uncertainty.samples == 30
    for k in w.bands:
        assert np.array_equal(got.uncertainty.bands[k], w.bands[k], equal_nan=True), k
    for k in w.per_sample:
        assert np.array_equal(got.uncertainty.per_sample[k], w.per_sample[k], equal_nan=True), k
    assert (got.uncertainty.p_fixed, got.uncertainty.p_replanned) == (w.p_fixed, w.p_replanned)
    # The fit's point accuracy alone: no samples travel, no uncertainty comes back.
    assert client.plan_test_time(budget_eflops=3e16, accuracy=fit.accuracy).uncertainty is None
    with pytest.raises(InvalidArgumentError) as caught:
        client.plan_test_time(budget_eflops=3e16, accuracy=fit, reach_accuracy=2.0)
    assert caught.value.field == "reach_accuracy"
    with pytest.raises(InvalidArgumentError) as caught:
        client.frontier_test_time(budgets=[1e16], accuracy=fit, reach_accuracy=0.5)
    assert caught.value.field == "reach_accuracy"
    # The stream carries no bands: a fit with samples is refused rather than silently planned at
    # its point accuracy (the local call gives bands); its point accuracy is the same frontier.
    with pytest.raises(InvalidArgumentError) as caught:
        client.frontier_test_time(budgets=[1e16, 1e17], accuracy=fit)
    assert caught.value.field == "accuracy"
    got_f = client.frontier_test_time(budgets=[1e16, 1e17], accuracy=fit.accuracy)
    want_f = sp.frontier_test_time(budgets=[1e16, 1e17], accuracy=fit.accuracy)
    assert np.array_equal(got_f.plan.accuracy, want_f.plan.accuracy)


@pytest.fixture(scope="module")
def fit_file(fit: sp.AccuracyFit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("accfit") / "fit.json"
    fit.save(path)
    return path


def test_cli_prints_bands_and_probabilities(fit: sp.AccuracyFit, fit_file: Path) -> None:
    args = ["plan", "test-time", "--budget", "3e16eflops", "--accuracy-fit", str(fit_file)]
    out = cli.ok(*args, "--reach-accuracy", "0.7")
    want = sp.plan_test_time(
        budget_eflops=3e16, accuracy=sp.AccuracyFit.load(fit_file), reach_accuracy=0.7
    )
    u: Any = want.uncertainty
    header = out.stdout.splitlines()[1]
    assert "k P10/P50/P90" in header and "model size P10/P50/P90" in header
    assert "/".join(f"{v:.1%}" for v in u.band("accuracy")) in out.stdout
    assert f"(fixed plan, per sample): {u.p_fixed:.1%}" in out.stdout
    assert f"(re-planned per sample): {u.p_replanned:.1%}" in out.stdout
    row = cli.json_lines(cli.ok(*args, "--quantiles", "0.05,0.95", "--json").stdout)[0]
    levels: Any = sp.plan_test_time(
        budget_eflops=3e16, accuracy=sp.AccuracyFit.load(fit_file), quantiles=[0.05, 0.95]
    ).uncertainty
    assert row["accuracy_p5"] == levels.band("accuracy")[0]
    assert row["gen_tokens_p95"] == levels.band("gen_tokens")[1]
    assert row["accuracy"] == want.accuracy and row["p_fixed"] is None


def test_cli_options_need_a_fit_with_samples(fit: sp.AccuracyFit, tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    sp.fit_accuracy(draw_rows(40, 8, seed=11), bootstrap=0).save(bare)
    out = cli.run("plan", "test-time", "--budget", "3e16eflops", "--reach-accuracy", "0.5")
    cli.usage_error(out, "--reach-accuracy")
    out = cli.run(
        "plan",
        "test-time",
        "--budget",
        "3e16eflops",
        "--accuracy-fit",
        str(bare),
        "--quantiles",
        "0.5",
    )
    cli.usage_error(out, "--quantiles")
    out = cli.ok("plan", "test-time", "--budget", "3e16eflops", "--accuracy-fit", str(bare))
    assert "P10" not in out.stdout and "no bootstrap samples" in out.stderr


# ---- calibrated hardware with samples --------------------------------------------------------


@pytest.fixture(scope="module")
def calibration() -> sp.Calibration:
    """h100-sxm calibrated on noisy runs the cost model prices at known efficiencies (the runs
    of tests/test_calibrate_bootstrap.py), 25 bootstrap resamples."""
    from tests.test_calibrate_bootstrap import many_rows

    cal = sp.calibrate(many_rows(0.05, 8, repeats=1), "h100-sxm", bootstrap=25, seed=2)
    assert len(cal.samples) >= 20
    return cal


LATENCY_BUDGETS = np.array([0.05, 0.3, 1.0, 5.0])  # replica-seconds per query
SLO = 60.0


def test_calibrated_plans_agree_with_a_loop_over_the_sample_hardware(
    calibration: sp.Calibration,
) -> None:
    kw: dict[str, Any] = {"models": ["qwen3-1.7b", "qwen3-8b"], "latency_slo_s": SLO}
    plan = sp.plan_test_time(budget_seconds=LATENCY_BUDGETS, hardware=calibration, **kw)
    point = sp.plan_test_time(budget_seconds=LATENCY_BUDGETS, hardware=calibration.hardware, **kw)
    assert np.array_equal(plan.accuracy, point.accuracy, equal_nan=True)
    u = plan.uncertainty
    assert u is not None and u.outcome == "latency_s" and u.samples == len(calibration.samples)
    assert np.all(u.threshold == SLO)
    hws = calibration.sample_hardware()
    for s, hw in enumerate(hws):
        p = sp.plan_test_time(budget_seconds=LATENCY_BUDGETS, hardware=hw, **kw)
        for name in PLAN_FIELDS:
            want = np.asarray(getattr(p, name), dtype=float)
            assert np.array_equal(u.per_sample[name][s], want, equal_nan=True), (s, name)
    # Fixed plan: its latency on each sample's hardware, priced here by inference_cost.
    fixed = np.full((len(hws), len(LATENCY_BUDGETS)), np.nan)
    for s, hw in enumerate(hws):
        for i in range(len(LATENCY_BUDGETS)):
            if plan.feasible[i]:
                c = sp.inference_cost(
                    str(plan.model[i]),
                    hw,
                    prompt_tokens=128,
                    gen_tokens=float(plan.gen_tokens[i]),
                    samples=float(plan.samples[i]),
                )
                fixed[s, i] = float(c.latency_s)
    assert np.allclose(u.per_sample["fixed"], fixed, rtol=1e-12, atol=0, equal_nan=True)
    want_p = np.where(plan.feasible, (fixed <= SLO).mean(axis=0), np.nan)
    assert np.array_equal(u.p_fixed, want_p, equal_nan=True)
    assert np.nanmax(np.ptp(u.per_sample["fixed"], axis=0)) > 0  # latency is in doubt
    assert "P(latency <= 60 s) committing to this plan" in plan.at(1).explain()


def test_calibration_samples_options_are_checked(
    calibration: sp.Calibration, fit: sp.AccuracyFit
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(budget_seconds=0.2, hardware=calibration, accuracy=fit)
    assert caught.value.field == "hardware"
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(budget_seconds=0.2, hardware=calibration, reach_accuracy=0.5)
    assert caught.value.field == "reach_accuracy"
    # A calibration without samples plans on its entry, no uncertainty; no SLO: no probability.
    bare = dataclasses.replace(calibration, samples=np.empty((0, 3)))
    assert sp.plan_test_time(budget_seconds=0.2, hardware=bare).uncertainty is None
    u = sp.plan_test_time(budget_seconds=0.2, hardware=calibration).uncertainty
    assert u is not None and u.p_fixed is None and len(u.band("latency_s")) == 3
    bad = calibration.samples.copy()
    bad[3, 1] = 1.5  # decode_bw_util above 1
    with pytest.raises(InvalidArgumentError) as caught:
        sp.plan_test_time(
            budget_seconds=0.2, hardware=dataclasses.replace(calibration, samples=bad)
        )
    assert caught.value.field == "hardware" and caught.value.index == 3


def test_the_client_refuses_a_calibration_naming_hardware(
    client: sp.Client, calibration: sp.Calibration
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.plan_test_time(budget_seconds=0.2, hardware=calibration)
    assert caught.value.field == "hardware"


def test_a_fit_missing_one_groups_resamples_is_planned_alike_on_every_surface(
    fit: sp.AccuracyFit, client: sp.Client, tmp_path: Path
) -> None:
    """One (model, length) whose every resample failed: candidates without it get bands, and a
    candidate with it is refused naming accuracy_fit, from the façade, the CLI and gRPC alike
    (the CLI used to fall back to the point plan and refuse --quantiles)."""
    fits = list(fit.fits)
    fits[1] = dataclasses.replace(fits[1], samples=np.empty((0, 2)))
    holed = dataclasses.replace(fit, fits=tuple(fits))
    others = sorted({f.model for f in fit.fits} - {fits[1].model})
    kw: dict[str, Any] = {"budget_eflops": 3e16, "accuracy": holed, "quantiles": [0.1, 0.9]}
    want = sp.plan_test_time(models=others, **kw)
    assert want.uncertainty is not None
    got = client.plan_test_time(models=others, **kw)
    assert got.uncertainty is not None
    np.testing.assert_array_equal(
        got.uncertainty.bands["accuracy"], want.uncertainty.bands["accuracy"]
    )
    path = tmp_path / "holed.json"
    holed.save(path)
    args = ["plan", "test-time", "--budget", "3e16eflops", "--accuracy-fit", str(path)]
    row = cli.json_lines(
        cli.ok(*args, "--models", ",".join(others), "--quantiles", "0.1,0.9", "--json").stdout
    )[0]
    assert row["accuracy_p10"] == want.uncertainty.band("accuracy")[0]
    for plan in (sp.plan_test_time, client.plan_test_time):
        with pytest.raises(InvalidArgumentError) as caught:
            plan(**kw)
        assert caught.value.field == "accuracy_fit"
    out = cli.run(*args)
    assert out.returncode == 2 and "--accuracy-fit: no bootstrap resample" in out.stderr
