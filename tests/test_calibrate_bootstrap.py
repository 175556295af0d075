"""Calibration intervals (docs/calibration.md, "Intervals"): bootstrap refits over resampled
runs. Exact runs give the truth in every resample; noisy runs give intervals that cover the truth
at about their level over seeds and a spread that matches the delta-method standard errors;
resampling is deterministic per seed; the surfaces (gRPC, CLI) carry the samples; bad options
are named."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan.calibrate import MAX_BOOTSTRAP, PARAMETERS
from scaleplan.errors import InvalidArgumentError, LimitExceededError

from tests.cli_support import run
from tests.test_calibrate import SHAPES, measure, truth

TRUE = {"prefill_mfu": 0.45, "decode_bw_util": 0.7, "step_overhead_s": 0.004}


def many_rows(noise: float, seed: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Each shape measured `repeats` times, each measurement with relative noise."""
    rng = np.random.default_rng(seed)
    hw = truth()
    out = []
    for _ in range(repeats):
        for b, p, g in SHAPES:
            ttft, tpot = measure(hw, b, p, g)
            out.append(
                {
                    "model": "qwen3-8b",
                    "batch": b,
                    "prompt_tokens": p,
                    "gen_tokens": g,
                    "ttft_s": ttft * (1 + noise * rng.standard_normal()),
                    "tpot_s": tpot * (1 + noise * rng.standard_normal()),
                }
            )
    return out


def test_exact_runs_give_the_truth_in_every_resample() -> None:
    cal = sp.calibrate(many_rows(0.0, 0), "h100-sxm", bootstrap=50, seed=3)
    assert cal.bootstrap == 50 and cal.seed == 3
    assert len(cal.samples) + cal.bootstrap_failed == 50 and len(cal.samples) >= 45
    want = np.array([TRUE[k] for k in PARAMETERS])
    np.testing.assert_allclose(cal.samples, np.tile(want, (len(cal.samples), 1)), rtol=1e-6)
    lo_hi = cal.interval(0.9)
    for k in PARAMETERS:
        assert lo_hi[k][0] == pytest.approx(TRUE[k], rel=1e-6)
        assert lo_hi[k][1] == pytest.approx(TRUE[k], rel=1e-6)


def test_the_point_fit_is_unchanged_by_the_bootstrap() -> None:
    rows = many_rows(0.02, 1)
    plain = sp.calibrate(rows, "h100-sxm")
    boot = sp.calibrate(rows, "h100-sxm", bootstrap=20)
    assert plain.parameters == boot.parameters and plain.stderr == boot.stderr
    assert plain.hardware == boot.hardware and plain.samples.shape == (0, 3)
    assert plain.bootstrap == 0 and boot.samples.shape == (20 - boot.bootstrap_failed, 3)


def test_resampling_is_deterministic_per_seed() -> None:
    rows = many_rows(0.02, 2)
    a = sp.calibrate(rows, "h100-sxm", bootstrap=30, seed=9)
    b = sp.calibrate(rows, "h100-sxm", bootstrap=30, seed=9)
    c = sp.calibrate(rows, "h100-sxm", bootstrap=30, seed=10)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def test_intervals_cover_the_truth_over_seeds_and_match_the_stderr() -> None:
    """20 noisy datasets (2% relative noise, 24 runs), 200 resamples each: the 90% percentile
    intervals should cover each true parameter in about 18 of 20; the bootstrap's standard
    deviation should be near the delta-method standard error (the same quantity, estimated two
    ways)."""
    covered = dict.fromkeys(PARAMETERS, 0)
    ratios: dict[str, list[float]] = {k: [] for k in PARAMETERS}
    for seed in range(20):
        cal = sp.calibrate(many_rows(0.02, 100 + seed), "h100-sxm", bootstrap=200, seed=seed)
        assert cal.bootstrap_failed == 0
        for j, k in enumerate(PARAMETERS):
            lo, hi = cal.interval(0.9)[k]
            covered[k] += lo <= TRUE[k] <= hi
            ratios[k].append(float(np.std(cal.samples[:, j], ddof=1)) / cal.stderr[k])
    for k in PARAMETERS:
        # Binomial(20, 0.9): P(X <= 14) ~ 1.1%; a percentile bootstrap of 24 runs runs a little
        # narrow, so 15 of 20 is the floor.
        assert covered[k] >= 15, (k, covered)
        assert 0.5 < float(np.median(ratios[k])) < 2.0, (k, ratios[k])


