"""The inference cost of docs/design.md#inference written in plain numpy: the baseline the
binding is benchmarked against, and an independent re-derivation the tests compare the core with.

It computes every field the binding returns, for the same options, so the two do the same work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
BINDINGS = ("none", "weights", "kv_cache", "context")


def weight_params_read(m: Any, tokens: Array) -> Array:
    params = np.full_like(tokens, m.total_params)
    if not m.tied_embeddings:
        params = params - m.vocab_size * m.hidden_size + tokens * m.hidden_size
    if m.moe is not None:
        touched = 1.0 - (1.0 - m.moe.active_experts / m.moe.experts) ** tokens
        params = params - m.moe.expert_params * (1.0 - touched)
    return params


def inference_cost(
    m: Any,
    hw: Any,
    prompt: Array,
    gen: Array,
    k: Array,
    *,
    attention: str = "dense",
    kv_budget: Array | None = None,
    block_size: Array | None = None,
    prefix_sharing: bool = True,
    prefill: bool = True,
    prefill_mode: str = "per_query",
    batch: str = "amortized",
    batch_size: Array | None = None,
    time_model: str = "additive",
    gpus: float = 1.0,
) -> dict[str, Array]:
    b_kv = b_w = 2.0
    n = m.flop_params
    a = float(m.layers * m.query_heads * m.head_dim)
    kv = float(2 * m.kv_heads * m.head_dim * m.layers)
    intensity = hw.peak_flops_bf16 / hw.hbm_bytes_per_s

    dense_sum = prompt * gen + 0.5 * gen * gen

    def dense_reads(elems: float) -> Array:
        if prefix_sharing:
            return elems * (prompt * gen + k * 0.5 * gen * gen)
        return elems * k * dense_sum

    scoring = np.zeros_like(prompt)
    if attention == "dense":
        attended = dense_sum
        kv_reads = dense_reads(b_kv * kv)
    else:
        assert kv_budget is not None
        fill = np.maximum(kv_budget - prompt, 0.0)
        attended = np.where(gen >= fill, kv_budget * gen - 0.5 * fill * fill, dense_sum)
        kv_reads = b_kv * kv * k * attended
        if attention == "block_topk":
            assert block_size is not None
            kv_reads = kv_reads + dense_reads(b_kv * kv / 2.0) / block_size
            scoring = k * 2.0 * a * dense_sum / block_size

    prefill_flops = 2.0 * n * prompt + 2.0 * a * prompt * prompt if prefill else 0.0 * prompt
    decode_flops = k * (2.0 * n * gen + 4.0 * a * attended) + scoring

    capacity = hw.hbm_bytes * gpus
    weight_memory = b_w * m.total_params
    cached = prompt + k * gen if prefix_sharing else k * (prompt + gen)
    per_token = b_kv * kv * (1.0 + 0.5 / block_size) if attention == "block_topk" else b_kv * kv
    kv_memory = per_token * cached
    free = capacity - weight_memory
    max_queries = np.floor(free / kv_memory) if free > 0 else 0.0 * prompt
    max_batch = max_queries * k
    binding = np.select(
        [
            prompt + gen > m.max_context,
            np.full_like(prompt, free <= 0, dtype=bool),
            max_queries < 1,
        ],
        [3, 1, 2],
        0,
    )
    feasible = binding == 0
    fit_cap = np.where(feasible, max_batch, k)
    if batch == "amortized":
        used = np.full_like(prompt, np.inf)
        weight_bytes = np.zeros_like(prompt)
    else:
        used = fit_cap if batch == "max" else np.minimum(batch_size, fit_cap)  # type: ignore[arg-type]
        weight_bytes = b_w * weight_params_read(m, used) * gen * k / used

    flops = prefill_flops + decode_flops
    total_bytes = kv_reads + weight_bytes
    peak = hw.peak_flops_bf16 * gpus * hw.prefill_mfu
    bandwidth = hw.hbm_bytes_per_s * gpus * hw.decode_bw_util

    def phase(f: Array, b: Array) -> Array:
        if time_model == "additive":
            return f / peak + b / bandwidth
        return np.maximum(f / peak, b / bandwidth)

    # A prefill pass: the larger of its compute and one read of the weights (none without a
    # prompt). Per query: the query's own pass, charged whole (compute only with the batch
    # unset, where weight reads amortise away); batch: one pass over the batch's queries.
    def prefill_pass(f: Array, tokens: Array) -> Array:
        read = b_w * weight_params_read(m, tokens) / bandwidth
        return np.where(tokens > 0, np.maximum(f / peak, read), 0.0)

    if not prefill:
        ttft = charged = 0.0 * prompt
    elif prefill_mode == "batch":
        queries = used / k
        ttft = prefill_pass(prefill_flops * queries, prompt * queries)
        charged = ttft / queries
    else:
        ttft = prefill_pass(prefill_flops, prompt)
        charged = ttft if batch != "amortized" else prefill_flops / peak
    seconds = charged + phase(decode_flops, total_bytes)
    lat_batch = np.where(np.isfinite(used), used, k)
    share = lat_batch / k
    decode_latency = phase(
        decode_flops * share, kv_reads * share + b_w * weight_params_read(m, lat_batch) * gen
    )
    return {
        "prefill_flops": prefill_flops,
        "decode_flops": decode_flops,
        "flops": flops,
        "kv_bytes": kv_reads,
        "weight_bytes": weight_bytes,
        "bytes": total_bytes,
        "eflops": flops + intensity * total_bytes,
        "seconds": seconds,
        "gpu_seconds": seconds * gpus,
        "ttft_s": ttft,
        "tpot_s": decode_latency / gen,
        "latency_s": ttft + decode_latency,
        "batch": used,
        "max_batch": max_batch,
        "max_queries": max_queries,
        "weight_memory_bytes": np.full_like(prompt, weight_memory),
        "kv_memory_bytes_per_query": kv_memory,
        "min_gpus": np.maximum(np.ceil((weight_memory + kv_memory) / hw.hbm_bytes), 1.0),
        "feasible": feasible,
        "binding": np.asarray(BINDINGS)[binding],
    }
