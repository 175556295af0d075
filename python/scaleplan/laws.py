"""Quality laws (docs/design.md#loss-laws, #error-laws) as typed, validated dataclasses."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Self, cast

from scaleplan import _core
from scaleplan._arrays import Broadcast
from scaleplan.catalog import Catalog, _entry_json, catalog_or_default
from scaleplan.errors import InvalidArgumentError

DEFAULT_LAW = "gadre2024-redpajama"
"""The loss law every planner uses when none is given (training, lifetime, joint; the façade, the
CLI and gRPC). The one catalog law every planner accepts: the joint planner needs an error law
(loss -> task accuracy) fitted on the law's loss scale, and only this law has one. It is also
fitted on over-trained runs (5 to 640 tokens per parameter), the regime lifetime and joint plans
move into. Its compute-optimal ratio is (B/A)^(1/alpha) = 7.4 tokens per parameter on its loss
scale (C4 eval loss), not Chinchilla's 20: pass ``law="besiroglu2024"`` (or ``hoffmann2022``)
for Chinchilla's loss scale (docs/planning.md, "The default law")."""


@dataclass(frozen=True)
class ErrorLaw:
    """Gadre et al. 2024: error(L) = eps - k * exp(-gamma * L), clipped to [0, 1]."""

    eps: float
    k: float
    gamma: float


@dataclass(frozen=True)
class FittedRange:
    """The range of training runs a law was fitted on, each bound optional (tokens: those the
    law sees, D' under a data limit). A plan outside it carries ``extrapolated``."""

    params_min: float | None = None
    params_max: float | None = None
    tokens_min: float | None = None
    tokens_max: float | None = None
    tokens_per_param_min: float | None = None
    tokens_per_param_max: float | None = None
    loss_min: float | None = None
    loss_max: float | None = None


@dataclass(frozen=True)
class Farseer:
    """Li et al. 2025 (Farseer, arXiv:2506.10972): L(N, D) = exp(a3 N^g + b3) + exp(a2 N^b +
    b2) D^(-exp(a1 N^a + b1)), N non-embedding parameters. No closed-form optimum and no loss
    floor: planned numerically inside the law's domain (docs/planning.md, "Loss-law forms")."""

    a1: float
    a: float
    b1: float
    a2: float
    b: float
    b2: float
    a3: float
    g: float
    b3: float


@dataclass(frozen=True)
class Repetition:
    """Muennighoff et al. 2023 (arXiv:2305.16264): the decay constants a data-constrained law was
    fitted with. Under a data limit (``unique_tokens``) repeated tokens are discounted with
    ``r_star_tokens`` (R*_D, also the default ``r_star``) and parameters beyond the
    compute-optimal size for the unique tokens with ``r_star_params`` (R*_N)."""

    r_star_tokens: float
    r_star_params: float


LOSS_UNITS = {"nats_per_token": "nats per token", "bits_per_char": "bits per character"}
"""The units a law's loss (and so a plan's) can be in, with how a sentence writes each."""


@dataclass(frozen=True)
class LossLaw:
    """A pretraining loss law L(N, D) in one of two forms (docs/planning.md, "Loss-law forms"):
    Chinchilla's E + A / N^alpha + B / D^beta (give E, A, B, alpha, beta), or Farseer's (give
    ``farseer`` and a largest validated model, ``fitted.params_max``); with an optional
    loss-to-error law fitted on the same loss scale."""

    name: str
    E: float | None = None
    A: float | None = None
    B: float | None = None
    alpha: float | None = None
    beta: float | None = None
    error: ErrorLaw | None = None
    description: str = ""
    source: str = ""
    fitted: FittedRange | None = None
    """The range the law was fitted on; plans outside it are flagged ``extrapolated``. For a law
    without a loss floor (Farseer) its ``params_max`` is also the largest size planned."""
    farseer: Farseer | None = None
    """The Farseer form's coefficients; None for the Chinchilla form."""
    units: str = "nats_per_token"
    """The unit of the loss: ``nats_per_token`` or ``bits_per_char``."""
    repetition: Repetition | None = None
    """Data-constrained decay constants (Chinchilla form only); None: repeated tokens are
    discounted with the published R*_D and excess parameters not at all."""
    _native: _core.NativeLaw = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.error, dict):
            object.__setattr__(self, "error", ErrorLaw(**self.error))
        if isinstance(self.fitted, dict):
            object.__setattr__(self, "fitted", FittedRange(**self.fitted))
        if isinstance(self.farseer, dict):
            object.__setattr__(self, "farseer", Farseer(**self.farseer))
        if isinstance(self.repetition, dict):
            object.__setattr__(self, "repetition", Repetition(**self.repetition))
        if self.units not in LOSS_UNITS:
            raise InvalidArgumentError(
                f"units: expected one of {', '.join(LOSS_UNITS)}, got {self.units!r}",
                field="units",
            )
        native = _core.NativeLaw.from_json(_entry_json(self))
        object.__setattr__(self, "_native", native)

    @property
    def form(self) -> str:
        """``"chinchilla"`` or ``"farseer"``."""
        return "chinchilla" if self.farseer is None else "farseer"

    @classmethod
    def _from_native(cls, native: _core.NativeLaw) -> Self:
        return cls(**json.loads(native.to_json()))

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def loss(
        self,
        params: Any,
        tokens: Any,
        *,
        unique_tokens: float | None = None,
        r_star: float | None = None,
    ) -> Any:
        """L(N, D) for scalars or arrays (with D' under a data limit of ``unique_tokens``)."""
        args = Broadcast({"params": params, "tokens": tokens})
        n, d = args.required("params"), args.required("tokens")
        return args.shaped(self._native.loss(n, d, unique_tokens, r_star))

    def error_rate(self, loss: Any) -> Any:
        """Task error at ``loss``; raises if this law has no error law."""
        args = Broadcast({"loss": loss})
        out = self._native.error_rate(args.required("loss"))
        if out is None:
            raise InvalidArgumentError(
                f"law: '{self.name}' has no error law on its loss scale", field="law"
            )
        return args.shaped(out)


def law(name: str, catalog: Catalog | None = None) -> LossLaw:
    """A loss law from the catalog: hoffmann2022, besiroglu2024, sardana2023,
    gadre2024-redpajama, farseer2025, muennighoff2023, or one added from a user file."""
    cat = catalog_or_default(catalog)
    return cast(
        LossLaw, cat._entry("law", name, lambda native: LossLaw._from_native(native.law(name)))
    )


def resolve_law(value: str | LossLaw, catalog: Catalog | None = None) -> LossLaw:
    if isinstance(value, LossLaw):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"law: expected a law name or a scaleplan.LossLaw, got {type(value).__name__}",
            field="law",
        )
    return law(value, catalog)


__all__ = [
    "DEFAULT_LAW",
    "LOSS_UNITS",
    "ErrorLaw",
    "Farseer",
    "FittedRange",
    "LossLaw",
    "Repetition",
    "law",
]
