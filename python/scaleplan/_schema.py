"""The fields of every result (name, unit, description), as the Rust core defines them once
(``_core.SCHEMAS``, from ``rust/python/src/schema.rs``; docs/planning.md, "Result fields").

The result dataclasses take their docstrings from here (``help(sp.TestTimePlan)`` lists every
field with its unit); a test checks the dataclasses and the proto messages against the schemas.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import NamedTuple, TypeVar

from scaleplan import _core


class Field(NamedTuple):
    """One field of a result."""

    name: str
    unit: str
    """The unit of a number; "" for a flag or a text; ``<unit>`` for the result's ``unit``."""
    description: str
    column: bool
    """Whether the core returns it as a column (else the façade adds it)."""


SCHEMAS: dict[str, tuple[Field, ...]] = {
    name: tuple(Field(*f) for f in fields) for name, fields in _core.SCHEMAS.items()
}
"""Every result's fields, in the order of its dataclass, keyed by the class name."""

_T = TypeVar("_T", bound=type)


def field_line(f: Field) -> str:
    """``name [unit]: description`` (no brackets for a flag or a text)."""
    unit = f" [{f.unit}]" if f.unit else ""
    return f"{f.name}{unit}: {f.description}"


def fields_doc(name: str) -> str:
    """The "Fields" section of a result's docstring."""
    own_unit = any(f.unit == "<unit>" for f in SCHEMAS[name])
    note = "; ``<unit>`` is the unit the ``unit`` field names" if own_unit else ""
    lines = [f"Fields (units in brackets{note}):", ""]
    for f in SCHEMAS[name]:
        lines.append(
            textwrap.fill(
                field_line(f), width=96, initial_indent="    ", subsequent_indent="        "
            )
        )
    return "\n".join(lines)


def documented(cls: _T) -> _T:
    """Append the class's fields, with their units, to its docstring."""
    summary = inspect.cleandoc(cls.__doc__ or "") if cls.__doc__ else ""
    cls.__doc__ = (summary + "\n\n" if summary else "") + fields_doc(cls.__name__)
    return cls
