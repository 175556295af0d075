"""Fitting test-time accuracy to your own eval counts (docs/fitting.md, "Test-time accuracy"):
:func:`fit_accuracy` and :class:`AccuracyFit`.

Per (model, generation length), the per-problem success probability is fitted as Beta(a, b)
by maximum likelihood of the beta-binomial over problems, so pass@k extends past the eval's
samples per problem: pass@k = 1 - B(a, b + k) / B(a, b) (Schaeffer et al. 2025,
arXiv:2502.17578). Intervals are percentile intervals of a bootstrap over problems (seeded).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import cancel as _cancel
from scaleplan._arrays import Broadcast
from scaleplan._io import read_json
from scaleplan._schema import documented
from scaleplan.catalog import Catalog, catalog_or_default
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.testtime import Accuracy, _located, eval_columns

MAX_ROWS: int = _core.FIT_ACCURACY_MAX_ROWS
MAX_BOOTSTRAP: int = _core.FIT_ACCURACY_MAX_BOOTSTRAP
DEFAULT_BOOTSTRAP = 200
"""Bootstrap resamples of the problems per (model, length) unless told."""
FORMAT = "scaleplan.AccuracyFit/1"


def _level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise InvalidArgumentError(f"level: expected a number, got {level!r}", field="level")
    if not 0.0 < level < 1.0:
        raise InvalidArgumentError(f"level: must be in (0, 1), got {level}", field="level")
    return float(level)


def _whole(name: str, value: Any, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name}: expected a whole number, got {value!r}", field=name)
    if int(value) > limit and name == "bootstrap":
        raise LimitExceededError(
            f"{name}: {value} exceeds the limit of {limit}", field=name, limit=limit, got=int(value)
        )
    if not 0 <= int(value) <= limit:
        raise InvalidArgumentError(f"{name}: must be in [0, {limit}], got {value}", field=name)
    return int(value)


@documented
@dataclass(frozen=True, eq=False)
class FittedAccuracy:
    """The beta-binomial fit of one (model, generation length)."""

    model: str
    gen_tokens: float
    problems: int
    eval_samples: int
    pass1: float
    a: float | None
    b: float | None
    log_likelihood: float | None
    converged: bool
    message: str
    samples: npt.NDArray[np.float64]
    bootstrap_failed: int

    def __repr__(self) -> str:
        where = f"{self.model} at {self.gen_tokens:g} tokens"
        if not self.converged:
            return f"FittedAccuracy({where}: NOT converged: {self.message})"
        return (
            f"FittedAccuracy({where}: a={self.a:.4g}, b={self.b:.4g}, {self.problems} problems, "
            f"n={self.eval_samples}, resamples={len(self.samples)})"
        )


@documented
@dataclass(frozen=True)
class PassAtK:
    """pass@k of a fit with its bootstrap interval (arrays for an array of k)."""

    k: Any
    estimate: Any
    lower: Any
    upper: Any
    level: float
    extrapolated: Any


@documented
@dataclass(frozen=True, eq=False)
class AccuracyFit:
    """Beta-binomial fits of eval counts, one per (model, generation length).

    ``accuracy`` is an :class:`Accuracy` every test-time planner takes (its task
    ``fitted:<name>``); it raises :class:`InvalidArgumentError` (field ``accuracy_fit``) when a
    fit did not converge, naming it, so a degenerate group never passes as a confident curve.
    ``pass_at_k(model, gen_tokens, k)`` gives pass@k with its bootstrap interval; k beyond the
    eval's samples per problem (``eval_samples``) is flagged ``extrapolated``.
    """

    fits: tuple[FittedAccuracy, ...]
    name: str
    rows: int
    bootstrap: int
    seed: int

    @property
    def converged(self) -> bool:
        """Whether every (model, length) has a converged fit."""
        return all(f.converged for f in self.fits)

    def models(self) -> list[str]:
        return sorted({f.model for f in self.fits})

    def fit(self, model: str, gen_tokens: float) -> FittedAccuracy:
        """The fit of ``model`` at ``gen_tokens`` (a length of the eval)."""
        if isinstance(gen_tokens, bool) or not isinstance(gen_tokens, (int, float, np.number)):
            raise InvalidArgumentError(
                f"gen_tokens: expected a number, got {gen_tokens!r}", field="gen_tokens"
            )
        for f in self.fits:
            if f.model == model and f.gen_tokens == gen_tokens:
                return f
        known = ", ".join(f"{f.model}@{f.gen_tokens:g}" for f in self.fits)
        raise InvalidArgumentError(
            f"gen_tokens: no fit of {model!r} at {gen_tokens:g} tokens (fitted: {known})",
            field="gen_tokens",
        )

    def interval(
        self, level: float = 0.95
    ) -> dict[tuple[str, float], dict[str, tuple[float, float]]]:
        """Percentile bootstrap intervals of a and b at ``level``, keyed (model, gen_tokens);
        fits without a converged estimate or resamples are left out."""
        lv = _level(level)
        if self.bootstrap == 0:
            raise InvalidArgumentError(
                "bootstrap: intervals are percentile intervals of bootstrap resamples; fit "
                "with bootstrap > 0",
                field="bootstrap",
            )
        out = {}
        for f in self.fits:
            if f.converged and len(f.samples):
                q = np.quantile(f.samples, [(1.0 - lv) / 2.0, (1.0 + lv) / 2.0], axis=0)
                out[(f.model, f.gen_tokens)] = {
                    "a": (float(q[0, 0]), float(q[1, 0])),
                    "b": (float(q[0, 1]), float(q[1, 1])),
                }
        return out

    def pass_at_k(self, model: str, gen_tokens: float, k: Any, level: float = 0.95) -> PassAtK:
        """pass@k = 1 - B(a, b + k) / B(a, b) of the fit at (``model``, ``gen_tokens``), with
        its percentile bootstrap interval at ``level`` (NaN ends without resamples); ``k``
        may be an array."""
        lv = _level(level)
        f = self._usable(self.fit(model, gen_tokens))
        args = Broadcast({"k": k})
        ks = args.required("k")
        assert f.a is not None and f.b is not None
        est = _core.beta_binomial_pass_at_k(
            np.full(ks.shape, f.a), np.full(ks.shape, f.b), np.ascontiguousarray(ks)
        )
        if len(f.samples):
            m = len(f.samples)
            grid = _core.beta_binomial_pass_at_k(
                np.repeat(f.samples[:, 0], len(ks)),
                np.repeat(f.samples[:, 1], len(ks)),
                np.tile(ks, m),
            ).reshape(m, len(ks))
            lo, hi = np.quantile(grid, [(1.0 - lv) / 2.0, (1.0 + lv) / 2.0], axis=0)
        else:
            lo = hi = np.full(ks.shape, np.nan)
        ext = ks > f.eval_samples
        return PassAtK(
            k=args.shaped(ks),
            estimate=args.shaped(est),
            lower=args.shaped(lo),
            upper=args.shaped(hi),
            level=lv,
            extrapolated=bool(ext[0]) if args.scalar else ext.reshape(args.shape),
        )

    def _usable(self, f: FittedAccuracy) -> FittedAccuracy:
        if not f.converged:
            raise InvalidArgumentError(
                f"accuracy_fit: {f.model} at {f.gen_tokens:g} tokens has no fit ({f.message})",
                field="accuracy_fit",
            )
        return f

    def as_accuracy(self, catalog: Catalog | None = None) -> Accuracy:
        """The fits as an :class:`Accuracy` for the test-time planners; raises when any fit
        did not converge (drop those rows, or their model, and fit again)."""
        bad = [f for f in self.fits if not f.converged]
        if bad:
            listed = "; ".join(f"{f.model} at {f.gen_tokens:g} tokens: {f.message}" for f in bad)
            raise InvalidArgumentError(
                f"accuracy_fit: {len(bad)} of {len(self.fits)} fits did not converge, refusing "
                f"to plan with them ({listed})",
                field="accuracy_fit",
            )
        native = _core.AccuracySource.fitted(
            [f.model for f in self.fits],
            [f.gen_tokens for f in self.fits],
            [float(f.a) for f in self.fits],  # type: ignore[arg-type]
            [float(f.b) for f in self.fits],  # type: ignore[arg-type]
            [f.eval_samples for f in self.fits],
        )
        problems = max(f.problems for f in self.fits)
        return Accuracy(
            native,
            f"fitted ({self.name}, {problems} problems)",
            catalog_or_default(catalog),
            f"fitted:{self.name}",
            fit=self,
        )

    @property
    def accuracy(self) -> Accuracy:
        return self.as_accuracy()

    def __repr__(self) -> str:
        ok = sum(f.converged for f in self.fits)
        return (
            f"AccuracyFit({self.name!r}: {len(self.fits)} (model, length) fits, {ok} converged, "
            f"{self.rows} rows, bootstrap={self.bootstrap}, seed={self.seed})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "rows": self.rows,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "fits": [
                {
                    "model": f.model,
                    "gen_tokens": f.gen_tokens,
                    "problems": f.problems,
                    "eval_samples": f.eval_samples,
                    "pass1": f.pass1,
                    "a": f.a,
                    "b": f.b,
                    "log_likelihood": f.log_likelihood,
                    "converged": f.converged,
                    "message": f.message,
                    "samples": f.samples.tolist(),
                    "bootstrap_failed": f.bootstrap_failed,
                }
                for f in self.fits
            ],
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fit as JSON (:meth:`load` reads it back)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "accuracy_fit") -> AccuracyFit:
        def bad(reason: str) -> InvalidArgumentError:
            return InvalidArgumentError(f"accuracy_fit: {source}: {reason}", field="accuracy_fit")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad(f"not a saved AccuracyFit (expected format '{FORMAT}')")
        try:
            fits = tuple(_group(g) for g in data["fits"])
            out = cls(
                fits=fits,
                name=str(data["name"]),
                rows=int(data["rows"]),
                bootstrap=int(data["bootstrap"]),
                seed=int(data["seed"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"malformed ({exc})") from exc
        for f in fits:
            numbers = [f.gen_tokens, f.pass1, *f.samples.ravel()]
            if f.converged:
                if f.a is None or f.b is None or not (f.a > 0 and f.b > 0):
                    raise bad(f"{f.model} at {f.gen_tokens:g}: a and b must be > 0")
                numbers += [f.a, f.b]
            if not all(math.isfinite(v) for v in numbers):
                raise bad("holds a non-finite number")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AccuracyFit:
        """Read a fit written by :meth:`save`; errors name ``accuracy_fit``."""
        return cls.from_dict(read_json(path, "accuracy_fit"), source=str(path))


def _group(raw: dict[str, Any]) -> FittedAccuracy:
    a, b, ll = raw["a"], raw["b"], raw["log_likelihood"]
    return FittedAccuracy(
        model=str(raw["model"]),
        gen_tokens=float(raw["gen_tokens"]),
        problems=int(raw["problems"]),
        eval_samples=int(raw["eval_samples"]),
        pass1=float(raw["pass1"]),
        a=None if a is None else float(a),
        b=None if b is None else float(b),
        log_likelihood=None if ll is None else float(ll),
        converged=bool(raw["converged"]),
        message=str(raw["message"]),
        samples=np.asarray(raw["samples"], dtype=np.float64).reshape(-1, 2),
        bootstrap_failed=int(raw["bootstrap_failed"]),
    )


def fit_accuracy(
    rows: str | os.PathLike[str] | Sequence[Any],
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    name: str | None = None,
    cancel: _cancel.CancelToken | None = None,
) -> AccuracyFit:
    """Fit a beta-binomial per (model, generation length) to per-problem eval counts: a CSV
    or JSON (list of objects / JSON lines) file, or rows, each with ``model``,
    ``gen_tokens``, ``problem``, ``n`` (samples) and ``c`` (correct) (at most
    ``MAX_ROWS`` rows). ``bootstrap`` resamples of the problems per fit (0 to 10,000; 200 by
    default) give the intervals, deterministic per ``seed``. ``name`` says what the eval is
    (the file's name by default). See docs/fitting.md."""
    boots = _whole("bootstrap", bootstrap, MAX_BOOTSTRAP)
    seed_ = _whole("seed", seed, 2**64 - 1)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(f"name: expected a string, got {name!r}", field="name")
    if not isinstance(rows, str | os.PathLike | Sequence):
        raise InvalidArgumentError(
            f"rows: expected a file path or a list of rows, got {type(rows).__name__}",
            field="rows",
        )
    if not isinstance(rows, str | os.PathLike) and len(rows) > MAX_ROWS:
        raise LimitExceededError(
            f"rows: {len(rows)} exceeds the limit of {MAX_ROWS}",
            field="rows",
            limit=MAX_ROWS,
            got=len(rows),
        )
    columns, path = eval_columns(rows)
    with _located(path):
        raw = _core.fit_accuracy(
            *columns, bootstrap=boots, seed=seed_, cancel=_cancel.resolve(cancel)
        )
    if name is None:
        name = Path(path).name if path is not None else "rows"
    return AccuracyFit(
        fits=tuple(_group(g) for g in raw),
        name=name,
        rows=len(columns[0]),
        bootstrap=boots,
        seed=seed_,
    )


__all__ = ["AccuracyFit", "FittedAccuracy", "PassAtK", "fit_accuracy"]
