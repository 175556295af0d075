"""Parsing command-line values: numbers, comma lists, ranges, batch sizes and budgets with units.

Syntax (shared by every command and by sweep scenario files):

- a number: ``8192``, ``1e21``, ``3.5e4``;
- a list: ``1024,4096,16384`` (values in the order given);
- a range ``START:STOP:N``: N values from START to STOP inclusive, log-spaced (``1024:32768:6``
  -> 1024, 2048, ..., 32768); ``START:STOP:N:lin`` spaces them linearly. Ranges of whole-number
  options (token counts, samples, batch, KV budget, block size) are rounded to integers and
  repeated values dropped. Lists and ranges mix: ``1,2,4:64:5``.
- a budget: a number with its unit, always: ``1e21flops``, ``5e20eflops``, ``200gpu-h``,
  ``$5000`` or ``5000usd``, ``1e5s`` / ``500ms`` / ``2min`` / ``1h`` (seconds); the multipliers
  ``k``, ``M``, ``G``, ``T`` go before the unit (``$5k``, ``2Mgpu-h``). A bare number is an
  error that lists the units the option accepts (a bare budget meant FLOPs in one planner and
  GPU-hours in another). Every value of a list and both ends of a range carry the unit:
  ``1e21flops,1e23flops``, ``$1k:$1M:7``.
- a duration (``--latency-slo``): seconds, bare or with a time unit: ``120``, ``120s``,
  ``500ms``, ``2min``, ``1h``.

Every parse error is a :class:`UsageError` naming the option.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from scaleplan._arrays import FloatArray

MAX_RANGE_POINTS = 1_000_000
"""Most values one range may produce."""


class UsageError(Exception):
    """A command-line value is malformed; ``option`` names where it came from."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def number(option: str, text: str) -> float:
    """One number; ``1e21``, ``3.5e4``, ``1_000``."""
    cleaned = text.strip().replace("_", "")
    try:
        return float(cleaned)
    except ValueError:
        raise UsageError(option, f"not a number: {text!r}") from None


def whole(option: str, text: str) -> int:
    """One whole number (``8``, ``1e3``)."""
    value = number(option, text)
    if not math.isfinite(value) or value != int(value):
        raise UsageError(option, f"expected a whole number, got {text!r}")
    return int(value)


def names(option: str, text: str) -> list[str]:
    """A comma list of names, blanks removed, duplicates dropped."""
    items = [s.strip() for s in text.split(",")]
    if not all(items):
        raise UsageError(option, f"empty name in list {text!r}")
    return list(dict.fromkeys(items))


def family(option: str, text: str | None) -> str | list[str] | None:
    """A catalog family, or a comma list of models interpolated as one family."""
    if text is None or "," not in text:
        return text
    return names(option, text)


def _spaced(
    option: str, item: str, start: float, stop: float, count_text: str, spacing: str
) -> FloatArray:
    count = whole(option, count_text) if count_text.strip() else 0
    if not 1 <= count <= MAX_RANGE_POINTS:
        raise UsageError(
            option, f"range {item!r}: the count must be 1 to {MAX_RANGE_POINTS:,}, got {count_text}"
        )
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise UsageError(option, f"range {item!r}: ends must be finite")
    if spacing == "log":
        if start <= 0 or stop <= 0:
            raise UsageError(
                option, f"range {item!r}: a log-spaced range needs ends > 0 (add ':lin')"
            )
        points = np.geomspace(start, stop, count) if count > 1 else np.array([start])
        # Round off float noise (2048.000000000001 -> 2048, 1.0000000000000002e19 -> 1e19).
        return np.array([float(f"{v:.12g}") for v in points.tolist()])
    if spacing == "lin":
        return np.linspace(start, stop, count)
    raise UsageError(option, f"range {item!r}: spacing must be 'log' or 'lin', got {spacing!r}")


