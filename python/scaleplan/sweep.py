"""Grids of queries priced in bounded memory: the cartesian product of a few axes of
:func:`scaleplan.inference_cost`, cut into chunks, and the chunking of frontier budgets.

This is the one place chunks are cut: ``scaleplan sweep``, the server's ``InferenceCostSweep``,
``FrontierTestTime`` and ``FrontierJoint`` streams and :class:`scaleplan.Client` all go through
it, so they give the same points in the same order (limits: docs/limits.md).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

from scaleplan._arrays import FloatArray, as_float_array
from scaleplan.catalog import Catalog, Hardware, Model
from scaleplan.cost import InferenceCost, Number
from scaleplan.cost import inference_cost as _inference_cost
from scaleplan.errors import InvalidArgumentError, LimitExceededError, ScaleplanError
from scaleplan.serving import AttentionSpec, Serving, attention_choices, is_attention, serving_value

__all__ = [
    "DEFAULT_CHUNK_POINTS",
    "JOINT_CHUNK_BUDGETS",
    "MAX_CHUNK_POINTS",
    "MAX_SWEEP_POINTS",
    "SWEEP_AXES",
    "TEST_TIME_CHUNK_BUDGETS",
    "Grid",
    "SweepChunk",
    "budget_chunks",
    "inference_cost_sweep",
    "iter_inference_cost_sweep",
    "join_chunks",
]

MAX_SWEEP_POINTS = 100_000_000
"""Most points of one sweep (the product of its axis lengths); more is a LimitExceededError."""
MAX_CHUNK_POINTS = 1 << 20
"""Most points priced by one core call (~200 bytes each: a chunk holds at most ~200 MB)."""
DEFAULT_CHUNK_POINTS = 65_536
TEST_TIME_CHUNK_BUDGETS = 256
"""Budgets per chunk of a test-time frontier (a few ms of solving)."""
JOINT_CHUNK_BUDGETS = 4
"""Budgets per chunk of a joint frontier (a joint plan takes ~10-50 ms, so a cancelled call
stops within ~0.1 s of work)."""

SWEEP_AXES = ("prompt_tokens", "gen_tokens", "samples", "attention", "batch")
"""The axes of a sweep in grid order (C order: the last varies fastest). ``attention`` is an
axis of spellings ("topk:1024", docs/planning.md "Serving options"), ``batch`` one of the
batch sizes of ``Serving(batch=[...])``."""

_T = TypeVar("_T")
_P = ParamSpec("_P")


@dataclass(frozen=True)
class SweepChunk:
    """One chunk of a sweep: the grid points [start_index, start_index + len) in grid order."""

    start_index: int
    total_points: int
    shape: tuple[int, ...]
    """The grid's shape: one axis per swept argument (those of ``points``), in SWEEP_AXES order."""
    points: dict[str, npt.NDArray[Any]]
    """The value of each swept argument at each point of the chunk (1-D arrays; the attention's
    are spellings)."""
    cost: InferenceCost
    """1-D arrays, one entry per point of the chunk."""

    def __len__(self) -> int:
        return len(np.atleast_1d(self.cost.flops))


