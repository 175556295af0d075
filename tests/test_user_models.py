"""Models the user builds (``Model.from_hf_config`` or by hand) are first-class: sliding-window
KV sizing, MoE counts, every planner, a session catalog and catalog TOML (docs/catalog.md)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
import scaleplan as sp
from cli_support import json_lines, ok, run, usage_error
from scaleplan.errors import InvalidArgumentError, ScaleplanError

HF = Path(__file__).parent / "data" / "hf"


#: A lifetime plan priced by the cost model (its family given apart).
LIFETIME: dict[str, Any] = {
    "target_loss": 2.3,
    "queries": 1e9,
    "prompt_tokens": 128,
    "gen_tokens": 512,
    "hardware": "h100-sxm",
}


def mistral() -> sp.Model:
    return sp.Model.from_hf_config(HF / "mistral-7b-v0.1.json", name="mistral-7b")


def gemma() -> sp.Model:
    return sp.Model.from_hf_config(HF / "gemma-2-9b.json", name="gemma-2-9b")


def qwen_moe() -> sp.Model:
    return sp.Model.from_hf_config(HF / "qwen1.5-moe-a2.7b.json", name="qwen1.5-moe-a2.7b")


@pytest.fixture
def session_catalog(monkeypatch: pytest.MonkeyPatch) -> sp.Catalog:
    """A fresh process-wide catalog, so registrations do not leak into other tests."""
    fresh = sp.Catalog.shipped()
    # scaleplan.catalog is also the name of a function; the module is in sys.modules.
    monkeypatch.setattr(sys.modules["scaleplan.catalog"], "_default", fresh)
    return fresh


def test_sliding_window_sizes_the_kv_cache() -> None:
    m = mistral()
    assert (m.sliding_window, m.sliding_layers) == (4096, None)
    # 2 (K, V) * 8 KV heads * 128 * 32 layers = 65_536 elements = 131_072 bf16 bytes per token;
    # 1000 prompt + 8000 generated tokens, of which the window keeps 4096: 536_870_912 bytes
    # (the whole 9000-token context would be 1_179_648_000).
    c = sp.inference_cost(
        model=m,
        hardware="h100-sxm",
        prompt_tokens=1000,
        gen_tokens=8000,
        serving=sp.Serving(batch="max"),
    )
    assert c.kv_memory_bytes_per_query == 536_870_912
    # The largest batch follows: (80 GB - 2 bytes * 7_241_732_096 weights) / KV per query.
    free = sp.hardware("h100-sxm").hbm_bytes - 2 * 7_241_732_096
    assert c.max_queries == math.floor(free / 536_870_912)

    g = gemma()
    assert (g.sliding_window, g.sliding_layers) == (4096, 21)
    # 21 global layers hold all 8000 tokens, 21 sliding layers 4096; 2*8*256 elements per
    # layer and token, 2 bytes each: 8192 * 21 * (8000 + 4096) = 2_080_899_072.
    c = sp.inference_cost(
        model=g,
        hardware="h100-sxm",
        prompt_tokens=1000,
        gen_tokens=7000,
        serving=sp.Serving(batch="max"),
    )
    assert c.kv_memory_bytes_per_query == 2_080_899_072


def test_moe_from_config_matches_the_model_card() -> None:
    m = qwen_moe()
    # Hand count in rust/core/tests/hf_configs.rs: 14_315_784_192 total (model card 14.3B),
    # 2_689_173_504 active (2.7B activated); no sliding window (use_sliding_window false).
    assert m.total_params == 14_315_784_192
    assert m.moe is not None and m.moe.active_params == 2_689_173_504
    assert m.flop_params == 2_689_173_504
    assert m.sliding_window is None


def test_sliding_fields_are_validated() -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        mistral().replace(sliding_layers=33)
    assert exc.value.field == "sliding_layers"
    with pytest.raises(InvalidArgumentError) as exc:
        sp.model("qwen3-8b").replace(sliding_layers=3)
    assert exc.value.field == "sliding_layers"


def assert_priced_as(plan: sp.TestTimePlan, model: sp.Model) -> None:
    """The plan's cost is the model's own, priced at the plan's L and k (default options)."""
    cost = sp.inference_cost(
        model=model,
        hardware="kinetics-b200",
        prompt_tokens=128,
        gen_tokens=plan.gen_tokens,
        samples=plan.samples,
        serving=sp.Serving(batch="max"),
    )
    assert cost.eflops == pytest.approx(plan.eflops, rel=1e-12)


def test_model_objects_in_test_time_plans() -> None:
    q = sp.model("qwen3-8b")
    by_name = sp.plan_test_time(
        budget_eflops=1e16, models=["qwen3-8b"], serving=sp.Serving(batch="max")
    )
    by_object = sp.plan_test_time(budget_eflops=1e16, models=[q], serving=sp.Serving(batch="max"))
    assert by_name.to_dict() == by_object.to_dict()
    # The object's own numbers are planned, not the catalog entry of that name: a window makes
    # long generations cheaper, so the same budget buys at least the accuracy.
    windowed = q.replace(sliding_window=2048)
    plan = sp.plan_test_time(budget_eflops=1e16, models=[windowed], serving=sp.Serving(batch="max"))
    assert plan.accuracy >= by_name.accuracy
    assert_priced_as(plan, windowed)
    # The default catalog is unchanged.
    assert sp.model("qwen3-8b").sliding_window is None


