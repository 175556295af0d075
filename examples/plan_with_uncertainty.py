"""How sure is a training plan? Fit a loss law on your own runs, plan a training run with its
band, and read the probability of reaching a target loss.

The runs here are SYNTHETIC, labelled as such: 80 small runs drawn from a Chinchilla-like law
(E 1.8172, A 482.01, B 2085.43, alpha 0.3478, beta 0.3658; Besiroglu et al. 2024) with 2%
log-normal noise, seed 0. Replace them with your runs (parameters, training tokens, final loss).

``fit_law(..., bootstrap=400)`` refits the law on 400 resamplings of the runs. Passing the fit
as the law plans the point plan (exactly what ``law=fit.law`` gives) and re-solves it under
each bootstrap sample in one Rust call: ``plan.uncertainty`` holds the P10/P50/P90 of every
decision and the probability of reaching the target, committing to the point plan ("fixed")
and had each sample's law been known ("re-planned"); docs/uncertainty.md defines both.

Run: .venv/bin/python examples/plan_with_uncertainty.py
"""

from __future__ import annotations

import numpy as np
import scaleplan as sp

BUDGET_FLOPS = 1e22
TARGET_LOSS = 2.15

# ---- synthetic runs (replace with yours) ------------------------------------------------------
TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
rng = np.random.default_rng(0)
params = 10 ** rng.uniform(7.0, 9.5, 80)
tokens = 10 ** rng.uniform(9.0, 11.5, 80)
clean = TRUTH["E"] + TRUTH["A"] * params ** -TRUTH["alpha"] + TRUTH["B"] * tokens ** -TRUTH["beta"]
loss = clean * np.exp(rng.normal(0.0, 0.02, 80))

fit = sp.fit_law(params, tokens, loss, bootstrap=400, seed=1)
print(f"SYNTHETIC runs: {fit!r}")
low, high = fit.interval(0.8)["alpha"]
print(f"alpha, 80% interval: {low:.3f} to {high:.3f}")

plan = sp.plan_training(budget_flops=BUDGET_FLOPS, law=fit, reach_loss=TARGET_LOSS)
u = plan.uncertainty
assert u is not None
print(f"\nTraining plan for {BUDGET_FLOPS:.0e} FLOPs (point law):")
print(f"  params {plan.params:.3g}, tokens {plan.tokens:.3g}, loss {plan.loss:.4f}")
print(f"Band over {u.samples} bootstrap samples (P10 / P50 / P90):")
for name in ("params", "tokens", "tokens_per_param", "loss"):
    print(f"  {name:>16}: " + " / ".join(f"{v:.4g}" for v in u.band(name)))
print(f"Probability of reaching loss {TARGET_LOSS}:")
print(f"  committing to this plan (fixed plan):       {u.p_fixed:.0%}")
print(f"  re-planned under each sample's law:         {u.p_replanned:.0%}")
