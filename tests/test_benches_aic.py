"""The cost benchmark's per-request row against NVIDIA aiconfigurator (benches/bench_cost.py,
``aic_rows``; benches/peer_aic.py in .venv-peers): it runs and says so when aiconfigurator is not
installed, and when it is, the peer really prices in SOL mode (decode steps checked against a
memory roofline derived by hand from Qwen3-8B's config and H100 SXM's bandwidth)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import bench_cost
import pytest

PEERS_HAS_AIC = bench_cost.PEERS_PYTHON.exists() and any(
    (bench_cost.PEERS_PYTHON.parents[1] / "lib").glob("python3*/site-packages/aiconfigurator_core")
)


def test_row_runs_and_says_so_without_the_peers_venv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = bench_cost.aic_rows(1000, 3, 1, peers_python=tmp_path / "missing" / "python")
    out = capsys.readouterr().out
    assert result["peer"] == {"not_run": "AIC not installed (make bench installs it)"}
    assert out.count("AIC not installed (make bench installs it)") == 1 + len(bench_cost.AIC_CASES)
    assert [(r["isl"], r["osl"], r["batch"]) for r in result["rows"]] == list(bench_cost.AIC_CASES)
    for row in result["rows"]:
        # Ours prices the very configuration AIC is asked for: no batch capped by memory.
        assert row["scaleplan_batch"] == row["batch"]
        assert row["scaleplan_scalar_us"] > 0 and row["scaleplan_batch_ns"] > 0
        assert "aic_us" not in row and "ratio_batch" not in row
    assert "NOT THE SAME CONFIGURATION" not in out


@pytest.mark.skipif(
    importlib.util.find_spec("aiconfigurator_core") is not None,
    reason="this interpreter has aiconfigurator",
)
def test_interpreter_without_aiconfigurator_reads_as_not_installed() -> None:
    # peer_aic.py itself runs and exits 3 when its import fails.
    peer = bench_cost.aic_peer(2, 1, peers_python=Path(sys.executable))
    assert peer == {"not_run": "AIC not installed (make bench installs it)"}


@pytest.mark.skipif(not PEERS_HAS_AIC, reason=".venv-peers with aiconfigurator (make bench)")
def test_peer_prices_decode_at_the_memory_roofline() -> None:
    peer = bench_cost.aic_peer(2, 1)
    assert "not_run" not in peer, peer
    assert peer["database_mode"] == "SOL"
    rows = {(r["isl"], r["osl"], r["batch"]): r for r in peer["rows"]}
    assert set(rows) == set(bench_cost.AIC_CASES)
    # Qwen3-8B (config.json): per layer attention 2*4096*4096 + 2*4096*1024 + 2*128 and MLP
    # 3*4096*12288 parameters plus two 4096 norms, 36 layers, LM head 151936*4096, final norm;
    # a decode step reads all of them (the input table only one row per token) in bf16.
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 2 * 128 + 3 * 4096 * 12288 + 2 * 4096
    weight_bytes = 2 * (36 * per_layer + 151936 * 4096 + 4096)
    kv_bytes_per_token = 36 * 2 * 8 * 128 * 2  # layers, K and V, kv heads, head dim, bf16
    hbm = 3.35e12  # aiconfigurator's h100_sxm mem_bw, its SOL bandwidth (no 0.8 factor)
    assert peer["hbm_bytes_per_s"] == hbm
    for (isl, osl, batch), row in rows.items():
        assert row["op_sources"] == ["sol"]
        # The mean context over the decode steps after the first token: isl + osl / 2.
        step_bytes = weight_bytes + batch * kv_bytes_per_token * (isl + osl / 2)
        # Norms and activations (elementwise, ~1-2% at batch 64) are left out of the hand count.
        assert row["tpot_ms"] == pytest.approx(step_bytes / hbm * 1e3, rel=0.03), (isl, osl, batch)
        assert row["request_latency_ms"] == pytest.approx(row["total_ms"], rel=1e-12)
        assert row["tokens_per_s"] == pytest.approx(batch * osl / row["total_ms"] * 1e3)
        assert row["us_per_request_cpu"] > 0


def test_a_failing_peer_is_reported_with_its_error(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'engine exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert bench_cost.aic_peer(2, 1, peers_python=fake) == {
        "not_run": "AIC failed: engine exploded"
    }
