"""Result columns as Apache Arrow record batches: the sweep's Parquet and CSV writers and the
façade's stream of record batches (docs/architecture.md, "Sweeps").

A row layout's schema is fixed by its field names and their kinds, once: text fields are
dictionary-encoded strings (a sweep repeats a handful of model, hardware and option names
millions of times), flags are booleans, every other field is float64. A field that is absent
(``None``, such as the KV budget of dense attention) or not a number (NaN) is null. pyarrow is
imported by the functions that need it, not with the package (it costs ~0.3 s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from scaleplan.cost import InferenceCost

if TYPE_CHECKING:
    import pyarrow as pa

TEXT = "text"
FLAG = "flag"
NUMBER = "number"


def kinds_of(fields: Iterable[str], text: Iterable[str], flags: Iterable[str]) -> dict[str, str]:
    """Each field's kind: TEXT, FLAG or NUMBER (the default)."""
    text_set, flag_set = set(text), set(flags)
    return {f: TEXT if f in text_set else FLAG if f in flag_set else NUMBER for f in fields}


def cost_kinds() -> dict[str, str]:
    """The kinds of :class:`scaleplan.InferenceCost`'s fields, from their annotations."""
    kinds = {}
    for f in dataclasses.fields(InferenceCost):
        annotation = str(f.type)
        kinds[f.name] = FLAG if "bool" in annotation else TEXT if "str" in annotation else NUMBER
    return kinds


def schema(kinds: Mapping[str, str]) -> pa.Schema:
    import pyarrow as pa

    types = {
        TEXT: pa.dictionary(pa.int32(), pa.string()),
        FLAG: pa.bool_(),
        NUMBER: pa.float64(),
    }
    return pa.schema([pa.field(name, types[kind]) for name, kind in kinds.items()])


def column(value: Any, n: int, kind: pa.DataType | None = None) -> pa.Array:
    """One column of ``n`` rows: an array of length ``n`` or a scalar that repeats, as ``kind``
    (None: the type the value has; a text scalar or array is then a plain string column)."""
    import pyarrow as pa

    if isinstance(value, np.ndarray) and value.ndim > 0:
        flat = value.reshape(-1)
        if kind is None:
            if flat.dtype.kind in "biuf":
                kind = pa.bool_() if flat.dtype == np.bool_ else pa.float64()
            else:
                kind = pa.string()
        if pa.types.is_dictionary(kind) or pa.types.is_string(kind):
            if flat.dtype.kind in "biuf":
                # Numbers in a text column (a sweep's fixed batch sizes): each distinct value
                # is formatted once, not once a row.
                distinct, codes = np.unique(flat, return_inverse=True)
                encoded = pa.DictionaryArray.from_arrays(
                    pa.array(codes.reshape(-1).astype(np.int32)),
                    pa.array([_text(v) for v in distinct.tolist()], type=pa.string()),
                )
                return encoded if pa.types.is_dictionary(kind) else encoded.cast(kind)
            array = pa.array(flat)
            if not pa.types.is_string(array.type):
                array = pa.array([_text(v) for v in flat.tolist()])
            return array.dictionary_encode().cast(kind) if pa.types.is_dictionary(kind) else array
        if pa.types.is_boolean(kind):
            return pa.array(flat, type=kind)
        # from_pandas: NaN becomes null (an empty CSV cell, as docs/architecture.md says).
        return pa.array(flat.astype(np.float64, copy=False), from_pandas=True)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return pa.nulls(n, kind or pa.null())
    if kind is None:
        kind = (
            pa.bool_()
            if isinstance(value, bool)
            else pa.float64()
            if isinstance(value, int | float)
            else pa.string()
        )
    if pa.types.is_dictionary(kind) or pa.types.is_string(kind):
        repeated = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, dtype=np.int32)), pa.array([_text(value)])
        )
        return repeated if pa.types.is_dictionary(kind) else repeated.cast(kind)
    if pa.types.is_boolean(kind):
        return pa.array(np.full(n, bool(value)))
    return pa.array(np.full(n, float(value)))


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def record_batch(columns: Mapping[str, Any], n: int, schema_: pa.Schema) -> pa.RecordBatch:
    """``n`` rows given as columns (arrays of length ``n``, or scalars that repeat; a missing
    column is null) as a record batch of ``schema_``."""
    import pyarrow as pa

    arrays = [column(columns.get(field.name), n, field.type) for field in schema_]
    return pa.RecordBatch.from_arrays(arrays, schema=schema_)
