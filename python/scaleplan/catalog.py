"""Catalog entries as typed, immutable dataclasses, and lookups by name.

Entries are validated by the Rust core when they are built (a bad value raises an
:class:`~scaleplan.errors.InvalidArgumentError` naming the field), so every object reaching a
cost function or planner is known to be valid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from scaleplan import _core
from scaleplan.errors import InvalidArgumentError


def _fields_of(obj: Any) -> dict[str, Any]:
    return {
        f.name: (_fields_of(v) if dataclasses.is_dataclass(v) else _plain(f.name, v))
        for f in dataclasses.fields(obj)
        if f.init and (v := getattr(obj, f.name)) is not None
    }


def _plain(name: str, value: Any) -> Any:
    """A field value as JSON takes it: numpy scalars become Python numbers; arrays are refused
    naming the field (not a TypeError from inside json)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        raise InvalidArgumentError(
            f"{name}: expected a single value, got an array of shape {value.shape}", field=name
        )
    return value


def _entry_json(obj: Any) -> str:
    """A catalog dataclass as the JSON its native constructor reads."""
    fields = _fields_of(obj)
    try:
        return json.dumps(fields, allow_nan=True)
    except (TypeError, ValueError) as exc:
        bad = next((k for k, v in fields.items() if not _jsonable(v)), "entry")
        raise InvalidArgumentError(f"{bad}: not a number or string ({exc})", field=bad) from None


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Hardware:
    """An accelerator: spec-sheet peaks (dense, SI units) and assumed efficiencies."""

    name: str
    peak_flops_bf16: float
    hbm_bytes_per_s: float
    hbm_bytes: float
    train_mfu: float
    prefill_mfu: float
    decode_bw_util: float
    peak_flops_fp8: float | None = None
    interconnect_bytes_per_s: float | None = None
    #: Price of one GPU-hour, US dollars: the default of USD budgets on this hardware (a
    #: ``*usd_per_hour`` argument overrides it). Shipped prices are dated assumptions
    #: (docs/catalog.md, "Prices").
    usd_per_hour: float | None = None
    description: str = ""
    source: str = ""
    #: Fixed seconds added to every forward step (each decode step and each prefill pass);
    #: 0 in the shipped catalog, fitted by :func:`scaleplan.calibrate`
    #: (docs/cost-model.md, "Per-step overhead").
    step_overhead_s: float = 0.0
    #: When ``usd_per_hour`` was read (``YYYY-MM`` or ``YYYY-MM-DD``); empty when unknown.
    price_date: str = ""
    #: Where ``usd_per_hour`` was read (a URL or a citation); empty when unknown.
    price_source: str = ""
    _native: _core.NativeHardware = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        native = _core.NativeHardware.from_json(_entry_json(self))
        object.__setattr__(self, "_native", native)

    @classmethod
    def _from_native(cls, native: _core.NativeHardware) -> Self:
        return cls(**json.loads(native.to_json()))

    def to_toml(self) -> str:
        """The hardware as a catalog file entry (``[[hardware]]``), which :func:`load_catalog`
        and :meth:`Catalog.add_toml` read back equal."""
        return self._native.to_toml()

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Moe:
    """Mixture-of-experts layout of a model."""

    experts: int
    active_experts: int
    moe_intermediate_size: int
    expert_params: float
    active_params: float


