"""Plans under uncertainty on the command line (docs/uncertainty.md): ``--law-fit FIT.json``
(a fit saved by ``scaleplan fit law RUNS.csv --bootstrap N --save FIT.json``), ``--quantiles``
and ``--reach-loss``; the band of each decision next to it in the table, and the probability
lines after it."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from scaleplan.commands import _parse
from scaleplan.commands._planning import Column, optional_number
from scaleplan.fit import LawFit
from scaleplan.laws import LossLaw
from scaleplan.plan import Plan
from scaleplan.uncertainty import QUANTILES, Uncertainty, probability_lines

OPTIONS = {"law_samples": "--law-fit"}
"""Façade argument -> option, for error messages, where the default ``--field-name`` rule of
``_common.guarded`` does not hold."""


def add_options(p: argparse.ArgumentParser, *, reach: str = "loss") -> None:
    """``--law-fit``, ``--quantiles`` and ``--reach-loss`` (``reach="accuracy"``:
    ``--reach-accuracy``)."""
    p.add_argument(
        "--law-fit",
        metavar="FIT.json",
        help="a saved fit ('scaleplan fit law RUNS.csv --bootstrap N --save FIT.json') "
        "used as the law; with bootstrap samples, each decision gets its band",
    )
    levels = ",".join(f"{q:g}" for q in QUANTILES)
    p.add_argument(
        "--quantiles",
        metavar="Q,...",
        help=f"quantile levels of the bands with --law-fit (default: {levels})",
    )
    p.add_argument(
        f"--reach-{reach}",
        metavar=reach.upper(),
        help=f"with --law-fit and a budget: report the probability of reaching this {reach} "
        f"(a --target-{reach} is its own)",
    )


def add_accuracy_fit_options(p: argparse.ArgumentParser) -> None:
    """``--quantiles`` and ``--reach-accuracy`` of ``plan test-time``, for an ``--accuracy-fit``
    with bootstrap samples (docs/uncertainty.md, "Test-time plans")."""
    levels = ",".join(f"{q:g}" for q in QUANTILES)
    p.add_argument(
        "--quantiles",
        metavar="Q,...",
        help="quantile levels of the bands with an --accuracy-fit that has bootstrap samples "
        f"(default: {levels})",
    )
    p.add_argument(
        "--reach-accuracy",
        metavar="ACCURACY",
        help="with an --accuracy-fit that has bootstrap samples: report the probability of "
        "reaching this accuracy (a fraction, e.g. 0.6)",
    )


def accuracy_fit(args: argparse.Namespace, fit: Any) -> tuple[Any, bool]:
    """The accuracy argument of ``plan test-time`` and whether it carries samples: the
    AccuracyFit itself when it was bootstrapped (the plan gets bands; as the façade and gRPC
    decide, a candidate whose every resample failed is an error naming it), else None (plan the
    accuracy as given). A fit without samples plans its point accuracy, saying so on stderr."""
    if fit is None or fit.bootstrap == 0:
        for option, value in (("--quantiles", args.quantiles), _reach(args)):
            if value is not None:
                raise _parse.UsageError(
                    option, "applies only with an --accuracy-fit that has bootstrap samples"
                )
        if fit is not None:
            print(
                f"scaleplan: note: {args.accuracy_fit} has no bootstrap samples: "
                "planning with its point accuracy, without bands (fit with --bootstrap N)",
                file=sys.stderr,
            )
        return None, False
    return fit, True


def _reach(args: argparse.Namespace) -> tuple[str, Any]:
    """(option, value) of --reach-loss or --reach-accuracy, whichever the command has."""
    if hasattr(args, "reach_accuracy"):
        return "--reach-accuracy", args.reach_accuracy
    return "--reach-loss", args.reach_loss


def law(args: argparse.Namespace, default_law: str) -> tuple[str | LossLaw | LawFit, bool]:
    """The law argument and whether it carries samples (a LawFit to plan under). A fit without
    bootstrap samples plans its point law alone, saying so on stderr."""
    if args.law_fit is None:
        for option, value in (("--quantiles", args.quantiles), _reach(args)):
            if value is not None:
                raise _parse.UsageError(option, "applies only with --law-fit")
        return args.law, False
    if args.law != default_law:
        raise _parse.UsageError("--law-fit", "give --law or --law-fit, not both")
    fit = LawFit.load(args.law_fit)
    point = fit.law  # an unconverged fit is refused here, before anything is printed
    if len(fit.samples) == 0:
        print(
            f"scaleplan: note: {args.law_fit} has no bootstrap samples: planning with its point "
            "law, without bands (fit with --bootstrap N for them)",
            file=sys.stderr,
        )
        return point, False
    return fit, True


def kwargs(args: argparse.Namespace, uncertain: bool) -> dict[str, Any]:
    """``quantiles`` and ``reach_loss`` (or ``reach_accuracy``) for the façade (only under a
    fit with samples)."""
    if not uncertain:
        return {}
    option, value = _reach(args)
    out: dict[str, Any] = {option[2:].replace("-", "_"): optional_number(option, value)}
    if args.quantiles is not None:
        out["quantiles"] = _parse.values("--quantiles", args.quantiles).tolist()
    return out


def _label(q: Sequence[float]) -> str:
    return "/".join(f"P{100 * v:g}" for v in q)


def with_bands(
    columns: list[Column], fields: Mapping[str, Callable[[float], str]], quantiles: Sequence[float]
) -> list[Column]:
    """The table's columns with a band column after each of ``fields`` (its cell a text)."""
    out: list[Column] = []
    for column in columns:
        out.append(column)
        if column[0] in fields:
            out.append((f"{column[0]}:band", f"{column[1]} {_label(quantiles)}", str))
    return out


