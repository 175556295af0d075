"""``scaleplan catalog``, run as a subprocess."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import scaleplan as sp
from cli_support import csv_rows, ok, run, usage_error
from scaleplan.plan import ALGORITHMIC_PROGRESS


def test_table_shows_values_of_every_kind() -> None:
    out = ok("catalog").stdout
    for kind, names in sp.catalog().items():
        assert f"{kind}:" in out
        for name in names:
            assert name in out
    assert "989 TFLOP/s" in out  # h100-sxm bf16 peak
    assert "3.35 TB/s" in out
    assert "8/128 experts" in out  # qwen3-30b-a3b


def test_json_equals_the_python_api() -> None:
    doc = json.loads(ok("catalog", "--json").stdout)
    # Every catalog kind, then the algorithmic-progress table (a law plans use, not an entry).
    progress = doc.pop("progress")
    assert progress == [{k: ALGORITHMIC_PROGRESS[k] for k in progress[0]}]
    assert {k: [e["name"] for e in v] for k, v in doc.items()} == sp.catalog()
    for entry in doc["hardware"]:
        hw = sp.hardware(entry["name"])
        assert entry == {f.name: getattr(hw, f.name) for f in dataclasses.fields(hw) if f.init}
    for entry in doc["models"]:
        m = sp.model(entry["name"])
        assert entry["flop_params"] == m.flop_params and entry["kv_heads"] == m.kv_heads
        assert (entry["moe"] is None) == (m.moe is None)
    assert doc["families"][0]["members"] == list(sp.family(doc["families"][0]["name"]).members)
    for entry in doc["laws"]:
        assert entry["alpha"] == sp.law(entry["name"]).alpha


def test_one_kind_json_and_csv() -> None:
    doc = json.loads(ok("catalog", "laws", "--json").stdout)
    assert list(doc) == ["laws", "parscale", "rag", "progress"]  # every law family
    rows = csv_rows(ok("catalog", "models", "--csv").stdout)
    assert [r["name"] for r in rows] == sp.catalog()["models"]
    for r in rows:
        m = sp.model(r["name"])
        assert float(r["total_params"]) == m.total_params
        assert r["tied_embeddings"] == ("true" if m.tied_embeddings else "false")
        assert (r["moe_experts"] == "") == (m.moe is None)


def test_csv_needs_one_kind() -> None:
    usage_error(run("catalog", "--csv"), "--csv")


def test_hardware_table_shows_a_calibrated_step_overhead(tmp_path: Path) -> None:
    # A calibrated entry's per-step overhead (docs/calibration.md) is listed; shipped entries
    # have none.
    hw = dataclasses.replace(sp.hardware("h100-sxm"), name="h100-measured", step_overhead_s=0.00272)
    catalog = tmp_path / "measured.toml"
    catalog.write_text(hw.to_toml())
    env = {**os.environ, "SCALEPLAN_CATALOG": str(catalog)}
    lines = ok("catalog", "hardware", env=env).stdout.splitlines()
    header = next(line for line in lines if line.startswith("name"))
    assert "step overhead" in header
    measured = next(line for line in lines if line.startswith("h100-measured "))
    shipped = next(line for line in lines if line.startswith("h100-sxm "))
    assert "2.72 ms" in measured
    assert " ms " not in shipped
