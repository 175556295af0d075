"""scaleplan.calibrate (docs/calibration.md): runs the cost model prices at known efficiencies
and overhead are recovered, vLLM benchmark results parse, bad input is named, and the
calibrated hardware prices and plans."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scaleplan as sp
from scaleplan.calibrate import MAX_RUNS, read_runs
from scaleplan.errors import InvalidArgumentError, LimitExceededError, UnknownNameError

from tests.cli_support import REPO, run

EXAMPLE = REPO / "examples" / "data" / "vllm_bench_qwen3_8b_h100.jsonl"
SHAPES = [
    (1, 128, 256),
    (1, 2048, 128),
    (8, 512, 512),
    (16, 4096, 256),
    (32, 1024, 1024),
    (64, 256, 512),
    (4, 8192, 64),
    (128, 128, 128),
]


def truth(**changes: float) -> sp.Hardware:
    values = {"prefill_mfu": 0.45, "decode_bw_util": 0.7, "step_overhead_s": 0.004, **changes}
    return sp.hardware("h100-sxm").replace(**values)


def measure(hw: sp.Hardware, batch: int, prompt: int, gen: int) -> tuple[float, float]:
    """TTFT and TPOT the cost model predicts for a run served `batch` at a time (the one place
    these tests pass a serving option)."""
    serving = sp.Serving(batch=batch)
    c = sp.inference_cost("qwen3-8b", hw, prompt_tokens=prompt, gen_tokens=gen, serving=serving)
    assert c.batch == batch
    return float(c.ttft_s), float(c.tpot_s)


def rows(hw: sp.Hardware, noise: float = 0.0, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for b, p, g in SHAPES:
        ttft, tpot = measure(hw, b, p, g)
        out.append(
            {
                "model": "qwen3-8b",
                "hardware": "h100-sxm",
                "batch": b,
                "prompt_tokens": p,
                "gen_tokens": g,
                "ttft_s": ttft * (1 + noise * rng.standard_normal()),
                "tpot_s": tpot * (1 + noise * rng.standard_normal()),
            }
        )
    return out


def test_overhead_is_added_once_per_step() -> None:
    # By hand: 5 ms per forward step adds 5 ms to TPOT and to the prefill pass (TTFT).
    base = sp.hardware("h100-sxm")
    a = measure(base, 8, 512, 100)
    b = measure(base.replace(step_overhead_s=0.005), 8, 512, 100)
    assert b[0] - a[0] == pytest.approx(0.005, rel=1e-9)
    assert b[1] - a[1] == pytest.approx(0.005, rel=1e-9)
    assert base.step_overhead_s == 0.0


def test_recovers_exact_runs() -> None:
    cal = sp.calibrate(rows(truth()), "h100-sxm")
    want = {"prefill_mfu": 0.45, "decode_bw_util": 0.7, "step_overhead_s": 0.004}
    for k, v in want.items():
        assert cal.parameters[k] == pytest.approx(v, rel=1e-6), k
    assert cal.rms_relative_error < 1e-8
    assert cal.n_runs == len(SHAPES)
    assert cal.hardware.name == "h100-sxm-calibrated"
    assert cal.hardware.prefill_mfu == cal.parameters["prefill_mfu"]
    assert cal.hardware.step_overhead_s == cal.parameters["step_overhead_s"]
    # The spec-sheet numbers are the original entry's.
    assert cal.hardware.hbm_bytes_per_s == sp.hardware("h100-sxm").hbm_bytes_per_s
    assert cal.residuals["ttft"].shape == (len(SHAPES),)


@pytest.mark.parametrize("seed", range(6))
def test_recovers_noisy_runs_within_their_errors(seed: int) -> None:
    # 3% lognormal-ish measurement noise on every TTFT and TPOT.
    cal = sp.calibrate(rows(truth(), noise=0.03, seed=seed), "h100-sxm")
    want = {"prefill_mfu": 0.45, "decode_bw_util": 0.7, "step_overhead_s": 0.004}
    for k, v in want.items():
        got, se = cal.parameters[k], cal.stderr[k]
        assert se > 0
        assert abs(got - v) < 4 * se, (k, got, se)
        assert got == pytest.approx(v, rel=0.2), k
    assert 0.005 < cal.rms_relative_error < 0.08


def test_residuals_are_relative_and_their_rms() -> None:
    r = rows(truth(), noise=0.02, seed=3)
    cal = sp.calibrate(r, "h100-sxm")
    ttft = np.array([x["ttft_s"] for x in r])
    assert np.allclose(cal.residuals["ttft"], cal.predicted["ttft_s"] / ttft - 1, rtol=1e-12)
    both = np.concatenate([cal.residuals["ttft"], cal.residuals["tpot"]])
    assert cal.rms_relative_error == pytest.approx(math.sqrt(np.mean(both**2)), rel=1e-12)


def test_calibrated_hardware_prices_and_plans() -> None:
    cal = sp.calibrate(rows(truth()), "h100-sxm", name="my-h100")
    assert cal.hardware.name == "my-h100"
    assert measure(cal.hardware, 32, 700, 300) == pytest.approx(measure(truth(), 32, 700, 300))
    c = sp.inference_cost("qwen3-8b", cal.hardware, prompt_tokens=700, gen_tokens=300)
    assert math.isfinite(float(c.seconds)) and float(c.seconds) > 0
    kw: dict[str, Any] = {
        "budget": 1e5,
        "queries": 1e9,
        "prompt_tokens": 512,
        "gen_tokens": 256,
        "family": "qwen3-dense",
        "unit": "gpu_hours",
    }
    plan = sp.plan_lifetime(hardware=cal.hardware, **kw)
    base = sp.plan_lifetime(hardware="h100-sxm", **kw)
    assert bool(plan.feasible) and math.isfinite(float(plan.params))
    # Slower than the catalog assumes (MFU 0.45 < 0.6, bandwidth 0.7 < 0.8): inference costs more.
    assert float(plan.inference_cost) > float(base.inference_cost)


def test_saved_entry_loads_back_equal(tmp_path: Path) -> None:
    cal = sp.calibrate(rows(truth()), "h100-sxm")
    cat = sp.Catalog.shipped()
    cat.add_toml(cal.hardware.to_toml())
    assert cat.hardware("h100-sxm-calibrated") == cal.hardware


def vllm_result(**changes: Any) -> dict[str, Any]:
    """The keys `vllm bench serve --save-result` writes (vllm/benchmarks/serve.py), for 10
    requests of 1000 prompt and 200 generated tokens at concurrency 8."""
    result = {
        "date": "20261129-120000",
        "backend": "vllm",
        "model_id": "Qwen/Qwen3-8B",
        "tokenizer_id": "Qwen/Qwen3-8B",
        "num_prompts": 10,
        "request_rate": "inf",
        "burstiness": 1.0,
        "max_concurrency": 8,
        "duration": 5.0,
        "completed": 10,
        "total_input_tokens": 10_000,
        "total_output_tokens": 2_000,
        "mean_ttft_ms": 50.0,
        "median_ttft_ms": 49.0,
        "mean_tpot_ms": 12.5,
        "median_tpot_ms": 12.0,
        "mean_itl_ms": 12.4,
    }
    result.update(changes)
    return result


def test_vllm_result_parses(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(vllm_result()))
    [r] = read_runs(path)
    assert (r["batch"], r["prompt_tokens"], r["gen_tokens"]) == (8, 1000, 200)
    assert (r["ttft_s"], r["tpot_s"], r["gpus"]) == (0.05, 0.0125, 1)
    assert r["model"] == "Qwen/Qwen3-8B" and r["row"] == 1
    # Saved per-request lengths (--save-detailed) give the mean lengths.
    path.write_text(json.dumps(vllm_result(input_lens=[900, 1100, 1300], output_lens=[100, 200])))
    [r] = read_runs(path)
    assert (r["prompt_tokens"], r["gen_tokens"]) == (1100, 150)


def test_example_benchmark_calibrates() -> None:
    # examples/data/README.md: drawn from the cost model at prefill_mfu 0.5, decode_bw_util
    # 0.75 and 3 ms per step, with 2% noise.
    cal = sp.calibrate(EXAMPLE, "h100-sxm")
    assert cal.n_runs == 6
    want = {"prefill_mfu": 0.5, "decode_bw_util": 0.75, "step_overhead_s": 0.003}
    for k, v in want.items():
        assert cal.parameters[k] == pytest.approx(v, rel=0.15), k
        assert abs(cal.parameters[k] - v) < 4 * cal.stderr[k], k


def test_csv_runs_with_milliseconds(tmp_path: Path) -> None:
    lines = ["model,batch,prompt_tokens,gen_tokens,ttft_ms,tpot_ms"]
    for r in rows(truth()):
        lines.append(
            f"qwen3-8b,{r['batch']},{r['prompt_tokens']},{r['gen_tokens']},"
            f"{1e3 * r['ttft_s']!r},{1e3 * r['tpot_s']!r}"
        )
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    cal = sp.calibrate(path, "h100-sxm")
    assert cal.parameters["decode_bw_util"] == pytest.approx(0.7, rel=1e-6)


def err(r: Any, hw: str = "h100-sxm", **kw: Any) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as info:
        sp.calibrate(r, hw, **kw)
    return info.value


def test_fewer_runs_than_parameters() -> None:
    e = err(rows(truth())[:2])
    assert e.field == "runs" and "at least 3" in e.reason


def test_parameters_not_identifiable_from_one_shape() -> None:
    r = rows(truth())
    e = err([r[2]] * 5)
    assert e.field in ("prefill_mfu", "decode_bw_util", "step_overhead_s")
    assert "cannot be told apart" in e.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ttft_s", 0.0),
        ("tpot_s", -1.0),
        ("tpot_s", math.nan),
        ("gen_tokens", math.inf),
        ("prompt_tokens", 0.0),
        ("batch", 2.5),
        ("gpus", 0),
    ],
)
def test_bad_values_are_named_with_their_run(field: str, value: float) -> None:
    r = rows(truth())
    r[3][field] = value
    e = err(r)
    assert e.field == field and e.index == 3


def test_non_number_is_named() -> None:
    r = rows(truth())
    r[1]["ttft_s"] = "fast"
    e = err(r)
    assert e.field == "ttft_s" and e.index == 1


def test_unknown_model_and_hardware() -> None:
    r = rows(truth())
    r[0]["model"] = "acme/NotAModel-7B"
    with pytest.raises(UnknownNameError) as info:
        sp.calibrate(r, "h100-sxm")
    assert info.value.field == "rows.model" and info.value.index == 0
    assert "pass model=" in info.value.reason
    # model= names the catalog model of every run.
    assert sp.calibrate(r, "h100-sxm", model="qwen3-8b").n_runs == len(SHAPES)
    with pytest.raises(UnknownNameError) as info:
        sp.calibrate(r, "h100-sxm", model="nope")
    assert info.value.field == "model" and info.value.index is None
    with pytest.raises(UnknownNameError) as info:
        sp.calibrate(rows(truth()), "tpu-v9")
    assert info.value.field == "hardware"


def test_too_many_runs() -> None:
    with pytest.raises(LimitExceededError) as info:
        sp.calibrate(rows(truth()) * (MAX_RUNS // len(SHAPES) + 1), "h100-sxm")
    assert (info.value.field, info.value.limit) == ("rows", MAX_RUNS)


def test_runs_of_other_hardware_are_refused() -> None:
    r = rows(truth())
    r[4]["hardware"] = "a100-80gb"
    e = err(r)
    assert e.field == "hardware" and e.index == 4


def test_utilisation_above_one_is_refused() -> None:
    # Measured on a part with 1.5x the bandwidth: against h100-sxm it needs utilisation 1.2.
    fast = truth(decode_bw_util=0.8).replace(hbm_bytes_per_s=1.5 * 3.35e12)
    e = err(rows(fast))
    assert e.field == "decode_bw_util" and "above 1" in e.reason


def test_batch_that_cannot_fit_is_refused() -> None:
    r = rows(truth())
    r[0].update(batch=4096, prompt_tokens=8192)
    assert err(r).field == "batch"


def test_vllm_result_without_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(vllm_result(max_concurrency=None)))
    e = err(path)
    assert e.field == "max_concurrency" and e.file == str(path) and e.row == 1


def test_bad_file_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    lines = ["model,batch,prompt_tokens,gen_tokens,ttft_s,tpot_s"]
    lines += [f"qwen3-8b,{b},{p},{g},0.05,0.01" for b, p, g in SHAPES[:4]]
    lines[3] = "qwen3-8b,8,512,512,-0.05,0.01"
    path.write_text("\n".join(lines) + "\n")
    e = err(path)
    assert (e.field, e.file, e.row) == ("ttft_s", str(path), 3)


def test_cli_calibrate(tmp_path: Path) -> None:
    out = tmp_path / "cal.toml"
    p = run("calibrate", str(EXAMPLE), "--hardware", "h100-sxm", "--save", str(out))
    assert p.returncode == 0, p.stderr
    assert "h100-sxm-calibrated: calibrated on 6 serving runs" in p.stdout
    assert "decode_bw_util" in p.stdout
    cat = sp.Catalog.shipped()
    cat.add_file(out)
    assert cat.hardware("h100-sxm-calibrated").step_overhead_s > 0
    p = run("calibrate", str(EXAMPLE), "--hardware", "h100-sxm", "--json")
    data = json.loads(p.stdout)
    assert data["n_runs"] == 6 and set(data["parameters"]) == {
        "prefill_mfu",
        "decode_bw_util",
        "step_overhead_s",
    }


def test_cli_errors_name_file_and_option(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(vllm_result(max_concurrency=None)))
    p = run("calibrate", str(path), "--hardware", "h100-sxm")
    assert p.returncode == 2
    assert f"{path} row 1: max_concurrency:" in p.stderr
    p = run("calibrate", str(EXAMPLE), str(EXAMPLE), "--hardware", "h100-sxm", "--name", "Bad Name")
    assert p.returncode == 2 and "--name" in p.stderr


def test_cli_run_labels_show_the_file_name_and_row(tmp_path: Path) -> None:
    """A run's label is its model, the file's name (not its folders) and row; one too long for
    the column keeps its end (the row) and is marked as cut."""
    deep = tmp_path / ("folder-" * 6) / "runs-measured-on-the-cluster.jsonl"
    deep.parent.mkdir(parents=True)
    deep.write_text(EXAMPLE.read_text())
    p = run("calibrate", str(deep), "--hardware", "h100-sxm")
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if ".jsonl:" in line]
    assert len(rows) == 6
    assert all("folder-" not in line for line in rows)
    # "qwen3-8b runs-measured-on-the-cluster.jsonl:1" is 45 characters: its last 27 stay.
    assert rows[0].startswith("…" + "qwen3-8b runs-measured-on-the-cluster.jsonl:1"[-27:] + " ")
    short = tmp_path / "b.jsonl"
    short.write_text(EXAMPLE.read_text())
    p = run("calibrate", str(short), "--hardware", "h100-sxm")
    assert any(line.startswith("qwen3-8b b.jsonl:1 ") for line in p.stdout.splitlines())
