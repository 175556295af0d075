"""Fitting a loss law to your own runs (docs/fitting.md): :func:`fit_law` and :class:`LawFit`."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan import cancel as _cancel
from scaleplan._arrays import as_float_array
from scaleplan._io import read_json
from scaleplan._schema import documented
from scaleplan.errors import InvalidArgumentError, LimitExceededError
from scaleplan.laws import ErrorLaw, LossLaw

KEYS = ("E", "A", "B", "alpha", "beta")
"""Parameter order of every vector of a fit: samples' columns, covariance rows."""
REPETITION_KEYS = ("r_star_tokens", "r_star_params")
"""Form ``muennighoff``: the decay constants R*_D and R*_N (``law.repetition``), after
:data:`KEYS` in its samples' columns, covariance rows, ``stderr`` and ``interval``."""
FORMS = ("chinchilla",)
MAX_BOOTSTRAP = _core.FIT_MAX_BOOTSTRAP
MAX_RUNS = _core.FIT_MAX_RUNS
_FORMAT = "scaleplan.LawFit/1"


def _runs(name: str, value: Any) -> npt.NDArray[np.float64]:
    array = as_float_array(name, value)
    if array.ndim != 1:
        raise InvalidArgumentError(
            f"{name}: expected a 1-d sequence of runs, got shape {array.shape}", field=name
        )
    return np.ascontiguousarray(array)


