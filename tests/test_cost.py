"""inference_cost / training_cost through the façade: published values, broadcasting, arrays of
any layout, and agreement with an independent numpy derivation of the same formulas."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy_cost
import pytest
import scaleplan as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan import _core


def kinetics(**kw: Any) -> sp.InferenceCost:
    args: dict[str, Any] = {
        "prompt_tokens": 128,
        "gen_tokens": 16384,
        "serving": sp.Serving(batch="unset", prefill=False),
    }
    args.update(kw)
    return sp.inference_cost("qwen3-8b", "kinetics-b200", **args)


def test_design_worked_example() -> None:
    c = kinetics()
    # docs/design.md#worked-example and the Kinetics paper's dense_cost on the same inputs
    assert c.flops == pytest.approx(348771707781120.0, rel=1e-9)
    assert c.kv_bytes == pytest.approx(20100446945280.0, rel=1e-9)
    assert c.eflops == pytest.approx(1.1655273114501118e16, rel=1e-9)
    assert c.eflops / 1e12 == pytest.approx(11655.273, rel=1e-7)
    assert c.seconds == pytest.approx(2.590, rel=2e-4)
    assert c.weight_bytes == 0.0 and math.isinf(float(c.batch))
    assert c.feasible is True and c.binding == "none"
    assert isinstance(c.flops, float)


def test_result_fields_match_the_core_rows() -> None:
    names = [f for f in sp.InferenceCost.__dataclass_fields__]
    assert names == _core.INFERENCE_COST_FIELDS
    assert [f for f in sp.TrainingCost.__dataclass_fields__] == _core.TRAINING_COST_FIELDS


def test_broadcasting_gives_each_element_its_scalar_value() -> None:
    gen = np.array([[1024.0], [4096.0], [16384.0]])
    samples = np.array([1, 4, 16])
    c = sp.inference_cost(
        "qwen3-4b", "h100-sxm", prompt_tokens=256, gen_tokens=gen, samples=samples
    )
    assert c.eflops.shape == (3, 3)
    assert c.feasible.shape == (3, 3) and c.binding.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            one = sp.inference_cost(
                "qwen3-4b",
                "h100-sxm",
                prompt_tokens=256,
                gen_tokens=gen[i, 0],
                samples=int(samples[j]),
            )
            assert c.eflops[i, j] == one.eflops
            assert c.latency_s[i, j] == one.latency_s
            assert c.binding[i, j] == one.binding


def test_non_contiguous_and_other_dtypes() -> None:
    base = np.arange(1, 41, dtype=np.float64).reshape(5, 8) * 256
    strided = base[::2, ::3]  # not contiguous
    fortran = np.asfortranarray(base)
    as_int32 = base.astype(np.int32)
    as_float32 = base.astype(np.float32)
    want = sp.inference_cost("qwen3-8b", "h200", prompt_tokens=64, gen_tokens=base.copy())
    for arr in (fortran, as_int32, as_float32):
        got = sp.inference_cost("qwen3-8b", "h200", prompt_tokens=64, gen_tokens=arr)
        np.testing.assert_array_equal(got.flops, want.flops)
    got = sp.inference_cost("qwen3-8b", "h200", prompt_tokens=64, gen_tokens=strided)
    np.testing.assert_array_equal(got.flops, want.flops[::2, ::3])
    assert not strided.flags.c_contiguous


def test_empty_arrays() -> None:
    c = sp.inference_cost("qwen3-8b", "h200", prompt_tokens=64, gen_tokens=np.zeros((0, 3)))
    assert c.flops.shape == (0, 3)


@pytest.mark.parametrize("attention", ["dense", "topk", "block_topk"])
@pytest.mark.parametrize("batch", ["unset", "max", 256])
@pytest.mark.parametrize("sharing", [True, False])
@pytest.mark.parametrize("time_model", ["additive", "roofline"])
@pytest.mark.parametrize("model", ["qwen3-8b", "qwen3-30b-a3b", "qwen3-0.6b"])
def test_core_agrees_with_an_independent_numpy_derivation(
    attention: str, batch: Any, sharing: bool, time_model: str, model: str
) -> None:
    rng = np.random.default_rng(7)
    size = 500
    prompt = rng.integers(0, 4096, size).astype(float)
    gen = rng.integers(1, 30000, size).astype(float)
    k = rng.integers(1, 65, size).astype(float)
    budget = rng.integers(64, 4096, size).astype(float) if attention != "dense" else None
    block = np.full(size, 16.0) if attention == "block_topk" else None
    batch_arg = k * 4 if batch == 256 else batch
    # The budgets and block sizes as an array of spellings, one per configuration.
    if attention == "dense":
        spelled: Any = "dense"
    elif attention == "topk":
        spelled = np.array([f"topk:{b:g}" for b in budget])  # type: ignore[union-attr]
    else:
        spelled = [f"block_topk:{b:g}:16" for b in budget]  # type: ignore[union-attr]
    m, hw = sp.model(model), sp.hardware("h100-sxm")
    got = sp.inference_cost(
        m,
        hw,
        prompt_tokens=prompt,
        gen_tokens=gen,
        samples=k,
        attention=spelled,
        serving=sp.Serving(batch=batch_arg, prefix_sharing=sharing, time_model=time_model),  # type: ignore[arg-type]
    )
    mode = {"unset": "amortized", "max": "max", 256: "fixed"}[batch]
    want = numpy_cost.inference_cost(
        m,
        hw,
        prompt,
        gen,
        k,
        attention=attention,
        kv_budget=budget,
        block_size=block,
        prefix_sharing=sharing,
        batch=mode,
        batch_size=batch_arg if mode == "fixed" else None,
        time_model=time_model,
    )
    for name, expected in want.items():
        value = getattr(got, name)
        if expected.dtype.kind in "bU":
            np.testing.assert_array_equal(value, expected, err_msg=name)
        else:
            np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("batch", ["max", 256])
@pytest.mark.parametrize("time_model", ["additive", "roofline"])
@pytest.mark.parametrize("model", ["qwen3-8b", "qwen3-30b-a3b", "qwen3-0.6b"])
def test_static_batch_prefill_agrees_with_numpy(batch: Any, time_model: str, model: str) -> None:
    rng = np.random.default_rng(11)
    size = 300
    prompt = rng.integers(0, 4096, size).astype(float)
    gen = rng.integers(1, 30000, size).astype(float)
    k = rng.integers(1, 65, size).astype(float)
    batch_arg = k * 4 if batch == 256 else batch
    m, hw = sp.model(model), sp.hardware("h100-sxm")
    got = sp.inference_cost(
        m,
        hw,
        prompt_tokens=prompt,
        gen_tokens=gen,
        samples=k,
        serving=sp.Serving(batch=batch_arg, time_model=time_model, prefill="batch"),  # type: ignore[arg-type]
    )
    mode = {"max": "max", 256: "fixed"}[batch]
    want = numpy_cost.inference_cost(
        m,
        hw,
        prompt,
        gen,
        k,
        prefill_mode="batch",
        batch=mode,
        batch_size=batch_arg if mode == "fixed" else None,
        time_model=time_model,
    )
    for name, expected in want.items():
        value = getattr(got, name)
        if expected.dtype.kind in "bU":
            np.testing.assert_array_equal(value, expected, err_msg=name)
        else:
            np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)


def test_short_prompt_ttft_has_a_weight_read_floor() -> None:
    # Qwen3-8B, 128-token prompt, batch 1, h100-sxm (hand derivation in
    # rust/core/tests/cost_hand_computed.rs): compute 2.101471838208e12 FLOPs / 593.64e12 FLOP/s
    # = 3.540e-3 s; weights 15,137,859,584 B / 2.68e12 B/s = 5.648e-3 s.
    c = sp.inference_cost(
        "qwen3-8b", "h100-sxm", prompt_tokens=128, gen_tokens=1, serving=sp.Serving(batch=1)
    )
    assert c.ttft_s == pytest.approx(15_137_859_584 / 2.68e12, rel=1e-12)
    # The whole batch's prefill: 8 queries in one pass is compute-bound, 8 x 3.540e-3 s.
    b = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=128,
        gen_tokens=1,
        serving=sp.Serving(batch=8, prefill="batch"),
    )
    assert b.ttft_s == pytest.approx(8 * 2.101471838208e12 / 593.64e12, rel=1e-12)
    # A static batch's prefill needs a batch: the error comes from Serving, before any pricing.
    with pytest.raises(sp.errors.InvalidArgumentError) as err:
        sp.Serving(batch="unset", prefill="batch")
    assert err.value.field == "prefill_mode"
    with pytest.raises(sp.errors.InvalidArgumentError) as err:
        sp.Serving(prefill="all")  # type: ignore[arg-type]
    assert err.value.field == "prefill"


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.integers(0, 8192),
    gen=st.integers(1, 32768),
    extra=st.integers(1, 8192),
    k=st.integers(1, 64),
    model=st.sampled_from(["qwen3-1.7b", "qwen3-32b", "llama-3.1-8b", "qwen3-30b-a3b"]),
)
def test_cost_grows_with_generated_tokens(
    prompt: int, gen: int, extra: int, k: int, model: str
) -> None:
    c = sp.inference_cost(
        model,
        "b200",
        prompt_tokens=prompt,
        gen_tokens=[gen, gen + extra],
        samples=k,
        serving=sp.Serving(batch="unset"),
    )
    assert c.eflops[1] > c.eflops[0]
    assert c.seconds[1] > c.seconds[0]
    assert c.latency_s[1] > c.latency_s[0]


def test_training_cost() -> None:
    t = sp.training_cost("qwen3-8b", 1e12, "h100-sxm", gpus=8)
    assert t.flops == pytest.approx(6 * 8.19e9 * 1e12, rel=1e-15)
    hw = sp.hardware("h100-sxm")
    assert t.gpu_hours == pytest.approx(t.flops / (hw.peak_flops_bf16 * hw.train_mfu) / 3600)
    assert t.days == pytest.approx(t.gpu_hours / 8 / 24)
    assert hw.usd_per_hour is not None  # the catalog's dated assumption
    assert t.usd == pytest.approx(t.gpu_hours * hw.usd_per_hour)
    assert sp.training_cost("qwen3-8b", 1e12, "gaudi3").usd is None  # no catalog price
    priced = hw.replace(name="h100-rented", usd_per_hour=2.5)
    assert sp.training_cost("qwen3-8b", 1e12, priced).usd == pytest.approx(t.gpu_hours * 2.5)
    arr = sp.training_cost("qwen3-8b", np.array([1e9, 2e9]), "h100-sxm", mfu=0.5)
    assert arr.flops.shape == (2,) and arr.flops[1] == 2 * arr.flops[0]


def test_gpus_for_a_model_that_needs_several() -> None:
    one = sp.inference_cost("llama-3.1-405b", "h100-sxm", prompt_tokens=512, gen_tokens=4096)
    assert not one.feasible and one.binding == "weights" and one.max_batch == 0
    # 405.85e9 params * 2 B = 811.7 GB of weights on 80 GB GPUs: at least 11
    assert one.min_gpus == 11
    fits = sp.inference_cost(
        "llama-3.1-405b",
        "h100-sxm",
        prompt_tokens=512,
        gen_tokens=4096,
        serving=sp.Serving(gpus=int(one.min_gpus)),
    )
    assert fits.feasible and fits.max_batch >= 1
