"""How many tokens per parameter? Chinchilla's law against Farseer's, and where Farseer stops.

The training planner splits a compute budget C = 6 N D between model size N and tokens D.
Chinchilla's law (hoffmann2022) has a closed-form optimum. Farseer (Li et al. 2025,
arXiv:2506.10972; loss in bits per character, a different scale, so only the allocations
compare) is planned numerically; its optimal tokens per parameter rise with the budget above
1e20 FLOPs. Farseer has no loss floor: past the largest model it was validated on (25.1B
parameters) a larger model always looks better, so above about 5e22 FLOPs the planner refuses
the budget instead of returning a runaway plan (docs/planning.md, "Loss-law forms").

Run: .venv/bin/python examples/farseer_allocation.py
"""

from __future__ import annotations

import scaleplan as sp

BUDGETS = [1e19, 1e20, 1e21, 1e22, 5e22, 1e23]


def main() -> None:
    print(f"{'budget':>8}  {'hoffmann2022':>24}  {'farseer2025':>24}")
    ratios: dict[float, float] = {}
    for c in BUDGETS:
        ch = sp.plan_training(budget_flops=c, law="hoffmann2022")
        left = f"{ch.params:8.3g} N, {ch.tokens_per_param:5.1f} D/N"
        try:
            fs = sp.plan_training(budget_flops=c, law="farseer2025")
            ratios[c] = fs.tokens_per_param
            right = f"{fs.params:8.3g} N, {fs.tokens_per_param:5.1f} D/N"
        except sp.errors.InvalidArgumentError:
            right = "outside the law's domain"
        print(f"{c:8.0e}  {left:>24}  {right:>24}")
    last = max(ratios)
    print(
        f"-> under farseer2025 the optimal tokens per parameter go from {ratios[1e20]:.1f} at "
        f"1e20 FLOPs to {ratios[last]:.1f} at {last:.0e}; past its validated sizes it gives no "
        "plan."
    )


if __name__ == "__main__":
    main()