def _split_range(option: str, item: str) -> tuple[str, str, str, str]:
    parts = item.split(":")
    if len(parts) not in (3, 4):
        raise UsageError(option, f"range {item!r}: expected START:STOP:N or START:STOP:N:lin")
    start, stop, count = parts[:3]
    return start, stop, count, (parts[3].strip() if len(parts) == 4 else "log")


def values(option: str, text: str, *, integer: bool = False) -> FloatArray:
    """Numbers from a comma list of numbers and ranges (see the module docstring)."""
    out: list[float] = []
    for item in text.split(","):
        if not item.strip():
            raise UsageError(option, f"empty value in list {text!r}")
        if ":" in item:
            start, stop, count, spacing = _split_range(option, item)
            points = _spaced(
                option, item, number(option, start), number(option, stop), count, spacing
            )
            if integer:
                points = np.rint(points)
            out += points.tolist()
        else:
            out.append(number(option, item))
    if integer:
        out = list(dict.fromkeys(out))
    return np.array(out, dtype=np.float64)


@dataclass(frozen=True)
class Batch:
    """``--batch``: unset (weights amortised), ``max``, or fixed sizes."""

    mode: str
    """"unset", "max" or "fixed"."""
    sizes: FloatArray | None = None


def batch(option: str, text: str | None) -> Batch:
    """``None`` -> unset; ``max``; or a list/range of sequence counts."""
    if text is None:
        return Batch("unset")
    if text.strip().lower() == "max":
        return Batch("max")
    if "max" in text.lower():
        raise UsageError(option, f"'max' cannot be mixed with sizes, got {text!r}")
    return Batch("fixed", values(option, text, integer=True))


# ---- budgets ---------------------------------------------------------------------------------

UNIT_LABELS = {
    "flops": "FLOPs",
    "eflops": "eFLOPs",
    "gpu_hours": "GPU-hours",
    "usd": "USD",
    "seconds": "seconds",
    "gpu_seconds": "GPU-seconds",
}
_WORDS = {
    "flop": "flops",
    "flops": "flops",
    "eflop": "eflops",
    "eflops": "eflops",
    "gpu-h": "gpu_hours",
    "gpuh": "gpu_hours",
    "gpu-hr": "gpu_hours",
    "gpu-hrs": "gpu_hours",
    "gpu-hour": "gpu_hours",
    "gpu-hours": "gpu_hours",
    "gpu_hours": "gpu_hours",
    "usd": "usd",
    "$": "usd",
    "gpu-s": "gpu_seconds",
    "gpu-sec": "gpu_seconds",
    "gpu-seconds": "gpu_seconds",
    "gpu_seconds": "gpu_seconds",
}
_TIME = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}
_MULTIPLIERS = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BUDGET = re.compile(
    r"^\s*(?P<dollar>\$)?\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"\s*(?P<rest>.*?)\s*$"
)


@dataclass(frozen=True)
class Budget:
    value: float
    unit: str | None
    """flops, eflops, gpu_hours, gpu_seconds, usd, seconds, or None for a bare number."""


def budget(option: str, text: str) -> Budget:
    """One budget with its unit, or a bare number (``unit`` None), which :func:`budgets`
    rejects (see the module docstring)."""
    m = _BUDGET.match(text)
    if m is None:
        raise UsageError(
            option,
            f"not a budget: {text!r} (expected a number and its unit, e.g. 1e21flops, "
            "5e20eflops, 200gpu-h, $5000, 1e5s)",
        )
    value, word = float(m["num"]), m["rest"]
    if word[:1] in _MULTIPLIERS and _unit(word[1:].strip()) is not _UNKNOWN:
        value, word = value * _MULTIPLIERS[word[0]], word[1:].strip()
    unit = _unit(word)
    if unit is _UNKNOWN:
        raise UsageError(
            option,
            f"unknown unit {word!r} in {text!r} (known: flops, eflops, gpu-h, gpu-s, usd or $, "
            "s, ms, min, h; multipliers k, M, G, T)",
        )
    if unit == "seconds":
        value *= _TIME[word]
    if m["dollar"]:
        if unit not in (None, "usd"):
            raise UsageError(option, f"{text!r} has both '$' and the unit {word!r}")
        unit = "usd"
    return Budget(value, unit)


