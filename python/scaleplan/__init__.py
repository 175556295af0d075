"""scaleplan: how a compute budget should be split between model size, training tokens and
inference-time compute, with inference priced by compute and memory traffic (Kinetics)."""

from scaleplan._core import __version__
from scaleplan.catalog import (
    Catalog,
    Family,
    Hardware,
    Model,
    Moe,
    catalog,
    default_catalog,
    family,
    hardware,
    load_catalog,
    model,
)
from scaleplan.cost import InferenceCost, TrainingCost, inference_cost, training_cost

__all__ = [
    "Catalog",
    "Family",
    "Hardware",
    "InferenceCost",
    "Model",
    "Moe",
    "TrainingCost",
    "__version__",
    "catalog",
    "default_catalog",
    "family",
    "hardware",
    "inference_cost",
    "load_catalog",
    "model",
    "training_cost",
]
