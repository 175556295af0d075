"""Catalog lookups, user-built entries, user files and SCALEPLAN_CATALOG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import scaleplan as sp
from scaleplan import errors

USER_GPU = """
[[hardware]]
name = "my-gpu"
description = "a test accelerator"
peak_flops_bf16 = 1e15
hbm_bytes_per_s = 2e12
hbm_bytes = 96e9
train_mfu = 0.4
prefill_mfu = 0.6
decode_bw_util = 0.8
"""


def test_names_of_everything() -> None:
    names = sp.catalog()
    assert {"a100-80gb", "h100-sxm", "h200", "b200", "mi300x", "kinetics-b200"} <= set(
        names["hardware"]
    )
    assert "qwen3-30b-a3b" in names["models"] and "llama-3.1-405b" in names["models"]
    assert "qwen3-dense" in names["families"]


def test_entries_are_typed_dataclasses() -> None:
    m = sp.model("qwen3-30b-a3b")
    assert m.moe is not None and m.moe.experts == 128 and m.moe.active_experts == 8
    assert m.flop_params == m.moe.active_params
    hw = sp.hardware("a100-80gb")
    assert hw.peak_flops_fp8 is None and hw.peak_flops_bf16 == 312e12
    fam = sp.family("qwen3-dense")
    assert fam.members[0] == "qwen3-0.6b" and fam.members[-1] == "qwen3-32b"


def test_user_built_entries_are_validated_with_the_field_named() -> None:
    hw = sp.hardware("h100-sxm")
    with pytest.raises(errors.InvalidArgumentError) as info:
        hw.replace(hbm_bytes=-1.0)
    assert info.value.field == "hbm_bytes"
    with pytest.raises(errors.InvalidArgumentError) as info:
        hw.replace(decode_bw_util=float("nan"))
    assert info.value.field == "decode_bw_util"
    m = sp.model("qwen3-8b")
    with pytest.raises(errors.InvalidArgumentError) as info:
        m.replace(kv_heads=5)
    assert info.value.field == "kv_heads"
    with pytest.raises(errors.InvalidArgumentError) as info:
        m.replace(layers=2.5)
    assert info.value.field == "layers"
    bigger = hw.replace(name="h100-96", hbm_bytes=96e9)
    c = sp.inference_cost("qwen3-8b", bigger, prompt_tokens=128, gen_tokens=4096)
    base = sp.inference_cost("qwen3-8b", hw, prompt_tokens=128, gen_tokens=4096)
    assert c.max_batch > base.max_batch


def test_model_from_hf_config(tmp_path: Path) -> None:
    # Llama-3.1-8B's published config.json (architecture keys)
    config = {
        "model_type": "llama",
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "intermediate_size": 14336,
        "max_position_embeddings": 131072,
        "tie_word_embeddings": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    m = sp.Model.from_hf_config(path, name="my-llama")
    assert m.total_params == sp.model("llama-3.1-8b").total_params
    assert m.kv_heads == 8 and m.head_dim == 128
    again = sp.Model.from_hf_config(config, name="my-llama")
    assert again == m
    del config["num_attention_heads"]
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.Model.from_hf_config(config, name="broken")
    assert info.value.field == "num_attention_heads"


def test_user_catalog_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(USER_GPU)
    cat = sp.Catalog.shipped()
    cat.add_file(path)
    assert cat.hardware("my-gpu").hbm_bytes == 96e9
    c = sp.inference_cost("qwen3-8b", "my-gpu", prompt_tokens=1, gen_tokens=10, catalog=cat)
    assert c.feasible


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("hbm_bytes = 96e9", "hbm_bytes = -96e9"), "hbm_bytes"),
        (("hbm_bytes = 96e9", "hbm_bytes = nan"), "hbm_bytes"),
        (("hbm_bytes = 96e9", "hbm_bytes = 96e9\nhbm_gib = 90"), "hbm_gib"),
        (("train_mfu = 0.4\n", ""), "train_mfu"),
    ],
)
def test_bad_catalog_files_name_file_entry_field(
    tmp_path: Path, edit: tuple[str, str], field: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(USER_GPU.replace(*edit))
    cat = sp.Catalog.shipped()
    with pytest.raises(errors.CatalogError) as info:
        cat.add_file(path)
    e = info.value
    assert (e.file, e.entry, e.field) == (str(path), "my-gpu", field)
    assert str(path) in str(e) and "my-gpu" in str(e) and field in str(e)
    with pytest.raises(errors.UnknownNameError):
        cat.hardware("my-gpu")


def test_scaleplan_catalog_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "env.toml"
    path.write_text(USER_GPU)
    code = "import scaleplan; print(scaleplan.hardware('my-gpu').hbm_bytes)"
    env = {**os.environ, "SCALEPLAN_CATALOG": str(path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "96000000000.0"
    bad = tmp_path / "bad.toml"
    bad.write_text(USER_GPU.replace("hbm_bytes = 96e9", "hbm_bytes = 0"))
    env["SCALEPLAN_CATALOG"] = str(bad)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "CatalogError" in out.stderr and "hbm_bytes" in out.stderr
