# Hand-written stub of the Rust extension; `python -m mypy.stubtest scaleplan._core` keeps it true.
from os import PathLike
from typing import final

import numpy as np
import numpy.typing as npt

__version__: str
INFERENCE_COST_FIELDS: list[str]
TRAINING_COST_FIELDS: list[str]
BINDINGS: list[str]
__all__ = [
    "BINDINGS",
    "INFERENCE_COST_FIELDS",
    "TRAINING_COST_FIELDS",
    "Catalog",
    "NativeHardware",
    "NativeModel",
    "__version__",
    "inference_cost",
    "training_cost",
]

@final
class NativeModel:
    @staticmethod
    def from_json(text: str) -> NativeModel: ...
    @staticmethod
    def from_hf_config(name: str, config_json: str) -> NativeModel: ...
    def to_json(self) -> str: ...

@final
class NativeHardware:
    @staticmethod
    def from_json(text: str) -> NativeHardware: ...
    def to_json(self) -> str: ...

@final
class Catalog:
    @staticmethod
    def from_env() -> Catalog: ...
    @staticmethod
    def shipped() -> Catalog: ...
    def add_file(self, path: str | PathLike[str]) -> None: ...
    def add_toml(self, text: str, file: str = "<string>") -> None: ...
    def model(self, name: str) -> NativeModel: ...
    def hardware(self, name: str) -> NativeHardware: ...
    def family(self, name: str) -> list[str]: ...
    def family_json(self, name: str) -> str: ...
    def hardware_names(self) -> list[str]: ...
    def model_names(self) -> list[str]: ...
    def family_names(self) -> list[str]: ...

def inference_cost(
    model: NativeModel,
    hardware: NativeHardware,
    prompt_tokens: npt.NDArray[np.float64],
    gen_tokens: npt.NDArray[np.float64],
    samples: npt.NDArray[np.float64],
    kv_budget: npt.NDArray[np.float64] | None,
    block_size: npt.NDArray[np.float64] | None,
    batch_size: npt.NDArray[np.float64] | None,
    *,
    attention: str,
    batch: str,
    prefix_sharing: bool,
    prefill: bool,
    time_model: str,
    weight_dtype: str,
    kv_dtype: str,
    compute_dtype: str,
    gpus: float,
) -> list[npt.NDArray[np.float64]]: ...
def training_cost(
    model: NativeModel,
    hardware: NativeHardware,
    tokens: npt.NDArray[np.float64],
    *,
    gpus: float,
    mfu: float | None,
    seq_len: float | None,
    compute_dtype: str,
) -> tuple[list[npt.NDArray[np.float64]], bool]: ...
