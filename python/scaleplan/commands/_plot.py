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


def common_prefix(names: Sequence[str]) -> str:
    """``qwen3-0.6b``, ``qwen3-8b`` -> ``qwen3-``: the shared stem, cut after a dash."""
    if not names:
        return ""
    stem = names[0]
    for n in names[1:]:
        while not n.startswith(stem):
            stem = stem[:-1]
    cut = stem.rfind("-")
    return stem[: cut + 1] if cut >= 0 else ""


def _colors(models: Sequence[str]) -> dict[str, str]:
    """One colour per model, in the order given (smallest first)."""
    palette = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
    return {m: palette[i % len(palette)] for i, m in enumerate(models)}


def _title(fig: Figure, title: str) -> None:
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(title, 150)), fontsize=8)


def _percent_axis(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)


def _log_y(ax: Any, base: float = 10) -> None:
    """A log y axis when the axis has something positive to show (else matplotlib refuses)."""
    ys = [np.asarray(line.get_ydata(), dtype=np.float64) for line in ax.get_lines()]
    if any(np.any(np.isfinite(y) & (y > 0)) for y in ys):
        ax.set_yscale("log", base=base)


def _positive(values: Any) -> FloatArray:
    """Accuracy with exact zeros (nothing fits the budget) left out of the line."""
    a = np.asarray(values, dtype=np.float64).copy()
    a[a <= 0] = math.nan
    return a


