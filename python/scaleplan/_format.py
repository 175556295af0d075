"""Human-readable numbers for tables (SI prefixes with units), and echoed text cut short."""

from __future__ import annotations

import math

_PREFIXES = [
    (1e24, "Y"),
    (1e21, "Z"),
    (1e18, "E"),
    (1e15, "P"),
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
]


MAX_ECHO_CHARS = 64
"""Longest echo of one value taken from the caller (a name) in a message."""


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text``, cut to its first ``limit`` characters (saying how many were left out) when
    longer. Every text a server reply echoes goes through here (docs/server.md, "Limits and
    admission")."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def plural(n: float, word: str, many: str | None = None) -> str:
    """``plural(1, "sample")`` -> ``'1 sample'``, ``plural(4, "sample")`` -> ``'4 samples'``."""
    shown = f"{n:,.0f}" if float(n).is_integer() else f"{n:.4g}"
    return f"{shown} {word if n == 1 else (many or word + 's')}"


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``si(2.59e16, "FLOP")`` -> ``'25.9 PFLOP'``; infinities print as ``inf``."""
    if not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    value = float(f"{value:.{digits}g}")  # 999.96e3 -> 1e6: "1 M", not "1e+03 k"
    magnitude = abs(value)
    for scale, prefix in _PREFIXES:
        if magnitude >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


_TIME_UNITS = [(3600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms")]


def seconds(value: float) -> str:
    """A duration in the largest unit that keeps it at 1 or more: ``0.9996`` -> ``'1 s'`` (not
    ``'1e+03 ms'``), ``90`` -> ``'1.5 min'``, ``7200`` -> ``'2 h'``, ``5e-5`` -> ``'50 us'``;
    thousands of hours are written out (``'1,389 h'``)."""
    if not math.isfinite(value):
        return "inf"
    if value == 0:
        return "0 s"
    value = float(f"{value:.3g}")  # 0.9996 -> 1.0, which then reads as "1 s"
    for scale, unit in _TIME_UNITS:
        if abs(value) >= scale:
            shown = value / scale
            text = f"{shown:,.0f}" if abs(shown) >= 1000 else f"{shown:.3g}"
            return f"{text} {unit}"
    return f"{value * 1e6:.3g} us"


def count(value: float) -> str:
    """A count of tokens, samples or sequences: exact below a million (``32768``), SI above
    (``1.05 M``); ``inf`` for unbounded."""
    if not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if abs(value) < 1e6:
        return f"{value:.0f}" if value == int(value) else f"{value:.4g}"
    return si(value)


def usd(value: float) -> str:
    """``usd(39480.5)`` -> ``'$39.5 k'``."""
    if not math.isfinite(value):
        return "inf"
    return ("-$" if value < 0 else "$") + si(abs(value))


def quantity(value: float, unit: str) -> str:
    """A cost in one of the planners' units: flops, eflops, gpu_hours, gpu_seconds, usd or
    seconds."""
    if unit == "usd":
        return usd(value)
    if unit == "seconds":
        return seconds(value)
    if unit == "gpu_hours":
        return si(value).replace(" ", "") + " GPU-h"
    if unit == "gpu_seconds":
        return si(value).replace(" ", "") + " GPU-s"
    return si(value, {"flops": "FLOP", "eflops": "eFLOP"}.get(unit, unit))


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """Columns padded to their widest cell. Cells are right-aligned (numbers) unless ``align``
    gives one letter per column, ``l`` or ``r``; headers follow their column's alignment, except
    that by default they are left-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    sides = align or "r" * len(header)

    def cell(text: str, width: int, side: str) -> str:
        return text.ljust(width) if side == "l" else text.rjust(width)

    head_sides = sides if align else "l" * len(header)
    lines = ["  ".join(cell(h, w, s) for h, w, s in zip(header, widths, head_sides, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(cell(c, w, s) for c, w, s in zip(r, widths, sides, strict=True)) for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines)
