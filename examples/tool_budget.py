"""How many tool calls should an agent make, and on which model?

A search agent's accuracy rises with its tool-call budget and with its model, and so does its
cost per query: the tokens it reads and writes, priced by the cost model on the serving
hardware, plus every search and browse call at its price (the unified cost of Liu et al. 2025,
arXiv:2511.17006, who price a search and a browse at $0.001 each). `scaleplan.plan_agent` picks
the cheapest measured (model, tool budget) reaching a target accuracy, or the most accurate
within a budget per query.

The table examples/data/synthetic_agent_table.csv is SYNTHETIC (made up to look like a
measurement; see examples/data/README.md): replace it with your own agent evaluation. The GPU-hour
price below is an assumption.

Run: .venv/bin/python examples/tool_budget.py
"""

from __future__ import annotations

from pathlib import Path

import scaleplan as sp

TABLE = Path(__file__).parent / "data" / "synthetic_agent_table.csv"
HARDWARE = "h100-sxm"
USD_PER_GPU_HOUR = 2.5  # an assumed rental price
TARGET = 0.45

print(f"Cheapest agent reaching {TARGET:.0%} accuracy on {HARDWARE} at ${USD_PER_GPU_HOUR}/GPU-h")
print("(synthetic table: replace it with your own measurements)")
for label, prices in [
    ("tools at the paper's $0.001 per call", None),
    ("search at $0.01 per call", {"search": 0.01}),
    ("tools free (self-hosted)", {"search": 0.0, "browse": 0.0}),
]:
    p = sp.plan_agent(
        TABLE,
        target_accuracy=TARGET,
        hardware=HARDWARE,
        usd_per_hour=USD_PER_GPU_HOUR,
        tool_prices=prices,
    )
    print(
        f"  {label:<38} -> {p.model}, tool budget {p.tool_budget:g}: accuracy "
        f"{p.accuracy:.0%}, ${p.cost:.4f} per query (tokens ${p.token_cost:.4f}, "
        f"tools ${p.tool_cost:.4f})"
    )

print("Most accurate agent per budget (tools at $0.001 per call):")
for budget in (0.005, 0.02, 0.1):
    p = sp.plan_agent(TABLE, budget=budget, hardware=HARDWARE, usd_per_hour=USD_PER_GPU_HOUR)
    what = (
        f"{p.model}, tool budget {p.tool_budget:g}: accuracy {p.accuracy:.0%}"
        if p.feasible
        else "nothing measured fits"
    )
    print(f"  ${budget:<6g} per query -> {what} (binding: {p.binding})")
