"""``scaleplan frontier <planner>``: the best plan at every budget of a list or range, one row
per budget, with ``--plot``. Frontiers register through :data:`FRONTIERS`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from scaleplan.commands import _common, joint, testtime
from scaleplan.commands._planning import PROVENANCE_HELP

FRONTIERS: list[tuple[str, Callable[[_common.Subparsers], None]]] = [
    ("test-time", testtime.add_frontier),
    ("joint", joint.add_frontier),
]
"""(name, register) per frontier."""


def register(sub: _common.Subparsers) -> None:
    p = sub.add_parser(
        "frontier",
        help="the best plan at every budget (test-time or joint), with a plot",
        description="Solve a planner at every budget of a list or range (one call) and print "
        "one row per budget; --plot draws the frontier. Exit 1 with --require-feasible when a "
        "plan is infeasible. " + PROVENANCE_HELP,
        epilog="examples:\n"
        "  scaleplan frontier test-time --budgets 1e13eflops:1e19eflops:200 "
        "--hardware kinetics-b200 "
        "--no-prefill --attention dense,topk:1024 --plot frontier.png\n"
        "  scaleplan frontier joint --budgets 1e4gpu-h:1e8gpu-h:30 --queries 1e8 "
        "--plot joint.png\n\n"
        "frontiers: " + ", ".join(name for name, _ in FRONTIERS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="frontier", required=True, metavar="PLANNER")
    for _, add in FRONTIERS:
        add(kinds)