@dataclass(frozen=True)
class Model:
    """A transformer as its config.json describes it, with the parameter counts charged."""

    name: str
    total_params: float
    flop_params: float
    layers: int
    hidden_size: int
    intermediate_size: int
    query_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    max_context: int
    tied_embeddings: bool
    moe: Moe | None = None
    description: str = ""
    source: str = ""
    #: Tokens of keys and values a sliding-window layer keeps and attends to; None when every
    #: layer attends to the whole context (docs/cost-model.md, "Sliding-window attention").
    sliding_window: int | None = None
    #: How many layers use the window (the rest attend globally); None: all, when
    #: ``sliding_window`` is set.
    sliding_layers: int | None = None
    _native: _core.NativeModel = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.moe, Mapping):
            object.__setattr__(self, "moe", Moe(**self.moe))
        native = _core.NativeModel.from_json(_entry_json(self))
        object.__setattr__(self, "_native", native)

    @classmethod
    def _from_native(cls, native: _core.NativeModel) -> Self:
        return cls(**json.loads(native.to_json()))

    @classmethod
    def from_hf_config(cls, config: str | os.PathLike[str] | Mapping[str, Any], name: str) -> Self:
        """Build a model from a Hugging Face ``config.json`` (a path or the parsed mapping),
        counting its parameters from the architecture."""
        if isinstance(config, Mapping):
            text = json.dumps(config)
        else:
            try:
                text = Path(config).read_text()
            except OSError as exc:
                raise InvalidArgumentError(
                    f"config: cannot read {os.fspath(config)}: {exc.strerror or exc}",
                    field="config",
                ) from None
        return cls._from_native(_core.NativeModel.from_hf_config(name, text))

    def to_toml(self) -> str:
        """The model as a catalog file entry (``[[model]]``), which :func:`load_catalog` and
        :meth:`Catalog.add_toml` read back equal."""
        return self._native.to_toml()

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Family:
    """Catalog models of one design, smallest first."""

    name: str
    members: tuple[str, ...]
    description: str = ""


