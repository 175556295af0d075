"""Run one model as P parallel streams, or train a larger one? (ParScale, arXiv:2505.10475)

Under the parallel-scaling law fitted to the ParScale paper's Stack-V2 Python runs, a model of N
parameters run as P streams reaches the loss of a one-stream model of about N (1 + 0.39 ln P)
parameters. Serving P streams costs P times the FLOPs and KV cache of one, but the weights are
read once per decode step for all of them.

For one target loss (inside the range the law was fitted on), this script asks the stream
planner for the cheapest (N, P) in five serving regimes and prints the decision beside the
one-stream model of the same loss:

- batch 1, minimising latency: decode reads the whole model every step for one sequence, so a
  smaller model run as several streams answers sooner (P > 1 wins);
- batch 1 and batch 8, minimising GPU-seconds: the same weight-bound regime priced in GPU time;
  at batch 8 the weight reads are shared by more sequences and fewer streams pay;
- batch 64, minimising GPU-seconds: weight reads are shared by a large batch, so decode is bound
  by KV reads and compute, which P streams multiply (P = 1 wins);
- the largest batch that fits, minimising eFLOPs: compute-bound accounting, where P streams pay
  P times the FLOPs for a smaller saving in parameters (P = 1 wins).

Run: .venv/bin/python examples/parallel_streams.py
"""

from __future__ import annotations

import scaleplan as sp

LAW = "parscale2025-stack"
TARGET_LOSS = 1.02
HARDWARE = "h100-sxm"
PROMPT_TOKENS = 512
GEN_TOKENS = 1024

REGIMES = [
    ("batch 1, latency", 1, "latency"),
    ("batch 1, GPU-seconds", 1, "gpu_seconds"),
    ("batch 8, GPU-seconds", 8, "gpu_seconds"),
    ("batch 64, GPU-seconds", 64, "gpu_seconds"),
    ("batch max, eFLOPs", "max", "eflops"),
]
UNITS = {"latency": "s", "gpu_seconds": "GPU-s", "eflops": "eFLOPs"}


def main() -> None:
    print(
        f"Serving loss {TARGET_LOSS} ({LAW}) on {HARDWARE}, {PROMPT_TOKENS} prompt + "
        f"{GEN_TOKENS} generated tokens per query:"
    )
    header = f"{'regime':<24} {'P':>2} {'params':>8} {'cost/query':>14} {'P=1 cost':>14}  binding"
    print(header)
    print("-" * len(header))
    for label, batch, objective in REGIMES:
        plan = sp.plan_parscale(
            target_loss=TARGET_LOSS,
            law=LAW,
            hardware=HARDWARE,
            prompt_tokens=PROMPT_TOKENS,
            gen_tokens=GEN_TOKENS,
            objective=objective,  # type: ignore[arg-type]
            serving=sp.Serving(batch=batch),  # type: ignore[arg-type]
        )
        unit = UNITS[objective]
        print(
            f"{label:<24} {int(plan.streams):>2} {plan.params / 1e9:>7.2f}B "
            f"{plan.cost:>9.4g} {unit:<4} {plan.single_stream_cost:>9.4g} {unit:<4}  "
            f"{plan.binding}"
        )
        if plan.streams > 1:
            saving = 1 - plan.cost / plan.single_stream_cost
            print(f"  -> streams win: P = {int(plan.streams)}, {saving:.1%} below one stream")
        else:
            print("  -> one stream wins: P = 1")


if __name__ == "__main__":
    main()
