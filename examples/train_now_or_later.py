"""Train now, or in six months?

A fixed training budget of C FLOPs must reach a target loss. Algorithmic progress (Ho et al.
2024, arXiv:2403.05812: the compute needed for a fixed performance halves every 8.44 months,
95% interval 4.52 to 14.27) makes each FLOP spent later worth 2^(months/8.44) of today's. The
training planner's `start_in_months` plans the same physical budget at that effective compute
(docs/planning.md, "Training later: algorithmic progress"):

  1. train now: today's loss-optimal plan at C;
  2. train in six months: today's law at C x 2^(6/8.44), with the plan at the interval's ends;
  3. the least physical compute reaching the target, now and in six months.

The target is set between what the budget reaches now and in six months, so the decision turns
on the progress estimate: waiting reaches it at the central estimate but not at the slow end of
the interval, so the decision is to wait only if you trust the central estimate.

Run: .venv/bin/python examples/train_now_or_later.py
"""

from __future__ import annotations

import scaleplan as sp

BUDGET_FLOPS = 1e22
MONTHS = 6.0
LAW = "hoffmann2022"

now = sp.plan_training(budget_flops=BUDGET_FLOPS, law=LAW)
later = sp.plan_training(budget_flops=BUDGET_FLOPS, law=LAW, start_in_months=MONTHS)
# A target the budget misses now and reaches in six months at the central estimate (a quarter
# of the way from that loss to today's), but not at the interval's slow end.
target = round(later.loss + (now.loss - later.loss) / 4, 4)
need_now = sp.plan_training(target_loss=target, law=LAW)
need_later = sp.plan_training(target_loss=target, law=LAW, start_in_months=MONTHS)

print(f"Budget {BUDGET_FLOPS:.0e} FLOPs, law {LAW}, target loss {target:.4f}")
print(f"  {'plan':<26} {'loss':>7} {'N':>8} {'D':>9} {'effective FLOPs':>16}")
for name, p in (("train now", now), (f"train in {MONTHS:g} months", later)):
    print(
        f"  {name:<26} {p.loss:>7.4f} {p.params / 1e9:>7.2f}B {p.tokens / 1e9:>8.1f}B "
        f"{p.effective_compute_flops:>16.3e}"
    )
print(
    f"  in {MONTHS:g} months each FLOP is worth {later.compute_multiplier:.4f} of today's "
    f"(interval {later.compute_multiplier_slow:.4f} to {later.compute_multiplier_fast:.4f}): "
    f"loss {later.loss_slow:.4f} (slow) to {later.loss_fast:.4f} (fast)"
)
print(
    f"  least compute for the target: now {need_now.compute_flops:.3e} FLOPs, in {MONTHS:g} "
    f"months {need_later.compute_flops:.3e} (slow end {need_later.compute_flops_slow:.3e})"
)
reaches_now = now.loss <= target
reaches_mid = later.loss <= target
reaches_slow = later.loss_slow <= target
if reaches_now:
    decision = "train now: the budget already reaches the target"
elif reaches_mid and reaches_slow:
    decision = f"wait {MONTHS:g} months: the budget reaches the target across the interval"
elif reaches_mid:
    decision = (
        f"wait {MONTHS:g} months if you trust the central estimate: the budget reaches the "
        "target then, but not at the interval's slow end"
    )
else:
    decision = f"neither: even in {MONTHS:g} months the budget misses the target"
print(f"-> decision: {decision}")