class Catalog:
    """The shipped catalog plus user files. Lookups return validated dataclasses."""

    def __init__(self, native: _core.Catalog) -> None:
        self._native = native
        self._lock = threading.Lock()
        self._models: dict[str, Model] = {}
        self._hardware: dict[str, Hardware] = {}
        self._entries: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_env(cls) -> Catalog:
        """The shipped catalog and the files listed in ``SCALEPLAN_CATALOG``."""
        return cls(_core.Catalog.from_env())

    @classmethod
    def shipped(cls) -> Catalog:
        return cls(_core.Catalog.shipped())

    def add_file(self, path: str | os.PathLike[str]) -> None:
        """Add (or replace) entries from a TOML file; nothing is added if any entry is bad."""
        with self._lock:
            self._native.add_file(os.fspath(path))
            self._models.clear()
            self._hardware.clear()
            self._entries.clear()

    def add_toml(self, text: str, file: str = "<string>") -> None:
        with self._lock:
            self._native.add_toml(text, file)
            self._models.clear()
            self._hardware.clear()
            self._entries.clear()

    def register(self, *models: Model) -> None:
        """Add (or replace) models in this catalog, so that lookups by name find them (entries
        follow the catalog file's rules: names lowercase without spaces). Nothing is added if
        any model is refused."""
        for i, m in enumerate(models):
            if not isinstance(m, Model):
                raise InvalidArgumentError(
                    f"models[{i}]: expected a scaleplan.Model, got {type(m).__name__}",
                    field="models",
                    index=i,
                )
        with self._lock:
            staged = self._native.copy()
            for m in models:
                staged.register_model(m._native)
            self._native = staged
            self._models.clear()
            self._entries.clear()

    def copy(self) -> Catalog:
        """An independent copy: entries added to it do not reach this catalog."""
        with self._lock:
            return Catalog(self._native.copy())

    def with_models(self, *models: Model) -> Catalog:
        """A copy of this catalog with ``models`` registered (this one is unchanged)."""
        out = self.copy()
        out.register(*models)
        return out

    def to_toml(self) -> str:
        """Every entry (shipped, loaded and registered) as one catalog file."""
        with self._lock:
            return self._native.to_toml()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_toml` to ``path``; :func:`load_catalog` reads it back equal."""
        Path(path).write_text(self.to_toml())

    def model(self, name: str) -> Model:
        with self._lock:
            if name not in self._models:
                self._models[name] = Model._from_native(self._native.model(name))
            return self._models[name]

    def hardware(self, name: str) -> Hardware:
        with self._lock:
            if name not in self._hardware:
                self._hardware[name] = Hardware._from_native(self._native.hardware(name))
            return self._hardware[name]

    def _entry(self, kind: str, name: str, build: Callable[[_core.Catalog], Any]) -> Any:
        """Another module's entry (a law) looked up by ``build`` once and kept until this
        catalog changes: entries are frozen, so one object serves every caller."""
        key = (kind, name)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = build(self._native)
            return self._entries[key]

    def family(self, name: str) -> Family:
        data = json.loads(self._native.family_json(name))
        return Family(data["name"], tuple(data["members"]), data.get("description", ""))

    def names(self) -> dict[str, list[str]]:
        return {
            "hardware": self._native.hardware_names(),
            "models": self._native.model_names(),
            "families": self._native.family_names(),
            "laws": self._native.law_names(),
            "accuracy": self._native.accuracy_names(),
            "rag": _core.rag_law_names(self._native),
            "parscale": list(_core.parscale_law_names(self._native)),
        }


_default: Catalog | None = None
_default_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The process-wide catalog: shipped entries plus ``SCALEPLAN_CATALOG`` files."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Catalog.from_env()
        return _default


def catalog_or_default(catalog: Catalog | None) -> Catalog:
    """``catalog`` when given (checked to be a :class:`Catalog`, the error naming ``catalog``),
    else the process-wide :func:`default_catalog`: how every façade function resolves its
    ``catalog=`` argument."""
    if catalog is None:
        return default_catalog()
    if not isinstance(catalog, Catalog):
        raise InvalidArgumentError(
            f"catalog: expected a scaleplan.Catalog or None, got {type(catalog).__name__}",
            field="catalog",
        )
    return catalog


def load_catalog(path: str | os.PathLike[str]) -> None:
    """Add a user catalog file to the process-wide catalog."""
    default_catalog().add_file(path)


def register_model(*models: Model) -> None:
    """Register models in the process-wide catalog, so that :func:`model` and every name
    lookup find them."""
    default_catalog().register(*models)


def hardware(name: str) -> Hardware:
    return default_catalog().hardware(name)


def model(name: str) -> Model:
    return default_catalog().model(name)


def family(name: str) -> Family:
    return default_catalog().family(name)


def catalog() -> dict[str, list[str]]:
    """Names of every hardware entry, model, family, law, accuracy preset (the test-time
    planner's ``Accuracy.preset(name)``), RAG law (``rag``) and parallel-scaling law
    (``parscale``) in the process-wide catalog."""
    return default_catalog().names()


def resolve_model(value: str | Model, catalog: Catalog | None = None) -> Model:
    """A model given by catalog name or as an object."""
    if isinstance(value, Model):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"model: expected a catalog name or a scaleplan.Model, got {type(value).__name__}",
            field="model",
        )
    return catalog_or_default(catalog).model(value)


def resolve_models(values: object, catalog: Catalog | None) -> tuple[list[str], Catalog]:
    """Candidate models given by catalog name or as objects: their names, and the catalog to
    look them up in (``catalog`` itself when all are names, else a copy with the objects
    registered, an object replacing a catalog entry of the same name)."""
    cat = catalog_or_default(catalog)
    items = [values] if isinstance(values, str | Model) else values
    if not isinstance(items, Sequence | np.ndarray):
        raise InvalidArgumentError(
            f"models: expected a list of model names or scaleplan.Model objects, "
            f"got {type(values).__name__}",
            field="models",
        )
    names: list[str] = []
    objects: list[Model] = []
    for i, item in enumerate(items):
        if isinstance(item, Model):
            objects.append(item)
            names.append(item.name)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise InvalidArgumentError(
                f"models[{i}]: expected a model name or a scaleplan.Model, got {item!r}",
                field="models",
                index=i,
            )
    return names, (cat.with_models(*objects) if objects else cat)


def resolve_family(value: object, catalog: Catalog | None) -> tuple[str, Catalog]:
    """A family given by catalog name, or as a list of models (names or objects) that becomes
    a family named "custom" in a copy of the catalog, its members ordered by size."""
    base = catalog_or_default(catalog)
    if isinstance(value, str):
        return value, base
    names, cat = resolve_models(value, base)
    if cat is base:
        cat = base.copy()
    members = sorted(set(names), key=lambda n: cat.model(n).flop_params)
    cat.add_toml(
        f'[[family]]\nname = "{CUSTOM_FAMILY}"\nmembers = {json.dumps(members)}\n',
        file="<family>",
    )
    return CUSTOM_FAMILY, cat


#: The name a family given as a list of models takes.
CUSTOM_FAMILY = "custom"


def resolve_hardware(value: str | Hardware, catalog: Catalog | None = None) -> Hardware:
    """A hardware entry given by catalog name or as an object."""
    if isinstance(value, Hardware):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"hardware: expected a catalog name or a scaleplan.Hardware, "
            f"got {type(value).__name__}",
            field="hardware",
        )
    return catalog_or_default(catalog).hardware(value)
