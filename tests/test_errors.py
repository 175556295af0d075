"""Every bad input raises a scaleplan.errors subclass naming the argument; none panics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan import errors

GOOD: dict[str, Any] = {"prompt_tokens": 128, "gen_tokens": 1024}

CASES = [
    ({"gen_tokens": float("nan")}, "gen_tokens"),
    ({"gen_tokens": float("inf")}, "gen_tokens"),
    ({"gen_tokens": 0}, "gen_tokens"),
    ({"prompt_tokens": -1}, "prompt_tokens"),
    ({"samples": 0}, "samples"),
    ({"samples": 2.5}, "samples"),
    ({"samples": "four"}, "samples"),
    ({"samples": True}, "samples"),
    ({"gen_tokens": [1.0, 2j]}, "gen_tokens"),
    ({"attention": "sliding"}, "attention"),
    ({"attention": "topk"}, "attention"),
    ({"attention": "topk:0"}, "attention"),
    ({"attention": ("topk", 0)}, "attention"),
    ({"attention": "topk:64:8"}, "attention"),
    ({"attention": "dense:64"}, "attention"),
    ({"attention": "block_topk:64"}, "attention"),
    ({"attention": "block_topk:64:128"}, "attention"),
    ({"attention": ["topk:64", "dense"]}, "attention"),
    ({"attention": 1024}, "attention"),
    # Serving options (built inside the test: Serving checks them when it is made).
    ({"serving": {"batch": "min"}}, "batch"),
    ({"serving": {"batch": None}}, "batch"),
    ({"serving": {"batch": 0}}, "batch"),
    ({"serving": {"batch": 2}, "samples": 4}, "batch"),
    ({"serving": {"time_model": "wallclock"}}, "time_model"),
    ({"serving": {"kv_dtype": "int4"}}, "kv_dtype"),
    ({"serving": {"gpus": 0}}, "gpus"),
    ({"serving": {"gpus": 1.5}}, "gpus"),
    ({"serving": {"gpus": "auto"}}, "gpus"),
    ({"serving": {"gpus": "all"}}, "gpus"),
    ({"serving": {"gpus": [1, 2]}}, "gpus"),
    ({"serving": {"batch": [1.0, float("nan")]}}, "batch"),
    ({"serving": {"kv_dtype": ["fp8"]}}, "kv_dtype"),
    ({"serving": {"prefill": "no"}}, "prefill"),
    ({"serving": {"prefix_sharing": "yes"}}, "prefix_sharing"),
    ({"serving": {"batch": "unset", "prefill": "batch"}}, "prefill_mode"),
    ({"serving": "max"}, "serving"),
    ({"prompt_tokens": [1, 2, 3], "gen_tokens": [1, 2]}, "gen_tokens"),
]


@pytest.mark.parametrize(("override", "field"), CASES)
def test_invalid_arguments_name_their_field(override: dict[str, Any], field: str) -> None:
    args = {**GOOD, **override}

    def call() -> None:
        if isinstance(args.get("serving"), dict):
            args["serving"] = sp.Serving(**args["serving"])
        sp.inference_cost("qwen3-8b", "h100-sxm", **args)

    with pytest.raises(errors.InvalidArgumentError) as info:
        call()
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    assert field in str(info.value)


def test_fp8_on_hardware_without_it() -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.inference_cost("qwen3-8b", "a100-80gb", serving=sp.Serving(compute_dtype="fp8"), **GOOD)
    assert info.value.field == "compute_dtype"


def test_array_errors_say_which_element() -> None:
    gen = np.array([100.0, 200.0, np.nan, 300.0])
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=1, gen_tokens=gen)
    assert info.value.field == "gen_tokens" and info.value.index == 2
    assert "element 2" in str(info.value)


def test_unknown_names() -> None:
    with pytest.raises(errors.UnknownNameError) as info:
        sp.inference_cost("qwen3-9b", "h100-sxm", **GOOD)
    assert info.value.field == "model" and info.value.name == "qwen3-9b"
    assert "qwen3-8b" in info.value.known
    assert isinstance(info.value, LookupError) and isinstance(info.value, ValueError)
    with pytest.raises(errors.UnknownNameError) as info:
        sp.hardware("h100")
    assert info.value.field == "hardware"
    with pytest.raises(errors.UnknownNameError):
        sp.family("gpt")
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.inference_cost(8, "h100-sxm", **GOOD)  # type: ignore[arg-type]
    assert info.value.field == "model"


def test_training_errors() -> None:
    for kwargs, field in [
        ({"tokens": -1.0}, "tokens"),
        ({"tokens": float("nan")}, "tokens"),
        ({"tokens": 1e9, "mfu": 1.5}, "mfu"),
        ({"tokens": 1e9, "mfu": 0}, "mfu"),
        ({"tokens": 1e9, "gpus": -2}, "gpus"),
        ({"tokens": 1e9, "seq_len": 0}, "seq_len"),
    ]:
        tokens = kwargs.pop("tokens")
        with pytest.raises(errors.InvalidArgumentError) as info:
            sp.training_cost("qwen3-8b", tokens, "h100-sxm", **kwargs)
        assert info.value.field == field


def test_every_error_is_a_scaleplan_error() -> None:
    for cls in (
        errors.InvalidArgumentError,
        errors.UnknownNameError,
        errors.CatalogError,
        errors.LimitExceededError,
    ):
        assert issubclass(cls, errors.ScaleplanError)
