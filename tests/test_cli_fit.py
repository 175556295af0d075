"""``scaleplan fit law`` and ``plan training --law-fit``: the CLI against the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scaleplan as sp
from cli_support import ok, png_ok, run, usage_error
from scaleplan.fit import KEYS


def write_runs(path: Path, n_runs: int = 60, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(7.0, 10.0, n_runs)
    d = 10 ** rng.uniform(9.0, 12.0, n_runs)
    y = sp.law("besiroglu2024").loss(n, d) * np.exp(rng.normal(0.0, 0.02, n_runs))
    lines = ["params,tokens,loss,note"] + [
        f"{float(a)!r},{float(b)!r},{float(c)!r},x" for a, b, c in zip(n, d, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return n, d, y


def test_fit_law_json_matches_the_api(tmp_path: Path) -> None:
    runs = tmp_path / "runs.csv"
    n, d, y = write_runs(runs)
    out = ok(
        "fit", "law", str(runs), "--bootstrap", "50", "--seed", "3", "--json", "--level", "0.9"
    )
    got = json.loads(out.stdout)
    fit = sp.fit_law(n, d, y, bootstrap=50, seed=3)
    assert got["estimate"] == pytest.approx(fit.estimate, rel=1e-12)
    assert got["converged"] is True and got["n_points"] == 60
    for k in KEYS:
        assert got["interval"][k] == pytest.approx(fit.interval(0.9)[k], rel=1e-12)
    np.testing.assert_allclose(got["samples"], fit.samples, rtol=1e-12)


def test_fit_law_table_save_plot_and_plan(tmp_path: Path) -> None:
    runs = tmp_path / "runs.csv"
    write_runs(runs)
    saved, png = tmp_path / "fit.json", tmp_path / "fit.png"
    out = ok("fit", "law", str(runs), "--bootstrap", "40", "--save", str(saved), "--plot", str(png))
    assert "95% interval" in out.stdout and "alpha" in out.stdout and "converged" in out.stdout
    png_ok(png)
    fit = sp.LawFit.load(saved)
    plan = ok("plan", "training", "--budget", "1e22flops", "--law-fit", str(saved), "--json")
    row = json.loads(plan.stdout.splitlines()[0])
    want = sp.plan_training(budget_flops=1e22, law=fit.law)
    assert row["params"] == pytest.approx(want.params, rel=1e-12)
    assert row["loss"] == pytest.approx(want.loss, rel=1e-12)


def test_fit_law_bad_input(tmp_path: Path) -> None:
    runs = tmp_path / "runs.csv"
    runs.write_text("params,tokens\n1e8,1e10\n")
    usage_error(run("fit", "law", str(runs)), "RUNS.csv")
    runs.write_text("params,tokens,loss\n" + "1e8,1e10,abc\n" * 6)
    usage_error(run("fit", "law", str(runs)), f"{runs} row 1: loss: expected a number, got 'abc'")
    # A run the core refuses is named by its row too (the core gives its index, 2).
    runs.write_text("params,tokens,loss\n" + "1e8,1e10,3.0\n" * 2 + "1e8,1e10,-2\n" * 4)
    usage_error(run("fit", "law", str(runs)), f"{runs} row 3: loss: must be > 0, got -2")
    runs.write_text("params,tokens,loss\n" + "1e8,1e10,3.0\n" * 3)
    usage_error(run("fit", "law", str(runs)), "RUNS.csv")
    write_runs(runs)
    usage_error(run("fit", "law", str(runs), "--bootstrap", "-1"), "--bootstrap")
    usage_error(run("fit", "law", str(runs), "--delta", "0"), "--delta")
    usage_error(run("fit", "law", str(tmp_path / "missing.csv")), "RUNS.csv")
    usage_error(
        run("plan", "training", "--budget", "1e22flops", "--law-fit", str(runs)), "--law-fit"
    )


def test_unconverged_fit_exits_1_and_plan_refuses_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs.csv"
    rows = [f"{1e7 * 2**k},{1e9 * 2**k},{2.0 + 0.1 * k}" for k in range(8)]
    runs.write_text("params,tokens,loss\n" + "\n".join(rows) + "\n")
    saved = tmp_path / "fit.json"
    out = run("fit", "law", str(runs), "--save", str(saved))
    assert out.returncode == 1 and "NOT CONVERGED" in out.stdout
    usage_error(
        run("plan", "training", "--budget", "1e22flops", "--law-fit", str(saved)), "--law-fit"
    )
