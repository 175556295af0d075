"""``scaleplan fit accuracy EVALS.csv``: fit a beta-binomial per (model, generation length) to
per-problem eval counts (docs/fitting.md, "Test-time accuracy"), print the fits with their
intervals and pass@k beyond the eval, save the fit for ``plan test-time --accuracy-fit``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scaleplan import _format as fmt
from scaleplan.accuracy_fit import DEFAULT_BOOTSTRAP, AccuracyFit, fit_accuracy
from scaleplan.commands import _common, _parse
from scaleplan.commands._output import json_line

DEFAULT_K_FACTORS = (1, 8)
"""pass@k is reported at these multiples of each fit's eval n unless --k says otherwise."""


def register(kinds: Any) -> None:
    """``fit accuracy``, a kind of ``scaleplan fit``."""
    q = _common.add_command(
        kinds,
        "accuracy",
        help="fit test-time accuracy to per-problem eval counts (model,gen_tokens,problem,n,c)",
        description="Fit a beta-binomial per (model, generation length) to per-problem eval "
        "counts by maximum likelihood over problems, so pass@k = 1 - B(a, b+k)/B(a, b) extends "
        "past the eval's samples per problem n (Schaeffer et al. 2025). Intervals are "
        "percentile intervals of a bootstrap over problems (--bootstrap resamples, --seed). "
        "EVALS is a CSV with a header or JSON (list of objects / JSON lines) with the columns "
        "model, gen_tokens, problem, n, c. pass@k beyond n is marked extrapolated. A (model, "
        "length) with no finite fit (all wrong, all correct, all-or-nothing, one problem, n = 1, "
        "problems alike) is reported with the reason and the exit status is 1. --save writes "
        "the fit as JSON for 'plan test-time --accuracy-fit'. See docs/fitting.md.",
        examples=[
            "scaleplan fit accuracy examples/data/synthetic_eval.csv",
            "scaleplan fit accuracy evals.csv --k 1,16,256 --level 0.9 --save accfit.json",
            "scaleplan fit accuracy evals.jsonl --bootstrap 1000 --seed 1 --json",
        ],
    )
    q.add_argument("evals", metavar="EVALS", help="eval counts: CSV, JSON or JSON lines")
    q.add_argument(
        "--bootstrap",
        default=str(DEFAULT_BOOTSTRAP),
        metavar="N",
        help="bootstrap resamples of the problems per fit, 0 to 10000 (default: %(default)s)",
    )
    q.add_argument("--seed", default="0", metavar="S", help="bootstrap seed (default: %(default)s)")
    q.add_argument("--level", default="0.95", help="level of the intervals (default: %(default)s)")
    q.add_argument(
        "--k",
        metavar="K[,K]",
        help="samples to report pass@k at (default: each fit's eval n and 8 n)",
    )
    q.add_argument(
        "--name",
        help="what the eval is; plans name their task fitted:NAME (default: the file's name)",
    )
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.add_argument("--save", metavar="FIT.json", help="write the fit (AccuracyFit.save)")
    q.set_defaults(func=run)


@_common.guarded(
    {"rows": "EVALS", "bootstrap": "--bootstrap", "seed": "--seed", "level": "--level", "k": "--k"}
)
def run(args: argparse.Namespace) -> int:
    boots = _parse.whole("--bootstrap", args.bootstrap)
    seed = _parse.whole("--seed", args.seed)
    level = _parse.number("--level", args.level)
    ks = None if args.k is None else [int(k) for k in _parse.values("--k", args.k, integer=True)]
    fit = fit_accuracy(args.evals, bootstrap=boots, seed=seed, name=args.name)
    intervals = fit.interval(level) if fit.bootstrap > 0 else {}
    rows = [_row(fit, f, ks, level, intervals) for f in fit.fits]
    if args.save:
        fit.save(args.save)
        print(f"wrote {args.save}", file=sys.stderr)
    if args.json:
        out = fit.to_dict()
        out["level"] = level
        out["summary"] = rows
        print(json_line(out))
    else:
        print(summary(fit, rows, level))
    return 0 if fit.converged else 1


def _row(
    fit: AccuracyFit,
    f: Any,
    ks: list[int] | None,
    level: float,
    intervals: dict[tuple[str, float], dict[str, tuple[float, float]]],
) -> dict[str, Any]:
    """One fit's numbers: the estimate, its interval (from ``intervals``, the fit's intervals
    computed once for all rows), pass@k at the requested k."""
    row: dict[str, Any] = {
        "model": f.model,
        "gen_tokens": f.gen_tokens,
        "problems": f.problems,
        "eval_samples": f.eval_samples,
        "pass1": f.pass1,
        "converged": f.converged,
        "message": f.message,
    }
    if not f.converged:
        return row
    row.update(a=f.a, b=f.b)
    iv = intervals.get((f.model, f.gen_tokens))
    if iv is not None:
        row.update(a_interval=iv["a"], b_interval=iv["b"])
    want = ks if ks is not None else [m * f.eval_samples for m in DEFAULT_K_FACTORS]
    curve = fit.pass_at_k(f.model, f.gen_tokens, want, level)
    row["pass_at_k"] = [
        {
            "k": int(k),
            "estimate": float(e),
            "lower": float(lo),
            "upper": float(hi),
            "extrapolated": bool(x),
        }
        for k, e, lo, hi, x in zip(
            curve.k, curve.estimate, curve.lower, curve.upper, curve.extrapolated, strict=True
        )
    ]
    return row


def _interval(pair: tuple[float, float] | None) -> str:
    return "" if pair is None else f" [{pair[0]:.3g}, {pair[1]:.3g}]"


def summary(fit: AccuracyFit, rows: list[dict[str, Any]], level: float) -> str:
    ok = sum(f.converged for f in fit.fits)
    lines = [
        f"Test-time accuracy fitted to {fit.rows} eval rows ({fit.name}): per-problem success "
        f"~ Beta(a, b) per (model, length) by beta-binomial maximum likelihood; "
        f"{ok} of {len(fit.fits)} fits converged; intervals: {level:.0%} percentile bootstrap "
        f"over problems ({fit.bootstrap} resamples, seed {fit.seed}).",
        "pass@k = 1 - B(a, b+k)/B(a, b); k beyond the eval's n is extrapolated (marked *).",
    ]
    for r in rows:
        head = (
            f"{r['model']} at {fmt.count(r['gen_tokens'])} tokens: {r['problems']} problems, "
            f"n = {r['eval_samples']}, measured pass@1 {r['pass1']:.1%}"
        )
        if not r["converged"]:
            lines.append(f"{head}; NO FIT: {r['message']}")
            continue
        lines.append(
            f"{head}; a = {r['a']:.4g}{_interval(r.get('a_interval'))}, "
            f"b = {r['b']:.4g}{_interval(r.get('b_interval'))}"
        )
        for p in r["pass_at_k"]:
            band = "" if p["lower"] != p["lower"] else f" [{p['lower']:.1%}, {p['upper']:.1%}]"
            mark = " *" if p["extrapolated"] else ""
            lines.append(f"    pass@{p['k']}: {p['estimate']:.1%}{band}{mark}")
    return "\n".join(lines)
