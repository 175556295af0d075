"""Plots (matplotlib, Agg backend, imported only when a plot is drawn): PNG or SVG by the file's
extension. Shared by ``plan --plot`` and ``plot``; frontier plots belong here too."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scaleplan._arrays import FloatArray
from scaleplan.commands._parse import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg")


def check_path(option: str, path: str | None, *, need_points: int = 2) -> None:
    """Refuse a plot before any work: wrong extension, missing folder, or fewer than two x
    values (a single point is not a line)."""
    if path is None:
        return
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(option, f"plots are written as .png or .svg, got {path!r}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise UsageError(option, f"folder {folder!r} does not exist")
    if need_points < 2:
        raise UsageError(option, "needs at least two goals (a list or a range) to draw")


def figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=150, layout="constrained")


def save(fig: Figure, path: str) -> None:
    fig.savefig(path, format=os.path.splitext(path)[1].lower().lstrip("."))


def _field(plans: Sequence[Any], name: str) -> FloatArray:
    """One field over plans, NaN where the plan is infeasible (left out of the line)."""
    return np.array([float(getattr(p, name)) if p.feasible else math.nan for p in plans])


def allocation(
    path: str,
    goals: FloatArray,
    lines: Sequence[Sequence[Any]],
    labels: Sequence[str],
    *,
    xlabel: str,
    title: str,
) -> None:
    """Parameters and tokens (left) and tokens per parameter (right) against the goal, one line
    per plan series; lifetime plans add the Chinchilla-optimal size of the same loss."""
    fig = figure(11, 4.4)
    left, right = fig.subplots(1, 2)
    log_x = bool(np.all(goals > 0) and goals.max() / goals.min() > 20)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    for k, (plans, label) in enumerate(zip(lines, labels, strict=True)):
        c = colors[k % len(colors)]
        tag = f" ({label})" if label else ""
        left.plot(goals, _field(plans, "params"), color=c, lw=2, label="params" + tag)
        left.plot(goals, _field(plans, "tokens"), color=c, lw=2, ls="--", label="tokens" + tag)
        if plans and hasattr(plans[0], "chinchilla_params"):
            left.plot(
                goals,
                _field(plans, "chinchilla_params"),
                color=c,
                lw=1,
                ls=":",
                label="Chinchilla params, same loss" + tag,
            )
        right.plot(goals, _field(plans, "tokens_per_param"), color=c, lw=2, label=label or None)
    for ax in (left, right):
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("parameters N, tokens D")
    left.legend(fontsize=7)
    right.set_ylabel("tokens per parameter D/N")
    right.set_yscale("log")
    if any(labels):
        right.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save(fig, path)
