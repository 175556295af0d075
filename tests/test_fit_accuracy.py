"""scaleplan.fit_accuracy: the beta-binomial fit of per-problem eval counts (docs/fitting.md,
"Test-time accuracy"), checked against draws from known (a, b), scipy's beta-binomial MLE, the
unbiased pass@k estimator and the exact pass@k formula, and used by the test-time planner."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scaleplan as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scipy import optimize, special, stats

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "synthetic_eval.csv"


def draw_rows(a: float, b: float, problems: int, n: int | list[int], seed: int) -> list[dict]:
    """Counts c ~ BetaBinomial(n, a, b), one row per problem, at one length."""
    rng = np.random.default_rng(seed)
    ns = np.full(problems, n) if isinstance(n, int) else np.resize(np.asarray(n), problems)
    p = rng.beta(a, b, problems)
    c = rng.binomial(ns, p)
    return [
        {
            "model": "qwen3-8b",
            "gen_tokens": 8192,
            "problem": f"p{i}",
            "n": int(ns[i]),
            "c": int(c[i]),
        }
        for i in range(problems)
    ]


def exact_pass_at_k(a: float, b: float, k: float) -> float:
    """1 - B(a, b + k) / B(a, b), by scipy's log-beta."""
    return float(1.0 - np.exp(special.betaln(a, b + k) - special.betaln(a, b)))


def unbiased_mean(rows: list[dict], k: int) -> float:
    """Mean over problems of 1 - C(n - c, k) / C(n, k) (Chen et al. 2021), by math.comb."""
    return float(
        np.mean([1.0 - math.comb(r["n"] - r["c"], k) / math.comb(r["n"], k) for r in rows])
    )


