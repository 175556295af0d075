"""Parallel streams (ParScale, arXiv:2505.10475) through every cost surface: the façade's
``inference_cost``, the sweeps, gRPC (InferenceCost, InferenceCostSweep, the client), the CLI's
``cost`` and ``sweep``. Expected values follow the paper's cost analysis as docs/cost-model.md
("Parallel streams") states it: P times the FLOPs, KV reads and KV memory of one stream whose
prompt is 48 tokens longer, 0.2% extra parameters per stream, weights read once per step."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import scaleplan as sp
from cli_support import json_lines, ok, run, usage_error
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import TIMEOUT_S, stub
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.v1 import planner_pb2

MODEL, HW = "qwen3-8b", "h100-sxm"
PROMPT, GEN = 1000, 500
PREFIX = 48  # prefix tokens per stream (the paper's cost analysis)
EXTRA = 0.002  # extra parameters per stream, as a fraction of the backbone's


def cost(streams: int = 1, prompt: float = PROMPT, **kw: Any) -> sp.InferenceCost:
    kw.setdefault("serving", sp.Serving(batch=1))
    return sp.inference_cost(MODEL, HW, prompt_tokens=prompt, gen_tokens=GEN, streams=streams, **kw)


@pytest.mark.parametrize("p", [2, 4, 8])
def test_p_streams_cost_p_times_one_stream_with_weights_read_once(p: int) -> None:
    m, hw = sp.model(MODEL), sp.hardware(HW)
    got = cost(p)
    # One stream of the same query, its prompt behind the 48-token prefix: P copies of its work.
    one = cost(1, prompt=PROMPT + PREFIX)
    for name in ("prefill_flops", "decode_flops", "flops", "kv_bytes", "kv_memory_bytes_per_query"):
        assert getattr(got, name) == pytest.approx(p * getattr(one, name), rel=1e-12), name
    # The weights: the backbone plus 0.2% per stream, bf16 (2 bytes), resident once.
    weights = m.total_params + EXTRA * p * m.flop_params
    assert got.weight_memory_bytes == pytest.approx(2 * weights, rel=1e-12)
    # Read once per decode step for all P stream rows of the batch of one: an untied input
    # table is gathered one row per token (P rows), the rest is read whole.
    rows = 0 if m.tied_embeddings else m.hidden_size
    gathered = 0 if m.tied_embeddings else m.vocab_size * m.hidden_size
    read = weights - gathered + p * rows
    assert got.weight_bytes == pytest.approx(2 * read * GEN, rel=1e-12)
    # Not P times one stream's reads: only the streams' 0.2% each more.
    assert got.weight_bytes < (1 + 1.5 * EXTRA * p) * cost(1).weight_bytes
    # The largest batch: whole queries whose P caches fit beside the (larger) weights.
    free = hw.hbm_bytes - got.weight_memory_bytes
    assert got.max_queries == math.floor(free / got.kv_memory_bytes_per_query)
    assert got.feasible and got.binding == "none"


def test_one_stream_prices_as_without_streams() -> None:
    kw: dict[str, Any] = {"prompt_tokens": [128, 4096], "gen_tokens": 2048, "samples": [1, 8]}
    base = sp.inference_cost(MODEL, HW, **kw)
    same = sp.inference_cost(MODEL, HW, **kw, streams=1)
    for f in sp.INFERENCE_COST_FIELDS:
        np.testing.assert_array_equal(getattr(same, f), getattr(base, f))
    assert cost(1) == sp.inference_cost(
        MODEL, HW, prompt_tokens=PROMPT, gen_tokens=GEN, serving=sp.Serving(batch=1)
    )


def test_arrays_equal_one_call_per_configuration_with_streams() -> None:
    prompts, gens = np.array([0.0, 512, 8192]), np.array([[1.0], [4096.0]])
    serving = sp.Serving(batch="max", time_model="roofline")
    grid = sp.inference_cost(
        MODEL, HW, prompt_tokens=prompts, gen_tokens=gens, serving=serving, streams=4
    )
    assert np.shape(grid.flops) == (2, 3)
    for i, g in enumerate(gens[:, 0]):
        for j, pr in enumerate(prompts):
            one = sp.inference_cost(
                MODEL, HW, prompt_tokens=float(pr), gen_tokens=float(g), serving=serving, streams=4
            )
            for f in sp.INFERENCE_COST_FIELDS:
                assert getattr(grid, f)[i, j] == getattr(one, f), f
    # fields= and out= take the same path.
    out = np.empty((1, 3))
    part = sp.inference_cost(
        MODEL, HW, prompt_tokens=prompts, gen_tokens=4096, fields=["eflops"], out=out, streams=4
    )
    np.testing.assert_array_equal(part.eflops, grid.eflops[1])


def test_streams_win_small_batches_and_lose_large_ones() -> None:
    # Memory-bound decode (batch 1): P streams cost far less than P times one stream's time;
    # compute-bound (a large fixed batch): close to P times.
    small = cost(4).gpu_seconds / cost(1).gpu_seconds
    large = (
        cost(4, serving=sp.Serving(batch=64)).gpu_seconds
        / cost(1, serving=sp.Serving(batch=64)).gpu_seconds
    )
    assert small < 1.5 < large


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, InvalidArgumentError),
        (65, LimitExceededError),
        (1.5, InvalidArgumentError),
        (math.nan, InvalidArgumentError),
        (True, InvalidArgumentError),
        ("2", InvalidArgumentError),
    ],
)
def test_bad_streams_name_the_field(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        cost(value)
    assert caught.value.field == "streams"  # type: ignore[attr-defined]
    with pytest.raises(error):
        cost(value, prompt=np.array([128.0, 256.0]))
    with pytest.raises(error):
        sp.inference_cost_sweep(MODEL, HW, prompt_tokens=[1, 2], gen_tokens=3, streams=value)


def test_a_count_past_u64_is_reported_as_given() -> None:
    """A cast to u64 saturated: 2**70 streams was reported as 18446744073709551615."""
    with pytest.raises(InvalidArgumentError) as caught:
        cost(2.0**70)
    assert caught.value.field == "streams" and "1.1805916207174113e21" in str(caught.value)


def test_sweep_prices_every_point_with_the_streams() -> None:
    kw: dict[str, Any] = {"prompt_tokens": [128, 1024], "gen_tokens": [64, 512, 2048]}
    swept = sp.inference_cost_sweep(MODEL, HW, **kw, streams=2, chunk_size=4)
    mesh = np.ix_(np.array(kw["prompt_tokens"], float), np.array(kw["gen_tokens"], float))
    want = sp.inference_cost(MODEL, HW, prompt_tokens=mesh[0], gen_tokens=mesh[1], streams=2)
    for f in sp.INFERENCE_COST_FIELDS:  # the sweep's grid has a samples axis of length 1
        np.testing.assert_array_equal(np.reshape(getattr(swept, f), (2, 3)), getattr(want, f))
    batches = list(sp.iter_inference_cost_record_batches(MODEL, HW, **kw, streams=2))
    assert np.concatenate([b.column("flops").to_numpy() for b in batches]).tolist() == (
        np.asarray(want.flops).reshape(-1).tolist()
    )


# ---- gRPC ----------------------------------------------------------------------------------


def test_client_prices_streams_as_the_python_api(client: sp.Client) -> None:
    assert client.inference_cost(
        MODEL, HW, prompt_tokens=PROMPT, gen_tokens=GEN, serving=sp.Serving(batch=1), streams=4
    ) == cost(4)
    kw: dict[str, Any] = {"prompt_tokens": [128, 1024], "gen_tokens": [64, 512], "streams": 2}
    remote = client.inference_cost_sweep(MODEL, HW, **kw)
    local = sp.inference_cost_sweep(MODEL, HW, **kw)
    for f in sp.INFERENCE_COST_FIELDS:
        np.testing.assert_array_equal(getattr(remote, f), getattr(local, f))
    # Broadcast arrays go one call per point, each with the streams.
    arrays = client.inference_cost(MODEL, HW, prompt_tokens=[128, 1024], gen_tokens=64, streams=8)
    want = sp.inference_cost(MODEL, HW, prompt_tokens=[128, 1024], gen_tokens=64, streams=8)
    np.testing.assert_array_equal(arrays.latency_s, want.latency_s)
    # Arrays sharing a dimension go one InferenceCost call per point, each with the streams.
    pairs: dict[str, Any] = {"prompt_tokens": [128, 1024], "gen_tokens": [64, 512], "streams": 2}
    np.testing.assert_array_equal(
        client.inference_cost(MODEL, HW, **pairs).eflops,
        sp.inference_cost(MODEL, HW, **pairs).eflops,
    )
    with pytest.raises(LimitExceededError) as caught:
        client.inference_cost(MODEL, HW, prompt_tokens=1, gen_tokens=1, streams=65)
    assert caught.value.field == "streams"
    with pytest.raises(InvalidArgumentError) as bad:
        client.inference_cost(MODEL, HW, prompt_tokens=1, gen_tokens=1, streams=1.5)
    assert bad.value.field == "streams"


def _violation(exc: grpc.RpcError) -> tuple[str, str]:
    status = rpc_status.from_call(exc)
    assert status is not None
    bad, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    status.details[0].Unpack(bad)
    status.details[1].Unpack(info)
    return bad.field_violations[0].field, info.reason


def test_wire_requests_take_streams_and_name_a_bad_one(channel: grpc.Channel) -> None:
    service = stub(channel)
    request = planner_pb2.InferenceCostRequest(
        model=MODEL, hardware=HW, prompt_tokens=PROMPT, gen_tokens=GEN, streams=2
    )
    got = service.InferenceCost(request, timeout=TIMEOUT_S).cost
    want = sp.inference_cost(MODEL, HW, prompt_tokens=PROMPT, gen_tokens=GEN, streams=2)
    assert got.total_flops == want.flops and got.eflops == want.eflops
    for value, reason in ((0, "INVALID_ARGUMENT"), (65, "LIMIT_EXCEEDED")):
        request.streams = value
        with pytest.raises(grpc.RpcError) as caught:
            service.InferenceCost(request, timeout=TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _violation(caught.value) == ("streams", reason)
    sweep = planner_pb2.InferenceCostSweepRequest(model=MODEL, hardware=HW, streams=0)
    sweep.grid.prompt_tokens.append(128)
    sweep.grid.gen_tokens.append(64)
    with pytest.raises(grpc.RpcError) as caught:
        list(service.InferenceCostSweep(sweep, timeout=TIMEOUT_S))
    assert _violation(caught.value) == ("streams", "INVALID_ARGUMENT")


# ---- CLI -----------------------------------------------------------------------------------


def test_cli_cost_takes_a_list_of_streams() -> None:
    args = ["cost", "--model", MODEL, "--hardware", HW, "--prompt-tokens", str(PROMPT)]
    args += ["--gen-tokens", str(GEN), "--batch", "1"]
    rows = json_lines(ok(*args, "--streams", "1,4", "--json").stdout)
    assert [r["streams"] for r in rows] == [1, 4]
    for r in rows:
        c = cost(r["streams"])
        assert r["flops"] == c.flops and r["latency_s"] == c.latency_s
    table = ok(*args, "--streams", "1,4").stdout
    assert "streams" in table.splitlines()[1]  # a column: it varies
    assert "streams" not in ok(*args).stdout  # one stream: nothing to say
    usage_error(run(*args, "--streams", "0"), "--streams")
    usage_error(run(*args, "--streams", "two"), "--streams")
    assert "(default: 1" in ok("cost", "--help").stdout


def test_cli_sweep_scenario_takes_streams(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        f'model = "{MODEL}"\nhardware = "{HW}"\nstreams = [1, 2]\n'
        "prompt_tokens = [128, 1024]\ngen_tokens = 256\n"
    )
    out = tmp_path / "rows.jsonl"
    ok("sweep", "--grid", str(grid), "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["streams"], r["prompt_tokens"]) for r in rows] == [
        (1, 128),
        (1, 1024),
        (2, 128),
        (2, 1024),
    ]
    for r in rows:
        c = sp.inference_cost(
            MODEL, HW, prompt_tokens=r["prompt_tokens"], gen_tokens=256, streams=r["streams"]
        )
        assert r["eflops"] == c.eflops
    grid.write_text(grid.read_text().replace("[1, 2]", "[1, 99]"))
    bad = run("sweep", "--grid", str(grid), "--out", str(out))
    assert bad.returncode == 2 and "streams" in bad.stderr