_UNKNOWN = "?"


def _unit(word: str) -> str | None:
    """The unit a suffix names, None for no suffix, or _UNKNOWN."""
    if not word:
        return None
    if word in _TIME:
        return "seconds"
    return _WORDS.get(word.lower(), _UNKNOWN)


UNIT_EXAMPLES = {
    "flops": "1e21flops",
    "eflops": "5e20eflops",
    "gpu_hours": "2e5gpu-h",
    "usd": "$5000 or 5000usd",
    "seconds": "30s, 500ms, 2min or 1h",
    "gpu_seconds": "20gpu-s",
}
"""How a budget in each unit is written (in messages and help)."""


def units_text(allowed: tuple[str, ...], examples: dict[str, str] | None = None) -> str:
    """The units an option accepts, each with an example: ``FLOPs (1e21flops), ...``;
    ``examples`` overrides :data:`UNIT_EXAMPLES` where an option's budgets are of another
    size (per query)."""
    shown = {**UNIT_EXAMPLES, **(examples or {})}
    return ", ".join(f"{UNIT_LABELS[u]} ({shown[u]})" for u in allowed)


def budgets(option: str, text: str, allowed: tuple[str, ...]) -> tuple[FloatArray, str]:
    """A comma list of budgets and budget ranges, every value with its unit, all in one unit;
    and that unit. ``allowed`` lists the units that mean something for this option."""
    found: list[Budget] = []
    for item in text.split(","):
        if not item.strip():
            raise UsageError(option, f"empty value in list {text!r}")
        if ":" in item:
            start_text, stop_text, count, spacing = _split_range(option, item)
            ends = [budget(option, start_text), budget(option, stop_text)]
            for end, end_text in zip(ends, (start_text, stop_text), strict=True):
                _require_unit(option, end, end_text, allowed)
            if ends[0].unit != ends[1].unit:
                raise UsageError(option, f"range {item!r}: its ends have different units")
            points = _spaced(option, item, ends[0].value, ends[1].value, count, spacing)
            found += [Budget(v, ends[0].unit) for v in points.tolist()]
        else:
            one = budget(option, item)
            _require_unit(option, one, item, allowed)
            found.append(one)
    units = {b.unit for b in found if b.unit is not None}
    if len(units) > 1:
        listed = ", ".join(sorted(UNIT_LABELS[u] for u in units))
        raise UsageError(option, f"budgets in one list must share a unit, got {listed}")
    unit = units.pop()
    if unit not in allowed:
        raise UsageError(
            option,
            f"a budget in {UNIT_LABELS[unit]} does not apply here; accepted here: "
            + units_text(allowed),
        )
    return np.array([b.value for b in found], dtype=np.float64), unit


def _require_unit(option: str, found: Budget, text: str, allowed: tuple[str, ...]) -> None:
    if found.unit is None:
        raise UsageError(
            option,
            f"{text.strip()!r} has no unit; a budget always carries one. Accepted here: "
            + units_text(allowed),
        )


def duration(option: str, text: str) -> float:
    """Seconds: a bare number, or one with a time unit (``120``, ``120s``, ``500ms``,
    ``2min``, ``1h``)."""
    m = _BUDGET.match(text)
    word = "" if m is None else m["rest"]
    if m is None or m["dollar"] or (word and word not in _TIME):
        raise UsageError(
            option,
            f"not a duration: {text!r} (expected seconds, e.g. 120, 120s, 500ms, 2min, 1h)",
        )
    return float(m["num"]) * (_TIME[word] if word else 1.0)