def scipy_mle(rows: list[dict]) -> tuple[float, float, float]:
    """Maximum-likelihood (a, b) of scipy.stats.betabinom by scipy.optimize in (ln a, ln b),
    and the maximum log-likelihood (binomial coefficients included)."""
    n = np.array([r["n"] for r in rows])
    c = np.array([r["c"] for r in rows])

    def nll(th: np.ndarray) -> float:
        return -float(stats.betabinom.logpmf(c, n, np.exp(th[0]), np.exp(th[1])).sum())

    best = optimize.minimize(
        nll,
        [0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    best = optimize.minimize(nll, best.x, method="L-BFGS-B", options={"gtol": 1e-10})
    return float(np.exp(best.x[0])), float(np.exp(best.x[1])), -float(best.fun)


def test_recovers_known_parameters_within_intervals_at_their_coverage() -> None:
    # 24 independent draws of 300 problems, n = 16, from (a, b) = (0.6, 1.4): the 90% intervals
    # must cover each true parameter about 90% of the time; 24 draws at 90% have fewer than 18
    # covers with probability ~1.3% (binomial), so >= 18 is the bar.
    a, b, level = 0.6, 1.4, 0.9
    covered = {"a": 0, "b": 0}
    draws = 24
    for seed in range(draws):
        fit = sp.fit_accuracy(draw_rows(a, b, 300, 16, seed), bootstrap=200, seed=seed)
        (f,) = fit.fits
        assert f.converged, f.message
        iv = fit.interval(level)[("qwen3-8b", 8192.0)]
        covered["a"] += iv["a"][0] <= a <= iv["a"][1]
        covered["b"] += iv["b"][0] <= b <= iv["b"][1]
    assert covered["a"] >= 18 and covered["b"] >= 18, covered


def test_every_resample_of_well_behaved_data_fits() -> None:
    # 2,000 problems, n = 64: no resample is degenerate, so none may fail (warm-started refits
    # once stalled on the log-likelihood's rounding and were dropped)
    (f,) = sp.fit_accuracy(draw_rows(0.5, 1.5, 2000, 64, 0), bootstrap=300).fits
    assert f.bootstrap_failed == 0 and len(f.samples) == 300


def test_large_sample_estimate_is_close_to_the_truth() -> None:
    fit = sp.fit_accuracy(draw_rows(0.3, 0.9, 20000, 8, 1), bootstrap=0)
    (f,) = fit.fits
    assert f.a == pytest.approx(0.3, rel=0.05) and f.b == pytest.approx(0.9, rel=0.05)


@pytest.mark.parametrize(
    ("a", "b", "n", "problems", "seed"),
    [
        (0.5, 1.5, 16, 200, 0),
        (2.0, 0.7, 10, 60, 1),
        (0.2, 0.4, 64, 120, 2),
        (1.0, 1.0, [4, 8, 32], 90, 3),
    ],
)
def test_agrees_with_scipy_betabinom_mle(
    a: float, b: float, n: int, problems: int, seed: int
) -> None:
    rows = draw_rows(a, b, problems, n, seed)
    (f,) = sp.fit_accuracy(rows, bootstrap=0).fits
    sa, sb, sll = scipy_mle(rows)
    assert f.a == pytest.approx(sa, rel=1e-5) and f.b == pytest.approx(sb, rel=1e-5)
    coefficients = sum(math.log(math.comb(r["n"], r["c"])) for r in rows)
    assert f.log_likelihood is not None
    assert f.log_likelihood + coefficients == pytest.approx(sll, abs=1e-7)
    assert f.eval_samples == min(r["n"] for r in rows)
    assert f.pass1 == pytest.approx(np.mean([r["c"] / r["n"] for r in rows]), abs=1e-14)


def test_pass_at_k_against_the_unbiased_estimator_and_the_exact_formula() -> None:
    a, b, n = 0.4, 1.2, 16
    rows = draw_rows(a, b, 3000, n, 5)
    fit = sp.fit_accuracy(rows, bootstrap=100, seed=2)
    ks = np.array([1, 2, 4, 8, 16, 64, 256, 4096])
    curve = fit.pass_at_k("qwen3-8b", 8192, ks, level=0.95)
    assert list(curve.extrapolated) == [False] * 5 + [True] * 3
    for k, est, lo, hi in zip(ks, curve.estimate, curve.lower, curve.upper, strict=True):
        assert lo <= est <= hi
        truth = exact_pass_at_k(a, b, float(k))
        if k <= n:
            # where the eval measures pass@k, the fit reproduces the unbiased estimate
            assert est == pytest.approx(unbiased_mean(rows, int(k)), abs=0.01)
        # everywhere, including beyond n, the fit is close to the true (a, b)'s pass@k
        assert est == pytest.approx(truth, abs=0.02), k
        assert lo - 0.005 <= truth <= hi + 0.005, (k, lo, truth, hi)
    # the point estimate is the exact formula at the fitted (a, b)
    (f,) = fit.fits
    assert curve.estimate[6] == pytest.approx(exact_pass_at_k(f.a, f.b, 256.0), rel=1e-12)
    # a scalar k gives scalars
    one = fit.pass_at_k("qwen3-8b", 8192, 32)
    assert np.ndim(one.estimate) == 0 and bool(one.extrapolated)
    assert not bool(fit.pass_at_k("qwen3-8b", 8192, 16).extrapolated)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(1e-3, 1e3),
    b=st.floats(1e-3, 1e3),
    k=st.integers(1, 1 << 20),
)
def test_beta_binomial_pass_at_k_is_the_formula(a: float, b: float, k: int) -> None:
    from scaleplan import _core

    got = _core.beta_binomial_pass_at_k(np.array([a]), np.array([b]), np.array([float(k)]))[0]
    assert 0.0 <= got <= 1.0
    # ln Γ(x + k) - ln Γ(x) below x = 20 is a difference of two log-gammas (passk.rs): ~1e-9
    # absolute at k ~ 1e6
    assert got == pytest.approx(exact_pass_at_k(a, b, float(k)), abs=1e-8)


DEGENERATE = [
    ("all wrong", [{"n": 8, "c": 0}] * 12, "no sample was correct"),
    ("all correct", [{"n": 8, "c": 8}] * 12, "every sample was correct"),
    ("all-or-nothing", [{"n": 8, "c": 0}] * 9 + [{"n": 8, "c": 8}] * 3, "all-or-nothing"),
    ("one problem", [{"n": 100, "c": 37}], "one problem"),
    ("n = 1", [{"n": 1, "c": 1}] * 5 + [{"n": 1, "c": 0}] * 7, "n = 1"),
    ("alike", [{"n": 10, "c": 5}] * 50, "alike"),
]


@pytest.mark.parametrize(("label", "counts", "why"), DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_degenerate_data_is_reported_not_fitted(label: str, counts: list[dict], why: str) -> None:
    rows = [
        {"model": "qwen3-8b", "gen_tokens": 4096, "problem": f"p{i}", **nc}
        for i, nc in enumerate(counts)
    ]
    fit = sp.fit_accuracy(rows, bootstrap=50)
    (f,) = fit.fits
    assert not f.converged and not fit.converged
    assert f.a is None and f.b is None and f.log_likelihood is None
    assert why in f.message
    assert len(f.samples) == 0
    assert math.isfinite(f.pass1)
    with pytest.raises(InvalidArgumentError) as err:
        fit.as_accuracy()
    assert err.value.field == "accuracy_fit" and why in str(err.value)
    with pytest.raises(InvalidArgumentError):
        fit.pass_at_k("qwen3-8b", 4096, 4)
    with pytest.raises(InvalidArgumentError):
        sp.plan_test_time(budget_eflops=1e16, accuracy=fit)


def test_a_degenerate_length_does_not_hide_the_others() -> None:
    good = draw_rows(0.5, 1.0, 100, 16, 0)
    bad = [dict(r, gen_tokens=2048, c=0) for r in good]
    fit = sp.fit_accuracy(good + bad, bootstrap=0)
    assert [f.converged for f in fit.fits] == [False, True]
    assert fit.fits[1].a == pytest.approx(sp.fit_accuracy(good, bootstrap=0).fits[0].a)


def test_bad_rows_are_named_with_their_index_and_file_row(tmp_path: Path) -> None:
    rows = draw_rows(0.5, 1.0, 10, 4, 0)
    cases = [
        (3, {"c": 5}, "rows.c"),
        (2, {"n": 0}, "rows.n"),
        (4, {"gen_tokens": -1}, "rows.gen_tokens"),
        (5, {"n": "many"}, "rows.n"),
        (6, {"gen_tokens": float("nan")}, "rows.gen_tokens"),
    ]
    for index, change, field in cases:
        bad = [dict(r) for r in rows]
        bad[index].update(change)
        with pytest.raises(InvalidArgumentError) as err:
            sp.fit_accuracy(bad)
        assert err.value.field == field and err.value.index == index, (change, err.value)
    bad = [dict(r) for r in rows]
    bad[7]["problem"] = bad[1]["problem"]
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_accuracy(bad)
    assert err.value.index == 7 and "twice" in str(err.value)
    bad = [dict(r) for r in rows]
    del bad[1]["c"]
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_accuracy(bad)
    assert err.value.index == 1 and "missing c" in str(err.value)
    with pytest.raises(InvalidArgumentError):
        sp.fit_accuracy([])
    # in a file: the row (1-based, header not counted) and the file
    path = tmp_path / "evals.csv"
    lines = ["model,gen_tokens,problem,n,c"] + [
        f"{r['model']},{r['gen_tokens']},{r['problem']},{r['n']},{r['c'] if i != 3 else 9}"
        for i, r in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_accuracy(path)
    assert err.value.field == "rows.c" and err.value.row == 4 and err.value.file == str(path)


def test_option_limits() -> None:
    rows = draw_rows(0.5, 1.0, 10, 4, 0)
    with pytest.raises(LimitExceededError) as err:
        sp.fit_accuracy(rows, bootstrap=10_001)
    assert err.value.field == "bootstrap"
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(InvalidArgumentError) as err:
            sp.fit_accuracy(rows, bootstrap=bad)  # type: ignore[arg-type]
        assert err.value.field == "bootstrap"
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_accuracy(rows, seed=-1)
    assert err.value.field == "seed"
    fit = sp.fit_accuracy(rows, bootstrap=20)
    for level in (0.0, 1.0, float("nan"), "x"):
        with pytest.raises(InvalidArgumentError) as err:
            fit.interval(level)  # type: ignore[arg-type]
        assert err.value.field == "level"
    with pytest.raises(InvalidArgumentError) as err:
        sp.fit_accuracy(rows, bootstrap=0).interval()
    assert err.value.field == "bootstrap"
    with pytest.raises(InvalidArgumentError) as err:
        fit.pass_at_k("qwen3-8b", 8192, 0)
    assert err.value.field == "k"
    with pytest.raises(LimitExceededError):
        fit.pass_at_k("qwen3-8b", 8192, 2**21)
    with pytest.raises(InvalidArgumentError) as err:
        fit.pass_at_k("qwen3-8b", 1234, 4)
    assert err.value.field == "gen_tokens"


def test_bootstrap_is_deterministic_per_seed() -> None:
    rows = draw_rows(0.5, 1.0, 80, 8, 3)
    one = sp.fit_accuracy(rows, bootstrap=50, seed=11).fits[0].samples
    two = sp.fit_accuracy(rows, bootstrap=50, seed=11).fits[0].samples
    other = sp.fit_accuracy(rows, bootstrap=50, seed=12).fits[0].samples
    assert np.array_equal(one, two) and not np.array_equal(one, other)


def _preset_equivalent_fit(gen_tokens: float) -> sp.AccuracyFit:
    """The aime24-qwen3 preset's qwen3-8b at one length as a fit: a = mu kappa, b = (1 - mu)
    kappa with mu = pass1 * sat(L) / sat(30720), sat(L) = 1 / (1 + (4096 / L)^1.5), kappa = 1
    (rust/core/catalog/testtime.toml)."""
    sat = lambda length: 1.0 / (1.0 + (4096.0 / length) ** 1.5)  # noqa: E731
    mu = 0.752 * sat(gen_tokens) / sat(30720.0)
    group = sp.FittedAccuracy(
        model="qwen3-8b",
        gen_tokens=gen_tokens,
        problems=30,
        eval_samples=16,
        pass1=mu,
        a=mu,
        b=1.0 - mu,
        log_likelihood=0.0,
        converged=True,
        message="",
        samples=np.zeros((0, 2)),
        bootstrap_failed=0,
    )
    return sp.AccuracyFit(fits=(group,), name="preset-equivalent", rows=30, bootstrap=0, seed=0)


def test_plan_with_a_fit_equals_the_plan_with_the_equivalent_preset() -> None:
    length = 16384.0
    fit = _preset_equivalent_fit(length)
    common = dict(models=["qwen3-8b"], k_max=64, min_gen_tokens=length, max_gen_tokens=length)
    budgets = np.logspace(15.5, 18, 9)
    fitted = sp.plan_test_time(budget_eflops=budgets, accuracy=fit, **common)
    preset = sp.plan_test_time(budget_eflops=budgets, accuracy="aime24-qwen3", **common)
    assert np.array_equal(fitted.feasible, preset.feasible)
    ok = fitted.feasible
    assert ok.sum() >= 5
    np.testing.assert_array_equal(fitted.samples[ok], preset.samples[ok])
    np.testing.assert_allclose(fitted.accuracy[ok], preset.accuracy[ok], rtol=1e-12)
    np.testing.assert_allclose(fitted.cost[ok], preset.cost[ok], rtol=1e-12)
    assert fitted.task == "fitted:preset-equivalent"
    # the preset says nothing of an eval; the fit flags k beyond its 16 samples per problem
    assert preset.eval_samples is None and not preset.extrapolated_samples.any()
    np.testing.assert_array_equal(fitted.extrapolated_samples[ok], fitted.samples[ok] > 16)
    assert fitted.extrapolated_samples[ok].any() and not fitted.extrapolated_samples[ok].all()
    for i in np.flatnonzero(ok):
        text = fitted.at(i).explain()
        assert ("Extrapolated" in text) == (fitted.samples[i] > 16), text
        assert "Extrapolated" not in preset.at(i).explain()


def test_fit_of_the_example_plans_and_extrapolates_in_samples_not_length() -> None:
    fit = sp.fit_accuracy(EXAMPLE, bootstrap=20)
    assert fit.name == "synthetic_eval.csv" and fit.rows == 450 and fit.converged
    acc = fit.accuracy
    assert acc.task == "fitted:synthetic_eval.csv" and acc.fit is fit
    # k beyond n is the fit's formula; below the shortest length nothing is known
    f = fit.fit("qwen3-8b", 16384.0)
    assert acc("qwen3-8b", 16384, 100) == pytest.approx(exact_pass_at_k(f.a, f.b, 100.0), rel=1e-12)
    assert math.isnan(acc("qwen3-8b", 1024, 4))
    plan = sp.plan_test_time(budget_eflops=1e18, accuracy=fit, k_max=256)
    assert plan.feasible and plan.samples > 16 and plan.extrapolated_samples
    assert plan.gen_tokens <= 32768 * (1 + 1e-12)
    frontier = sp.frontier_test_time(budgets=[1e16, 1e17], accuracy=fit)
    assert frontier.oracle is None and np.all(frontier.plan.eval_samples == 16)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    fit = sp.fit_accuracy(EXAMPLE, bootstrap=10)
    path = tmp_path / "fit.json"
    fit.save(path)
    back = sp.AccuracyFit.load(path)
    assert back.name == fit.name and len(back.fits) == len(fit.fits)
    for x, y in zip(fit.fits, back.fits, strict=True):
        assert (x.a, x.b, x.eval_samples) == (y.a, y.b, y.eval_samples)
        assert np.array_equal(x.samples, y.samples)
    assert back.accuracy("qwen3-4b", 8192, 64) == fit.accuracy("qwen3-4b", 8192, 64)
    data = json.loads(path.read_text())
    data["fits"][0]["a"] = -1.0
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidArgumentError) as err:
        sp.AccuracyFit.load(path)
    assert err.value.field == "accuracy_fit"
    path.write_text("{}")
    with pytest.raises(InvalidArgumentError):
        sp.AccuracyFit.load(path)


# ---- CLI: scaleplan fit accuracy, plan test-time --accuracy-fit -----------------------------


def test_cli_fit_accuracy_json_matches_the_api(tmp_path: Path) -> None:
    from cli_support import ok

    out = ok(
        "fit",
        "accuracy",
        str(EXAMPLE),
        "--bootstrap",
        "30",
        "--seed",
        "3",
        "--k",
        "4,64",
        "--json",
        "--save",
        str(tmp_path / "fit.json"),
    )
    data = json.loads(out.stdout)
    want = sp.fit_accuracy(EXAMPLE, bootstrap=30, seed=3)
    assert [g["a"] for g in data["fits"]] == [f.a for f in want.fits]
    first = data["summary"][0]
    curve = want.pass_at_k(first["model"], first["gen_tokens"], [4, 64])
    assert [p["estimate"] for p in first["pass_at_k"]] == list(curve.estimate)
    assert [p["extrapolated"] for p in first["pass_at_k"]] == [False, True]
    assert sp.AccuracyFit.load(tmp_path / "fit.json").fits[0].a == want.fits[0].a


def test_cli_fit_accuracy_table_and_plan_with_the_saved_fit(tmp_path: Path) -> None:
    from cli_support import ok

    saved = tmp_path / "fit.json"
    out = ok("fit", "accuracy", str(EXAMPLE), "--bootstrap", "20", "--save", str(saved))
    assert "15 of 15 fits converged" in out.stdout and "pass@128" in out.stdout
    assert "*" in out.stdout  # pass@8n is extrapolated
    plan = ok(
        "plan", "test-time", "--budget", "1e17eflops", "--accuracy-fit", str(saved), "--explain"
    )
    assert "fitted:synthetic_eval.csv" in plan.stdout
    assert "extrapolation" in plan.stdout and "Extrapolated: 29 samples" in plan.stdout
    want = sp.plan_test_time(budget_eflops=1e17, accuracy=sp.AccuracyFit.load(saved))
    assert f"{want.samples:.0f} samples" in plan.stdout
    frontier = ok(
        "frontier",
        "test-time",
        "--budgets",
        "1e16eflops,1e17eflops",
        "--accuracy-fit",
        str(saved),
        "--json",
    )
    rows = [json.loads(line) for line in frontier.stdout.splitlines() if line.strip()]
    assert [r["samples"] for r in rows] == list(
        sp.frontier_test_time(
            budgets=[1e16, 1e17], accuracy=sp.AccuracyFit.load(saved)
        ).plan.samples
    )
    assert all(r["eval_samples"] == 16 and r["oracle_accuracy"] is None for r in rows)


def test_cli_fit_accuracy_bad_input_and_unconverged(tmp_path: Path) -> None:
    from cli_support import run, usage_error

    bad = tmp_path / "evals.csv"
    bad.write_text("model,gen_tokens,problem,n,c\nqwen3-8b,1024,p0,4,1\nqwen3-8b,1024,p1,4,7\n")
    out = run("fit", "accuracy", str(bad))
    usage_error(out, f"{bad} row 2: c:")
    out = run("fit", "accuracy", str(EXAMPLE), "--bootstrap", "20000")
    usage_error(out, "--bootstrap")
    out = run("fit", "accuracy", str(EXAMPLE), "--level", "2")
    usage_error(out, "--level")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(
        "model,gen_tokens,problem,n,c\n" + "".join(f"qwen3-8b,1024,p{i},4,0\n" for i in range(5))
    )
    saved = tmp_path / "fit.json"
    out = run("fit", "accuracy", str(wrong), "--save", str(saved))
    assert out.returncode == 1 and "NO FIT: no sample was correct" in out.stdout
    out = run("plan", "test-time", "--budget", "1e16eflops", "--accuracy-fit", str(saved))
    usage_error(out, "--accuracy-fit")


def test_the_betabinomial_example_recovers_the_parameters_it_was_drawn_from() -> None:
    # examples/data/synthetic_eval_betabinomial.csv is drawn from these (a, b)
    # (scripts/make_accuracy_fit_example.py); 90% intervals: at least 6 of the 8 parameters
    # covered (8 at 90% cover 6 or more with probability 96%).
    truth = {
        ("qwen3-4b", 4096.0): (0.35, 0.90),
        ("qwen3-4b", 16384.0): (0.40, 0.45),
        ("qwen3-8b", 4096.0): (0.40, 0.70),
        ("qwen3-8b", 16384.0): (0.45, 0.25),
    }
    path = EXAMPLE.parent / "synthetic_eval_betabinomial.csv"
    fit = sp.fit_accuracy(path, bootstrap=400, seed=1)
    intervals = fit.interval(0.9)
    assert set(intervals) == set(truth)
    covered = sum(
        lo <= value <= hi
        for key, (a, b) in truth.items()
        for value, (lo, hi) in ((a, intervals[key]["a"]), (b, intervals[key]["b"]))
    )
    assert covered >= 6, intervals


def test_not_rows_and_a_fired_token_are_clear_errors() -> None:
    for bad in (5, None, 1.5):
        with pytest.raises(InvalidArgumentError) as err:
            sp.fit_accuracy(bad)  # type: ignore[arg-type]
        assert err.value.field == "rows"
    token = sp.CancelToken()
    token.cancel()
    with pytest.raises(sp.errors.Cancelled):
        sp.fit_accuracy(draw_rows(0.5, 1.0, 500, 16, 0), bootstrap=1000, cancel=token)
    fit = sp.fit_accuracy(draw_rows(0.5, 1.0, 50, 16, 0), bootstrap=0)
    with pytest.raises(InvalidArgumentError) as err:
        fit.fit("qwen3-8b", "8192")  # type: ignore[arg-type]
    assert err.value.field == "gen_tokens"
