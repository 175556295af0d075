"""Training FLOPs become GPU-hours at the peak of the plan's compute dtype (docs/design.md#units),
in every planner. Expected values by hand from the shipped h100-sxm entry: dense peaks bf16
989.4e12 and fp8 1978.9e12 FLOP/s, train_mfu 0.40."""

from __future__ import annotations

from typing import Any

import pytest
import scaleplan as sp
from scaleplan.errors import InvalidArgumentError

H100_FP8 = 1978.9e12
H100_BF16 = 989.4e12
MFU = 0.40

LIFETIME: dict[str, Any] = dict(
    target_loss=2.3,
    queries=1e9,
    prompt_tokens=512,
    gen_tokens=1024,
    family="qwen3-dense",
    unit="gpu_hours",
)


@pytest.mark.parametrize(("dtype", "peak"), [("fp8", H100_FP8), ("bf16", H100_BF16)])
def test_lifetime_trains_at_the_compute_dtype_peak(dtype: str, peak: float) -> None:
    p = sp.plan_lifetime(hardware="h100-sxm", serving=sp.Serving(compute_dtype=dtype), **LIFETIME)
    assert p.feasible
    flops = 6 * p.params * p.tokens
    assert p.training_flops == pytest.approx(flops, rel=1e-12)
    assert p.training_cost == pytest.approx(flops / (peak * MFU * 3600), rel=1e-12)


def test_joint_trains_at_the_fp8_peak() -> None:
    p = sp.plan_joint(
        budget=1e5,
        queries=1e6,
        family="qwen3-dense",
        hardware="h100-sxm",
        serving=sp.Serving(compute_dtype="fp8"),
    )
    assert p.feasible
    # the training share of the budget, in GPU-hours, buys D = hours * 3600 * peak * MFU / (6 N)
    tokens = p.training_cost * 3600 * H100_FP8 * MFU / (6 * p.params)
    assert p.tokens == pytest.approx(tokens, rel=1e-9)


def test_fp8_without_an_fp8_peak_names_compute_dtype() -> None:
    with pytest.raises(InvalidArgumentError, match="compute_dtype") as e:
        sp.plan_lifetime(hardware="a100-80gb", serving=sp.Serving(compute_dtype="fp8"), **LIFETIME)
    assert e.value.field == "compute_dtype"


def test_the_six_of_6nd_comes_from_the_core() -> None:
    from scaleplan import _core
    from scaleplan.cost import TRAIN_FLOPS_PER_PARAM_TOKEN

    assert _core.TRAIN_FLOPS_PER_PARAM_TOKEN == TRAIN_FLOPS_PER_PARAM_TOKEN == 6.0
