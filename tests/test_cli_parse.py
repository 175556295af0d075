"""The command line's value syntax: lists, ranges, batch sizes and budgets with units."""

from __future__ import annotations

import numpy as np
import pytest
from scaleplan.commands import _parse
from scaleplan.commands._parse import UsageError


def test_numbers_lists_and_log_ranges() -> None:
    assert _parse.values("--x", "8192").tolist() == [8192]
    assert _parse.values("--x", "1e21,3.5e4").tolist() == [1e21, 3.5e4]
    assert _parse.values("--x", "1024:32768:6").tolist() == [1024, 2048, 4096, 8192, 16384, 32768]
    assert _parse.values("--x", "1,2,4:64:5").tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert _parse.values("--x", "0:10:3:lin").tolist() == [0, 5, 10]
    assert _parse.values("--x", "7:7:1").tolist() == [7]


def test_whole_number_ranges_round_and_drop_repeats() -> None:
    got = _parse.values("--samples", "1:10:8", integer=True)
    assert got.tolist() == sorted(set(got.tolist()))
    assert np.all(got == np.rint(got)) and got[0] == 1 and got[-1] == 10
    # An explicit fractional value is passed through for the core to judge.
    assert _parse.values("--samples", "2.5", integer=True).tolist() == [2.5]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc", "not a number"),
        ("1,,2", "empty value"),
        ("1:10", "START:STOP:N"),
        ("1:10:0", "count"),
        ("0:10:3", "log-spaced range needs ends > 0"),
        ("1:10:3:cubic", "spacing"),
        ("1:10:2.5", "whole number"),
    ],
)
def test_value_errors_name_the_option(text: str, words: str) -> None:
    with pytest.raises(UsageError) as err:
        _parse.values("--gen-tokens", text)
    assert err.value.option == "--gen-tokens"
    assert words in err.value.message


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1e21", 1e21, None),
        ("3.5e4", 3.5e4, None),
        ("1e21flops", 1e21, "flops"),
        ("2e20FLOP", 2e20, "flops"),
        ("5e20eflops", 5e20, "eflops"),
        ("2eflops", 2.0, "eflops"),
        ("200gpu-h", 200.0, "gpu_hours"),
        ("200 GPU-hours", 200.0, "gpu_hours"),
        ("2Mgpu-h", 2e6, "gpu_hours"),
        ("$5000", 5000.0, "usd"),
        ("$5k", 5000.0, "usd"),
        ("$1.5M", 1.5e6, "usd"),
        ("5000usd", 5000.0, "usd"),
        ("1e5s", 1e5, "seconds"),
        ("500ms", 0.5, "seconds"),
        ("2min", 120.0, "seconds"),
        ("1h", 3600.0, "seconds"),
        ("3T", 3e12, None),
    ],
)
def test_budgets_with_units(text: str, value: float, unit: str | None) -> None:
    got = _parse.budget("--budget", text)
    assert got.value == pytest.approx(value, rel=1e-15)
    assert got.unit == unit


@pytest.mark.parametrize("text", ["5 bananas", "$", "gpu-h", "$5gpu-h", "1e5 parsecs"])
def test_bad_budgets_name_the_option(text: str) -> None:
    with pytest.raises(UsageError) as err:
        _parse.budget("--budget", text)
    assert err.value.option == "--budget"


def test_budget_lists_and_ranges_share_one_unit() -> None:
    values, unit = _parse.budgets("--budget", "$1k:$1M:4", ("usd",))
    assert unit == "usd"
    np.testing.assert_allclose(values, [1e3, 1e4, 1e5, 1e6])
    values, unit = _parse.budgets("--budget", "1e18flops:1e26flops:30", ("flops",))
    assert unit == "flops" and len(values) == 30 and values[0] == 1e18 and values[-1] == 1e26
    values, unit = _parse.budgets("--budget", "100gpu-h,200gpu-h", ("gpu_hours",))
    assert unit == "gpu_hours" and values.tolist() == [100.0, 200.0]
    with pytest.raises(UsageError, match="share a unit"):
        _parse.budgets("--budget", "$5,200gpu-h", ("usd", "gpu_hours"))
    with pytest.raises(UsageError, match="different units"):
        _parse.budgets("--budget", "$1:2gpu-h:3", ("usd", "gpu_hours"))
    with pytest.raises(UsageError, match="does not apply here"):
        _parse.budgets("--budget", "1e5s", ("flops", "usd"))


@pytest.mark.parametrize("text", ["1e21", "1e21,2e21flops", "1e18:1e26flops:3", "$1:2:3", "0"])
def test_a_bare_budget_is_an_error_listing_the_units(text: str) -> None:
    # A bare number meant FLOPs in one planner and GPU-hours in another: it is refused, and
    # the message lists every unit the option accepts, each with an example.
    with pytest.raises(UsageError) as err:
        _parse.budgets("--budget", text, ("flops", "gpu_hours", "usd"))
    assert err.value.option == "--budget"
    assert "has no unit" in err.value.message
    for example in ("FLOPs (1e21flops)", "GPU-hours (2e5gpu-h)", "USD ($5000 or 5000usd)"):
        assert example in err.value.message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("120", 120.0), ("120s", 120.0), ("500ms", 0.5), ("2min", 120.0), ("1h", 3600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert _parse.duration("--latency-slo", text) == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize("text", ["5gpu-h", "$5", "1e21flops", "soon", "1,2"])
def test_a_bad_duration_lists_time_units_only(text: str) -> None:
    with pytest.raises(UsageError) as err:
        _parse.duration("--latency-slo", text)
    assert err.value.option == "--latency-slo"
    assert "ms, 2min, 1h" in err.value.message
    for budget_unit in ("flops", "gpu-h", "usd", "$"):
        assert budget_unit not in err.value.message.split("(", 1)[1]


def test_batch() -> None:
    assert _parse.batch("--batch", None).mode == "unset"
    assert _parse.batch("--batch", "max").mode == "max"
    fixed = _parse.batch("--batch", "1,8,64")
    assert fixed.mode == "fixed" and fixed.sizes is not None and fixed.sizes.tolist() == [1, 8, 64]
    with pytest.raises(UsageError, match="mixed"):
        _parse.batch("--batch", "max,8")
