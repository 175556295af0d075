"""scaleplan.Serving and the one attention spelling: validated once, the same in every function
that prices inference, the default batch, and the gRPC translation written once."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan import errors
from scaleplan.grpc import conversions
from scaleplan.v1 import plan_pb2

PRICING = (
    sp.inference_cost,
    sp.plan_lifetime,
    sp.frontier_test_time,
    sp.plan_joint,
)
FLAT = ("batch", "prefix_sharing", "prefill", "time_model", "weight_dtype", "kv_dtype", "gpus")


@pytest.mark.parametrize("fn", PRICING, ids=lambda f: f.__name__)
def test_every_pricing_function_takes_one_serving_value(fn: Any) -> None:
    params = inspect.signature(fn).parameters
    assert params["serving"].default is None
    assert not set(FLAT) & set(params), fn.__name__
    assert "kv_budget" not in params and "block_size" not in params


def test_serving_is_frozen_validated_and_describes_itself() -> None:
    s = sp.Serving()
    assert s.batch == "max" and s.prefill is True and s.gpus is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.batch = 8  # type: ignore[misc]
    assert sp.Serving(batch=8) == sp.Serving(batch=8.0)
    assert hash(sp.Serving(batch=8)) == hash(sp.Serving(batch=8.0))
    assert sp.Serving(batch=8) != sp.Serving(batch=16)
    text = str(sp.Serving(batch=64, prefill=False, kv_dtype="fp8", gpus=2))
    assert "\n" not in text
    assert text == (
        "batch 64, prefill left out, prefix sharing, additive time, weights bf16, KV fp8, "
        "compute bf16, 2 GPUs/replica"
    )
    assert str(sp.Serving(batch="unset")).startswith("batch unset (weight reads amortised)")
    assert repr(sp.Serving()).startswith("Serving(batch='max'")
    for value in (s, sp.Serving(batch=np.array([1.0, 4.0]), gpus="auto")):
        assert pickle.loads(pickle.dumps(value)) == value
    # replace() validates again.
    with pytest.raises(errors.InvalidArgumentError) as info:
        dataclasses.replace(s, time_model="wallclock")  # type: ignore[arg-type]
    assert info.value.field == "time_model"
    assert "'additive', 'roofline'" in str(info.value)


def test_attention_spellings_and_tuples_are_one_value() -> None:
    assert sp.attention("topk:1024") == sp.attention(("topk", 1024)) == ("topk", 1024.0, None)
    assert sp.attention(" block_topk : 2048 : 16 ") == sp.attention(("block_topk", 2048, 16))
    for spelled in ("dense", "topk:1024", "block_topk:2048:16"):
        assert str(sp.attention(spelled)) == spelled
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.attention("topk")
    assert info.value.field == "attention"
    # The message shows every accepted form.
    for form in ("'dense'", "'topk:S'", "'block_topk:S:BLOCK'", "('topk', S)"):
        assert form in str(info.value)


def _cost(**kw: Any) -> sp.InferenceCost:
    return sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=4096, **kw)


def test_an_array_of_spellings_broadcasts_like_the_numbers() -> None:
    budgets = [256, 1024, 4096]
    gen = np.array([[1024.0], [8192.0]])
    many = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=512,
        gen_tokens=gen,
        attention=np.array([f"topk:{b}" for b in budgets]),
    )
    assert many.eflops.shape == (2, 3)
    for i, g in enumerate(gen[:, 0]):
        for j, b in enumerate(budgets):
            one = sp.inference_cost(
                "qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=g, attention=("topk", b)
            )
            assert many.eflops[i, j] == one.eflops and many.batch[i, j] == one.batch
    # Block top-k as a list; a larger budget reads more KV (every step, past the budget).
    blocks = _cost(attention=["block_topk:1024:16", "block_topk:4096:16"])
    assert blocks.kv_bytes[1] > blocks.kv_bytes[0]
    with pytest.raises(errors.InvalidArgumentError) as info:
        _cost(attention=["dense", "topk:1024"])
    assert info.value.field == "attention" and "one kind" in str(info.value)


def test_an_array_of_batch_sizes_prices_each_configuration() -> None:
    sizes = np.array([1.0, 8.0, 64.0])
    many = _cost(serving=sp.Serving(batch=sizes))
    for i, b in enumerate(sizes):
        assert many.seconds[i] == _cost(serving=sp.Serving(batch=float(b))).seconds
    # Each decode step reads the weights once for the batch: a query's share falls as the batch
    # grows.
    assert np.all(np.diff(many.weight_bytes) < 0)


def test_the_default_batch_is_max_everywhere() -> None:
    unset, largest = sp.Serving(batch="unset"), sp.Serving(batch="max")
    default = _cost()
    assert default.batch == _cost(serving=largest).batch == default.max_batch
    assert np.isinf(_cost(serving=unset).batch)
    life = {
        "target_loss": 2.1,
        "queries": 1e9,
        "prompt_tokens": 512,
        "gen_tokens": 1024,
        "hardware": "h100-sxm",
        "family": "qwen3-dense",
        "unit": "gpu_hours",
    }
    assert (
        sp.plan_lifetime(**life).total_cost == sp.plan_lifetime(**life, serving=largest).total_cost
    )
    assert sp.plan_lifetime(**life).total_cost != sp.plan_lifetime(**life, serving=unset).total_cost
    tt = {"budget_eflops": 1e16, "hardware": "h100-sxm"}
    assert sp.plan_test_time(**tt).eflops == sp.plan_test_time(**tt, serving=largest).eflops
    joint = {"budget": 1e5, "queries": 1e8}
    assert sp.plan_joint(**joint).accuracy == sp.plan_joint(**joint, serving=largest).accuracy


def test_gpus_auto_only_where_a_planner_chooses() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        _cost(serving=sp.Serving(gpus="auto"))
    assert info.value.field == "gpus"
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_test_time(budget_eflops=1e16, serving=sp.Serving(gpus="auto"))
    assert info.value.field == "gpus"
    joint = {"budget": 1e5, "queries": 1e8}
    auto = sp.plan_joint(**joint, serving=sp.Serving(gpus="auto"))
    assert auto.gpus == sp.plan_joint(**joint).gpus
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.plan_joint(**joint, serving=sp.Serving(batch=np.array([1.0, 2.0])))
    assert info.value.field == "batch"


def test_a_plan_spells_its_attention_as_it_was_given() -> None:
    p = sp.plan_test_time(
        budget_eflops=np.array([1e15, 1e17]), attention=["dense", "topk:1024", ("topk", 2048)]
    )
    for chosen in p.attention:
        assert chosen in ("dense", "topk:1024", "topk:2048")
        assert str(sp.attention(chosen)) == chosen


@pytest.mark.parametrize(
    "serving",
    [
        sp.Serving(),
        sp.Serving(batch="unset", prefill=False),
        sp.Serving(batch=32, prefill="batch", prefix_sharing=False, gpus=4),
        sp.Serving(time_model="roofline", weight_dtype="fp8", kv_dtype="fp16"),
    ],
    ids=str,
)
def test_serving_options_round_trip_through_proto(serving: sp.Serving) -> None:
    message = conversions.serving_message(serving)
    assert conversions.serving_from(message) == serving
    again = plan_pb2.ServingOptions.FromString(message.SerializeToString())
    assert conversions.serving_from(again) == serving


def test_empty_serving_options_are_the_default_serving() -> None:
    assert conversions.serving_from(plan_pb2.ServingOptions()) == sp.Serving()
    for spelled in ("dense", "topk:1024", "block_topk:2048:16"):
        a = sp.attention(spelled)
        assert conversions.attention_from(conversions.attention_message(a), "attention") == a


def test_sweep_axes_are_attention_spellings_and_batch_sizes() -> None:
    """scaleplan.sweep's grid: prompt x gen x samples x attention x batch sizes, equal to
    inference_cost on the open mesh of the same axes (spellings and sizes indexed)."""
    spellings = np.array(["topk:256", "topk:1024", "topk:4096"])
    sizes = np.array([1.0, 16.0])
    got = sp.inference_cost_sweep(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=[512],
        gen_tokens=[1024, 8192],
        attention=list(spellings),
        serving=sp.Serving(batch=sizes),
        chunk_size=5,
    )
    p, g, s, a, b = np.ix_([512.0], [1024.0, 8192.0], [1.0], np.arange(3), np.arange(2))
    want = sp.inference_cost(
        "qwen3-8b",
        "h100-sxm",
        prompt_tokens=p,
        gen_tokens=g,
        samples=s,
        attention=np.broadcast_to(spellings[a], (1, 2, 1, 3, 2)),
        serving=sp.Serving(batch=np.broadcast_to(sizes[b], (1, 2, 1, 3, 2))),
    )
    assert got.flops.shape == (1, 2, 1, 3, 2)
    np.testing.assert_array_equal(got.flops, want.flops)
    np.testing.assert_array_equal(got.batch, want.batch)
    # One attention is no axis; a bad element of the list is located by its index.
    one = sp.inference_cost_sweep("qwen3-8b", "h100-sxm", prompt_tokens=[512], gen_tokens=[64])
    assert one.flops.shape == (1, 1, 1)
    with pytest.raises(errors.InvalidArgumentError) as caught:
        sp.inference_cost_sweep(
            "qwen3-8b",
            "h100-sxm",
            prompt_tokens=[512],
            gen_tokens=[64],
            attention=["topk:256", "topk:0"],
        )
    assert (caught.value.field, caught.value.index) == ("attention", 1)
