"""The cost kernel's surfaces (docs/architecture.md, "The cost kernel"): ``fields=`` and ``out=``
of ``inference_cost``, the scalar path for plain numbers, and the cached catalog lookups. Each
path is compared with another one computed independently of it: arrays with one call per
configuration through the scalar path (the core's ``Pricer::price``), the scalar path with a
one-element array through the column kernel, both with the plain numpy derivation of
benches/numpy_cost.py."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy_cost
import pytest
import scaleplan as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scaleplan.errors import InvalidArgumentError, ScaleplanError

FIELDS = sp.INFERENCE_COST_FIELDS
NUMERIC = [f for f in FIELDS if f not in ("feasible", "binding")]


def _grid(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        # up to 64k-token prompts: past qwen3-8b's 40,960-token context for some
        "prompt_tokens": np.floor(rng.uniform(0, 65536, n)),
        "gen_tokens": np.floor(rng.uniform(1, 32768, n)),
        "samples": rng.integers(1, 65, n).astype(np.float64),
    }


SERVINGS = [
    sp.Serving(batch="unset"),
    sp.Serving(batch="max", time_model="roofline"),
    sp.Serving(batch=64, prefill="batch", prefix_sharing=False),
    sp.Serving(batch="max", gpus=2, time_model="roofline"),
]
ATTENTIONS = ["dense", "topk:1024", "block_topk:2048:16"]


def _same(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


@pytest.mark.parametrize("serving", SERVINGS, ids=str)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_arrays_equal_one_scalar_call_per_configuration(
    serving: sp.Serving, attention: str
) -> None:
    grid = _grid(60)
    model = "qwen3-30b-a3b" if serving.gpus == 2 else "qwen3-8b"
    arrays = sp.inference_cost(model, "h100-sxm", attention=attention, serving=serving, **grid)
    assert not arrays.feasible.all() and arrays.feasible.any()  # both sides of the walls
    for i in range(60):
        one = sp.inference_cost(
            model,
            "h100-sxm",
            attention=attention,
            serving=serving,
            prompt_tokens=float(grid["prompt_tokens"][i]),
            gen_tokens=float(grid["gen_tokens"][i]),
            samples=int(grid["samples"][i]),
        )
        for name in FIELDS:
            # bit for bit: the kernel runs the scalar reference's formulas (NaN never occurs)
            assert getattr(one, name) == getattr(arrays, name)[i], (i, name)
        assert isinstance(one.feasible, bool) and isinstance(one.binding, str)


@pytest.mark.parametrize("model", ["qwen3-8b", "qwen3-30b-a3b"])
def test_a_large_output_written_with_streaming_stores_equals_scalar_calls(model: str) -> None:
    """70,001 configurations: 11.2 MB of output, past the size from which the binding writes
    with streaming stores (rust/python/src/cost.rs, STREAM_BYTES), an odd count so that every
    other row starts off a 16-byte boundary, spanning many chunks of the kernel. Indices at
    the chunk and poll boundaries and at random are compared with one scalar call each; the
    same call into a reused ``out=`` and with a subset of ``fields=`` agrees bit for bit."""
    n = 70_001
    grid = _grid(n, seed=3)
    serving = sp.Serving(batch="max")
    arrays = sp.inference_cost(model, "h100-sxm", serving=serving, **grid)
    edges = [0, 1, 63, 64, 65, 1023, 1024, 1025, n // 2, n - 2, n - 1]
    picked = sorted({*edges, *np.random.default_rng(4).integers(0, n, 200).tolist()})
    for i in picked:
        one = sp.inference_cost(
            model,
            "h100-sxm",
            serving=serving,
            prompt_tokens=float(grid["prompt_tokens"][i]),
            gen_tokens=float(grid["gen_tokens"][i]),
            samples=float(grid["samples"][i]),
        )
        for name in FIELDS:
            assert getattr(one, name) == getattr(arrays, name)[i], (i, name)
    out = np.full((len(FIELDS), n), np.nan)
    into = sp.inference_cost(model, "h100-sxm", serving=serving, out=out, **grid)
    asked = ["eflops", "binding", "ttft_s"]
    part = sp.inference_cost(model, "h100-sxm", serving=serving, fields=asked, **grid)
    for name in FIELDS:
        assert _same(getattr(into, name), getattr(arrays, name)), name
    for name in asked:
        assert _same(getattr(part, name), getattr(arrays, name)), name


def test_per_configuration_batch_sizes_match_one_call_each() -> None:
    grid = _grid(40, seed=1)
    sizes = np.maximum(np.array([1, 2, 8, 64, 512] * 8, dtype=np.float64), grid["samples"])
    arrays = sp.inference_cost("qwen3-8b", "h100-sxm", serving=sp.Serving(batch=sizes), **grid)
    for i in range(40):
        one = sp.inference_cost(
            "qwen3-8b",
            "h100-sxm",
            serving=sp.Serving(batch=float(sizes[i])),
            prompt_tokens=float(grid["prompt_tokens"][i]),
            gen_tokens=float(grid["gen_tokens"][i]),
            samples=float(grid["samples"][i]),
        )
        for name in FIELDS:
            assert getattr(one, name) == getattr(arrays, name)[i], (i, name)


def test_fields_and_out_give_the_same_numbers_as_fresh_arrays() -> None:
    grid = _grid(500, seed=2)
    serving = sp.Serving(batch="max")
    full = sp.inference_cost("qwen3-8b", "h100-sxm", serving=serving, **grid)
    out = np.full((len(FIELDS), 500), np.nan)
    into = sp.inference_cost("qwen3-8b", "h100-sxm", serving=serving, out=out, **grid)
    for name in FIELDS:
        assert _same(getattr(into, name), getattr(full, name)), name
    # numeric fields are views of out's rows; the flags are written there as codes
    assert np.shares_memory(into.eflops, out)
    assert _same(out[FIELDS.index("eflops")], full.eflops)
    assert _same(out[FIELDS.index("feasible")], full.feasible.astype(np.float64))
    codes = np.array([sp.cost._BINDING_NAMES.index(b) for b in full.binding], dtype=np.float64)
    assert _same(out[FIELDS.index("binding")], codes)
    # a subset, in the order asked, into a buffer of that many rows
    asked = ["binding", "latency_s", "eflops"]
    small = np.empty((3, 500))
    part = sp.inference_cost(
        "qwen3-8b", "h100-sxm", serving=serving, fields=asked, out=small, **grid
    )
    for name in FIELDS:
        if name in asked:
            assert _same(getattr(part, name), getattr(full, name)), name
        else:
            assert getattr(part, name) is None, name
    assert _same(small[1], full.latency_s) and _same(small[2], full.eflops)
    fresh = sp.inference_cost("qwen3-8b", "h100-sxm", serving=serving, fields=["ttft_s"], **grid)
    assert _same(fresh.ttft_s, full.ttft_s) and fresh.eflops is None


def test_out_is_reused_across_calls_and_shaped_like_the_inputs() -> None:
    prompt = np.arange(12.0).reshape(3, 4) * 100
    out = np.empty((len(FIELDS), 12))
    first = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=prompt, gen_tokens=64, out=out)
    assert first.eflops.shape == (3, 4)
    kept = first.eflops.copy()
    second = sp.inference_cost(
        "qwen3-8b", "h100-sxm", prompt_tokens=prompt, gen_tokens=128, out=out
    )
    # one buffer: the first result's views now hold the second call's numbers
    assert _same(first.eflops, second.eflops) and not _same(kept, second.eflops)
    expected = numpy_cost.inference_cost(
        sp.model("qwen3-8b"),
        sp.hardware("h100-sxm"),
        prompt.reshape(-1),
        np.full(12, 128.0),
        np.ones(12),
        batch="max",
    )
    np.testing.assert_allclose(second.eflops.reshape(-1), expected["eflops"], rtol=1e-12)


def _error(call: Any) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("out", "why"),
    [
        (np.empty((len(FIELDS), 9)), "shape"),
        (np.empty((len(FIELDS) - 1, 10)), "shape"),
        (np.empty(len(FIELDS) * 10), "2-D float64"),
        (np.empty((len(FIELDS), 10), dtype=np.float32), "2-D float64"),
        (np.empty((len(FIELDS), 10), dtype=np.int64), "2-D float64"),
        (np.empty((10, len(FIELDS))).T, "C-contiguous"),
        (np.empty((len(FIELDS), 20))[:, ::2], "C-contiguous"),
        ([[0.0] * 10] * len(FIELDS), "2-D float64"),
    ],
)
def test_a_bad_out_buffer_is_refused_naming_out(out: Any, why: str) -> None:
    err = _error(
        lambda: sp.inference_cost(
            "qwen3-8b", "h100-sxm", prompt_tokens=np.arange(10.0), gen_tokens=8, out=out
        )
    )
    assert err.field == "out" and why in str(err)


def test_a_read_only_or_overlapping_out_buffer_is_refused() -> None:
    out = np.zeros((len(FIELDS), 10))
    out.setflags(write=False)
    err = _error(
        lambda: sp.inference_cost(
            "qwen3-8b", "h100-sxm", prompt_tokens=np.arange(10.0), gen_tokens=8, out=out
        )
    )
    assert err.field == "out" and "writable" in str(err)
    # an input that is a row of the buffer itself
    shared = np.ones((len(FIELDS), 10))
    err = _error(
        lambda: sp.inference_cost(
            "qwen3-8b", "h100-sxm", prompt_tokens=shared[3], gen_tokens=8, out=shared
        )
    )
    assert err.field == "out" and "share memory" in str(err)
    assert (shared == 1).all()  # untouched


@pytest.mark.parametrize(
    ("fields", "why", "index"),
    [
        ([], "non-empty", None),
        ("flops", None, None),  # one name is a list of one: accepted
        (["flops", "eflop"], "unknown field 'eflop'", 1),
        (["flops", 3], "unknown field 3", 1),
        (["flops", "flops"], "twice", 1),
        (7, "non-empty list", None),
    ],
)
def test_fields_are_checked_naming_fields(fields: Any, why: str | None, index: int | None) -> None:
    def call() -> sp.InferenceCost:
        return sp.inference_cost(
            "qwen3-8b", "h100-sxm", prompt_tokens=np.arange(4.0), gen_tokens=8, fields=fields
        )

    if why is None:
        assert _same(
            call().flops,
            sp.inference_cost(
                "qwen3-8b", "h100-sxm", prompt_tokens=np.arange(4.0), gen_tokens=8
            ).flops,
        )
        return
    err = _error(call)
    assert err.field == "fields" and why in str(err)
    assert err.index == index


def test_scalar_numbers_give_python_scalars_equal_to_the_array_path() -> None:
    # the scalar path (plain numbers) against the array path (a one-element array) and numpy
    model, hw = sp.model("qwen3-8b"), sp.hardware("h100-sxm")
    for attention in ATTENTIONS:
        for serving in SERVINGS[:3]:
            one = sp.inference_cost(
                model,
                hw,
                prompt_tokens=512,
                gen_tokens=8192.0,
                samples=4,
                attention=attention,
                serving=serving,
            )
            arr = sp.inference_cost(
                model,
                hw,
                prompt_tokens=np.array([512.0]),
                gen_tokens=8192.0,
                samples=4,
                attention=attention,
                serving=serving,
            )
            for name in FIELDS:
                value = getattr(one, name)
                assert type(value) is {"feasible": bool, "binding": str}.get(name, float)
                assert value == getattr(arr, name)[0], (attention, name)
    assert one == sp.inference_cost(
        model,
        hw,
        prompt_tokens=512,
        gen_tokens=8192.0,
        samples=4,
        attention=attention,
        serving=serving,
    )


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.one_of(st.integers(0, 200_000), st.floats(0, 2e5)),
    gen=st.one_of(st.integers(1, 100_000), st.floats(0.5, 1e5)),
    samples=st.integers(1, 128),
    attention=st.sampled_from(ATTENTIONS),
    serving=st.sampled_from(SERVINGS[:3]),
)
def test_scalar_path_equals_numpy(
    prompt: float, gen: float, samples: int, attention: str, serving: sp.Serving
) -> None:
    model, hw = sp.model("qwen3-8b"), sp.hardware("h100-sxm")

    def call() -> sp.InferenceCost:
        return sp.inference_cost(
            model,
            hw,
            prompt_tokens=prompt,
            gen_tokens=gen,
            samples=samples,
            attention=attention,
            serving=serving,
        )

    if not isinstance(serving.batch, str) and samples > serving.batch:
        # the one refusal here: a fixed batch smaller than a query's samples
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert info.value.field == "batch"
        return
    got = call()
    kind, *numbers = attention.split(":")
    kw: dict[str, Any] = {"attention": kind}
    if numbers:
        kw["kv_budget"] = np.array([float(numbers[0])])
    if len(numbers) == 2:
        kw["block_size"] = np.array([float(numbers[1])])
    batch = serving.batch
    want = numpy_cost.inference_cost(
        model,
        hw,
        np.array([float(prompt)]),
        np.array([float(gen)]),
        np.array([float(samples)]),
        batch="amortized" if batch == "unset" else ("max" if batch == "max" else "fixed"),
        batch_size=None if isinstance(batch, str) else np.array([batch]),
        prefix_sharing=serving.prefix_sharing,
        prefill_mode=serving.prefill if isinstance(serving.prefill, str) else "per_query",
        time_model=serving.time_model,
        **kw,
    )
    for name, expected in want.items():
        value = getattr(got, name)
        if expected.dtype.kind in "bU":
            assert value == expected[0], name
        else:
            assert value == pytest.approx(float(expected[0]), rel=1e-12, abs=0), name


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"prompt_tokens": -1}, "prompt_tokens"),
        ({"gen_tokens": 0}, "gen_tokens"),
        ({"gen_tokens": math.nan}, "gen_tokens"),
        ({"samples": 1.5}, "samples"),
        ({"samples": True}, "samples"),
        ({"prompt_tokens": 10**400}, "prompt_tokens"),
        ({"attention": "topk:0"}, "attention"),
        ({"attention": "topk:10.5"}, "kv_budget"),
        ({"attention": "sparse"}, "attention"),
        ({"serving": sp.Serving(gpus="auto")}, "gpus"),
        ({"serving": sp.Serving(batch=2), "samples": 4}, "batch"),
        ({"model": "no-such-model"}, "model"),
        ({"model": 3}, "model"),
    ],
)
def test_scalar_errors_are_those_of_the_array_path(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"model": "qwen3-8b", "prompt_tokens": 512, "gen_tokens": 64}
    args.update(kw)
    model = args.pop("model")
    with pytest.raises(ScaleplanError) as scalar:
        sp.inference_cost(model, "h100-sxm", **args)
    assert scalar.value.field == field
    # the same call with the first number as a one-element array takes the array path
    args["prompt_tokens"] = [args["prompt_tokens"]]
    with pytest.raises(ScaleplanError) as array:
        sp.inference_cost(model, "h100-sxm", **args)
    assert type(array.value) is type(scalar.value)
    assert array.value.field == field and str(array.value) == str(scalar.value)


def test_an_attention_object_takes_the_scalar_path_with_the_array_paths_numbers() -> None:
    """The gRPC server passes ``attention`` as a parsed ``Attention``: that takes the scalar
    path too (it took the array path, ~20 us a call), with the same numbers, and the same
    error for a bad one; an Attention holding arrays still takes the array path."""
    from scaleplan.serving import Attention

    args: dict[str, Any] = {"prompt_tokens": 512, "gen_tokens": 8192, "samples": 4}
    for spelling in ATTENTIONS:
        parsed = sp.serving.attention(spelling)
        assert type(parsed) is Attention
        via_object = sp.inference_cost("qwen3-8b", "h100-sxm", attention=parsed, **args)
        as_array = sp.inference_cost(
            "qwen3-8b", "h100-sxm", attention=parsed, **{**args, "prompt_tokens": [512.0]}
        )
        for name in FIELDS:
            assert getattr(via_object, name) == getattr(as_array, name)[0], (spelling, name)
        assert type(via_object.eflops) is float
    bad = Attention("topk", 10.5)
    errors = []
    for prompt in (512, [512.0]):
        with pytest.raises(ScaleplanError) as caught:
            sp.inference_cost(
                "qwen3-8b", "h100-sxm", attention=bad, **{**args, "prompt_tokens": prompt}
            )
        errors.append(caught.value)
    assert errors[0].field == errors[1].field == "kv_budget"
    assert str(errors[0]) == str(errors[1])
    budgets = Attention("topk", np.array([512.0, 1024.0]))  # type: ignore[arg-type]
    both = sp.inference_cost("qwen3-8b", "h100-sxm", attention=budgets, **args)
    assert np.shape(both.eflops) == (2,)


def test_numpy_scalars_and_big_ints_take_the_general_path_with_the_same_result() -> None:
    plain = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=64)
    for prompt in (np.float64(512), np.int32(512), np.array(512.0)):
        other = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=prompt, gen_tokens=64)
        assert other == plain
    big = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=2**62)
    assert big.binding == "context" and math.isfinite(big.eflops)


def test_catalog_lookups_are_cached_until_the_catalog_changes() -> None:
    cat = sp.default_catalog().copy()
    first = sp.law("hoffmann2022", catalog=cat)
    assert sp.law("hoffmann2022", catalog=cat) is first
    assert sp.Serving() == sp.cost.serving_value(None)
    cat.add_toml(
        '[[law]]\nname = "hoffmann2022"\nE = 1.5\nA = 400.0\nB = 400.0\nalpha = 0.3\nbeta = 0.3\n'
    )
    changed = sp.law("hoffmann2022", catalog=cat)
    assert changed is not first and changed.E == 1.5
    # the process-wide catalog is untouched
    assert sp.law("hoffmann2022").E == 1.69
