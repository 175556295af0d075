"""``scaleplan fit law RUNS.csv``: fit a loss law to your own runs (docs/fitting.md), print the
fitted values with their intervals, save the fit for ``plan training --law-fit``, plot it."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from typing import Any

import numpy as np

from scaleplan.commands import _common, _plot, fit_accuracy
from scaleplan.commands._output import json_line
from scaleplan.commands._parse import UsageError
from scaleplan.cost import TRAIN_FLOPS_PER_PARAM_TOKEN
from scaleplan.errors import InvalidArgumentError, ScaleplanError
from scaleplan.fit import KEYS, LawFit, fit_law
from scaleplan.laws import LossLaw
from scaleplan.plan import plan_training

COLUMNS = ("params", "tokens", "loss")


def register(sub: _common.Subparsers) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a law to your own runs, or test-time accuracy to your own evals",
        description="Fit a quality law to your own measurements.",
        epilog="examples:\n  scaleplan fit law runs.csv --bootstrap 1000 --plot fit.png"
        "\n  scaleplan fit accuracy evals.csv --save accfit.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    q = _common.add_command(
        kinds,
        "law",
        help="fit L(N, D) = E + A/N^alpha + B/D^beta to runs (CSV: params,tokens,loss)",
        description="Fit the Chinchilla form to runs by Huber loss on log loss with L-BFGS from "
        "a grid of starts (Hoffmann et al. 2022, Besiroglu et al. 2024), with percentile "
        "intervals from --bootstrap refits on resampled runs. RUNS.csv has a header with the "
        "columns params, tokens, loss (others are ignored). --save writes the fit as JSON for "
        "'plan training --law-fit'. See docs/fitting.md.",
        examples=[
            "scaleplan fit law runs.csv",
            "scaleplan fit law runs.csv --bootstrap 1000 --seed 1 --save fit.json",
            "scaleplan fit law runs.csv --bootstrap 1000 --plot fit.png --json",
            "scaleplan fit law runs.csv --form muennighoff --unique-tokens 25e9 --save fit.json",
        ],
    )
    q.add_argument("runs", metavar="RUNS.csv", help="CSV with columns params, tokens, loss")
    q.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap refits")
    q.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed")
    q.add_argument("--delta", type=float, default=1e-3, help="Huber threshold (default 1e-3)")
    q.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    q.add_argument("--unique-tokens", type=float, metavar="TOKENS", help="unique data available")
    q.add_argument(
        "--form",
        choices=("chinchilla", "muennighoff"),
        default="chinchilla",
        help="the law's form (default: %(default)s); muennighoff also fits the decay constants "
        "of repeated tokens and excess parameters (R*_D, R*_N; needs --unique-tokens, no "
        "--bootstrap; docs/fitting.md)",
    )
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.add_argument("--save", metavar="FIT.json", help="write the fit (LawFit.save)")
    q.add_argument(
        "--plot", metavar="FILE", help="runs, iso-loss contours, optimal line, residuals"
    )
    q.set_defaults(func=run_law)
    fit_accuracy.register(kinds)


def read_runs(path: str) -> tuple[list[float], list[float], list[float]]:
    """The params, tokens and loss columns of a CSV; errors name the file, row and column."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError("RUNS.csv", f"{path}: missing column(s) {', '.join(missing)}")
            cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
            # Rows are numbered as for eval files: 1-based, the header not counted.
            for row_no, row in enumerate(reader, start=1):
                for c in COLUMNS:
                    text = (row.get(c) or "").strip()
                    try:
                        cols[c].append(float(text))
                    except ValueError:
                        raise InvalidArgumentError(
                            f"{c}: expected a number, got {text!r}", field=c, row=row_no, file=path
                        ) from None
    except OSError as exc:
        raise UsageError("RUNS.csv", f"cannot read {path}: {exc.strerror}") from exc
    return cols["params"], cols["tokens"], cols["loss"]


@_common.guarded(
    {
        "params": "RUNS.csv",
        "tokens": "RUNS.csv",
        "loss": "RUNS.csv",
        "seed": "--seed",
        "bootstrap": "--bootstrap",
        "delta": "--delta",
        "level": "--level",
        "unique_tokens": "--unique-tokens",
        "form": "--form",
    }
)
def run_law(args: argparse.Namespace) -> int:
    _plot.check_path("--plot", args.plot)
    n, d, y = read_runs(args.runs)
    try:
        fit = fit_law(
            n,
            d,
            y,
            bootstrap=args.bootstrap,
            seed=args.seed,
            delta=args.delta,
            unique_tokens=args.unique_tokens,
            form=args.form,
        )
    except ScaleplanError as exc:
        if exc.index is None or exc.field not in COLUMNS:
            raise
        # A bad run is named by its row in the file (the core names its index).
        raise exc.replace(index=None, row=exc.index + 1, file=args.runs) from exc
    intervals = fit.interval(args.level) if fit.bootstrap > 0 else None
    if args.save:
        fit.save(args.save)
        print(f"wrote {args.save}", file=sys.stderr)
    if args.json:
        out: dict[str, Any] = fit.to_dict()
        out["stderr"] = fit.stderr
        out["level"] = args.level
        out["interval"] = intervals
        print(json_line(out))
    else:
        print(summary(fit, intervals, args.level))
    if args.plot:
        plot_fit(args.plot, fit, np.asarray(n), np.asarray(d), np.asarray(y))
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0 if fit.converged else 1