def _count(name: str, value: Any, limit: int) -> int:
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
class LawFit:
    """A loss law fitted to runs, with its uncertainty. Vectors are keyed or ordered
    ``E, A, B, alpha, beta``.

    ``law`` is the fitted :class:`LossLaw` (named ``fitted(n=...)``) for every planner; it raises
    :class:`InvalidArgumentError` (field ``law_fit``) when the fit did not converge, so an
    unconverged fit never passes as a confident law. ``as_law(allow_unconverged=True)`` hands it
    over anyway, with a warning.
    """

    estimate: dict[str, float]
    covariance: npt.NDArray[np.float64] | None
    covariance_source: str
    samples: npt.NDArray[np.float64]
    residuals: npt.NDArray[np.float64]
    n_points: int
    objective: float
    converged: bool
    message: str = ""
    delta: float = 1e-3
    bootstrap: int = 0
    seed: int = 0
    form: str = "chinchilla"
    unique_tokens: float | None = None
    bootstrap_unconverged: int = 0
    _law: LossLaw | None = field(default=None, repr=False)

    @property
    def law(self) -> LossLaw:
        return self.as_law()

    def as_law(self, *, allow_unconverged: bool = False) -> LossLaw:
        """The fitted law; an unconverged fit raises unless ``allow_unconverged``."""
        if self._law is not None and self.converged:
            return self._law
        if not allow_unconverged:
            raise InvalidArgumentError(
                f"law_fit: the fit did not converge ({self.message}); refusing to use it as a "
                "law (as_law(allow_unconverged=True) to override)",
                field="law_fit",
            )
        warnings.warn(f"using an unconverged law fit: {self.message}", RuntimeWarning, stacklevel=2)
        return LossLaw(
            name=f"unconverged(n={self.n_points})",
            description=f"NOT CONVERGED: {self.message}",
            source="scaleplan fit_law (docs/fitting.md)",
            **self._numbers(self.estimate),
        )

    @staticmethod
    def _numbers(p: dict[str, float]) -> dict[str, Any]:
        return {k: p[k] for k in KEYS}

    @property
    def keys(self) -> tuple[str, ...]:
        """The parameters of the samples' columns and the covariance's rows, in order:
        :data:`KEYS`, and for form ``muennighoff`` then :data:`REPETITION_KEYS`."""
        return KEYS + REPETITION_KEYS if self.form == "muennighoff" else KEYS

    @property
    def stderr(self) -> dict[str, float] | None:
        """Square roots of the covariance's diagonal by :attr:`keys` (None when there is no
        covariance)."""
        if self.covariance is None:
            return None
        return {
            k: math.sqrt(max(float(self.covariance[i, i]), 0.0)) for i, k in enumerate(self.keys)
        }

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile bootstrap intervals at ``level`` (needs bootstrap > 0)."""
        if isinstance(level, bool) or not isinstance(level, (int, float)):
            raise InvalidArgumentError(f"level: expected a number, got {level!r}", field="level")
        if not 0.0 < level < 1.0:
            raise InvalidArgumentError(f"level: must be in (0, 1), got {level}", field="level")
        if len(self.samples) == 0:
            raise InvalidArgumentError(
                "bootstrap: intervals are percentile intervals of bootstrap samples; "
                "fit with bootstrap > 0",
                field="bootstrap",
            )
        q = np.quantile(self.samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
        return {k: (float(q[0, i]), float(q[1, i])) for i, k in enumerate(self.keys)}

    def __repr__(self) -> str:
        se = self.stderr
        parts = [
            f"{k}={self.estimate[k]:.6g}" + (f"±{se[k]:.2g}" if se is not None else "")
            for k in KEYS
        ]
        state = "converged" if self.converged else f"NOT converged: {self.message}"
        return (
            f"LawFit(n={self.n_points}, {', '.join(parts)}, bootstrap={self.bootstrap}, "
            f"objective={self.objective:.6g}, {state})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "form": self.form,
            "law": None
            if self._law is None
            else {
                "name": self._law.name,
                "description": self._law.description,
                "source": self._law.source,
                "fitted": None
                if self._law.fitted is None
                else dataclasses.asdict(self._law.fitted),
                "repetition": None
                if self._law.repetition is None
                else dataclasses.asdict(self._law.repetition),
            },
            "estimate": self.estimate,
            "covariance": None if self.covariance is None else self.covariance.tolist(),
            "covariance_source": self.covariance_source,
            "samples": self.samples.tolist(),
            "residuals": self.residuals.tolist(),
            "n_points": self.n_points,
            "objective": self.objective,
            "converged": self.converged,
            "message": self.message,
            "delta": self.delta,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "unique_tokens": self.unique_tokens,
            "bootstrap_unconverged": self.bootstrap_unconverged,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fit as JSON (``LawFit.load`` reads it back)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "law_fit") -> LawFit:
        def bad(reason: str) -> InvalidArgumentError:
            return InvalidArgumentError(f"law_fit: {source}: {reason}", field="law_fit")

        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise bad(f"not a saved LawFit (expected format '{_FORMAT}')")
        try:
            estimate = {k: float(data["estimate"][k]) for k in KEYS}
            cov = data["covariance"]
            covariance = None if cov is None else np.asarray(cov, dtype=np.float64)
            form = str(data.get("form", "chinchilla"))
            width = len(KEYS) + (len(REPETITION_KEYS) if form == "muennighoff" else 0)
            samples = np.asarray(data["samples"], dtype=np.float64).reshape(-1, width)
            residuals = np.asarray(data["residuals"], dtype=np.float64).reshape(-1)
            n_points, converged = int(data["n_points"]), bool(data["converged"])
            objective = float(data["objective"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"malformed ({exc})") from exc
        if covariance is not None and covariance.shape != (width, width):
            raise bad(f"covariance must be {width} x {width}")
        values = [*estimate.values(), objective, *samples.ravel(), *residuals]
        if not all(math.isfinite(v) for v in values):
            raise bad("holds a non-finite number")
        law = None
        if converged:
            names = data.get("law") or {}
            if not isinstance(names, dict):
                raise bad("law must be an object")
            law = LossLaw(
                name=str(names.get("name", f"fitted(n={n_points})")),
                description=str(names.get("description", f"fitted to {n_points} runs")),
                source=str(names.get("source", "scaleplan fit_law (docs/fitting.md)")),
                fitted=names.get("fitted"),
                repetition=names.get("repetition"),
                **cls._numbers(estimate),
            )
        return cls(
            estimate=estimate,
            covariance=covariance,
            covariance_source=str(data.get("covariance_source", "")),
            samples=samples,
            residuals=residuals,
            n_points=n_points,
            objective=objective,
            converged=converged,
            message=str(data.get("message", "")),
            delta=float(data.get("delta", 1e-3)),
            bootstrap=int(data.get("bootstrap", len(samples))),
            seed=int(data.get("seed", 0)),
            form=form,
            unique_tokens=data.get("unique_tokens"),
            bootstrap_unconverged=int(data.get("bootstrap_unconverged", 0)),
            _law=law,
        )

    def with_error(self, error: ErrorLaw) -> LawFit:
        """The same fit whose law carries ``error`` (a loss-to-error law), as the joint planner
        needs (docs/uncertainty.md). The error law must be on this fit's loss scale: that is
        the caller's judgement, not something the fit can check."""
        return dataclasses.replace(self, _law=self.law.replace(error=error))

    @classmethod
    def from_samples(cls, law: LossLaw, samples: Any) -> LawFit:
        """A fit known only by its point law and bootstrap samples (rows E, A, B, alpha, beta),
        as a gRPC planner request carries it (docs/uncertainty.md): enough to plan under
        uncertainty; no residuals, covariance or objective."""
        try:
            rows = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                "law_samples: expected rows of 5 numbers (E, A, B, alpha, beta)",
                field="law_samples",
            ) from None
        if rows.size % 5:
            raise InvalidArgumentError(
                f"law_samples: expected 5 numbers per sample (E, A, B, alpha, beta), got "
                f"{rows.size} numbers",
                field="law_samples",
            )
        rows = np.ascontiguousarray(rows.reshape(-1, 5))
        return cls(
            estimate={k: float(getattr(law, k)) for k in KEYS},
            covariance=None,
            covariance_source="unavailable",
            samples=rows,
            residuals=np.zeros(0),
            n_points=0,
            objective=math.nan,
            converged=True,
            bootstrap=len(rows),
            _law=law,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LawFit:
        """Read a fit written by :meth:`save`; errors name ``law_fit``."""
        return cls.from_dict(read_json(path, "law_fit"), source=str(path))


def fit_law(
    params: Any,
    tokens: Any,
    loss: Any,
    *,
    form: str = "chinchilla",
    delta: float = 1e-3,
    bootstrap: int = 0,
    seed: int = 0,
    unique_tokens: float | None = None,
    cancel: _cancel.CancelToken | None = None,
) -> LawFit:
    """Fit L(N, D) = E + A / N^alpha + B / D^beta to runs (parameters, training tokens, final
    loss) by the method of Hoffmann et al. 2022 / Besiroglu et al. 2024: Huber loss (``delta``)
    on log loss, L-BFGS from a grid of starts, ``bootstrap`` refits on resampled runs
    (deterministic per ``seed``). With ``unique_tokens``, each run's tokens count as the
    effective tokens D' of repeated data (Muennighoff et al. 2023). ``form="muennighoff"`` (with
    ``unique_tokens``) also fits that paper's decay constants R*_D and R*_N of repeated tokens and
    excess parameters (``law.repetition``); its ``bootstrap`` refits all seven parameters on
    resampled runs from the point fit, and its samples have seven columns (:attr:`LawFit.keys`:
    E, A, B, alpha, beta, r_star_tokens, r_star_params). ``cancel``: a
    :class:`scaleplan.CancelToken`, as for the planners. See docs/fitting.md."""
    if not isinstance(form, str):
        raise InvalidArgumentError(f"form: expected a string, got {form!r}", field="form")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise InvalidArgumentError(f"delta: expected a number, got {delta!r}", field="delta")
    n, d, y = _runs("params", params), _runs("tokens", tokens), _runs("loss", loss)
    boots = _count("bootstrap", bootstrap, MAX_BOOTSTRAP)
    seed_ = _count("seed", seed, 2**64 - 1)
    if unique_tokens is not None and (
        isinstance(unique_tokens, bool) or not isinstance(unique_tokens, (int, float))
    ):
        raise InvalidArgumentError(
            f"unique_tokens: expected a number, got {unique_tokens!r}", field="unique_tokens"
        )
    raw = _core.fit_law(
        n,
        d,
        y,
        form=form,
        delta=float(delta),
        bootstrap=boots,
        seed=seed_,
        unique_tokens=None if unique_tokens is None else float(unique_tokens),
        cancel=_cancel.resolve(cancel),
    )
    return _from_raw(
        raw, form=form, delta=float(delta), bootstrap=boots, seed=seed_, unique_tokens=unique_tokens
    )


def _from_raw(raw: dict[str, Any], **settings: Any) -> LawFit:
    native = raw["law"]
    law = None if native is None else LossLaw._from_native(native)
    return LawFit(
        estimate=dict(zip(KEYS, (float(v) for v in raw["params"]), strict=True)),
        covariance=raw["covariance"],
        covariance_source=raw["covariance_source"],
        samples=raw["samples"],
        residuals=raw["residuals"],
        n_points=int(raw["n_points"]),
        objective=float(raw["objective"]),
        converged=bool(raw["converged"]),
        message=str(raw["message"]),
        bootstrap_unconverged=int(raw["bootstrap_unconverged"]),
        _law=law,
        **settings,
    )


__all__ = ["KEYS", "LawFit", "fit_law"]