def test_a_user_model_with_measured_accuracy() -> None:
    m = mistral()  # not in the catalog: planned from the object alone
    rows = [
        {"model": "mistral-7b", "gen_tokens": gen, "problem": f"p{i}", "n": 8, "c": c}
        for gen, correct in ((1024, (1, 4, 8)), (4096, (2, 6, 8)))
        for i, c in enumerate(correct)
    ]
    acc = sp.Accuracy.measured(rows, name="mine")
    plan = sp.plan_test_time(
        budget_eflops=1e16, models=[m], accuracy=acc, serving=sp.Serving(batch="max")
    )
    assert plan.model == "mistral-7b"
    assert_priced_as(plan, m)


def test_bad_model_entries_name_the_field() -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        sp.plan_test_time(budget_eflops=1e16, models=["qwen3-8b", 3])
    assert (exc.value.field, exc.value.index) == ("models", 1)


def test_a_list_of_models_is_a_family() -> None:
    members = list(sp.family("qwen3-dense").members)
    named = sp.plan_joint(budget=1e5, queries=1e6)
    listed = sp.plan_joint(budget=1e5, queries=1e6, family=[sp.model(n) for n in members])
    assert listed.to_dict() == named.to_dict()
    # Given in any order: members are sorted by size.
    shuffled = sp.plan_joint(budget=1e5, queries=1e6, family=members[::-1])
    assert shuffled.to_dict() == named.to_dict()
    lifetime = LIFETIME
    assert (
        sp.plan_lifetime(**lifetime, family="qwen3-dense").to_dict()
        == sp.plan_lifetime(**lifetime, family=members).to_dict()
    )
    with pytest.raises(ScaleplanError) as exc:
        sp.plan_joint(budget=1e5, queries=1e6, family=[mistral(), sp.model("qwen3-32b")])
    assert exc.value.field == "family"


def test_register_makes_a_model_findable(session_catalog: sp.Catalog) -> None:
    m = mistral()
    with pytest.raises(ScaleplanError):
        sp.model("mistral-7b")
    sp.register_model(m)
    assert sp.model("mistral-7b") == m
    assert "mistral-7b" in sp.catalog()["models"]
    c = sp.inference_cost(
        model="mistral-7b",
        hardware="h100-sxm",
        prompt_tokens=1000,
        gen_tokens=8000,
        serving=sp.Serving(batch="max"),
    )
    assert c.kv_memory_bytes_per_query == 536_870_912
    # with_models leaves the catalog it copies alone.
    other = sp.Catalog.shipped().with_models(gemma())
    assert other.model("gemma-2-9b") == gemma()
    with pytest.raises(ScaleplanError):
        session_catalog.model("gemma-2-9b")
    with pytest.raises(ScaleplanError) as exc:
        session_catalog.register(m.replace(name="Mistral 7B"))
    assert exc.value.field == "name"


def test_catalog_toml_round_trip(tmp_path: Path, session_catalog: sp.Catalog) -> None:
    mine = [mistral(), gemma(), qwen_moe()]
    saved = sp.Catalog.shipped().with_models(*mine)
    path = tmp_path / "catalog.toml"
    saved.save(path)
    back = sp.Catalog.shipped()
    back.add_file(path)
    assert back.names() == saved.names()
    for name in saved.names()["models"]:
        assert back.model(name) == saved.model(name)
    for name in saved.names()["hardware"]:
        assert back.hardware(name) == saved.hardware(name)
    # One entry on its own, through the process-wide catalog.
    entry = tmp_path / "mistral.toml"
    entry.write_text(mine[0].to_toml())
    sp.load_catalog(entry)
    assert sp.model("mistral-7b") == mine[0]


def test_cli_reads_a_model_config(tmp_path: Path) -> None:
    folder = tmp_path / "Mistral-7B"
    folder.mkdir()
    (folder / "config.json").write_text((HF / "mistral-7b-v0.1.json").read_text())
    query = ["--hardware", "h100-sxm", "--prompt-tokens", "1000", "--gen-tokens", "8000"]
    out = ok(
        "cost",
        "--model-config",
        str(folder / "config.json"),
        "--model",
        "mistral-7b",
        *query,
        "--batch",
        "max",
        "--json",
    )
    (row,) = json_lines(out.stdout)
    assert row["kv_memory_bytes_per_query"] == 536_870_912  # 131_072 bytes x 4096 tokens
    # NAME=PATH names it.
    out = ok(
        "cost",
        "--model-config",
        f"m7={HF / 'mistral-7b-v0.1.json'}",
        "--model",
        "m7",
        *query,
        "--batch",
        "max",
        "--json",
    )
    assert json_lines(out.stdout)[0]["kv_memory_bytes_per_query"] == 536_870_912
    out = run("cost", "--model-config", str(tmp_path / "nope.json"), "--model", "x", *query)
    usage_error(out, "--model-config")
    assert "cannot read" in out.stderr


def test_cli_family_as_a_list_of_models() -> None:
    members = ",".join(sp.family("qwen3-dense").members)
    goal = ["--budget", "1e5gpu-h", "--queries", "1e6", "--json"]
    listed = ok("plan", "joint", *goal, "--family", members)
    named = ok("plan", "joint", *goal, "--family", "qwen3-dense")
    assert json_lines(listed.stdout) == json_lines(named.stdout)


def test_cli_catalog_lists_the_window() -> None:
    out = ok("catalog", "models", "--model-config", f"g={HF / 'gemma-2-9b.json'}")
    (row,) = [line for line in out.stdout.splitlines() if line.startswith("g ")]
    assert "4096 (21/42 layers)" in row
