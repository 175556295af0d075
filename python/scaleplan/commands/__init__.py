"""The ``scaleplan`` subcommands, one module each, built on the public façade only (never
``scaleplan._core``) and sharing option parsing (:mod:`._parse`), output (:mod:`._output`),
plots (:mod:`._plot`) and error handling (:mod:`._common`).

A module exposes ``register(subparsers)``, which adds its subparser and sets ``func``; list it in
:data:`COMMANDS`. Planner kinds (``plan test-time``, ``plan joint``) register in
``commands.plan.PLANNERS``, their frontiers in ``commands.frontier.FRONTIERS``; figures in
``commands.plot.PLOTS``. Planner options and output are shared through :mod:`._planning`.
"""

from __future__ import annotations

from collections.abc import Callable

from scaleplan.commands import calibrate, catalog, cost, fit, frontier, plan, plot, sweep
from scaleplan.commands._common import Subparsers, describe

COMMANDS: list[Callable[[Subparsers], None]] = [
    catalog.register,
    cost.register,
    plan.register,
    frontier.register,
    sweep.register,
    plot.register,
    fit.register,
    calibrate.register,
]


def register_all(sub: Subparsers) -> None:
    """Add every subcommand of this package to ``sub`` (the CLI's subparsers)."""
    for register in COMMANDS:
        register(sub)


__all__ = ["COMMANDS", "describe", "register_all"]