def _runs(keys: Sequence[str]) -> list[tuple[int, int]]:
    """[start, stop) index ranges of equal consecutive non-empty keys."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, k in enumerate([*keys, ""]):
        if start is not None and (i == len(keys) or k != keys[start]):
            runs.append((start, i))
            start = None
        if start is None and i < len(keys) and k:
            start = i
    return runs


# Binding limits the frontier plot marks: (marker, legend text).
_LIMIT_MARKERS = {
    "memory": ("s", "memory binds"),
    "eval_samples": ("^", "the eval's samples per problem bind"),
    "max_samples": ("v", "k_max binds"),
    "measured_length": ("D", "the longest measured length binds"),
    "latency": ("x", "the latency SLO binds"),
}


def accuracy_frontier(
    path: str,
    budgets: FloatArray,
    plan: Any,
    *,
    models: Sequence[str],
    per_model: dict[str, FloatArray] | None = None,
    oracle: FloatArray | None = None,
    unit_label: str,
    title: str,
) -> None:
    """The test-time frontier (``plan``: a TestTimePlan over ``budgets``): accuracy against the
    per-query budget (log x), the line coloured by the model chosen, each change of model or
    attention annotated; each model's own best as a thin line, the oracle dashed; below, the
    samples and generation length chosen."""
    from matplotlib.lines import Line2D

    fig = figure(10, 7.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.25])
    colors = _colors(list(models) + sorted(set(per_model or {}) - set(models)))
    acc = np.asarray(plan.accuracy, dtype=np.float64)
    feasible = np.asarray(plan.feasible, dtype=bool)
    chosen = [str(m) if f else "" for m, f in zip(np.ravel(plan.model), feasible, strict=True)]
    attention = [str(a) for a in np.ravel(plan.attention)]
    several_attention = len({a for a, c in zip(attention, chosen, strict=True) if c}) > 1
    keys = [f"{m}|{a}" if m else "" for m, a in zip(chosen, attention, strict=True)]
    prefix = common_prefix([m for m in chosen if m] or list(models))
    for name, values in (per_model or {}).items():
        top.plot(budgets, _positive(values), color=colors[name], lw=0.9, alpha=0.55)
    if oracle is not None:
        top.plot(budgets, _positive(oracle), color="black", lw=1.3, ls="--")
    runs = _runs(keys)
    labelled: float | None = None
    placed = 0
    for n, (start, stop) in enumerate(runs):
        model = chosen[start]
        end = stop + 1 if stop < len(keys) and keys[stop] else stop
        top.plot(
            budgets[start:end], acc[start:end], color=colors[model], lw=3.0, solid_capstyle="butt"
        )
        top.plot(budgets[start], acc[start], "o", color=colors[model], ms=5, mec="white")
        label = model[len(prefix) :] if prefix else model
        if several_attention and (n == 0 or attention[start] != attention[runs[n - 1][0]]):
            label += f"\n{attention[start]}"
        first = n == 0
        if not first:
            for ax in (top, bottom):
                ax.axvline(budgets[start], color="0.6", lw=0.6, ls=":", zorder=0)
        # Changes closer than a tenth of a decade to the last label get the marker only.
        crowded = labelled is not None and math.log10(budgets[start] / labelled) < 0.1
        if crowded and n == len(runs) - 1:
            start = (start + stop) // 2  # the last run, long: label it in its middle
        elif crowded:
            continue
        labelled = float(budgets[start])
        # Above-left of a rising line reads clearly; near the top, below-right instead.
        high = acc[start] > 0.8
        dy = (16 + 18 * (placed % 2)) * (-1 if high else 1)
        placed += 1
        top.annotate(
            label,
            xy=(budgets[start], acc[start]),
            xytext=(8 if first or high else -8, dy),
            textcoords="offset points",
            ha="left" if first or high else "right",
            va="top" if high else "bottom",
            fontsize=8,
            color=colors[model],
            fontweight="bold",
            arrowprops={"arrowstyle": "-", "color": colors[model], "lw": 0.7},
        )
    top.set_xscale("log")
    _percent_axis(top)
    top.set_ylabel("accuracy")
    top.grid(True, which="major", alpha=0.3)
    picked = set(chosen)
    shown = [m for m in colors if m in picked or m in (per_model or {})]
    handles = [
        Line2D(
            [],
            [],
            color=colors[m],
            lw=3 if m in picked else 1,
            label=m if m in picked else f"{m} (never best)",
        )
        for m in shown
    ]
    if per_model:
        handles.append(Line2D([], [], color="0.4", lw=0.9, label="thin: each model's own best"))
    if oracle is not None:
        handles.append(
            Line2D([], [], color="black", lw=1.3, ls="--", label="per-problem oracle (upper bound)")
        )
    # Where a limit other than the budget stops the plan (docs/planning.md), marked on the line.
    binding = np.ravel(np.asarray(plan.binding)).astype(str)
    for name, (marker, text) in _LIMIT_MARKERS.items():
        hit = feasible & (binding == name)
        if hit.any():
            top.plot(
                budgets[hit], acc[hit], marker, color="black", ms=4, mfc="none", mew=0.8, ls="none"
            )
            handles.append(
                Line2D(
                    [], [], marker=marker, color="black", ms=4, mfc="none", ls="none", label=text
                )
            )
    top.legend(
        handles=handles, fontsize=7, loc="upper left", title="best plan, by model", title_fontsize=7
    )
    samples = np.where(feasible, np.asarray(plan.samples, dtype=np.float64), math.nan)
    gen = np.where(feasible, np.asarray(plan.gen_tokens, dtype=np.float64), math.nan)
    bottom.plot(budgets, samples, color="0.15", lw=1.6, drawstyle="steps-mid")
    _log_y(bottom, base=2)
    bottom.set_ylabel("samples k (solid)", color="0.15")
    right = bottom.twinx()
    right.plot(budgets, gen, color="0.5", lw=1.4, ls="--")
    _log_y(right)
    right.set_ylabel("gen tokens L (dashed)", color="0.4")
    bottom.set_xlabel(f"budget per query ({unit_label})")
    bottom.grid(True, which="major", alpha=0.3)
    _title(fig, title)
    save(fig, path)


def accuracy_per_model(
    path: str,
    budgets: FloatArray,
    per_model: dict[str, FloatArray],
    *,
    best: FloatArray,
    oracle: FloatArray | None,
    lengths: FloatArray,
    curves: dict[str, FloatArray],
    unit_label: str,
    title: str,
) -> None:
    """Each model's best accuracy against the per-query budget (left) and the accuracy source's
    pass@1 against generation length (right)."""
    fig = figure(12, 4.8)
    left, right = fig.subplots(1, 2)
    colors = _colors(list(per_model))
    for name, values in per_model.items():
        left.plot(budgets, _positive(values), color=colors[name], lw=2, label=name)
        right.plot(lengths, curves[name], color=colors[name], lw=2, label=name)
    left.plot(budgets, _positive(best), color="black", lw=1, ls=":", label="best of all models")
    if oracle is not None:
        left.plot(
            budgets,
            _positive(oracle),
            color="black",
            lw=1.3,
            ls="--",
            label="per-problem oracle (upper bound)",
        )
    left.set_xlabel(f"budget per query ({unit_label})")
    left.set_title("each model's best accuracy (its own k, L, attention)", fontsize=9)
    right.set_xlabel("generated tokens per sample L")
    right.set_title("the accuracy source: pass@1 against generation length", fontsize=9)
    for ax in (left, right):
        ax.set_xscale("log")
        _percent_axis(ax)
        ax.set_ylabel("accuracy")
        ax.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=7, loc="upper left")
    _title(fig, title)
    save(fig, path)


def joint(
    path: str,
    goals: FloatArray,
    lines: Sequence[Sequence[Any]],
    labels: Sequence[str],
    *,
    xlabel: str,
    unit: str,
    title: str,
) -> None:
    """Joint plans against the goal, one colour per series: accuracy; parameters N and tokens
    D; samples k and generation length L; the training share of the total cost."""
    fig = figure(11, 7.5)
    (acc_ax, size_ax), (serve_ax, share_ax) = fig.subplots(2, 2, sharex=True)
    gen_ax = serve_ax.twinx()
    log_x = bool(np.all(goals > 0) and goals.max() / goals.min() > 20)
    for k, (plans, label) in enumerate(zip(lines, labels, strict=True)):
        c = f"C{k % 10}"
        tag = f" ({label})" if label else ""
        acc_ax.plot(goals, _field(plans, "accuracy"), color=c, lw=2, label="accuracy" + tag)
        acc_ax.plot(
            goals,
            _field(plans, "mu_inf"),
            color=c,
            lw=1,
            ls=":",
            label="pass@1 at unlimited length" + tag,
        )
        size_ax.plot(goals, _field(plans, "params"), color=c, lw=2, label="params N" + tag)
        size_ax.plot(goals, _field(plans, "tokens"), color=c, lw=2, ls="--", label="tokens D" + tag)
        serve_ax.plot(
            goals,
            _field(plans, "samples"),
            color=c,
            lw=2,
            drawstyle="steps-mid",
            label="samples k" + tag,
        )
        gen_ax.plot(
            goals, _field(plans, "gen_tokens"), color=c, lw=1.4, ls="--", label="gen tokens L" + tag
        )
        share = _field(plans, "training_cost") / _field(plans, "total_cost")
        share_ax.plot(goals, share, color=c, lw=2, label=label or None)
    _percent_axis(acc_ax)
    acc_ax.set_ylabel("accuracy")
    acc_ax.legend(fontsize=7)
    _log_y(size_ax)
    size_ax.set_ylabel("parameters N, training tokens D")
    size_ax.legend(fontsize=7)
    _log_y(serve_ax, base=2)
    serve_ax.set_ylabel("samples k (solid)")
    _log_y(gen_ax)
    gen_ax.set_ylabel("gen tokens L (dashed)")
    _percent_axis(share_ax)
    share_ax.set_ylabel("training share of the total cost")
    if any(labels):
        share_ax.legend(fontsize=7)
    for ax in (acc_ax, size_ax, serve_ax, share_ax):
        if log_x:
            ax.set_xscale("log")
        ax.grid(True, which="major", alpha=0.3)
    for ax in (serve_ax, share_ax):
        ax.set_xlabel(xlabel)
    _title(fig, title)
    save(fig, path)
