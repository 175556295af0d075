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
    values, unit = _parse.budgets("--budget", "1e18:1e26:30", ("flops",))
    assert unit is None and len(values) == 30 and values[0] == 1e18 and values[-1] == 1e26
    # Bare numbers in a list take the list's unit.
    assert _parse.budgets("--budget", "100,200gpu-h", ("gpu_hours",))[1] == "gpu_hours"
    with pytest.raises(UsageError, match="share a unit"):
        _parse.budgets("--budget", "$5,200gpu-h", ("usd", "gpu_hours"))
    with pytest.raises(UsageError, match="different units"):
        _parse.budgets("--budget", "$1:2gpu-h:3", ("usd", "gpu_hours"))
    with pytest.raises(UsageError, match="does not apply here"):
        _parse.budgets("--budget", "1e5s", ("flops", "usd"))


def test_batch() -> None:
    assert _parse.batch("--batch", None).mode == "unset"
    assert _parse.batch("--batch", "max").mode == "max"
    fixed = _parse.batch("--batch", "1,8,64")
    assert fixed.mode == "fixed" and fixed.sizes is not None and fixed.sizes.tolist() == [1, 8, 64]
    with pytest.raises(UsageError, match="mixed"):
        _parse.batch("--batch", "max,8")
