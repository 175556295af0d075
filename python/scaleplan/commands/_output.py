"""Writing results: JSON lines and CSV for scripts, tables for people.

Conventions (the same for every command):

- field names are the Python API's: dataclass field names of the result (``eflops``,
  ``latency_s``, ``params``, ...), plus the inputs of each row under their argument names
  (``prompt_tokens``, ``budget``, ...);
- numbers are SI base units (FLOPs, bytes, seconds, parameters, tokens), written as JSON numbers
  with every digit (they round-trip to the same float64);
- JSON has no infinity: infinite values and values that do not apply (``kv_budget`` under dense
  attention; ``batch`` when unset, i.e. weight reads fully amortised; NaN, every quantity of an
  infeasible plan) are ``null``. CSV writes ``inf`` for infinity and an empty cell for
  not-applicable (None or NaN), booleans as ``true``/``false``, whole numbers without a
  fraction (``128``, not ``128.0``; up to 2^53, past which a float's digits are written as they
  are); a list of records (a plan's ``extrapolated``) or a record (its ``provenance``) is one
  cell of JSON.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO, Literal, TextIO

import numpy as np

from scaleplan import _core


def plain(value: Any) -> Any:
    """A Python value for one cell: numpy scalars unwrapped, dataclasses and named tuples as
    dicts (only their constructor fields), tuples as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype != object else [plain(v) for v in value.tolist()]
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a record (Extrapolation)
        return {k: plain(v) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def json_line(row: Mapping[str, Any]) -> str:
    """One JSON object on one line (non-finite numbers as null)."""
    return json.dumps(_json_safe({k: plain(v) for k, v in row.items()}), allow_nan=False)


_EXACT = 2.0**53
"""Floats below this in magnitude that are whole are written as integers in CSV (exactly)."""


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT:
        return int(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # a record (a plan's provenance): one cell of JSON
        return json_line(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return json_line({"_": value})[len('{"_": ') : -1]
        return " ".join(str(v) for v in value)
    return value


def _json_cell(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


SLICE_ROWS = 8192
"""Rows turned into Python objects at a time when writing columns: bounds the writer's memory."""
CSV_SLICE_ROWS = 1 << 16
"""Rows formatted by ``_core.csv_lines`` at a time (~30 MB of text for a sweep's ~40 fields)."""


def _utf8_buffer(stream: TextIO) -> BinaryIO | None:
    """The binary buffer under a text stream that writes str as its UTF-8 bytes, unchanged."""
    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None)
    if buffer is None or not encoding or os.linesep != "\n":
        return None
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return None
    return buffer if utf8 else None


class RowWriter:
    """Streams rows as JSON lines or CSV, given as mappings or as columns (numpy arrays, or
    scalars that repeat)."""

    def __init__(self, stream: TextIO, fmt: str, fields: Sequence[str]) -> None:
        if fmt not in ("json", "csv"):
            raise ValueError(f"unknown row format {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.fields = list(fields)
        self.rows = 0
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        # The binary buffer to write lines into, or False: decided at the first CSV write.
        self._binary: BinaryIO | Literal[False] | None = None
        if self._csv is not None:
            self._csv.writerow(self.fields)

    def _json_cells(self, column: Any, start: int, stop: int) -> Iterable[Any]:
        if not isinstance(column, np.ndarray):
            return itertools.repeat(_json_cell(plain(column)), stop - start)
        part = column[start:stop]
        if part.dtype == np.bool_ or (part.dtype.kind == "f" and not np.isfinite(part).all()):
            return [_json_cell(v) for v in part.tolist()]
        return part.tolist()  # type: ignore[no-any-return]

    def write_columns(self, columns: Mapping[str, Any], n: int) -> None:
        """Write ``n`` rows given as columns: arrays of length ``n``, or scalars that repeat.
        CSV cells are formatted in the core's binding (``_core.csv_lines``), byte for byte as
        ``_csv_cell`` and Python's csv module format them, ~7x faster (docs/architecture.md,
        "Sweeps")."""
        if self._csv is not None:
            self._write_csv_columns(columns, n)
            self.rows += n
            return
        for start in range(0, n, SLICE_ROWS):
            stop = min(n, start + SLICE_ROWS)
            cells = [self._json_cells(columns.get(f), start, stop) for f in self.fields]
            names, write = self.fields, self.stream.write
            for row in zip(*cells, strict=True):
                write(json.dumps(dict(zip(names, row, strict=True)), allow_nan=False))
                write("\n")
        self.rows += n

    def _write_csv_columns(self, columns: Mapping[str, Any], n: int) -> None:
        for start in range(0, n, CSV_SLICE_ROWS):
            stop = min(n, start + CSV_SLICE_ROWS)
            cells = []
            for name in self.fields:
                value = columns.get(name)
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    value = value.reshape(-1)[start:stop]
                    if value.dtype.kind in "iuf":
                        value = value.astype(np.float64, copy=False)
                elif isinstance(value, np.generic):
                    value = value.item()
                cells.append(value)
            self._write_bytes(_core.csv_lines(cells, stop - start))

    def _write_bytes(self, data: bytes) -> None:
        """UTF-8 lines: straight into the text stream's binary buffer where writing them as
        text would give the same bytes (a UTF-8 stream, no newline translation), which spares
        decoding and re-encoding every line; as text otherwise."""
        if self._binary is None:
            self._binary = _utf8_buffer(self.stream) or False
        binary = self._binary
        if binary is not False:
            self.stream.flush()  # what went as text first (the header) stays first
            binary.write(data)
        else:
            self.stream.write(data.decode())

    def close(self) -> None:
        """Nothing to finish (the stream is the caller's)."""

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write rows given as mappings (missing fields are empty / null)."""
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([_csv_cell(plain(row.get(f))) for f in self.fields])
            else:
                self.stream.write(json_line({f: row.get(f) for f in self.fields}) + "\n")
            self.rows += 1


class ParquetRowWriter:
    """Streams rows given as columns into one Parquet file (zstd), a row group per call, with
    the schema of ``kinds`` (scaleplan._arrow: text dictionary-encoded, flags boolean, numbers
    float64, None and NaN null). ``close`` writes the footer."""

    def __init__(self, stream: BinaryIO, kinds: Mapping[str, str]) -> None:
        import pyarrow.parquet as pq

        from scaleplan import _arrow

        self.schema = _arrow.schema(kinds)
        self.rows = 0
        # Dictionary pages for the text columns only: tried on every float64 column as well
        # (Parquet's default), they tripled the writer's CPU time for a sweep's rows.
        text = [f.name for f in self.schema if kinds[f.name] == _arrow.TEXT]
        self._writer = pq.ParquetWriter(
            stream, self.schema, compression="zstd", use_dictionary=text
        )

    def write_columns(self, columns: Mapping[str, Any], n: int) -> None:
        from scaleplan import _arrow

        self._writer.write_batch(_arrow.record_batch(columns, n, self.schema))
        self.rows += n

    def close(self) -> None:
        self._writer.close()