_P = TypeVar("_P", bound=Plan)


def rows(
    plans: Sequence[_P], fields: Mapping[str, Callable[[float], str]]
) -> tuple[list[_P], list[dict[str, Any]], list[str]]:
    """Plans without their uncertainty (their fields are written flat instead), each row's band
    texts and numbers, and the names of the numbers (for JSON and CSV): ``<field>_p<level>``
    per band field, ``fixed_p<level>``, ``threshold``, ``p_fixed``, ``p_replanned``."""
    bare: list[_P] = []
    extra: list[dict[str, Any]] = []
    names: list[str] = []
    for p in plans:
        u: Uncertainty | None = getattr(p, "uncertainty", None)
        none: dict[str, Any] = {"uncertainty": None}
        bare.append(dataclasses.replace(p, **none) if u is not None else p)
        row: dict[str, Any] = {}
        if u is None:
            extra.append(row)
            continue
        suffixes = [f"p{100 * q:g}".replace(".", "_") for q in u.quantiles]
        for name in [*u.bands, "fixed"]:
            values = u.fixed if name == "fixed" else u.bands[name]
            for suffix, v in zip(suffixes, values, strict=True):  # type: ignore[arg-type]
                row[f"{name}_{suffix}"] = float(v)
            if name in fields and p.feasible:
                render = fields[name]
                row[f"{name}:band"] = "/".join(render(float(v)) for v in values)  # type: ignore[union-attr]
        row.update(
            feasible_share=u.feasible_share,
            threshold=u.threshold,
            p_fixed=u.p_fixed,
            p_replanned=u.p_replanned,
        )
        names = [k for k in row if ":" not in k]
        extra.append(row)
    return bare, extra, names


def note(plans: Sequence[Plan]) -> str | None:
    """The lines after the table: how many samples, and each row's probabilities."""
    lines: list[str] = []
    for i, p in enumerate(plans, start=1):
        u: Uncertainty | None = getattr(p, "uncertainty", None)
        if u is None:
            continue
        if not lines:
            lines.append(
                f"Bands: {_label(u.quantiles)} over the plans re-solved under each of the fit's "
                f"{u.samples} bootstrap samples (docs/uncertainty.md)."
            )
        share = float(u.feasible_share)
        prefix = f"row {i}: " if len(plans) > 1 else ""
        if share < 1.0:
            lines.append(f"{prefix}{share:.1%} of the samples have a plan")
        lines.extend(prefix + line for line in probability_lines(u))
    return "\n".join(lines) or None