def _whole(name: str, value: object, most: int) -> int:
    """``value`` checked: a whole number in [1, most]."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= most:
        raise InvalidArgumentError(
            f"{name}: expected a whole number in [1, {most}], got {value!r}", field=name
        )
    return int(value)


def chunk_size_of(chunk_size: object) -> int:
    """``chunk_size`` checked: a whole number in [1, MAX_CHUNK_POINTS]."""
    return _whole("chunk_size", chunk_size, MAX_CHUNK_POINTS)


def _axis(name: str, value: Any) -> FloatArray:
    array = as_float_array(name, value)
    if array.ndim > 1:
        raise InvalidArgumentError(
            f"{name}: a sweep axis is a number or a 1-D list of numbers, got shape {array.shape}",
            field=name,
        )
    array = np.atleast_1d(array)
    if len(array) == 0:
        raise InvalidArgumentError(f"{name}: the grid needs at least one value", field=name)
    return array


def iter_inference_cost_sweep(
    model: str | Model,
    hardware: str | Hardware,
    *,
    prompt_tokens: Number,
    gen_tokens: Number,
    samples: Number = 1,
    attention: AttentionSpec | Sequence[AttentionSpec] = "dense",
    serving: Serving | None = None,
    streams: int = 1,
    chunk_size: int = DEFAULT_CHUNK_POINTS,
    max_points: int = MAX_SWEEP_POINTS,
    catalog: Catalog | None = None,
) -> Generator[SweepChunk]:
    """:func:`scaleplan.inference_cost` over the cartesian product of the arguments given as
    axes (prompt_tokens x gen_tokens x samples, each a number or a 1-D list, x attention, a list
    of spellings of one kind, x batch sizes, ``Serving(batch=[...])``; the last varies fastest),
    ``chunk_size`` points per core call. ``streams`` (default 1) prices every point with that
    many parallel streams (ParScale, :func:`scaleplan.inference_cost`); it is one value per
    sweep, not an axis.

    The grid is checked before the first chunk is priced: more than ``max_points`` points (at
    most MAX_SWEEP_POINTS) is a LimitExceededError naming ``grid``. An error about one point
    names the argument, ``.index`` the position in its axis.
    """
    size = chunk_size_of(chunk_size)
    options = serving_value(serving)
    given = {
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "samples": samples,
        "attention": attention,
        "batch": options.batch,
    }
    grid = Grid.of(given, max_points)
    return _sweep(model, hardware, grid, size, attention, options, streams, catalog)


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep (the numeric arguments given, in SWEEP_AXES order) and its shape."""

    axes: dict[str, npt.NDArray[Any]]
    shape: tuple[int, ...]
    total: int

    @classmethod
    def of(cls, arguments: Mapping[str, Any], max_points: int = MAX_SWEEP_POINTS) -> Grid:
        """The grid of the SWEEP_AXES among ``arguments`` that are given (a batch mode, a
        string, and one attention are no axis); more than ``max_points`` points is a
        LimitExceededError."""
        limit = _whole("max_points", max_points, MAX_SWEEP_POINTS)
        axes: dict[str, npt.NDArray[Any]] = {}
        for name in SWEEP_AXES:
            value = arguments.get(name)
            if value is None or isinstance(value, str):
                continue
            if name == "attention":
                if not is_attention(value):
                    axes[name] = np.array([str(a) for a in attention_choices(value, name)])
                continue
            axes[name] = _axis(name, value)
        for name in SWEEP_AXES[:2]:
            if name not in axes:
                raise InvalidArgumentError(f"{name}: the grid needs at least one value", field=name)
        shape = tuple(len(a) for a in axes.values())
        total = math.prod(shape)
        if total > limit:
            raise LimitExceededError(
                f"grid: {total} points (the product of the axis lengths {shape}) exceed the "
                f"limit of {limit} per sweep",
                field="grid",
                limit=limit,
                got=total,
            )
        return cls(axes, shape, total)

    def points(self, start: int, stop: int) -> dict[str, npt.NDArray[Any]]:
        """The value of each axis at the grid points [start, stop) (C order)."""
        coords = np.unravel_index(np.arange(start, stop), self.shape)
        return {n: a[c] for (n, a), c in zip(self.axes.items(), coords, strict=True)}


def _sweep(
    model: str | Model,
    hardware: str | Hardware,
    grid: Grid,
    size: int,
    attention: object,
    serving: Serving,
    streams: int,
    catalog: Catalog | None,
) -> Generator[SweepChunk]:
    for start in range(0, grid.total, size):
        points = grid.points(start, min(grid.total, start + size))
        arguments: dict[str, Any] = {k: v for k, v in points.items() if k != "batch"}
        arguments.setdefault("attention", attention)
        options = serving
        if "batch" in points:
            options = dataclasses.replace(serving, batch=points["batch"])
        try:
            cost = _inference_cost(
                model, hardware, **arguments, serving=options, streams=streams, catalog=catalog
            )
        except ScaleplanError as exc:
            raise _locate(exc, start, list(grid.axes), grid.shape) from exc
        yield SweepChunk(start, grid.total, grid.shape, points, cost)


def _locate(
    exc: ScaleplanError, start: int, names: Sequence[str], shape: tuple[int, ...]
) -> ScaleplanError:
    """The error about element i of a chunk, about the value of the grid axis it came from
    (``gen_tokens`` element 2), or about the whole field where it is not an axis: a copy, raised
    from the original (docs/limits.md, "Errors")."""
    if exc.index is None:
        return exc
    point = start + exc.index
    if exc.field in names:
        return exc.replace(index=int(np.unravel_index(point, shape)[names.index(exc.field)]))
    return exc.replace(index=None)


def join_chunks(chunks: Iterator[SweepChunk] | Sequence[SweepChunk]) -> InferenceCost:
    """The chunks of one whole sweep as one InferenceCost of arrays shaped like the grid."""
    parts = list(chunks)
    if not parts:
        raise InvalidArgumentError("grid: a sweep without chunks", field="grid")
    shape = parts[0].shape
    columns = {
        f.name: np.concatenate([np.atleast_1d(getattr(c.cost, f.name)) for c in parts]).reshape(
            shape
        )
        for f in fields(InferenceCost)
    }
    return InferenceCost(**columns)


