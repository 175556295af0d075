"""Fitting a loss law (docs/fitting.md), checked against independent computations: a numpy
objective minimised by scipy's L-BFGS-B from the same starts, bootstrap coverage of known laws
over many seeds, exact recovery (hypothesis), and bad input named."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import scaleplan as sp
import scipy.optimize
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan import _core
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.fit import KEYS

TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
Arr = npt.NDArray[np.float64]


def law_loss(p: dict[str, float], n: Arr, d: Arr) -> Arr:
    return p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]


def synthetic(
    n_runs: int, noise: float, seed: int, truth: dict[str, float] = TRUTH
) -> tuple[Arr, Arr, Arr]:
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.0, 10.0, n_runs)
    d = 10 ** rng.uniform(9.0, 12.0, n_runs)
    return n, d, law_loss(truth, n, d) * np.exp(rng.normal(0.0, noise, n_runs))


def numpy_objective(theta: Arr, n: Arr, d: Arr, y: Arr, delta: float) -> tuple[float, Arr]:
    """Sum of Huber(LSE(a - alpha ln N, b - beta ln D, e) - ln L) and its gradient, written
    from the paper independently of the core."""
    a, b, e, alpha, beta = theta
    t = np.stack([a - alpha * np.log(n), b - beta * np.log(d), np.full_like(n, e)])
    m = t.max(axis=0)
    w = np.exp(t - m)
    s = w.sum(axis=0)
    r = m + np.log(s) - np.log(y)
    w /= s
    huber = np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
    psi = np.clip(r, -delta, delta)
    grad = np.array(
        [
            (psi * w[0]).sum(),
            (psi * w[1]).sum(),
            (psi * w[2]).sum(),
            -(psi * w[0] * np.log(n)).sum(),
            -(psi * w[1] * np.log(d)).sum(),
        ]
    )
    return float(huber.sum()), grad


def theta_of(p: dict[str, float]) -> Arr:
    return np.array([math.log(p["A"]), math.log(p["B"]), math.log(p["E"]), p["alpha"], p["beta"]])


def test_core_objective_matches_numpy() -> None:
    n, d, y = synthetic(50, 0.02, 1)
    for theta in (
        [6.0, 7.5, 0.6, 0.3, 0.35],
        [0.0, 5.0, -1.0, 0.5, 1.0],
        [20.0, 1.0, 1.0, 2.0, 0.1],
    ):
        f, g = _core.fit_objective(n, d, y, 1e-3, theta)
        f_np, g_np = numpy_objective(np.array(theta), n, d, y, 1e-3)
        assert f == pytest.approx(f_np, rel=1e-12)
        np.testing.assert_allclose(g, g_np, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_matches_scipy_lbfgs_from_the_same_start(seed: int) -> None:
    n, d, y = synthetic(120, 0.02, seed)
    delta = 1e-3
    for start in ([6.0, 7.0, 0.5, 0.3, 0.3], [5.0, 10.0, 0.0, 0.5, 0.5]):
        raw = _core.fit_law(
            n,
            d,
            y,
            form="chinchilla",
            delta=delta,
            bootstrap=0,
            seed=0,
            unique_tokens=None,
            starts=[start],
        )
        ref = scipy.optimize.minimize(
            numpy_objective,
            np.array(start),
            args=(n, d, y, delta),
            jac=True,
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
        )
        # Both reach the same minimum: the objectives agree closely, the parameters to 1e-4.
        assert raw["objective"] <= ref.fun * (1 + 1e-7)
        assert raw["objective"] == pytest.approx(ref.fun, rel=1e-6)
        np.testing.assert_allclose(raw["theta"], ref.x, rtol=1e-4, atol=1e-4)


def test_grid_fit_is_no_worse_than_scipy_from_every_grid_point_best() -> None:
    n, d, y = synthetic(80, 0.03, 5)
    fit = sp.fit_law(n, d, y)
    assert fit.converged
    # scipy from the true law's theta reaches (about) the same minimum as the grid search.
    ref = scipy.optimize.minimize(
        numpy_objective,
        theta_of(TRUTH),
        args=(n, d, y, 1e-3),
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    assert fit.objective <= ref.fun * (1 + 1e-6)


def test_exact_runs_recover_the_law_and_name_it() -> None:
    n, d, y = synthetic(40, 0.0, 3)
    fit = sp.fit_law(n, d, y)
    assert fit.converged and fit.message == ""
    for k in KEYS:
        assert fit.estimate[k] == pytest.approx(TRUTH[k], rel=1e-4)
    law = fit.law
    assert isinstance(law, sp.LossLaw)
    assert law.name == "fitted(n=40)"
    np.testing.assert_allclose(fit.residuals, 0.0, atol=1e-6)
    # Every planner accepts it.
    plan = sp.plan_training(law=law, budget_flops=1e22)
    assert plan.loss == pytest.approx(law.loss(plan.params, plan.tokens), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    e=st.floats(1.0, 3.0),
    u_a=st.floats(0.3, 3.0),
    u_b=st.floats(0.3, 3.0),
    alpha=st.floats(0.2, 0.6),
    beta=st.floats(0.2, 0.6),
    seed=st.integers(0, 2**16),
)
def test_property_noise_free_runs_recover_a_random_law(
    e: float, u_a: float, u_b: float, alpha: float, beta: float, seed: int
) -> None:
    # A sane law: in the middle of the design (N = 1e8, D = 1e10) each reducible term is
    # u times E, u in [0.3, 3], so the runs identify every parameter.
    a, b = u_a * e * 1e8**alpha, u_b * e * 1e10**beta
    truth = {"E": e, "A": a, "B": b, "alpha": alpha, "beta": beta}
    rng = np.random.default_rng(seed)
    # A design that spans both terms: N over 4 decades, D over 4 decades.
    n = 10 ** rng.uniform(6.0, 10.0, 60)
    d = 10 ** rng.uniform(8.0, 12.0, 60)
    y = law_loss(truth, n, d)
    fit = sp.fit_law(n, d, y)
    assert fit.converged, fit.message
    # The fitted law reproduces the runs exactly, and its parameters are the truth.
    np.testing.assert_allclose(fit.residuals, 0.0, atol=1e-5)
    for k in KEYS:
        assert fit.estimate[k] == pytest.approx(truth[k], rel=1e-2), k


def test_bootstrap_intervals_cover_the_truth_at_their_level() -> None:
    """Over many data sets drawn from a known law, each parameter's 80% percentile interval
    covers the truth in about 80% of them: the count must be binomially plausible."""
    level, sets = 0.8, 60
    hits = dict.fromkeys(KEYS, 0)
    for seed in range(sets):
        n, d, y = synthetic(60, 0.02, 1000 + seed)
        fit = sp.fit_law(n, d, y, bootstrap=200, seed=seed, delta=0.02)
        assert fit.converged
        for k, (lo, hi) in fit.interval(level).items():
            hits[k] += lo <= TRUTH[k] <= hi
    lo_ok = scipy.stats.binom.ppf(0.001, sets, level)
    hi_ok = scipy.stats.binom.ppf(0.999, sets, level)
    for k in KEYS:
        assert lo_ok <= hits[k] <= hi_ok, (k, hits[k], sets)


def test_bootstrap_is_reproducible_per_seed() -> None:
    n, d, y = synthetic(50, 0.02, 7)
    a = sp.fit_law(n, d, y, bootstrap=30, seed=4)
    b = sp.fit_law(n, d, y, bootstrap=30, seed=4)
    c = sp.fit_law(n, d, y, bootstrap=30, seed=5)
    assert a.samples.shape == (30, 5)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    # Covariance and stderr are those of the samples; intervals their percentiles.
    np.testing.assert_allclose(a.covariance, np.cov(a.samples, rowvar=False), rtol=1e-9)
    assert a.stderr is not None
    assert a.stderr["alpha"] == pytest.approx(np.std(a.samples[:, 3], ddof=1), rel=1e-9)
    lo, hi = a.interval(0.9)["beta"]
    assert lo == pytest.approx(np.quantile(a.samples[:, 4], 0.05))
    assert hi == pytest.approx(np.quantile(a.samples[:, 4], 0.95))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    n, d, y = synthetic(50, 0.02, 8)
    fit = sp.fit_law(n, d, y, bootstrap=20, seed=1)
    path = tmp_path / "fit.json"
    fit.save(path)
    back = sp.LawFit.load(path)
    assert back.estimate == fit.estimate
    np.testing.assert_array_equal(back.samples, fit.samples)
    np.testing.assert_array_equal(back.residuals, fit.residuals)
    assert back.law == fit.law
    assert back.interval(0.9) == fit.interval(0.9)
    assert "n=50" in repr(back) and "converged" in repr(back)
    path.write_text("{}")
    with pytest.raises(InvalidArgumentError) as err:
        sp.LawFit.load(path)
    assert err.value.field == "law_fit"


def test_unconverged_fit_is_no_confident_law() -> None:
    n = 1e7 * 2.0 ** np.arange(8)
    d = 1e9 * 2.0 ** np.arange(8)
    y = 2.0 + 0.1 * np.arange(8)  # loss rising with scale: no law fits
    fit = sp.fit_law(n, d, y)
    assert not fit.converged and fit.message
    with pytest.raises(InvalidArgumentError) as err:
        _ = fit.law
    assert err.value.field == "law_fit"
    assert "NOT converged" in repr(fit)


def test_interval_needs_a_bootstrap_and_a_level() -> None:
    n, d, y = synthetic(30, 0.02, 9)
    fit = sp.fit_law(n, d, y)
    assert fit.covariance_source == "gauss-newton" and fit.samples.shape == (0, 5)
    with pytest.raises(InvalidArgumentError) as err:
        fit.interval(0.9)
    assert err.value.field == "bootstrap"
    boot = sp.fit_law(n, d, y, bootstrap=5)
    with pytest.raises(InvalidArgumentError) as err:
        boot.interval(1.5)
    assert err.value.field == "level"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": [1e8] * 4, "tokens": [1e10] * 4, "loss": [3.0] * 4}, "params"),
        ({"tokens": [1e10] * 9}, "tokens"),
        ({"loss": [3.0] * 9}, "loss"),
        ({"loss": [3.0] * 5 + [float("nan")] + [3.0] * 4}, ("loss", 5)),
        ({"params": [1e8] * 9 + [-1.0]}, ("params", 9)),
        ({"tokens": [1e10] * 2 + [0.0] + [1e10] * 7}, ("tokens", 2)),
        ({"tokens": [1e10] * 2 + [float("inf")] + [1e10] * 7}, ("tokens", 2)),
        ({"delta": 0.0}, "delta"),
        ({"delta": float("nan")}, "delta"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"bootstrap": 2.5}, "bootstrap"),
        ({"seed": -3}, "seed"),
        ({"form": "nonsense"}, "form"),
        ({"form": "muennighoff"}, "unique_tokens"),
        ({"form": "muennighoff", "unique_tokens": 1e10, "bootstrap": -3}, "bootstrap"),
        ({"unique_tokens": -1.0}, "unique_tokens"),
        ({"params": [[1e8] * 10]}, "params"),
        ({"loss": ["a"] * 10}, "loss"),
    ],
)
def test_bad_input_names_its_field(change: dict[str, object], field: str | tuple[str, int]) -> None:
    args: dict[str, object] = {
        "params": np.geomspace(1e7, 1e10, 10),
        "tokens": np.geomspace(1e9, 1e12, 10),
        "loss": np.linspace(3.5, 2.5, 10),
    }
    args.update(change)
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_law(**args)  # type: ignore[arg-type]
    # A bad run is named by the argument and the run's index, as data.
    name, index = field if isinstance(field, tuple) else (field, None)
    assert (err.value.field, err.value.index) == (name, index)


def test_bootstrap_count_is_bounded() -> None:
    with pytest.raises(LimitExceededError) as err:
        sp.fit_law([1e8] * 10, [1e10] * 10, [3.0] * 10, bootstrap=sp.fit.MAX_BOOTSTRAP + 1)
    assert err.value.field == "bootstrap"


def test_muennighoff_form_recovers_the_papers_law(tmp_path: Path) -> None:
    """Runs drawn (with numpy, from the formula of the paper's released code, not the core) from
    Muennighoff et al.'s fit with U = 1e10 unique tokens and 0.1% noise: the fit recovers R*_D
    and R*_N, and its law carries them through a save and load."""
    a, b, e, alpha, rd, rn = 6.255414, 7.3049974, 0.6254804, 0.3526596, 15.387756, 5.309743
    big_a, big_b, big_e = np.exp(a), np.exp(b), np.exp(e)
    g = (big_a / big_b) ** (1 / (2 * alpha))
    u = 1e10

    def law(n: npt.NDArray[np.float64], d: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        u_n = np.minimum(n, g * g * u)
        r_n, r_d = np.maximum(n / u_n - 1, 0), np.maximum(d / u - 1, 0)
        n_eff = u_n + u_n * rn * (1 - np.exp(-r_n / rn))
        d_eff = np.minimum(d, u) + np.minimum(d, u) * rd * (1 - np.exp(-r_d / rd))
        return big_e + big_a / n_eff**alpha + big_b / d_eff**alpha

    single = [(n, d) for n in np.geomspace(2e7, 5e8, 6) for d in np.geomspace(1e9, 1e10, 6)]
    repeated = [(n, u * k) for n in (1e8, 3e8) for k in (2, 4, 8, 16, 32, 64)]
    excess = [(n, d) for n in (1e9, 2e9, 5e9, 1e10) for d in (5e9, 1e10, 4e10)]
    n, d = (np.array(v) for v in zip(*(single + repeated + excess), strict=True))
    rng = np.random.default_rng(7)
    y = law(n, d) * np.exp(rng.normal(0, 0.001, len(n)))
    fit = sp.fit_law(n, d, y, form="muennighoff", unique_tokens=u)
    assert fit.converged, fit.message
    r = fit.law.repetition
    assert r is not None
    assert abs(r.r_star_params / rn - 1) < 0.15 and abs(r.r_star_tokens / rd - 1) < 0.3, r
    assert len(fit.samples) == 0 and fit.covariance is None
    # The fitted law plans with both discounts; a saved fit keeps them.
    path = tmp_path / "fit.json"
    fit.save(path)
    again = sp.LawFit.load(path)
    assert again.law.repetition == r and again.form == "muennighoff"
    plan = sp.plan_training(budget_flops=1e22, law=again.law, unique_tokens=u)
    assert plan.loss == pytest.approx(
        float(fit.law.loss(plan.params, plan.tokens, unique_tokens=u))
    )


def test_unique_tokens_fits_on_effective_tokens() -> None:
    truth = sp.law("besiroglu2024")
    n, d, _ = synthetic(40, 0.0, 11)
    u = 3e10
    y = truth.loss(n, d, unique_tokens=u)
    fit = sp.fit_law(n, d, y, unique_tokens=u)
    assert fit.converged
    for k in KEYS:
        assert fit.estimate[k] == pytest.approx(TRUTH[k], rel=1e-3)


def test_fitted_law_carries_the_runs_range() -> None:
    n, d, y = synthetic(30, 0.02, 12)
    fitted = sp.fit_law(n, d, y).law.fitted
    assert fitted is not None
    assert fitted.params_min == pytest.approx(n.min(), rel=1e-12)
    assert fitted.params_max == pytest.approx(n.max(), rel=1e-12)
    assert fitted.tokens_min == pytest.approx(d.min(), rel=1e-12)
    assert fitted.tokens_max == pytest.approx(d.max(), rel=1e-12)
    assert fitted.tokens_per_param_max == pytest.approx((d / n).max(), rel=1e-12)
    assert fitted.loss_min == pytest.approx(y.min(), rel=1e-12)
    # A plan far outside the runs says so.
    assert sp.plan_training(budget_flops=1e27, law=sp.fit_law(n, d, y).law).extrapolated


def test_a_long_bootstrap_stops_when_cancelled() -> None:
    """The bootstrap runs on rayon's workers, which check the call's token before each refit
    (docs/limits.md): 10,000 refits of 240 noisy runs (seconds) stop soon after cancel()."""
    import threading
    import time

    from scaleplan.errors import Cancelled

    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 240))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 240))
    loss = (1.8 + 400 / n**0.34 + 410 / d**0.28) * np.exp(rng.normal(0, 0.02, 240))
    token = sp.CancelToken()
    threading.Timer(0.3, token.cancel).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        sp.fit_law(n, d, loss, bootstrap=10_000, cancel=token)
    # Generous for a loaded 2-core machine; the refits in flight finish first (~1 ms each).
    assert time.monotonic() - start < 2.0
