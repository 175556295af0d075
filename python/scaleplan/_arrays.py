"""Turning user numbers (scalars, lists, numpy arrays of any dtype and layout) into the
contiguous float64 vectors the core loops over, and its results back into the caller's shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scaleplan.errors import InvalidArgumentError

FloatArray = npt.NDArray[np.float64]


def as_float_array(name: str, value: Any) -> FloatArray:
    """A float64 array of ``value``; booleans, strings, objects and complex numbers are refused."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{name}: not a number or array of numbers ({exc})", field=name
        ) from exc
    if _holds_bool(value):
        raise InvalidArgumentError(
            f"{name}: expected numbers, got a list holding True/False", field=name
        )
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise InvalidArgumentError(
            f"{name}: expected a number or numeric array, got {array.dtype} values",
            field=name,
        )
    return array.astype(np.float64, copy=False)


def _holds_bool(value: Any) -> bool:
    """Whether a list or tuple mixes booleans with numbers (numpy reads ``[0.5, True]`` as
    ``[0.5, 1.0]``): a flag where a number belongs is refused as a bool array is."""
    if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple)):
        return False
    return any(isinstance(x, (bool, np.bool_)) for x in np.asarray(value, dtype=object).flat)


class Broadcast:
    """Broadcast named arguments together, naming the one whose shape does not fit."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.arrays: dict[str, FloatArray] = {}
        shape: tuple[int, ...] = ()
        for name, value in arguments.items():
            if value is None:
                continue
            array = as_float_array(name, value)
            try:
                shape = np.broadcast_shapes(shape, array.shape)
            except ValueError:
                raise InvalidArgumentError(
                    f"{name}: shape {array.shape} does not broadcast with {shape}", field=name
                ) from None
            self.arrays[name] = array
        self.shape = shape
        self.scalar = shape == ()

    def flat(self, name: str) -> FloatArray | None:
        """The argument broadcast to the common shape, as a contiguous 1-D float64 array."""
        array = self.arrays.get(name)
        if array is None:
            return None
        return np.ascontiguousarray(np.broadcast_to(array, self.shape).reshape(-1))

    def required(self, name: str) -> FloatArray:
        """Like :meth:`flat`, for an argument that was given."""
        array = self.flat(name)
        if array is None:
            raise InvalidArgumentError(f"{name}: is required", field=name)
        return array

    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def shaped(self, row: FloatArray) -> Any:
        """One result row in the caller's shape: a Python float for scalar input."""
        return float(row[0]) if self.scalar else row.reshape(self.shape)