def _joined(sweep: Callable[_P, Iterator[SweepChunk]]) -> Callable[_P, InferenceCost]:
    """``sweep`` with its chunks joined (:func:`join_chunks`): the same parameters."""

    @functools.wraps(sweep)
    def joined(*args: _P.args, **kwargs: _P.kwargs) -> InferenceCost:
        return join_chunks(sweep(*args, **kwargs))

    joined.__signature__ = inspect.signature(sweep).replace(  # type: ignore[attr-defined]
        return_annotation="InferenceCost"
    )
    joined.__name__ = joined.__qualname__ = "inference_cost_sweep"
    joined.__doc__ = (
        "The whole of :func:`iter_inference_cost_sweep` (same arguments) as one InferenceCost "
        "of arrays shaped like the grid (one axis per swept argument, in SWEEP_AXES order): "
        "equal to :func:`scaleplan.inference_cost` on the open mesh of the axes."
    )
    return joined


inference_cost_sweep = _joined(iter_inference_cost_sweep)


def record_batch_of(chunk: SweepChunk) -> pa.RecordBatch:
    """One sweep chunk as an Arrow record batch: a column per swept argument (attention as its
    spelling) then one per InferenceCost field (docs/architecture.md, "Sweeps")."""
    from scaleplan import _arrow

    kinds = {
        **{name: _arrow.TEXT if name == "attention" else _arrow.NUMBER for name in chunk.points},
        **_arrow.cost_kinds(),
    }
    columns = dict(chunk.points)
    columns.update({f.name: getattr(chunk.cost, f.name) for f in fields(InferenceCost)})
    return _arrow.record_batch(columns, len(chunk), _arrow.schema(kinds))


def _record_batches(
    sweep: Callable[_P, Iterator[SweepChunk]],
) -> Callable[_P, Iterator[pa.RecordBatch]]:
    """``sweep`` with each chunk as an Arrow record batch (:func:`record_batch_of`): the same
    parameters."""

    @functools.wraps(sweep)
    def batches(*args: _P.args, **kwargs: _P.kwargs) -> Iterator[pa.RecordBatch]:
        return (record_batch_of(chunk) for chunk in sweep(*args, **kwargs))

    batches.__signature__ = inspect.signature(sweep).replace(  # type: ignore[attr-defined]
        return_annotation="Iterator[pyarrow.RecordBatch]"
    )
    batches.__name__ = batches.__qualname__ = "iter_inference_cost_record_batches"
    batches.__doc__ = (
        "The chunks of :func:`iter_inference_cost_sweep` (same arguments) as Arrow record "
        "batches, for notebooks and dataframes: a column per swept argument, then one per "
        "InferenceCost field (text dictionary-encoded, flags boolean, numbers float64, NaN "
        "null); memory bounded by ``chunk_size``. "
        "``pyarrow.Table.from_batches(list(...))`` or ``.to_pandas()`` on each."
    )
    return batches


iter_inference_cost_record_batches = _record_batches(iter_inference_cost_sweep)


def budget_chunks(
    budgets: npt.ArrayLike,
    chunk_size: int,
    solve: Callable[[FloatArray, int, int], _T],
    *,
    max_points: int = MAX_SWEEP_POINTS,
) -> Iterator[Callable[[], _T]]:
    """A frontier's budgets cut into chunks of ``chunk_size``, each solved by one call
    ``solve(budgets, start_index, total_points)``; returns one thunk per chunk, in order.

    The first chunk is solved before this returns, so a bad option fails before anything is
    sent or written; a bad budget fails in its chunk, named by its index in ``budgets``."""
    values = as_float_array("budgets", budgets).reshape(-1)
    total = len(values)
    if total > max_points:
        raise LimitExceededError(
            f"budgets: {total} budgets exceed the limit of {max_points} per frontier",
            field="budgets",
            limit=max_points,
            got=total,
        )
    size = chunk_size_of(chunk_size)

    def compute(start: int, stop: int) -> _T:
        try:
            return solve(values[start:stop], start, total)
        except ScaleplanError as exc:
            if exc.field != "budget":
                raise
            if exc.index is not None:
                raise exc.replace(index=start + exc.index) from exc
            # One budget given alone carries no index; a chunk's error names its culprit.
            index = _culprit(start, stop) if stop - start > 1 else start
            raise exc.replace(index=index) from exc

    def _culprit(start: int, stop: int) -> int | None:
        """The budget of a chunk that an error about "the budget" without an index is about:
        the first that fails alone (None if none does). Only the error path pays for it."""
        for i in range(start, stop):
            try:
                solve(values[i : i + 1], i, total)
            except ScaleplanError as exc:
                if exc.field == "budget":
                    return i
        return None

    first = compute(0, min(total, size))

    def thunks() -> Iterator[Callable[[], _T]]:
        yield lambda: first
        for start in range(size, total, size):
            yield functools.partial(compute, start, min(total, start + size))

    return thunks()