def summary(fit: LawFit, intervals: dict[str, tuple[float, float]] | None, level: float) -> str:
    state = "converged" if fit.converged else f"NOT CONVERGED: {fit.message}"
    lines = [
        f"Loss law fitted to {fit.n_points} runs: L = E + A/N^alpha + B/D^beta "
        f"(Huber delta {fit.delta:g} on log loss, {fit.bootstrap} bootstrap refits; {state})",
    ]
    se = fit.stderr
    head = f"{'':6} {'estimate':>12} {'stderr':>12}"
    if intervals is not None:
        head += f"  {f'{level:.0%} interval':>27}"
    lines.append(head)
    for k in KEYS:
        row = f"{k:6} {fit.estimate[k]:12.6g} {se[k] if se else math.nan:12.3g}"
        if intervals is not None:
            lo, hi = intervals[k]
            row += f"  [{lo:12.6g}, {hi:12.6g}]"
        lines.append(row)
    repetition = fit.law.repetition if fit.converged else None
    if repetition is not None:
        for label, key in (("R*_D", "r_star_tokens"), ("R*_N", "r_star_params")):
            row = f"{label:6} {getattr(repetition, key):12.6g}"
            if se is not None and key in se:
                row += f" {se[key]:12.3g}"
            if intervals is not None and key in intervals:
                lo, hi = intervals[key]
                row += f"  [{lo:12.6g}, {hi:12.6g}]"
            lines.append(row)
    source = {"bootstrap": "bootstrap samples", "gauss-newton": "Gauss-Newton approximation"}
    lines.append(
        f"objective {fit.objective:.6g}; residuals (log loss) rms "
        f"{float(np.sqrt(np.mean(fit.residuals**2))):.3g}, max "
        f"{float(np.max(np.abs(fit.residuals))):.3g}; stderr from "
        f"{source.get(fit.covariance_source, 'nothing (too few runs)')}"
    )
    return "\n".join(lines)


def plot_fit(path: str, fit: LawFit, n: Any, d: Any, y: Any) -> None:
    """Left: runs over (N, D) colored by loss, the fitted law's iso-loss contours, and the
    compute-optimal line with its band (5-95% over bootstrap samples). Right: residuals."""
    p = fit.estimate
    fig = _plot.figure(11.0, 4.6)
    ax, axr = fig.subplots(1, 2, width_ratios=[1.4, 1.0])
    nn = np.geomspace(n.min() / 3, n.max() * 3, 200)
    dd = np.geomspace(d.min() / 3, d.max() * 3, 200)
    gn, gd = np.meshgrid(nn, dd)
    law = p["E"] + p["A"] * gn ** -p["alpha"] + p["B"] * gd ** -p["beta"]
    cs = ax.contour(gn, gd, law, levels=10, colors="0.6", linewidths=0.8)
    ax.clabel(cs, fontsize=7, fmt="%.2f")
    sc = ax.scatter(n, d, c=y, s=14, cmap="viridis", zorder=3)
    fig.colorbar(sc, ax=ax, label="observed loss")
    # The compute-optimal split comes from the core's training planner (C = 6*N*D,
    # docs/design.md#training-allocation), not a second copy of its closed form.
    per = TRAIN_FLOPS_PER_PARAM_TOKEN
    compute = np.geomspace(per * nn[0] * dd[0], per * nn[-1] * dd[-1], 100)

    def optimal(q: dict[str, Any], name: str) -> tuple[Any, Any] | None:
        """(N*, D*) along ``compute``; None where ``q`` is not a valid law (no line)."""
        try:
            e, a, b, alpha, beta = (float(q[k]) for k in KEYS)
            law = LossLaw(name=name, E=e, A=a, B=b, alpha=alpha, beta=beta)
        except InvalidArgumentError:
            return None
        plan = plan_training(budget_flops=compute, law=law)
        return np.asarray(plan.params), np.asarray(plan.tokens)

    line = optimal(p, "fit")
    if line is not None:
        ax.plot(line[0], line[1], color="C3", label="compute-optimal (fit)")
    rows = [dict(zip(KEYS, row[: len(KEYS)], strict=True)) for row in fit.samples]
    per_sample = [o for i, q in enumerate(rows) if (o := optimal(q, f"bootstrap {i}")) is not None]
    if len(per_sample) >= 2:
        lo, hi = np.quantile(np.array([o[0] for o in per_sample]), [0.05, 0.95], axis=0)
        d_lo, d_hi = np.quantile(np.array([o[1] for o in per_sample]), [0.05, 0.95], axis=0)
        xs = np.concatenate([lo, hi[::-1]])
        ys = np.concatenate([d_hi, d_lo[::-1]])
        ax.fill(xs, ys, color="C3", alpha=0.2, label="5-95% over bootstrap")
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(nn[0], nn[-1]),
        ylim=(dd[0], dd[-1]),
        xlabel="parameters N",
        ylabel="training tokens D",
        title=f"{fit.n_points} runs, fitted iso-loss contours",
    )
    ax.legend(fontsize=7, loc="upper left")
    pred = np.exp(np.log(y) + fit.residuals)
    axr.scatter(pred, fit.residuals, s=12, color="C0")
    axr.axhline(0.0, color="0.4", linewidth=0.8)
    axr.set(
        xscale="log", xlabel="fitted loss", ylabel="ln(fitted) - ln(observed)", title="residuals"
    )
    _plot.save(fig, path)


__all__ = ["register"]
