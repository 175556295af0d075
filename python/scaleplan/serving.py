"""How inference is served, stated once: :class:`Serving` (batch, prefill, time model, dtypes,
GPUs per replica) and the one attention spelling (``"dense"``, ``"topk:1024"``,
``"block_topk:1024:16"``). Every façade function that prices inference, the gRPC client and the
CLI take these values; docs/planning.md ("Serving options") explains the defaults."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from scaleplan import _core
from scaleplan.errors import InvalidArgumentError

AttentionKind = Literal["dense", "topk", "block_topk"]
TimeModel = Literal["additive", "roofline"]
Dtype = Literal["bf16", "fp16", "fp8"]
Prefill = bool | Literal["per_query", "batch"]
BatchMode = Literal["unset", "max"]

ATTENTION_KINDS: tuple[str, ...] = ("dense", "topk", "block_topk")
TIME_MODELS: tuple[str, ...] = ("additive", "roofline")
DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp8")
PREFILL_MODES: tuple[str, ...] = ("per_query", "batch")

DEFAULT_BATCH: BatchMode = "max"
"""The one default batch mode of every planner and of ``inference_cost`` (docs/planning.md,
"Serving options"): a server under load decodes the largest batch whose KV cache fits beside the
weights; "unset" (weight reads fully amortised) assumes a batch no HBM holds."""

ATTENTION_FORMS = (
    "'dense', 'topk:S' or 'block_topk:S:BLOCK' (S: KV tokens attended, BLOCK: tokens per "
    "block), or the tuples ('topk', S) and ('block_topk', S, BLOCK)"
)


class Attention(NamedTuple):
    """One attention, parsed from its spelling by :func:`attention`; ``str()`` gives the
    spelling back (``"topk:1024"``)."""

    kind: str
    kv_budget: float | None = None
    """KV tokens attended per decode step (top-k and block top-k)."""
    block_size: float | None = None
    """Tokens per block (block top-k)."""

    def __str__(self) -> str:
        return ":".join([self.kind, *(f"{v:g}" for v in (self.kv_budget, self.block_size) if v)])


AttentionSpec = str | Attention | tuple[str, float] | tuple[str, float, float]
"""An attention as the façade takes it: a spelling or a tuple (see ``ATTENTION_FORMS``)."""

_ARITY = {"dense": 1, "topk": 2, "block_topk": 3}


def _bad_attention(
    value: object, field_name: str, why: str = "", index: int | None = None
) -> InvalidArgumentError:
    # The element of a list is data (``index``), shown by the error's location (docs/limits.md,
    # "Errors"), not spelled into the message.
    reason = f" ({why})" if why else ""
    return InvalidArgumentError(
        f"{field_name}: expected {ATTENTION_FORMS}, got {value!r}{reason}",
        field=field_name,
        index=index,
    )


def _tokens(value: object, original: object, field_name: str, index: int | None) -> float:
    number = math.nan
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    elif not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    else:
        raise _bad_attention(original, field_name, f"{value!r} is not a number", index)
    if not (math.isfinite(number) and number > 0):
        why = f"{value!r} is not a positive, finite number of tokens"
        raise _bad_attention(original, field_name, why, index)
    return number


def attention(value: object, field_name: str = "attention", index: int | None = None) -> Attention:
    """The one attention parser: ``"dense"``, ``"topk:1024"``, ``"block_topk:1024:16"`` or the
    tuples ``("topk", 1024)``, ``("block_topk", 1024, 16)``. A bad spelling's error names
    ``field_name`` (and ``index``, an element of a list of them) and shows the accepted
    forms."""
    if isinstance(value, Attention):
        return value
    if isinstance(value, str | np.str_):
        parts: list[Any] = [p.strip() for p in str(value).strip().split(":")]
    elif isinstance(value, tuple) and value and isinstance(value[0], str):
        parts = list(value)
    else:
        raise _bad_attention(value, field_name, index=index)
    kind = parts[0]
    if kind not in _ARITY:
        raise _bad_attention(value, field_name, f"unknown attention {kind!r}", index)
    if len(parts) != _ARITY[kind]:
        why = f"{kind} takes {_ARITY[kind] - 1} number(s)"
        raise _bad_attention(value, field_name, why, index)
    numbers = [_tokens(p, value, field_name, index) for p in parts[1:]]
    if len(numbers) == 2 and numbers[1] > numbers[0]:
        raise _bad_attention(value, field_name, "BLOCK must not exceed S", index)
    return Attention(kind, *numbers)


def is_attention(value: object) -> bool:
    """Whether ``value`` is one attention (a spelling or a tuple), not a sequence of them."""
    if isinstance(value, str | Attention):
        return True
    return (
        isinstance(value, tuple)
        and len(value) in (2, 3)
        and value[0] in _ARITY
        and not any(isinstance(v, str) for v in value[1:])
    )


def attention_choices(value: object, field_name: str = "attention") -> list[Attention]:
    """The attention choices a planner may pick among: one attention or a sequence of them,
    without repeats."""
    items = [value] if is_attention(value) else value
    if not isinstance(items, list | tuple | np.ndarray):
        raise _bad_attention(value, field_name)
    single = items is not value
    out = [attention(v, field_name, None if single else i) for i, v in enumerate(items)]
    if not out:
        raise InvalidArgumentError(f"{field_name}: give at least one attention", field=field_name)
    return list(dict.fromkeys(out))


def attention_text(choices: list[Attention] | tuple[Attention, ...]) -> str:
    """How a list of attention choices reads in a caption."""
    return " or ".join(str(c) for c in choices)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise InvalidArgumentError(f"{name}: expected one of {options}, got {value!r}", field=name)
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidArgumentError(f"{name}: expected True or False, got {value!r}", field=name)
    return bool(value)


@dataclass(frozen=True, eq=False)
class Serving:
    """How queries are served, validated once here; every function that prices inference takes
    one (``serving=None`` is ``Serving()``).

    ``batch``: sequences decoded together on one replica. ``"max"`` (the default, see
    docs/planning.md) is the largest batch whose KV cache fits beside the weights; ``"unset"``
    amortises weight reads fully (an infinite batch, the Kinetics convention); a number is capped
    by the largest batch that fits. :func:`scaleplan.inference_cost` also takes an array of
    sizes, one per configuration, that broadcasts with its other arguments.

    ``prefill``: True (or ``"per_query"``) prefills each query's prompt in its own pass,
    ``"batch"`` prefills a static batch's prompts in one pass every query of the batch waits for
    (needs a batch other than "unset"), False leaves prefill out (as the Kinetics reference does).
    ``prefix_sharing``: the samples of a query share the prompt's KV cache. ``time_model``:
    ``"additive"`` (compute time plus memory time) or ``"roofline"`` (the larger). Dtypes of
    weights, KV cache and compute: bf16, fp16 or fp8. ``gpus``: GPUs serving one replica (ideal
    tensor parallelism); ``"auto"`` lets the lifetime and joint planners choose among 1, 2, 4
    and 8; None (the default) is "auto" for those planners and 1 elsewhere.

    ``str(serving)`` is a one-line description (CLI headers print it).
    """

    batch: BatchMode | float | npt.NDArray[np.float64] = DEFAULT_BATCH
    prefix_sharing: bool = True
    prefill: Prefill = True
    time_model: TimeModel = "additive"
    weight_dtype: Dtype = "bf16"
    kv_dtype: Dtype = "bf16"
    compute_dtype: Dtype = "bf16"
    gpus: int | Literal["auto"] | None = None
    _native: _core.Serving = field(init=False, repr=False)

    def __post_init__(self) -> None:
        batch: Any = self.batch
        if isinstance(batch, str | np.str_):
            _choice("batch", str(batch), ("unset", "max"))
            batch = str(batch)
        elif isinstance(batch, bool | np.bool_) or batch is None:
            raise InvalidArgumentError(
                f"batch: expected 'max', 'unset' or a number of sequences, got {batch!r}",
                field="batch",
            )
        else:
            try:
                sizes = np.array(batch, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"batch: expected 'max', 'unset' or a number of sequences, got {batch!r}",
                    field="batch",
                ) from None
            bad = sizes[~(np.isfinite(sizes) & (sizes >= 1))]
            if bad.size:
                raise InvalidArgumentError(
                    f"batch: must be >= 1 and finite (sequences), got {float(bad[0]):g}",
                    field="batch",
                )
            if sizes.ndim == 0:
                batch = float(sizes)
            else:
                sizes.setflags(write=False)
                batch = sizes
        object.__setattr__(self, "batch", batch)
        object.__setattr__(self, "prefix_sharing", _flag("prefix_sharing", self.prefix_sharing))
        prefill: Any = self.prefill
        if isinstance(prefill, bool | np.bool_):
            prefill = bool(prefill)
        else:
            _choice("prefill", prefill, (*PREFILL_MODES,))
        object.__setattr__(self, "prefill", prefill)
        _choice("time_model", self.time_model, TIME_MODELS)
        for name in ("weight_dtype", "kv_dtype", "compute_dtype"):
            _choice(name, getattr(self, name), DTYPES)
        gpus: Any = self.gpus
        if isinstance(gpus, str):
            _choice("gpus", gpus, ("auto",))
        elif gpus is not None:
            if isinstance(gpus, bool) or not isinstance(gpus, int | np.integer | float):
                raise InvalidArgumentError(
                    f"gpus: expected a whole number or 'auto', got {gpus!r}", field="gpus"
                )
            if not math.isfinite(gpus) or float(gpus) != int(gpus):
                raise InvalidArgumentError(
                    f"gpus: expected a whole number or 'auto', got {gpus!r}", field="gpus"
                )
            if int(gpus) < 1:
                raise InvalidArgumentError(f"gpus: must be >= 1, got {int(gpus)}", field="gpus")
            gpus = int(gpus)
        object.__setattr__(self, "gpus", gpus)
        object.__setattr__(self, "_native", self._core())

    def _core(self) -> _core.Serving:
        mode = self.batch_mode
        return _core.Serving(
            batch=mode,
            batch_size=None
            if mode != "fixed"
            else (float(self.batch) if np.ndim(self.batch) == 0 else 1.0),
            prefix_sharing=self.prefix_sharing,
            prefill=self.prefill is not False,
            prefill_mode=self.prefill if isinstance(self.prefill, str) else "per_query",
            time_model=self.time_model,
            weight_dtype=self.weight_dtype,
            kv_dtype=self.kv_dtype,
            compute_dtype=self.compute_dtype,
            gpus=float(self.gpus) if isinstance(self.gpus, int) else 1.0,
        )

    @property
    def batch_mode(self) -> Literal["unset", "max", "fixed"]:
        """The batch mode: "unset", "max" or "fixed" (``batch`` holds the size or sizes)."""
        if isinstance(self.batch, str):
            return "unset" if self.batch == "unset" else "max"
        return "fixed"

    @property
    def prefill_mode(self) -> str | None:
        """The prefill mode, "per_query" or "batch"; None when prefill is left out."""
        if self.prefill is False:
            return None
        return "per_query" if self.prefill is True else str(self.prefill)

    def _key(self) -> tuple[Any, ...]:
        batch: Any = self.batch
        if isinstance(batch, np.ndarray):
            batch = ("sizes", batch.shape, tuple(batch.reshape(-1).tolist()))
        return (
            batch,
            self.prefix_sharing,
            self.prefill_mode,
            self.time_model,
            self.weight_dtype,
            self.kv_dtype,
            self.compute_dtype,
            self.gpus,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Serving) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        mode = self.batch_mode
        if mode == "unset":
            batch = "batch unset (weight reads amortised)"
        elif mode == "max":
            batch = "batch max (the largest that fits)"
        elif isinstance(self.batch, np.ndarray):
            batch = (
                "batch "
                + ",".join(f"{v:g}" for v in self.batch.reshape(-1)[:4])
                + (",..." if self.batch.size > 4 else "")
            )
        else:
            batch = f"batch {self.batch:g}"
        prefill = {None: "prefill left out", "per_query": "prefill per query"}.get(
            self.prefill_mode, "prefill of the whole batch"
        )
        gpus = {None: "GPUs/replica auto (planners) or 1", "auto": "GPUs/replica auto"}.get(
            self.gpus,  # type: ignore[arg-type]
            f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}/replica",
        )
        return ", ".join(
            [
                batch,
                prefill,
                "prefix sharing" if self.prefix_sharing else "no prefix sharing",
                f"{self.time_model} time",
                f"weights {self.weight_dtype}, KV {self.kv_dtype}, compute {self.compute_dtype}",
                gpus,
            ]
        )

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # The core's options are rebuilt, not pickled: multiprocessing can send a Serving.
        return (_from_options, (self.options(),))

    def resolved(self, *, auto_gpus: bool) -> Serving:
        """This value with ``gpus=None`` made concrete: "auto" where the caller chooses the
        degree (``auto_gpus``), else 1."""
        if self.gpus is not None:
            return self
        return Serving(**{**self.options(), "gpus": "auto" if auto_gpus else 1})

    def options(self) -> dict[str, Any]:
        """The constructor's keyword arguments that give this value."""
        return {
            "batch": self.batch,
            "prefix_sharing": self.prefix_sharing,
            "prefill": self.prefill,
            "time_model": self.time_model,
            "weight_dtype": self.weight_dtype,
            "kv_dtype": self.kv_dtype,
            "compute_dtype": self.compute_dtype,
            "gpus": self.gpus,
        }


def _from_options(options: dict[str, Any]) -> Serving:
    return Serving(**options)


_DEFAULT_SERVING = Serving()


def serving_value(value: object) -> Serving:
    """``serving`` as the façade takes it: None is ``Serving()`` (one shared instance: a
    Serving is frozen, and building one costs more than a scalar price)."""
    if value is None:
        return _DEFAULT_SERVING
    if not isinstance(value, Serving):
        raise InvalidArgumentError(
            f"serving: expected a scaleplan.Serving or None, got {value!r}", field="serving"
        )
    return value


def planner_serving(value: object, *, auto_gpus: bool) -> tuple[_core.Serving, bool]:
    """The core's serving options for a planner with one batch size, and whether it chooses the
    GPUs per replica; "auto" where the planner cannot choose is an error naming ``gpus``."""
    s = serving_value(value)
    if isinstance(s.batch, np.ndarray):
        raise InvalidArgumentError(
            "batch: this planner takes one batch size, not an array", field="batch"
        )
    if s.gpus == "auto" and not auto_gpus:
        raise InvalidArgumentError(
            "gpus: this planner does not choose GPUs per replica; give a number", field="gpus"
        )
    return s._native, (s.gpus == "auto" or (s.gpus is None and auto_gpus))
