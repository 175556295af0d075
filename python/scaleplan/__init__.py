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
from scaleplan.laws import ErrorLaw, LossLaw, law
from scaleplan.plan import LifetimePlan, Plan, TrainingPlan, plan_lifetime, plan_training

__all__ = [
    "Catalog",
    "ErrorLaw",
    "Family",
    "Hardware",
    "InferenceCost",
    "LifetimePlan",
    "LossLaw",
    "Model",
    "Moe",
    "Plan",
    "TrainingCost",
    "TrainingPlan",
    "__version__",
    "catalog",
    "default_catalog",
    "family",
    "hardware",
    "inference_cost",
    "law",
    "load_catalog",
    "model",
    "plan_lifetime",
    "plan_training",
    "training_cost",
]