def test_sample_hardware_prices_with_each_resample() -> None:
    cal = sp.calibrate(many_rows(0.02, 4), "h100-sxm", bootstrap=10)
    hws = cal.sample_hardware()
    assert len(hws) == len(cal.samples)
    for hw, row in zip(hws, cal.samples, strict=True):
        assert (hw.prefill_mfu, hw.decode_bw_util, hw.step_overhead_s) == tuple(row)
        assert hw.name == cal.hardware.name


@pytest.mark.parametrize(
    ("kwargs", "field", "error"),
    [
        ({"bootstrap": -1}, "bootstrap", InvalidArgumentError),
        ({"bootstrap": 1.5}, "bootstrap", InvalidArgumentError),
        ({"bootstrap": True}, "bootstrap", InvalidArgumentError),
        ({"bootstrap": MAX_BOOTSTRAP + 1}, "bootstrap", LimitExceededError),
        ({"seed": -2}, "seed", InvalidArgumentError),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, Any], field: str, error: type) -> None:
    with pytest.raises(error) as caught:
        sp.calibrate(many_rows(0.0, 0), "h100-sxm", **kwargs)
    assert caught.value.field == field  # type: ignore[attr-defined]


def test_interval_needs_a_bootstrap_and_a_level_in_range() -> None:
    cal = sp.calibrate(many_rows(0.02, 5), "h100-sxm")
    with pytest.raises(InvalidArgumentError) as caught:
        cal.interval()
    assert caught.value.field == "bootstrap"
    boot = sp.calibrate(many_rows(0.02, 5), "h100-sxm", bootstrap=10)
    for level in (0.0, 1.0, float("nan"), "0.9"):
        with pytest.raises(InvalidArgumentError) as caught:
            boot.interval(level)  # type: ignore[arg-type]
        assert caught.value.field == "level"


def test_calibrate_rpc_carries_the_samples(client: sp.Client) -> None:
    rows = many_rows(0.02, 6)
    local = sp.calibrate(rows, "h100-sxm", bootstrap=25, seed=4)
    remote = client.calibrate(rows, "h100-sxm", bootstrap=25, seed=4)
    np.testing.assert_array_equal(remote.samples, local.samples)
    assert (remote.bootstrap, remote.seed, remote.bootstrap_failed) == (25, 4, 0)
    assert remote.interval(0.8) == local.interval(0.8)
    assert client.calibrate(rows, "h100-sxm").samples.shape == (0, 3)


def test_cli_prints_the_intervals(tmp_path: Any) -> None:
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(many_rows(0.02, 7)))
    p = run("calibrate", str(path), "--hardware", "h100-sxm", "--bootstrap", "40", "--level", "0.8")
    assert p.returncode == 0, p.stderr
    cal = sp.calibrate(str(path), "h100-sxm", bootstrap=40)
    lo, hi = cal.interval(0.8)["decode_bw_util"]
    assert "80% interval" in p.stdout and f"{lo:.4g} .. {hi:.4g}" in p.stdout
    assert "percentiles of 40 bootstrap refits" in p.stdout
    p = run("calibrate", str(path), "--hardware", "h100-sxm", "--bootstrap", "40", "--json")
    data = json.loads(p.stdout)
    assert data["interval"]["prefill_mfu"] == list(cal.interval(0.95)["prefill_mfu"])
    assert len(data["samples"]) == 40 and data["level"] == 0.95
    p = run("calibrate", str(path), "--hardware", "h100-sxm", "--level", "0.8")
    assert p.returncode == 2 and "--level" in p.stderr
    p = run("calibrate", str(path), "--hardware", "h100-sxm", "--bootstrap", "-3")
    assert p.returncode == 2 and "--bootstrap" in p.stderr
